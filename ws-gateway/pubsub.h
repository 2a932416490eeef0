/*
 * pubsub.h - the gateway's two hiredis async connections on the loop (libuv adapter):
 * one in subscribe mode for the chat:room:{<id>} channels local sessions watch and the
 * chat:user:{<id>} channels of the users connected here, one for
 * commands (PUBLISH, EVAL, ZADD/ZREM/ZCOUNT, PING). Both reconnect with backoff; a
 * connection whose replies stop (Redis paused, half-open socket) is declared dead
 * after lim.redis_timeout_ms and replaced. After a reconnect every wanted channel is
 * subscribed again and the registry is told, so it can backfill the gap from MongoDB.
 * With REDIS_CLUSTER=1 the same interface runs on a Redis Cluster (pubsub_cluster.h):
 * two connections per master, SSUBSCRIBE / SPUBLISH, commands routed by key.
 *
 * Threads: loop thread only.
 */
#ifndef GW_PUBSUB_H
#define GW_PUBSUB_H

#include <hiredis/async.h>
#include <stdbool.h>
#include <stddef.h>

#include "gateway.h"
#include "shared_frame.h"

/**
 * What this layer reports to the layers above it (rooms, user channels, presence): a
 * table main.c registers, so pub/sub never calls up into them. Each may be NULL.
 */
typedef struct gw_pubsub_events {
    /** A message arrived on chat:room:{room_id} (payload borrowed for the call). */
    void (*room_message)(gw_t *gw, const char *room_id, const char *payload, size_t len);
    /** The room's channel subscription is confirmed, first or again after a reconnect
     *  (the room backfills what it may have missed). */
    void (*room_channel_ready)(gw_t *gw, const char *room_id);
    /** A message arrived on chat:user:{user_id}. */
    void (*user_message)(gw_t *gw, const char *user_id, const char *payload, size_t len);
    /** Redis answers again after an outage (presence announces this gateway again). */
    void (*redis_up)(gw_t *gw);
} gw_pubsub_events_t;

/** Parses cfg.redis_url and starts connecting. NULL on a malformed url. */
gw_pubsub_t *gw_pubsub_create(gw_t *gw);
/** Registers the events table (copied); call right after gw_pubsub_create. */
void gw_pubsub_set_events(gw_pubsub_t *ps, const gw_pubsub_events_t *events);
/** Drops both connections (pending callbacks run with NULL replies) and frees. */
void gw_pubsub_destroy(gw_pubsub_t *ps);

/** True while the command connection answers (cluster: every master's does and the
 *  slot map covers all slots). */
bool gw_pubsub_up(const gw_pubsub_t *ps);

/** Declares whether a local session watches room_id (SUBSCRIBE / UNSUBSCRIBE). */
void gw_pubsub_want_room(gw_pubsub_t *ps, const char *room_id, bool want);
/** Declares whether a local session belongs to user_id (its live channel). */
void gw_pubsub_want_user(gw_pubsub_t *ps, const char *user_id, bool want);
/** True when the room's channel subscription is confirmed on a live connection. */
bool gw_pubsub_room_active(const gw_pubsub_t *ps, const char *room_id);

/**
 * PUBLISH (cluster: SPUBLISH) frame (borrowed; a reference is taken while in flight) on
 * chat:room:<room_id>.
 * retry=true (room messages): kept in a bounded queue while Redis is down or when the
 * connection dies before the reply, and sent again after a reconnect. Returns true if
 * sent now, false if queued or dropped (Redis down: the caller delivers locally).
 */
bool gw_pubsub_publish_room(gw_pubsub_t *ps, const char *room_id, gw_frame_t *frame, bool retry);

/**
 * Sends a command on the command connection. fn (may be NULL) always runs exactly once
 * for a sent command, with reply NULL when the connection is lost. Returns false (fn not
 * called) when Redis is down.
 */
bool gw_pubsub_command(gw_pubsub_t *ps, redisCallbackFn *fn, void *privdata, int argc,
                       const char **argv, const size_t *argvlen);

#endif
