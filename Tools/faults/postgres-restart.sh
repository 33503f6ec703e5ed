#!/usr/bin/env bash
# Fault (d'): the PostgreSQL ledger stopped and started. While the C host streams
# deals through the real plugin into `tradetap collector --database postgres://...`,
# the driver stops its own throwaway PostgreSQL 15 cluster (`pg_ctl stop -m fast`)
# for DOWN seconds, OUTAGES times, and starts it again on the same port. The host
# must never block (its returned-hook counters keep rising during every outage),
# the journal absorbs the backlog, and afterwards every sequence is in the ledger
# exactly once and every returned deal is there.
#   Tools/faults/postgres-restart.sh [OUTAGES=2] [DOWN=5]
source "$(dirname "$0")/lib.sh"
outages=${1:-2}; down=${2:-5}; threads=2
pg_bin=${TRADETAP_POSTGRES_BIN:-/usr/lib/postgresql/15/bin}
[ -x "$pg_bin/pg_ctl" ] || { echo "FAIL no PostgreSQL 15 at $pg_bin (apt-get install postgresql-15)"; exit 2; }
pg=$work/pg
# As root the cluster runs as `postgres`, which must reach $pg through every
# (0700 mktemp) folder above it: cluster.sh opens only the nearest one.
if [ "$(id -u)" = 0 ]; then d=$work; while [ "$d" != / ]; do chmod a+x "$d"; d=$(dirname "$d"); done; fi
url=$("$root/Tools/postgres/cluster.sh" start "$pg")
trap 'cleanup_children; "$root/Tools/postgres/cluster.sh" stop "$pg" >/dev/null 2>&1 || true' EXIT
pg_port=${url##*:}; pg_port=${pg_port%%/*}
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_stop() { as_postgres "$pg_bin/pg_ctl" -D "$pg/data" -m fast -w stop > /dev/null; }
# The same options as cluster.sh's start: same port, so the collector's URL holds.
pg_start() {
  as_postgres "$pg_bin/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$pg_port -c unix_socket_directories=$pg -c max_connections=200" \
    start > /dev/null
}
# The ledger is PostgreSQL here: lib.sh's checks read it through this sql().
sql() { psql "$url" -qAtX -c "$1" 2>/dev/null || echo 0; }

build_c_host
port=$(free_port)
start_collector "$port" --database "$url"
[ ! -e "$ledger" ] || { echo "FAIL the collector opened the SQLite ledger, not PostgreSQL"; exit 1; }
"$work/c-host" "$plugin" --server-id "$server_id" --kinds deals --log "$work/host.log" \
  --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" "${plugin_tls[@]}" \
  --param "Journal.Path=$work/journal" --param Journal.SizeMB=64 --param Heartbeat.Seconds=1 \
  --threads $threads --events 0 --sleep-us 500 --progress "$work/progress" > "$work/host.out" 2>&1 &
host=$!; children+=("$host")
sleep 2
status=0; recover_total=0; recover_max=0; outage_hooks=0
for outage in $(seq "$outages"); do
  hooks_at_stop=$(progress_total "$work/progress" $threads)
  durable_at_stop=$(durable_seq)
  pg_stop; stopped_at=$(now_ms)
  samples=""
  for _ in $(seq $(( down * 2 ))); do sleep 0.5; samples="$samples $(progress_total "$work/progress" $threads)"; done
  pg_start; started_at=$(now_ms)
  hooks_at_start=$(progress_total "$work/progress" $threads)
  # Every sample higher than the one before: the host was never held up.
  # shellcheck disable=SC2086  # one argument per sample
  check_host_kept_going "$hooks_at_stop" $samples || status=1
  # Caught up = the ledger holds what was journaled when PostgreSQL came back.
  wait_durable_through "$hooks_at_start" 60 || { echo "FAIL the ledger did not catch up within 60 s of the restart"; status=1; }
  ms=$(( caught_ms - started_at )); recover_total=$(( recover_total + ms )); [ "$ms" -gt "$recover_max" ] && recover_max=$ms
  outage_hooks=$(( outage_hooks + hooks_at_start - hooks_at_stop ))
  echo "outage $outage: down $(( started_at - stopped_at )) ms; durable $durable_at_stop at the stop; hooks $hooks_at_stop ->$samples -> $hooks_at_start; caught up $ms ms after the start"
  sleep 1
done
kill -9 "$host"; wait "$host" 2>/dev/null || true
# The streaming host's reconnections (its first connection is not one).
reconnects=$(( $(grep -c 'plugin authenticated' "$work/collector.log" || true) - 1 ))
returned=$(progress_counts "$work/progress" $threads | tr '\n' ' ')
# Drain what the killed host left in its journal: one more start on the same journal,
# kept up until the ledger holds every journaled event (its one deal included) or 90 s
# pass. A fixed 3 s was too short on a loaded CI machine (21,395 events still queued).
journaled=1; for n in $returned; do journaled=$(( journaled + n )); done
"$work/c-host" "$plugin" --server-id "$server_id" --kinds deals --log "$work/host.log" \
  --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" "${plugin_tls[@]}" \
  --param "Journal.Path=$work/journal" --param Journal.SizeMB=64 --param Heartbeat.Seconds=1 \
  --threads 1 --events 1 --sleep-us 90000000 > "$work/host.final.out" 2>&1 &
final=$!; children+=("$final")
wait_durable_through "$journaled" 90 || { echo "FAIL the journal's backlog did not drain within 90 s"; status=1; }
kill -9 "$final"; wait "$final" 2>/dev/null || true
rows=$(sql "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM events WHERE server_id = $server_id"); set -- $rows
echo "ledger: events rows/distinct/max = $rows; gaps: $(sql 'SELECT count(*) FROM gaps')"
{ [ "$1" = "$2" ] && [ "$1" = "$3" ]; } || { echo "FAIL sequences not exactly once"; status=1; }
printf '%s\n1 0\n' "$returned" > "$work/returned"
check_returned_hooks_landed "$work/returned" || status=1
kill -0 "$collector_pid" 2>/dev/null || { echo "FAIL the collector died"; status=1; }
commit_errors=$(grep -c '^[^ ]* error .*ledger commit failed' "$work/collector.log" || true)
refused=$(grep -c 'resume point lookup failed' "$work/collector.log" || true)
errors=$(grep -c '^[^ ]* error ' "$work/collector.log" || true)
stop_collector
echo "figures: postgres restart: outages=$outages down_s=$down events=$3 hooks_during_outages=$outage_hooks catch_up_avg_ms=$(( recover_total / outages )) catch_up_max_ms=$recover_max failed_commits=$commit_errors resume_lookup_errors=$refused collector_error_lines=$errors reconnects=$reconnects"
[ "$status" = 0 ] && echo "PASS postgres-restart" || echo "FAIL postgres-restart (work folder $work)"
exit $status
