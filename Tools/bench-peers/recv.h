/*
 * recv.h: the receiving side every peer shares (Tools/bench-peers). Each recv-*.c
 * defines the transport (recv_open, recv_poll) and includes this once. For every
 * record the transport calls recv_record with a CLOCK_MONOTONIC stamp taken when the
 * record was decoded (copied out of the transport); one-way latency = that stamp - the
 * hook-entry stamp in the record (both processes read the same monotonic clock), and
 * again from the host's intended send time (coordinated omission).
 *
 *   recv-X --endpoint E --skip W --count N [--idle-seconds S]
 *
 * Protocol with the driver (stdout / stdin): "ready" once listening; "warm" after the
 * first W records (the host's warm-up, not measured); after the next N records (or S
 * seconds without any, default 30) "done received=.. first_ns=.. last_ns=..", then
 * "one_way ..." and "from_intended ..." (hist.h lines), then waits for a line on stdin
 * (the driver reads this process's CPU from /proc first) and exits.
 */
#ifndef BENCH_RECV_H
#define BENCH_RECV_H
#define _GNU_SOURCE
#include "record.h"

#include <pthread.h>
#include <string.h>

#include <unistd.h>

static int recv_open(const char *endpoint);
/* Waits up to timeout_ms for data, calls recv_record for each record; -1 on a fatal error. */
static int recv_poll(int timeout_ms);

static long skip, count, received;
static uint64_t first_ns, last_ns;
static hist one_way, from_intended;

static void recv_record(const peer_record *record, uint64_t now) {
  long i = received++;
  if (i < skip) {
    if (i + 1 == skip) { printf("warm\n"); fflush(stdout); }
    return;
  }
  if (i == skip) first_ns = now;
  last_ns = now;
  hist_add(&one_way, now - record->hook_ns);
  hist_add(&from_intended, now - deal_intended_ns(&record->deal));
}

int main(int argc, char **argv) {
  const char *endpoint = NULL;
  double idle_seconds = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--endpoint")) endpoint = argv[i + 1];
    else if (!strcmp(argv[i], "--skip")) skip = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--count")) count = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--idle-seconds")) idle_seconds = atof(argv[i + 1]);
    else { fprintf(stderr, "recv: unknown option %s\n", argv[i]); return 2; }
  }
  if (!endpoint || count <= 0) { fprintf(stderr, "usage: recv --endpoint E --skip W --count N\n"); return 2; }
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (recv_open(endpoint) != 0) return 3;
  printf("ready\n");
  if (skip == 0) printf("warm\n");
  uint64_t idle_since = now_ns();
  while (received < skip + count) {
    long before = received;
    if (recv_poll(100) < 0) break;
    if (received != before) idle_since = now_ns();
    else if ((double)(now_ns() - idle_since) > idle_seconds * 1e9) break;
  }
  long measured = received > skip ? received - skip : 0;
  printf("done received=%ld first_ns=%llu last_ns=%llu\n", measured, (unsigned long long)first_ns,
         (unsigned long long)last_ns);
  hist_print(stdout, "one_way", &one_way, 1);
  hist_print(stdout, "from_intended", &from_intended, 1);
  char line[16];
  if (!fgets(line, sizeof line, stdin)) { /* driver gone */ }
  return 0;
}
#endif
