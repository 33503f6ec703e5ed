#!/usr/bin/env bash
# The FIX 4.4 drop copy (issue 14, docs/fix.md) against an independent counterparty:
# QuickFIX (PyPI quickfix-ssl, Tools/fix/install.sh) logs on as the back office with
# its FIX 4.4 data dictionary validation on, while an MT5 and an MT4 simulator stream
# through the real plugin. Mid-stream, three disruptions:
#   1. the initiator is killed and comes back expecting a lower sequence number, so
#      its ResendRequest is served from the ledger with PossDupFlag=Y;
#   2. the collector is killed (kill -9) and restarted;
#   3. the initiator logs out and logs on again with ResetSeqNumFlag (141=Y).
# At the end every trade deal of the ledger has its ExecutionReport, each ExecID is
# present exactly once apart from PossDup=Y repeats, the values match the ledger's
# exact text, and QuickFIX rejected nothing.
# TLS=1: the plugins and the FIX session both over TLS (QuickFIX's SSLSocketInitiator
# verifying the acceptor's certificate).
#   [TLS=1] Tools/faults/fix.sh [RATE=200] [SECONDS=12]
source "$(dirname "$0")/lib.sh"
rate=${1:-200}; seconds=${2:-12}
venv=${TRADETAP_FIX_VENV:-$root/.build/fix-venv}
python=$venv/bin/python
"$python" -c 'import quickfix' 2>/dev/null || { echo "FAIL no QuickFIX at $venv: run Tools/fix/install.sh"; exit 2; }
# A second trade server (MT4) next to server_id (MT5).
mt4_id=$((server_id + 1))
secret4=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
echo "$secret4" > "$work/secret4"; echo "$mt4_id $secret4" >> "$work/secrets"; chmod 600 "$work/secret4"
echo "back-office-$secret" > "$work/fix-password"; chmod 600 "$work/fix-password"
echo "TRADETAP BACKOFFICE report=8 password-file=$work/fix-password" > "$work/fix-sessions"; chmod 600 "$work/fix-sessions"
port=$(free_port); fix_port=$(free_port)
fix_flags=(--fix-listen "127.0.0.1:$fix_port" --fix-sessions "$work/fix-sessions")
initiator_tls=()
# TLS=1 (lib.sh's throwaway certificate): FIX over TLS too, QuickFIX verifying it.
if [ "${TLS:-0}" = 1 ]; then
  fix_flags+=(--fix-tls-cert "$work/cert.pem" --fix-tls-key "$work/key.pem"); initiator_tls=(--tls "$work/cert.pem")
fi
start_collector "$port" "${fix_flags[@]}"
initiator_pid=
start_initiator() {  # start_initiator [--reset]
  "$python" "$root/Tools/fix/initiator.py" "$fix_port" BACKOFFICE TRADETAP "$work/qf" "$work/reports.jsonl" \
    --password "$(cat "$work/fix-password")" ${initiator_tls[@]+"${initiator_tls[@]}"} "$@" \
    >> "$work/initiator.out" 2>> "$work/initiator.err" &
  initiator_pid=$!; children+=($!)
}
logons() { cat "$work/initiator.err" 2>/dev/null | grep -c '^LOGON' || true; }
wait_logons() {  # wait_logons N
  for _ in $(seq 200); do [ "$(logons)" -ge "$1" ] && return 0; sleep 0.05; done
  echo "FAIL the initiator did not log on ($1)"; tail -5 "$work/initiator.err"; return 1
}
start_initiator
wait_logons 1
sim() {  # sim PLATFORM SERVER SECRET_FILE NAME
  "$tradetap" sim --platform "$1" --plugin "$plugin" --server-id "$2" --accounts 20 --rate "$rate" \
    --duration "${seconds}s" --linger 2m --seed 14 --journal "$work/host-$4.log" --param "Collector=127.0.0.1:$port" \
    --param "SecretFile=$3" "${plugin_tls[@]}" --param "Journal.Path=$work/journal-$4" --param Heartbeat.Seconds=1 \
    > "$work/sim-$4.out" 2>&1 &
  children+=($!)
}
sim mt5 "$server_id" "$work/secret" mt5
sim mt4 "$mt4_id" "$work/secret4" mt4
# 1. The back office vanishes and comes back expecting 25 numbers fewer: a resend.
sleep 3
kill -9 "$initiator_pid"; wait "$initiator_pid" 2>/dev/null || true
"$python" - "$work/qf/store" <<'PY'
import glob, sys
path = glob.glob(sys.argv[1] + "/*.seqnums")[0]
sender, target = [int(x) for x in open(path).read().split(":")]
open(path, "w").write("%010d : %010d" % (sender, max(1, target - 25)))
print(f"initiator rewound: expects {max(1, target - 25)} instead of {target}")
PY
start_initiator
wait_logons 2
# 2. The collector is killed (kill -9) and restarted; the initiator reconnects.
sleep 3
kill9_collector
start_collector "$port" "${fix_flags[@]}"
wait_logons 3
# 3. A clean Logout, then a Logon with ResetSeqNumFlag=Y: both sides start again at 1.
sleep 3
kill -TERM "$initiator_pid"
for _ in $(seq 100); do kill -0 "$initiator_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$initiator_pid" 2>/dev/null && { echo "FAIL the initiator did not log out on SIGTERM"; exit 1; }
wait "$initiator_pid" 2>/dev/null || true
start_initiator --reset
wait_logons 4
for _ in $(seq 600); do
  grep -q 'lingering' "$work/sim-mt5.out" && grep -q 'lingering' "$work/sim-mt4.out" && break; sleep 0.1
done
# The journals drain into the ledger, then the reports stop coming.
last=-1
for _ in $(seq 120); do
  now="$(sql "SELECT coalesce(max(id), 0) FROM changes")/$(wc -l < "$work/reports.jsonl")"
  [ "$now" = "$last" ] && break
  last=$now; sleep 1
done
status=0
"$python" - "$work/reports.jsonl" "$ledger" "$server_id" "$mt4_id" <<'PY' || status=1
import collections, json, sqlite3, sys
reports = [json.loads(line) for line in open(sys.argv[1])]
db = sqlite3.connect(sys.argv[2]); mt5, mt4 = int(sys.argv[3]), int(sys.argv[4])
def lots(units, scale):
    text = str(units).rjust(scale + 1, "0"); whole, frac = text[:-scale], text[-scale:].rstrip("0")
    return whole + ("." + frac if frac else "")
expected = {}
for deal, login, symbol, action, price, volume in db.execute(
        "SELECT deal, login, symbol, action, price, volume_ext FROM deals WHERE server_id = ? AND action IN (0, 1)", (mt5,)):
    expected[f"{mt5}-{deal}"] = (str(login), symbol, "1" if action == 0 else "2", price, lots(volume, 8))
for ticket, login, symbol, cmd, price, volume in db.execute(
        "SELECT ticket, login, symbol, cmd, open_price, volume FROM trades WHERE server_id = ? AND cmd IN (0, 1)", (mt4,)):
    expected[f"{mt4}-{ticket}"] = (str(login), symbol, "1" if cmd == 0 else "2", price, lots(volume, 2))
fills = [r for r in reports if r["exec_type"] == "F"]
firsts = collections.Counter(r["exec_id"] for r in fills if not r["possdup"])
seen = {r["exec_id"] for r in fills}
missing = sorted(set(expected) - seen)
unknown = sorted(seen - set(expected))
doubled = sorted(e for e, n in firsts.items() if n > 1)
# MT4: a partial close lowers the ticket's volume after its report, so LastQty is
# compared for MT5 deals only (docs/fix.md).
def values(r, mt4_ticket):
    return (r["account"], r["symbol"], r["side"], r["last_px"]) + (() if mt4_ticket else (r["last_qty"],))
wrong = [r["exec_id"] for r in fills if r["exec_id"] in expected
         and values(r, r["exec_id"].startswith(f"{mt4}-")) != expected[r["exec_id"]][:4 if r["exec_id"].startswith(f"{mt4}-") else 5]]
possdup = [r for r in reports if r["possdup"]]
no_orig = [r for r in possdup if not r["orig_sending_time"]]
others = collections.Counter(r["exec_type"] for r in reports if r["exec_type"] != "F")
refs_ok = all(r["exec_ref_id"] in expected for r in reports if r["exec_type"] in ("G", "H"))
per_server = collections.Counter(e.split("-")[0] for e in expected)
print(f"ledger trade deals: {len(expected)} (MT5 server {mt5}: {per_server[str(mt5)]}, MT4 server {mt4}: {per_server[str(mt4)]}); "
      f"reports received {len(reports)}: ExecType F {len(fills)}, others {dict(others)}")
print(f"ExecIDs: present {len(seen & set(expected))}, missing {len(missing)}, unknown {len(unknown)}, "
      f"doubled without PossDup {len(doubled)}, values unlike the ledger {len(wrong)}; "
      f"PossDup=Y {len(possdup)} (without OrigSendingTime {len(no_orig)}); ExecRefIDs known {refs_ok}")
if missing: print("missing:", missing[:10])
if doubled: print("doubled:", doubled[:10])
if wrong: print("wrong:", wrong[:10])
sys.exit(1 if missing or unknown or doubled or wrong or no_orig or not refs_ok or not possdup
         or per_server[str(mt5)] == 0 or per_server[str(mt4)] == 0 else 0)
PY
# The session is an output: its row in GET /v1/outputs, caught up.
http=$(sed -n 's/^listening .*http=\([^ ]*\).*/\1/p' "$work/collector.out")
python3 - "http://$http/v1/outputs" "$(cat "$work/token")" <<'PY' || status=1
import json, sys, urllib.request
request = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
rows = [o for o in json.load(urllib.request.urlopen(request, timeout=10))["outputs"] if o["kind"] == "fix"]
for o in rows:
    print(f"output {o['name']} {o['target']}: cursor {o['cursor']}, last change {o['last_change_id']}, "
          f"lag {o['lag_changes']} changes, delivered {o['delivered']}")
sys.exit(0 if len(rows) == 1 and rows[0]["lag_changes"] == 0 else 1)
PY
echo "FIX over TLS: $(grep -q 'tradetap.fix_tls=on' "$work/collector.log" && echo on || echo off), QuickFIX verified the certificate $(grep -c '^Certificate Verification' "$work/initiator.out" || true) times"
rejects=$(grep -c '^REJECT-SENT' "$work/initiator.err" || true)
echo "QuickFIX rejects sent: $rejects; logons: $(logons); collector: $(grep -c 'FIX ResendRequest' "$work/collector.log" || true) ResendRequests served, $(grep -c 'logged on with a sequence reset' "$work/collector.log" || true) sequence resets"
[ "$rejects" = 0 ] || { echo "FAIL QuickFIX rejected a message"; grep '^REJECT-SENT' "$work/initiator.err" | head -3; status=1; }
grep -q 'FIX ResendRequest' "$work/collector.log" || { echo "FAIL no ResendRequest was served"; status=1; }
grep -q 'logged on with a sequence reset' "$work/collector.log" || { echo "FAIL no 141=Y reset"; status=1; }
"$python" - "$work/reports.jsonl" "$work/collector.log" <<'PY'
import json, sys
reports = [json.loads(line) for line in open(sys.argv[1])]
dup = [r["t"] for r in reports if r["possdup"]]
if len(dup) > 1:
    print(f"figures: resend of {len(dup)} reports took {1000 * (max(dup) - min(dup)):.1f} ms at the initiator")
first = [r["t"] for r in reports if not r["possdup"]]
if first:
    print(f"figures: {len(reports)} reports over {max(first) - min(first):.1f} s of streaming")
for line in open(sys.argv[2]):
    if "FIX resend done" in line: print("collector:", line.strip().split("] ")[-1])
PY
[ $status = 0 ] || { echo "work folder: $work"; tail -20 "$work/collector.log"; }
kill -TERM "$initiator_pid" 2>/dev/null || true
exit $status
