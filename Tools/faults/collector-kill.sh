#!/usr/bin/env bash
# Fault (a): the collector killed with kill -9 and restarted on the same port and
# ledger, KILLS times, while `tradetap sim` streams through the real plugin at RATE
# events/s. Ends with the exactly-once check and `tradetap verify`.
#   Tools/faults/collector-kill.sh [KILLS=20] [RATE=3000] [EVENTS=90000]
# Prints "figures: ..." and exits 0 only when nothing was lost or doubled.
source "$(dirname "$0")/lib.sh"
kills=${1:-20}; rate=${2:-3000}; events=${3:-90000}
port=$(free_port)
start_collector "$port"
started=$(now_ms)
"$tradetap" sim --plugin "$plugin" --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" \
  "${plugin_tls[@]}" --param "Journal.Path=$work/journal" --param Heartbeat.Seconds=1 \
  --platform mt5 --margin mixed --threads 2 --events "$events" --rate "$rate" --seed 21 --linger 8s \
  --state-out "$work/state.json" --journal "$work/server.log" > "$work/sim.out" 2>&1 &
sim=$!; children+=("$sim")

done_kills=0; recover_total=0; recover_max=0
while [ "$done_kills" -lt "$kills" ] && ! grep -q 'sim: done' "$work/sim.out"; do
  sleep "0.$(( RANDOM % 4 + 3 ))"                       # 0.3 .. 0.6 s of streaming
  before=$(durable_seq)
  kill9_collector
  killed_at=$(now_ms)
  start_collector "$port"
  # Recovered = the ledger's durable point moved past where it was at the kill.
  recovered=
  for _ in $(seq 400); do
    [ "$(durable_seq)" -gt "$before" ] && { recovered=$(now_ms); break; }
    sleep 0.025
  done
  [ -n "$recovered" ] || { echo "FAIL kill $((done_kills + 1)): no progress 10 s after restart"; exit 1; }
  ms=$(( recovered - killed_at )); recover_total=$(( recover_total + ms ))
  [ "$ms" -gt "$recover_max" ] && recover_max=$ms
  done_kills=$(( done_kills + 1 ))
  echo "kill $done_kills: durable $before at the kill, streaming again after $ms ms"
done
wait "$sim" || { echo "FAIL sim exited $?"; tail -5 "$work/sim.out"; exit 1; }
finished=$(now_ms)
journaled=$(grep -o '[0-9]* journaled' "$work/sim.out" "$work/server.log" 2>/dev/null | tail -1 | grep -o '^[^ ]*' | sed 's/.*://')
[ -n "$journaled" ] || { echo "FAIL no 'journaled' count in the sim output"; tail -5 "$work/sim.out"; exit 1; }
[ "$done_kills" -ge "$kills" ] || { echo "FAIL only $done_kills kills before the day ended (want $kills)"; exit 1; }
status=0
check_exactly_once "$journaled" || status=1
"$tradetap" verify --state "$work/state.json" --database "sqlite:$ledger" > "$work/verify.out" 2>&1 || status=1
tail -1 "$work/verify.out"
stop_collector
echo "figures: collector kill -9: kills=$done_kills events=$journaled rate=$rate/s recover_avg_ms=$(( recover_total / done_kills )) recover_max_ms=$recover_max run_s=$(( (finished - started) / 1000 ))"
[ "$status" = 0 ] && echo "PASS collector-kill" || echo "FAIL collector-kill (work folder $work)"
exit $status
