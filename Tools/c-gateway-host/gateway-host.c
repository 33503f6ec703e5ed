/*
 * gateway-host.c: a plain-C MT5-style gateway host for TradeTap's integration tests,
 * written from shared/spec/plugin-abi.md ("The gateway model") and
 * trade_server_api.h alone (no project code).
 *
 * It dlopens a plugin, resolves the three gateway exports (ts_gateway_about,
 * ts_gateway_startup, ts_gateway_cleanup), implements ts_gateway_api (log, time_msc,
 * param_get from --param / environment, subscribe / unsubscribe, executions_enum over
 * its own execution store) and plays the gateway's flow from several threads: each
 * request is locked (on_dealer_lock), answered PLACED (on_dealer_answer), executed
 * (on_execution: one fill, two partial fills, or a reject) and each execution is
 * acknowledged by its trade server (on_execution_ack).
 *
 *   cc -std=c11 -O2 -Wall -Wextra -pthread -I<include> gateway-host.c -o gateway-host -ldl -lm
 *   gateway-host PLUGIN.so [--param NAME=VALUE]... [--gateway-id N] [--threads T] [--requests N]
 *        [--hostile] [--log FILE] [--linger-ms M] [--about-check]
 *        [--server-param NAME=VALUE]... [--server-id N] [--reload NAME=VALUE]...
 *
 *   --requests N   requests per thread (default 100); request i of thread t has id
 *                  ((t + 1) << 32) | i and comes from trade server 1 + (i % 2); it gets
 *                  two partial fills when i % 3 == 0, a reject when i % 5 == 4, else one fill
 *   --hostile      after the requests, fire every hostile input once (NULL records,
 *                  struct_size 0/3/7/huge/cut, NaN and infinite prices, unknown actions,
 *                  invalid UTF-8, strings without NUL); every record ends at a page
 *                  followed by a PROT_NONE guard page, so a plugin that reads past a
 *                  record crashes the host
 *   --server-param also start the same library as a trade-server plugin
 *                  (ts_plugin_startup) with these parameters, side by side with the
 *                  gateway instance: each request thread also fires one on_deal_add on
 *                  the server's sink, deal ticket = the request id
 *   --about-check  call ts_gateway_about and print its parameter table
 *   --reload       after startup, call ts_plugin_config_set on the gateway instance with
 *                  these parameters (the --param ones plus these) and print its result
 *   TRADETAP_HOST_API_VERSION / TRADETAP_GATEWAY_API_SIZE (environment): override the
 *                  table's api_version / struct_size
 *
 * Prints "startup=<code>", "server_startup=<code>", "reload=<code>", "hooks_returned=<n>",
 * "requests=<n>", "executions=<n>", "server_deals=<n>", "hostile=<n>" and
 * "cleanup=done"; exits 0 when every startup succeeded.
 */
#define _GNU_SOURCE
#include "trade_server_api.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_PARAMS 64

typedef ts_result (*about_fn)(ts_plugin_info *);
typedef ts_result (*gw_startup_fn)(const ts_gateway_api *, ts_plugin **);
typedef ts_result (*srv_startup_fn)(const ts_server_api *, ts_plugin **);
typedef void (*cleanup_fn)(ts_plugin *);
typedef ts_result (*config_fn)(ts_plugin *, const ts_param *, uint32_t);

typedef struct param_set {
  const char *names[MAX_PARAMS];
  const char *values[MAX_PARAMS];
  int count;
} param_set;

static struct {
  param_set gateway_params;
  param_set server_params;
  param_set reload_params;
  int threads;
  long requests;
  int hostile;
  uint32_t gateway_id;
  uint32_t server_id;
  const char *log_path;
  int linger_ms;
  int about_check;
} options = {.threads = 2, .requests = 100, .gateway_id = 501, .server_id = 1};

static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static ts_gateway_sink gateway_sink;
static int gateway_subscribed;
static ts_event_sink server_sink;
static int server_subscribed;

/* ---- the host functions both tables share -------------------------------- */

static void host_log(void *host, int32_t level, const char *message) {
  static const char *names[] = {"debug", "info", "warn", "error"};
  pthread_mutex_lock(&log_lock);
  fprintf(log_file, "[%s] %s%s\n", (level >= 0 && level <= 3) ? names[level] : "?",
          host == (void *)&options.server_params ? "(server) " : "", message ? message : "(null)");
  fflush(log_file);
  pthread_mutex_unlock(&log_lock);
}

static int64_t host_time_msc(void *host) {
  (void)host;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 120 * 60000; /* broker time: UTC+2 */
}

/* host is the param_set of the instance asking. */
static ts_result host_param_get(void *host, const char *name, char *value, uint32_t value_size) {
  const param_set *set = host;
  if (!name || !value || value_size == 0) return TS_ERR_INVALID_ARGUMENT;
  const char *found = NULL;
  for (int i = 0; i < set->count; i++)
    if (strcmp(set->names[i], name) == 0) found = set->values[i];
  if (!found && set == &options.gateway_params) { /* environment: TRADETAP_PARAM_<name with '.' as '_'> */
    char key[128];
    snprintf(key, sizeof key, "TRADETAP_PARAM_%s", name);
    for (char *c = key; *c; c++) if (*c == '.') *c = '_';
    found = getenv(key);
  }
  if (!found) return TS_ERR_NOT_FOUND;
  snprintf(value, value_size, "%s", found);
  return TS_OK;
}

/* ---- ts_gateway_api -------------------------------------------------------- */

static ts_result gateway_subscribe(void *host, const ts_gateway_sink *sink) {
  (void)host;
  if (!sink || sink->struct_size < sizeof(ts_gateway_sink)) return TS_ERR_INVALID_ARGUMENT;
  gateway_sink = *sink;
  gateway_subscribed = 1;
  return TS_OK;
}

static ts_result gateway_unsubscribe(void *host, const ts_gateway_sink *sink) {
  (void)host;
  if (!sink || !gateway_subscribed) return TS_ERR_NOT_FOUND;
  gateway_subscribed = 0; /* the firing threads were joined before cleanup */
  memset(&gateway_sink, 0, sizeof gateway_sink);
  return TS_OK;
}

/* The execution store: ids assigned and records stored under one lock, so the
 * store is in id order (what executions_enum walks). */
static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static ts_execution *store;
static size_t stored, store_capacity;
static uint64_t last_execution_id;

static uint64_t store_execution(ts_execution *e) {
  pthread_mutex_lock(&store_lock);
  e->execution_id = ++last_execution_id;
  if (stored == store_capacity) {
    store_capacity = store_capacity ? 2 * store_capacity : 1024;
    store = realloc(store, store_capacity * sizeof *store);
  }
  store[stored++] = *e;
  pthread_mutex_unlock(&store_lock);
  return e->execution_id;
}

static ts_result gateway_executions_enum(void *host, uint64_t after, ts_execution_visitor visit, void *ctx) {
  (void)host;
  if (!visit) return TS_ERR_INVALID_ARGUMENT;
  pthread_mutex_lock(&store_lock);
  for (size_t i = 0; i < stored; i++)
    if (store[i].execution_id > after && visit(ctx, &store[i])) break;
  pthread_mutex_unlock(&store_lock);
  return TS_OK;
}

/* ---- a minimal ts_server_api for the side-by-side server instance ---------- */

static ts_result server_subscribe(void *host, const ts_event_sink *sink) {
  (void)host;
  if (!sink || sink->struct_size < sizeof(ts_event_sink)) return TS_ERR_INVALID_ARGUMENT;
  server_sink = *sink;
  server_subscribed = 1;
  return TS_OK;
}

static ts_result server_unsubscribe(void *host, const ts_event_sink *sink) {
  (void)host;
  if (!sink || !server_subscribed) return TS_ERR_NOT_FOUND;
  server_subscribed = 0;
  memset(&server_sink, 0, sizeof server_sink);
  return TS_OK;
}

/* ---- the gateway's flow ------------------------------------------------------ */

static void fill_request(ts_request *r, uint64_t id, long i) {
  memset(r, 0, sizeof *r);
  r->struct_size = sizeof *r;
  r->request_id = id;
  r->server_id = 1 + (uint32_t)(i % 2);
  r->login = 2000 + (uint64_t)(i % 10);
  snprintf(r->group, sizeof r->group, "real\\a-book");
  snprintf(r->symbol, sizeof r->symbol, "EURUSD");
  r->digits = 5;
  r->action = TS_TA_MARKET;
  r->type = (uint32_t)(i % 2);
  r->volume_ext = 100000000;
  r->order = id;
  r->price_bid = 1.08120;
  r->price_ask = 1.08130;
  r->price_order = r->type == TS_ORDER_BUY ? r->price_ask : r->price_bid;
  r->time_msc = host_time_msc(NULL);
}

static void fill_confirm(ts_confirm *c, const ts_request *r, int32_t retcode) {
  memset(c, 0, sizeof *c);
  c->struct_size = sizeof *c;
  c->request_id = r->request_id;
  c->server_id = r->server_id;
  c->retcode = retcode;
  c->order = r->order;
  c->volume_ext = r->volume_ext;
  c->price = r->price_order;
  c->price_bid = r->price_bid;
  c->price_ask = r->price_ask;
  c->time_msc = host_time_msc(NULL);
}

static void fill_execution(ts_execution *e, const ts_request *r, uint32_t action, uint64_t volume, uint64_t remaining, int part) {
  memset(e, 0, sizeof *e);
  e->struct_size = sizeof *e;
  e->server_id = r->server_id;
  e->action = action;
  e->request_id = r->request_id;
  e->login = r->login;
  memcpy(e->group, r->group, sizeof e->group);
  memcpy(e->symbol, r->symbol, sizeof e->symbol);
  e->digits = r->digits;
  e->order = r->order;
  snprintf(e->order_external_id, sizeof e->order_external_id, "LP-O-%llx", (unsigned long long)r->request_id);
  e->order_type = r->type;
  e->order_volume_ext = r->volume_ext;
  e->order_price = r->price_order;
  if (action == TS_TE_ORDER_FILL) {
    snprintf(e->deal_external_id, sizeof e->deal_external_id, "LP-D-%llx-%d", (unsigned long long)r->request_id, part);
    e->deal_action = r->type == TS_ORDER_BUY ? TS_DEAL_BUY : TS_DEAL_SELL;
    e->deal_volume_ext = volume;
    e->deal_volume_remaining_ext = remaining;
    e->deal_price = r->price_order + (r->type == TS_ORDER_BUY ? 0.00002 : -0.00002); /* 2 points adverse */
    e->price_gateway = r->price_order;
    e->deal_commission = -0.7;
  } else {
    e->external_retcode = TS_RET_REQUEST_REJECT;
  }
  e->time_msc = host_time_msc(NULL);
}

static long executions_sent[64];

/* One request's whole flow. Returns the hooks fired. */
static long play_request(int thread, long i) {
  uint64_t id = ((uint64_t)(thread + 1) << 32) | (uint64_t)i;
  void *ctx = gateway_sink.context;
  long fired = 0;
  ts_request r;
  ts_confirm c;
  ts_execution e;
  fill_request(&r, id, i);
  gateway_sink.on_dealer_lock(ctx, &r); fired++;
  fill_confirm(&c, &r, TS_RET_REQUEST_PLACED);
  gateway_sink.on_dealer_answer(ctx, &c); fired++;
  int parts = i % 5 == 4 ? 1 : (i % 3 == 0 ? 2 : 1);
  for (int part = 0; part < parts; part++) {
    if (i % 5 == 4) {
      fill_execution(&e, &r, TS_TE_ORDER_REJECT, 0, r.volume_ext, part);
    } else {
      uint64_t volume = r.volume_ext / (uint64_t)parts;
      fill_execution(&e, &r, TS_TE_ORDER_FILL, volume, r.volume_ext - volume * (uint64_t)(part + 1), part);
    }
    uint64_t execution_id = store_execution(&e); /* stored before it is sent, as MT5's gateways do */
    gateway_sink.on_execution(ctx, &e); fired++;
    executions_sent[thread]++;
    gateway_sink.on_execution_ack(ctx, e.server_id, execution_id); fired++;
  }
  if (server_subscribed) {
    ts_deal d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.deal = id;
    d.login = r.login;
    d.order = r.order;
    d.position_id = r.order;
    d.action = TS_DEAL_BUY;
    snprintf(d.symbol, sizeof d.symbol, "EURUSD");
    d.digits = 5;
    d.currency_digits = 2;
    d.time_msc = 1700000000000 + i;
    d.price = 1.0813;
    d.volume_ext = r.volume_ext;
    d.contract_size = 100000;
    server_sink.on_deal_add(server_sink.context, &d);
  }
  return fired;
}

static long hooks_fired[64];

static void *request_thread(void *arg) {
  int thread = (int)(long)arg;
  for (long i = 0; i < options.requests; i++) hooks_fired[thread] += play_request(thread, i);
  return NULL;
}

/* Memory whose last byte is followed by a PROT_NONE page. */
static unsigned char *guarded_page;
static long page_size;

static void *at_page_end(const void *bytes, size_t n) {
  unsigned char *dst = guarded_page + page_size - n;
  memcpy(dst, bytes, n);
  return dst;
}

/* Every hostile input, once, in this order (the tests index them):
 *  0 request NULL           1 request size 0        2 request size 3
 *  3 request size huge      4 request cut at 100    5 request NaN price_order
 *  6 request +inf bid       7 request action 999    8 request invalid UTF-8 symbol
 *  9 request group/comment without NUL (valid)
 * 10 confirm NULL          11 confirm size 7        12 confirm NaN price
 * 13 confirm comment without NUL (valid)
 * 14 execution NULL        15 execution NaN deal_price  16 execution action 77
 * 17 execution deal_action 99  18 execution size huge  19 execution cut at 200
 * 20 execution every string without NUL (valid)     21 execution invalid UTF-8 deal_external_id
 * 22 ack (valid)           23 ack of the largest ids (valid)
 * Returns the number of hooks fired. */
static long fire_hostile(void) {
  void *ctx = gateway_sink.context;
  long fired = 0;
  ts_request r;
  ts_confirm c;
  ts_execution e;
  uint32_t tiny;

  gateway_sink.on_dealer_lock(ctx, NULL); fired++;
  tiny = 0; gateway_sink.on_dealer_lock(ctx, at_page_end(&tiny, 4)); fired++;
  tiny = 3; gateway_sink.on_dealer_lock(ctx, at_page_end(&tiny, 4)); fired++;
  fill_request(&r, 1, 1); r.struct_size = 0xFFFFFFFFu;
  gateway_sink.on_dealer_lock(ctx, at_page_end(&r, sizeof r)); fired++;
  fill_request(&r, 2, 2); r.struct_size = 100;
  gateway_sink.on_dealer_lock(ctx, at_page_end(&r, 100)); fired++;
  fill_request(&r, 3, 3); r.price_order = NAN;
  gateway_sink.on_dealer_lock(ctx, at_page_end(&r, sizeof r)); fired++;
  fill_request(&r, 4, 4); r.price_bid = INFINITY;
  gateway_sink.on_dealer_lock(ctx, at_page_end(&r, sizeof r)); fired++;
  fill_request(&r, 5, 5); r.action = 999;
  gateway_sink.on_dealer_lock(ctx, at_page_end(&r, sizeof r)); fired++;
  fill_request(&r, 6, 6); memcpy(r.symbol, "EUR\xff\xfe" "USD", 8);
  gateway_sink.on_dealer_lock(ctx, at_page_end(&r, sizeof r)); fired++;
  fill_request(&r, 7, 7); memset(r.group, 'G', sizeof r.group); memset(r.comment, 'C', sizeof r.comment);
  gateway_sink.on_dealer_lock(ctx, at_page_end(&r, sizeof r)); fired++;

  fill_request(&r, 8, 8);
  gateway_sink.on_dealer_answer(ctx, NULL); fired++;
  fill_confirm(&c, &r, TS_RET_REQUEST_PLACED); c.struct_size = 7;
  gateway_sink.on_dealer_answer(ctx, at_page_end(&c, 8)); fired++;
  fill_confirm(&c, &r, TS_RET_REQUEST_DONE); c.price = NAN;
  gateway_sink.on_dealer_answer(ctx, at_page_end(&c, sizeof c)); fired++;
  fill_confirm(&c, &r, TS_RET_REQUEST_REJECT); memset(c.comment, 'R', sizeof c.comment);
  gateway_sink.on_dealer_answer(ctx, at_page_end(&c, sizeof c)); fired++;

  gateway_sink.on_execution(ctx, NULL); fired++;
  fill_execution(&e, &r, TS_TE_ORDER_FILL, r.volume_ext, 0, 0); e.execution_id = 900001; e.deal_price = NAN;
  gateway_sink.on_execution(ctx, at_page_end(&e, sizeof e)); fired++;
  fill_execution(&e, &r, TS_TE_ORDER_FILL, r.volume_ext, 0, 0); e.execution_id = 900002; e.action = 77;
  gateway_sink.on_execution(ctx, at_page_end(&e, sizeof e)); fired++;
  fill_execution(&e, &r, TS_TE_ORDER_FILL, r.volume_ext, 0, 0); e.execution_id = 900003; e.deal_action = 99;
  gateway_sink.on_execution(ctx, at_page_end(&e, sizeof e)); fired++;
  fill_execution(&e, &r, TS_TE_ORDER_FILL, r.volume_ext, 0, 0); e.execution_id = 900004; e.struct_size = 0x7FFFFFFFu;
  gateway_sink.on_execution(ctx, at_page_end(&e, sizeof e)); fired++;
  fill_execution(&e, &r, TS_TE_ORDER_FILL, r.volume_ext, 0, 0); e.execution_id = 900005; e.struct_size = 200;
  gateway_sink.on_execution(ctx, at_page_end(&e, 200)); fired++;
  fill_execution(&e, &r, TS_TE_ORDER_FILL, r.volume_ext, 0, 0); e.execution_id = 900006;
  memset(e.group, 'G', sizeof e.group); memset(e.symbol, 'S', sizeof e.symbol);
  memset(e.order_external_id, 'O', sizeof e.order_external_id);
  memset(e.deal_external_id, 'D', sizeof e.deal_external_id); memset(e.comment, 'C', sizeof e.comment);
  gateway_sink.on_execution(ctx, at_page_end(&e, sizeof e)); fired++;
  fill_execution(&e, &r, TS_TE_ORDER_FILL, r.volume_ext, 0, 0); e.execution_id = 900007;
  memcpy(e.deal_external_id, "LP\xc3\x28", 5);
  gateway_sink.on_execution(ctx, at_page_end(&e, sizeof e)); fired++;

  gateway_sink.on_execution_ack(ctx, 1, 42); fired++;
  gateway_sink.on_execution_ack(ctx, 0xFFFFFFFFu, UINT64_MAX); fired++;
  return fired;
}

/* ---- main ------------------------------------------------------------------ */

static void add_assignment(param_set *set, const char *text) {
  if (set->count >= MAX_PARAMS) { fprintf(stderr, "gateway-host: too many parameters\n"); exit(2); }
  char *copy = strdup(text);
  char *eq = strchr(copy, '=');
  if (!eq) { fprintf(stderr, "gateway-host: expected NAME=VALUE, got %s\n", text); exit(2); }
  *eq = 0;
  set->names[set->count] = copy;
  set->values[set->count] = eq + 1;
  set->count++;
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: gateway-host PLUGIN.so [options]\n"); return 2; }
  const char *plugin_path = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--param") && next) { add_assignment(&options.gateway_params, next); i++; }
    else if (!strcmp(a, "--server-param") && next) { add_assignment(&options.server_params, next); i++; }
    else if (!strcmp(a, "--reload") && next) { add_assignment(&options.reload_params, next); i++; }
    else if (!strcmp(a, "--threads") && next) { options.threads = atoi(next); i++; }
    else if (!strcmp(a, "--requests") && next) { options.requests = atol(next); i++; }
    else if (!strcmp(a, "--hostile")) { options.hostile = 1; }
    else if (!strcmp(a, "--gateway-id") && next) { options.gateway_id = (uint32_t)atol(next); i++; }
    else if (!strcmp(a, "--server-id") && next) { options.server_id = (uint32_t)atol(next); i++; }
    else if (!strcmp(a, "--log") && next) { options.log_path = next; i++; }
    else if (!strcmp(a, "--linger-ms") && next) { options.linger_ms = atoi(next); i++; }
    else if (!strcmp(a, "--about-check")) { options.about_check = 1; }
    else { fprintf(stderr, "gateway-host: unknown option %s\n", a); return 2; }
  }
  if (options.threads < 1 || options.threads > 64) { fprintf(stderr, "gateway-host: --threads 1..64\n"); return 2; }
  log_file = options.log_path ? fopen(options.log_path, "a") : stderr;
  if (!log_file) { perror("gateway-host: --log"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  page_size = sysconf(_SC_PAGESIZE);
  guarded_page = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mprotect(guarded_page + page_size, page_size, PROT_NONE);

  void *library = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
  if (!library) { fprintf(stderr, "gateway-host: dlopen: %s\n", dlerror()); return 2; }
  about_fn about = (about_fn)dlsym(library, "ts_gateway_about");
  gw_startup_fn startup = (gw_startup_fn)dlsym(library, "ts_gateway_startup");
  cleanup_fn cleanup = (cleanup_fn)dlsym(library, "ts_gateway_cleanup");
  if (!about || !startup || !cleanup) { fprintf(stderr, "gateway-host: missing ts_gateway_* symbol\n"); return 2; }
  if (options.about_check) {
    ts_plugin_info *info = calloc(1, sizeof *info);
    info->struct_size = sizeof *info;
    ts_result rc = about(info);
    printf("about=%d\nabout.name=%s\nabout.description=%.*s\n", rc, info->name, 256, info->description);
    for (uint32_t i = 0; i < info->params_total && i < 32; i++)
      printf("about.param=%.*s=%.*s\n", 64, info->params[i].name, 256, info->params[i].value);
    free(info);
    return rc == TS_OK ? 0 : 1;
  }

  ts_gateway_info info = {.struct_size = sizeof info, .gateway_id = options.gateway_id, .utc_offset_minutes = 120};
  snprintf(info.name, sizeof info.name, "c-gateway-host");
  snprintf(info.build, sizeof info.build, "1");
  ts_gateway_api api = {
    .struct_size = sizeof api, .api_version = TS_API_VERSION, .host = &options.gateway_params, .info = &info,
    .log = host_log, .time_msc = host_time_msc, .param_get = host_param_get,
    .subscribe = gateway_subscribe, .unsubscribe = gateway_unsubscribe, .executions_enum = gateway_executions_enum,
  };
  const char *version_override = getenv("TRADETAP_HOST_API_VERSION");
  if (version_override) api.api_version = (uint32_t)atol(version_override);
  const char *size_override = getenv("TRADETAP_GATEWAY_API_SIZE");
  if (size_override) api.struct_size = (uint32_t)atol(size_override);

  /* The side-by-side trade server, through the four server exports. */
  ts_plugin *server_plugin = NULL;
  cleanup_fn server_cleanup = NULL;
  ts_server_info server_info = {.struct_size = sizeof server_info, .server_id = options.server_id,
                                .platform = TS_PLATFORM_MT5, .utc_offset_minutes = 120};
  snprintf(server_info.name, sizeof server_info.name, "c-gateway-host server");
  ts_server_api server_api = {
    .struct_size = sizeof server_api, .api_version = TS_API_VERSION, .host = &options.server_params,
    .info = &server_info, .log = host_log, .time_msc = host_time_msc, .param_get = host_param_get,
    .subscribe = server_subscribe, .unsubscribe = server_unsubscribe,
  };
  if (options.server_params.count > 0) {
    srv_startup_fn server_startup = (srv_startup_fn)dlsym(library, "ts_plugin_startup");
    server_cleanup = (cleanup_fn)dlsym(library, "ts_plugin_cleanup");
    if (!server_startup || !server_cleanup) { fprintf(stderr, "gateway-host: missing ts_plugin_* symbol\n"); return 2; }
    ts_result rc = server_startup(&server_api, &server_plugin);
    printf("server_startup=%d\n", rc);
    if (rc != TS_OK) return 3;
  }

  ts_plugin *plugin = NULL;
  ts_result rc = startup(&api, &plugin);
  printf("startup=%d\n", rc);
  if (rc != TS_OK) {
    if (server_plugin) server_cleanup(server_plugin);
    return 3;
  }
  if (options.reload_params.count > 0) {
    config_fn config_set = (config_fn)dlsym(library, "ts_plugin_config_set");
    static ts_param params[2 * MAX_PARAMS];
    uint32_t n = 0;
    const param_set *sets[2] = {&options.gateway_params, &options.reload_params};
    for (int k = 0; k < 2; k++)
      for (int i = 0; i < sets[k]->count; i++, n++) {
        snprintf(params[n].name, sizeof params[n].name, "%s", sets[k]->names[i]);
        snprintf(params[n].value, sizeof params[n].value, "%s", sets[k]->values[i]);
      }
    printf("reload=%d\n", config_set ? config_set(plugin, params, n) : -1);
  }
  pthread_t threads[64];
  for (int t = 0; t < options.threads; t++) pthread_create(&threads[t], NULL, request_thread, (void *)(long)t);
  for (int t = 0; t < options.threads; t++) pthread_join(threads[t], NULL);
  long returned = 0, executions = 0;
  for (int t = 0; t < options.threads; t++) { returned += hooks_fired[t]; executions += executions_sent[t]; }
  printf("requests=%ld\nexecutions=%ld\n", (long)options.threads * options.requests, executions);
  printf("server_deals=%ld\n", server_plugin ? (long)options.threads * options.requests : 0L);
  if (options.hostile) {
    long hostile = fire_hostile();
    returned += hostile;
    printf("hostile=%ld\n", hostile);
  }
  printf("hooks_returned=%ld\n", returned);
  if (options.linger_ms > 0) usleep((useconds_t)options.linger_ms * 1000);
  cleanup(plugin);
  if (server_plugin) server_cleanup(server_plugin);
  printf("cleanup=done\n");
  dlclose(library);
  free(store);
  return 0;
}
