import Foundation

/// Tiny C plugins written against the ABI header alone and compiled with `cc`,
/// so the tests exercise the host exactly as a third-party plugin would.
enum CPlugins {
  static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path
  static let headerFolder = packageRoot + "/CInterop/TradeServerAPI/include"

  /// Records every hook call (one line each) into the file named by parameter
  /// `Record`; subscribes first and fails with TS_ERR_CONFIG when `Record` is
  /// missing, so a failed startup leaves a subscription the host must drop. A
  /// thread of its own walks users_enum / positions_enum / trades_enum until cleanup.
  static let recorder = #"""
  #include "trade_server_api.h"
  #include <pthread.h>
  #include <stdarg.h>
  #include <stdint.h>
  #include <stdio.h>
  #include <string.h>

  static const ts_server_api *api;
  static FILE *out;
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  static pthread_t walker;
  static volatile int stopping;
  static long walks, seen;

  static void rec(const char *fmt, ...) {
    va_list ap; va_start(ap, fmt);
    pthread_mutex_lock(&mu); vfprintf(out, fmt, ap); fputc('\n', out); pthread_mutex_unlock(&mu);
    va_end(ap);
  }
  static void deal_add(void *c, const ts_deal *d) { rec("deal_add %llu entry=%u action=%u login=%llu profit=%.2f", (unsigned long long)d->deal, d->entry, d->action, (unsigned long long)d->login, d->profit); }
  static void order_add(void *c, const ts_order *o) { rec("order_add %llu state=%u", (unsigned long long)o->order, o->state); }
  static void order_update(void *c, const ts_order *o) { rec("order_update %llu state=%u", (unsigned long long)o->order, o->state); }
  static void order_delete(void *c, const ts_order *o) { rec("order_delete %llu state=%u", (unsigned long long)o->order, o->state); }
  static void position_add(void *c, const ts_position *p) { rec("position_add %llu volume=%llu", (unsigned long long)p->position, (unsigned long long)p->volume_ext); }
  static void position_update(void *c, const ts_position *p) { rec("position_update %llu volume=%llu", (unsigned long long)p->position, (unsigned long long)p->volume_ext); }
  static void position_delete(void *c, const ts_position *p) { rec("position_delete %llu volume=%llu", (unsigned long long)p->position, (unsigned long long)p->volume_ext); }
  static void trade_add(void *c, const ts_trade_record *t, const ts_user_info *u, int32_t mode) { rec("trade_add %d mode=%d cmd=%d volume=%d comment=%s balance=%.2f", t->order, mode, t->cmd, t->volume, t->comment, u ? u->balance : -1.0); }
  static void trade_update(void *c, const ts_trade_record *t, const ts_user_info *u, int32_t mode) { rec("trade_update %d mode=%d cmd=%d volume=%d comment=%s balance=%.2f", t->order, mode, t->cmd, t->volume, t->comment, u ? u->balance : -1.0); }
  static void user_add(void *c, const ts_user *u) { rec("user_add %llu balance=%.2f credit=%.2f", (unsigned long long)u->login, u->balance, u->credit); }
  static void user_update(void *c, const ts_user *u) { rec("user_update %llu balance=%.2f credit=%.2f", (unsigned long long)u->login, u->balance, u->credit); }
  static ts_event_sink sink = { sizeof(ts_event_sink), 0, deal_add, 0, 0, order_add, order_update, order_delete,
    position_add, position_update, position_delete, trade_add, trade_update, user_add, user_update, 0 };

  static int32_t count_user(void *ctx, const ts_user *u) { seen++; return 0; }
  static int32_t count_position(void *ctx, const ts_position *p) { seen++; return 0; }
  static int32_t count_trade(void *ctx, const ts_trade_record *t) { seen++; return 0; }
  static long count_deal_calls;
  static int32_t count_deal(void *ctx, const ts_deal *d) { (*(long *)ctx)++; return 0; }
  static int32_t count_record(void *ctx, const ts_trade_record *t) { (*(long *)ctx)++; return 0; }
  static int32_t sum_user(void *ctx, const ts_user *u) { (*(long *)ctx)++; return 0; }
  static void *walk(void *arg) {
    do {
      api->users_enum(api->host, count_user, 0);
      if (api->info->platform == TS_PLATFORM_MT5) api->positions_enum(api->host, 0, count_position, 0);
      else api->trades_enum(api->host, 0, 1, count_trade, 0);
      walks++;
    } while (!stopping);
    return 0;
  }

  ts_result ts_plugin_about(ts_plugin_info *info) {
    info->api_version = TS_API_VERSION;
    strcpy(info->name, "Recorder"); strcpy(info->version, "1.0"); strcpy(info->vendor, "tests");
    return TS_OK;
  }
  ts_result ts_plugin_startup(const ts_server_api *a, ts_plugin **plugin) {
    char path[256];
    api = a;
    api->subscribe(api->host, &sink);
    if (api->param_get(api->host, "Record", path, sizeof path) != TS_OK) {
      api->log(api->host, TS_LOG_ERROR, "parameter Record is required");
      return TS_ERR_CONFIG;
    }
    out = fopen(path, "w");
    if (!out) return TS_ERR_IO;
    fprintf(out, "startup server=%u platform=%u offset=%d time=%lld\n", api->info->server_id, api->info->platform,
            api->info->utc_offset_minutes, (long long)api->time_msc(api->host));
    api->log(api->host, TS_LOG_INFO, "recording hooks");
    stopping = 0;
    pthread_create(&walker, 0, walk, 0);
    *plugin = (ts_plugin *)&sink;
    return TS_OK;
  }
  void ts_plugin_cleanup(ts_plugin *plugin) {
    stopping = 1;
    pthread_join(walker, 0);
    ts_result unsubscribed = api->unsubscribe(api->host, &sink);
    long users = 0, deals = 0, records = 0, open = 0;
    ts_user first;
    api->users_enum(api->host, sum_user, &users);
    int has_deals = api->deals_enum(api->host, 0, INT64_MAX, count_deal, &deals) == TS_OK;
    int has_trades = api->trades_enum(api->host, 0, 0, count_record, &records) == TS_OK;
    api->trades_enum(api->host, 0, 1, count_record, &open);
    int found = api->user_get(api->host, 7001, &first) == TS_OK || api->user_get(api->host, 4001, &first) == TS_OK;
    fprintf(out, "cleanup walks=%s users=%ld deals=%s%ld records=%s%ld open=%ld user_get=%s balance=%.2f unsubscribe=%d\n",
            walks > 0 ? "some" : "none", users, has_deals ? "" : "n/a:", deals, has_trades ? "" : "n/a:", records,
            open, found ? "found" : "missing", found ? first.balance : 0.0, unsubscribed);
    fclose(out);
  }
  ts_result ts_plugin_config_set(ts_plugin *plugin, const ts_param *params, uint32_t count) { return TS_OK; }
  """#

  /// Counts hook calls and returns: the cheapest possible plugin (hook-offer rate).
  static let counter = #"""
  #include "trade_server_api.h"
  #include <stdio.h>
  #include <string.h>
  static const ts_server_api *api;
  static unsigned long long calls;
  static void deal(void *c, const ts_deal *d) { __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED); }
  static void order(void *c, const ts_order *o) { __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED); }
  static void position(void *c, const ts_position *p) { __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED); }
  static void trade(void *c, const ts_trade_record *t, const ts_user_info *u, int32_t m) { __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED); }
  static void user(void *c, const ts_user *u) { __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED); }
  static ts_event_sink sink = { sizeof(ts_event_sink), 0, deal, deal, deal, order, order, order, position, position,
    position, trade, trade, user, user, user };
  ts_result ts_plugin_about(ts_plugin_info *info) { info->api_version = TS_API_VERSION; strcpy(info->name, "Counter"); return TS_OK; }
  ts_result ts_plugin_startup(const ts_server_api *a, ts_plugin **p) { api = a; calls = 0; api->subscribe(api->host, &sink); *p = (ts_plugin *)&sink; return TS_OK; }
  void ts_plugin_cleanup(ts_plugin *p) {
    char line[64];
    snprintf(line, sizeof line, "hook calls: %llu", calls);
    api->log(api->host, TS_LOG_INFO, line);
  }
  ts_result ts_plugin_config_set(ts_plugin *p, const ts_param *params, uint32_t n) {
    char line[400], value[256];
    if (n == 0 || api->param_get(api->host, params[0].name, value, sizeof value) != TS_OK) return TS_ERR_CONFIG;
    snprintf(line, sizeof line, "config_set %u params, first %s=%s, param_get agrees: %s", n, params[0].name,
             params[0].value, strcmp(value, params[0].value) == 0 ? "yes" : "no");
    api->log(api->host, TS_LOG_INFO, line);
    return TS_OK;
  }
  """#

  /// Writes `source` to a temporary folder and builds it into a shared library.
  static func build(_ name: String, source: String) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tradetap-sim-tests-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let sourcePath = folder.appendingPathComponent("\(name).c").path
    let libraryPath = folder.appendingPathComponent("lib\(name).so").path
    try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
    let cc = Process()
    cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    cc.arguments = ["cc", "-std=c11", "-O2", "-shared", "-fPIC", "-pthread", "-I", headerFolder, sourcePath, "-o", libraryPath]
    try cc.run()
    cc.waitUntilExit()
    guard cc.terminationStatus == 0 else { throw CompileFailure(name: name) }
    return libraryPath
  }

  struct CompileFailure: Error { var name: String }
}
