#!/usr/bin/env python3
"""Hostile FIX input against the collector's acceptor (Tools/faults/fix-hostile.sh,
docs/fix.md "Hostile input"). Each case opens its own connection, sends its bytes and
reads the answer until the collector closes the connection. Prints one line a case,
`case NAME: answer ... closed after N ms`, and exits 1 when an answer is not the
documented one.

  hostile.py PORT SENDER TARGET PASSWORD [FLOOD_MARK]

FLOOD_MARK: a file written while the flood holds its connection open (the shell
reads the collector's memory then)."""
import socket, sys, time

port, our_id, their_id, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
SOH = "\x01"


def frame(fields, body_length=None, checksum=None):
    body = "".join(f"{t}={v}{SOH}" for t, v in fields)
    head = f"8=FIX.4.4{SOH}9={len(body) if body_length is None else body_length}{SOH}"
    total = sum((head + body).encode()) % 256
    return (head + body + f"10={total if checksum is None else checksum:03d}{SOH}").encode()


def now():
    return time.strftime("%Y%m%d-%H:%M:%S.000", time.gmtime())


def logon(sender=their_id, target=our_id, pw=password, seq=1, **extra):
    fields = [(35, "A"), (49, sender), (56, target), (34, seq), (52, now()), (98, 0), (108, 30)]
    if pw is not None: fields.append((554, pw))
    return frame(fields + list(extra.items()))


def exchange(payloads, pause=0.0, timeout=15.0):
    """Sends each payload (pause seconds apart), then reads until closed. Returns (text, ms)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    start = time.monotonic()
    received = b""
    try:
        for p in payloads:
            s.sendall(p)
            if pause: time.sleep(pause)
        while True:
            chunk = s.recv(65536)
            if not chunk: break
            received += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        return received.decode(errors="replace").replace(SOH, "|"), None
    finally:
        s.close()
    return received.decode(errors="replace").replace(SOH, "|"), int((time.monotonic() - start) * 1000)


failures = 0


def case(name, answer, ms, expect):
    global failures
    ok = all(e in answer for e in expect) and ms is not None
    failures += 0 if ok else 1
    print(f"case {name}: {'ok' if ok else 'FAIL'}: answer {answer[:200]!r}, closed after {ms} ms")


a, ms = exchange([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
case("garbage", a, ms, ["35=5", "58=garbled message: expected 8=FIX.4.4 first"])
a, ms = exchange([logon(sender="INTRUDER")])
case("wrong CompID", a, ms, ["35=5", "58=unknown session: SenderCompID INTRUDER"])
a, ms = exchange([logon(pw="not-the-password")])
case("wrong password", a, ms, ["35=5", "58=wrong Password (554)"])
a, ms = exchange([logon(pw=None)])
case("no password", a, ms, ["35=5", "58=Password (554) required"])
a, ms = exchange([f"8=FIX.4.4{SOH}9=99999999{SOH}35=A{SOH}".encode()])
case("huge BodyLength", a, ms, ["35=5", "58=BodyLength 99999999 is above the limit of 8192"])
a, ms = exchange([logon()[:-4] + b"999" + SOH.encode()])
case("bad CheckSum", a, ms, ["35=5", "58=bad CheckSum (10)"])
# Slowloris: a Logon dripped a byte a second never completes: closed at the Logon timeout.
drip = logon()
s = socket.create_connection(("127.0.0.1", port), timeout=15)
start = time.monotonic(); closed_ms = None
try:
    for byte in drip:
        s.sendall(bytes([byte]))
        time.sleep(0.5)
        s.settimeout(0.01)
        try:
            if s.recv(1) == b"": closed_ms = int((time.monotonic() - start) * 1000); break
        except socket.timeout:
            pass
        s.settimeout(15)
except (ConnectionResetError, BrokenPipeError):
    closed_ms = int((time.monotonic() - start) * 1000)
s.close()
ok = closed_ms is not None and closed_ms < 8000
failures += 0 if ok else 1
print(f"case slowloris: {'ok' if ok else 'FAIL'}: a byte every 0.5 s, closed after {closed_ms} ms (Logon timeout 5 s)")
# A good Logon, then a message without SendingTime: Reject (3) with SessionRejectReason 1; then a Logout.
good = logon()
missing = frame([(35, "1"), (49, their_id), (56, our_id), (34, 2), (112, "probe")])
bye = frame([(35, "5"), (49, their_id), (56, our_id), (34, 3), (52, now())])
a, ms = exchange([good, missing, bye], pause=0.3)
case("missing SendingTime", a, ms, ["35=A", "35=3", "373=1", "58=Required tag missing: SendingTime (52)", "35=5"])
# Flood: a good Logon, then 200,000 TestRequests (about 20 MB) without reading a byte
# of the answers. The session's loop blocks on the unread Heartbeats and the connection
# stops reading (back-pressure), so the flood costs bounded memory; the shell measures
# the collector's RSS.
s = socket.create_connection(("127.0.0.1", port), timeout=2)
s.sendall(logon(seq=1, **{"141": "Y"}))
sent = 0
size = 0
start = time.monotonic()
stamp = now()
try:
    while sent < 200_000 and time.monotonic() - start < 6:
        chunk = b"".join(frame([(35, "1"), (49, their_id), (56, our_id), (34, seq), (52, stamp), (112, "x" * 40)])
                         for seq in range(sent + 2, sent + 1002))
        s.sendall(chunk)
        sent += 1000
        size += len(chunk)
except socket.timeout:
    pass  # the collector stopped reading: the socket buffers are full
except (BrokenPipeError, ConnectionResetError):
    failures += 1
    print("case flood: FAIL the collector closed the connection")
print(f"case flood: {sent} TestRequests ({size / 1e6:.1f} MB) accepted before the collector stopped reading or 6 s passed")
open(sys.argv[5], "w").write("flooding\n") if len(sys.argv) > 5 else None
time.sleep(1.5)
s.close()
print(f"hostile cases failed: {failures}")
sys.exit(1 if failures else 0)
