/*
 * pubsub_internal.h - the state shared by pubsub.c (connections, subscriptions, health)
 * and pubsub_publish.c (PUBLISH, the retry queue, commands). Not for other modules:
 * they use pubsub.h.
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
#include "pubsub.h"

typedef enum { CH_NONE = 0, CH_SUB_SENT, CH_ACTIVE, CH_UNSUB_SENT } ps_chan_state_t;

typedef struct ps_chan {
    ps_chan_state_t state;
    bool want;
} ps_chan_t;

typedef struct ps_conn {
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
} ps_conn_t;

typedef struct ps_pub {
    struct ps_pub *next;
    gw_pubsub_t *ps;
    char room_id[CHAT_ID_LEN];
    gw_frame_t *frame;
    bool retry;
} ps_pub_t;

struct gw_pubsub {
    gw_t *gw;
    char *host;
    char *password;
    int port;
    int db;
    char control_channel[CHAT_KEY_LEN];
    ps_conn_t sub;
    ps_conn_t cmd;
    gw_hmap_t *chans;      /* room id -> ps_chan_t* */
    ps_pub_t *retry_head;  /* room messages waiting for Redis */
    ps_pub_t *retry_tail;
    size_t retry_len;
    uv_timer_t health_timer;
    int64_t last_hb_ms;
    int64_t last_ping_ms;
    int open_handles;
    bool closing;
};

static inline void ps__channel_of(const char *room_id, char *buf, size_t len)
{
    chat_key_room_channel(room_id, buf, len);
}

/** Sends the queued room messages while the command connection is up. */
void gw_pubsub__flush_retry(gw_pubsub_t *ps);
/** Frees the retry queue (shutdown). */
void gw_pubsub__drop_retry(gw_pubsub_t *ps);

#endif
