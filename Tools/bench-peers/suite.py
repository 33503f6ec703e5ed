#!/usr/bin/env python3
"""The whole latency and throughput suite in one run (issue 7), called by `tradetap bench`.

    suite.py --bin BIN --tools TOOLS --out OUT [--smoke] [--rates 1000,10000,100000]
             [--seconds N] [--unpaced-events N] [--replay-events N] [--sender-idle LIST]

BIN holds `tradetap` and libTradeTapPlugin.so; TOOLS is the repository's Tools/. Compiles
the C parts with cc into OUT/build (a peer whose library is missing is "not run"), then:
  for each rate, then unpaced, in turn:
  1. TradeTap and the loopback floor: Tools/bench-pipeline/driver.py as is (a real
     collector, TLS 1.3, SQLite; the floor, then the plugin), one run per rate;
  2. the C ring copy (peer-ring.c) in the same paced host: the hook-cost floor;
  3. each peer plugin (naive blocking send, ZeroMQ PUSH, NATS JetStream) in the same
     paced host, same deals, same rate, against its receiver (recv-*.c);
  then TradeTap's replay of a backlog journaled while the collector was down.
--sender-idle busy-spin,yield,backoff,park: at each paced rate, step 1 once per value of
the plugin's Sender.Idle (each with its own floor run right before it); the first value is
the TradeTap of every other table, the unpaced phase and the replay.
Writes OUT/results.json, OUT/latency.svg and OUT/table.txt and prints the table.
BENCH_NATS_SERVER: the nats-server to run (default: nats-server on PATH).
Large files (journals, ledgers, the JetStream store) go to a temporary folder removed
at the end. Nothing here fails on a number: targets are reported as met / missed.
"""
import argparse, json, os, re, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the repository's Tools/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (table, targets, SVG)

TICK = os.sysconf("SC_CLK_TCK")
PEERS = {
    # name: (plugin source, receiver source, libraries, Debian package, what it needs at run time)
    "naive": ("peer-naive.c", "recv-tcp.c", [], None, None),
    "zmq": ("peer-zmq.c", "recv-zmq.c", ["-lzmq"], "libzmq3-dev", None),
    "nats": ("peer-nats.c", "recv-nats.c", ["-lnats"], "libnats-dev", "nats-server"),
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def parse_hist(line):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_ticks(pid, exclude_main=False):
    """utime + stime ticks of a process (/proc/PID/task/*/stat), optionally without its main thread."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tids:
        if exclude_main and tid == str(pid):
            continue
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
    return total


class Lines:
    """A child's stdout read line by line with a deadline (readline alone would block forever)."""

    def __init__(self, proc, name):
        self.proc, self.name, self.buffer = proc, name, b""

    def expect(self, prefix, timeout=60):
        deadline = time.time() + timeout
        while True:
            while b"\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\n", 1)
                text = line.decode(errors="replace")
                if text.startswith(prefix):
                    return text
            left = deadline - time.time()
            if left <= 0:
                raise RuntimeError(f"{self.name}: no '{prefix}' within {timeout} s")
            import select
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 1))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    raise RuntimeError(f"{self.name}: exited before '{prefix}' (rc {self.proc.wait()})")
                self.buffer += chunk


def say(proc, text="go"):
    proc.stdin.write(text.encode() + b"\n")
    proc.stdin.flush()


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--bin", required=True)
    a.add_argument("--tools", required=True)
    a.add_argument("--out", required=True)
    a.add_argument("--smoke", action="store_true")
    a.add_argument("--rates")
    a.add_argument("--seconds", type=float)
    a.add_argument("--unpaced-events", type=int)
    a.add_argument("--replay-events", type=int)
    a.add_argument("--sender-idle")
    o = a.parse_args()
    smoke = o.smoke
    rates = [int(r) for r in (o.rates or "1000,10000,100000").split(",") if r]
    seconds = o.seconds or (1.0 if smoke else 10.0)
    unpaced = o.unpaced_events or (50000 if smoke else 300000)
    replay_n = o.replay_events or (50000 if smoke else 5000000)
    idles = [i.strip() for i in (o.sender_idle or "").split(",") if i.strip()] or [None]
    warmup = 0.5 if smoke else 2.0
    out = os.path.abspath(o.out)
    build = os.path.join(out, "build")
    os.makedirs(build, exist_ok=True)
    logs = os.path.join(out, "logs")
    os.makedirs(logs, exist_ok=True)
    work = tempfile.mkdtemp(prefix="tradetap-bench.", dir=os.environ.get("TMPDIR") or "/tmp")
    tools = os.path.abspath(o.tools)
    pipeline, peers_dir = os.path.join(tools, "bench-pipeline"), os.path.join(tools, "bench-peers")
    include = os.path.join(os.path.dirname(tools), "CInterop", "TradeServerAPI", "include")
    started = time.time()
    load_start = open("/proc/loadavg").read().split()[:3]
    results = {
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": report.machine(), "load_average_start": load_start,
        "config": {"smoke": smoke, "rates": rates, "seconds": seconds, "unpaced_events": unpaced,
                   "replay_events": replay_n, "warmup_seconds": warmup, "record_bytes": None,
                   "sender_idle": idles},
        "systems": {},
    }
    cleanup = []
    try:
        # ---- build ---------------------------------------------------------------
        cc = ["cc", "-std=gnu11", "-O2", "-Wall", "-pthread", f"-I{include}"]
        def compile_(args, what):
            r = subprocess.run(cc + args, capture_output=True, text=True)
            if r.returncode != 0:
                open(os.path.join(logs, f"cc-{what}.log"), "w").write(r.stderr)
            return r.returncode == 0, r.stderr
        for what, args in [("floor", [f"{pipeline}/floor.c", "-o", f"{build}/floor"]),
                           ("paced-host", [f"{pipeline}/paced-host.c", "-o", f"{build}/paced-host", "-ldl"]),
                           ("peer-ring", ["-shared", "-fPIC", "-fvisibility=hidden", f"{peers_dir}/peer-ring.c",
                                          "-o", f"{build}/peer-ring.so"])]:
            ok, err = compile_(args, what)
            if not ok:
                sys.exit(f"bench: cannot compile {what}:\n{err}")
        available = {}
        for name, (plugin, receiver, libs, package, server) in PEERS.items():
            reason = None
            if server and not shutil.which(os.environ.get("BENCH_NATS_SERVER", server)):
                reason = f"not run: {server} not installed"
            if reason is None:
                ok1, err1 = compile_(["-shared", "-fPIC", "-fvisibility=hidden", f"{peers_dir}/{plugin}",
                                      "-o", f"{build}/peer-{name}.so"] + libs, f"peer-{name}")
                ok2, err2 = compile_([f"{peers_dir}/{receiver}", "-o", f"{build}/recv-{name}"] + libs, f"recv-{name}")
                if not (ok1 and ok2):
                    missing = "No such file" in (err1 + err2) or "cannot find -l" in (err1 + err2)
                    reason = (f"not run: {package} not installed" if package and missing
                              else f"not run: compile failed (see logs/cc-*-{name}.log)")
            available[name] = reason
            if reason:
                log(f"{name}: {reason}")
        rec = subprocess.run(cc + ["-x", "c", "-", "-o", f"{build}/record-size"], input=(
            '#include "%s/record.h"\nint main(void){printf("%%zu\\n", sizeof(peer_record));return 0;}\n' % peers_dir),
            capture_output=True, text=True)
        if rec.returncode == 0:
            results["config"]["record_bytes"] = int(subprocess.run([f"{build}/record-size"], capture_output=True,
                                                                   text=True).stdout)
        host_bin = f"{build}/paced-host"
        # The collector and the plugin are copied first: a shared build folder may be rebuilt
        # while the suite runs, and every phase must measure the same binaries.
        frozen = os.path.join(build, "bin")
        os.makedirs(frozen, exist_ok=True)
        results["binaries"] = {}
        for f in ("tradetap", "libTradeTapPlugin.so"):
            shutil.copy2(os.path.join(o.bin, f), os.path.join(frozen, f))
            digest = subprocess.run(["sha256sum", os.path.join(frozen, f)], capture_output=True, text=True).stdout.split()
            results["binaries"][f] = {"built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.path.getmtime(
                os.path.join(o.bin, f)))), "sha256": digest[0] if digest else None}
        o.bin = frozen

        # ---- TradeTap + floor: driver.py as is ---------------------------------------
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", f"{work}/key.pem", "-out", f"{work}/cert.pem", "-days", "2", "-subj",
                        "/CN=collector.test", "-addext", "subjectAltName=DNS:collector.test,IP:127.0.0.1"],
                       check=True, capture_output=True)
        secret = os.urandom(32).hex()
        old = os.umask(0o077)
        open(f"{work}/secrets", "w").write(f"1 {secret}\n2 {secret}\n")
        open(f"{work}/plugin-secret", "w").write(secret + "\n")
        open(f"{work}/token", "w").write(os.urandom(32).hex() + "\n")
        os.umask(old)
        # One rate at a time, every system in turn (floor, TradeTap, ring, peers), so that
        # the machine's load drifts as little as possible between the systems compared.
        def run_driver(rate, idle=None, durability="full"):
            """TradeTap and the floor at one rate (0: TradeTap unpaced) through driver.py as is,
            with a fresh collector and ledger in a folder of its own; `idle`: Sender.Idle;
            `durability`: the collector's SQLite --durability."""
            tag = report.key(rate) + (f"-{idle}" if idle else "") + ("" if durability == "full" else f"-{durability}")
            sub = os.path.join(work, f"tradetap-{tag}")
            os.makedirs(sub)
            for f in ("cert.pem", "key.pem", "secrets", "plugin-secret", "token"):
                shutil.copy(f"{work}/{f}", f"{sub}/{f}")
            env = dict(os.environ, BENCH_RATES=str(rate) if rate else "", BENCH_SECONDS=str(seconds),
                       BENCH_UNPACED_EVENTS="0" if rate else str(unpaced), BENCH_SENDER_IDLE=idle or "",
                       BENCH_DURABILITY=durability)
            with open(os.path.join(logs, f"driver-{tag}.txt"), "w") as driver_out:
                r = subprocess.run([sys.executable, f"{pipeline}/driver.py", o.bin, sub, f"{build}/floor", host_bin],
                                   env=env, stdout=driver_out)
            for f in ("collector.log", "host.log", "metrics-final.txt"):
                if os.path.exists(f"{sub}/{f}"):
                    shutil.copy(f"{sub}/{f}", os.path.join(logs, f"tradetap-{tag}-{f}"))
            tt = json.load(open(f"{sub}/results.json")) if r.returncode == 0 else None
            shutil.rmtree(sub, ignore_errors=True)
            if tt is None:
                log(f"bench: TradeTap at {tag}: driver.py exited {r.returncode} (logs/driver-{tag}.txt)")
            return tt

        nats_url = None
        if available.get("nats") is None:
            port = free_port()
            store = os.path.join(work, "jetstream")
            os.makedirs(store)
            server = subprocess.Popen([shutil.which(os.environ.get("BENCH_NATS_SERVER", "nats-server")), "-js",
                                       "-a", "127.0.0.1", "-p", str(port), "-sd", store],
                                      stdout=open(os.path.join(logs, "nats-server.log"), "w"), stderr=subprocess.STDOUT)
            cleanup.append(server)
            nats_url = f"nats://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            results["nats_server_pid"] = server.pid
        configs = {
            "naive": "send() per event on the host thread under a mutex, TCP_NODELAY; receiver: blocking read()",
            "zmq": "PUSH/PULL over tcp 127.0.0.1, libzmq defaults (TCP_NODELAY, 1 I/O thread), ZMQ_IMMEDIATE=1, "
                   "SNDHWM/RCVHWM 1,000,000; zmq_send under a mutex; receiver: blocking zmq_recv",
            "nats": "js_PublishAsync, natsOptions_SetSendAsap(true), no echo, MaxPending 262,144; stream file storage "
                    "(nats-server -js, default sync); consumer: ephemeral push, DeliverNew, AckNone, NextMsg",
        }
        ring = {"status": "run", "config": "copy into a 512-byte-slot ring in memory (one atomic add), nothing sent",
                "phases": {}}
        ring_rates = ([1000] if 1000 in rates else rates[:1]) + [0]
        merged = {"floor": {}, "paced": {}, "unpaced": None}
        tt_failures = []
        by_idle = {}  # Sender.Idle -> rate key -> its driver run's figures (issue 16)
        for name in PEERS:
            results["systems"][name] = ({"status": available[name]} if available[name] else
                                        {"status": "run", "config": configs[name], "phases": {}})
        for rate in rates + [0]:
            k = report.key(rate)
            n = int(rate * seconds) if rate else unpaced
            log(f"bench: {k}: TradeTap and the floor (driver.py){f', Sender.Idle={idles[0]}' if idles[0] else ''}")
            tt = run_driver(rate, idles[0])
            if rate and len(idles) > 1:
                if tt is not None:
                    by_idle.setdefault(idles[0], {})[k] = report.idle_phase(tt, rate)
                for idle in idles[1:]:
                    log(f"bench: {k}: TradeTap and the floor, Sender.Idle={idle}")
                    other = run_driver(rate, idle)
                    if other is not None:
                        by_idle.setdefault(idle, {})[k] = report.idle_phase(other, rate)
            if tt is None:
                tt_failures.append(k)
            else:
                merged["floor"].update(tt["floor"])
                merged["paced"].update(tt["paced"])
                if tt.get("unpaced"):
                    merged["unpaced"] = tt["unpaced"]
            if rate in ring_rates:
                ring["phases"][k] = run_peer_phase(host_bin, f"{build}/peer-ring.so", rate, n, warmup,
                                                   params=["Peer.Endpoint=memory"], receiver=None)
            for name in PEERS:
                if available[name]:
                    continue
                endpoint = {"naive": "127.0.0.1:0", "zmq": f"tcp://127.0.0.1:{free_port()}", "nats": nats_url}[name]
                params = ["Peer.SkipAcks=%d" % int((rate or 1000) * warmup)]
                log(f"bench: {k}: {name}")
                try:
                    results["systems"][name]["phases"][k] = run_peer_phase(
                        host_bin, f"{build}/peer-{name}.so", rate, n, warmup, params=params,
                        receiver=(f"{build}/recv-{name}", endpoint),
                        extra_pid=results.get("nats_server_pid") if name == "nats" else None,
                        log_path=os.path.join(logs, f"{name}-host.log"))
                except RuntimeError as e:
                    results["systems"][name]["phases"][k] = {"status": f"failed: {e}"}
                    log(f"bench: {name} at {k} failed: {e}")
        results["systems"]["ring"] = ring
        # Like for like with JetStream, which acks before its fsync: TradeTap with the
        # ledger's --durability normal (a commit survives a process crash, not a power
        # loss), at 1k/s (issue 16).
        if 1000 in rates:
            log("bench: 1k/s: TradeTap with --durability normal (no fsync per commit)")
            normal = run_driver(1000, idles[0], durability="normal")
            results["systems"]["tradetap_normal"] = (
                report.tradetap_system({"paced": normal["paced"], "unpaced": None}, durability="normal")
                if normal is not None else {"status": "failed: driver.py (logs/driver-1k-normal.txt)"})
        if merged["paced"] or merged["unpaced"]:
            results["systems"]["floor"] = report.floor_system(merged)
            results["systems"]["tradetap"] = report.tradetap_system(merged)
            if tt_failures:
                results["systems"]["tradetap"]["failed_phases"] = tt_failures
            if by_idle:
                results["systems"]["tradetap"]["sender_idle"] = by_idle
        else:
            results["systems"]["tradetap"] = {"status": "failed: driver.py (logs/driver-*.txt)"}

        # ---- The disk's own floor for a durable ack (issue 16) ---------------------------
        # pwrite 4 KiB + fdatasync at 1k/s on the disk the ledgers used: no durable ack
        # (TradeTap's after its SQLite commit, anyone's) can beat it on this machine.
        try:
            results["disk_fsync"] = measure_fsync_floor(work, 1000, seconds)
            log(f"bench: disk floor, pwrite 4 KiB + fdatasync at 1k/s: p50 {results['disk_fsync']['p50'] / 1000:.0f} µs, "
                f"p99 {results['disk_fsync']['p99'] / 1000:.0f} µs")
        except OSError as e:
            results["disk_fsync"] = {"status": f"failed: {e}"}

        # ---- TradeTap replay of a backlog -------------------------------------------------
        if "tradetap" in results["systems"] and results["systems"]["tradetap"].get("status") == "run":
            log(f"bench: TradeTap replay of {replay_n} events journaled while the collector was down")
            try:
                results["systems"]["tradetap"]["replay"] = run_replay(o.bin, host_bin, work, replay_n, logs)
            except RuntimeError as e:
                results["systems"]["tradetap"]["replay"] = {"status": f"failed: {e}"}
                log(f"bench: replay failed: {e}")
    finally:
        for p in cleanup:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)

    results["load_average_end"] = open("/proc/loadavg").read().split()[:3]
    results["wall_seconds"] = round(time.time() - started, 1)
    report.derive(results)
    json.dump(results, open(os.path.join(out, "results.json"), "w"), indent=1)
    open(os.path.join(out, "latency.svg"), "w").write(report.svg(results))
    table = report.table(results)
    open(os.path.join(out, "table.txt"), "w").write(table)
    print(table)
    print(f"results: {out}/results.json  plot: {out}/latency.svg  logs: {out}/logs")


def measure_fsync_floor(folder, rate, seconds):
    """p50/p99/p99.9/max (ns) of pwrite 4 KiB + fdatasync, paced at `rate` per second for `seconds`."""
    path = os.path.join(folder, "fsync-floor")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    block = os.urandom(4096)
    samples = []
    try:
        interval = 1e9 / rate
        start = time.monotonic_ns()
        n = int(rate * seconds)
        for i in range(n):
            due = start + int(i * interval)
            while time.monotonic_ns() < due:
                pass
            t0 = time.monotonic_ns()
            os.pwrite(fd, block, (i % 256) * 4096)
            os.fdatasync(fd)
            samples.append(time.monotonic_ns() - t0)
    finally:
        os.close(fd)
        os.unlink(path)
    samples.sort()
    at = lambda q: samples[min(len(samples) - 1, int(q * len(samples)))]
    return {"rate": rate, "samples": len(samples), "p50": at(0.5), "p99": at(0.99), "p99.9": at(0.999), "max": samples[-1]}


def run_peer_phase(host_bin, plugin, rate, n, warmup, params, receiver, extra_pid=None, log_path=None):
    """One measured phase of a plugin in the paced host, with its receiver (if any)."""
    warm = int((rate or 1000) * warmup)
    recv = None
    if receiver:
        recv_bin, endpoint = receiver
        recv = subprocess.Popen([recv_bin, "--endpoint", endpoint, "--skip", str(warm), "--count", str(n),
                                 "--idle-seconds", "20"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        rl = Lines(recv, os.path.basename(recv_bin))
        if endpoint.endswith(":0"):
            endpoint = endpoint[:-1] + rl.expect("port=", 10).split("=")[1]
        rl.expect("ready", 30)
        params = params + [f"Peer.Endpoint={endpoint}"]
    cmd = [host_bin, plugin, "--rate", str(rate), "--events", str(n), "--warmup-seconds", str(warmup)]
    if log_path:
        cmd += ["--log", log_path]
    for p in params:
        cmd += ["--param", p]
    host = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    hl = Lines(host, "paced-host")
    try:
        hl.expect("startup=0", 30)
        hl.expect("ready", 120)
        if recv:
            rl.expect("warm", 60)
        time.sleep(0.2)
        h0, r0 = proc_ticks(host.pid, exclude_main=True), proc_ticks(recv.pid) if recv else 0
        x0 = proc_ticks(extra_pid) if extra_pid else 0
        say(host)
        fired = hl.expect("fired=", 600)
        res = {"status": "run", "events": n, "rate": rate,
               "fired_seconds": float(re.search(r"seconds=([\d.]+)", fired).group(1))}
        if rate:
            res["pacer_late"] = parse_hist(hl.expect("pacer_late", 30))
        res["hook_cost"] = parse_hist(hl.expect("hook_cost", 30))
        res["timer_overhead"] = parse_hist(hl.expect("timer_overhead", 30))
        res["rss"] = parse_hist(hl.expect("rss ", 30))
        if recv:
            done = rl.expect("done", 600)
            res["received"] = int(re.search(r"received=(\d+)", done).group(1))
            first, last = (int(x) for x in re.findall(r"_ns=(\d+)", done))
            res["one_way"] = parse_hist(rl.expect("one_way", 10))
            res["from_intended"] = parse_hist(rl.expect("from_intended", 10))
            if last > first:
                res["throughput_eps"] = (res["received"] - 1) / ((last - first) / 1e9)
        h1, r1 = proc_ticks(host.pid, exclude_main=True), proc_ticks(recv.pid) if recv else 0
        x1 = proc_ticks(extra_pid) if extra_pid else 0
        say(host, "stop")
        while True:
            line = hl.expect("", 120)
            if line.startswith("peer_acked_from_intended"):
                res["acked_from_intended"] = parse_hist(line)
            elif line.startswith("peer_acked "):
                res["acked"] = parse_hist(line)
            elif line.startswith("peer_stats"):
                res["peer_stats"] = parse_hist(line)
            elif line.startswith("cleanup=done"):
                break
        host.wait(timeout=30)
        # CPU per event: the plugin's own threads + its time on the host thread (mean hook
        # cost); the receiving side (receiver, and nats-server for JetStream).
        plugin_s = (h1 - h0) / TICK + res["hook_cost"]["mean_ns"] * n / 1e9
        res["cpu"] = {"plugin_threads_s": (h1 - h0) / TICK, "hook_s": res["hook_cost"]["mean_ns"] * n / 1e9,
                      "receiver_s": (r1 - r0) / TICK, "server_s": (x1 - x0) / TICK}
        res["cpu_us_per_event"] = {"plugin": plugin_s / n * 1e6,
                                   "receiver": ((r1 - r0) + (x1 - x0)) / TICK / n * 1e6 if recv else None}
        for what in ("pacer_late", "hook_cost", "timer_overhead", "one_way", "from_intended", "acked",
                     "acked_from_intended"):
            if what in res:
                res[what] = report.from_line(res[what])
        return res
    finally:
        for p in (host, recv):
            if p and p.poll() is None:
                try:
                    say(p, "exit")
                    p.wait(timeout=10)
                except Exception:
                    p.kill()
                    p.wait()


def run_replay(bin_dir, host_bin, work, n, logs):
    """TradeTap: n events journaled while no collector listens, then a collector starts and
    the plugin replays the backlog; events/s received and committed between 10 % and 90 %."""
    port = free_port()
    jdir = os.path.join(work, "replay-journal")
    size_mb = n * 512 // 1048576 + 64
    params = [f"Collector=127.0.0.1:{port}", f"SecretFile={work}/plugin-secret", "TLS=on",
              f"TLS.CAFile={work}/cert.pem", f"Journal.Path={jdir}", f"Journal.SizeMB={size_mb}",
              "Heartbeat.Seconds=5"]
    cmd = [host_bin, f"{bin_dir}/libTradeTapPlugin.so", "--server-id", "2", "--rate", "0", "--events", str(n),
           "--warmup-seconds", "0", "--log", os.path.join(logs, "replay-host.log")]
    for p in params:
        cmd += ["--param", p]
    host = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    hl = Lines(host, "paced-host (replay)")
    collector = None
    try:
        hl.expect("startup=0", 60)
        hl.expect("ready", 60)
        say(host)
        hl.expect("fired=", 900)
        hook = report.from_line(parse_hist(hl.expect("hook_cost", 30)))
        hl.expect("timer_overhead", 30)
        rss = parse_hist(hl.expect("rss ", 30))
        token = open(f"{work}/token").read().strip()
        collector = subprocess.Popen(
            [f"{bin_dir}/tradetap", "collector", "--listen", f"127.0.0.1:{port}", "--http", "127.0.0.1:0",
             "--secrets", f"{work}/secrets", "--api-token-file", f"{work}/token", "--tls-cert", f"{work}/cert.pem",
             "--tls-key", f"{work}/key.pem", "--database", f"sqlite:{work}/replay-ledger.sqlite"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(logs, "replay-collector.log"), "w"))
        t_start = time.monotonic()
        cl = Lines(collector, "collector (replay)")
        http = re.search(r"http=(\S+)", cl.expect("", 60)).group(1)
        samples = []
        deadline = time.time() + max(120, n / 20000)
        c0 = proc_ticks(collector.pid)
        while True:
            req = urllib.request.Request(f"http://{http}/metrics", headers={"Authorization": f"Bearer {token}"})
            text = urllib.request.urlopen(req, timeout=5).read().decode()
            got = {}
            for line in text.splitlines():
                m = re.match(r"tradetap_events_(received|committed)_total(\{\})?\s+(\S+)", line)
                if m:
                    got[m.group(1)] = float(m.group(3))
            samples.append((time.monotonic() - t_start, got.get("received", 0), got.get("committed", 0)))
            if got.get("committed", 0) >= n:
                break
            if time.time() > deadline:
                raise RuntimeError(f"replay: {got} of {n} after {time.monotonic() - t_start:.0f} s")
            time.sleep(0.1)
        c1 = proc_ticks(collector.pid)
        say(host, "stop")
        hl.expect("cleanup=done", 120)
        def at(idx, frac):
            for (t0, *v0), (t1, *v1) in zip(samples, samples[1:]):
                if v1[idx] >= frac * n:
                    a, b = v0[idx], v1[idx]
                    return t0 + (t1 - t0) * ((frac * n - a) / (b - a) if b > a else 0)
            return samples[-1][0]
        first = next((t for t, r, _ in samples if r > 0), None)
        return {"status": "run", "events": n, "journal_mb": size_mb, "hook_cost": hook, "rss": rss,
                "first_received_after_s": first, "all_committed_after_s": samples[-1][0],
                "received_eps": 0.8 * n / (at(0, 0.9) - at(0, 0.1)) if at(0, 0.9) > at(0, 0.1) else None,
                "committed_eps": 0.8 * n / (at(1, 0.9) - at(1, 0.1)) if at(1, 0.9) > at(1, 0.1) else None,
                "collector_cpu_us_per_event": (c1 - c0) / TICK / n * 1e6}
    finally:
        for p in (host, collector):
            if p and p.poll() is None:
                if p is host:
                    try:
                        say(p, "stop")
                    except Exception:
                        pass
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


if __name__ == "__main__":
    main()
