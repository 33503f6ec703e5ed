/*
 * peer.h: what every peer plugin of the comparison shares (Tools/bench-peers).
 *
 * A peer is a plugin with the same C ABI as TradeTap's (trade_server_api.h), loaded by
 * the same paced host (Tools/bench-pipeline/paced-host.c) and fed the same deals. Each
 * peer file defines the transport and includes this header once, which provides the
 * four exports: on_deal_add stamps CLOCK_MONOTONIC at hook entry into a record
 * {hook_ns, ts_deal} and hands it to peer_send() on the host thread. The deal carries
 * the host's intended send time in external_id (decimal ns), so a receiver can
 * measure from the intended time too (coordinated omission).
 *
 * Parameters (host param_get): Peer.Endpoint (transport address), Peer.SkipAcks (acks
 * of warm-up events to leave out of the ack histogram). At cleanup the peer prints
 * "peer_stats sent=N errors=E" (and transports with acks an "peer_acked" histogram
 * line) on stdout, which the paced host shares with its driver.
 */
#ifndef BENCH_PEER_H
#define BENCH_PEER_H
#define _GNU_SOURCE
#include "record.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const ts_server_api *peer_api;
static uint64_t peer_sent, peer_errors;

/* Implemented by the transport. peer_open returns 0 on success; peer_send is called on
 * the host thread for every deal; peer_close flushes and prints its own lines. */
static int peer_open(const char *endpoint);
static void peer_send(const peer_record *record);
static void peer_close(void);
static const char *peer_name(void);

static void peer_log(int32_t level, const char *message) {
  if (peer_api && peer_api->log) peer_api->log(peer_api->host, level, message);
}

__attribute__((unused)) static long peer_param_long(const char *name, long fallback) {
  char value[64];
  if (peer_api->param_get(peer_api->host, name, value, sizeof value) != TS_OK) return fallback;
  return atol(value);
}

static void peer_on_deal_add(void *context, const ts_deal *deal) {
  (void)context;
  peer_record record;
  record.hook_ns = now_ns();
  memcpy(&record.deal, deal, sizeof record.deal);
  peer_send(&record);
}

struct ts_plugin { ts_event_sink sink; };
static struct ts_plugin peer_instance;

__attribute__((visibility("default"))) ts_result ts_plugin_about(ts_plugin_info *info) {
  if (!info) return TS_ERR_INVALID_ARGUMENT;
  memset(info, 0, sizeof *info);
  info->struct_size = sizeof *info;
  info->api_version = TS_API_VERSION;
  snprintf(info->name, sizeof info->name, "bench peer: %s", peer_name());
  return TS_OK;
}

__attribute__((visibility("default"))) ts_result ts_plugin_startup(const ts_server_api *api, ts_plugin **out) {
  if (!api || !out) return TS_ERR_INVALID_ARGUMENT;
  peer_api = api;
  char endpoint[256];
  if (api->param_get(api->host, "Peer.Endpoint", endpoint, sizeof endpoint) != TS_OK) {
    peer_log(TS_LOG_ERROR, "Peer.Endpoint is not set");
    return TS_ERR_CONFIG;
  }
  if (peer_open(endpoint) != 0) return TS_ERR_CONFIG;
  memset(&peer_instance, 0, sizeof peer_instance);
  peer_instance.sink.struct_size = sizeof peer_instance.sink;
  peer_instance.sink.on_deal_add = peer_on_deal_add;
  ts_result rc = api->subscribe(api->host, &peer_instance.sink);
  if (rc != TS_OK) { peer_close(); return rc; }
  *out = &peer_instance;
  return TS_OK;
}

__attribute__((visibility("default"))) void ts_plugin_cleanup(ts_plugin *plugin) {
  if (!plugin) return;
  peer_api->unsubscribe(peer_api->host, &plugin->sink);
  peer_close();
  printf("peer_stats sent=%llu errors=%llu\n", (unsigned long long)peer_sent, (unsigned long long)peer_errors);
  fflush(stdout);
}
#endif
