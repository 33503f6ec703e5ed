/*
 * host.c: a plain-C trade server host for TradeTap's integration tests.
 *
 * Written against trade_server_api.h alone (no project code): it dlopens a plugin,
 * implements ts_server_api (log, time_msc, param_get from --param / environment,
 * subscribe / unsubscribe, query functions answering from a small in-memory state),
 * then fires events at the subscribed sink from several threads.
 *
 *   cc -std=c11 -O2 -Wall -Wextra -pthread -I<include> host.c -o host -ldl
 *   host PLUGIN.so [--param NAME=VALUE]... [--threads T] [--events N] [--kinds all|deals]
 *        [--hostile] [--platform mt4|mt5] [--server-id N] [--progress FILE] [--log FILE]
 *        [--reload NAME=VALUE]... [--cycles K] [--sleep-us U] [--crash-mid-hook] [--about-check]
 *        [--empty-book] [--query-error CODE] [--linger-ms M]
 *
 *   --events 0     fire until killed (for kill -9 tests)
 *   --progress F   a MAP_SHARED file of T uint64 counters; counter t is stored (release)
 *                  after each of thread t's hooks returns, so it survives kill -9
 *   --hostile      fire every hostile input once (NULL, struct_size 0/3/huge, NaN and
 *                  infinite amounts, unknown enums, invalid UTF-8, strings without NUL);
 *                  every record ends at a page followed by a PROT_NONE guard page, so a
 *                  plugin that reads past a record crashes the host
 *   --reload       after startup, call ts_plugin_config_set with these parameters
 *                  (the --param ones plus these) and print its result
 *   --cycles K     startup, fire, cleanup K times in the same process
 *   --sleep-us U   pause U microseconds after each event (keeps a kill -9 run inside the journal's bound)
 *   --crash-mid-hook  after the events, call on_deal_add with a deal whose struct_size (256)
 *                  runs into the guard page: the host dies (SIGSEGV) inside the hook,
 *                  after the plugin claimed a sequence number and before it committed
 *   --about-check  call ts_plugin_about with a short struct_size and check it wrote
 *                  nothing past it
 *   --empty-book   every query function (users_enum, positions_enum, deals_enum,
 *                  trades_enum) answers TS_OK and visits nothing: an impossible book
 *                  (a server restored from an empty backup, a broken query)
 *   --query-error CODE  deals_enum, positions_enum and trades_enum answer CODE (e.g. 6,
 *                  TS_ERR_NOT_FOUND) without visiting anything
 *   --linger-ms M  after the events, keep the plugin loaded M milliseconds before
 *                  cleanup (reconciliation sweeps run meanwhile)
 *
 * Prints "startup=<code>", "reload=<code>", "hooks_returned=<n>" and "cleanup=done";
 * exits 0 when every startup succeeded.
 *
 * Deal tickets are ((thread + 1) << 32) | index, so a test can tell exactly which
 * events' hooks returned.
 */
#define _GNU_SOURCE
#include "trade_server_api.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARAMS 64

typedef ts_result (*about_fn)(ts_plugin_info *);
typedef ts_result (*startup_fn)(const ts_server_api *, ts_plugin **);
typedef void (*cleanup_fn)(ts_plugin *);
typedef ts_result (*config_fn)(ts_plugin *, const ts_param *, uint32_t);

static struct {
  const char *param_names[MAX_PARAMS];
  const char *param_values[MAX_PARAMS];
  int params;
  const char *reload_names[MAX_PARAMS];
  const char *reload_values[MAX_PARAMS];
  int reloads;
  int threads;
  long events;
  int deals_only;
  int hostile;
  uint32_t platform;
  uint32_t server_id;
  const char *progress_path;
  const char *log_path;
  int cycles;
  int about_check;
  int sleep_us;
  int crash_mid_hook;
  int empty_book;
  int query_error;
  int linger_ms;
} options = {.threads = 2, .events = 1000, .platform = TS_PLATFORM_MT5, .server_id = 1, .cycles = 1};

static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static ts_event_sink subscribed;
static int is_subscribed;
static volatile uint64_t *progress;

/* ---- ts_server_api ------------------------------------------------------ */

static void host_log(void *host, int32_t level, const char *message) {
  (void)host;
  static const char *names[] = {"debug", "info", "warn", "error"};
  pthread_mutex_lock(&log_lock);
  fprintf(log_file, "[%s] %s\n", (level >= 0 && level <= 3) ? names[level] : "?", message ? message : "(null)");
  fflush(log_file);
  pthread_mutex_unlock(&log_lock);
}

static int64_t host_time_msc(void *host) {
  (void)host;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 120 * 60000; /* broker time: UTC+2 */
}

static ts_result host_param_get(void *host, const char *name, char *value, uint32_t value_size) {
  (void)host;
  if (!name || !value || value_size == 0) return TS_ERR_INVALID_ARGUMENT;
  const char *found = NULL;
  for (int i = 0; i < options.params; i++)
    if (strcmp(options.param_names[i], name) == 0) found = options.param_values[i];
  if (!found) { /* environment: TRADETAP_PARAM_<name with '.' as '_'> */
    char key[128];
    snprintf(key, sizeof key, "TRADETAP_PARAM_%s", name);
    for (char *c = key; *c; c++) if (*c == '.') *c = '_';
    found = getenv(key);
  }
  if (!found) return TS_ERR_NOT_FOUND;
  snprintf(value, value_size, "%s", found);
  return TS_OK;
}

static ts_result host_subscribe(void *host, const ts_event_sink *sink) {
  (void)host;
  if (!sink || sink->struct_size < sizeof(ts_event_sink)) return TS_ERR_INVALID_ARGUMENT;
  subscribed = *sink;
  is_subscribed = 1;
  return TS_OK;
}

static ts_result host_unsubscribe(void *host, const ts_event_sink *sink) {
  (void)host;
  if (!sink || !is_subscribed) return TS_ERR_NOT_FOUND;
  is_subscribed = 0; /* the firing threads were joined before cleanup */
  memset(&subscribed, 0, sizeof subscribed);
  return TS_OK;
}

/* A small in-memory server: 10 accounts, one deal and one position each, one MT4 trade each. */
static ts_user users[10];
static ts_deal deals[10];
static ts_position positions[10];
static ts_trade_record trades[10];

static void make_state(void) {
  for (int i = 0; i < 10; i++) {
    ts_user *u = &users[i];
    memset(u, 0, sizeof *u);
    u->struct_size = sizeof *u;
    u->login = 1000 + i;
    snprintf(u->group, sizeof u->group, i < 3 ? "demo\\usd" : "real\\usd");
    snprintf(u->name, sizeof u->name, "Client %d", i);
    snprintf(u->currency, sizeof u->currency, "USD");
    u->currency_digits = 2;
    u->leverage = 100;
    u->margin_mode = i % 2 ? TS_MARGIN_RETAIL_HEDGING : TS_MARGIN_RETAIL_NETTING;
    u->balance = 1000.0 + i;
    deals[i] = (ts_deal){.struct_size = sizeof(ts_deal), .deal = 500 + i, .login = 1000 + i,
                         .action = TS_DEAL_BALANCE, .currency_digits = 2, .profit = 1000.0 + i};
    positions[i] = (ts_position){.struct_size = sizeof(ts_position), .position = 700 + i, .login = 1000 + i,
                                 .action = TS_POSITION_BUY, .digits = 5, .volume_ext = 100000000, .price_open = 1.1};
    snprintf(positions[i].symbol, sizeof positions[i].symbol, "EURUSD");
    trades[i] = (ts_trade_record){.struct_size = sizeof(ts_trade_record), .order = 900 + i, .login = 1000 + i,
                                  .digits = 5, .cmd = TS_OP_BUY, .volume = 100, .open_price = 1.1};
    snprintf(trades[i].symbol, sizeof trades[i].symbol, "EURUSD");
  }
}

static ts_result host_user_get(void *host, uint64_t login, ts_user *out) {
  (void)host;
  if (!out) return TS_ERR_INVALID_ARGUMENT;
  for (int i = 0; i < 10; i++)
    if (users[i].login == login) { *out = users[i]; return TS_OK; }
  return TS_ERR_NOT_FOUND;
}
static ts_result host_users_enum(void *host, ts_user_visitor visit, void *ctx) {
  (void)host;
  if (options.empty_book) return TS_OK;
  for (int i = 0; i < 10; i++) if (visit(ctx, &users[i])) break;
  return TS_OK;
}
static ts_result host_positions_enum(void *host, uint64_t login, ts_position_visitor visit, void *ctx) {
  (void)host;
  if (options.platform != TS_PLATFORM_MT5) return TS_ERR_NOT_FOUND;
  if (options.query_error) return options.query_error;
  if (options.empty_book) return TS_OK;
  for (int i = 0; i < 10; i++)
    if ((login == 0 || positions[i].login == login) && visit(ctx, &positions[i])) break;
  return TS_OK;
}
static ts_result host_deals_enum(void *host, int64_t from, int64_t to, ts_deal_visitor visit, void *ctx) {
  (void)host;
  if (options.platform != TS_PLATFORM_MT5) return TS_ERR_NOT_FOUND;
  if (options.query_error) return options.query_error;
  if (options.empty_book) return TS_OK;
  for (int i = 0; i < 10; i++)
    if (deals[i].time_msc >= from && deals[i].time_msc < to && visit(ctx, &deals[i])) break;
  return TS_OK;
}
static ts_result host_trades_enum(void *host, int32_t login, int32_t open_only, ts_trade_visitor visit, void *ctx) {
  (void)host; (void)open_only;
  if (options.platform != TS_PLATFORM_MT4) return TS_ERR_NOT_FOUND;
  if (options.query_error) return options.query_error;
  if (options.empty_book) return TS_OK;
  for (int i = 0; i < 10; i++)
    if ((login == 0 || trades[i].login == login) && visit(ctx, &trades[i])) break;
  return TS_OK;
}

/* ---- events ------------------------------------------------------------- */

static void fill_deal(ts_deal *d, uint64_t ticket, long i) {
  memset(d, 0, sizeof *d);
  d->struct_size = sizeof *d;
  d->deal = ticket;
  d->login = 1000 + (uint64_t)(i % 10);
  d->order = ticket;
  d->position_id = ticket;
  d->action = (uint32_t)(i % 2);
  d->entry = TS_ENTRY_IN;
  snprintf(d->symbol, sizeof d->symbol, "EURUSD");
  d->digits = 5;
  d->currency_digits = 2;
  d->time_msc = 1700000000000 + i;
  d->price = 1.08123;
  d->volume_ext = 10000000;
  d->contract_size = 100000;
  d->profit = 12.34;
}

/* Fires one ordinary event of kind (i % 7), or a deal when --kinds deals. */
static void fire_normal(int thread, long i) {
  uint64_t ticket = ((uint64_t)(thread + 1) << 32) | (uint64_t)i;
  int kind = options.deals_only ? 0 : (int)(i % 7);
  void *ctx = subscribed.context;
  switch (kind) {
  case 0: { ts_deal d; fill_deal(&d, ticket, i); subscribed.on_deal_add(ctx, &d); break; }
  case 1: {
    ts_order o; memset(&o, 0, sizeof o);
    o.struct_size = sizeof o; o.order = ticket; o.login = 1000 + (uint64_t)(i % 10);
    snprintf(o.symbol, sizeof o.symbol, "EURUSD");
    o.type = TS_ORDER_BUY; o.state = TS_ORDER_FILLED; o.digits = 5; o.price_order = 1.08;
    o.volume_initial_ext = 10000000;
    subscribed.on_order_add(ctx, &o); break;
  }
  case 2: {
    ts_position p = positions[i % 10]; p.position = ticket;
    subscribed.on_position_update(ctx, &p); break;
  }
  case 3: {
    ts_user u = users[i % 10]; u.last_update_msc = 1700000000000 + i;
    subscribed.on_user_update(ctx, &u); break;
  }
  case 4: {
    ts_trade_record t = trades[i % 10]; t.order = (int32_t)(ticket & 0x7fffffff);
    ts_user_info ui; memset(&ui, 0, sizeof ui);
    ui.struct_size = sizeof ui; ui.login = t.login; snprintf(ui.group, sizeof ui.group, "real");
    ui.leverage = 100; ui.balance = 1000;
    subscribed.on_trade_add(ctx, &t, &ui, TS_OPEN_NEW); break;
  }
  case 5: { ts_deal d; fill_deal(&d, ticket, i); subscribed.on_deal_update(ctx, &d); break; }
  default: {
    ts_position p = positions[i % 10]; p.position = ticket; p.volume_ext = 0;
    subscribed.on_position_delete(ctx, &p); break;
  }
  }
}

/* Memory whose last byte is followed by a PROT_NONE page. */
static unsigned char *guarded_page;
static long page_size;

static void *at_page_end(const void *bytes, size_t n) {
  unsigned char *dst = guarded_page + page_size - n;
  memcpy(dst, bytes, n);
  return dst;
}

/* Every hostile input, once. Returns the number of hooks fired. */
static long fire_hostile(void) {
  void *ctx = subscribed.context;
  long fired = 0;
  ts_deal d;
  uint32_t tiny;

  subscribed.on_deal_add(ctx, NULL); fired++;                                   /* NULL */
  tiny = 0; subscribed.on_deal_add(ctx, at_page_end(&tiny, 4)); fired++;        /* struct_size 0 */
  tiny = 3; subscribed.on_deal_add(ctx, at_page_end(&tiny, 4)); fired++;        /* struct_size 3 */
  fill_deal(&d, 1, 1); d.struct_size = 0xFFFFFFFFu;                            /* huge */
  subscribed.on_deal_add(ctx, at_page_end(&d, sizeof d)); fired++;
  fill_deal(&d, 2, 2); d.struct_size = 100;                                     /* cut mid-record */
  subscribed.on_deal_update(ctx, at_page_end(&d, 100)); fired++;
  fill_deal(&d, 3, 3); d.action = TS_DEAL_BALANCE; d.profit = NAN;              /* NaN amount */
  subscribed.on_deal_add(ctx, at_page_end(&d, sizeof d)); fired++;
  fill_deal(&d, 4, 4); d.commission = INFINITY;                                 /* infinite amount */
  subscribed.on_deal_add(ctx, at_page_end(&d, sizeof d)); fired++;
  fill_deal(&d, 5, 5); d.action = 999; d.entry = 77;                            /* unknown enums */
  subscribed.on_deal_add(ctx, at_page_end(&d, sizeof d)); fired++;
  fill_deal(&d, 6, 6); memcpy(d.symbol, "EUR\xff\xfe" "USD", 8);                /* invalid UTF-8 */
  subscribed.on_deal_add(ctx, at_page_end(&d, sizeof d)); fired++;
  fill_deal(&d, 7, 7); memset(d.symbol, 'A', sizeof d.symbol);                  /* no NUL */
  memset(d.comment, 'B', sizeof d.comment); memset(d.external_id, 'C', sizeof d.external_id);
  subscribed.on_deal_add(ctx, at_page_end(&d, sizeof d)); fired++;

  ts_order o; memset(&o, 0, sizeof o); o.struct_size = sizeof o; o.order = 8; o.type = 42; o.state = 99;
  subscribed.on_order_add(ctx, at_page_end(&o, sizeof o)); fired++;             /* unknown order enums */
  subscribed.on_order_delete(ctx, NULL); fired++;
  ts_position p = positions[0]; p.price_open = NAN; p.action = 7;
  subscribed.on_position_add(ctx, at_page_end(&p, sizeof p)); fired++;          /* NaN price, bad action */
  tiny = 3; subscribed.on_position_delete(ctx, at_page_end(&tiny, 4)); fired++;

  ts_user u = users[0]; u.balance = NAN; memset(u.group, 'G', sizeof u.group);
  subscribed.on_user_update(ctx, at_page_end(&u, sizeof u)); fired++;           /* NaN balance, group without NUL */
  u = users[1]; u.struct_size = 8;
  subscribed.on_user_add(ctx, at_page_end(&u, 8)); fired++;                     /* too small */
  subscribed.on_user_delete(ctx, NULL); fired++;

  ts_trade_record t = trades[0];
  subscribed.on_trade_add(ctx, at_page_end(&t, sizeof t), NULL, TS_OPEN_NEW); fired++;   /* NULL user (allowed) */
  subscribed.on_trade_add(ctx, NULL, &(ts_user_info){.struct_size = sizeof(ts_user_info)}, TS_OPEN_API); fired++;
  ts_user_info ui = {.struct_size = 1};
  subscribed.on_trade_update(ctx, &t, at_page_end(&ui, 4), TS_UPDATE_CLOSE); fired++;    /* user_info size 1 */
  t.profit = -INFINITY; t.cmd = 99;
  subscribed.on_trade_update(ctx, at_page_end(&t, sizeof t), NULL, 12345); fired++;      /* bad cmd, mode, amount */
  return fired;
}

static void *fire_thread(void *arg) {
  int thread = (int)(long)arg;
  for (long i = 0; options.events == 0 || i < options.events; i++) {
    fire_normal(thread, i);
    if (progress) __atomic_store_n(&progress[thread], (uint64_t)(i + 1), __ATOMIC_RELEASE);
    if (options.sleep_us > 0) usleep((useconds_t)options.sleep_us);
  }
  return NULL;
}

/* ---- about check -------------------------------------------------------- */

static int about_check(about_fn about) {
  ts_plugin_info *full = calloc(1, sizeof *full);
  full->struct_size = sizeof *full;
  if (about(full) != TS_OK) { printf("about=failed\n"); return 1; }
  printf("about.name=%s\nabout.version=%s\nabout.vendor=%s\nabout.api_version=%u\nabout.params_total=%u\n",
         full->name, full->version, full->vendor, full->api_version, full->params_total);
  for (uint32_t i = 0; i < full->params_total && i < 32; i++)
    printf("about.param=%.*s=%.*s\n", 64, full->params[i].name, 256, full->params[i].value);
  /* A host that knows only two parameter slots: nothing may be written past them. */
  size_t short_size = offsetof(ts_plugin_info, params) + 2 * sizeof(ts_param);
  unsigned char *buffer = malloc(sizeof(ts_plugin_info));
  memset(buffer, 0xAB, sizeof(ts_plugin_info));
  ((ts_plugin_info *)buffer)->struct_size = (uint32_t)short_size;
  int ok = about((ts_plugin_info *)buffer) == TS_OK;
  for (size_t i = short_size; i < sizeof(ts_plugin_info); i++) if (buffer[i] != 0xAB) ok = 0;
  ok = ok && ((ts_plugin_info *)buffer)->params_total == 2 && ((ts_plugin_info *)buffer)->struct_size == short_size;
  /* A host that knows only struct_size and api_version. */
  memset(buffer, 0xAB, sizeof(ts_plugin_info));
  ((ts_plugin_info *)buffer)->struct_size = 8;
  ok = ok && about((ts_plugin_info *)buffer) == TS_OK;
  for (size_t i = 8; i < sizeof(ts_plugin_info); i++) if (buffer[i] != 0xAB) ok = 0;
  ok = ok && about(NULL) == TS_ERR_INVALID_ARGUMENT;
  printf("about.struct_size_honoured=%s\n", ok ? "yes" : "no");
  free(buffer); free(full);
  return ok ? 0 : 1;
}

/* ---- main --------------------------------------------------------------- */

static void split_assignment(const char *text, const char **name, const char **value) {
  char *copy = strdup(text);
  char *eq = strchr(copy, '=');
  if (!eq) { fprintf(stderr, "host: expected NAME=VALUE, got %s\n", text); exit(2); }
  *eq = 0;
  *name = copy;
  *value = eq + 1;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: host PLUGIN.so [options]\n"); return 2; }
  const char *plugin_path = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--param") && next && options.params < MAX_PARAMS) {
      split_assignment(next, &options.param_names[options.params], &options.param_values[options.params]);
      options.params++; i++;
    } else if (!strcmp(a, "--reload") && next && options.reloads < MAX_PARAMS) {
      split_assignment(next, &options.reload_names[options.reloads], &options.reload_values[options.reloads]);
      options.reloads++; i++;
    } else if (!strcmp(a, "--threads") && next) { options.threads = atoi(next); i++; }
    else if (!strcmp(a, "--events") && next) { options.events = atol(next); i++; }
    else if (!strcmp(a, "--kinds") && next) { options.deals_only = !strcmp(next, "deals"); i++; }
    else if (!strcmp(a, "--hostile")) { options.hostile = 1; }
    else if (!strcmp(a, "--platform") && next) { options.platform = !strcmp(next, "mt4") ? TS_PLATFORM_MT4 : TS_PLATFORM_MT5; i++; }
    else if (!strcmp(a, "--server-id") && next) { options.server_id = (uint32_t)atol(next); i++; }
    else if (!strcmp(a, "--progress") && next) { options.progress_path = next; i++; }
    else if (!strcmp(a, "--log") && next) { options.log_path = next; i++; }
    else if (!strcmp(a, "--cycles") && next) { options.cycles = atoi(next); i++; }
    else if (!strcmp(a, "--about-check")) { options.about_check = 1; }
    else if (!strcmp(a, "--sleep-us") && next) { options.sleep_us = atoi(next); i++; }
    else if (!strcmp(a, "--crash-mid-hook")) { options.crash_mid_hook = 1; }
    else if (!strcmp(a, "--empty-book")) { options.empty_book = 1; }
    else if (!strcmp(a, "--query-error") && next) { options.query_error = atoi(next); i++; }
    else if (!strcmp(a, "--linger-ms") && next) { options.linger_ms = atoi(next); i++; }
    else { fprintf(stderr, "host: unknown option %s\n", a); return 2; }
  }
  if (options.threads < 1 || options.threads > 64) { fprintf(stderr, "host: --threads 1..64\n"); return 2; }
  log_file = options.log_path ? fopen(options.log_path, "a") : stderr;
  if (!log_file) { perror("host: --log"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  make_state();
  page_size = sysconf(_SC_PAGESIZE);
  guarded_page = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mprotect(guarded_page + page_size, page_size, PROT_NONE);

  if (options.progress_path) {
    int fd = open(options.progress_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, 64 * 8) != 0) { perror("host: --progress"); return 2; }
    progress = mmap(NULL, 64 * 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
  }

  void *library = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
  if (!library) { fprintf(stderr, "host: dlopen: %s\n", dlerror()); return 2; }
  about_fn about = (about_fn)dlsym(library, "ts_plugin_about");
  startup_fn startup = (startup_fn)dlsym(library, "ts_plugin_startup");
  cleanup_fn cleanup = (cleanup_fn)dlsym(library, "ts_plugin_cleanup");
  config_fn config_set = (config_fn)dlsym(library, "ts_plugin_config_set");
  if (!about || !startup || !cleanup || !config_set) { fprintf(stderr, "host: missing ts_plugin_* symbol\n"); return 2; }
  if (options.about_check) return about_check(about);

  ts_server_info info = {.struct_size = sizeof info, .server_id = options.server_id,
                         .platform = options.platform, .utc_offset_minutes = 120};
  snprintf(info.name, sizeof info.name, "c-host");
  snprintf(info.build, sizeof info.build, "1");
  ts_server_api api = {
    .struct_size = sizeof api, .api_version = TS_API_VERSION, .host = &info, .info = &info,
    .log = host_log, .time_msc = host_time_msc, .param_get = host_param_get,
    .subscribe = host_subscribe, .unsubscribe = host_unsubscribe, .user_get = host_user_get,
    .users_enum = host_users_enum, .positions_enum = host_positions_enum,
    .deals_enum = host_deals_enum, .trades_enum = host_trades_enum,
  };
  /* A first-round host: its table ends at trades_enum (no user_create / balance_change). */
  const char *size_override = getenv("TRADETAP_HOST_API_SIZE");
  if (size_override) api.struct_size = !strcmp(size_override, "first-round")
    ? (uint32_t)offsetof(ts_server_api, user_create) : (uint32_t)atol(size_override);
  const char *version_override = getenv("TRADETAP_HOST_API_VERSION");
  if (version_override) api.api_version = (uint32_t)atol(version_override);

  int status = 0;
  for (int cycle = 0; cycle < options.cycles; cycle++) {
    ts_plugin *plugin = NULL;
    ts_result rc = startup(&api, &plugin);
    printf("startup=%d\n", rc);
    if (rc != TS_OK) { status = 3; break; }
    if (options.reloads > 0) {
      static ts_param params[2 * MAX_PARAMS];
      uint32_t n = 0;
      for (int i = 0; i < options.params; i++, n++) {
        snprintf(params[n].name, sizeof params[n].name, "%s", options.param_names[i]);
        snprintf(params[n].value, sizeof params[n].value, "%s", options.param_values[i]);
      }
      for (int i = 0; i < options.reloads; i++, n++) {
        snprintf(params[n].name, sizeof params[n].name, "%s", options.reload_names[i]);
        snprintf(params[n].value, sizeof params[n].value, "%s", options.reload_values[i]);
      }
      printf("reload=%d\n", config_set(plugin, params, n));
    }
    long returned = 0;
    if (options.hostile) {
      returned = fire_hostile();
    } else {
      pthread_t threads[64];
      for (int t = 0; t < options.threads; t++) pthread_create(&threads[t], NULL, fire_thread, (void *)(long)t);
      for (int t = 0; t < options.threads; t++) pthread_join(threads[t], NULL);
      returned = (long)options.threads * options.events;
    }
    printf("hooks_returned=%ld\n", returned);
    if (options.linger_ms > 0) usleep((useconds_t)options.linger_ms * 1000);
    if (options.crash_mid_hook) {
      ts_deal d;
      fill_deal(&d, 99, 99);
      subscribed.on_deal_add(subscribed.context, at_page_end(&d, 100)); /* reads past the page: dies */
      printf("crash_mid_hook=survived\n");
    }
    cleanup(plugin);
    printf("cleanup=done\n");
  }
  dlclose(library);
  return status;
}
