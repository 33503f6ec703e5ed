#!/usr/bin/env bash
# End-to-end check: a real collector, the simulated server with the real plugin,
# then `tradetap verify`. Usage:
#   Tools/scenarios/run-e2e.sh [mt5|mt4] [netting|hedging|mixed] [EVENTS] [SEED]
# Needs `swift build -c release` (tradetap and libTradeTapPlugin.so in .build/release,
# or $TRADETAP_BUILD_DIR). MISS=PERCENT passes --miss-events (the ledger should then
# diverge until reconciliation heals it); RECONCILE=1s turns the collector's sweeps on
# (then verify is clean: docs/reconciliation.md). Exits with verify's exit code.
set -euo pipefail
platform=${1:-mt5}; margin=${2:-mixed}; events=${3:-100000}; seed=${4:-1}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${TRADETAP_BUILD_DIR:-$root/.build/release}
work=$(mktemp -d "${TMPDIR:-/tmp}"/tradetap-e2e.XXXXXX)
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$secret" > "$work/secret"; echo "1 $secret" > "$work/secrets"; echo "token-$secret" > "$work/token"
chmod 600 "$work/secret" "$work/secrets" "$work/token"

"$bin/tradetap" collector --listen 127.0.0.1:0 --http 127.0.0.1:0 --database "sqlite:$work/ledger.sqlite" \
  --secrets "$work/secrets" --no-tls --api-token-file "$work/token" --reconcile-every "${RECONCILE:-0}" \
  > "$work/collector.out" 2> "$work/collector.err" &
collector=$!
trap 'kill $collector 2>/dev/null; wait $collector 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q '^listening' "$work/collector.out" && break; sleep 0.1; done
address=$(sed -n 's/^listening protocol=\([^ ]*\) .*/\1/p' "$work/collector.out")
[ -n "$address" ] || { echo "collector did not start:"; cat "$work/collector.err"; exit 2; }

"$bin/tradetap" sim --platform "$platform" --margin "$margin" --events "$events" --rate 0 --seed "$seed" \
  --plugin "$bin/libTradeTapPlugin.so" --param "Collector=$address" --param "SecretFile=$work/secret" \
  --param TLS=off --param "Journal.Path=$work/journal" --linger 5s \
  --state-out "$work/state.json" --journal "$work/server.log" ${MISS:+--miss-events "$MISS"}
echo "work folder: $work"
"$bin/tradetap" verify --state "$work/state.json" --database "sqlite:$work/ledger.sqlite" | tail -20
