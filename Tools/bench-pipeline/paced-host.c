/*
 * paced-host.c: the trade server side of the pipeline benchmark (run.sh).
 *
 * A plain-C host (header only, like Tools/c-host/host.c) that dlopens the plugin and
 * fires MT5 deals (on_deal_add) from one thread at a fixed rate: each event has an
 * intended send time start + i/rate; the thread sleeps (clock_nanosleep, absolute,
 * 1 ns timer slack) until 60 us before it and spins the rest. The hook is called late
 * when the thread was late; that lateness is recorded per event (coordinated omission:
 * the plugin's timestamp is the actual call, so a stalled host hides its stall from
 * the collector's histogram; this one shows it). --rate 0 fires unpaced.
 *
 *   paced-host PLUGIN.so [--param NAME=VALUE]... [--server-id N] [--rate R] [--events N]
 *              [--warmup-seconds S] [--log FILE] [--journal-file PATH/journal.ttj]
 *
 * --journal-file: hook -> durable ack at the plugin, without touching the sender. The
 * journal's header holds `released` (offset 128: the first sequence not acknowledged;
 * the sender moves it when a cumulative ack arrives, JournalLayout.swift). A watcher
 * thread maps the header read-only and polls it every 50 us; each measured event's
 * call time (and intended time) is subtracted when its sequence is released. The
 * figure is ack received + processed by the sender, to within the poll interval.
 *
 * Protocol with the driver (stdout lines / stdin lines):
 *   "startup=<rc>", warm-up events at the rate (1000/s when unpaced) for S seconds,
 *   "ready warmup_events=W" → waits for a line (the driver scrapes /metrics),
 *   the measured events → "fired=N seconds=T", "pacer_late ..." (hist.h line, paced only),
 *   "hook_cost ..." (each on_deal_add call, one clock read included), "timer_overhead ...",
 *   "rss vm_rss_before_kb=.. vm_rss_after_kb=.. anon_before_kb=.. anon_after_kb=.."
 *   (before dlopen / after the measured events),
 *   then waits for a line (the driver waits for delivery) → with --journal-file, waits
 *   until every measured event is released (10 s at most) and prints "plugin_acked ..."
 *   and "plugin_acked_from_intended ..." → cleanup → "cleanup=done".
 */
#define _GNU_SOURCE
#include "trade_server_api.h"
#include "hist.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#define MAX_PARAMS 32
typedef ts_result (*startup_fn)(const ts_server_api *, ts_plugin **);
typedef void (*cleanup_fn)(ts_plugin *);

static const char *param_names[MAX_PARAMS], *param_values[MAX_PARAMS];
static int params;
static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static ts_event_sink sink;
static int subscribed;

static void host_log(void *host, int32_t level, const char *message) {
  (void)host;
  pthread_mutex_lock(&log_lock);
  fprintf(log_file, "[%d] %s\n", level, message ? message : "(null)");
  fflush(log_file);
  pthread_mutex_unlock(&log_lock);
}
static int64_t host_time_msc(void *host) {
  (void)host;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 120 * 60000;
}
static ts_result host_param_get(void *host, const char *name, char *value, uint32_t size) {
  (void)host;
  if (!name || !value || size == 0) return TS_ERR_INVALID_ARGUMENT;
  for (int i = params - 1; i >= 0; i--)
    if (!strcmp(param_names[i], name)) { snprintf(value, size, "%s", param_values[i]); return TS_OK; }
  return TS_ERR_NOT_FOUND;
}
static ts_result host_subscribe(void *host, const ts_event_sink *s) {
  (void)host;
  if (!s || s->struct_size < sizeof(ts_event_sink)) return TS_ERR_INVALID_ARGUMENT;
  sink = *s; subscribed = 1;
  return TS_OK;
}
static ts_result host_unsubscribe(void *host, const ts_event_sink *s) {
  (void)host; (void)s;
  if (!subscribed) return TS_ERR_NOT_FOUND;
  subscribed = 0;
  return TS_OK;
}
/* Ten real accounts; the benchmark runs with Groups = * so these are rarely asked. */
static ts_result host_user_get(void *host, uint64_t login, ts_user *out) {
  (void)host;
  if (!out || login < 1000 || login >= 1010) return TS_ERR_NOT_FOUND;
  memset(out, 0, sizeof *out);
  out->struct_size = sizeof *out; out->login = login;
  snprintf(out->group, sizeof out->group, "real\\usd");
  snprintf(out->currency, sizeof out->currency, "USD");
  out->currency_digits = 2; out->leverage = 100;
  return TS_OK;
}
static ts_result host_users_enum(void *host, ts_user_visitor visit, void *ctx) {
  for (uint64_t login = 1000; login < 1010; login++) {
    ts_user u; host_user_get(host, login, &u);
    if (visit(ctx, &u)) break;
  }
  return TS_OK;
}
static ts_result host_positions_enum(void *h, uint64_t l, ts_position_visitor v, void *c) { (void)h; (void)l; (void)v; (void)c; return TS_OK; }
static ts_result host_deals_enum(void *h, int64_t f, int64_t t, ts_deal_visitor v, void *c) { (void)h; (void)f; (void)t; (void)v; (void)c; return TS_OK; }
static ts_result host_trades_enum(void *h, int32_t l, int32_t o, ts_trade_visitor v, void *c) { (void)h; (void)l; (void)o; (void)v; (void)c; return TS_ERR_NOT_FOUND; }

static void fill_deal(ts_deal *d, uint64_t ticket) {
  memset(d, 0, sizeof *d);
  d->struct_size = sizeof *d;
  d->deal = ticket; d->order = ticket; d->position_id = ticket;
  d->login = 1000 + ticket % 10;
  d->action = (uint32_t)(ticket % 2);
  d->entry = TS_ENTRY_IN;
  snprintf(d->symbol, sizeof d->symbol, "EURUSD");
  d->digits = 5; d->currency_digits = 2;
  d->time_msc = 1700000000000 + (int64_t)ticket;
  d->price = 1.08123; d->volume_ext = 10000000; d->contract_size = 100000; d->profit = 12.34;
}

static uint64_t next_ticket = 1;

/* Ack watcher (--journal-file). */
static const volatile uint64_t *journal_released;
static uint64_t *call_times, *intended_times;
static uint64_t watch_base, watch_count;
static int watch_stop;
static hist acked, acked_intended;

static void *watch_acks(void *arg) {
  (void)arg;
  uint64_t next = watch_base;
  uint64_t end = watch_base + watch_count;
  while (next < end) {
    uint64_t released = __atomic_load_n(journal_released, __ATOMIC_ACQUIRE);
    if (released > next) {
      uint64_t t = now_ns();
      for (; next < released && next < end; next++) {
        uint64_t called = __atomic_load_n(&call_times[next - watch_base], __ATOMIC_ACQUIRE);
        if (called == 0) continue; /* not yet fired: cannot be released */
        hist_add(&acked, t - called);
        hist_add(&acked_intended, t - intended_times[next - watch_base]);
      }
    }
    if (__atomic_load_n(&watch_stop, __ATOMIC_ACQUIRE)) break;
    struct timespec pause = {0, 50000};
    nanosleep(&pause, NULL);
  }
  return NULL;
}

/* Fires n deals at rate (0: unpaced); records each event's lateness into late and each
 * hook call's duration into cost (if set). Every deal carries its intended send time in
 * external_id (decimal ns; unpaced: the time just before the call), which the peers'
 * receivers use to measure from the intended time (coordinated omission). */
static void fire(long n, double rate, hist *late, hist *cost) {
  ts_deal d;
  uint64_t interval = rate > 0 ? (uint64_t)(1e9 / rate) : 0;
  uint64_t start = now_ns() + 200000;
  for (long i = 0; i < n; i++) {
    fill_deal(&d, next_ticket++);
    uint64_t due = start + (uint64_t)i * interval;
    if (interval) {
      snprintf(d.external_id, sizeof d.external_id, "%llu", (unsigned long long)due);
      uint64_t lateness = pace_until(due);
      if (late) hist_add(late, lateness);
    } else {
      snprintf(d.external_id, sizeof d.external_id, "%llu", (unsigned long long)now_ns());
    }
    uint64_t t = now_ns();
    if (late && call_times) {
      intended_times[i] = interval ? due : t;
      __atomic_store_n(&call_times[i], t, __ATOMIC_RELEASE);
    }
    sink.on_deal_add(sink.context, &d);
    if (cost) hist_add(cost, now_ns() - t);
  }
}

/* Resident memory of this process, kB: VmRSS and RssAnon (the journal's mapped file
 * pages count in VmRSS, not in RssAnon). */
static void read_rss(long *vm_rss, long *anon) {
  char line[256];
  FILE *f = fopen("/proc/self/status", "r");
  *vm_rss = *anon = 0;
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    if (!strncmp(line, "VmRSS:", 6)) *vm_rss = atol(line + 6);
    else if (!strncmp(line, "RssAnon:", 8)) *anon = atol(line + 8);
  }
  fclose(f);
}

/* The cost of the timing itself (two clock reads, one of which is in every hook_cost). */
static void print_timer_overhead(void) {
  static hist h;
  for (int i = 0; i < 100000; i++) { uint64_t a = now_ns(); hist_add(&h, now_ns() - a); }
  hist_print(stdout, "timer_overhead", &h, 1);
}

static void wait_for_driver(void) {
  char line[64];
  if (!fgets(line, sizeof line, stdin)) { /* driver gone: carry on to cleanup */ }
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: paced-host PLUGIN.so [options]\n"); return 2; }
  double rate = 1000, warmup_seconds = 2;
  long events = 10000;
  uint32_t server_id = 1;
  const char *log_path = NULL, *journal_path = NULL;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--param") && next && params < MAX_PARAMS) {
      char *copy = strdup(next), *eq = strchr(copy, '=');
      if (!eq) { fprintf(stderr, "paced-host: expected NAME=VALUE\n"); return 2; }
      *eq = 0; param_names[params] = copy; param_values[params] = eq + 1; params++; i++;
    } else if (!strcmp(a, "--rate") && next) { rate = atof(next); i++; }
    else if (!strcmp(a, "--events") && next) { events = atol(next); i++; }
    else if (!strcmp(a, "--warmup-seconds") && next) { warmup_seconds = atof(next); i++; }
    else if (!strcmp(a, "--server-id") && next) { server_id = (uint32_t)atol(next); i++; }
    else if (!strcmp(a, "--log") && next) { log_path = next; i++; }
    else if (!strcmp(a, "--journal-file") && next) { journal_path = next; i++; }
    else { fprintf(stderr, "paced-host: unknown option %s\n", a); return 2; }
  }
  log_file = log_path ? fopen(log_path, "a") : stderr;
  if (!log_file) { perror("paced-host: --log"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

  long rss_before, anon_before;
  read_rss(&rss_before, &anon_before);
  void *library = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!library) { fprintf(stderr, "paced-host: dlopen: %s\n", dlerror()); return 2; }
  startup_fn startup = (startup_fn)dlsym(library, "ts_plugin_startup");
  cleanup_fn cleanup = (cleanup_fn)dlsym(library, "ts_plugin_cleanup");
  if (!startup || !cleanup) { fprintf(stderr, "paced-host: missing ts_plugin_* symbol\n"); return 2; }

  ts_server_info info = {.struct_size = sizeof info, .server_id = server_id,
                         .platform = TS_PLATFORM_MT5, .utc_offset_minutes = 120};
  snprintf(info.name, sizeof info.name, "bench-host");
  snprintf(info.build, sizeof info.build, "1");
  ts_server_api api = {
    .struct_size = sizeof api, .api_version = TS_API_VERSION, .host = &info, .info = &info,
    .log = host_log, .time_msc = host_time_msc, .param_get = host_param_get,
    .subscribe = host_subscribe, .unsubscribe = host_unsubscribe, .user_get = host_user_get,
    .users_enum = host_users_enum, .positions_enum = host_positions_enum,
    .deals_enum = host_deals_enum, .trades_enum = host_trades_enum,
  };
  ts_plugin *plugin = NULL;
  ts_result rc = startup(&api, &plugin);
  printf("startup=%d\n", rc);
  if (rc != TS_OK || !subscribed) return 3;

  double warm_rate = rate > 0 ? rate : 1000;
  long warm = (long)(warm_rate * warmup_seconds);
  fire(warm, warm_rate, NULL, NULL);
  printf("ready warmup_events=%ld\n", warm);
  wait_for_driver();

  static hist late, cost;
  pthread_t watcher;
  if (journal_path) {
    int fd = open(journal_path, O_RDONLY);
    void *header = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (header == MAP_FAILED) { perror("paced-host: --journal-file"); return 2; }
    journal_released = (const volatile uint64_t *)((const char *)header + 128);
    watch_base = __atomic_load_n((const uint64_t *)((const char *)header + 64), __ATOMIC_ACQUIRE); /* tail */
    watch_count = (uint64_t)events;
    call_times = calloc((size_t)events, sizeof *call_times);
    intended_times = calloc((size_t)events, sizeof *intended_times);
    pthread_create(&watcher, NULL, watch_acks, NULL);
  }
  uint64_t t0 = now_ns();
  fire(events, rate, &late, &cost);
  double seconds = (double)(now_ns() - t0) / 1e9;
  printf("fired=%ld seconds=%.6f\n", events, seconds);
  if (rate > 0) hist_print(stdout, "pacer_late", &late, 1);
  hist_print(stdout, "hook_cost", &cost, 1);
  print_timer_overhead();
  long rss_after, anon_after;
  read_rss(&rss_after, &anon_after);
  printf("rss vm_rss_before_kb=%ld vm_rss_after_kb=%ld anon_before_kb=%ld anon_after_kb=%ld\n", rss_before, rss_after,
         anon_before, anon_after);
  wait_for_driver();
  if (journal_path) {
    uint64_t give_up = now_ns() + 10000000000ull;
    while (__atomic_load_n(journal_released, __ATOMIC_ACQUIRE) < watch_base + watch_count && now_ns() < give_up) {
      struct timespec pause = {0, 1000000};
      nanosleep(&pause, NULL);
    }
    __atomic_store_n(&watch_stop, 1, __ATOMIC_RELEASE);
    pthread_join(watcher, NULL);
    hist_print(stdout, "plugin_acked", &acked, 1);
    hist_print(stdout, "plugin_acked_from_intended", &acked_intended, 1);
  }
  cleanup(plugin);
  printf("cleanup=done\n");
  return 0;
}
