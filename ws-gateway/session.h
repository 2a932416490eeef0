/*
 * session.h - one WebSocket connection: identity from the token, the bounded send
 * queue of shared frames (a frame for an idle socket with room is written at once; the
 * queue is written one frame per LWS_CALLBACK_SERVER_WRITEABLE), fragment
 * reassembly with a size cap, the room subscriptions it holds, per-session presence
 * dedupe and abuse counting. The struct is lws's per-session user space.
 *
 * Slow clients: a session's queue may go over lim.queue_max_frames / queue_max_bytes
 * for a burst (a batch of messages is delivered at once), but one that stays over for
 * lim.slow_grace_ms, or passes GW_QUEUE_HARD_FACTOR times the bound, is closed with 4008
 * "slow_consumer" (its queue is dropped; the client resumes with subscribe after_seq).
 * Nobody else ever waits for it. The policy itself is slow_consumer.h.
 *
 * Threads: loop thread only.
 */
#ifndef GW_SESSION_H
#define GW_SESSION_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/jwt.h"
#include "gateway.h"
#include "shared_frame.h"

#define GW_CLOSE_TOKEN_EXPIRED 4001
#define GW_CLOSE_SLOW_CONSUMER 4008

struct gw_session {
    struct lws *wsi;
    gw_t *gw;
    uint64_t conn_id;
    char conn_key[24]; /* conn_id as text: map key and log field */
    char user_id[CHAT_ID_LEN];
    char username[CHAT_USERNAME_MAX + 1];
    int64_t token_exp;          /* seconds */
    int64_t last_rx_ms;         /* monotonic: the peer's last frame or pong */
    int64_t ping_sent_ms;       /* monotonic: our last ping (0: none pending) */
    bool ping_due;              /* send a ping at the next writeable */
    char jti[CHAT_JTI_MAX + 1]; /* the token's id ("" for old tokens): logout */
    char peer[64];

    /* filled at upgrade from ?room_id=&after_seq= */
    char url_room[CHAT_ID_LEN];
    bool url_has_after;
    int64_t url_after_seq;

    bool established;
    bool closing;
    bool close_sent; /* the close is in lws's hands */
    uint16_t close_code;
    char close_reason[40];

    gw_frame_t **q; /* ring buffer of frame references */
    uint32_t q_cap;
    uint32_t q_head;
    uint32_t q_len;
    size_t q_bytes;
    int64_t over_since_ms; /* queue over its bound since (0: not over) */

    unsigned char *rx; /* fragments of a message being received */
    size_t rx_len;
    size_t rx_cap;
    bool rx_binary;

    gw_sub_t **subs; /* its subscriptions (subscription.h keeps the list) */
    uint32_t n_subs;
    uint32_t cap_subs;
    uint32_t replays_waiting; /* subs paused until the queue drains */
    uint32_t sub_jobs;        /* subscription jobs on the workers now */

    bool admitted;            /* admission.h: checks passed, frames flow */
    bool counted;             /* in the user's socket count in Redis */
    struct gw_stashed *stash; /* frames received before admission */
    uint32_t n_stash;
    size_t stash_bytes;
    double frame_tokens; /* frame budget (lim.frame_rate / frame_burst) */
    int64_t frame_tokens_ms;

    gw_hmap_t *presence_seen; /* user id -> 1 online / 2 offline; lazy */
    int64_t abuse_window_start_ms;
    int abuse_count;
    uint32_t inflight; /* messages sent for storage, not yet answered */

    gw_session_t *prev;
    gw_session_t *next;
};

/**
 * What a connection reports to the layers above it (admission, protocol, subscriptions,
 * keepalive): a table main.c registers in gw->session_events, so this module never
 * calls them. Every entry is set.
 */
typedef struct gw_session_events {
    /** Established: the checks before its frames are acted on start (admission.h). */
    void (*opened)(gw_session_t *s);
    /** A text frame of valid UTF-8 arrived. 0, or -1 to close the connection with 1008
     *  (too much data before it was admitted). */
    int (*frame)(gw_session_t *s, const char *data, size_t len);
    /** Closing: drop its subscriptions (before its state is freed). */
    void (*closing)(gw_session_t *s);
    /** Gone: its admission state and counts are released. */
    void (*closed)(gw_session_t *s);
    /** Writable with a ping due: send it (what lws's callback returns). */
    int (*ping_due)(gw_session_t *s);
    /** Its send queue drained below the replay threshold: paused replays go on. */
    void (*drained)(gw_session_t *s);
    /** An auth frame gave it a new token (s->jti): check it against the denylist. */
    void (*token_renewed)(gw_session_t *s);
} gw_session_events_t;

#define GW_SESSION_CLOSE_AUTH 4001 /* the account was deleted or the token revoked */

/** LWS_CALLBACK_ESTABLISHED: registers the session, marks its user online, joins the
 *  URL room. */
void gw_session_open(gw_t *gw, gw_session_t *s, struct lws *wsi);
/** LWS_CALLBACK_CLOSED: releases everything the session holds. */
void gw_session_closed(gw_session_t *s);
/** LWS_CALLBACK_RECEIVE. Returns -1 when lws must close the connection. */
int gw_session_receive(gw_session_t *s, const void *in, size_t len);
/** LWS_CALLBACK_SERVER_WRITEABLE: writes one frame. Returns -1 to close. */
int gw_session_writeable(gw_session_t *s);

/** LWS_CALLBACK_TIMER: carries out a close started by gw_session_close(). */
int gw_session_timer(gw_session_t *s);

/** The open session with that id, or NULL (job results use this, never pointers). */
gw_session_t *gw_session_find(gw_t *gw, uint64_t conn_id);

/** Queues frame (takes a reference). False when the session is closing, or when the
 *  queue is full: then the session is closed as a slow consumer. */
bool gw_session_send(gw_session_t *s, gw_frame_t *frame);
/** Closes s as a slow consumer (4008), dropping its queue. */
void gw_session_cut_slow(gw_session_t *s);
/** Serializes json (stolen) into a frame for this session only. */
void gw_session_send_json(gw_session_t *s, json_t *json);
/** {type:"error", code, message[, room_id][, client_msg_id]} plus extra's fields
 *  (extra stolen, may be NULL). */
void gw_session_send_error(gw_session_t *s, const char *code, const char *message,
                           const char *room_id, const char *client_msg_id, json_t *extra);
/** Starts closing with code/reason; flush=true sends queued frames first. */
void gw_session_close(gw_session_t *s, uint16_t code, const char *reason, bool flush);
/** Closes every socket of user_id here (flushing its queue) with code and reason. */
void gw_session_close_user(gw_t *gw, const char *user_id, uint16_t code, const char *reason);
/** Closes the sockets of user_id here that carry the token jti, with code and reason. */
void gw_session_close_token(gw_t *gw, const char *user_id, const char *jti, uint16_t code,
                            const char *reason);
/** s has a new token (an auth frame): reported through the events table. */
void gw_session_token_renewed(gw_session_t *s);

/** Frames the queue can still take before replay must pause (half the bound). */
bool gw_session_has_room_for_replay(const gw_session_t *s, size_t bytes);

/** True (and remembered) when user_id's status differs from what s was last told. */
bool gw_session_presence_changed(gw_session_t *s, const char *user_id, bool online);

/** Counts a refused request; persistent abuse closes with 1008. */
void gw_session_note_refusal(gw_session_t *s);

#endif
