/*
 * peer-nats.c: NATS JetStream with acknowledged publishes, the architecture of a
 * commercial MT4/MT5 deal-forwarding plugin. js_PublishAsync on the host thread; the
 * server stores the message in the stream and answers with a publish ack, which
 * libnats hands to the ack handler on its own thread: hook -> ack there is the
 * acknowledged-publish round trip ("peer_acked" at cleanup).
 * Configuration for latency: natsOptions_SetSendAsap(true) (without it libnats holds
 * writes for up to 1 ms to batch them), no echo, PublishAsync.MaxPending 262,144 with
 * a 10 s stall wait (an unpaced burst waits instead of failing). The stream ("DEALS",
 * subject "deals", file storage) is created by recv-nats.c before the host starts.
 * Peer.Endpoint = nats://HOST:PORT.
 */
#include "peer.h"

#include <nats/nats.h>

static natsConnection *connection;
static jsCtx *js;
static hist acked, acked_intended;
static long skip_acks;
static uint64_t acks_seen, ack_errors;

static const char *peer_name(void) { return "NATS JetStream"; }

static void on_ack(jsCtx *ctx, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure) {
  (void)ctx; (void)closure;
  uint64_t now = now_ns();
  if (pa && !pae && natsMsg_GetDataLength(msg) == (int)sizeof(peer_record)) {
    if (acks_seen++ >= (uint64_t)skip_acks) {
      const peer_record *record = (const peer_record *)natsMsg_GetData(msg);
      hist_add(&acked, now - record->hook_ns);
      hist_add(&acked_intended, now - deal_intended_ns(&record->deal));
    }
  } else {
    ack_errors++;
  }
  natsMsg_Destroy(msg);
}

static int peer_open(const char *endpoint) {
  skip_acks = peer_param_long("Peer.SkipAcks", 0);
  natsOptions *options = NULL;
  if (natsOptions_Create(&options) != NATS_OK) return -1;
  natsOptions_SetURL(options, endpoint);
  natsOptions_SetSendAsap(options, true);
  natsOptions_SetNoEcho(options, true);
  natsStatus s = natsConnection_Connect(&connection, options);
  natsOptions_Destroy(options);
  if (s != NATS_OK) { peer_log(TS_LOG_ERROR, natsStatus_GetText(s)); return -1; }
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.PublishAsync.MaxPending = 262144;
  jo.PublishAsync.StallWait = 10000;
  jo.PublishAsync.AckHandler = on_ack;
  s = natsConnection_JetStream(&js, connection, &jo);
  if (s != NATS_OK) { peer_log(TS_LOG_ERROR, natsStatus_GetText(s)); return -1; }
  return 0;
}

static void peer_send(const peer_record *record) {
  if (js_PublishAsync(js, "deals", record, (int)sizeof *record, NULL) == NATS_OK) peer_sent++;
  else peer_errors++;
}

static void peer_close(void) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = 60000;
  js_PublishAsyncComplete(js, &po);
  hist_print(stdout, "peer_acked", &acked, 1);
  hist_print(stdout, "peer_acked_from_intended", &acked_intended, 1);
  printf("peer_ack_errors=%llu\n", (unsigned long long)ack_errors);
  jsCtx_Destroy(js);
  natsConnection_Destroy(connection);
}
