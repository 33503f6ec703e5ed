/* recv-nats.c: consumer of the NATS JetStream peer. Creates the stream "DEALS"
 * (subject "deals", file storage, at most 2,000,000 messages, old ones discarded) if
 * missing, then an ephemeral push consumer delivering only new messages with no acks
 * (the lowest-latency consumer: no ack round trip per message), read with
 * natsSubscription_NextMsg; each message stamped when NextMsg returns. SendAsap on.
 * --endpoint nats://HOST:PORT. */
#include "recv.h"

#include <nats/nats.h>

static natsConnection *connection;
static jsCtx *js;
static natsSubscription *subscription;

static int recv_open(const char *endpoint) {
  natsOptions *options = NULL;
  natsOptions_Create(&options);
  natsOptions_SetURL(options, endpoint);
  natsOptions_SetSendAsap(options, true);
  natsStatus s = natsConnection_Connect(&connection, options);
  natsOptions_Destroy(options);
  if (s != NATS_OK) { fprintf(stderr, "recv-nats: connect: %s\n", natsStatus_GetText(s)); return -1; }
  if (natsConnection_JetStream(&js, connection, NULL) != NATS_OK) return -1;
  jsStreamConfig sc;
  jsStreamConfig_Init(&sc);
  const char *subjects[] = {"deals"};
  sc.Name = "DEALS";
  sc.Subjects = subjects;
  sc.SubjectsLen = 1;
  sc.Storage = js_FileStorage;
  sc.MaxMsgs = 2000000;
  jsErrCode jerr = 0;
  s = js_AddStream(NULL, js, &sc, NULL, &jerr);
  if (s != NATS_OK && jerr != JSStreamNameExistErr) {
    fprintf(stderr, "recv-nats: add stream: %s (%d)\n", natsStatus_GetText(s), (int)jerr);
    return -1;
  }
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = "DEALS";
  so.Config.DeliverPolicy = js_DeliverNew;
  so.Config.AckPolicy = js_AckNone;
  s = js_SubscribeSync(&subscription, js, "deals", NULL, &so, &jerr);
  if (s != NATS_OK) { fprintf(stderr, "recv-nats: subscribe: %s (%d)\n", natsStatus_GetText(s), (int)jerr); return -1; }
  natsSubscription_SetPendingLimits(subscription, -1, -1);
  return 0;
}

static int recv_poll(int timeout_ms) {
  natsMsg *msg = NULL;
  natsStatus s = natsSubscription_NextMsg(&msg, subscription, timeout_ms);
  if (s == NATS_TIMEOUT) return 0;
  if (s != NATS_OK) { fprintf(stderr, "recv-nats: %s\n", natsStatus_GetText(s)); return s == NATS_SLOW_CONSUMER ? 0 : -1; }
  uint64_t now = now_ns();
  if (natsMsg_GetDataLength(msg) == (int)sizeof(peer_record)) {
    peer_record record;
    memcpy(&record, natsMsg_GetData(msg), sizeof record);
    recv_record(&record, now);
  }
  natsMsg_Destroy(msg);
  return 0;
}
