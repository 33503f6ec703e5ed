#!/usr/bin/env bash
# Stage breakdown of hook → decoded (issue 16, docs/benchmarks-pipeline.md "Stage
# breakdown"): a real collector (TLS 1.3 unless TLS=0) and the real plugin in the
# pipeline bench's paced C host, both started with TRADETAP_STAGE_TRACE, so the sender stamps each batch (its
# wait returning, first record read, frame encoded, TLS write returned) and the collector
# each batch's bytes (read before TLS, after TLS, decoded, histogram recorded), all on
# CLOCK_MONOTONIC. Batches are joined on their first sequence (the first event's hook
# stamp starts the batch) and each stage's
# p50/p90/p99 printed, with the sum of the stage medians beside the measured total.
#   Tools/bench-stages/run.sh [RATE=1000] [SECONDS=10] [SENDER_IDLE=backoff]
export TLS=${TLS:-1}
source "$(dirname "$0")/../faults/lib.sh"
rate=${1:-1000}; seconds=${2:-10}; idle=${3:-backoff}
export TRADETAP_STAGE_TRACE=$work/stages
port=$(free_port)
start_collector "$port"
# The pipeline bench's paced host (Tools/bench-pipeline/paced-host.c): one MT5 deal per
# hook at an exact rate from one thread, after 2 s of warm-up; its two waits for a line
# are answered at once.
cc -std=gnu11 -O2 -pthread -I"$root/CInterop/TradeServerAPI/include" "$root/Tools/bench-pipeline/paced-host.c" \
  -o "$work/paced-host" -ldl
printf '\n\n' | "$work/paced-host" "$plugin" --server-id "$server_id" --rate "$rate" --events $(( rate * seconds )) \
  --warmup-seconds 2 --log "$work/host.log" \
  --param "Collector=127.0.0.1:$port" --param "SecretFile=$work/secret" "${plugin_tls[@]}" \
  --param "Journal.Path=$work/journal" --param "Sender.Idle=$idle" > "$work/host.out"
sleep 1
stop_collector
python3 - "$work/stages.sender" "$work/stages.collector" "$rate" "$idle" "$TLS" <<'PY'
import sys
sender = {}
for line in open(sys.argv[1]):
    seq, n, hook, wake, read, encoded, written = map(int, line.split())
    sender[seq] = (n, hook, wake, read, encoded, written)
rows = []
for line in open(sys.argv[2]):
    seq, n, raw, decrypted, decoded, recorded = map(int, line.split())
    s = sender.get(seq)
    if not s or s[1] == 0:
        continue
    _, hook, wake, read, encoded, written = s
    # A batch sent without a wait before it (backlog) has no wake of its own.
    wake = max(wake, hook)
    rows.append((hook, wake, read, encoded, written, raw, decrypted, decoded, recorded))
rows = rows[len(rows) // 10:]  # the first tenth is connection warm-up
stages = [
    ("hook → sender awake (journal commit, the idle strategy's wait)", 0, 1),
    ("awake → first record read", 1, 2),
    ("read → frame encoded (normalise + encode)", 2, 3),
    ("encoded → collector read (TLS encrypt, write(2), loopback, the event loop's epoll wake)", 3, 5),
    ("read → decrypted (NIOSSL)", 5, 6),
    ("decrypted → decoded (frame + message decode, handler)", 6, 7),
    ("decoded → histogram recorded", 7, 8),
]
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]
singles = sum(1 for line in open(sys.argv[2]) if line.split()[1] == "1")
print("stage breakdown: %d batches at %s/s, Sender.Idle=%s, TLS=%s (µs)" % (len(rows), sys.argv[3], sys.argv[4], sys.argv[5]))
print("| stage | p50 | p90 | p99 |")
print("|---|---|---|---|")
median_sum = 0
for name, a, b in stages:
    d = [(r[b] - r[a]) / 1000 for r in rows]
    median_sum += pct(d, 0.5)
    print("| %s | %.1f | %.1f | %.1f |" % (name, pct(d, 0.5), pct(d, 0.9), pct(d, 0.99)))
total = [(r[7] - r[0]) / 1000 for r in rows]
print("| **hook → decoded, measured** | **%.1f** | %.1f | %.1f |" % (pct(total, 0.5), pct(total, 0.9), pct(total, 0.99)))
call = [(r[4] - r[3]) / 1000 for r in rows]
early = sum(1 for r in rows if r[5] < r[4]) * 100 / len(rows)
print("the sender's write call (encoded → written) p50 %.1f p90 %.1f µs; the collector's read began before it returned in %.0f%% of batches" % (pct(call, 0.5), pct(call, 0.9), early))
print("sum of the stage medians: %.1f µs" % median_sum)
PY
