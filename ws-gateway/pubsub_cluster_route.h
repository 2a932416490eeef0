/*
 * pubsub_cluster_route.h - the pure decisions of the gateway's Redis Cluster mode
 * (pubsub_cluster*.c): which key a command is routed by, what a reply or a pushed array
 * on a node connection is (a shard message, a (un)subscribe confirmation, a pong, a
 * redirect), which node owns a channel, and which addresses a CLUSTER SLOTS reply names
 * (masters and replicas: candidates to ask for the next map). No I/O, no globals, so
 * tests/unit/test_gw_cluster_route.c drives them without a socket.
 *
 * Threads: any (the gateway calls them on the loop thread). Relies on: redis_cluster.h.
 */
#ifndef GW_PUBSUB_CLUSTER_ROUTE_H
#define GW_PUBSUB_CLUSTER_ROUTE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "chat/redis_cluster.h"

/* "host:port" of a node; hosts longer than this are refused by the map parser anyway */
#define GW_CLUSTER_ADDR_LEN (CHAT_REDIS_CLUSTER_HOST_LEN + 8)

/** What arrived on a node connection. */
typedef enum gw_cluster_push {
    GW_CLUSTER_REPLY = 0,    /* not a pub/sub push: an ordinary reply */
    GW_CLUSTER_SMESSAGE,     /* ["smessage", channel, payload] */
    GW_CLUSTER_SSUBSCRIBE,   /* ["ssubscribe", channel, count] */
    GW_CLUSTER_SUNSUBSCRIBE, /* ["sunsubscribe", channel, count] (asked, or the slot moved) */
    GW_CLUSTER_PONG,         /* ["pong", ""] in subscribed mode, or +PONG */
    GW_CLUSTER_OTHER_PUSH    /* another pub/sub array (message, subscribe...): ignored */
} gw_cluster_push_t;

/**
 * Classifies a reply read off a subscriber connection (borrowed). For the three-element
 * kinds, *channel (borrowed from reply) is set; for SMESSAGE *payload too. A status
 * "PONG" is GW_CLUSTER_PONG; any other non-array is GW_CLUSTER_REPLY.
 */
gw_cluster_push_t gw_cluster_classify(const redisReply *reply, const char **channel,
                                      const redisReply **payload);

/** What an error reply means for the routing. */
typedef enum gw_cluster_err {
    GW_CLUSTER_ERR_NONE = 0, /* not an error reply */
    GW_CLUSTER_ERR_MOVED,    /* slot owned elsewhere: follow and refresh the map */
    GW_CLUSTER_ERR_ASK,      /* slot migrating: ASKING + the command there, once */
    GW_CLUSTER_ERR_DOWN,     /* CLUSTERDOWN / TRYAGAIN / MASTERDOWN: refresh, fail */
    GW_CLUSTER_ERR_OTHER     /* the command's own error: the caller's business */
} gw_cluster_err_t;

/** Classifies reply (borrowed, may be NULL); fills *redirect for MOVED / ASK. */
gw_cluster_err_t gw_cluster_classify_error(const redisReply *reply,
                                           chat_redis_redirect_t *redirect);

/** Formats "host:port" into buf; an empty host (the node did not know its address)
 *  becomes fallback_host. */
void gw_cluster_addr(const char *host, int port, const char *fallback_host, char *buf, size_t len);

/**
 * The address ("host:port") of the master owning the slot of key (key_len bytes, a
 * channel or any key) in map, into buf. False (buf "") when no master serves the slot.
 */
bool gw_cluster_owner(const chat_redis_cluster_map_t *map, const char *fallback_host,
                      const char *key, size_t key_len, char *buf, size_t len);

/**
 * Whether a channel subscribed on cur_addr ("" = nowhere) must move once the owner is
 * new_addr ("" = nobody serves the slot): true when it is somewhere else than its owner.
 */
bool gw_cluster_must_move(const char *cur_addr, const char *new_addr);

/**
 * Appends to addrs (max entries of GW_CLUSTER_ADDR_LEN bytes, *n in use) every node a
 * CLUSTER SLOTS reply names, masters and replicas, skipping duplicates and entries
 * without a port. Returns how many were added.
 */
size_t gw_cluster_collect_addrs(const redisReply *slots, const char *fallback_host,
                                char (*addrs)[GW_CLUSTER_ADDR_LEN], size_t max, size_t *n);

/** Splits "host:port" (host is everything before the last ':'). False when malformed. */
bool gw_cluster_split_addr(const char *addr, char *host, size_t host_len, int *port);

/** The distinct masters of map as "host:port" into addrs (at most max), in slot order.
 *  Returns how many. */
size_t gw_cluster_map_masters(const chat_redis_cluster_map_t *map, const char *fallback_host,
                              char (*addrs)[GW_CLUSTER_ADDR_LEN], size_t max);

/**
 * The heartbeat channel of a node: "chat:gw:<gateway_id>:{hb<k>}" for the smallest k
 * whose slot node_addr serves in map, into buf (so that the node's own command
 * connection SPUBLISHes and its subscriber connection receives it). False (buf "") when
 * the node serves no slot found within a bounded search.
 */
bool gw_cluster_hb_channel(const chat_redis_cluster_map_t *map, const char *fallback_host,
                           const char *gateway_id, const char *node_addr, char *buf, size_t len);

/** A number describing which master serves every slot (equal maps, equal numbers):
 *  to log a map change once. 0 for NULL. */
unsigned long gw_cluster_map_fingerprint(const chat_redis_cluster_map_t *map,
                                         const char *fallback_host);

#endif
