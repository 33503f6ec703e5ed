#!/usr/bin/env python3
"""A CRM that moves money through TradeTap's write API, as a careful one would:
every request carries an Idempotency-Key and is retried with the same key.
Standard library only. Used by Tools/faults/commands.sh.

  crm.py post  URL TOKEN_FILE SERVER_ID OPS_JSON OUT_JSON [--repeat N] [--threads T]
      OPS_JSON: [{"key":..., "login":..., "type":..., "amount":"...", "comment":...}, ...]
      (an op with "body" opens an account with that body instead)
      Sends each op N times (same key, shuffled across threads), keeps the command id
      of each key (every answer for a key must name the same command), writes
      {key: command_id} to OUT_JSON.
  crm.py wait  URL TOKEN_FILE IDS_JSON SECONDS
      Polls GET /v1/commands/{id} until every command is done or rejected; prints
      'final N done D rejected R' and exits 1 when one is still unfinished.
  crm.py proxy LISTEN_PORT TARGET_PORT CONTROL_FILE
      A TCP proxy for the plugin's connection: while CONTROL_FILE holds 'cut', every
      byte either way is dropped silently (the sockets stay open, as on a cut link);
      'up' forwards, and drops the connections that lived through a cut.
"""
import json, os, random, socket, sys, threading, time, urllib.request, urllib.error


def call(url, token, method="GET", body=None, key=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", "Bearer " + token)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key is not None:
        request.add_header("Idempotency-Key", key)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def post(url, token_file, server_id, ops_file, out_file, repeat=3, threads=8):
    token = open(token_file).read().strip()
    ops = json.load(open(ops_file))
    work = [op for op in ops for _ in range(repeat)]
    random.Random(7).shuffle(work)
    ids, problems, lock = {}, [], threading.Lock()
    cursor = iter(work)

    def worker():
        while True:
            with lock:
                op = next(cursor, None)
            if op is None:
                return
            # An op with a "body" opens an account; else it moves money.
            body = op.get("body") or {k: op[k] for k in ("login", "type", "amount", "comment")}
            route = "accounts" if "body" in op else "balance-operations"
            for attempt in range(50):
                try:
                    status, answer = call(f"{url}/v1/servers/{server_id}/{route}", token, "POST", body, op["key"])
                except OSError:
                    time.sleep(0.2)  # the collector is down: retry the same key
                    continue
                if status in (500, 502, 503):
                    time.sleep(0.2)
                    continue
                break
            with lock:
                if status not in (200, 202):
                    problems.append(f"{op['key']}: {status} {answer}")
                    return
                known = ids.setdefault(op["key"], answer["command_id"])
                if known != answer["command_id"]:
                    problems.append(f"{op['key']}: command {known} then {answer['command_id']}")

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool: t.start()
    for t in pool: t.join()
    json.dump(ids, open(out_file, "w"))
    print(f"posted {len(work)} requests for {len(ops)} keys: {len(ids)} commands, {len(problems)} problems")
    for p in problems[:10]: print("FAIL", p)
    return 1 if problems or len(ids) != len(ops) else 0


def wait(url, token_file, ids_file, seconds):
    token = open(token_file).read().strip()
    ids = sorted(set(json.load(open(ids_file)).values()))
    deadline = time.time() + float(seconds)
    states = {}
    while time.time() < deadline:
        for i in ids:
            if states.get(i, {}).get("status") in ("done", "rejected"):
                continue
            try:
                status, answer = call(f"{url}/v1/commands/{i}", token)
            except OSError:
                continue
            if status == 200:
                states[i] = answer
        if all(states.get(i, {}).get("status") in ("done", "rejected") for i in ids):
            break
        time.sleep(0.2)
    done = sum(1 for s in states.values() if s["status"] == "done")
    rejected = sum(1 for s in states.values() if s["status"] == "rejected")
    final = done + rejected
    reasons = sorted({s.get("reason") for s in states.values() if s["status"] == "rejected"})
    print(f"final {final} of {len(ids)}: done {done} rejected {rejected} (reasons {','.join(map(str, reasons))})")
    return 0 if final == len(ids) else 1


def proxy(listen_port, target_port, control_file):
    def state():
        try:
            return open(control_file).read().strip()
        except OSError:
            return "up"

    generation = [0]
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(listen_port)))
    server.listen(16)

    def pump(src, dst, born):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if state() == "cut":
                    continue  # dropped on the floor: the link is down
                if generation[0] != born:
                    break  # lived through a cut: gone, as after a long outage
                dst.sendall(data)
        except OSError:
            pass
        # On a cut link nobody hears the other end go: only this side closes.
        for s in ((src,) if state() == "cut" else (src, dst)):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
            s.close()

    def watch():
        last = state()
        while True:
            now = state()
            if last == "cut" and now == "up":
                generation[0] += 1
            last = now
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    while True:
        client, _ = server.accept()
        if state() == "cut":
            client.close()  # no route: the connect fails
            continue
        try:
            upstream = socket.create_connection(("127.0.0.1", int(target_port)))
        except OSError:
            client.close()  # the collector is down: so is the connection
            continue
        born = generation[0]
        threading.Thread(target=pump, args=(client, upstream, born), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, born), daemon=True).start()


if __name__ == "__main__":
    verb, args = sys.argv[1], sys.argv[2:]
    options = {}
    while len(args) >= 2 and args[-2].startswith("--"):
        options[args[-2][2:]] = int(args[-1]); args = args[:-2]
    if verb == "post":
        sys.exit(post(*args, **options))
    if verb == "wait":
        sys.exit(wait(*args))
    if verb == "proxy":
        proxy(*args)
    sys.exit(f"unknown verb {verb}")
