/*
 * peer-ring.c: the hook-cost floor, as a plugin: stamp the clock and copy the deal into
 * a ring of 512-byte slots claimed by one atomic add (TradeTap's journal slot size), in
 * memory, nothing forwarded. Tools/bench-hook measures the same baseline with rdtsc in
 * one process; this one goes through the paced host's dlopen and timing like the rest.
 */
#include "peer.h"

#define RING_SLOTS (1u << 16)
typedef struct { _Alignas(64) unsigned char bytes[512]; } ring_slot;
static ring_slot *ring;
static uint64_t ring_head;

static const char *peer_name(void) { return "C ring copy"; }
static int peer_open(const char *endpoint) {
  (void)endpoint;
  ring = aligned_alloc(64, sizeof(ring_slot) * RING_SLOTS);
  if (!ring) return -1;
  memset(ring, 0, sizeof(ring_slot) * RING_SLOTS); /* fault the pages in now, not in the hook */
  return 0;
}
static void peer_send(const peer_record *record) {
  uint64_t i = __atomic_fetch_add(&ring_head, 1, __ATOMIC_RELAXED);
  memcpy(ring[i & (RING_SLOTS - 1)].bytes, record, sizeof *record);
  peer_sent++;
}
static void peer_close(void) { free(ring); ring = NULL; }
