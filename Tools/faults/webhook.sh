#!/usr/bin/env bash
# Outputs (issue 13, docs/outputs.md): two signed webhooks follow the ledger's change
# feed while the simulator streams through the real plugin. Receiver A answers 500 for
# a while, then too slowly, then 400 once (a dead letter, re-driven through the API),
# then dies and comes back; then both receivers answer 500 (both outputs behind) while
# the collector is killed (kill -9) and restarted. At the end each receiver has applied
# every change id 1..last exactly once, and every signature verified.
#   Tools/faults/webhook.sh [RATE=300] [SECONDS=14]
source "$(dirname "$0")/lib.sh"
rate=${1:-300}; seconds=${2:-14}
echo "hook-$secret" > "$work/hook-secret"; chmod 600 "$work/hook-secret"
port=$(free_port); port_a=$(free_port); port_b=$(free_port)
receiver() {  # receiver NAME PORT
  python3 "$root/Tools/outputs/webhook_receiver.py" "$2" "$work/hook-secret" "$work/recv-$1" "$work/mode-$1" \
    >> "$work/recv-$1.log" 2>&1 &
  eval "pid_$1=$!"; children+=($!)
  for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $2), 0.2)" 2>/dev/null && return 0; sleep 0.05; done
  echo "FAIL receiver $1 did not start"; return 1
}
echo ok > "$work/mode-a"; echo ok > "$work/mode-b"
receiver a "$port_a"; receiver b "$port_b"
hooks=(--webhook "http://127.0.0.1:$port_a/hook?x=1" --webhook "http://127.0.0.1:$port_b/hook"
  --webhook-secret-file "$work/hook-secret" --webhook-batch 50 --webhook-timeout 1s)
start_collector "$port" "${hooks[@]}"
http() { sed -n 's/^listening .*http=\([^ ]*\).*/\1/p' "$work/collector.out"; }
"$tradetap" sim --plugin "$plugin" --server-id "$server_id" --accounts 20 --rate "$rate" --duration "${seconds}s" \
  --linger 2m --seed 9 --journal "$work/host.log" --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" \
  --param TLS=off --param "Journal.Path=$work/journal" --param Heartbeat.Seconds=1 > "$work/sim.out" 2>&1 &
sim=$!; children+=("$sim")
sleep 2; echo 500 > "$work/mode-a"; sleep 2; echo ok > "$work/mode-a"
sleep 1; echo slow > "$work/mode-a"; sleep 2; echo ok > "$work/mode-a"
sleep 1; echo 400once > "$work/mode-a"
sleep 1; kill -9 "$pid_a"; wait "$pid_a" 2>/dev/null || true; sleep 1; receiver a "$port_a"
sleep 1; echo 500 > "$work/mode-a"; echo 500 > "$work/mode-b"; sleep 1
kill9_collector
start_collector "$port" "${hooks[@]}"
echo ok > "$work/mode-a"; echo ok > "$work/mode-b"
for _ in $(seq 600); do grep -q 'lingering' "$work/sim.out" && break; sleep 0.1; done
token=$(cat "$work/token"); status=0
# api URL [METHOD]: the collector's HTTP API with the read token (no curl on a fresh machine).
api() {
  python3 -c 'import sys, urllib.request
r = urllib.request.Request(sys.argv[1], method=sys.argv[2], data=b"" if sys.argv[2] == "POST" else None,
                           headers={"Authorization": "Bearer " + sys.argv[3]})
print(urllib.request.urlopen(r, timeout=10).read().decode())' "$1" "${2:-GET}" "$token"
}
# The journal drains into the ledger; each output catches up (A without its dead letter).
last=0
for _ in $(seq 300); do
  now=$(sql "SELECT coalesce(max(id), 0) FROM changes")
  [ "$now" = "$last" ] && [ "$now" -gt 0 ] && break
  last=$now; sleep 1
done
name_a=$(api "http://$(http)/v1/outputs" | python3 -c 'import json,sys; print([o["name"] for o in json.load(sys.stdin)["outputs"] if ":'"$port_a"'/" in o["target"]][0])')
letters=$(api "http://$(http)/v1/outputs/$name_a/dead-letters")
letter=$(echo "$letters" | python3 -c 'import json,sys; d=json.load(sys.stdin)["dead_letters"]; print(d[0]["id"] if d else "")')
[ -n "$letter" ] || { echo "FAIL no dead letter for the 400: $letters"; status=1; }
[ -n "$letter" ] && api "http://$(http)/v1/outputs/$name_a/dead-letters/$letter/redrive" POST > /dev/null
applied() { [ -f "$work/recv-$1/applied" ] && wc -l < "$work/recv-$1/applied" || echo 0; }
for _ in $(seq 300); do
  [ "$(applied a)" -ge "$last" ] && [ "$(applied b)" -ge "$last" ] && break; sleep 0.2
done
redriven=$(api "http://$(http)/v1/outputs/$name_a/dead-letters" | python3 -c 'import json,sys; d=json.load(sys.stdin)["dead_letters"]; print(sum(1 for x in d if x["redriven_utc"]))')
for r in a b; do
  python3 - "$work/recv-$r" "$last" "$r" > "$work/check-$r" <<'PY' || status=1
import json, sys
folder, last, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ids = [int(l) for l in open(folder + "/applied") if l.strip()]
stats = json.load(open(folder + "/stats"))
missing = sorted(set(range(1, last + 1)) - set(ids))
doubled = len(ids) - len(set(ids))
print(f"receiver {name}: changes 1..{last}: applied {len(set(ids))}, missing {len(missing)}, doubled {doubled}, "
      f"repeats received {stats['repeats']}, requests {stats['requests']}, bad signatures {stats['bad_signatures']}, refused {stats['refused']}")
sys.exit(1 if missing or doubled or stats["bad_signatures"] else 0)
PY
  cat "$work/check-$r"
done
echo "dead letters of A: $(echo "$letters" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["dead_letters"]))'), re-driven $redriven"
[ "$redriven" -ge 1 ] || { echo "FAIL the dead letter was not re-driven"; status=1; }
api "http://$(http)/v1/outputs" > "$work/outputs.json"
python3 - "$work/outputs.json" <<'PY'
import json, sys
for o in json.load(open(sys.argv[1]))["outputs"]:
    print("output %s %s: cursor %s, lag %s changes, delivered %s, retries %s" % (
        o["name"], o["target"], o["cursor"], o["lag_changes"], o["delivered"], o["retries"]))
PY
echo "figures: webhook at $rate/s for ${seconds}s, changes 1..$last: $(sed 's/^receiver //' "$work/check-a" | tr '\n' ' ')"
[ $status = 0 ] || { echo "work folder: $work"; tail -20 "$work/collector.log"; }
exit $status
