#!/usr/bin/env bash
# Fault (d): the ledger database stalled. While the C host streams deals through
# the real plugin, another process holds an exclusive write transaction on the
# SQLite ledger for HOLD seconds (`BEGIN EXCLUSIVE` in sqlite3), STALLS times.
# The host must never block (its returned-hook counters keep rising during the
# stall), the journal absorbs the backlog, and afterwards every sequence is in
# the ledger exactly once and every returned deal is there.
#   Tools/faults/db-stall.sh [STALLS=2] [HOLD=5]
source "$(dirname "$0")/lib.sh"
stalls=${1:-2}; hold=${2:-5}; threads=2
build_c_host
port=$(free_port)
start_collector "$port"
"$work/c-host" "$plugin" --server-id "$server_id" --kinds deals --log "$work/host.log" \
  --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" "${plugin_tls[@]}" \
  --param "Journal.Path=$work/journal" --param Journal.SizeMB=64 --param Heartbeat.Seconds=1 \
  --threads $threads --events 0 --sleep-us 500 --progress "$work/progress" > "$work/host.out" 2>&1 &
host=$!; children+=("$host")
sleep 1
status=0; recover_total=0; recover_max=0; stalled_hooks=0
for stall in $(seq "$stalls"); do
  # The lock is taken when sqlite3 prints "locked"; it is released HOLD s later.
  ( echo 'BEGIN EXCLUSIVE;'; echo "SELECT 'locked';"; sleep "$hold"; echo 'COMMIT;' ) \
    | sqlite3 -cmd '.timeout 10000' "$ledger" > "$work/lock.$stall.out" 2>&1 &
  locker=$!
  for _ in $(seq 200); do grep -q locked "$work/lock.$stall.out" && break; sleep 0.02; done
  grep -q locked "$work/lock.$stall.out" || { echo "FAIL could not take the lock"; exit 1; }
  hooks_at_lock=$(progress_total "$work/progress" $threads)
  durable_at_lock=$(durable_seq)
  samples=""
  for _ in $(seq $(( hold * 2 - 1 ))); do sleep 0.5; samples="$samples $(progress_total "$work/progress" $threads)"; done
  durable_in_lock=$(durable_seq)
  wait "$locker"; released_at=$(now_ms)
  hooks_at_release=$(progress_total "$work/progress" $threads)
  # Every sample higher than the one before: the host was never held up.
  # shellcheck disable=SC2086  # one argument per sample
  check_host_kept_going "$hooks_at_lock" $samples || status=1
  # Caught up = the ledger holds what was journaled when the lock went.
  wait_durable_through "$hooks_at_release" 30 || { echo "FAIL the ledger did not catch up within 30 s"; status=1; }
  ms=$(( caught_ms - released_at )); recover_total=$(( recover_total + ms )); [ "$ms" -gt "$recover_max" ] && recover_max=$ms
  stalled_hooks=$(( stalled_hooks + hooks_at_release - hooks_at_lock ))
  echo "stall $stall: ${hold}s lock; durable $durable_at_lock -> $durable_in_lock during it; hooks $hooks_at_lock ->$samples -> $hooks_at_release; caught up $ms ms after the release"
  sleep 1
done
kill -9 "$host"; wait "$host" 2>/dev/null || true
returned=$(progress_counts "$work/progress" $threads | tr '\n' ' ')
# Drain what the killed host left in its journal: one more start on the same journal.
"$work/c-host" "$plugin" --server-id "$server_id" --kinds deals --log "$work/host.log" \
  --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" "${plugin_tls[@]}" \
  --param "Journal.Path=$work/journal" --param Journal.SizeMB=64 --param Heartbeat.Seconds=1 \
  --threads 1 --events 1 --sleep-us 3000000 > "$work/host.final.out" 2>&1
rows=$(sql "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM events WHERE server_id = $server_id"); set -- $rows
echo "ledger: events rows/distinct/max = $rows; gaps: $(sql 'SELECT count(*) FROM gaps'); collector errors: $(grep -c 'level=error\|error' "$work/collector.log" || true)"
{ [ "$1" = "$2" ] && [ "$1" = "$3" ]; } || { echo "FAIL sequences not exactly once"; status=1; }
printf '%s\n1 0\n' "$returned" > "$work/returned"
check_returned_hooks_landed "$work/returned" || status=1
locked_errors=$(grep -c 'database is locked' "$work/collector.log" || true)
stop_collector
echo "figures: database stall: stalls=$stalls hold_s=$hold locked_errors=$locked_errors hooks_during_stalls=$stalled_hooks events=$3 catch_up_avg_ms=$(( recover_total / stalls )) catch_up_max_ms=$recover_max"
[ "$status" = 0 ] && echo "PASS db-stall" || echo "FAIL db-stall (work folder $work)"
exit $status
