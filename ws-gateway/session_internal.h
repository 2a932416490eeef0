/*
 * session_internal.h - the fields of a connection (session.h), private to the session
 * module: session.c (lifecycle, queue, receive), session_flush.c (the write round),
 * session_state.c (what the layers above read and set through functions) and
 * keepalive.c (pings, idle reaping). Every other file uses session.h's functions.
 *
 * Threads: loop thread only.
 */
#ifndef GW_SESSION_INTERNAL_H
#define GW_SESSION_INTERNAL_H

#include "session.h"

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
    size_t q_cap;
    size_t q_head;
    uint32_t q_len;
    size_t q_bytes;
    int64_t over_since_ms; /* queue over its bound since (0: not over) */
    lws_dll2_t flush_link; /* on the write round's list while attached (session_flush.c) */

    unsigned char *rx; /* fragments of a message being received */
    size_t rx_len;
    size_t rx_cap;
    bool rx_binary;

    gw_sub_t **subs; /* its subscriptions (subscription.c decides what goes in) */
    uint32_t n_subs;
    size_t cap_subs;
    uint32_t replays_waiting; /* subs paused until the queue drains */
    uint32_t sub_jobs;        /* subscription jobs on the workers now */

    bool admitted;                    /* admission.h: checks passed, frames flow */
    bool counted;                     /* in the user's socket count in Redis */
    struct gw_admission_stash *stash; /* frames received before admission (its own) */
    gw_frame_budget_t frame_budget;   /* frame_handlers.c's token bucket */

    chat_hmap_t *presence_seen; /* user id -> 1 online / 2 offline; lazy */
    int64_t abuse_window_start_ms;
    int abuse_count;
    uint32_t inflight; /* messages sent for storage, not yet answered */

    gw_session_t *prev;
    gw_session_t *next;
};

/* ------------------------------------------------------------------ session_flush.c */

/** Queues frame for s (takes a reference) and lists s for the round: at the list's end,
 *  or at its head for a reply to s's own request; a socket still full keeps waiting for
 *  lws's writeable callback. A listed queue that reaches half the bound is written at
 *  once. False: no memory (nothing queued). */
bool gw_session_queue(gw_session_t *s, gw_frame_t *frame, bool reply);

/** Puts s on the write round's list: at its end (a frame of a broadcast), or at its
 *  head (first: a reply to s's own request; moved there if listed already). */
void gw_session_flush_list(gw_session_t *s, bool first);
/** Takes s off the list (written, or closed). */
void gw_session_flush_unlist(gw_session_t *s);
/** s waits for the write round. */
static inline bool gw_session_flush_listed(const gw_session_t *s)
{
    return !lws_dll2_is_detached(&s->flush_link);
}
/** Writes an unlisted s's queue now, as its turn in the round would. */
void gw_session_flush_now(gw_session_t *s);
/** Writes as much of the queue as the socket takes, several frames as one TCP push; asks
 *  lws for SERVER_WRITEABLE when some are left. -1 when a write failed. */
int gw_session_write_queued(gw_session_t *s);
/** After a write: the close frame of a flushed closing session, paused replays, the
 *  ring of a burst given back. */
void gw_session_after_write(gw_session_t *s);
/** (session.c) The close frame goes once the queue is flushed: see gw_session_close. */
void gw_session_close_frame(gw_session_t *s);

#endif
