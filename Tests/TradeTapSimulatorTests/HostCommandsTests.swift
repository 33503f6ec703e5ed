import Foundation
import Testing
import TradeTapSimulator

/// The second round's host writes (`user_create`, `balance_change`) as a plugin calls
/// them from its own thread: the platforms' rules, the hooks they fire, and
/// `TS_ERR_NO_MONEY` where the platform refuses (credit is never the client's cash).
@Suite("Simulator: user_create and balance_change from a plugin's thread", .serialized)
struct HostCommandsTests {
  /// At cleanup, a thread of the plugin's runs a fixed list of writes and records
  /// each result, then the account as user_get sees it; its sink records the hooks.
  static let banker = #"""
  #include "trade_server_api.h"
  #include <pthread.h>
  #include <stdio.h>
  #include <string.h>

  static const ts_server_api *api;
  static FILE *out;
  static void deal_add(void *c, const ts_deal *d) { fprintf(out, "hook deal_add %llu action=%u profit=%.2f comment=%s\n", (unsigned long long)d->deal, d->action, d->profit, d->comment); }
  static void trade_add(void *c, const ts_trade_record *t, const ts_user_info *u, int32_t mode) { fprintf(out, "hook trade_add %d cmd=%d profit=%.2f comment=%s\n", t->order, t->cmd, t->profit, t->comment); }
  static void user_add(void *c, const ts_user *u) { fprintf(out, "hook user_add %llu group=%s\n", (unsigned long long)u->login, u->group); }
  static void user_update(void *c, const ts_user *u) { fprintf(out, "hook user_update %llu balance=%.2f credit=%.2f\n", (unsigned long long)u->login, u->balance, u->credit); }
  static ts_event_sink sink = { sizeof(ts_event_sink), 0, deal_add, 0, 0, 0, 0, 0, 0, 0, 0, trade_add, 0, user_add, user_update, 0 };

  static void change(const char *what, uint64_t login, uint32_t action, double amount, const char *comment) {
    uint64_t deal = 0;
    ts_result rc = api->balance_change(api->host, login, action, amount, comment, &deal);
    fprintf(out, "%s rc=%d deal=%s\n", what, rc, rc == TS_OK && deal ? "set" : "none");
  }
  static void *commands(void *arg) {
    int mt4 = api->info->platform == TS_PLATFORM_MT4;
    ts_user user; memset(&user, 0, sizeof user);
    user.struct_size = sizeof user;
    snprintf(user.group, sizeof user.group, "%s", mt4 ? "real" : "real\\hedging");
    snprintf(user.name, sizeof user.name, "CRM signup");
    snprintf(user.currency, sizeof user.currency, "USD");
    user.currency_digits = 2; user.leverage = 100;
    uint64_t login = 0;
    ts_result rc = api->user_create(api->host, &user, &login);
    fprintf(out, "create rc=%d login=%s\n", rc, login > 7001 ? "assigned" : "none");
    change("deposit", login, TS_DEAL_BALANCE, 100.0, "TT#1 deposit");
    change("credit_in", login, TS_DEAL_CREDIT, 50.0, "TT#2 credit");
    change("withdraw_beyond_cash", login, TS_DEAL_BALANCE, -120.0, "TT#3");
    change("withdraw_all", login, TS_DEAL_BALANCE, -100.0, "TT#4 withdrawal");
    change("credit_out_beyond", login, TS_DEAL_CREDIT, -60.0, "TT#5");
    change("too_many_decimals", login, TS_DEAL_BALANCE, 1.005, "TT#6");
    change("zero", login, TS_DEAL_BALANCE, 0.0, "TT#7");
    change("unknown_login", 999999, TS_DEAL_BALANCE, 1.0, "TT#8");
    change("bonus", login, TS_DEAL_BONUS, 5.0, "TT#9");
    uint64_t again = 0;
    user.login = login;
    rc = api->user_create(api->host, &user, &again);
    fprintf(out, "create_again_same_login rc=%d\n", rc);
    ts_user after; memset(&after, 0, sizeof after); after.struct_size = sizeof after;
    api->user_get(api->host, login, &after);
    fprintf(out, "account balance=%.2f credit=%.2f\n", after.balance, after.credit);
    return 0;
  }
  ts_result ts_plugin_about(ts_plugin_info *info) { info->api_version = TS_API_VERSION; strcpy(info->name, "Banker"); return TS_OK; }
  ts_result ts_plugin_startup(const ts_server_api *a, ts_plugin **p) {
    char path[256];
    api = a;
    if (a->param_get(a->host, "Record", path, sizeof path) != TS_OK || !(out = fopen(path, "w"))) return TS_ERR_CONFIG;
    setvbuf(out, NULL, _IOLBF, 0);
    if (a->struct_size < sizeof(ts_server_api) || !a->user_create || !a->balance_change) { fprintf(out, "no commands\n"); }
    a->subscribe(a->host, &sink);
    *p = (ts_plugin *)&sink;
    return TS_OK;
  }
  void ts_plugin_cleanup(ts_plugin *p) {
    pthread_t thread;
    pthread_create(&thread, 0, commands, 0);
    pthread_join(thread, 0);
    api->unsubscribe(api->host, &sink);
    fclose(out);
  }
  ts_result ts_plugin_config_set(ts_plugin *p, const ts_param *params, uint32_t n) { return TS_OK; }
  """#

  static func run(_ platform: SimulationConfiguration.Platform, step: String) throws -> String {
    let library = try CPlugins.build("banker", source: Self.banker)
    let record = temporaryFile("banker-\(platform).txt")
    var configuration = SimulationConfiguration()
    configuration.platform = platform
    configuration.plugins = [library]
    configuration.parameters = ["Record": record]
    configuration.scenario = try writeScenario("banker-\(platform).jsonl", [step])
    let journal = try HostJournal(path: temporaryFile("banker-\(platform)-journal.log"), keepsLines: true)
    let server = SimulatedTradeServer(configuration: configuration, journal: journal)
    #expect(server.loadPlugins() == 1)
    _ = try server.run()
    server.unloadPlugins()
    return try String(contentsOfFile: record, encoding: .utf8)
  }

  static func results(_ text: String) -> [String] {
    text.split(separator: "\n").filter { !$0.hasPrefix("hook ") }.map(String.init)
  }

  @Test func mt5WritesFollowThePlatformsRulesAndFireTheirHooks() throws {
    let text = try Self.run(.mt5, step: #"{"op":"create_account","login":7001,"margin":"hedging"}"#)
    #expect(Self.results(text) == [
      "create rc=0 login=assigned", "deposit rc=0 deal=set", "credit_in rc=0 deal=set",
      "withdraw_beyond_cash rc=9 deal=none", "withdraw_all rc=0 deal=set", "credit_out_beyond rc=9 deal=none",
      "too_many_decimals rc=2 deal=none", "zero rc=2 deal=none", "unknown_login rc=6 deal=none", "bonus rc=0 deal=set",
      "create_again_same_login rc=2", "account balance=5.00 credit=50.00",
    ])
    // Each write fired its hooks, the comment verbatim: user_add, then per deal a deal_add and a user_update.
    #expect(text.contains("hook user_add 7002 group=real\\hedging"))
    #expect(text.contains("action=2 profit=100.00 comment=TT#1 deposit"))
    #expect(text.contains("action=2 profit=-100.00 comment=TT#4 withdrawal"))
    #expect(text.split(separator: "\n").filter { $0.hasPrefix("hook deal_add") }.count == 4)
    #expect(text.split(separator: "\n").filter { $0.hasPrefix("hook user_update 7002") }.count == 4)
  }

  @Test func mt4TakesBalanceAndCreditOnlyAndCutsTheCommentToItsField() throws {
    let text = try Self.run(.mt4, step: #"{"op":"create_account","login":7001}"#)
    #expect(Self.results(text) == [
      "create rc=0 login=assigned", "deposit rc=0 deal=set", "credit_in rc=0 deal=set",
      "withdraw_beyond_cash rc=9 deal=none", "withdraw_all rc=0 deal=set", "credit_out_beyond rc=9 deal=none",
      "too_many_decimals rc=2 deal=none", "zero rc=2 deal=none", "unknown_login rc=6 deal=none", "bonus rc=2 deal=none",
      "create_again_same_login rc=2", "account balance=0.00 credit=50.00",
    ])
    #expect(text.contains("cmd=6 profit=100.00 comment=TT#1 deposit"))
    #expect(text.contains("cmd=7 profit=50.00 comment=TT#2 credit"))
    #expect(text.split(separator: "\n").filter { $0.hasPrefix("hook trade_add") }.count == 3)
  }
}
