#!/usr/bin/env python3
"""A QuickFIX (quickfix-ssl) FIX 4.4 initiator: the back office of the FIX drop copy
test (Tools/faults/fix.sh, docs/fix.md). It logs on to the collector's acceptor with
the FIX 4.4 data dictionary's validation on, and appends every application message
it accepts to OUT as one JSON line: seq, possdup, exec_id, exec_type, exec_ref_id,
side, last_qty, last_px, symbol, account, order_id, transact_time, server_id.
A message the dictionary refuses never reaches fromApp: QuickFIX answers it with a
Reject (35=3), which is counted on stderr ("REJECT-SENT ...").

  initiator.py PORT SENDER TARGET WORK OUT [--password P] [--reset] [--tls CA_PEM]

--tls: FIX over TLS (QuickFIX's SSLSocketInitiator), the acceptor's certificate
verified against CA_PEM.

SIGTERM: Logout, then exit. SIGKILL: the peer vanishes (no Logout)."""
import json, os, signal, sys, threading, time
import quickfix as fix

port, sender, target, work, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
password = sys.argv[sys.argv.index("--password") + 1] if "--password" in sys.argv else None
reset = "--reset" in sys.argv
tls_ca = sys.argv[sys.argv.index("--tls") + 1] if "--tls" in sys.argv else None
venv = os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))
dictionary = os.path.join(sys.prefix, "share", "quickfix", "FIX44.xml")
if not os.path.exists(dictionary):
    sys.exit(f"no FIX44.xml at {dictionary}: run Tools/fix/install.sh")
os.makedirs(work, exist_ok=True)
config = os.path.join(work, "initiator.cfg")
tls_settings = "" if tls_ca is None else f"""SSLProtocol=+TLSv1.2 +TLSv1.3
CertificationAuthoritiesFile={tls_ca}
CertificateVerifyLevel=1
"""
with open(config, "w") as f:
    f.write(f"""[DEFAULT]
ConnectionType=initiator
ReconnectInterval=1
FileStorePath={work}/store
FileLogPath={work}/log
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=Y
DataDictionary={dictionary}
ValidateUserDefinedFields=N
HeartBtInt=2
SocketConnectHost=127.0.0.1
SocketConnectPort={port}
ResetOnLogon={"Y" if reset else "N"}
{tls_settings}
[SESSION]
BeginString=FIX.4.4
SenderCompID={sender}
TargetCompID={target}
""")

out_file = open(out, "a", buffering=1)
lock = threading.Lock()
FIELDS = {"exec_id": 17, "exec_type": 150, "exec_ref_id": 19, "side": 54, "last_qty": 32, "last_px": 31,
          "symbol": 55, "account": 1, "order_id": 37, "transact_time": 60, "server_id": 20001}


def field(message, tag, header=False):
    source = message.getHeader() if header else message
    return source.getField(tag) if source.isSetField(tag) else None


class BackOffice(fix.Application):
    def onCreate(self, session): pass

    def onLogon(self, session):
        print("LOGON", session.toString(), flush=True, file=sys.stderr)

    def onLogout(self, session):
        print("LOGOUT", session.toString(), flush=True, file=sys.stderr)

    def toAdmin(self, message, session):
        kind = field(message, 35, header=True)
        if kind == "A" and password is not None:
            message.setField(554, password)
        if kind == "3":
            print("REJECT-SENT", message.toString().replace("\x01", "|"), flush=True, file=sys.stderr)

    def fromAdmin(self, message, session):
        kind = field(message, 35, header=True)
        if kind in ("5", "3", "4"):
            print("ADMIN-IN", message.toString().replace("\x01", "|"), flush=True, file=sys.stderr)

    def toApp(self, message, session): pass

    def fromApp(self, message, session):
        record = {"msg_type": field(message, 35, header=True), "seq": int(field(message, 34, header=True)),
                  "possdup": field(message, 43, header=True) == "Y",
                  "orig_sending_time": field(message, 122, header=True), "t": time.time()}
        for name, tag in FIELDS.items():
            record[name] = field(message, tag)
        with lock:
            out_file.write(json.dumps(record) + "\n")


settings = fix.SessionSettings(config)
initiator = (fix.SSLSocketInitiator if tls_ca else fix.SocketInitiator)(BackOffice(), fix.FileStoreFactory(settings), settings, fix.FileLogFactory(settings))
stop = threading.Event()
# A parent may start us with signals blocked (a test runner's Process): unblock them.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
initiator.start()
print("STARTED", flush=True, file=sys.stderr)
while not stop.is_set():
    time.sleep(0.1)
initiator.stop()
out_file.close()
print("STOPPED", flush=True, file=sys.stderr)
