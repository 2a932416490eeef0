/*
 * pubsub_internal.h - the state shared by the files of the pubsub module: pubsub.c
 * (create, destroy, health), pubsub_conn.c (connecting, reconnecting), pubsub_channels.c
 * (which channels are wanted and subscribed, what arrives on them) and pubsub_publish.c
 * (PUBLISH, the retry queue, commands). Not for other modules: they use pubsub.h.
 *
 * Threads: loop thread only.
 */
#ifndef GW_PUBSUB_INTERNAL_H
#define GW_PUBSUB_INTERNAL_H

#include <hiredis/async.h>
#include <stdbool.h>
#include <stdint.h>

#include "chat/jwt.h"
#include "chat/keys.h"
#include "held_queue.h"
#include "pubsub.h"

/* Reconnects: 100 ms, doubled up to 1 s between attempts (as the blocking clients'
 * REDIS__RETRY_INTERVAL_MS), so a restart of Redis is followed within a second of its
 * return; a refused attempt costs a loopback or LAN round trip. */
#define GW_PUBSUB_BACKOFF_MIN_MS 100
#define GW_PUBSUB_BACKOFF_MAX_MS 1000

/* Where a channel's SUBSCRIBE stands on the subscribe connection. */
typedef enum gw_pubsub_chan_state {
    GW_PUBSUB_CH_NONE = 0,
    GW_PUBSUB_CH_SUB_SENT,
    GW_PUBSUB_CH_ACTIVE,
    GW_PUBSUB_CH_UNSUB_SENT
} gw_pubsub_chan_state_t;

typedef struct gw_pubsub_chan {
    gw_pubsub_chan_state_t state;
    bool want;
    uint32_t node_id; /* cluster mode: the node it is (un)subscribed on, 0 = none */
    int64_t sent_ms;  /* cluster mode: when the SSUBSCRIBE went */
} gw_pubsub_chan_t;

typedef struct gw_pubsub_conn {
    gw_pubsub_t *ps;
    const char *name;
    bool is_sub;
    redisAsyncContext *ac; /* NULL while disconnected */
    bool ready;            /* handshake answered */
    bool down_logged;
    int64_t connected_ms;
    bool ping_outstanding;
    int64_t ping_sent_ms;
    int backoff_ms;
    uv_timer_t retry_timer;
    uv_getaddrinfo_t *resolving; /* a host name being looked up off the loop (NULL: none) */
} gw_pubsub_conn_t;

/* Room messages kept for a PUBLISH after a reconnect, at most this many: the oldest
 * goes first (the other gateways fill that gap from MongoDB). */
#define GW_PUBSUB_RETRY_MAX 10000

typedef struct gw_pubsub_pub {
    gw_held_link_t link; /* in the retry queue */
    gw_pubsub_t *ps;
    char room_id[CHAT_ID_LEN];
    gw_frame_t *frame;
    bool retry;
} gw_pubsub_pub_t;

struct gw_pubsub {
    gw_t *gw;
    char *host;
    char *username; /* REDIS_URL's ACL user, NULL for the default user */
    char *password; /* NULL when REDIS_URL has none */
    int port;
    int db;
    char control_channel[CHAT_KEY_LEN];
    gw_pubsub_conn_t sub;
    gw_pubsub_conn_t cmd;
    chat_hmap_t *chans; /* channel name -> gw_pubsub_chan_t* */
    gw_held_t retry;    /* room messages waiting for Redis (gw_pubsub_pub_t) */
    uv_timer_t health_timer;
    int64_t last_hb_ms;
    int64_t last_ping_ms;
    int open_handles;
    bool closing;
    struct gw_pubsub_cluster *cluster; /* REDIS_CLUSTER=1 (pubsub_cluster.c), else NULL */
    gw_pubsub_events_t events;         /* main.c's: what happens is reported up there */
};

static inline void gw_pubsub_room_channel(const char *room_id, char *buf, size_t len)
{
    chat_key_room_channel(room_id, buf, len);
}

/* pubsub_conn.c */
/** Starts connecting c unless it is connected, connecting or the module is closing (a
 *  host name is looked up off the loop first). */
void gw_pubsub_conn_start(gw_pubsub_conn_t *c);
/** Abandons a host name lookup in flight (shutdown). */
void gw_pubsub_conn_stop_resolving(gw_pubsub_conn_t *c);
/** Frees a live connection that stopped answering (its callbacks see NULL replies) and
 *  schedules the reconnect. */
void gw_pubsub_conn_kill(gw_pubsub_conn_t *c, const char *why);
/** The command connection answered PING (reply borrowed; ps.cmd is privdata). */
void gw_pubsub_conn_on_pong(redisAsyncContext *ac, void *r, void *privdata);

/* pubsub_channels.c */
/** Reply callback of every SUBSCRIBE / UNSUBSCRIBE on the subscribe connection, and of
 *  the messages that arrive there (privdata: the gw_pubsub_t). */
void gw_pubsub_channels_on_reply(redisAsyncContext *ac, void *r, void *privdata);
/** A message (data borrowed) on channel chname: to the room registry (unless a
 *  duplicate of this gateway's own) or the user channel module. Both modes use it. */
void gw_pubsub_channels_deliver(gw_pubsub_t *ps, const char *chname, const redisReply *data);
/** The subscribe connection is gone: unwanted channels are forgotten, wanted ones are
 *  marked to be subscribed again. */
void gw_pubsub_channels_reset(gw_pubsub_t *ps);
/** A new subscribe connection: SUBSCRIBE every wanted channel, in batches. */
void gw_pubsub_channels_resubscribe(gw_pubsub_t *ps);
/** Frees the channel table (shutdown). */
void gw_pubsub_channels_free(gw_pubsub_t *ps);

/* pubsub_publish.c */
/** Sends the queued room messages while the command connection is up. */
void gw_pubsub__flush_retry(gw_pubsub_t *ps);
/** Frees the retry queue (shutdown). */
void gw_pubsub__drop_retry(gw_pubsub_t *ps);

#endif
