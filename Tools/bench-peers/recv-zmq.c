/* recv-zmq.c: receiver of the ZeroMQ peer: PULL bound to --endpoint tcp://HOST:PORT,
 * blocking zmq_recv (ZMQ_RCVTIMEO for the idle check); each message stamped when
 * zmq_recv returns. */
#include "recv.h"

#include <zmq.h>

static void *context, *pull;

static int recv_open(const char *endpoint) {
  context = zmq_ctx_new();
  pull = zmq_socket(context, ZMQ_PULL);
  int hwm = 1000000;
  zmq_setsockopt(pull, ZMQ_RCVHWM, &hwm, sizeof hwm);
  if (zmq_bind(pull, endpoint) != 0) { fprintf(stderr, "recv-zmq: %s\n", zmq_strerror(zmq_errno())); return -1; }
  return 0;
}

static int recv_poll(int timeout_ms) {
  zmq_setsockopt(pull, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
  peer_record record;
  for (int i = 0; i < 4096; i++) {
    int n = zmq_recv(pull, &record, sizeof record, i == 0 ? 0 : ZMQ_DONTWAIT);
    if (n < 0) return 0;
    if (n == (int)sizeof record) recv_record(&record, now_ns());
    if (received >= skip + count) break;
  }
  return 0;
}
