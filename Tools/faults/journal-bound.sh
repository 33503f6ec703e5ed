#!/usr/bin/env bash
# Fault: the journal's bound reached while the collector is away. `tradetap sim`
# streams at RATE into a 1 MiB journal (2,048 slots) with no collector listening;
# the collector starts AWAY_S seconds later with reconciliation every 3 s. The
# refused events must be reported as an overflow gap (with their count), the
# reconciliation sweep must correct the ledger from the platform's snapshots and
# mark the gap healed, and `tradetap verify` must then find no divergence.
#   Tools/faults/journal-bound.sh [RATE=5000] [EVENTS=20000] [AWAY_S=2]
source "$(dirname "$0")/lib.sh"
rate=${1:-5000}; events=${2:-20000}; away=${3:-2}
port=$(free_port)
"$tradetap" sim --plugin "$plugin" --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" \
  "${plugin_tls[@]}" --param "Journal.Path=$work/journal" --param Journal.SizeMB=1 --param Heartbeat.Seconds=1 \
  --platform mt5 --margin mixed --threads 2 --events "$events" --rate "$rate" --seed 5 --linger 12s \
  --state-out "$work/state.json" --journal "$work/server.log" > "$work/sim.out" 2>&1 &
sim=$!; children+=("$sim")
sleep "$away"
start_collector "$port" --reconcile-every 3s
started=$(now_ms)
healed=
for _ in $(seq 400); do
  [ "$(sql "SELECT count(*) FROM gaps WHERE reason = 'overflow' AND healed_utc IS NOT NULL")" -gt 0 ] && { healed=$(now_ms); break; }
  sleep 0.05
done
wait "$sim" || { echo "FAIL sim exited $?"; tail -3 "$work/sim.out"; exit 1; }
status=0
gaps=$(sql "SELECT count(*) || ' ' || coalesce(sum(refused_events),0) || ' ' || count(healed_utc) FROM gaps WHERE reason = 'overflow'"); set -- $gaps
echo "overflow gaps: $1, refused events: $2, healed: $3"
[ "$1" -ge 1 ] && [ "$2" -gt 0 ] || { echo "FAIL the overflow was not reported as a gap with its count"; status=1; }
[ "$3" = "$1" ] || { echo "FAIL not every overflow gap was healed"; status=1; }
grep -hi 'overflow' "$work/server.log" | head -2 | sed 's/^/  plugin: /'
grep -h 'reconciliation sweep' "$work/collector.log" | grep -v ' 0 divergences corrected, 0 gaps healed' | head -2 | sed 's/.*\] /  collector: /'
rows=$(sql "SELECT count(*) || ' ' || count(DISTINCT seq) || ' ' || max(seq) FROM events WHERE server_id = $server_id"); set -- $rows
{ [ "$1" = "$2" ] && [ "$1" = "$3" ]; } || { echo "FAIL sequences not exactly once ($rows)"; status=1; }
"$tradetap" verify --state "$work/state.json" --database "sqlite:$ledger" > "$work/verify.out" 2>&1 || status=1
tail -1 "$work/verify.out"
stop_collector
echo "figures: journal bound: refused=$(echo "$gaps" | cut -d' ' -f2) events_in_ledger=$3 healed_ms_after_collector_start=$(( ${healed:-$(now_ms)} - started ))"
[ "$status" = 0 ] && echo "PASS journal-bound" || echo "FAIL journal-bound (work folder $work)"
exit $status
