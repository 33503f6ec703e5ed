#!/usr/bin/env python3
"""Pipeline benchmark driver (called by run.sh, which builds everything first).

Starts one real `tradetap collector` (TLS 1.3, generated cert and secret, ports 0),
measures the loopback floor (floor.c) at each rate, then runs paced-host.c with the
real plugin .so at each rate and once unpaced, scraping /metrics before and after
each measured phase: per-run figures are deltas of the collector's cumulative
`tradetap_hook_latency_seconds_bucket` histogram, so runs never see each other.
"""
import json, math, os, re, subprocess, sys, time, urllib.request

bin_dir, work, floor_bin, host_bin = sys.argv[1:5]
rates = [int(r) for r in os.environ.get("BENCH_RATES", "1000,10000,100000").split(",") if r]
seconds = float(os.environ.get("BENCH_SECONDS", "10"))
unpaced_events = int(os.environ.get("BENCH_UNPACED_EVENTS", "300000"))
sender_idle = os.environ.get("BENCH_SENDER_IDLE", "")  # the plugin's Sender.Idle; empty: its default
durability = os.environ.get("BENCH_DURABILITY", "full")  # the collector's SQLite --durability (issue 16)
QS = [0.5, 0.9, 0.99, 0.999, 1.0]  # 1.0: the highest non-empty bucket (max)
last_metrics_text = ""

def log(msg):
    print(msg, file=sys.stderr, flush=True)

# ---- collector ---------------------------------------------------------------
token = open(f"{work}/token").read().strip()
collector_log = open(f"{work}/collector.log", "w")
collector = subprocess.Popen(
    [f"{bin_dir}/tradetap", "collector", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
     "--secrets", f"{work}/secrets", "--api-token-file", f"{work}/token",
     "--tls-cert", f"{work}/cert.pem", "--tls-key", f"{work}/key.pem",
     "--database", f"sqlite:{work}/ledger.sqlite", "--durability", durability],
    stdout=subprocess.PIPE, stderr=collector_log, text=True)
line = collector.stdout.readline()
m = re.search(r"protocol=(\S+) http=(\S+)", line)
if not m:
    sys.exit(f"collector did not start: {line!r} (see {work}/collector.log)")
protocol, http = m.group(1), m.group(2)
log(f"collector pid {collector.pid} protocol={protocol} http={http}")

def scrape():
    req = urllib.request.Request(f"http://{http}/metrics", headers={"Authorization": f"Bearer {token}"})
    text = urllib.request.urlopen(req, timeout=5).read().decode()
    global last_metrics_text
    last_metrics_text = text
    counters, buckets = {}, {"decoded": {}, "durable": {}}
    for l in text.splitlines():
        if l.startswith("#") or not l.strip():
            continue
        name, value = l.rsplit(" ", 1)
        b = re.match(r'tradetap_hook_latency_seconds_bucket\{stage="(\w+)",le="([^"]+)"\}', name)
        if b:
            if b.group(2) != "+Inf":
                buckets[b.group(1)][round(float(b.group(2)) * 1e9)] = int(value)
        else:
            counters[name] = float(value)
    return counters, buckets

def per_bucket(cumulative):
    out, prev = {}, 0
    for le in sorted(cumulative):
        out[le] = cumulative[le] - prev
        prev = cumulative[le]
    return out

def delta_quantiles(before, after):
    b, a = per_bucket(before), per_bucket(after)
    d = {le: a[le] - b.get(le, 0) for le in a if a[le] - b.get(le, 0) > 0}
    n = sum(d.values())
    res = {"count": n}
    for q in QS:
        rank, seen = max(1, math.ceil(q * n)), 0
        for le in sorted(d):
            seen += d[le]
            if seen >= rank:
                res[q] = le
                break
    return res

def thread_cpu(pid):
    """CPU ticks per thread name (utime + stime) of a process."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat").read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        key = "event-loops" if comm.startswith("NIO-") else comm
        out[key] = out.get(key, 0) + int(fields[11]) + int(fields[12])
    return out

def cpu_delta(a, b):
    return {k: b.get(k, 0) - a.get(k, 0) for k in b if b.get(k, 0) - a.get(k, 0) > 0}

def parse_hist(line):
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}

TICK = os.sysconf("SC_CLK_TCK")
load_at_start = open("/proc/loadavg").read().split()[0]
results = {"floor": {}, "paced": {}, "unpaced": None}

def run_floor(rate):
    n = int(min(rate * seconds, 300000))
    w = min(2000, n // 5)
    out = subprocess.run([floor_bin, "--rate", str(rate), "--events", str(n + w), "--warmup", str(w)],
                         capture_output=True, text=True, check=True).stdout
    fl = {l.split()[0]: parse_hist(l) for l in out.splitlines() if l.startswith("floor_")}
    log(f"floor {rate}/s: one-way p50 {fl['floor_one_way']['p50_ns']} p99 {fl['floor_one_way']['p99_ns']} ns")
    return fl

# ---- pipeline ----------------------------------------------------------------
expected_committed = 0

def wait_committed(target, timeout=120, samples=None):
    deadline = time.time() + timeout
    while True:
        c, _ = scrape()
        if samples is not None:
            samples.append((time.monotonic(), c.get("tradetap_events_received_total", 0),
                            c.get("tradetap_events_committed_total", 0)))
        if c.get("tradetap_events_committed_total", 0) >= target:
            return c
        if time.time() > deadline:
            sys.exit(f"timeout: committed {c.get('tradetap_events_committed_total')} of {target}")
        time.sleep(0.02 if samples is not None else 0.05)

def run_host(rate, events):
    global expected_committed
    params = [f"Collector={protocol}", f"SecretFile={work}/plugin-secret", "TLS=on",
              f"TLS.CAFile={work}/cert.pem", f"Journal.Path={work}/journal", "Journal.SizeMB=512",
              "Heartbeat.Seconds=5"] + ([f"Sender.Idle={sender_idle}"] if sender_idle else [])
    cmd = [host_bin, f"{bin_dir}/libTradeTapPlugin.so", "--server-id", "1", "--rate", str(rate),
           "--events", str(events), "--warmup-seconds", "2", "--log", f"{work}/host.log",
           "--journal-file", f"{work}/journal/journal.ttj"]
    for p in params:
        cmd += ["--param", p]
    host = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    def expect(prefix):
        l = host.stdout.readline()
        if not l.startswith(prefix):
            sys.exit(f"host: expected {prefix}, got {l!r} (see {work}/host.log)")
        return l
    expect("startup=0")
    warm = int(re.search(r"warmup_events=(\d+)", expect("ready")).group(1))
    expected_committed += warm
    wait_committed(expected_committed)
    time.sleep(0.3)  # the last warm-up acks reach the plugin
    c0, b0 = scrape()
    h0, k0, t0 = thread_cpu(host.pid), thread_cpu(collector.pid), time.monotonic()
    host.stdin.write("go\n"); host.stdin.flush()
    samples = [] if rate == 0 else None
    if samples is not None:
        samples.append((time.monotonic(), c0.get("tradetap_events_received_total", 0),
                        c0.get("tradetap_events_committed_total", 0)))
    fired = expect("fired=")
    late = parse_hist(expect("pacer_late")) if rate > 0 else None
    hook_cost = parse_hist(expect("hook_cost"))
    timer = parse_hist(expect("timer_overhead"))
    rss = parse_hist(expect("rss "))
    expected_committed += events
    c1 = wait_committed(expected_committed, samples=samples)
    time.sleep(0.1)
    c1, b1 = scrape()
    h1, k1, t1 = thread_cpu(host.pid), thread_cpu(collector.pid), time.monotonic()
    host.stdin.write("stop\n"); host.stdin.flush()
    acked = parse_hist(expect("plugin_acked "))
    acked_intended = parse_hist(expect("plugin_acked_from_intended"))
    expect("cleanup=done")
    host.wait()
    r = {
        "events": events, "fired": fired.strip(), "pacer_late": late,
        "hook_cost": hook_cost, "timer_overhead": timer, "rss": rss,
        "plugin_acked": acked, "plugin_acked_from_intended": acked_intended,
        "decoded": delta_quantiles(b0["decoded"], b1["decoded"]),
        "durable": delta_quantiles(b0["durable"], b1["durable"]),
        "commits": c1.get("tradetap_ledger_commits_total", 0) - c0.get("tradetap_ledger_commits_total", 0),
        "acks": c1.get("tradetap_acks_sent_total", 0) - c0.get("tradetap_acks_sent_total", 0),
        "wall": t1 - t0,
        "host_cpu": {k: v / TICK for k, v in cpu_delta(h0, h1).items()},
        "collector_cpu": {k: v / TICK for k, v in cpu_delta(k0, k1).items()},
    }
    if samples is not None:
        r["samples"] = samples
    return r

# Each rate: the floor right before the pipeline, so both see the same machine load.
for rate in rates:
    results["floor"][rate] = run_floor(rate)
    log(f"pipeline at {rate}/s ...")
    results["paced"][rate] = run_host(rate, int(rate * seconds))
if unpaced_events > 0:  # BENCH_UNPACED_EVENTS=0: paced rates only (tradetap bench runs rates one by one)
    log(f"pipeline unpaced, {unpaced_events} events ...")
    results["unpaced"] = run_host(0, unpaced_events)

open(f"{work}/metrics-final.txt", "w").write(last_metrics_text)
collector.terminate()
collector.wait(timeout=30)
# The journal is 512 MB of preallocated slots: nothing in it is needed after the run.
subprocess.run(["rm", "-rf", f"{work}/journal"], check=False)

# ---- report ------------------------------------------------------------------
def us(ns):
    return "-" if ns is None else f"{ns / 1000:.1f}"

print()
print(f"machine: {os.cpu_count()} cores, load average {load_at_start} at the start, {open('/proc/loadavg').read().split()[0]} at the end, "
      f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
print("latency, µs (quantiles are histogram bucket upper edges, ≤ 3.1 % high); ratio = p99 / floor one-way p99 at that rate")
print(f"{'rate/s':>8} {'what':<28} {'count':>8} {'p50':>9} {'p90':>9} {'p99':>9} {'p99.9':>9} {'p99 ratio':>9}")
for rate in rates:
    fl = results["floor"][rate]
    fo = fl["floor_one_way"]
    def row(what, n, p50, p90, p99, p999, ratio=""):
        print(f"{rate:>8} {what:<28} {n:>8} {us(p50):>9} {us(p90):>9} {us(p99):>9} {us(p999):>9} {ratio:>9}")
    def hrow(what, h, ratio=""):
        row(what, h["count"], h["p50_ns"], h["p90_ns"], h["p99_ns"], h["p999_ns"], ratio)
    hrow("floor one-way", fo, "1.00")
    fr = fl["floor_rtt_half"]
    hrow("floor RTT/2", fr, f"{fr['p99_ns'] / fo['p99_ns']:.2f}")
    hrow("floor pacer lateness", fl["floor_pacer_late"])
    p = results["paced"][rate]
    for stage in ("decoded", "durable"):
        d = p[stage]
        row(f"hook → {stage}", d["count"], d.get(0.5), d.get(0.9), d.get(0.99), d.get(0.999),
            f"{d[0.99] / fo['p99_ns']:.2f}" if d.get(0.99) else "")
    hrow("hook → ack at the plugin", p["plugin_acked"], f"{p['plugin_acked']['p99_ns'] / fo['p99_ns']:.2f}")
    hrow("intended → ack at plugin", p["plugin_acked_from_intended"])
    hrow("host pacer lateness", p["pacer_late"])
print()
print("transactions and acks per measured phase; CPU seconds by thread during it")
for rate in rates:
    p = results["paced"][rate]
    print(f"{rate:>8}/s: {p['events']} events, {int(p['commits'])} commits, {int(p['acks'])} acks, "
          f"{p['wall']:.1f} s; host {p['host_cpu']}; collector {p['collector_cpu']}")

if results["unpaced"] is None:
    json.dump(results, open(f"{work}/results.json", "w"), default=str, indent=1)
    print(f"\nraw: {work}/results.json")
    sys.exit(0)
u = results["unpaced"]
s = u["samples"]
def rate_between(idx, lo_frac, hi_frac):
    base = s[0][idx]
    n = u["events"]
    def when(frac):
        target = base + frac * n
        for (t0, *v0), (t1, *v1) in zip(s, s[1:]):
            a, b = v0[idx - 1], v1[idx - 1]
            if b >= target:
                return t0 + (t1 - t0) * ((target - a) / (b - a) if b > a else 0)
        return s[-1][0]
    t_lo, t_hi = when(lo_frac), when(hi_frac)
    return (hi_frac - lo_frac) * n / (t_hi - t_lo) if t_hi > t_lo else float("nan")
dec = rate_between(1, 0.1, 0.9)
dur = rate_between(2, 0.1, 0.9)
print()
print(f"unpaced: {u['events']} events fired ({u['fired']}), delivered in {u['wall']:.2f} s")
print(f"  decoded (received) between 10 % and 90 %: {dec:,.0f} events/s   (target ≥ 500,000)")
print(f"  durable (committed) between 10 % and 90 %: {dur:,.0f} events/s   (target ≥ 100,000)")
print(f"  {int(u['commits'])} transactions, {int(u['acks'])} acks; CPU s: host {u['host_cpu']}; collector {u['collector_cpu']}")
elt = u["collector_cpu"].get("event-loops", 0)
snd = u["host_cpu"].get("tradetap-sender", 0)
wr = sum(v for k, v in u["collector_cpu"].items() if k != "event-loops")
if elt:
    print(f"  collector event loops (TLS + decode + dedupe): {u['events'] / elt:,.0f} events per CPU-second")
if snd:
    print(f"  plugin sender thread (journal → normalise → encode → TLS): {u['events'] / snd:,.0f} events per CPU-second")
if wr:
    print(f"  collector threads other than the event loops (ledger writer: SQLite): {u['events'] / wr:,.0f} events per CPU-second")
d = u["decoded"]
print(f"  hook → decoded under saturation: p50 {us(d.get(0.5))} p99 {us(d.get(0.99))} µs")
json.dump(results, open(f"{work}/results.json", "w"), default=str, indent=1)
print(f"\nraw: {work}/results.json")
