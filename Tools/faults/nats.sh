#!/usr/bin/env bash
# Outputs (issue 13, docs/outputs.md): the NATS JetStream output against a real 3-node
# JetStream cluster on loopback (nats-server -js, cluster routes). The collector creates
# an R3 stream and publishes the change feed while the simulator streams through the
# real plugin. Meanwhile: kill -9 one node (restarted), then the stream's leader
# (restarted), then kill -9 the collector and restart it asking for an R1 stream: the
# existing R3 stream is never changed, so it publishes nothing and says why; kill -9
# it again and restart it right. At the end an independent
# consumer (Tools/outputs/nats_consumer.c, the official C client) reads the stream:
# every change id 1..last exactly once, in order, with the right subject and Msg-Id.
# Then the publish rate: a second output (a new stream) publishes the whole ledger.
#   Tools/faults/nats.sh [RATE=300] [SECONDS=25]
source "$(dirname "$0")/lib.sh"
rate=${1:-300}; seconds=${2:-25}
started=$(now_ms)
at() { echo "[$(( ($(now_ms) - started) / 1000 ))s] $*"; }
command -v nats-server > /dev/null || { echo "FAIL nats-server is not installed (apt-get install nats-server)"; exit 2; }
cc -O2 -o "$work/nats_consumer" "$root/Tools/outputs/nats_consumer.c" -lnats || { echo "FAIL cannot build the consumer (libnats-dev?)"; exit 2; }
port=$(free_port)
declare -a client cluster monitor node_pid
for i in 1 2 3; do client[$i]=$(free_port); cluster[$i]=$(free_port); monitor[$i]=$(free_port); done
routes="nats://127.0.0.1:${cluster[1]},nats://127.0.0.1:${cluster[2]},nats://127.0.0.1:${cluster[3]}"
urls="nats://127.0.0.1:${client[1]},nats://127.0.0.1:${client[2]},nats://127.0.0.1:${client[3]}"
start_node() {  # start_node I
  local i=$1
  nats-server -js -sd "$work/nats-$i" -n "n$i" -a 127.0.0.1 -p "${client[$i]}" -m "${monitor[$i]}" \
    --cluster_name tradetap --cluster "nats://127.0.0.1:${cluster[$i]}" --routes "$routes" \
    >> "$work/nats-$i.log" 2>&1 &
  node_pid[$i]=$!; children+=($!)
}
kill_node() { kill -9 "${node_pid[$1]}" 2>/dev/null || true; wait "${node_pid[$1]}" 2>/dev/null || true; }
# jsz I: the JetStream state node I reports (JSON), or nothing while it is down.
jsz() { python3 -c 'import sys, urllib.request
try: print(urllib.request.urlopen(sys.argv[1], timeout=1).read().decode())
except Exception: pass' "http://127.0.0.1:${monitor[$1]}/jsz?accounts=true&streams=true"; }
# stream_field STREAM FIELD: the stream's leader (leader: once every live node names
# the same one, so a node that just restarted and is not caught up is not believed) or
# its message count (messages, from any live node).
stream_field() {
  local i out answers=()
  for i in 1 2 3; do
    out=$(jsz "$i" | python3 -c 'import json, sys
try: d = json.load(sys.stdin)
except Exception: sys.exit(0)
for a in d.get("account_details") or []:
    for s in a.get("stream_detail") or []:
        if s["name"] == sys.argv[1]:
            print(s["state"]["messages"] if sys.argv[2] != "leader" else (s.get("cluster") or {}).get("leader") or "none")' "$1" "$2")
    [ -z "$out" ] && continue
    [ "$2" != leader ] && { echo "$out"; return 0; }
    answers+=("$out")
  done
  [ "$2" = leader ] && [ ${#answers[@]} -ge 2 ] && [ "$(printf '%s\n' "${answers[@]}" | sort -u | wc -l)" = 1 ] &&
    [ "${answers[0]}" != none ] && { echo "${answers[0]}"; return 0; }
  echo ""
}
# leader_of STREAM: waits (up to 10 s) until the live nodes agree on its leader.
leader_of() {
  local l
  for _ in $(seq 100); do l=$(stream_field "$1" leader); [ -n "$l" ] && { echo "$l"; return 0; }; sleep 0.1; done
  echo ""
}
for i in 1 2 3; do start_node "$i"; done
for _ in $(seq 200); do
  leader=$(jsz 1 | python3 -c 'import json,sys
try: print((json.load(sys.stdin).get("meta_cluster") or {}).get("leader") or "")
except Exception: print("")')
  [ -n "$leader" ] && break; sleep 0.1
done
[ -n "$leader" ] || { echo "FAIL the cluster elected no meta leader"; tail -5 "$work/nats-1.log"; exit 1; }
at "cluster up: 3 nodes, meta leader $leader"
nats_flags=(--nats "$urls" --nats-stream TRADETAP --nats-replicas 3 --nats-batch 256 --nats-ack-timeout 2s)
start_collector "$port" "${nats_flags[@]}"
http() { sed -n 's/^listening .*http=\([^ ]*\).*/\1/p' "$work/collector.out"; }
token=$(cat "$work/token")
api() { python3 -c 'import sys, urllib.request
r = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
print(urllib.request.urlopen(r, timeout=10).read().decode())' "$1" "$token"; }
cursor_of() {  # cursor_of OUTPUT: its cursor and last change id
  api "http://$(http)/v1/outputs" 2>/dev/null | python3 -c 'import json,sys
o = [o for o in json.load(sys.stdin)["outputs"] if o["name"] == sys.argv[1]]
print("%s %s %s" % (o[0]["cursor"], o[0]["last_change_id"], json.dumps(o[0]["last_error"])) if o else "0 0 null")' "$1" || echo "0 0 null"
}
"$tradetap" sim --plugin "$plugin" --server-id "$server_id" --accounts 20 --rate "$rate" --duration "${seconds}s" \
  --linger 2m --seed 11 --journal "$work/host.log" --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" \
  --param TLS=off --param "Journal.Path=$work/journal" --param Heartbeat.Seconds=1 > "$work/sim.out" 2>&1 &
sim=$!; children+=("$sim")
# resumed LABEL: how long until the stream grows again (publishing resumed), printed.
resumed() {
  local before t0 now
  t0=$(now_ms); before=$(stream_field TRADETAP messages)
  for _ in $(seq 300); do
    now=$(stream_field TRADETAP messages)
    [ -n "$now" ] && [ -n "$before" ] && [ "$now" -gt "$before" ] && break
    [ -z "$before" ] && before=$now
    sleep 0.05
  done
  at "$1: stream grows again after $(( $(now_ms) - t0 )) ms (messages $before -> $now)"
}
sleep 3
leader=$(leader_of TRADETAP)
[ -n "$leader" ] || { echo "FAIL no stream TRADETAP after 3 s: $(cursor_of nats-TRADETAP)"; tail -5 "$work/collector.log"; exit 1; }
follower=1; [ "$leader" = n1 ] && follower=2
at "stream TRADETAP leader $leader; kill -9 follower n$follower"
kill_node "$follower"; resumed "follower n$follower killed"
sleep 1; start_node "$follower"; sleep 1.5
leader=$(leader_of TRADETAP); leader_i=${leader#n}
[ -n "$leader" ] || { echo "FAIL the nodes do not agree on the stream's leader"; exit 1; }
at "kill -9 the stream leader $leader"
kill_node "$leader_i"; resumed "leader $leader killed"
at "new leader $(leader_of TRADETAP)"
sleep 1; start_node "$leader_i"; sleep 1.5
at "kill -9 the collector; restart it asking for an R1 stream (the stream is R3)"
kill9_collector
start_collector "$port" --nats "$urls" --nats-stream TRADETAP --nats-replicas 1 --nats-ack-timeout 2s
for _ in $(seq 100); do read -r _ _ error <<< "$(cursor_of nats-TRADETAP)"; [ "$error" != null ] && break; sleep 0.05; done
before=$(stream_field TRADETAP messages); sleep 1; after=$(stream_field TRADETAP messages)
at "stream asked R1, is R3: messages $before -> $after; last_error $error"
mismatch_ok=1
case "$error" in *"never changed silently"*) ;; *) echo "FAIL no mismatch error"; mismatch_ok=0 ;; esac
[ "$before" = "$after" ] || { echo "FAIL the mismatched output published"; mismatch_ok=0; }
echo "mismatch: error lines logged $(grep -c 'error .*exists with another configuration' "$work/collector.log")"
at "kill -9 the collector; restart it right"
kill9_collector
start_collector "$port" "${nats_flags[@]}"
resumed "collector restarted"
for _ in $(seq 600); do grep -q 'lingering' "$work/sim.out" && break; sleep 0.1; done
# The journal drains into the ledger; the output catches up.
last=0
for _ in $(seq 300); do
  now=$(sql "SELECT coalesce(max(id), 0) FROM changes")
  [ "$now" = "$last" ] && [ "$now" -gt 0 ] && break
  last=$now; sleep 1
done
for _ in $(seq 300); do read -r cursor _ error <<< "$(cursor_of nats-TRADETAP)"; [ "$cursor" -ge "$last" ] && break; sleep 0.1; done
at "output nats-TRADETAP: cursor $cursor of $last, last error $error"
status=0; [ $mismatch_ok = 1 ] || status=1
"$work/nats_consumer" "$urls" TRADETAP 'tradetap.>' > "$work/consumed" 2> "$work/consumer.err" || { cat "$work/consumer.err"; status=1; }
python3 - "$work/consumed" "$last" "$server_id" > "$work/check" <<'PY' || status=1
import json, sys
path, last, server = sys.argv[1], int(sys.argv[2]), sys.argv[3]
ids, bad, kinds = [], 0, {}
for line in open(path):
    seq, subject, msg_id, body = line.rstrip("\n").split(" ", 3)
    change = json.loads(body)
    ids.append(change["id"])
    parts = subject.split(".")
    kinds[parts[2]] = kinds.get(parts[2], 0) + 1
    if (msg_id != f"{change['server_id']}-{change['id']}" or parts[:2] != ["tradetap", str(change["server_id"])]
            or (change.get("entity") and parts[2] != change["entity"])):
        bad += 1
missing = sorted(set(range(1, last + 1)) - set(ids))
doubled = len(ids) - len(set(ids))
out_of_order = sum(1 for a, b in zip(ids, ids[1:]) if b <= a)
print(f"consumer: changes 1..{last}: messages {len(ids)}, missing {len(missing)}, doubled {doubled}, "
      f"out of order {out_of_order}, bad subject or Msg-Id {bad}; subjects {dict(sorted(kinds.items()))}")
sys.exit(1 if missing or doubled or out_of_order or bad else 0)
PY
cat "$work/check"
# The publish rate on R3 streams: a new output (a new stream) publishes the whole ledger;
# the rate is the stream's own: messages over the span of their timestamps.
span() {  # span STREAM: "<messages> <ms between first and last message>", asked of any live node
  local i out
  for i in 1 2 3; do
    out=$(jsz "$i" | python3 -c 'import json, sys
from datetime import datetime
def t(x):
    x = x.rstrip("Z"); head, _, frac = x.partition(".")
    return datetime.fromisoformat(head).timestamp() + float("0." + (frac or "0"))
try: d = json.load(sys.stdin)
except Exception: sys.exit(0)
for a in d.get("account_details") or []:
    for s in a.get("stream_detail") or []:
        if s["name"] == sys.argv[1]:
            st = s["state"]; print(st["messages"], int((t(st["last_ts"]) - t(st["first_ts"])) * 1000))' "$1")
    [ -n "$out" ] && { echo "$out"; return 0; }
  done
  echo "0 0"
}
for batch in 256 1000; do
  stop_collector
  start_collector "$port" --nats "$urls" --nats-stream "RATE$batch" --nats-subject-prefix "rate$batch" --nats-replicas 3 --nats-batch "$batch"
  for _ in $(seq 600); do read -r rcursor _ _ <<< "$(cursor_of "nats-RATE$batch")"; [ "$rcursor" -ge "$last" ] && break; sleep 0.05; done
  read -r messages ms <<< "$(span "RATE$batch")"
  echo "figures: publish rate (R3, --nats-batch $batch, pipelined): $messages changes in $ms ms = $(( messages * 1000 / (ms > 0 ? ms : 1) ))/s"
  [ "$rcursor" -ge "$last" ] && [ "$messages" = "$last" ] || { echo "FAIL the rate output did not catch up: $rcursor of $last"; status=1; }
done
at "done"
[ $status = 0 ] || { echo "work folder: $work"; tail -20 "$work/collector.log"; }
exit $status
