#!/usr/bin/env bash
# Pipeline benchmark (issue 2, "Prove it"; not a timed test).
# Builds tradetap + libTradeTapPlugin.so (release) and the C programs here, generates
# a certificate and secrets, then driver.py runs one real collector (TLS 1.3, SQLite,
# synchronous=FULL) and, at each rate, the loopback floor and the real plugin in a
# paced C host; prints a table. Environment: BENCH_RATES (default 1000,10000,100000),
# BENCH_SECONDS per measured phase (10), BENCH_UNPACED_EVENTS (300000),
# BENCH_SKIP_BUILD=1 to reuse the Swift build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
if [[ "${BENCH_SKIP_BUILD:-0}" != 1 ]]; then
  swift build -c release --product tradetap >&2
  swift build -c release --product TradeTapPlugin >&2
fi
bin="$(swift build -c release --show-bin-path)"
work="$(mktemp -d "${TMPDIR:-/tmp}"/tradetap-bench-pipeline.XXXXXX)"
echo "work folder: $work" >&2
cc -std=gnu11 -O2 -Wall -Wextra -pthread "$here/floor.c" -o "$work/floor"
cc -std=gnu11 -O2 -Wall -Wextra -pthread -I"$root/CInterop/TradeServerAPI/include" \
  "$here/paced-host.c" -o "$work/paced-host" -ldl
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" \
  -out "$work/cert.pem" -days 2 -subj /CN=collector.test \
  -addext "subjectAltName=DNS:collector.test,IP:127.0.0.1" 2>/dev/null
secret="$(openssl rand -hex 32)"
( umask 077; printf '1 %s\n' "$secret" > "$work/secrets"; printf '%s\n' "$secret" > "$work/plugin-secret"
  openssl rand -hex 32 > "$work/token" )
exec python3 "$here/driver.py" "$bin" "$work" "$work/floor" "$work/paced-host"
