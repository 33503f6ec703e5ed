/* recv-tcp.c: receiver of the naive peer: accepts one TCP connection, blocking reads
 * into a 64 KB buffer; every complete record of a read is stamped with that read's
 * time. --endpoint HOST:PORT (port 0: prints the port chosen as "port=N" first). */
#include "recv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

static int listener = -1, fd = -1;
static unsigned char buffer[65536 + sizeof(peer_record)];
static size_t held;

static int recv_open(const char *endpoint) {
  char host[256];
  snprintf(host, sizeof host, "%s", endpoint);
  char *colon = strrchr(host, ':');
  if (!colon) return -1;
  *colon = 0;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
  inet_pton(AF_INET, host, &addr.sin_addr);
  listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 1) != 0) { perror("recv-tcp"); return -1; }
  socklen_t len = sizeof addr;
  getsockname(listener, (struct sockaddr *)&addr, &len);
  printf("port=%d\n", ntohs(addr.sin_port));
  return 0;
}

static int recv_poll(int timeout_ms) {
  struct pollfd p = {.fd = fd >= 0 ? fd : listener, .events = POLLIN};
  if (poll(&p, 1, timeout_ms) <= 0) return 0;
  if (fd < 0) {
    fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return 0;
  }
  /* Blocking reads while data keeps coming, as a naive receiver does. */
  ssize_t n = read(fd, buffer + held, sizeof buffer - held);
  if (n <= 0) return -1;
  uint64_t now = now_ns();
  held += (size_t)n;
  size_t off = 0;
  peer_record record;
  while (held - off >= sizeof record) {
    memcpy(&record, buffer + off, sizeof record);
    recv_record(&record, now);
    off += sizeof record;
  }
  memmove(buffer, buffer + off, held - off);
  held -= off;
  return 0;
}
