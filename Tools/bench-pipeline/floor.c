/*
 * floor.c: the loopback floor for the pipeline benchmark (Tools/bench-pipeline/run.sh).
 *
 * The sender's path without the work: a pacing thread "hooks" by storing a monotonic
 * timestamp in a slot and publishing it (seq_cst, then a load of `parked`, a FUTEX_WAKE
 * only when the consumer sleeps: the journal's protocol); a consumer thread spins 2000
 * times, then parks on the futex (the sender's waitForRecord), and writes every published
 * message to a loopback TCP socket (TCP_NODELAY, SO_KEEPALIVE, as CollectorStream). A
 * second process reads with blocking reads, records now - stamp of every message (one
 * way, both ends on CLOCK_MONOTONIC) and answers each read with 16 bytes (the last
 * stamp); the first process's reader thread records that round trip, halved.
 *
 *   floor [--rate R] [--events N] [--warmup N] [--payload BYTES]
 * prints "floor_one_way ...", "floor_rtt_half ...", "floor_pacer_late ..." (hist.h lines)
 */
#define _GNU_SOURCE
#include "hist.h"

#include <arpa/inet.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define RING 4096
static uint64_t ring[RING];            /* stamps, indexed by sequence */
static uint64_t published;             /* messages published (seq_cst) */
static uint32_t parked;                /* consumer asleep on the futex */
static int done_flag;
static int sock;
static long total_events, warmup_events;
static int payload = 256;
static hist rtt;

static long futex(uint32_t *addr, int op, uint32_t val, const struct timespec *ts) {
  return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

static void write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) { perror("floor: write"); exit(1); }
    p += w; n -= (size_t)w;
  }
}

static int read_all(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return 0;
    p += r; n -= (size_t)r;
  }
  return 1;
}

static void *consumer(void *arg) {
  (void)arg;
  static char buf[RING * 512];
  uint64_t sent = 0;
  for (;;) {
    uint64_t avail = __atomic_load_n(&published, __ATOMIC_ACQUIRE);
    if (avail == sent) {
      if (__atomic_load_n(&done_flag, __ATOMIC_ACQUIRE)) break;
      int i;
      for (i = 0; i < 2000; i++) {
        if (__atomic_load_n(&published, __ATOMIC_ACQUIRE) != sent) break;
        cpu_relax();
      }
      if (i < 2000) continue;
      __atomic_exchange_n(&parked, 1, __ATOMIC_SEQ_CST);
      __atomic_thread_fence(__ATOMIC_SEQ_CST);
      if (__atomic_load_n(&published, __ATOMIC_SEQ_CST) == sent) {
        struct timespec ts = {0, 1000000};
        futex(&parked, FUTEX_WAIT_PRIVATE, 1, &ts);
      }
      __atomic_store_n(&parked, 0, __ATOMIC_RELEASE);
      continue;
    }
    /* Everything published goes out in one write, as the sender batches. */
    size_t n = 0;
    for (; sent < avail && n + (size_t)payload <= sizeof buf; sent++) {
      uint64_t msg[2] = {sent, ring[sent % RING]};
      memset(buf + n, 0, (size_t)payload);
      memcpy(buf + n, msg, sizeof msg);
      n += (size_t)payload;
    }
    write_all(sock, buf, n);
  }
  shutdown(sock, SHUT_WR);
  return NULL;
}

static void *reader(void *arg) {
  (void)arg;
  uint64_t reply[2];
  while (read_all(sock, reply, sizeof reply)) {
    uint64_t t = now_ns();
    if ((long)reply[0] >= warmup_events) hist_add(&rtt, (t - reply[1]) / 2);
  }
  return NULL;
}

/* Reads whatever has arrived (as the collector's event loop does), records every
 * complete message's one-way time, and answers each read with one 16-byte reply
 * carrying the last message's stamp (as one ack covers a batch). */
static void echo_server(int listener) {
  int fd = accept(listener, NULL, NULL);
  if (fd < 0) { perror("floor: accept"); exit(1); }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  static hist one_way;
  static char buf[1 << 16];
  size_t have = 0;
  for (;;) {
    ssize_t r = read(fd, buf + have, sizeof buf - have);
    if (r <= 0) break;
    uint64_t t = now_ns();
    have += (size_t)r;
    size_t off = 0;
    uint64_t msg[2] = {0, 0};
    int complete = 0;
    for (; have - off >= (size_t)payload; off += (size_t)payload) {
      memcpy(msg, buf + off, sizeof msg);
      if ((long)msg[0] >= warmup_events) hist_add(&one_way, t - msg[1]);
      complete = 1;
    }
    memmove(buf, buf + off, have - off);
    have -= off;
    if (complete) write_all(fd, msg, sizeof msg);
  }
  hist_print(stdout, "floor_one_way", &one_way, 1);
  fflush(stdout);
  close(fd);
  exit(0);
}

int main(int argc, char **argv) {
  double rate = 10000;
  total_events = 100000;
  warmup_events = 2000;
  for (int i = 1; i < argc; i++) {
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--rate") && next) { rate = atof(next); i++; }
    else if (!strcmp(argv[i], "--events") && next) { total_events = atol(next); i++; }
    else if (!strcmp(argv[i], "--warmup") && next) { warmup_events = atol(next); i++; }
    else if (!strcmp(argv[i], "--payload") && next) { payload = atoi(next); i++; }
    else { fprintf(stderr, "floor: unknown option %s\n", argv[i]); return 2; }
  }
  if (payload < 16 || payload > 512 || rate <= 0) { fprintf(stderr, "floor: --payload 16..512, --rate > 0\n"); return 2; }
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  setvbuf(stdout, NULL, _IOLBF, 0);

  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1) ||
      getsockname(listener, (struct sockaddr *)&addr, &len)) { perror("floor: listen"); return 1; }
  pid_t child = fork();
  if (child == 0) echo_server(listener);
  close(listener);

  sock = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(sock, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  if (connect(sock, (struct sockaddr *)&addr, sizeof addr)) { perror("floor: connect"); return 1; }

  pthread_t c, r;
  pthread_create(&c, NULL, consumer, NULL);
  pthread_create(&r, NULL, reader, NULL);

  static hist late;
  uint64_t interval = (uint64_t)(1e9 / rate);
  uint64_t start = now_ns() + 1000000;
  for (long i = 0; i < total_events; i++) {
    uint64_t lateness = pace_until(start + (uint64_t)i * interval);
    if (i >= warmup_events) hist_add(&late, lateness);
    ring[i % RING] = now_ns();
    __atomic_store_n(&published, (uint64_t)i + 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&parked, __ATOMIC_SEQ_CST) && __atomic_exchange_n(&parked, 0, __ATOMIC_SEQ_CST))
      futex(&parked, FUTEX_WAKE_PRIVATE, 1, NULL);
  }
  __atomic_store_n(&done_flag, 1, __ATOMIC_RELEASE);
  futex(&parked, FUTEX_WAKE_PRIVATE, 1, NULL);
  pthread_join(c, NULL);
  pthread_join(r, NULL);
  int status;
  waitpid(child, &status, 0);
  hist_print(stdout, "floor_rtt_half", &rtt, 1);
  hist_print(stdout, "floor_pacer_late", &late, 1);
  return 0;
}
