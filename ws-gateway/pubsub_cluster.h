/*
 * pubsub_cluster.h - Redis Cluster mode of the pubsub module (REDIS_CLUSTER=1), used only
 * by the pubsub_*.c files: REDIS_URL names a seed node; the slot map comes from CLUSTER
 * SLOTS and is refreshed after a MOVED / ASK, a lost node, a pushed "sunsubscribe"
 * (slot moved) and periodically. Every master gets a subscriber connection (SSUBSCRIBE
 * of the channels whose slot it serves) and a command connection (SPUBLISH, presence,
 * the rate-limit EVALSHA, routed by key). Channels whose owner changed move to the new
 * owner, and each (re)confirmed room channel is reported to the registry exactly as
 * after a single-node reconnect (gw_registry_on_channel_ready), so the room backfills
 * whatever was published during the switch.
 *
 * Threads: loop thread only. Relies on: pubsub_internal.h, pubsub_rconn.h,
 * pubsub_cluster_route.h, redis_cluster.h.
 */
#ifndef GW_PUBSUB_CLUSTER_H
#define GW_PUBSUB_CLUSTER_H

#include <hiredis/async.h>
#include <stdbool.h>
#include <stddef.h>

#include "pubsub.h"

/* how often pubsub.c's health timer runs in cluster mode */
#define GW_PUBSUB_CLUSTER_TICK_MS 100

/** Starts cluster mode on ps (ps->host/port/credentials parsed): asks the seed for the
 *  slot map. 0, or -1 out of memory. */
int gw_pubsub_cluster_create(gw_pubsub_t *ps);
/** Closes every node connection (pending callbacks run with NULL replies) and frees. */
void gw_pubsub_cluster_destroy(gw_pubsub_t *ps);
/** Health, reconnects, map refreshes and channel placement; every TICK_MS. */
void gw_pubsub_cluster_tick(gw_pubsub_t *ps);
/** True while a full slot map is known and every master's command connection answers. */
bool gw_pubsub_cluster_up(const gw_pubsub_t *ps);

/** gw_pubsub_command in cluster mode: to the master of the command's key (any master
 *  for keyless commands), following MOVED / ASK. fn runs exactly once if true. */
bool gw_pubsub_cluster_command(gw_pubsub_t *ps, redisCallbackFn *fn, void *privdata, int argc,
                               const char **argv, const size_t *argvlen);

/** A channel became wanted or unwanted (pubsub_channels.c's table entry is up to date). */
void gw_pubsub_cluster_want(gw_pubsub_t *ps, const char *channel, bool want);
/** True when channel is confirmed on its owner's live subscriber connection. */
bool gw_pubsub_cluster_chan_active(const gw_pubsub_t *ps, const char *channel);

#endif
