/*
 * peer-naive.c: what many in-house plugins do: one blocking send() per event on the
 * host thread, over a TCP connection opened at startup (TCP_NODELAY, so every event is
 * its own segment; best latency). A mutex because MT5 calls hooks from several
 * threads. Peer.Endpoint = HOST:PORT (recv-tcp.c listens).
 */
#include "peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd = -1;
static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *peer_name(void) { return "naive blocking send"; }
static int peer_open(const char *endpoint) {
  char host[256];
  snprintf(host, sizeof host, "%s", endpoint);
  char *colon = strrchr(host, ':');
  if (!colon) { peer_log(TS_LOG_ERROR, "Peer.Endpoint: expected HOST:PORT"); return -1; }
  *colon = 0;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { peer_log(TS_LOG_ERROR, "Peer.Endpoint: bad address"); return -1; }
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    peer_log(TS_LOG_ERROR, "connect failed");
    close(fd); fd = -1;
    return -1;
  }
  return 0;
}
static void peer_send(const peer_record *record) {
  pthread_mutex_lock(&send_lock);
  const char *p = (const char *)record;
  size_t left = sizeof *record;
  while (left > 0) {
    ssize_t n = send(fd, p, left, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) { peer_errors++; break; }
    p += n; left -= (size_t)n;
  }
  if (left == 0) peer_sent++;
  pthread_mutex_unlock(&send_lock);
}
static void peer_close(void) { if (fd >= 0) { shutdown(fd, SHUT_WR); close(fd); fd = -1; } }
