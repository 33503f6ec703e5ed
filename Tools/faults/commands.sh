#!/usr/bin/env bash
# Money in, exactly once (issue 17, docs/commands.md). A real collector with a write
# token, the simulator (MT5 unless PLATFORM=mt4) with the real plugin behind a TCP proxy
# we can cut, and a CRM (crm.py) that retries every request with its Idempotency-Key.
#   retries: OPS operations (deposits, withdrawals, some beyond the balance, credit in
#            and out), each posted 3 times concurrently; every key ends done or rejected.
#   faults, one at a time, each on fresh commands:
#     kill -9 the collector right after the 202s;
#     kill -9 it while the host is inside balance_change (the command was sent);
#     cut the link while the host is inside balance_change (the result cannot return);
#     the plugin dies between the host call and its record (test fault point), and the
#     host reloads it (SIGHUP): the command is found on the platform by its TT# mark.
# Then: exactly one platform deal per done command (its TT# mark, its deal id), none for
# a rejected one, every command final, and `tradetap verify` clean.
#   Tools/faults/commands.sh [OPS=1000]
source "$(dirname "$0")/lib.sh"
ops=${1:-1000}; platform=${PLATFORM:-mt5}
echo "write-$secret" > "$work/write-token"; chmod 600 "$work/write-token"
port=$(free_port); proxy_port=$(free_port)
echo up > "$work/link"
python3 "$root/Tools/faults/crm.py" proxy "$proxy_port" "$port" "$work/link" 2> "$work/proxy.log" &
children+=($!)
start_collector "$port" --api-write-token-file "$work/write-token" --heartbeat 1s
http() { sed -n 's/^listening .*http=\([^ ]*\).*/\1/p' "$work/collector.out"; }
url="http://$(http)"
# The host: accounts are made at start; the trading day is short, the plugin lingers
# (loaded, connected) for the commands. A slow-write balance_change returns 3 s after it
# applied; a command whose comment holds [abandon] kills the plugin's command thread
# right after the host call.
TRADETAP_SIM_SLOW_WRITE_MS=3000 TRADETAP_TEST_ABANDON_COMMENT='[abandon]' \
"$tradetap" sim --plugin "$plugin" --platform "$platform" --server-id "$server_id" --accounts 40 --rate 200 \
  --duration 2s --linger 30m --seed 5 --state-out "$work/state.json" --journal "$work/host.log" \
  --param "Collector=127.0.0.1:$proxy_port" --param "SecretFile=$work/secret" --param TLS=off \
  --param "Journal.Path=$work/journal" --param Heartbeat.Seconds=1 > "$work/sim.out" 2>&1 &
sim=$!; children+=("$sim")
for _ in $(seq 600); do grep -q 'lingering' "$work/sim.out" && break; sleep 0.05; done
grep -q 'lingering' "$work/sim.out" || { echo "FAIL the simulator did not reach its linger"; cat "$work/sim.out"; exit 1; }
for _ in $(seq 200); do [ "$(sql "SELECT count(*) FROM accounts WHERE server_id = $server_id")" -ge 40 ] && break; sleep 0.05; done
sql "SELECT login FROM accounts WHERE server_id = $server_id ORDER BY login" > "$work/logins"
[ "$(wc -l < "$work/logins")" -ge 40 ] || { echo "FAIL the ledger does not hold the server's 40 accounts"; exit 1; }

# make_ops PREFIX N [COMMENT]: N operations over the server's accounts, as JSON.
make_ops() {
  python3 - "$work/logins" "$1" "$2" "${3:-}" <<'PY'
import json, random, sys
logins = [int(l) for l in open(sys.argv[1]) if l.strip()]
prefix, n, comment = sys.argv[2], int(sys.argv[3]), sys.argv[4]
r = random.Random(prefix)
ops = []
for i in range(n):
    kind = r.choice(["deposit", "deposit", "withdrawal", "withdrawal", "credit_in", "credit_out"])
    if kind == "deposit": amount = f"{r.randint(1000, 50000) / 100:.2f}"
    elif kind == "credit_in": amount = f"{r.randint(100, 5000) / 100:.2f}"
    # Some withdrawals and most credit-outs go beyond what the account holds: no_money.
    elif kind == "withdrawal": amount = r.choice(["1.00", "2.50", "900000.00"])
    else: amount = r.choice(["0.50", "800000.00"])
    ops.append({"key": f"{prefix}-{i}", "login": r.choice(logins), "type": kind, "amount": amount,
                "comment": (comment or f"crm {prefix} {i}")})
print(json.dumps(ops))
PY
}
crm() { python3 "$root/Tools/faults/crm.py" "$@"; }
status=0
all_ids=()

# 0. Accounts: two with logins the platform assigns, one with a login it already has
# (refused: invalid_argument), each posted twice.
group=$([ "$platform" = mt4 ] && echo real || echo 'real\\hedging')
taken=$(head -1 "$work/logins")
cat > "$work/ops-open.json" <<JSON
[{"key":"open-1","body":{"group":"$group","name":"New Client 1","currency":"USD","leverage":100,"email":"c1@example.com","country":"CY"}},
 {"key":"open-2","body":{"group":"$group","name":"New Client 2","currency":"EUR","leverage":200}},
 {"key":"open-taken","body":{"group":"$group","name":"Taken","currency":"USD","leverage":100,"login":$taken}}]
JSON
crm post "$url" "$work/write-token" "$server_id" "$work/ops-open.json" "$work/ids-open.json" --repeat 2 --threads 3 || status=1
crm wait "$url" "$work/write-token" "$work/ids-open.json" 60 | sed 's/^/accounts opened: /' || status=1

# 1. Retries: every request three times, concurrently.
make_ops retry "$ops" > "$work/ops-retry.json"
start=$(now_ms)
crm post "$url" "$work/write-token" "$server_id" "$work/ops-retry.json" "$work/ids-retry.json" --repeat 3 --threads 8 || status=1
crm wait "$url" "$work/write-token" "$work/ids-retry.json" 120 | tee "$work/wait-retry" || status=1
retry_ms=$(( $(now_ms) - start ))
echo "retries: $ops operations x 3 requests final in $retry_ms ms"
all_ids+=("$work/ids-retry.json")

# 2. kill -9 the collector right after the 202s, restart it on the same ports.
make_ops kill202 10 > "$work/ops-kill202.json"
crm post "$url" "$work/write-token" "$server_id" "$work/ops-kill202.json" "$work/ids-kill202.json" --repeat 1 --threads 1 || status=1
kill9_collector
start_collector "$port" --api-write-token-file "$work/write-token" --heartbeat 1s; url="http://$(http)"
crm wait "$url" "$work/write-token" "$work/ids-kill202.json" 60 | sed 's/^/collector killed after the 202: /' || status=1
all_ids+=("$work/ids-kill202.json")

# wait_sent IDS_JSON: until every command of the file is at least sent (at the plugin).
wait_sent() {
  local ids; ids=$(python3 -c 'import json,sys; print(",".join(str(v) for v in json.load(open(sys.argv[1])).values()))' "$1")
  for _ in $(seq 200); do
    [ "$(sql "SELECT count(*) FROM commands WHERE id IN ($ids) AND status = 'pending'")" = 0 ] && return 0; sleep 0.05
  done
  echo "FAIL commands $ids never left pending"; return 1
}

# 3. kill -9 the collector while the host is inside balance_change.
make_ops killsent 1 "slow-write while the collector dies" | sed 's/"credit_out"/"deposit"/; s/"withdrawal"/"deposit"/' > "$work/ops-killsent.json"
crm post "$url" "$work/write-token" "$server_id" "$work/ops-killsent.json" "$work/ids-killsent.json" --repeat 1 --threads 1 || status=1
wait_sent "$work/ids-killsent.json" || status=1
sleep 0.5
kill9_collector
sleep 3
start_collector "$port" --api-write-token-file "$work/write-token" --heartbeat 1s; url="http://$(http)"
crm wait "$url" "$work/write-token" "$work/ids-killsent.json" 60 | sed 's/^/collector killed with the command at the host: /' || status=1
all_ids+=("$work/ids-killsent.json")

# 4. Cut the link while the host is inside balance_change; restore it after 5 s.
make_ops cut 1 "slow-write across a cut link" | sed 's/"credit_out"/"deposit"/; s/"withdrawal"/"deposit"/' > "$work/ops-cut.json"
crm post "$url" "$work/write-token" "$server_id" "$work/ops-cut.json" "$work/ids-cut.json" --repeat 1 --threads 1 || status=1
wait_sent "$work/ids-cut.json" || status=1
sleep 0.5
echo cut > "$work/link"; sleep 5; echo up > "$work/link"
crm wait "$url" "$work/write-token" "$work/ids-cut.json" 60 | sed 's/^/link cut with the command at the host: /' || status=1
all_ids+=("$work/ids-cut.json")

# 5. The plugin dies between the host call and its record; the host reloads it.
make_ops abandon 1 "[abandon] the plugin dies here" | sed 's/"credit_out"/"deposit"/; s/"withdrawal"/"deposit"/' > "$work/ops-abandon.json"
crm post "$url" "$work/write-token" "$server_id" "$work/ops-abandon.json" "$work/ids-abandon.json" --repeat 1 --threads 1 || status=1
for _ in $(seq 100); do grep -q 'abandoned after the host call' "$work/host.log" && break; sleep 0.05; done
grep -q 'abandoned after the host call' "$work/host.log" || { echo "FAIL the fault point was not reached"; status=1; }
kill -HUP "$sim"
crm wait "$url" "$work/write-token" "$work/ids-abandon.json" 60 | sed 's/^/plugin died between the host call and its record: /' || status=1
grep -q 'found on the platform' "$work/host.log" && echo "resolved from the platform's TT# mark: yes" || { echo "FAIL not resolved from the platform"; status=1; }
all_ids+=("$work/ids-abandon.json")

# The host writes its state (the linger ends on SIGINT), then the checks.
kill -INT "$sim"; wait "$sim" 2>/dev/null || true
sql "SELECT id, status, coalesce(deal, 0) FROM commands WHERE server_id = $server_id" > "$work/commands"
python3 - "$work/state.json" "$work/commands" "${all_ids[@]}" "$work/ids-open.json" > "$work/check.out" <<'PY' || status=1
import collections, json, re, sys
state = json.load(open(sys.argv[1]))
rows = {int(i): (s, int(d)) for i, s, d in (l.strip().split("|") for l in open(sys.argv[2]) if l.strip())}
posted = set()
for f in sys.argv[3:-1]: posted |= set(json.load(open(f)).values())  # the last file: accounts
marks = collections.defaultdict(list)
# MT5: deals; MT4: trade records (balance and credit ones are in the history), by ticket.
records = state.get("deals") or (state.get("trades", []) + state.get("history", []))
for record in records:
    m = re.match(r"TT#(\d+)( |$)", record.get("comment", ""))
    if m: marks[int(m.group(1))].append(record.get("deal", record.get("ticket")))
problems = []
for cid in sorted(posted):
    status, deal = rows.get(cid, ("missing", 0))
    found = marks.get(cid, [])
    if status == "done" and found != [deal]: problems.append(f"command {cid} done with deal {deal}, platform deals {found}")
    if status == "rejected" and found: problems.append(f"command {cid} rejected, platform deals {found}")
    if status not in ("done", "rejected"): problems.append(f"command {cid} {status}")
# Accounts a command opened carry its mark in their comment: exactly one per done opening.
opened = collections.defaultdict(list)
for account in state["accounts"]:
    m = re.match(r"TT#(\d+)$", account.get("comment", ""))
    if m: opened[int(m.group(1))].append(account["login"])
for cid in sorted(json.load(open(sys.argv[-1])).values()):
    status, _ = rows.get(cid, ("missing", 0))
    if status == "done" and len(opened.get(cid, [])) != 1: problems.append(f"account command {cid} done, platform accounts {opened.get(cid)}")
    if status == "rejected" and opened.get(cid): problems.append(f"account command {cid} rejected, platform accounts {opened[cid]}")
print(f"accounts: {sum(1 for c in opened)} opened by commands, {sum(1 for v in opened.values() if len(v) > 1)} doubled")
strays = [c for c in marks if c not in rows]
done = sum(1 for c in posted if rows.get(c, ("",))[0] == "done")
doubled = sum(1 for c in marks if len(marks[c]) > 1)
print(f"platform: {len(posted)} commands, {done} done, {sum(len(v) for v in marks.values())} TT# deals, doubled {doubled}, strays {len(strays)}, problems {len(problems)}")
for p in problems[:10]: print("FAIL", p)
sys.exit(1 if problems or strays or doubled else 0)
PY
cat "$work/check.out"
"$tradetap" verify --state "$work/state.json" --database "sqlite:$ledger" --server-id "$server_id" > "$work/verify.out" 2>&1 || true
tail -1 "$work/verify.out" | sed 's/^/verify: /'
tail -1 "$work/verify.out" | grep -q ' 0 divergences' || { echo "FAIL verify found divergences"; head -20 "$work/verify.out"; status=1; }
echo "figures: $platform $ops operations x 3 requests: all final in $retry_ms ms; $(sed -n 's/^platform: //p' "$work/check.out")"
[ $status = 0 ] || { echo "work folder: $work"; tail -20 "$work/collector.log"; }
exit $status
