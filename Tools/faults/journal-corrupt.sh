#!/usr/bin/env bash
# Fault (c): the plugin's journal file damaged on disk between two runs of the
# trade server, while it holds events the collector has not acknowledged.
#   Tools/faults/journal-corrupt.sh CASE     CASE: slots | payload | truncate | empty | header
# slots:    5 pending slots overwritten with random bytes      -> 5 'uncommitted' gaps
# payload:  the record bytes of 5 pending slots randomised     -> delivered or quarantined, never a crash
# truncate: the file cut in half                               -> startup refused, one log line
# empty:    the file cut to 0 bytes (laid out anew)            -> the reuse of sequence numbers is reported
# header:   the header page randomised                         -> startup refused, one log line
# In every case: the host process never dies of a signal, the collector keeps
# running, and the ledger's sequences stay each exactly once.
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
case $case_name in
  slots)    for k in 10 11 500 1500 1999; do scribble "$(slot_at $(( released + k )))" 512; done ;;
  payload)  for k in 10 11 500 1500 1999; do scribble $(( $(slot_at $(( released + k ))) + 48 )) 200; done ;;
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
[ "$host_status" -lt 128 ] || { echo "FAIL the host died of signal $(( host_status - 128 ))"; status=1; }
kill -0 "$collector_pid" || { echo "FAIL the collector died"; status=1; }
echo "host after the damage: exit $host_status, $(grep -o 'startup=[0-9-]*' "$work/host.3.out" | head -1)"
echo "plugin log after the damage:"; grep -iE 'error|warn|journal|gap' "$work/host.log" | head -5 | sed 's/^/  /'
rows=$(sql "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM events WHERE server_id = $server_id"); set -- $rows
echo "ledger: events rows/distinct/max = $rows; gaps: $(sql "SELECT group_concat(reason || ' ' || first_seq || '-' || last_seq, ', ') FROM gaps"); quarantined: $(sql 'SELECT count(*) FROM quarantine')"
{ [ "$1" = "$2" ] && [ "$1" = "$3" ]; } || { echo "FAIL sequences not exactly once"; status=1; }
reported=$(grep -ciE 'error|corrupt|gap|uncommitted' "$work/host.log" || true)
case $case_name in
  slots)    [ "$(sql "SELECT count(*) FROM gaps WHERE reason = 'uncommitted'")" = 5 ] || { echo "FAIL want 5 uncommitted gaps"; status=1; }
            [ "$3" = $(( delivered + 2001 )) ] || { echo "FAIL want every sequence through $(( delivered + 2001 ))"; status=1; } ;;
  payload)  [ "$3" = $(( delivered + 2001 )) ] || { echo "FAIL want every sequence through $(( delivered + 2001 ))"; status=1; } ;;
  truncate|header) [ "$host_status" != 0 ] && [ "$reported" -gt 0 ] || { echo "FAIL want a refused startup with a log line"; status=1; } ;;
  empty)    [ "$reported" -gt 0 ] || { echo "FAIL the emptied journal went unreported"; status=1; } ;;
esac
# Events the ledger neither holds nor lists as a gap: pending before the damage, plus
# the one deal the restarted host fired (when it started), minus what arrived.
fired_after=0; grep -q 'startup=0' "$work/host.3.out" && fired_after=1
unaccounted=$(( delivered + tail - released + fired_after - ${3:-0} ))
stop_collector
echo "figures: journal damage '$case_name': host_exit=$host_status log_lines=$reported events=$3 unaccounted=$unaccounted"
[ "$status" = 0 ] && echo "PASS journal-corrupt $case_name" || echo "FAIL journal-corrupt $case_name (work folder $work)"
exit $status
