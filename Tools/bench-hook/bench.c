/*
 * bench.c: the cost of one hook, against the floor of the same copy into a
 * plain-C ring. Not a test: it prints figures, it asserts nothing.
 *
 * In one process: the plugin's on_deal_add (through the sink the plugin
 * subscribed, exactly as a host calls it) and a baseline that copies the same
 * ts_deal into a ring of 256-byte slots claimed by one atomic add. From 1 and 2
 * threads; each call timed with rdtsc (the timer's own cost, printed, is in both).
 *
 *   Tools/bench-hook/run.sh            (builds the plugin and this file, then runs it)
 *   bench PLUGIN.so [calls-per-thread] [journal-MB]
 *
 * Two phases in one run, each against the C ring of the same run:
 * - fresh: a new journal (journal-MB, default 1024) straight after a timed
 *   ts_plugin_startup, as after a trade server's start or a journal rotation. The
 *   first half of its slots is written once from 1 thread, the second half from 2:
 *   every call lands on a slot (and every 8th on a page) never written before.
 * - warm: the same journal again, 2 passes later, every slot written before.
 * Each row also prints the calling threads' minor page faults per 1,000 calls
 * (getrusage RUSAGE_THREAD: the plugin's own threads, prefault included, are not in it).
 *
 * The journal is bounded and nothing forwards it here, so the bench empties it
 * between batches (all threads paused at a barrier) by moving the journal's
 * released position to its tail in the mapped file, as the sender does after
 * an acknowledgement. Every measured call therefore takes the normal path (no
 * overflow).
 */
#define _GNU_SOURCE
#include "trade_server_api.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define TAIL_OFFSET 64       /* JournalLayout.tailOffset */
#define RELEASED_OFFSET 128  /* JournalLayout.releasedOffset */
#define BATCH 50000          /* calls per thread between two empties of the journal */
#define RING_SLOTS (1u << 17)

typedef ts_result (*startup_fn)(const ts_server_api *, ts_plugin **);
typedef void (*cleanup_fn)(ts_plugin *);

static ts_event_sink sink;
static char journal_dir[256], secret_path[256];
static unsigned char *journal_header;
static int journal_mb = 1024;

static void host_log(void *h, int32_t level, const char *m) { (void)h; if (level >= TS_LOG_WARN) fprintf(stderr, "plugin: %s\n", m); }
static int64_t host_time(void *h) { (void)h; return 0; }
static ts_result host_param(void *h, const char *name, char *value, uint32_t size) {
  (void)h;
  const char *v = NULL;
  static char mb[16];
  snprintf(mb, sizeof mb, "%d", journal_mb);
  if (!strcmp(name, "Collector")) v = "127.0.0.1:9";
  else if (!strcmp(name, "SecretFile")) v = secret_path;
  else if (!strcmp(name, "Journal.Path")) v = journal_dir;
  else if (!strcmp(name, "Journal.SizeMB")) v = mb;
  else if (!strcmp(name, "TLS")) v = "off";
  if (!v) return TS_ERR_NOT_FOUND;
  snprintf(value, size, "%s", v);
  return TS_OK;
}
static ts_result host_subscribe(void *h, const ts_event_sink *s) { (void)h; sink = *s; return TS_OK; }
static ts_result host_unsubscribe(void *h, const ts_event_sink *s) { (void)h; (void)s; return TS_OK; }

/* The baseline ring. */
static unsigned char (*ring)[256];
static uint64_t ring_head __attribute__((aligned(64)));

static inline void baseline_deal_add(const ts_deal *deal) {
  uint64_t slot = __atomic_fetch_add(&ring_head, 1, __ATOMIC_ACQ_REL) & (RING_SLOTS - 1);
  memcpy(ring[slot], deal, sizeof *deal);
}

static ts_deal deal;
static pthread_barrier_t barrier;
static int use_plugin, threads;
static long calls_per_thread;
static uint32_t *samples[2];
static long fresh_calls;  /* > 0: one pass of this many calls per thread, not emptied between batches */
static long worker_faults; /* minor faults taken on the calling threads (not the plugin's own threads) */
static long thread_minor_faults(void);

static void empty_journal(void) {
  uint64_t tail = __atomic_load_n((uint64_t *)(journal_header + TAIL_OFFSET), __ATOMIC_ACQUIRE);
  __atomic_store_n((uint64_t *)(journal_header + RELEASED_OFFSET), tail, __ATOMIC_RELEASE);
}

static void *worker(void *arg) {
  long t = (long)arg;
  uint32_t *out = samples[t];
  ts_deal local = deal;
  local.deal = (uint64_t)t << 40;
  long total = fresh_calls ? fresh_calls : calls_per_thread;
  long faults = thread_minor_faults();
  for (long done = 0; done < total; done += BATCH) {
    pthread_barrier_wait(&barrier);
    /* Fresh pass: the journal holds every slot it walks, so only the warm rows empty it. */
    if (t == 0 && !fresh_calls) empty_journal();
    pthread_barrier_wait(&barrier);
    long batch = total - done < BATCH ? total - done : BATCH;
    for (long i = 0; i < batch; i++) {
      local.deal++;
      unsigned aux;
      _mm_lfence();
      uint64_t start = __rdtsc();
      _mm_lfence();
      if (use_plugin) sink.on_deal_add(sink.context, &local);
      else baseline_deal_add(&local);
      uint64_t end = __rdtscp(&aux);
      _mm_lfence();
      out[done + i] = (uint32_t)(end - start);
    }
  }
  __atomic_fetch_add(&worker_faults, thread_minor_faults() - faults, __ATOMIC_RELAXED);
  return NULL;
}

static int compare(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static double ns_per_cycle;

typedef struct { double median, p99, p999, max, faults_per_1k; } percentiles;

static long minor_faults(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

static long thread_minor_faults(void) {
  struct rusage usage;
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

static percentiles run(int plugin, int nthreads) {
  use_plugin = plugin;
  threads = nthreads;
  pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
  pthread_t ids[2];
  long per_thread = fresh_calls ? fresh_calls : calls_per_thread;
  worker_faults = 0;
  for (long t = 0; t < nthreads; t++) pthread_create(&ids[t], NULL, worker, (void *)t);
  for (int t = 0; t < nthreads; t++) pthread_join(ids[t], NULL);
  long faults = worker_faults;
  pthread_barrier_destroy(&barrier);
  long n = per_thread * nthreads;
  uint32_t *all = malloc((size_t)n * sizeof *all);
  for (int t = 0; t < nthreads; t++) memcpy(all + t * per_thread, samples[t], (size_t)per_thread * sizeof *all);
  qsort(all, (size_t)n, sizeof *all, compare);
  percentiles p = {all[n / 2] * ns_per_cycle, all[(long)(n * 0.99)] * ns_per_cycle, all[(long)(n * 0.999)] * ns_per_cycle,
                   all[n - 1] * ns_per_cycle, faults * 1000.0 / (double)n};
  free(all);
  return p;
}

/* CPU seconds (utime + stime) of this process's thread named `name`, or -1. */
static double thread_cpu_seconds(const char *name) {
  char path[128], text[512];
  for (int tid = getpid(); tid < getpid() + 100000; tid++) {
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
    FILE *file = fopen(path, "r");
    if (!file) continue;
    int match = fgets(text, sizeof text, file) && !strncmp(text, name, strlen(name));
    fclose(file);
    if (!match) continue;
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
    file = fopen(path, "r");
    if (!file) return -1;
    unsigned long user = 0, system_time = 0;
    int got = fgets(text, sizeof text, file) != NULL;
    fclose(file);
    char *after = got ? strrchr(text, ')') : NULL;
    if (!after || sscanf(after + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &user, &system_time) != 2) return -1;
    return (double)(user + system_time) / (double)sysconf(_SC_CLK_TCK);
  }
  return -1;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Calls per second on one thread, untimed calls. */
static double throughput(int plugin) {
  ts_deal local = deal;
  double best = 0;
  for (int round = 0; round < 20; round++) {
    empty_journal();
    double start = now_ns();
    for (long i = 0; i < 100000; i++) {
      local.deal++;
      if (plugin) sink.on_deal_add(sink.context, &local);
      else baseline_deal_add(&local);
    }
    double rate = 100000 / ((now_ns() - start) * 1e-9);
    if (rate > best) best = rate;
  }
  return best;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: bench PLUGIN.so [calls-per-thread] [journal-MB]\n"); return 2; }
  calls_per_thread = argc > 2 ? atol(argv[2]) : 2000000;
  calls_per_thread = (calls_per_thread + BATCH - 1) / BATCH * BATCH;
  journal_mb = argc > 3 ? atoi(argv[3]) : 1024;
  long journal_slots = (long)journal_mb * 1048576 / 512;  /* JournalLayout.slotCount(sizeMB:) */

  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(journal_dir, sizeof journal_dir, "%s/tradetap-bench-%d", tmp, getpid());
  snprintf(secret_path, sizeof secret_path, "%s/tradetap-bench-%d.secret", tmp, getpid());
  int secret = open(secret_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (secret < 0 || write(secret, "bench-secret-0123456789", 23) != 23) { perror("secret"); return 2; }
  close(secret);

  void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!library) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
  startup_fn startup = (startup_fn)dlsym(library, "ts_plugin_startup");
  cleanup_fn cleanup = (cleanup_fn)dlsym(library, "ts_plugin_cleanup");
  ts_server_info info = {.struct_size = sizeof info, .server_id = 1, .platform = TS_PLATFORM_MT5};
  ts_server_api api = {.struct_size = sizeof api, .api_version = TS_API_VERSION, .info = &info, .log = host_log,
                       .time_msc = host_time, .param_get = host_param, .subscribe = host_subscribe,
                       .unsubscribe = host_unsubscribe};
  /* Calibrate the TSC against CLOCK_MONOTONIC (before startup: the fresh rows run right after it). */
  double t0 = now_ns(); uint64_t c0 = __rdtsc();
  usleep(200000);
  double t1 = now_ns(); uint64_t c1 = __rdtsc();
  ns_per_cycle = (t1 - t0) / (double)(c1 - c0);

  ring = aligned_alloc(4096, (size_t)RING_SLOTS * 256);
  memset(ring, 1, (size_t)RING_SLOTS * 256);  /* pre-touch: the floor */
  deal = (ts_deal){.struct_size = sizeof(ts_deal), .login = 1001, .order = 7, .position_id = 7, .action = TS_DEAL_BUY,
                   .entry = TS_ENTRY_IN, .digits = 5, .currency_digits = 2, .time_msc = 1700000000000, .price = 1.08123,
                   .volume_ext = 10000000, .contract_size = 100000, .profit = 12.34};
  memcpy(deal.symbol, "EURUSD", 7);
  long most = calls_per_thread > journal_slots / 2 ? calls_per_thread : journal_slots / 2;
  samples[0] = malloc((size_t)most * sizeof(uint32_t));
  samples[1] = malloc((size_t)most * sizeof(uint32_t));
  memset(samples[0], 1, (size_t)most * sizeof(uint32_t));  /* 1, not 0: malloc + memset 0 may become calloc, untouched */
  memset(samples[1], 1, (size_t)most * sizeof(uint32_t));

  ts_plugin *plugin = NULL;
  double startup_began = now_ns();
  long startup_faults = minor_faults();
  if (startup(&api, &plugin) != TS_OK) { fprintf(stderr, "startup failed\n"); return 1; }
  double startup_ms = (now_ns() - startup_began) / 1e6;
  startup_faults = minor_faults() - startup_faults;

  char journal_file[300];
  snprintf(journal_file, sizeof journal_file, "%s/journal.ttj", journal_dir);
  int fd = open(journal_file, O_RDWR);
  journal_header = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);


  /* The timer's own cost. */
  uint32_t *overhead = malloc(1000000 * sizeof *overhead);
  for (int i = 0; i < 1000000; i++) {
    unsigned aux;
    _mm_lfence(); uint64_t s = __rdtsc(); _mm_lfence();
    uint64_t e = __rdtscp(&aux); _mm_lfence();
    overhead[i] = (uint32_t)(e - s);
  }
  qsort(overhead, 1000000, sizeof *overhead, compare);


  printf("TSC %.3f GHz; timer overhead (included below) median %.1f ns\n", 1.0 / ns_per_cycle,
         overhead[500000] * ns_per_cycle);
  printf("ts_plugin_startup with a new %d MB journal: %.1f ms, %ld minor faults\n", journal_mb, startup_ms,
         startup_faults);
  printf("%-6s %-8s %-9s %9s %9s %9s %9s %7s %12s %10s\n", "phase", "threads", "variant", "calls", "median ns",
         "p99 ns", "p99.9 ns", "max us", "median ratio", "flt/1k");
  /* Fresh: first half of the new journal from 1 thread, second half from 2; the baseline of each row follows it. */
  for (int n = 1; n <= 2; n++) {
    fresh_calls = journal_slots / 2 / n;
    percentiles hook = run(1, n);
    percentiles base = run(0, n);
    fresh_calls = 0;
    printf("%-6s %-8d %-9s %9ld %9.1f %9.1f %9.1f %7.1f %12s %10.2f\n", "fresh", n, "baseline", journal_slots / 2 / n * n,
           base.median, base.p99, base.p999, base.max / 1e3, "1.00", base.faults_per_1k);
    char ratio[32];
    snprintf(ratio, sizeof ratio, "%.2f", hook.median / base.median);
    printf("%-6s %-8d %-9s %9ld %9.1f %9.1f %9.1f %7.1f %12s %10.2f\n", "fresh", n, "plugin", journal_slots / 2 / n * n,
           hook.median, hook.p99, hook.p999, hook.max / 1e3, ratio, hook.faults_per_1k);
  }
  run(1, 1); run(0, 1);  /* warm up both paths */
  for (int n = 1; n <= 2; n++) {
    percentiles base = run(0, n);
    percentiles hook = run(1, n);
    printf("%-6s %-8d %-9s %9ld %9.1f %9.1f %9.1f %7.1f %12s %10.2f\n", "warm", n, "baseline", calls_per_thread * n,
           base.median, base.p99, base.p999, base.max / 1e3, "1.00", base.faults_per_1k);
    char ratio[32];
    snprintf(ratio, sizeof ratio, "%.2f", hook.median / base.median);
    printf("%-6s %-8d %-9s %9ld %9.1f %9.1f %9.1f %7.1f %12s %10.2f\n", "warm", n, "plugin", calls_per_thread * n,
           hook.median, hook.p99, hook.p999, hook.max / 1e3, ratio, hook.faults_per_1k);
  }
  printf("one thread, untimed: plugin %.1f M calls/s, baseline %.1f M calls/s\n",
         throughput(1) / 1e6, throughput(0) / 1e6);

  /* The prefault thread's own cost while no hook fires (its 1 ms tick). */
  double idle_cpu = thread_cpu_seconds("tt-prefault");
  sleep(5);
  if (idle_cpu >= 0) printf("prefault thread, hooks idle: %.2f %% of a core\n", (thread_cpu_seconds("tt-prefault") - idle_cpu) / 5 * 100);

  cleanup(plugin);
  dlclose(library);
  char command[600];
  snprintf(command, sizeof command, "rm -rf '%s' '%s'", journal_dir, secret_path);
  if (system(command) != 0) fprintf(stderr, "could not remove %s\n", journal_dir);
  return 0;
}
