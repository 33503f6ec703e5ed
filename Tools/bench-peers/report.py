"""Figures of one suite run (suite.py): normalising, ratios, the issue's targets, the table
and the SVG plot. Percentiles are in ns: {count, p50, p90, p99, p99_9, max}."""
import os, platform

PCTS = ["p50", "p90", "p99", "p99_9", "max"]
NAMES = {"floor": "loopback floor", "tradetap": "TradeTap", "tradetap_normal": "TradeTap, normal", "ring": "C ring copy",
         "naive": "naive send()",
         "zmq": "ZeroMQ PUSH/PULL", "nats": "NATS JetStream"}
COLOURS = {"floor": "#777777", "tradetap": "#d62728", "naive": "#1f77b4", "zmq": "#2ca02c", "nats": "#9467bd"}


def key(rate):
    return str(rate) if rate else "unpaced"


def label(k):
    return "unpaced" if k == "unpaced" else f"{int(k) // 1000}k/s" if int(k) >= 1000 else f"{k}/s"


def machine():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return {"nproc": os.cpu_count(), "cpu_model": model, "kernel": platform.release()}


def from_line(h):
    """A hist.h line (p50_ns=...) as percentiles."""
    if not h:
        return None
    return {"count": h.get("count", 0), "p50": h.get("p50_ns"), "p90": h.get("p90_ns"), "p99": h.get("p99_ns"),
            "p99_9": h.get("p999_ns"), "max": h.get("max_ns"), "mean": h.get("mean_ns")}


def from_buckets(d):
    """driver.py's delta_quantiles (keys "0.5"... "1.0": bucket upper edges) as percentiles."""
    if not d or not d.get("count"):
        return None
    g = lambda q: d.get(q) or d.get(float(q))
    return {"count": d["count"], "p50": g("0.5"), "p90": g("0.9"), "p99": g("0.99"), "p99_9": g("0.999"),
            "max": g("1.0")}


def floor_system(tt):
    phases = {}
    for rate, fl in tt["floor"].items():
        phases[key(int(rate))] = {"one_way": from_line(fl["floor_one_way"]), "rtt_half": from_line(fl["floor_rtt_half"]),
                                  "pacer_late": from_line(fl["floor_pacer_late"])}
    return {"status": "run", "config": "floor.c: futex wake-up + one write() of 256-byte messages, TCP_NODELAY, "
                                       "blocking read(); no TLS, no work", "phases": phases}


def idle_phase(tt, rate):
    """One paced driver run with a given Sender.Idle: hook → decoded, its own floor run, the
    sender thread's CPU per event, hook cost and ack at the plugin."""
    p, fl = tt["paced"][str(rate)], tt["floor"][str(rate)]  # results.json: keys are text
    n = p["events"]
    return {"events": n, "one_way": from_buckets(p["decoded"]), "floor_one_way": from_line(fl["floor_one_way"]),
            "hook_cost": from_line(p.get("hook_cost")), "acked": from_line(p.get("plugin_acked")),
            "sender_cpu_s": p["host_cpu"].get("tradetap-sender", 0),
            "sender_cpu_us_per_event": p["host_cpu"].get("tradetap-sender", 0) / n * 1e6}


def rate_between(samples, n, idx, lo=0.1, hi=0.9):
    base = samples[0][idx]
    def when(frac):
        target = base + frac * n
        for (t0, *v0), (t1, *v1) in zip(samples, samples[1:]):
            a, b = v0[idx - 1], v1[idx - 1]
            if b >= target:
                return t0 + (t1 - t0) * ((target - a) / (b - a) if b > a else 0)
        return samples[-1][0]
    t_lo, t_hi = when(lo), when(hi)
    return (hi - lo) * n / (t_hi - t_lo) if t_hi > t_lo else None


def tradetap_system(tt, durability="full"):
    phases = {}
    runs = [(key(int(r)), p) for r, p in tt["paced"].items()] + ([("unpaced", tt["unpaced"])] if tt["unpaced"] else [])
    for k, p in runs:
        n = p["events"]
        host_threads = sum(v for name, v in p["host_cpu"].items() if name != "paced-host")
        hook = from_line(p.get("hook_cost"))
        hook_s = (hook["mean"] or 0) * n / 1e9 if hook else 0
        ph = {"events": n, "hook_cost": hook, "timer_overhead": from_line(p.get("timer_overhead")),
              "pacer_late": from_line(p.get("pacer_late")), "one_way": from_buckets(p["decoded"]),
              "durable": from_buckets(p["durable"]), "acked": from_line(p.get("plugin_acked")),
              "acked_from_intended": from_line(p.get("plugin_acked_from_intended")), "rss": p.get("rss"),
              "cpu": {"plugin_threads_s": host_threads, "hook_s": hook_s,
                      "collector_s": sum(p["collector_cpu"].values()), "collector_threads": p["collector_cpu"]},
              "cpu_us_per_event": {"plugin": (host_threads + hook_s) / n * 1e6,
                                   "receiver": sum(p["collector_cpu"].values()) / n * 1e6}}
        if k == "unpaced" and p.get("samples"):
            ph["throughput_eps"] = rate_between(p["samples"], n, 1)
            ph["durable_throughput_eps"] = rate_between(p["samples"], n, 2)
        phases[k] = ph
    return {"status": "run", "config": "the real libTradeTapPlugin.so (journal 512 MB, TLS 1.3) -> tradetap collector "
                                       f"(SQLite, synchronous={durability.upper()}); hook -> decoded from the collector's histogram",
            "phases": phases}


def pct(system, k, what="one_way", p="p99"):
    ph = (system or {}).get("phases", {}).get(k) or {}
    v = ph.get(what)
    return v.get(p) if isinstance(v, dict) else None


def derive(results):
    s = results["systems"]
    floor, tt, ring, zmq, naive, nats = (s.get(n) for n in ("floor", "tradetap", "ring", "zmq", "naive", "nats"))
    ratios = {}
    for k in [key(r) for r in results["config"]["rates"]]:
        f99 = pct(floor, k)
        for name, system in s.items():
            v = pct(system, k)
            if f99 and v and name != "floor":
                ratios[f"{name}_p99_over_floor_p99@{k}"] = v / f99
    def r(a, b):
        return a / b if a and b else None
    for k in [key(x) for x in results["config"]["rates"]] + ["unpaced"]:
        for peer in ("naive", "zmq", "nats"):
            for p in ("p50", "p99"):
                v = r(pct(tt, k, "one_way", p), pct(s.get(peer), k, "one_way", p))
                if v:
                    ratios[f"tradetap_{p}_over_{peer}_{p}@{k}"] = v
            v = r(pct(tt, k, "hook_cost", "p50"), pct(s.get(peer), k, "hook_cost", "p50"))
            if v:
                ratios[f"tradetap_hook_p50_over_{peer}@{k}"] = v
    ratios["tradetap_hook_p50_over_ring@unpaced"] = r(pct(tt, "unpaced", "hook_cost", "p50"), pct(ring, "unpaced", "hook_cost", "p50"))
    ratios["tradetap_hook_p50_over_zmq@1000"] = r(pct(tt, "1000", "hook_cost", "p50"), pct(zmq, "1000", "hook_cost", "p50"))
    results["ratios"] = {k: round(v, 4) for k, v in ratios.items() if v}
    targets = []
    def target(text, value, ok, detail):
        if value is None:
            targets.append({"target": text, "status": "not measured", "detail": detail})
        else:
            targets.append({"target": text, "status": "met" if ok else "missed", "detail": detail})
    us = lambda ns: "?" if ns is None else f"{ns} ns" if ns < 1000 else f"{ns / 1000:.1f} µs"
    v = ratios.get("tradetap_hook_p50_over_ring@unpaced")
    target("hook cost unpaced ≤ 2× a C ring copy (p50)", v, v is not None and v <= 2,
           f"TradeTap {us(pct(tt, 'unpaced', 'hook_cost', 'p50'))} vs ring {us(pct(ring, 'unpaced', 'hook_cost', 'p50'))}"
           f" = {v:.2f}×" if v else "missing figures")
    v = ratios.get("tradetap_hook_p50_over_zmq@1000")
    target("hook cost paced at 1k/s ≤ 1/10 of ZeroMQ's (p50)", v, v is not None and v <= 0.1,
           f"TradeTap {us(pct(tt, '1000', 'hook_cost', 'p50'))} vs ZeroMQ {us(pct(zmq, '1000', 'hook_cost', 'p50'))}"
           f" = {v:.3f}×" if v else "missing figures (ZeroMQ not run or no 1k/s phase)")
    a, b = pct(tt, "1000", "one_way", "p50"), pct(naive, "1000", "one_way", "p50")
    target("hook → decoded p50 at 1k/s ≤ the naive blocking send's", a and b, a is not None and b is not None and a <= b,
           f"TradeTap {us(a)} vs naive {us(b)}")
    a = pct(tt, "10000", "one_way", "p99")
    others = {n: pct(s.get(n), "10000", "one_way", "p99") for n in ("naive", "zmq", "nats")}
    known = {n: v for n, v in others.items() if v}
    target("hook → decoded p99 at 10k/s below every peer's", a if known else None,
           a is not None and all(a < v for v in known.values()),
           f"TradeTap {us(a)} vs " + ", ".join(f"{NAMES[n]} {us(v)}" for n, v in others.items()))
    a = ((tt or {}).get("phases", {}).get("unpaced") or {}).get("throughput_eps")
    d = ((tt or {}).get("phases", {}).get("unpaced") or {}).get("durable_throughput_eps")
    b = ((zmq or {}).get("phases", {}).get("unpaced") or {}).get("throughput_eps")
    target("throughput at or above ZeroMQ's while every event is journaled", a and b, a is not None and b is not None and a >= b,
           f"TradeTap decoded {a or 0:,.0f}/s (durable in SQLite {d or 0:,.0f}/s) vs ZeroMQ {b or 0:,.0f}/s")
    for k in [key(r) for r in results["config"]["rates"]]:
        a, b = pct(tt, k, "acked"), pct(nats, k, "acked")
        target(f"durable-ack p99 below JetStream's acked publish round trip ({label(k)})", a and b,
               a is not None and b is not None and a < b, f"TradeTap hook → ack at the plugin {us(a)} vs JetStream {us(b)}")
    a, b = pct(s.get("tradetap_normal"), "1000", "acked"), pct(nats, "1000", "acked")
    target("with --durability normal, ack p99 at 1k/s below JetStream's acked publish p99 (both ack before fsync)",
           a and b, a is not None and b is not None and a < b,
           f"TradeTap (synchronous=NORMAL) hook → ack {us(a)} vs JetStream {us(b)}")
    # A durable ack against the disk's own floor (pwrite 4 KiB + fdatasync, same run).
    disk = results.get("disk_fsync") or {}
    a, b = pct(tt, "1000", "acked"), disk.get("p99")
    v = a / b if a and b else None
    if v:
        results["ratios"]["tradetap_acked_p99_over_fsync_p99@1000"] = round(v, 4)
    target("durable-ack p99 at 1k/s ≤ 1.5× the disk's fdatasync p99 (same run)", v, v is not None and v <= 1.5,
           f"TradeTap hook → ack at the plugin {us(a)} vs pwrite+fdatasync {us(b)}" + (f" = {v:.2f}×" if v else ""))
    results["targets"] = targets


def fmt_us(ns):
    if ns is None:
        return "-"
    v = ns / 1000
    return (f"{v / 1e6:.2f}s" if v >= 1e6 else f"{v:,.0f}" if v >= 100 else f"{v:.1f}" if v >= 1
            else f"{v:.3f}")


def table(results):
    s = results["systems"]
    m = results["machine"]
    lines = [f"tradetap bench {'--smoke ' if results['config']['smoke'] else ''}{results['started_utc']}: "
             f"{m['nproc']} × {m['cpu_model']}, kernel {m['kernel']}, load {' '.join(results['load_average_start'])} "
             f"at start, {' '.join(results.get('load_average_end', []))} at end; {results.get('wall_seconds')} s",
             "binaries: " + ", ".join(f"{f} built {b['built']} sha256 {(b['sha256'] or '?')[:12]}"
                                      for f, b in results.get("binaries", {}).items()),
             f"record {results['config']['record_bytes']} bytes (hook stamp + ts_deal); {results['config']['seconds']} s "
             f"per rate; µs; quantiles are histogram bucket upper edges (≤ 3.1 % high)", ""]
    disk = results.get("disk_fsync") or {}
    if disk.get("p99"):
        lines.append(f"disk floor: pwrite 4 KiB + fdatasync at {disk['rate']}/s: p50 {fmt_us(disk['p50'])}, "
                     f"p99 {fmt_us(disk['p99'])}, p99.9 {fmt_us(disk['p99.9'])} µs ({disk['samples']} samples)")
    for name, system in s.items():
        if system.get("status") != "run":
            lines.append(f"{NAMES.get(name, name)}: {system.get('status')}")
    keys = [key(r) for r in results["config"]["rates"]] + ["unpaced"]
    lines += ["", "hook → decoded (one-way, CLOCK_MONOTONIC), hook cost on the host thread, pacer lateness",
              f"{'rate':>8} {'system':<17} {'hook p50':>9} {'hook p99':>9} {'p50':>8} {'p90':>8} {'p99':>8} "
              f"{'p99.9':>8} {'max':>8} {'int.p99':>8} {'pacer99':>8} {'p99/floor':>9}"]
    for k in keys:
        f99 = pct(s.get("floor"), k)
        for name in ("floor", "tradetap", "tradetap_normal", "naive", "zmq", "nats", "ring"):
            ph = (s.get(name) or {}).get("phases", {}).get(k)
            if not ph or ph.get("status", "run") != "run":
                if ph:
                    lines.append(f"{label(k):>8} {NAMES[name]:<17} {ph['status']}")
                continue
            ow = ph.get("one_way") or {}
            hc = ph.get("hook_cost") or {}
            ratio = f"{ow['p99'] / f99:.2f}" if f99 and ow.get("p99") and name != "floor" else ""
            lines.append(f"{label(k):>8} {NAMES[name]:<17} {fmt_us(hc.get('p50')):>9} {fmt_us(hc.get('p99')):>9} "
                         + " ".join(f"{fmt_us(ow.get(p)):>8}" for p in PCTS)
                         + f" {fmt_us((ph.get('from_intended') or {}).get('p99')):>8}"
                         f" {fmt_us((ph.get('pacer_late') or {}).get('p99')):>8} {ratio:>9}")
    lines += ["", "acknowledged: TradeTap hook → durable (SQLite COMMIT) and → ack back at the plugin; JetStream hook → publish ack",
              f"{'rate':>8} {'what':<34} {'p50':>8} {'p90':>8} {'p99':>8} {'p99.9':>8} {'max':>8} {'int.p99':>8}"]
    for k in keys:
        for name, what, title in (("tradetap", "durable", "TradeTap hook → durable (commit)"),
                                  ("tradetap", "acked", "TradeTap hook → ack at the plugin"),
                                  ("nats", "acked", "JetStream hook → publish ack")):
            ph = (s.get(name) or {}).get("phases", {}).get(k) or {}
            h = ph.get(what)
            if h:
                intended = ph.get("acked_from_intended") if what == "acked" else None
                lines.append(f"{label(k):>8} {title:<34} " + " ".join(f"{fmt_us(h.get(p)):>8}" for p in PCTS)
                             + f" {fmt_us((intended or {}).get('p99')):>8}")
    lines += ["", "unpaced: sustained throughput, CPU per event (utime+stime), plugin memory (host RSS after − before dlopen)",
              f"{'system':<17} {'events/s':>11} {'durable/s':>10} {'plugin µs/ev':>12} {'recv µs/ev':>10} "
              f"{'RSS Δ kB':>9} {'anon Δ kB':>9}"]
    for name in ("tradetap", "naive", "zmq", "nats", "ring"):
        ph = (s.get(name) or {}).get("phases", {}).get("unpaced")
        if not ph or ph.get("status", "run") != "run":
            continue
        cpu = ph.get("cpu_us_per_event") or {}
        rss = ph.get("rss") or {}
        tp, dur = ph.get("throughput_eps"), ph.get("durable_throughput_eps")
        lines.append(f"{NAMES[name]:<17} {tp and f'{tp:,.0f}' or '-':>11} {dur and f'{dur:,.0f}' or '-':>10} "
                     f"{cpu.get('plugin') or 0:>12.2f} {cpu.get('receiver') if cpu.get('receiver') is not None else float('nan'):>10.2f} "
                     f"{rss.get('vm_rss_after_kb', 0) - rss.get('vm_rss_before_kb', 0):>9} "
                     f"{rss.get('anon_after_kb', 0) - rss.get('anon_before_kb', 0):>9}")
    rp = (s.get("tradetap") or {}).get("replay")
    if rp:
        if rp.get("status") == "run":
            lines += ["", f"TradeTap replay: {rp['events']:,} events journaled with the collector down "
                          f"(hook p50 {fmt_us(rp['hook_cost']['p50'])} µs), then a collector started: first event after "
                          f"{rp['first_received_after_s'] or 0:.1f} s (reconnect back-off), all committed after "
                          f"{rp['all_committed_after_s']:.1f} s; {rp['received_eps'] or 0:,.0f} received/s, "
                          f"{rp['committed_eps'] or 0:,.0f} committed/s (10-90 %); collector "
                          f"{rp['collector_cpu_us_per_event']:.2f} µs CPU per event"]
        else:
            lines += ["", f"TradeTap replay: {rp['status']}"]
    idle = (s.get("tradetap") or {}).get("sender_idle")
    if idle:
        naive = (s.get("naive") or {}).get("phases", {})
        lines += ["", "TradeTap per Sender.Idle (issue 16): hook → decoded against the loopback floor measured right "
                      "before that run and naive send() at that rate; sender = the tradetap-sender thread's CPU",
                  f"{'rate':>8} {'Sender.Idle':<12} {'p50':>7} {'p99':>8} {'fl.p50':>7} {'fl.p99':>8} {'p50/fl':>6} "
                  f"{'p99/fl':>6} {'p50/nv':>6} {'p99/nv':>6} {'snd µs/ev':>9} {'/naive':>6} {'hook p50':>8}"]
        for k in [key(r) for r in results["config"]["rates"]]:
            nv = naive.get(k) or {}
            nv50, nv99 = pct(s.get("naive"), k, p="p50"), pct(s.get("naive"), k)
            nvcpu = (nv.get("cpu_us_per_event") or {}).get("plugin")
            for name, phases in idle.items():
                ph = phases.get(k)
                if not ph or not ph.get("one_way"):
                    continue
                ow, fo = ph["one_way"], ph["floor_one_way"] or {}
                r = lambda a, b: f"{a / b:.2f}" if a and b else "-"
                lines.append(f"{label(k):>8} {name:<12} {fmt_us(ow['p50']):>7} {fmt_us(ow['p99']):>8} "
                             f"{fmt_us(fo.get('p50')):>7} {fmt_us(fo.get('p99')):>8} {r(ow['p50'], fo.get('p50')):>6} "
                             f"{r(ow['p99'], fo.get('p99')):>6} {r(ow['p50'], nv50):>6} {r(ow['p99'], nv99):>6} "
                             f"{ph['sender_cpu_us_per_event']:>9.1f} {r(ph['sender_cpu_us_per_event'], nvcpu):>6} "
                             f"{fmt_us((ph.get('hook_cost') or {}).get('p50')):>8}")
    lines += ["", "targets (issue 7; ratios from this run):"]
    for t in results.get("targets", []):
        lines.append(f"  [{t['status']}] {t['target']}: {t['detail']}")
    return "\n".join(lines) + "\n"


def svg(results):
    """Latency percentile curves per system, one panel per rate: hook → decoded (solid),
    acknowledged (dashed: TradeTap ack at the plugin, JetStream publish ack)."""
    s = results["systems"]
    keys = [key(r) for r in results["config"]["rates"]] + ["unpaced"]
    W, H, pad = 330, 300, 56
    width = W * len(keys) + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{H + 90}" font-family="sans-serif" font-size="11">',
           f'<rect width="100%" height="100%" fill="white"/>',
           f'<text x="10" y="16" font-size="13">tradetap bench {results["started_utc"]}: latency by percentile '
           f'(µs, log scale); solid = hook → decoded, dashed = acknowledged</text>']
    import math
    series = []
    for k in keys:
        for name in ("floor", "tradetap", "naive", "zmq", "nats"):
            ph = (s.get(name) or {}).get("phases", {}).get(k) or {}
            for what, dash in (("one_way", ""), ("acked", "5,3")):
                h = ph.get(what)
                if h and all(h.get(p) for p in PCTS):
                    series.append((k, name, dash, [h[p] / 1000 for p in PCTS]))
    values = [v for *_, vs in series for v in vs] or [1, 10]
    lo, hi = math.floor(math.log10(max(min(values), 0.1))), math.ceil(math.log10(max(values)))
    hi = max(hi, lo + 1)
    for i, k in enumerate(keys):
        x0, y0 = 10 + i * W + pad, 40
        pw, ph = W - pad - 10, H - 40
        out.append(f'<text x="{x0 + pw / 2}" y="{y0 - 6}" text-anchor="middle" font-size="12">{label(k)}</text>')
        out.append(f'<rect x="{x0}" y="{y0}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>')
        for e in range(lo, hi + 1):
            y = y0 + ph - (e - lo) / (hi - lo) * ph
            out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="#eee"/>')
            tick = f"{10 ** e:g} µs" if e < 3 else f"{10 ** (e - 3):g} ms" if e < 6 else f"{10 ** (e - 6):g} s"
            out.append(f'<text x="{x0 - 4}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
        for j, p in enumerate(["50", "90", "99", "99.9", "max"]):
            x = x0 + j / 4 * pw
            out.append(f'<text x="{x:.1f}" y="{y0 + ph + 14}" text-anchor="middle">{p}</text>')
        for kk, name, dash, vs in series:
            if kk != k:
                continue
            pts = " ".join(f"{x0 + j / 4 * pw:.1f},{y0 + ph - (math.log10(max(v, 0.1)) - lo) / (hi - lo) * ph:.1f}"
                           for j, v in enumerate(vs))
            out.append(f'<polyline points="{pts}" fill="none" stroke="{COLOURS[name]}" stroke-width="2"'
                       + (f' stroke-dasharray="{dash}"' if dash else "") + "/>")
    for j, name in enumerate(("floor", "tradetap", "naive", "zmq", "nats")):
        x = 10 + pad + j * 160
        status = (s.get(name) or {}).get("status", "not run")
        out.append(f'<line x1="{x}" y1="{H + 60}" x2="{x + 20}" y2="{H + 60}" stroke="{COLOURS[name]}" stroke-width="3"/>')
        out.append(f'<text x="{x + 25}" y="{H + 64}">{NAMES[name]}{"" if status == "run" else " (not run)"}</text>')
    out.append(f'<text x="{10 + pad}" y="{H + 84}">x: percentile; pacer lateness, CPU and throughput in results.json</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
