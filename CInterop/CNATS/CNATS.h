/* libnats, the official NATS C client (libnats-dev): the collector's NATS JetStream
 * output (docs/outputs.md). Only the collector links it; the plugin never does. */
#ifndef TRADETAP_CNATS_H
#define TRADETAP_CNATS_H
#include <nats/nats.h>
#endif
