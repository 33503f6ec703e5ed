/*
 * gateway.c: the cost of each gateway hook (issue 11), against the floor of the
 * same copy into a plain-C ring. Not a test: it prints figures, it asserts nothing.
 *
 * In one process: the plugin loaded through ts_gateway_startup, its four
 * ts_gateway_sink members called exactly as a gateway host calls them, and per
 * member a baseline that copies the same record (ts_request 288 B, ts_confirm
 * 144 B, ts_execution 384 B, the ack's two arguments 16 B) into a ring of 512-byte
 * slots claimed by one atomic add. From 1 and 2 threads; each call timed with
 * lfence; rdtsc ... rdtscp (the timer's own cost, printed, is in both). A warm
 * journal, emptied between batches as bench.c does (the sender's release after an ack).
 *
 *   Tools/bench-hook/run.sh --gateway   (builds the plugin and this file, then runs it)
 *   gateway-bench PLUGIN.so [calls-per-thread] [journal-MB]
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
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#define TAIL_OFFSET 64       /* JournalLayout.tailOffset */
#define RELEASED_OFFSET 128  /* JournalLayout.releasedOffset */
#define BATCH 50000
#define RING_SLOTS (1u << 17)

typedef ts_result (*startup_fn)(const ts_gateway_api *, ts_plugin **);
typedef void (*cleanup_fn)(ts_plugin *);

static ts_gateway_sink sink;
static char journal_dir[256], secret_path[256], journal_mb_text[16];
static unsigned char *journal_header;

static void host_log(void *h, int32_t level, const char *m) { (void)h; if (level >= TS_LOG_WARN) fprintf(stderr, "plugin: %s\n", m); }
static int64_t host_time(void *h) { (void)h; return 0; }
static ts_result host_param(void *h, const char *name, char *value, uint32_t size) {
  (void)h;
  const char *v = NULL;
  if (!strcmp(name, "Collector")) v = "127.0.0.1:9";
  else if (!strcmp(name, "SecretFile")) v = secret_path;
  else if (!strcmp(name, "Journal.Path")) v = journal_dir;
  else if (!strcmp(name, "Journal.SizeMB")) v = journal_mb_text;
  else if (!strcmp(name, "TLS")) v = "off";
  if (!v) return TS_ERR_NOT_FOUND;
  snprintf(value, size, "%s", v);
  return TS_OK;
}
static ts_result host_subscribe(void *h, const ts_gateway_sink *s) { (void)h; sink = *s; return TS_OK; }
static ts_result host_unsubscribe(void *h, const ts_gateway_sink *s) { (void)h; (void)s; return TS_OK; }
static ts_result host_executions(void *h, uint64_t after, ts_execution_visitor v, void *c) { (void)h; (void)after; (void)v; (void)c; return TS_OK; }

static unsigned char (*ring)[512];
static uint64_t ring_head __attribute__((aligned(64)));

static inline unsigned char *ring_claim(void) {
  return ring[__atomic_fetch_add(&ring_head, 1, __ATOMIC_ACQ_REL) & (RING_SLOTS - 1)];
}

enum member { LOCK, ANSWER, EXECUTION, ACK };
static const char *member_names[] = {"on_dealer_lock", "on_dealer_answer", "on_execution", "on_execution_ack"};

static ts_request request;
static ts_confirm confirm;
static ts_execution execution;
static pthread_barrier_t barrier;
static int use_plugin;
static enum member measured;
static long calls_per_thread;
static uint32_t *samples[2];
static double ns_per_cycle;

static void empty_journal(void) {
  uint64_t tail = __atomic_load_n((uint64_t *)(journal_header + TAIL_OFFSET), __ATOMIC_ACQUIRE);
  __atomic_store_n((uint64_t *)(journal_header + RELEASED_OFFSET), tail, __ATOMIC_RELEASE);
}

static inline void call(ts_request *r, ts_confirm *c, ts_execution *e, uint64_t id) {
  switch (measured) {
  case LOCK:
    r->request_id = id;
    if (use_plugin) sink.on_dealer_lock(sink.context, r); else memcpy(ring_claim(), r, sizeof *r);
    break;
  case ANSWER:
    c->request_id = id;
    if (use_plugin) sink.on_dealer_answer(sink.context, c); else memcpy(ring_claim(), c, sizeof *c);
    break;
  case EXECUTION:
    e->execution_id = id;
    if (use_plugin) sink.on_execution(sink.context, e); else memcpy(ring_claim(), e, sizeof *e);
    break;
  case ACK:
    if (use_plugin) sink.on_execution_ack(sink.context, 1, id);
    else { unsigned char *slot = ring_claim(); uint64_t server = 1; memcpy(slot, &server, 8); memcpy(slot + 8, &id, 8); }
    break;
  }
}

static void *worker(void *arg) {
  long t = (long)arg;
  uint32_t *out = samples[t];
  ts_request r = request; ts_confirm c = confirm; ts_execution e = execution;
  uint64_t id = (uint64_t)t << 40;
  for (long done = 0; done < calls_per_thread; done += BATCH) {
    pthread_barrier_wait(&barrier);
    if (t == 0) empty_journal();
    pthread_barrier_wait(&barrier);
    for (long i = 0; i < BATCH; i++) {
      unsigned aux;
      _mm_lfence();
      uint64_t start = __rdtsc();
      _mm_lfence();
      call(&r, &c, &e, ++id);
      uint64_t end = __rdtscp(&aux);
      _mm_lfence();
      out[done + i] = (uint32_t)(end - start);
    }
  }
  return NULL;
}

static int compare(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

typedef struct { double median, p99, p999; } percentiles;

static percentiles run(int plugin, enum member m, int nthreads) {
  use_plugin = plugin;
  measured = m;
  pthread_barrier_init(&barrier, NULL, (unsigned)nthreads);
  pthread_t ids[2];
  for (long t = 0; t < nthreads; t++) pthread_create(&ids[t], NULL, worker, (void *)t);
  for (int t = 0; t < nthreads; t++) pthread_join(ids[t], NULL);
  pthread_barrier_destroy(&barrier);
  long n = calls_per_thread * nthreads;
  uint32_t *all = malloc((size_t)n * sizeof *all);
  for (int t = 0; t < nthreads; t++) memcpy(all + t * calls_per_thread, samples[t], (size_t)calls_per_thread * sizeof *all);
  qsort(all, (size_t)n, sizeof *all, compare);
  percentiles p = {all[n / 2] * ns_per_cycle, all[(long)(n * 0.99)] * ns_per_cycle, all[(long)(n * 0.999)] * ns_per_cycle};
  free(all);
  return p;
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: gateway-bench PLUGIN.so [calls-per-thread] [journal-MB]\n"); return 2; }
  calls_per_thread = argc > 2 ? atol(argv[2]) : 1000000;
  calls_per_thread = (calls_per_thread + BATCH - 1) / BATCH * BATCH;
  snprintf(journal_mb_text, sizeof journal_mb_text, "%d", argc > 3 ? atoi(argv[3]) : 256);

  const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  snprintf(journal_dir, sizeof journal_dir, "%s/tradetap-gateway-bench-%d", tmp, getpid());
  snprintf(secret_path, sizeof secret_path, "%s/tradetap-gateway-bench-%d.secret", tmp, getpid());
  int secret = open(secret_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (secret < 0 || write(secret, "bench-secret-0123456789", 23) != 23) { perror("secret"); return 2; }
  close(secret);

  void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!library) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 2; }
  startup_fn startup = (startup_fn)dlsym(library, "ts_gateway_startup");
  cleanup_fn cleanup = (cleanup_fn)dlsym(library, "ts_gateway_cleanup");
  if (!startup || !cleanup) { fprintf(stderr, "no ts_gateway_* exports\n"); return 2; }
  ts_gateway_info info = {.struct_size = sizeof info, .gateway_id = 501};
  ts_gateway_api api = {.struct_size = sizeof api, .api_version = TS_API_VERSION, .info = &info, .log = host_log,
                        .time_msc = host_time, .param_get = host_param, .subscribe = host_subscribe,
                        .unsubscribe = host_unsubscribe, .executions_enum = host_executions};
  double t0 = now_ns(); uint64_t c0 = __rdtsc();
  usleep(200000);
  double t1 = now_ns(); uint64_t c1 = __rdtsc();
  ns_per_cycle = (t1 - t0) / (double)(c1 - c0);

  ring = aligned_alloc(4096, (size_t)RING_SLOTS * 512);
  memset(ring, 1, (size_t)RING_SLOTS * 512);  /* pre-touch: the floor */
  request = (ts_request){.struct_size = sizeof(ts_request), .server_id = 1, .login = 2001, .digits = 5,
                         .action = TS_TA_MARKET, .volume_ext = 100000000, .order = 7, .price_order = 1.0813,
                         .price_bid = 1.0812, .price_ask = 1.0813, .time_msc = 1700000000000};
  memcpy(request.group, "real\\a-book", 12); memcpy(request.symbol, "EURUSD", 7);
  confirm = (ts_confirm){.struct_size = sizeof(ts_confirm), .server_id = 1, .retcode = TS_RET_REQUEST_PLACED,
                         .order = 7, .volume_ext = 100000000, .price = 1.0813, .time_msc = 1700000000000};
  execution = (ts_execution){.struct_size = sizeof(ts_execution), .server_id = 1, .action = TS_TE_ORDER_FILL,
                             .login = 2001, .digits = 5, .order = 7, .order_volume_ext = 100000000,
                             .order_price = 1.0813, .deal_volume_ext = 100000000, .deal_price = 1.08132,
                             .price_gateway = 1.0813, .deal_commission = -0.7, .time_msc = 1700000000000};
  memcpy(execution.group, "real\\a-book", 12); memcpy(execution.symbol, "EURUSD", 7);
  memcpy(execution.deal_external_id, "LP-D-7-0", 9);
  samples[0] = malloc((size_t)calls_per_thread * sizeof(uint32_t));
  samples[1] = malloc((size_t)calls_per_thread * sizeof(uint32_t));
  memset(samples[0], 1, (size_t)calls_per_thread * sizeof(uint32_t));
  memset(samples[1], 1, (size_t)calls_per_thread * sizeof(uint32_t));

  ts_plugin *plugin = NULL;
  if (startup(&api, &plugin) != TS_OK) { fprintf(stderr, "ts_gateway_startup failed\n"); return 1; }
  char journal_file[300];
  snprintf(journal_file, sizeof journal_file, "%s/journal.ttj", journal_dir);
  int fd = open(journal_file, O_RDWR);
  journal_header = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);

  uint32_t *overhead = malloc(1000000 * sizeof *overhead);
  for (int i = 0; i < 1000000; i++) {
    unsigned aux;
    _mm_lfence(); uint64_t s = __rdtsc(); _mm_lfence();
    uint64_t e = __rdtscp(&aux); _mm_lfence();
    overhead[i] = (uint32_t)(e - s);
  }
  qsort(overhead, 1000000, sizeof *overhead, compare);
  printf("TSC %.3f GHz; timer overhead (included below) median %.1f ns; %ld calls per thread, warm journal\n",
         1.0 / ns_per_cycle, overhead[500000] * ns_per_cycle, calls_per_thread);
  printf("%-17s %-8s %-9s %9s %9s %9s %12s\n", "member", "threads", "variant", "median ns", "p99 ns", "p99.9 ns", "median ratio");
  for (int m = LOCK; m <= ACK; m++) {
    run(1, (enum member)m, 1); run(0, (enum member)m, 1);  /* warm up both paths */
    for (int n = 1; n <= 2; n++) {
      percentiles base = run(0, (enum member)m, n);
      percentiles hook = run(1, (enum member)m, n);
      printf("%-17s %-8d %-9s %9.1f %9.1f %9.1f %12s\n", member_names[m], n, "baseline", base.median, base.p99, base.p999, "1.00");
      printf("%-17s %-8d %-9s %9.1f %9.1f %9.1f %12.2f\n", member_names[m], n, "plugin", hook.median, hook.p99, hook.p999,
             hook.median / base.median);
    }
  }
  cleanup(plugin);
  dlclose(library);
  char command[600];
  snprintf(command, sizeof command, "rm -rf '%s' '%s'", journal_dir, secret_path);
  if (system(command) != 0) fprintf(stderr, "could not remove %s\n", journal_dir);
  return 0;
}
