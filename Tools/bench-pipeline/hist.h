/* hist.h: the collector's log-linear latency histogram (DeliveryLatency.swift) in C,
 * single-threaded: exact below 32 ns, then 32 buckets per power of two (<= 3.1 % wide).
 * Quantiles are bucket upper edges, as the collector reports them. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

#define HIST_SUB_BITS 5
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_MAX ((1ull << 42) - 1)
#define HIST_BUCKETS ((42 - HIST_SUB_BITS + 1) * HIST_SUB)

typedef struct { uint64_t counts[HIST_BUCKETS]; uint64_t n; uint64_t max; uint64_t sum; } hist;

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int hist_index(uint64_t v) {
  if (v > HIST_MAX) v = HIST_MAX;
  if (v < HIST_SUB) return (int)v;
  int e = 63 - __builtin_clzll(v);
  int shift = e - HIST_SUB_BITS;
  return (e - HIST_SUB_BITS + 1) * HIST_SUB + (int)((v >> shift) & (HIST_SUB - 1));
}

static inline uint64_t hist_upper(int i) {
  if (i < HIST_SUB) return (uint64_t)i;
  int e = i / HIST_SUB + HIST_SUB_BITS - 1;
  uint64_t sub = (uint64_t)(i % HIST_SUB);
  return ((HIST_SUB + sub + 1) << (e - HIST_SUB_BITS)) - 1;
}

static inline void hist_add(hist *h, uint64_t v) {
  h->counts[hist_index(v)]++;
  h->n++;
  h->sum += v;
  if (v > h->max) h->max = v;
}

static inline uint64_t hist_quantile(const hist *h, double q) {
  if (h->n == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999999);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) return hist_upper(i);
  }
  return h->max;
}

/* One line: "<label> count=N p50_ns=.. p90_ns=.. p99_ns=.. p999_ns=.. max_ns=.. mean_ns=.." */
static inline void hist_print(FILE *f, const char *label, const hist *h, uint64_t divide) {
  if (divide == 0) divide = 1;
  fprintf(f, "%s count=%llu p50_ns=%llu p90_ns=%llu p99_ns=%llu p999_ns=%llu max_ns=%llu mean_ns=%llu\n", label,
          (unsigned long long)h->n, (unsigned long long)(hist_quantile(h, 0.5) / divide),
          (unsigned long long)(hist_quantile(h, 0.9) / divide), (unsigned long long)(hist_quantile(h, 0.99) / divide),
          (unsigned long long)(hist_quantile(h, 0.999) / divide), (unsigned long long)(h->max / divide),
          (unsigned long long)(h->n ? h->sum / h->n / divide : 0));
}

/* Waits until the monotonic clock reaches deadline: sleeps (absolute, 1 ns timer slack
 * set by the caller) until 40 us before it, then spins. Returns the lateness in ns.
 * 40 us: clock_nanosleep here wakes 21 us late at p50, 42 us at p99 (2 shared vCPUs);
 * a longer spin would take CPU from the pipeline being measured. */
static inline uint64_t pace_until(uint64_t deadline) {
  uint64_t t = now_ns();
  if (deadline > t + 50000) {
    uint64_t wake = deadline - 40000;
    struct timespec ts = {.tv_sec = (time_t)(wake / 1000000000ull), .tv_nsec = (long)(wake % 1000000000ull)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
  }
  while ((t = now_ns()) < deadline) cpu_relax();
  return t - deadline;
}
#endif
