#!/usr/bin/env bash
# Fault (c): the plugin's journal file damaged on disk between two runs of the
# trade server, while it holds events the collector has not acknowledged.
#   Tools/faults/journal-corrupt.sh CASE     CASE: slots | payload | truncate | empty | header
# slots:    5 pending slots overwritten with random bytes      -> 5 'uncommitted' gaps
# payload:  the record bytes of 5 pending slots randomised     -> delivered or quarantined, never a crash
# truncate: the file cut in half                               -> moved aside, fresh journal, one gap
# empty:    the file cut to 0 bytes                            -> moved aside, fresh journal, one gap
# header:   the header page randomised                         -> moved aside, fresh journal, one gap
# A damaged file is renamed journal.ttj.damaged-<UTC time> (never deleted), one
# [error] line says why, and a fresh journal continues numbering after the
# collector's durable sequence D: D+1 is a gap (reason 'other') for what the old
# file held, the new records follow from D+2.
# In every case: the host exits 0 (the plugin started), the collector keeps
# running, the tap resumes (the restarted host's deal arrives), and the ledger's
# sequences stay each exactly once with nothing unaccounted for.
# Then the same damage under `tradetap sim` (same seed three times: delivered,
# left pending with the collector away, damaged, then replayed with 40% of the
# changes never hooked) with reconciliation on: `tradetap verify` must be clean.
source "$(dirname "$0")/lib.sh"
case_name=${1:?case}
build_c_host
port=$(free_port)
start_collector "$port"
common=("$plugin" --server-id "$server_id" --kinds deals --log "$work/host.log"
  --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" "${plugin_tls[@]}"
  --param "Journal.Path=$work/journal" --param Journal.SizeMB=4 --param Heartbeat.Seconds=1)
file=$work/journal/journal.ttj
u64() { od -An -tu8 -j "$1" -N 8 "$file" | tr -d ' '; }
scribble() { dd if=/dev/urandom of="$file" bs=1 seek="$1" count="$2" conv=notrunc status=none; }

# Run 1: 2,000 deals delivered and acknowledged (1 ms apart, then time to drain).
"$work/c-host" "${common[@]}" --threads 2 --events 1000 --sleep-us 1000 > "$work/host.1.out" 2>&1
sleep 1.5
delivered=$(durable_seq)
# Run 2, collector away: 2,000 more deals stay in the journal.
stop_collector
"$work/c-host" "${common[@]}" --threads 2 --events 1000 > "$work/host.2.out" 2>&1
tail=$(u64 64); released=$(u64 128); slots=$(u64 16)
echo "before the damage: ledger durable $delivered, journal released $released tail $tail (slots $slots)"
slot_at() { echo $(( 4096 + 512 * ($1 % slots) )); }
# Damage past the ledger's durable point: the journal's released point may trail it by
# the acks in flight when run 1 exited (under load: released 1985, durable 2000), and a
# damaged record the ledger already holds is a duplicate, not a gap.
base=$(( delivered > released ? delivered : released ))
case $case_name in
  slots)    for k in 10 11 500 1500 1999; do scribble "$(slot_at $(( base + k )))" 512; done ;;
  payload)  for k in 10 11 500 1500 1999; do scribble $(( $(slot_at $(( base + k ))) + 48 )) 200; done ;;
  truncate) truncate -s $(( $(stat -c %s "$file") / 2 )) "$file" ;;
  empty)    truncate -s 0 "$file" ;;
  header)   scribble 0 4096 ;;
  *) echo "unknown case $case_name"; exit 2 ;;
esac
: > "$work/host.log"
start_collector "$port"
set +e
"$work/c-host" "${common[@]}" --threads 1 --events 1 --sleep-us 3000000 > "$work/host.3.out" 2>&1
host_status=$?
set -e
status=0
[ "$host_status" = 0 ] || { echo "FAIL the host exited $host_status (want 0: the plugin must start)"; status=1; }
kill -0 "$collector_pid" || { echo "FAIL the collector died"; status=1; }
echo "host after the damage: exit $host_status, $(grep -o 'startup=[0-9-]*' "$work/host.3.out" | head -1)"
echo "plugin log after the damage:"; grep -iE 'error|warn|journal|gap' "$work/host.log" | head -5 | sed 's/^/  /'
rows=$(sql "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM events WHERE server_id = $server_id"); set -- $rows
echo "ledger: events rows/distinct/max = $rows; gaps: $(sql "SELECT group_concat(reason || ' ' || first_seq || '-' || last_seq, ', ') FROM gaps"); quarantined: $(sql 'SELECT count(*) FROM quarantine')"
{ [ "$1" = "$2" ] && [ "$1" = "$3" ]; } || { echo "FAIL sequences not exactly once"; status=1; }
reported=$(grep -ciE 'error|corrupt|gap|uncommitted|damaged' "$work/host.log" || true)
fired_after=0; grep -q 'startup=0' "$work/host.3.out" && fired_after=1
lost=0
case $case_name in
  slots)    [ "$(sql "SELECT count(*) FROM gaps WHERE reason = 'uncommitted'")" = 5 ] || { echo "FAIL want 5 uncommitted gaps"; status=1; }
            [ "$3" = $(( tail + 1 )) ] || { echo "FAIL want every sequence through $(( tail + 1 ))"; status=1; } ;;
  payload)  [ "$3" = $(( tail + 1 )) ] || { echo "FAIL want every sequence through $(( tail + 1 ))"; status=1; } ;;
  truncate|header|empty)
            lost=$(( tail - released ))
            aside=$(ls "$work/journal" | grep -c '^journal.ttj.damaged-' || true)
            echo "moved aside: $(ls "$work/journal" | grep '^journal.ttj.damaged-' | head -1) ($aside file)"
            [ "$aside" = 1 ] || { echo "FAIL want the damaged journal moved aside"; status=1; }
            grep -q 'was damaged' "$work/host.log" || { echo "FAIL the damage went unreported in the host log"; status=1; }
            [ "$(sql "SELECT count(*) FROM gaps WHERE reason = 'other' AND first_seq = $(( delivered + 1 ))")" = 1 ] \
              || { echo "FAIL want one 'other' gap at $(( delivered + 1 )) for the lost journal"; status=1; }
            [ "$3" = $(( delivered + 1 + fired_after )) ] && [ "$fired_after" = 1 ] \
              || { echo "FAIL want the restarted host's deal at $(( delivered + 2 )) (max seq $3)"; status=1; } ;;
esac
# Events the ledger neither holds nor lists as a gap: pending before the damage, plus
# the one deal the restarted host fired, minus what arrived. A replaced journal's
# pending events are covered by its one gap sequence (they never had new numbers).
if [ "$lost" -gt 0 ]; then unaccounted=$(( delivered + 1 + fired_after - ${3:-0} ))
# Otherwise every journal sequence through the tail must be in the ledger. (Not
# delivered + tail - released: the journal's released point may trail the ledger's
# durable one by the acks in flight at the kill, and those records are resent and
# deduplicated, not new.)
else unaccounted=$(( tail + fired_after - ${3:-0} )); fi
[ "$unaccounted" = 0 ] || { echo "FAIL $unaccounted events unaccounted for"; status=1; }
stop_collector

# The same damage under the simulator, healed by reconciliation, checked by verify.
ledger=$work/sim-ledger.sqlite
simj=$work/sim-journal
sim_run() { # SEED MISS_PERCENT LINGER OUT
  "$tradetap" sim --plugin "$plugin" --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" \
    "${plugin_tls[@]}" --param "Journal.Path=$simj" --param Journal.SizeMB=4 --param Heartbeat.Seconds=1 \
    --platform mt5 --margin mixed --threads 1 --events 3000 --rate 6000 --seed "$1" --miss-events "$2" \
    --linger "$3" --state-out "$work/state.json" --journal "$work/sim.$4.log" > "$work/sim.$4.out" 2>&1
}
start_collector "$port"
sim_run 21 0 3s 1 || { echo "FAIL sim run 1"; status=1; }
sim_delivered=$(durable_seq)
stop_collector
sim_run 21 0 0s 2 || { echo "FAIL sim run 2"; status=1; }
file=$simj/journal.ttj
sim_pending=$(( $(u64 64) - $(u64 128) ))
case $case_name in
  slots)    slots=$(u64 16); released=$(u64 128); base=$(( sim_delivered > released ? sim_delivered : released ))
            for k in 10 11 500; do scribble "$(slot_at $(( base + k )))" 512; done ;;
  payload)  slots=$(u64 16); released=$(u64 128); base=$(( sim_delivered > released ? sim_delivered : released ))
            for k in 10 11 500; do scribble $(( $(slot_at $(( base + k ))) + 48 )) 200; done ;;
  truncate) truncate -s $(( $(stat -c %s "$file") / 2 )) "$file" ;;
  empty)    truncate -s 0 "$file" ;;
  header)   scribble 0 4096 ;;
esac
start_collector "$port" --reconcile-every 2s
started=$(now_ms)
sim_run 21 40 6s 3 &
sim=$!; children+=("$sim")
healed_ms=
for _ in $(seq 300); do
  [ "$(sql "SELECT count(*) FROM gaps")" != 0 ] && [ "$(sql "SELECT count(*) FROM gaps WHERE healed_utc IS NULL")" = 0 ] \
    && { healed_ms=$(( $(now_ms) - started )); break; }
  sleep 0.05
done
wait "$sim" || { echo "FAIL sim run 3"; status=1; }
srows=$(sql "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM events WHERE server_id = $server_id"); set -- $srows
echo "sim: delivered $sim_delivered, $sim_pending pending at the damage; ledger events rows/distinct/max = $srows; gaps: $(sql "SELECT group_concat(reason || ' ' || first_seq || '-' || last_seq || CASE WHEN healed_utc IS NULL THEN ' open' ELSE ' healed' END, ', ') FROM gaps")"
{ [ "$1" = "$2" ] && [ "$1" = "$3" ]; } || { echo "FAIL sim: sequences not exactly once"; status=1; }
"$tradetap" verify --state "$work/state.json" --database "sqlite:$ledger" > "$work/verify.out" 2>&1 || { echo "FAIL verify"; status=1; }
echo "sim: $(tail -1 "$work/verify.out")"
stop_collector
echo "figures: journal damage '$case_name': host_exit=$host_status log_lines=$reported lost_reported_as_gap=$lost unaccounted=$unaccounted sim_pending=$sim_pending sim_healed_ms_after_collector_start=${healed_ms:-never} verify=$(tail -1 "$work/verify.out" | grep -o '[0-9]* divergences' || echo '?')"
[ "$status" = 0 ] && echo "PASS journal-corrupt $case_name" || echo "FAIL journal-corrupt $case_name (work folder $work)"
exit $status
