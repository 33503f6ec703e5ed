#!/usr/bin/env bash
# Hostile FIX input (issue 14, docs/fix.md "Hostile input"): while QuickFIX (Tools/fix/
# install.sh) is logged on to one session and the MT5 simulator streams, another
# session's CompIDs get garbage, a wrong CompID, a wrong and a missing password, a huge
# BodyLength, a bad CheckSum, a slowloris Logon, a message missing a required tag and a
# flood of TestRequests that never reads its answers (Tools/fix/hostile.py; the
# collector's RSS is read while the flood's connection is held). Each gets its documented answer; the collector stays up and
# the QuickFIX session is untouched: one Logon, every trade deal reported once.
#   Tools/faults/fix-hostile.sh [RATE=100] [SECONDS=6]
source "$(dirname "$0")/lib.sh"
rate=${1:-100}; seconds=${2:-6}
venv=${TRADETAP_FIX_VENV:-$root/.build/fix-venv}
python=$venv/bin/python
"$python" -c 'import quickfix' 2>/dev/null || { echo "FAIL no QuickFIX at $venv: run Tools/fix/install.sh"; exit 2; }
echo "ops-$secret" > "$work/fix-password"; chmod 600 "$work/fix-password"
printf 'TRADETAP BACKOFFICE\nTRADETAP OPS password-file=%s\n' "$work/fix-password" > "$work/fix-sessions"
chmod 600 "$work/fix-sessions"
port=$(free_port); fix_port=$(free_port)
start_collector "$port" --fix-listen "127.0.0.1:$fix_port" --fix-sessions "$work/fix-sessions"
"$python" "$root/Tools/fix/initiator.py" "$fix_port" BACKOFFICE TRADETAP "$work/qf" "$work/reports.jsonl" \
  2>> "$work/initiator.err" &
initiator=$!; children+=($!)
for _ in $(seq 200); do grep -q '^LOGON' "$work/initiator.err" 2>/dev/null && break; sleep 0.05; done
"$tradetap" sim --plugin "$plugin" --server-id "$server_id" --accounts 20 --rate "$rate" --duration "${seconds}s" \
  --linger 2m --seed 3 --journal "$work/host.log" --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" \
  --param TLS=off --param "Journal.Path=$work/journal" --param Heartbeat.Seconds=1 > "$work/sim.out" 2>&1 &
children+=($!)
status=0
rss() { awk '/^VmRSS/ {print $2}' "/proc/$collector_pid/status"; }
rss_before=$(rss)
"$python" "$root/Tools/fix/hostile.py" "$fix_port" TRADETAP OPS "$(cat "$work/fix-password")" "$work/flooding" &
hostile=$!
for _ in $(seq 400); do [ -f "$work/flooding" ] && break; sleep 0.05; done
rss_flood=$(rss)
wait "$hostile" || status=1
echo "figures: collector RSS ${rss_before} kB before the hostile cases, ${rss_flood} kB while the flood's connection is held"
[ -n "$rss_flood" ] && [ "$rss_flood" -lt $((rss_before + 65536)) ] || { echo "FAIL the flood grew the collector by 64 MB or more"; status=1; }
kill -0 "$collector_pid" 2>/dev/null && echo "collector: still up" || { echo "FAIL the collector died"; status=1; }
for _ in $(seq 600); do grep -q 'lingering' "$work/sim.out" && break; sleep 0.1; done
last=-1
for _ in $(seq 60); do
  now="$(sql "SELECT coalesce(max(id), 0) FROM changes")/$(wc -l < "$work/reports.jsonl" 2>/dev/null || echo 0)"
  [ "$now" = "$last" ] && break
  last=$now; sleep 1
done
deals=$(sql "SELECT count(*) FROM deals WHERE server_id = $server_id AND action IN (0, 1)")
"$python" - "$work/reports.jsonl" "$deals" <<'PY' || status=1
import collections, json, sys
reports = [json.loads(line) for line in open(sys.argv[1])]
ids = collections.Counter(r["exec_id"] for r in reports if r["exec_type"] == "F")
deals = int(sys.argv[2])
print(f"other session: ledger trade deals {deals}, ExecIDs received {len(ids)}, repeated {sum(1 for n in ids.values() if n > 1)}, "
      f"PossDup {sum(1 for r in reports if r['possdup'])}")
sys.exit(0 if deals > 0 and len(ids) == deals and all(n == 1 for n in ids.values()) else 1)
PY
logons=$(grep -c '^LOGON' "$work/initiator.err" || true)
rejects=$(grep -c '^REJECT-SENT' "$work/initiator.err" || true)
echo "other session: logons $logons, QuickFIX rejects sent $rejects"
[ "$logons" = 1 ] && [ "$rejects" = 0 ] || { echo "FAIL the other session was disturbed"; status=1; }
[ $status = 0 ] || { echo "work folder: $work"; tail -20 "$work/collector.log"; }
kill -TERM "$initiator" 2>/dev/null || true
exit $status
