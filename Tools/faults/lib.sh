# Shared helpers of the fault drivers (sourced, not run). Real processes only:
# `tradetap collector`, `tradetap sim` / the C host with the real plugin, sqlite3.
# Artifacts: $TRADETAP_BUILD_DIR, else <repo>/.build/release.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${TRADETAP_BUILD_DIR:-$root/.build/release}
tradetap=$bin/tradetap
plugin=$bin/libTradeTapPlugin.so
for artifact in "$tradetap" "$plugin"; do
  [ -e "$artifact" ] || { echo "FAIL missing artifact $artifact" >&2; exit 2; }
done
work=${FAULT_WORK:-$(mktemp -d "${TMPDIR:-/tmp}"/tradetap-fault.XXXXXX)}
mkdir -p "$work"
server_id=${SERVER_ID:-1}
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$secret" > "$work/secret"; echo "$server_id $secret" > "$work/secrets"; echo "token-$secret" > "$work/token"
chmod 600 "$work/secret" "$work/secrets" "$work/token"
ledger=$work/ledger.sqlite
# TLS=1: the collector serves TLS 1.3 with a throwaway certificate the plugin trusts.
plugin_tls=(--param TLS=off); collector_tls=(--no-tls)
if [ "${TLS:-0}" = 1 ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost \
    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
  plugin_tls=(--param TLS=on --param "TLS.CAFile=$work/cert.pem" --param TLS.ServerName=localhost)
  collector_tls=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
fi
collector_pid=
children=()
cleanup_children() {
  [ -n "$collector_pid" ] && kill -9 "$collector_pid" 2>/dev/null || true
  for pid in "${children[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup_children EXIT

now_ms() { date +%s%3N; }

# A loopback port nobody listens on right now (the collector must come back on it).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_collector PORT [extra flags...]: starts it, waits for "listening", sets collector_pid.
start_collector() {
  local port=$1; shift
  : > "$work/collector.out"
  "$tradetap" collector --listen "127.0.0.1:$port" --http 127.0.0.1:0 --database "sqlite:$ledger" \
    --secrets "$work/secrets" "${collector_tls[@]}" --api-token-file "$work/token" --reconcile-every 0 "$@" \
    > "$work/collector.out" 2>> "$work/collector.log" &
  collector_pid=$!
  local i
  for i in $(seq 300); do
    grep -q '^listening' "$work/collector.out" 2>/dev/null && return 0
    kill -0 "$collector_pid" 2>/dev/null || break
    sleep 0.02
  done
  echo "FAIL collector did not start on $port" >&2; tail -5 "$work/collector.log" >&2; return 1
}

kill9_collector() { kill -9 "$collector_pid"; wait "$collector_pid" 2>/dev/null || true; collector_pid=; }
stop_collector() { kill -TERM "$collector_pid"; wait "$collector_pid" 2>/dev/null || true; collector_pid=; }

# sql QUERY: read the ledger (not -readonly: a crashed writer's WAL may need recovery).
sql() { sqlite3 -cmd '.timeout 5000' "$ledger" "$1" 2>/dev/null || echo 0; }
durable_seq() { local v; v=$(sql "SELECT coalesce(max(last_seq),0) FROM servers WHERE id = $server_id"); echo "${v:-0}"; }

# check_exactly_once N: sequences 1..N each exactly once in events, nothing else.
check_exactly_once() {
  local n=$1 got
  got=$(sql "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || coalesce(min(seq),0) || ' ' || coalesce(max(seq),0) FROM events WHERE server_id = $server_id")
  echo "ledger: events rows/distinct/min/max = $got (journaled $n)"
  [ "$got" = "$n $n 1 $n" ] || { echo "FAIL not exactly once: expected '$n $n 1 $n', got '$got'"; return 1; }
}

# check_returned_hooks_landed RETURNED_FILE: every deal whose hook returned is a
# deal_add event in the ledger exactly once. RETURNED_FILE holds one line per host
# run with that run's per-thread returned-hook counts (the C host's --progress);
# the hook in flight at a kill may or may not have returned, so it may appear once.
check_returned_hooks_landed() {
  sql "SELECT summary FROM events WHERE server_id = $server_id AND kind = 'deal_add'" > "$work/deal-events"
  python3 - "$1" "$work/deal-events" <<'PY'
import sys, collections
runs = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
seen = collections.Counter(int(l.split()[1]) for l in open(sys.argv[2]) if l.startswith("deal "))
low = collections.Counter(); high = collections.Counter()
for counts in runs:
    for t, n in enumerate(counts):
        for i in range(n): low[((t + 1) << 32) | i] += 1
        high[((t + 1) << 32) | n] += 1
missing = [k for k in low if seen[k] < low[k]]
extra = [k for k in seen if seen[k] > low[k] + high[k]]
print(f"hooks returned {sum(low.values())}, deal events in the ledger {sum(seen.values())}, missing {len(missing)}, doubled {len(extra)}")
sys.exit(1 if missing or extra else 0)
PY
}

# The C host (Tools/c-host/host.c), compiled once into the work folder.
build_c_host() {
  cc -std=c11 -O2 -pthread -I "$root/CInterop/TradeServerAPI/include" "$root/Tools/c-host/host.c" \
    -o "$work/c-host" -ldl -lm
}

# progress_total FILE THREADS: sum of the C host's per-thread returned-hook counters.
progress_counts() { od -An -tu8 -N $(( $2 * 8 )) "$1" 2>/dev/null | tr -s ' ' '\n' | grep -v '^$' || true; }
progress_total() { local s=0 v; for v in $(progress_counts "$1" "$2"); do s=$((s + v)); done; echo $s; }

# The host was never held up: every progress sample ($2...) is higher than the one
# before it, starting from $1. Prints a FAIL line and returns 1 otherwise.
check_host_kept_going() {
  local previous=$1 s ok=0; shift
  for s in "$@"; do [ "$s" -gt "$previous" ] || { echo "FAIL the host stalled: hooks $previous then $s"; ok=1; }; previous=$s; done
  return $ok
}

# Waits up to $2 seconds for the ledger to be durable through $1; sets caught_ms
# (now_ms when it was, or when it gave up) and returns 1 when it gave up.
wait_durable_through() {
  local target=$1 tries=$(( $2 * 20 ))
  for _ in $(seq "$tries"); do [ "$(durable_seq)" -ge "$target" ] && { caught_ms=$(now_ms); return 0; }; sleep 0.05; done
  caught_ms=$(now_ms); return 1
}
