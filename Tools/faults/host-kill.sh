#!/usr/bin/env bash
# Fault (b): the trade server (the plain-C host with the real plugin) killed with
# kill -9 RUNS times mid-stream and restarted on the same journal, against a live
# collector. The host's --progress file (shared memory, survives kill -9) says how
# many hooks of each thread returned; every such deal must be in the ledger, each
# hook call exactly once, and every sequence number exactly once.
#   Tools/faults/host-kill.sh [RUNS=8] [SLEEP_US=200]
source "$(dirname "$0")/lib.sh"
runs=${1:-8}; sleep_us=${2:-200}; threads=2
build_c_host
port=$(free_port)
start_collector "$port"
common=("$plugin" --server-id "$server_id" --kinds deals --log "$work/host.log"
  --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" "${plugin_tls[@]}"
  --param "Journal.Path=$work/journal" --param Journal.SizeMB=64 --param Heartbeat.Seconds=1)
: > "$work/returned"                      # one line per run: counts of thread 0, thread 1
recover_total=0; recover_max=0; fired=0
for run in $(seq "$runs"); do
  before=$(durable_seq)
  started=$(now_ms)
  "$work/c-host" "${common[@]}" --threads $threads --events 0 --sleep-us "$sleep_us" \
    --progress "$work/progress.$run" > "$work/host.$run.out" 2>&1 &
  host=$!; children+=("$host")
  # Recovered = the restarted host's sender moved the ledger past where it stood.
  recovered=
  for _ in $(seq 400); do
    [ "$(durable_seq)" -gt "$before" ] && { recovered=$(now_ms); break; }
    sleep 0.025
  done
  [ -n "$recovered" ] || { echo "FAIL run $run: the ledger did not move 10 s after the restart"; exit 1; }
  sleep "0.$(( RANDOM % 5 + 3 ))"                       # stream 0.3 .. 0.7 s more
  kill -9 "$host"; wait "$host" 2>/dev/null || true
  counts=$(progress_counts "$work/progress.$run" $threads | tr '\n' ' ')
  echo "$counts" >> "$work/returned"
  n=$(progress_total "$work/progress.$run" $threads); fired=$(( fired + n ))
  ms=$(( recovered - started )); recover_total=$(( recover_total + ms )); [ "$ms" -gt "$recover_max" ] && recover_max=$ms
  echo "run $run: killed after $n returned hooks (per thread: $counts); delivering again $ms ms after its start"
done
# Last start: no new deals of its own kind (one deal of thread 0, index 0) and 4 s to drain.
"$work/c-host" "${common[@]}" --threads 1 --events 1 --sleep-us 4000000 > "$work/host.final.out" 2>&1 \
  || { echo "FAIL final host run"; cat "$work/host.final.out"; exit 1; }
echo "1 0" >> "$work/returned"
status=0
rows=$(sql "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM events WHERE server_id = $server_id")
set -- $rows
echo "ledger: events rows/distinct/max = $rows"
{ [ "$1" = "$2" ] && [ "$1" = "$3" ]; } || { echo "FAIL sequences not exactly once"; status=1; }
uncommitted=$(sql "SELECT count(*) FROM gaps WHERE server_id = $server_id AND reason = 'uncommitted'")
other_gaps=$(sql "SELECT count(*) FROM gaps WHERE server_id = $server_id AND reason <> 'uncommitted'")
[ "$other_gaps" = 0 ] || { echo "FAIL $other_gaps gaps other than a hook cut by the kill"; status=1; }
check_returned_hooks_landed "$work/returned" || status=1
stop_collector
echo "figures: host kill -9: kills=$runs hooks_returned=$fired events=$3 uncommitted_gaps=$uncommitted recover_avg_ms=$(( recover_total / runs )) recover_max_ms=$recover_max"
[ "$status" = 0 ] && echo "PASS host-kill" || echo "FAIL host-kill (work folder $work)"
exit $status
