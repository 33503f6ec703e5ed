/*
 * peer-zmq.c: ZeroMQ PUSH, as in ZeroMQ-based MetaTrader bridges. zmq_send on the host
 * thread hands the message to libzmq's I/O thread, which writes to TCP. Configuration
 * for latency: libzmq's defaults (TCP_NODELAY is always on, one I/O thread),
 * ZMQ_IMMEDIATE = 1 (queue only to a connected peer), ZMQ_SNDHWM = 1,000,000 so an
 * unpaced burst queues instead of blocking the host, linger -1 so cleanup flushes.
 * A mutex because zmq sockets are not thread-safe and MT5 hooks come from several
 * threads. Peer.Endpoint = tcp://HOST:PORT (recv-zmq.c binds PULL).
 */
#include "peer.h"

#include <zmq.h>

static void *context, *push;
static pthread_mutex_t send_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *peer_name(void) { return "ZeroMQ PUSH"; }
static int peer_open(const char *endpoint) {
  context = zmq_ctx_new();
  push = zmq_socket(context, ZMQ_PUSH);
  int hwm = 1000000, immediate = 1, linger = -1;
  zmq_setsockopt(push, ZMQ_SNDHWM, &hwm, sizeof hwm);
  zmq_setsockopt(push, ZMQ_IMMEDIATE, &immediate, sizeof immediate);
  zmq_setsockopt(push, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_connect(push, endpoint) != 0) { peer_log(TS_LOG_ERROR, zmq_strerror(zmq_errno())); return -1; }
  return 0;
}
static void peer_send(const peer_record *record) {
  pthread_mutex_lock(&send_lock);
  if (zmq_send(push, record, sizeof *record, 0) == (int)sizeof *record) peer_sent++;
  else peer_errors++;
  pthread_mutex_unlock(&send_lock);
}
static void peer_close(void) {
  zmq_close(push);
  zmq_ctx_term(context);
}
