/*
 * trade_server_api.h: the Trade Server Plugin API, version 1.
 *
 * A trade server (the "host") publishes this C ABI; a plugin is a shared library
 * that exports exactly four functions (ts_plugin_about, ts_plugin_startup,
 * ts_plugin_cleanup, ts_plugin_config_set), plus three for the gateway model
 * (ts_gateway_about, ts_gateway_startup, ts_gateway_cleanup), and is loaded with dlopen. It is
 * modelled on the MetaTrader 4 and 5 Server APIs (MtSrvStartup / IMTServerAPI);
 * the normative specification is shared/spec/plugin-abi.md.
 *
 * Conventions (they hold for every declaration below):
 *   - Every struct begins with `uint32_t struct_size`, set by whoever fills it.
 *     A reader uses only the fields that lie inside struct_size. Fields are only
 *     ever appended ("add new members to the end of a struct only").
 *   - Strings are fixed char arrays of UTF-8. Shorter than the array they are
 *     NUL-terminated; a full array with no NUL is valid and has the array's length.
 *     Never read past the array.
 *   - Money and prices are doubles, as the platforms keep them. Volumes are
 *     integers. Times are broker time (the server's local clock, not UTC): in
 *     milliseconds (`*_msc`) for the MT5 dialect, in seconds for the MT4 dialect.
 *     ts_server_info.utc_offset_minutes converts: utc = broker - offset.
 *   - Every pointer passed to a callback is borrowed for the duration of that call
 *     only. Copy what you need before returning.
 *   - Nothing crosses this boundary by exception, longjmp or abort: errors are
 *     ts_result codes plus a reason written through ts_server_api.log.
 *
 * Threads:
 *   [host thread]   called on one of the host's own threads, possibly many at once,
 *                   possibly while the host holds its own locks.
 *   [plugin thread] called by the plugin from a thread it created itself.
 *   [thread-safe]   may be called from any thread at any time.
 */
#ifndef TRADE_SERVER_API_H
#define TRADE_SERVER_API_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The API version this header describes. A plugin refuses a host whose
 *  ts_server_api.api_version differs (TS_ERR_VERSION). */
#define TS_API_VERSION 1

/* ------------------------------------------------------------------------ */
/* Result codes                                                              */
/* ------------------------------------------------------------------------ */

typedef int32_t ts_result;
#define TS_OK                   0 /**< success */
#define TS_ERR_VERSION          1 /**< api_version mismatch */
#define TS_ERR_INVALID_ARGUMENT 2 /**< NULL or malformed argument */
#define TS_ERR_CONFIG           3 /**< invalid parameters; the reason was logged */
#define TS_ERR_NO_MEMORY        4 /**< allocation or mapping failed */
#define TS_ERR_IO               5 /**< file or socket error */
#define TS_ERR_NOT_FOUND        6 /**< no such record, or not offered by this dialect */
#define TS_ERR_INTERNAL         7 /**< a bug; the reason was logged */
#define TS_ERR_BUSY             8 /**< try again later */
#define TS_ERR_NO_MONEY         9 /**< a withdrawal or credit out beyond what the account holds (second round) */

/* ------------------------------------------------------------------------ */
/* Enumerations (the values are fixed by the spec)                           */
/* ------------------------------------------------------------------------ */

/* Server dialect (ts_server_info.platform). */
#define TS_PLATFORM_MT4 4
#define TS_PLATFORM_MT5 5

/* Account margin mode (MT5 EnMarginMode, set per group). MT4 is always hedging. */
#define TS_MARGIN_RETAIL_NETTING 0
#define TS_MARGIN_EXCHANGE       1
#define TS_MARGIN_RETAIL_HEDGING 2

/* Deal action (MT5 EnDealAction). A balance-type deal (every action from
 * TS_DEAL_BALANCE up, except the two *_CANCELED) carries its amount in
 * ts_deal.profit: positive in, negative out. */
#define TS_DEAL_BUY                     0
#define TS_DEAL_SELL                    1
#define TS_DEAL_BALANCE                 2  /**< deposit (>0) or withdrawal (<0) */
#define TS_DEAL_CREDIT                  3  /**< credit in/out: not the client's cash */
#define TS_DEAL_CHARGE                  4
#define TS_DEAL_CORRECTION              5
#define TS_DEAL_BONUS                   6
#define TS_DEAL_COMMISSION              7
#define TS_DEAL_COMMISSION_DAILY        8
#define TS_DEAL_COMMISSION_MONTHLY      9
#define TS_DEAL_AGENT_DAILY             10
#define TS_DEAL_AGENT_MONTHLY           11
#define TS_DEAL_INTERESTRATE            12
#define TS_DEAL_BUY_CANCELED            13
#define TS_DEAL_SELL_CANCELED           14
#define TS_DEAL_DIVIDEND                15
#define TS_DEAL_DIVIDEND_FRANKED        16
#define TS_DEAL_TAX                     17
#define TS_DEAL_AGENT                   18
#define TS_DEAL_SO_COMPENSATION         19
#define TS_DEAL_SO_COMPENSATION_CREDIT  20

/* Deal entry. */
#define TS_ENTRY_IN     0 /**< opens or adds to a position */
#define TS_ENTRY_OUT    1 /**< closes or reduces a position */
#define TS_ENTRY_INOUT  2 /**< netting reversal: closes and opens the other way */
#define TS_ENTRY_OUT_BY 3 /**< close-by: closed against an opposite position */

/* Order type. */
#define TS_ORDER_BUY        0
#define TS_ORDER_SELL       1
#define TS_ORDER_BUY_LIMIT  2
#define TS_ORDER_SELL_LIMIT 3
#define TS_ORDER_BUY_STOP   4
#define TS_ORDER_SELL_STOP  5

/* Order state. */
#define TS_ORDER_STARTED  0
#define TS_ORDER_PLACED   1
#define TS_ORDER_CANCELED 2
#define TS_ORDER_PARTIAL  3
#define TS_ORDER_FILLED   4
#define TS_ORDER_REJECTED 5
#define TS_ORDER_EXPIRED  6

/* Position direction. */
#define TS_POSITION_BUY  0
#define TS_POSITION_SELL 1

/* Reason of a deal, order or position: MT5's numbers, forwarded unchanged;
 * values other than these may appear and must be passed through. */
#define TS_REASON_CLIENT   0
#define TS_REASON_EXPERT   1
#define TS_REASON_DEALER   2
#define TS_REASON_SL       3
#define TS_REASON_TP       4
#define TS_REASON_SO       5 /**< stop-out */
#define TS_REASON_ROLLOVER 6

/* MT4 trade command (ts_trade_record.cmd). */
#define TS_OP_BUY        0
#define TS_OP_SELL       1
#define TS_OP_BUY_LIMIT  2
#define TS_OP_SELL_LIMIT 3
#define TS_OP_BUY_STOP   4
#define TS_OP_SELL_STOP  5
#define TS_OP_BALANCE    6 /**< balance operation: amount in profit, reference in comment */
#define TS_OP_CREDIT     7 /**< credit operation: amount in profit, reference in comment */

/* MT4 on_trade_add mode. */
#define TS_OPEN_NEW      0
#define TS_OPEN_CLOSE    1
#define TS_OPEN_RESTORE  2
#define TS_OPEN_API      3
#define TS_OPEN_ROLLOVER 4

/* MT4 on_trade_update mode. */
#define TS_UPDATE_NORMAL   0
#define TS_UPDATE_ACTIVATE 1
#define TS_UPDATE_CLOSE    2
#define TS_UPDATE_DELETE   3

/* Log level (ts_server_api.log). */
#define TS_LOG_DEBUG 0
#define TS_LOG_INFO  1
#define TS_LOG_WARN  2
#define TS_LOG_ERROR 3

/* ------------------------------------------------------------------------ */
/* Records                                                                   */
/* ------------------------------------------------------------------------ */

/** One plugin parameter, as the admin console shows it. */
typedef struct ts_param {
  char name[64];
  char value[256];
} ts_param;

/** Filled by the plugin in ts_plugin_about. The host sets struct_size to the
 *  size it allocated; the plugin writes only fields inside it. */
typedef struct ts_plugin_info {
  uint32_t struct_size;
  uint32_t api_version;       /**< TS_API_VERSION the plugin was built against */
  char     name[64];
  char     version[32];
  char     vendor[64];
  char     description[256];
  uint32_t params_total;      /**< number of valid entries in params */
  ts_param params[32];        /**< parameters with their default values */
} ts_plugin_info;

/** Identity of the trade server. Owned by the host; valid until cleanup returns. */
typedef struct ts_server_info {
  uint32_t struct_size;
  uint32_t server_id;          /**< unique per broker; part of every ledger key */
  uint32_t platform;           /**< TS_PLATFORM_* */
  int32_t  utc_offset_minutes; /**< broker time minus UTC */
  char     name[64];
  char     build[32];
} ts_server_info;

/** A trading account (MT5 IMTUser; MT4 UserRecord). */
typedef struct ts_user {
  uint32_t struct_size;
  uint64_t login;
  char     group[64];
  char     name[128];
  char     email[64];
  char     country[32];
  char     currency[16];
  uint32_t currency_digits;    /**< decimals of the account currency (2 for USD) */
  uint32_t leverage;
  uint32_t margin_mode;        /**< TS_MARGIN_* of the account's group */
  double   balance;            /**< the client's cash */
  double   credit;             /**< broker credit: margin only, not withdrawable */
  int64_t  registration_msc;   /**< broker time */
  int64_t  last_update_msc;    /**< broker time */
  char     comment[64];
} ts_user;

/** A deal: one execution (fill) or one balance-type operation (MT5 IMTDeal). */
typedef struct ts_deal {
  uint32_t struct_size;
  uint64_t deal;               /**< deal ticket, unique per server */
  char     external_id[32];
  uint64_t login;
  uint64_t order;              /**< order that produced the fill; 0 for balance ops */
  uint64_t position_id;        /**< position the deal opened, changed or closed */
  uint32_t action;             /**< TS_DEAL_* */
  uint32_t entry;              /**< TS_ENTRY_* */
  uint32_t reason;             /**< TS_REASON_* or another MT5 value */
  char     symbol[32];         /**< empty for balance-type deals */
  uint32_t digits;             /**< price decimals of the symbol */
  uint32_t currency_digits;    /**< money decimals of the account currency */
  int64_t  time_msc;           /**< broker time */
  double   price;
  uint64_t volume_ext;         /**< 1/100,000,000 lot */
  double   contract_size;
  double   profit;             /**< amount of a balance-type deal */
  double   commission;
  double   storage;            /**< swap */
  double   fee;
  char     comment[64];
} ts_deal;

/** An order: a request, which deals fill (MT5 IMTOrder). */
typedef struct ts_order {
  uint32_t struct_size;
  uint64_t order;
  char     external_id[32];
  uint64_t login;
  char     symbol[32];
  uint32_t type;               /**< TS_ORDER_BUY .. TS_ORDER_SELL_STOP */
  uint32_t state;              /**< TS_ORDER_STARTED .. TS_ORDER_EXPIRED */
  uint32_t reason;
  uint32_t digits;
  double   price_order;
  double   price_sl;
  double   price_tp;
  uint64_t volume_initial_ext; /**< 1/100,000,000 lot */
  uint64_t volume_current_ext; /**< unfilled remainder */
  uint64_t position_id;
  int64_t  time_setup_msc;     /**< broker time */
  int64_t  time_done_msc;      /**< broker time; 0 while active */
  char     comment[64];
} ts_order;

/** An open position: the exposure deals built (MT5 IMTPosition). */
typedef struct ts_position {
  uint32_t struct_size;
  uint64_t position;           /**< position ticket (id of the opening order) */
  uint64_t login;
  char     symbol[32];
  uint32_t action;             /**< TS_POSITION_BUY / TS_POSITION_SELL */
  uint32_t digits;
  uint64_t volume_ext;         /**< 0 in on_position_delete after a full close */
  double   price_open;         /**< volume-weighted average */
  double   price_current;
  double   profit;             /**< floating profit */
  double   storage;            /**< accumulated swap */
  int64_t  time_create_msc;    /**< broker time */
  int64_t  time_update_msc;    /**< broker time */
  char     comment[64];
} ts_position;

/** An MT4 trade record (open or closed trade, or balance / credit operation). */
typedef struct ts_trade_record {
  uint32_t struct_size;
  int32_t  order;              /**< ticket */
  int32_t  login;
  char     symbol[12];         /**< empty for TS_OP_BALANCE / TS_OP_CREDIT */
  int32_t  digits;
  int32_t  cmd;                /**< TS_OP_* */
  int32_t  volume;             /**< lots x 100 */
  int32_t  open_time;          /**< broker-time seconds */
  int32_t  state;
  double   open_price;
  double   sl;
  double   tp;
  int32_t  close_time;         /**< broker-time seconds; 0 while open */
  double   close_price;
  double   commission;
  double   storage;            /**< swap */
  double   profit;             /**< amount of a balance or credit operation */
  double   taxes;
  int32_t  magic;
  char     comment[32];        /**< "from #123" on the remainder of a partial close */
  int32_t  timestamp;          /**< broker-time seconds of the last change */
} ts_trade_record;

/** The MT4 account a trade record belongs to, as the trade hooks see it. */
typedef struct ts_user_info {
  uint32_t struct_size;
  int32_t  login;
  char     group[16];
  char     name[128];
  int32_t  leverage;
  double   balance;
  double   credit;
} ts_user_info;

/* ------------------------------------------------------------------------ */
/* Visitors (query results). Return non-zero to stop the walk.               */
/* The record is borrowed for the duration of the call.                      */
/* ------------------------------------------------------------------------ */

typedef int32_t (*ts_user_visitor)(void *ctx, const ts_user *record);
typedef int32_t (*ts_position_visitor)(void *ctx, const ts_position *record);
typedef int32_t (*ts_deal_visitor)(void *ctx, const ts_deal *record);
typedef int32_t (*ts_trade_visitor)(void *ctx, const ts_trade_record *record);

/* ------------------------------------------------------------------------ */
/* Event sink: what a plugin wants to hear. A NULL member means "not wanted". */
/* Every member is called [host thread], from many threads at once, often     */
/* while the host holds its own locks: return in well under a microsecond,    */
/* never block, never call the host except log and time_msc.                  */
/* ------------------------------------------------------------------------ */

typedef struct ts_event_sink {
  uint32_t struct_size;
  void    *context; /**< passed back to every member; owned by the plugin, valid until cleanup */
  /* MT5 dialect. */
  void (*on_deal_add)(void *context, const ts_deal *deal);           /**< deal performed; balance and position already reflect it */
  void (*on_deal_update)(void *context, const ts_deal *deal);        /**< a dealer corrected a deal */
  void (*on_deal_delete)(void *context, const ts_deal *deal);        /**< a dealer deleted a deal */
  void (*on_order_add)(void *context, const ts_order *order);        /**< order placed */
  void (*on_order_update)(void *context, const ts_order *order);     /**< order changed state or volume */
  void (*on_order_delete)(void *context, const ts_order *order);     /**< order moved to history */
  void (*on_position_add)(void *context, const ts_position *position);    /**< position opened */
  void (*on_position_update)(void *context, const ts_position *position); /**< volume, price or swap changed */
  void (*on_position_delete)(void *context, const ts_position *position); /**< position closed */
  /* MT4 dialect. user may be NULL when the host has no account for the record. */
  void (*on_trade_add)(void *context, const ts_trade_record *trade, const ts_user_info *user, int32_t mode);    /**< mode: TS_OPEN_* */
  void (*on_trade_update)(void *context, const ts_trade_record *trade, const ts_user_info *user, int32_t mode); /**< mode: TS_UPDATE_* */
  /* Both dialects. */
  void (*on_user_add)(void *context, const ts_user *user);           /**< account created */
  void (*on_user_update)(void *context, const ts_user *user);        /**< includes every balance or credit change */
  void (*on_user_delete)(void *context, const ts_user *user);        /**< account deleted */
} ts_event_sink;

/* ------------------------------------------------------------------------ */
/* Host interface. Owned by the host; it and everything it points to stay     */
/* valid until ts_plugin_cleanup returns. Members are appended only.          */
/* ------------------------------------------------------------------------ */

typedef struct ts_server_api {
  uint32_t              struct_size;
  uint32_t              api_version; /**< TS_API_VERSION of the host */
  void                 *host;        /**< first argument of every member below */
  const ts_server_info *info;
  /** Writes one line to the server's journal. [thread-safe] message is borrowed. */
  void      (*log)(void *host, int32_t level, const char *message);
  /** Broker time now, in milliseconds. [thread-safe] */
  int64_t   (*time_msc)(void *host);
  /** Reads a parameter into value (NUL-terminated, at most value_size bytes).
   *  TS_ERR_NOT_FOUND when unset. [thread-safe] */
  ts_result (*param_get)(void *host, const char *name, char *value, uint32_t value_size);
  /** Starts delivering events to sink; the host copies *sink. [startup only] */
  ts_result (*subscribe)(void *host, const ts_event_sink *sink);
  /** Stops delivering events to sink; when it returns no member is running. [cleanup only] */
  ts_result (*unsubscribe)(void *host, const ts_event_sink *sink);
  /** One account. [plugin thread] Never from inside a sink member. */
  ts_result (*user_get)(void *host, uint64_t login, ts_user *out);
  /** Every account, from a consistent view. [plugin thread] */
  ts_result (*users_enum)(void *host, ts_user_visitor visit, void *ctx);
  /** Open positions of login (0 = every account). MT5 only, else TS_ERR_NOT_FOUND. [plugin thread] */
  ts_result (*positions_enum)(void *host, uint64_t login, ts_position_visitor visit, void *ctx);
  /** Deals with from_msc <= time_msc < to_msc (broker time). MT5 only. [plugin thread] */
  ts_result (*deals_enum)(void *host, int64_t from_msc, int64_t to_msc, ts_deal_visitor visit, void *ctx);
  /** Trade records of login (0 = every account); open_only != 0 for open trades only.
   *  MT4 only, else TS_ERR_NOT_FOUND. [plugin thread] */
  ts_result (*trades_enum)(void *host, int32_t login, int32_t open_only, ts_trade_visitor visit, void *ctx);
  /* Appended in the second round: a host whose struct_size ends before them does not
   * offer them. Manager-API writes (MT5 UserAdd / UserDepositChange; MT4
   * ClientsAddUser / ClientsChangeBalance / ClientsChangeCredit). Neither is
   * idempotent on the host: calling twice moves money twice. */
  /** Creates an account; user->login 0 lets the host assign it. On TS_OK *login_out
   *  holds the login and on_user_add has been or will be called. [plugin thread] */
  ts_result (*user_create)(void *host, const ts_user *user, uint64_t *login_out);
  /** A balance-type deal: action TS_DEAL_BALANCE, _CREDIT, _CHARGE, _CORRECTION or
   *  _BONUS (MT4: BALANCE and CREDIT only); amount signed (positive in), non-zero;
   *  comment verbatim, cut to the deal's (MT4: trade's) comment field. On TS_OK
   *  *deal_out holds the deal (MT4: ticket). TS_ERR_NOT_FOUND (no such login),
   *  TS_ERR_INVALID_ARGUMENT, TS_ERR_NO_MONEY, TS_ERR_BUSY change nothing. [plugin thread] */
  ts_result (*balance_change)(void *host, uint64_t login, uint32_t action, double amount,
                              const char *comment, uint64_t *deal_out);
} ts_server_api;

/* ------------------------------------------------------------------------ */
/* Plugin exports: exactly these four dynamic symbols.                        */
/* ------------------------------------------------------------------------ */

/** Opaque plugin instance, created by ts_plugin_startup. */
typedef struct ts_plugin ts_plugin;

/** Describes the plugin. May be called before startup and again at any time. */
ts_result ts_plugin_about(ts_plugin_info *info);
/** Starts the plugin: reads parameters, subscribes, starts its threads.
 *  TS_ERR_VERSION on a major version mismatch; TS_ERR_CONFIG (reason logged) on
 *  invalid parameters. On anything but TS_OK the host unloads the plugin. */
ts_result ts_plugin_startup(const ts_server_api *api, ts_plugin **plugin);
/** Called once per successful startup, after the host stopped calling the sink.
 *  When it returns the plugin's threads are gone and the host may dlclose. */
void      ts_plugin_cleanup(ts_plugin *plugin);
/** Replaces the parameters at run time (the admin's "apply"); on error the old
 *  ones stay in force. params is borrowed for the call. [thread-safe] */
ts_result ts_plugin_config_set(ts_plugin *plugin, const ts_param *params, uint32_t count);

/* ======================================================================== */
/* The gateway model (same version 1; spec "The gateway model").             */
/* A gateway host (an MT5-style gateway: a separate process the trade servers */
/* connect to, which places their requests with a liquidity provider) loads   */
/* the same library through the three ts_gateway_* exports below; the sink    */
/* then taps requests, answers and executions as ts_event_sink taps deals.    */
/* ======================================================================== */

/* Request action (MT5 IMTRequest::EnTradeActions). */
#define TS_TA_PRICE               0
#define TS_TA_REQUEST             1
#define TS_TA_INSTANT             2
#define TS_TA_MARKET              3
#define TS_TA_EXCHANGE            4
#define TS_TA_PENDING             5
#define TS_TA_SLTP                6
#define TS_TA_MODIFY              7
#define TS_TA_REMOVE              8
#define TS_TA_TRANSFER            9
#define TS_TA_CLOSE_BY            10
#define TS_TA_ACTIVATE            100
#define TS_TA_ACTIVATE_SL         101
#define TS_TA_ACTIVATE_TP         102
#define TS_TA_ACTIVATE_STOPLIMIT  103
#define TS_TA_STOPOUT_ORDER       104
#define TS_TA_STOPOUT_POSITION    105
#define TS_TA_EXPIRATION          106

/* Execution action (MT5 IMTExecution::EnTradeExecutions). */
#define TS_TE_ORDER_NEW_REQUEST     0
#define TS_TE_ORDER_NEW             1
#define TS_TE_ORDER_FILL            2  /**< a fill: the server performs a deal for it */
#define TS_TE_ORDER_REJECT          3
#define TS_TE_ORDER_MODIFY_REQUEST  4
#define TS_TE_ORDER_MODIFY          5
#define TS_TE_ORDER_MODIFY_REJECT   6
#define TS_TE_ORDER_CANCEL_REQUEST  7
#define TS_TE_ORDER_CANCEL          8
#define TS_TE_ORDER_CANCEL_REJECT   9
#define TS_TE_ORDER_CHANGE_ID       10
#define TS_TE_ORDER_CLOSE_BY        11
#define TS_TE_ORDER_EXPIRE          12
#define TS_TE_DEAL_CANCEL           50
#define TS_TE_DEAL_CORRECT          51
#define TS_TE_DEAL_EXTERNAL         52
#define TS_TE_BALANCE_CHANGE        150
#define TS_TE_BALANCE_CORRECT       151

/* Answer codes (MT5 MT_RET_REQUEST_*): PLACED means the external system will
 * answer with executions; DONE means the gateway filled it itself; any other
 * code rejects the request. */
#define TS_RET_REQUEST_REQUOTE      10004
#define TS_RET_REQUEST_REJECT       10006
#define TS_RET_REQUEST_CANCEL       10007
#define TS_RET_REQUEST_PLACED       10008
#define TS_RET_REQUEST_DONE         10009
#define TS_RET_REQUEST_DONE_PARTIAL 10010
#define TS_RET_REQUEST_ERROR        10011
#define TS_RET_REQUEST_TIMEOUT      10012
#define TS_RET_REQUEST_NO_MONEY     10019
#define TS_RET_REQUEST_PRICE_OFF    10021

/** Identity of the gateway. Owned by the host; valid until cleanup returns. */
typedef struct ts_gateway_info {
  uint32_t struct_size;
  uint32_t gateway_id;         /**< in the same id space as server_id: the collector's source id */
  int32_t  utc_offset_minutes; /**< the gateway's broker time minus UTC */
  char     name[64];
  char     build[32];
} ts_gateway_info;

/** A trade server's request as the gateway locked it (MT5 IMTRequest). */
typedef struct ts_request {
  uint32_t struct_size;
  uint64_t request_id;         /**< the server's request id */
  uint32_t server_id;          /**< the trade server it came from */
  uint64_t login;
  char     group[64];          /**< what Groups filters on */
  char     symbol[32];
  uint32_t digits;
  uint32_t action;             /**< TS_TA_* */
  uint32_t type;               /**< TS_ORDER_* */
  uint64_t flags;
  uint64_t volume_ext;         /**< 1/100,000,000 lot */
  uint64_t order;
  uint64_t position_id;
  double   price_order;
  double   price_sl;
  double   price_tp;
  double   price_bid;          /**< the server's quote when it routed the request */
  double   price_ask;
  int64_t  time_msc;           /**< gateway broker time */
  char     comment[64];
} ts_request;

/** The gateway's answer to a request (MT5 IMTConfirm). */
typedef struct ts_confirm {
  uint32_t struct_size;
  uint64_t request_id;
  uint32_t server_id;
  int32_t  retcode;            /**< TS_RET_REQUEST_* */
  uint64_t order;
  uint64_t deal;
  uint64_t volume_ext;
  double   price;
  double   price_bid;
  double   price_ask;
  int64_t  time_msc;           /**< gateway broker time */
  char     comment[64];
} ts_confirm;

/** An execution the gateway sends a server (MT5 IMTExecution). A fill's
 *  deal_external_id becomes the external_id of the server's deal for it. */
typedef struct ts_execution {
  uint32_t struct_size;
  uint64_t execution_id;       /**< the gateway's own: strictly increasing, never reused */
  uint32_t server_id;          /**< the trade server it goes to */
  uint32_t action;             /**< TS_TE_* */
  uint64_t flags;
  uint64_t request_id;
  uint64_t login;
  char     group[64];          /**< what Groups filters on */
  char     symbol[32];
  uint32_t digits;
  uint64_t order;
  char     order_external_id[32];
  uint32_t order_type;         /**< TS_ORDER_* */
  uint64_t order_volume_ext;
  double   order_price;
  char     deal_external_id[32];
  uint32_t deal_action;        /**< TS_DEAL_* */
  uint64_t deal_volume_ext;
  uint64_t deal_volume_remaining_ext;
  double   deal_price;
  double   price_gateway;
  double   deal_commission;
  uint64_t position_id;
  int32_t  external_retcode;
  int64_t  time_msc;           /**< gateway broker time */
  char     comment[64];
} ts_execution;

typedef int32_t (*ts_execution_visitor)(void *ctx, const ts_execution *record);

/** Gateway sink. Same rules as ts_event_sink: [host thread], many threads at
 *  once, never block, never call the host but log and time_msc; a NULL member
 *  means "not wanted". */
typedef struct ts_gateway_sink {
  uint32_t struct_size;
  void    *context; /**< passed back to every member; owned by the plugin, valid until cleanup */
  void (*on_dealer_lock)(void *context, const ts_request *request);    /**< a server's request reached the gateway */
  void (*on_dealer_answer)(void *context, const ts_confirm *confirm);  /**< the gateway answered it */
  void (*on_execution)(void *context, const ts_execution *execution);  /**< the gateway sent an execution (id assigned, stored) */
  void (*on_execution_ack)(void *context, uint32_t server_id, uint64_t execution_id); /**< that server processed its executions through this id */
} ts_gateway_sink;

/** Gateway host interface. Owned by the host; it and everything it points to
 *  stay valid until ts_gateway_cleanup returns. Members are appended only. */
typedef struct ts_gateway_api {
  uint32_t               struct_size;
  uint32_t               api_version; /**< TS_API_VERSION of the host */
  void                  *host;        /**< first argument of every member below */
  const ts_gateway_info *info;
  /** Writes one line to the gateway's journal. [thread-safe] */
  void      (*log)(void *host, int32_t level, const char *message);
  /** Gateway broker time now, in milliseconds. [thread-safe] */
  int64_t   (*time_msc)(void *host);
  /** As ts_server_api.param_get. [thread-safe] */
  ts_result (*param_get)(void *host, const char *name, char *value, uint32_t value_size);
  /** Starts delivering to sink; the host copies *sink. [startup only] */
  ts_result (*subscribe)(void *host, const ts_gateway_sink *sink);
  /** Stops delivering; when it returns no member is running. [cleanup only] */
  ts_result (*unsubscribe)(void *host, const ts_gateway_sink *sink);
  /** The stored executions after an id, oldest first. [plugin thread] */
  ts_result (*executions_enum)(void *host, uint64_t after_execution_id, ts_execution_visitor visit, void *ctx);
} ts_gateway_api;

/** Describes the plugin to a gateway host. May be called at any time. */
ts_result ts_gateway_about(ts_plugin_info *info);
/** Starts a gateway instance (own journal, own sender; the same lifetime rules
 *  as ts_plugin_startup). ts_plugin_config_set serves it too. */
ts_result ts_gateway_startup(const ts_gateway_api *api, ts_plugin **plugin);
/** Called once per successful ts_gateway_startup, after the host stopped
 *  calling the sink. */
void      ts_gateway_cleanup(ts_plugin *plugin);

/* ------------------------------------------------------------------------ */
/* Layout checks (x86-64 and AArch64 System V: natural alignment, no packing) */
/* ------------------------------------------------------------------------ */

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#include <stddef.h>
#define TS_LAYOUT_(cond, msg) _Static_assert(cond, msg)
TS_LAYOUT_(sizeof(ts_param) == 320, "ts_param size");
TS_LAYOUT_(sizeof(ts_plugin_info) == 10668, "ts_plugin_info size");
TS_LAYOUT_(sizeof(ts_server_info) == 112, "ts_server_info size");
TS_LAYOUT_(offsetof(ts_user, login) == 8, "ts_user.login offset");
TS_LAYOUT_(offsetof(ts_user, balance) == 336, "ts_user.balance offset");
TS_LAYOUT_(sizeof(ts_user) == 432, "ts_user size");
TS_LAYOUT_(offsetof(ts_deal, deal) == 8, "ts_deal.deal offset");
TS_LAYOUT_(offsetof(ts_deal, time_msc) == 128, "ts_deal.time_msc offset");
TS_LAYOUT_(offsetof(ts_deal, profit) == 160, "ts_deal.profit offset");
TS_LAYOUT_(sizeof(ts_deal) == 256, "ts_deal size");
TS_LAYOUT_(offsetof(ts_order, price_order) == 104, "ts_order.price_order offset");
TS_LAYOUT_(sizeof(ts_order) == 232, "ts_order size");
TS_LAYOUT_(offsetof(ts_position, volume_ext) == 64, "ts_position.volume_ext offset");
TS_LAYOUT_(sizeof(ts_position) == 184, "ts_position size");
TS_LAYOUT_(offsetof(ts_trade_record, open_price) == 48, "ts_trade_record.open_price offset");
TS_LAYOUT_(sizeof(ts_trade_record) == 160, "ts_trade_record size");
TS_LAYOUT_(sizeof(ts_user_info) == 176, "ts_user_info size");
TS_LAYOUT_(offsetof(ts_event_sink, on_deal_add) == 16, "ts_event_sink.on_deal_add offset");
TS_LAYOUT_(sizeof(ts_event_sink) == 128, "ts_event_sink size");
TS_LAYOUT_(offsetof(ts_server_api, log) == 24, "ts_server_api.log offset");
TS_LAYOUT_(offsetof(ts_server_api, user_create) == 104, "ts_server_api: the first round ends at 104 bytes");
TS_LAYOUT_(sizeof(ts_server_api) == 120, "ts_server_api size");
TS_LAYOUT_(sizeof(ts_gateway_info) == 108, "ts_gateway_info size");
TS_LAYOUT_(offsetof(ts_request, price_order) == 176, "ts_request.price_order offset");
TS_LAYOUT_(sizeof(ts_request) == 288, "ts_request size");
TS_LAYOUT_(offsetof(ts_confirm, price) == 48, "ts_confirm.price offset");
TS_LAYOUT_(sizeof(ts_confirm) == 144, "ts_confirm size");
TS_LAYOUT_(offsetof(ts_execution, deal_price) == 272, "ts_execution.deal_price offset");
TS_LAYOUT_(sizeof(ts_execution) == 384, "ts_execution size");
TS_LAYOUT_(offsetof(ts_gateway_sink, on_dealer_lock) == 16, "ts_gateway_sink.on_dealer_lock offset");
TS_LAYOUT_(sizeof(ts_gateway_sink) == 48, "ts_gateway_sink size");
TS_LAYOUT_(sizeof(ts_gateway_api) == 72, "ts_gateway_api size");
#undef TS_LAYOUT_
#endif

#ifdef __cplusplus
}
#endif

#endif /* TRADE_SERVER_API_H */
