/* Reads a whole JetStream stream, in stream order, for Tools/faults/nats.sh: one line
 * per message, "<stream seq> <subject> <Nats-Msg-Id> <body>". Independent of the
 * collector: the official C client, an ordered consumer from the first message.
 *   cc -O2 -o nats_consumer nats_consumer.c -lnats
 *   nats_consumer URL[,URL...] STREAM SUBJECT_FILTER */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>

static int fail(const char *what, natsStatus s) {
  fprintf(stderr, "nats_consumer: %s: %s: %s\n", what, natsStatus_GetText(s), nats_GetLastError(NULL));
  return 2;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: nats_consumer URLS STREAM FILTER\n"); return 2; }
  natsConnection *nc = NULL; jsCtx *js = NULL; natsSubscription *sub = NULL;
  jsStreamInfo *si = NULL; jsErrCode jerr = 0; natsStatus s;
  if ((s = natsConnection_ConnectTo(&nc, argv[1])) != NATS_OK) return fail("connect", s);
  if ((s = natsConnection_JetStream(&js, nc, NULL)) != NATS_OK) return fail("jetstream", s);
  if ((s = js_GetStreamInfo(&si, js, argv[2], NULL, &jerr)) != NATS_OK) return fail("stream info", s);
  uint64_t last = si->State.LastSeq, count = si->State.Msgs;
  jsStreamInfo_Destroy(si);
  fprintf(stderr, "nats_consumer: stream %s holds %llu messages, last seq %llu\n", argv[2],
          (unsigned long long)count, (unsigned long long)last);
  jsSubOptions so; jsSubOptions_Init(&so);
  so.Stream = argv[2]; so.Ordered = true; so.Config.DeliverPolicy = js_DeliverAll;
  if (last == 0) return 0;
  if ((s = js_SubscribeSync(&sub, js, argv[3], NULL, &so, &jerr)) != NATS_OK) return fail("subscribe", s);
  uint64_t seen = 0;
  while (seen < last) {
    natsMsg *m = NULL;
    if ((s = natsSubscription_NextMsg(&m, sub, 10000)) != NATS_OK) return fail("next", s);
    jsMsgMetaData *meta = NULL;
    if ((s = natsMsg_GetMetaData(&meta, m)) != NATS_OK) return fail("metadata", s);
    const char *id = NULL;
    if (natsMsgHeader_Get(m, "Nats-Msg-Id", &id) != NATS_OK) id = "-";
    seen = meta->Sequence.Stream;
    printf("%llu %s %s %.*s\n", (unsigned long long)seen, natsMsg_GetSubject(m), id,
           natsMsg_GetDataLength(m), natsMsg_GetData(m));
    jsMsgMetaData_Destroy(meta);
    natsMsg_Destroy(m);
  }
  natsSubscription_Destroy(sub); jsCtx_Destroy(js); natsConnection_Destroy(nc);
  return 0;
}
