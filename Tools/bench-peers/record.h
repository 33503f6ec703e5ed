/* record.h: the record every peer sends per event (Tools/bench-peers): the hook's
 * CLOCK_MONOTONIC stamp and the host's ts_deal, as is. */
#ifndef BENCH_RECORD_H
#define BENCH_RECORD_H
#include "trade_server_api.h"
#include "../bench-pipeline/hist.h"

#include <stdlib.h>

/* What crosses the wire for every event: the hook's stamp and the host's deal, as is. */
typedef struct peer_record {
  uint64_t hook_ns;
  ts_deal deal;
} peer_record;

/* The host's intended send time of this deal (paced-host.c writes it in external_id). */
static inline uint64_t deal_intended_ns(const ts_deal *deal) {
  return strtoull(deal->external_id, NULL, 10);
}

#endif
