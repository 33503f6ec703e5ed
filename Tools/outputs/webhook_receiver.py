#!/usr/bin/env python3
"""An independent webhook receiver for TradeTap's outputs (docs/outputs.md), for tests.

  webhook_receiver.py PORT SECRET_FILE STATE_DIR CONTROL_FILE

Verifies every request's TradeTap-Signature with the verifier block of docs/outputs.md
(executed from that file, so the documentation is what is tested), then applies each
change at most once by its id: STATE_DIR/applied holds one id per line, flushed before
the 200 (a receiver's durable store). STATE_DIR/stats counts requests, repeats and bad
signatures. CONTROL_FILE says how to answer: ok, 500, slow (apply, then answer after
2 s: past the collector's timeout, so the batch comes again), 400once (one 400, then ok).
"""
import http.server, json, os, re, sys, threading, time

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
doc = open(os.path.join(root, "docs", "outputs.md")).read()
block = re.search(r"<!-- verifier -->\s*```python\n(.*?)```", doc, re.S).group(1)
namespace = {}
exec(block, namespace)  # defines verify(secret, header, body)
verify = namespace["verify"]

port, secret_file, state, control = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
secret = open(secret_file).read().strip().encode()
os.makedirs(state, exist_ok=True)
lock = threading.Lock()
applied_path = os.path.join(state, "applied")
applied = set(int(l) for l in open(applied_path) if l.strip()) if os.path.exists(applied_path) else set()
applied_file = open(applied_path, "a")
stats = {"requests": 0, "repeats": 0, "bad_signatures": 0, "refused": 0}
stats_path = os.path.join(state, "stats")
if os.path.exists(stats_path):
    stats.update(json.load(open(stats_path)))


def save_stats():
    # Atomic: a receiver killed mid-write keeps the previous counts.
    with open(stats_path + ".tmp", "w") as f:
        json.dump(stats, f)
    os.replace(stats_path + ".tmp", stats_path)


def mode():
    try:
        return open(control).read().strip() or "ok"
    except OSError:
        return "ok"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, text=""):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        now = mode()
        with lock:
            stats["requests"] += 1
            if not verify(secret, self.headers.get("TradeTap-Signature", ""), body):
                stats["bad_signatures"] += 1
                save_stats()
                return self.answer(401, "bad signature")
            if now == "500":
                return self.answer(500, "down for a while")
            if now == "400once":
                open(control, "w").write("ok")
                stats["refused"] += 1
                save_stats()
                return self.answer(400, "refused once, on purpose")
            for change in json.loads(body)["changes"]:
                if change["id"] in applied:
                    stats["repeats"] += 1
                else:
                    applied.add(change["id"])
                    applied_file.write(f"{change['id']}\n")
            applied_file.flush()
            save_stats()
        if now == "slow":
            time.sleep(2)
        self.answer(200, "ok")


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
