/*
 * pubsub_cluster_internal.h - the state shared by pubsub_cluster.c (nodes, connections,
 * slot map refresh, commands) and pubsub_cluster_chans.c (where each channel is
 * subscribed, what arrives on the subscriber connections). Not for other modules.
 *
 * Threads: loop thread only.
 */
#ifndef GW_PUBSUB_CLUSTER_INTERNAL_H
#define GW_PUBSUB_CLUSTER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/redis_cluster.h"
#include "pubsub_cluster.h"
#include "pubsub_cluster_route.h"
#include "pubsub_internal.h"
#include "pubsub_rconn.h"

#define GW_CLUSTER_MAX_NODES 64        /* masters (and redirect targets) with connections */
#define GW_CLUSTER_MAX_CANDS 64        /* addresses to ask for CLUSTER SLOTS */
#define GW_CLUSTER_SUB_TIMEOUT_MS 2000 /* an unconfirmed SSUBSCRIBE is sent again */

typedef struct gw_pubsub_cluster gw_pubsub_cluster_t;

/** One master: its two connections and their health. */
typedef struct gw_cnode {
    gw_pubsub_cluster_t *cl;
    uint32_t id; /* never reused: channels name their node by it */
    char addr[GW_CLUSTER_ADDR_LEN];
    char host[CHAT_REDIS_CLUSTER_HOST_LEN];
    int port;
    gw_rconn_t *sub;
    gw_rconn_t *cmd;
    bool sub_ready; /* answered its first PING */
    bool cmd_ready;
    bool sub_ping_out;
    bool cmd_ping_out;
    int64_t sub_ping_ms;
    int64_t cmd_ping_ms;
    int64_t last_ping_ms;
    int backoff_ms;
    int64_t retry_at_ms;
    bool down_logged;
    char hb_channel[CHAT_KEY_LEN]; /* "" when the node serves no slot */
    int64_t last_hb_ms;            /* the heartbeat last seen on the subscriber side */
} gw_cnode_t;

struct gw_pubsub_cluster {
    gw_pubsub_t *ps;
    chat_redis_cluster_map_t *map; /* NULL until the first CLUSTER SLOTS answer */
    unsigned long map_fp;
    gw_cnode_t *nodes[GW_CLUSTER_MAX_NODES];
    size_t n_nodes;
    uint32_t next_id;
    char cands[GW_CLUSTER_MAX_CANDS][GW_CLUSTER_ADDR_LEN];
    size_t n_cands;
    size_t cand_next;
    gw_rconn_t *probe; /* asks a candidate for CLUSTER SLOTS when no master answers */
    bool refresh_wanted;
    bool refresh_inflight;
    uint32_t refresh_gen;
    int64_t refresh_sent_ms;
    int64_t last_refresh_ms;
    bool reconcile; /* some channel may need a (re)subscribe */
    int64_t last_reconcile_ms;
    bool was_up;
    bool unsub_logged; /* a pushed sunsubscribe was logged since the last map change */
    bool closing;
};

/* pubsub_cluster.c */
/** The node with that id or address, NULL if none. */
gw_cnode_t *gw_cluster_node_by_id(gw_pubsub_cluster_t *cl, uint32_t id);
gw_cnode_t *gw_cluster_node_by_addr(gw_pubsub_cluster_t *cl, const char *addr);
/** The master serving key's slot in the current map, if it has connections. */
gw_cnode_t *gw_cluster_node_for_key(gw_pubsub_cluster_t *cl, const char *key, size_t key_len);
/** The node for addr ("host:port"), created (and connecting) if new; NULL when the
 *  table is full or addr malformed. */
gw_cnode_t *gw_cluster_node_ensure(gw_pubsub_cluster_t *cl, const char *addr);
/** n's subscriber connection answered a PING (+PONG or ["pong", ""]). */
void gw_cluster_node_sub_pong(gw_cnode_t *n);
/** Sends AUTH on c when REDIS_URL has a password (no callback). */
void gw_cluster_auth(gw_pubsub_cluster_t *cl, gw_rconn_t *c);
/** Closes and frees cl->nodes[i] (its pending callbacks run first, its channels are to
 *  be subscribed elsewhere); the last node takes its place. */
void gw_cluster_node_free(gw_pubsub_cluster_t *cl, size_t i);

/* pubsub_cluster_map.c */
/** Adds addr to the addresses asked for CLUSTER SLOTS when no master answers. */
void gw_cluster_add_cand(gw_pubsub_cluster_t *cl, const char *addr);
/** Sends CLUSTER SLOTS now (one in flight at a time; the answer applies the map). */
void gw_cluster_refresh(gw_pubsub_cluster_t *cl, int64_t now);

/* pubsub_cluster.c */
/** Picks n's heartbeat channel for the current map and subscribes it when it changed. */
void gw_cluster_node_set_hb(gw_cnode_t *n);
/** Asks for a new slot map soon (rate-limited). why is logged at debug level. */
void gw_cluster_want_refresh(gw_pubsub_cluster_t *cl, const char *why);

/* pubsub_cluster_chans.c */
/** A reply or push read on n's subscriber connection (borrowed). */
void gw_cluster_chans_on_push(gw_cnode_t *n, redisReply *reply);
/** n's subscriber connection is gone: its channels are to be subscribed again (on
 *  their owner). Returns how many wanted channels it held. */
size_t gw_cluster_chans_node_lost(gw_pubsub_cluster_t *cl, uint32_t node_id);
/** Puts every wanted channel on its owner (SSUBSCRIBE, SUNSUBSCRIBE where it moved
 *  away). Returns how many channels moved to another node. */
size_t gw_cluster_chans_reconcile(gw_pubsub_cluster_t *cl);

#endif
