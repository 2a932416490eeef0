/*
 * session.h - one WebSocket connection: identity from the token, the bounded send
 * queue of shared frames (written by the loop's write round after the callbacks that
 * queued them, several to one socket as one TCP push, or by
 * LWS_CALLBACK_SERVER_WRITEABLE when the socket was full: session_flush.c), fragment
 * reassembly with a size cap, the room subscriptions it holds, per-session presence
 * dedupe and abuse counting. The struct is lws's per-session user space, opaque outside
 * the session module (session_internal.h): the layers above read and set what they own of
 * it through the functions below.
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

/** A token bucket of client frames: frame_handlers.c fills and takes from it. */
typedef struct gw_frame_budget {
    double tokens;
    int64_t at_ms; /* last refill (0: never) */
} gw_frame_budget_t;

struct gw_admission_stash; /* admission_stash.c's */

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
/** LWS_CALLBACK_SERVER_WRITEABLE: the ping if one is due, else the queue as far as the
 *  socket takes it. Returns -1 to close. */
int gw_session_writeable(gw_session_t *s);
/** The write round (session_flush.c): before the first session opens. -1: no memory. */
int gw_session_flush_start(gw_t *gw);
/** Ends it (what is still queued goes by lws's writeable callback); frees it through
 *  the loop. */
void gw_session_flush_stop(gw_t *gw);

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

/* ------------------------------------------------------------------ session_state.c */

/** Bytes lws reserves per connection for the session (its protocol table). */
size_t gw_session_size(void);
/** Zeroes s before the upgrade fills it (lws's per-session space may be reused). */
void gw_session_reset(gw_session_t *s);
/** Identity from a verified token, and the peer address of wsi (upgrade_auth.c). */
void gw_session_set_identity(gw_session_t *s, struct lws *wsi, const chat_jwt_claims_t *claims);
/** The room (and after_seq) the upgrade URL asked for: joined once admitted. */
void gw_session_set_url_resume(gw_session_t *s, const char *room_id, bool has_after,
                               int64_t after_seq);
/** That room, or NULL; has_after/after_seq as given. */
const char *gw_session_url_room(const gw_session_t *s, bool *has_after, int64_t *after_seq);
/** An auth frame's new token: its expiry and id. True when the id changed. */
bool gw_session_renew_token(gw_session_t *s, int64_t exp, const char *jti);

gw_t *gw_session_gw(const gw_session_t *s);
uint64_t gw_session_conn_id(const gw_session_t *s);
/** conn_id as text: the sessions map's key and the "conn" log field. */
const char *gw_session_conn_key(const gw_session_t *s);
const char *gw_session_user_id(const gw_session_t *s);
const char *gw_session_username(const gw_session_t *s);
/** The token's id ("" for old tokens). */
const char *gw_session_jti(const gw_session_t *s);
/** Closing (or closed): send nothing more, start nothing new. */
bool gw_session_is_closing(const gw_session_t *s);
/** Frames waiting in its send queue. */
uint32_t gw_session_queued(const gw_session_t *s);
/** Frames queued over all sessions of gw (/metrics). */
size_t gw_session_queued_total(const gw_t *gw);

/** Stops (true) or resumes reading the socket (back-pressure before admission). */
void gw_session_pause_reading(gw_session_t *s, bool paused);
/** admission.h's verdict: checks passed, frames flow. */
bool gw_session_is_admitted(const gw_session_t *s);
void gw_session_set_admitted(gw_session_t *s);
/** Whether the socket is in its user's count in Redis (admission_counts.h). */
bool gw_session_is_counted(const gw_session_t *s);
void gw_session_set_counted(gw_session_t *s, bool counted);
/** admission_stash.c's slot: frames received before admission (NULL: none). */
struct gw_admission_stash **gw_session_stash(gw_session_t *s);
/** frame_handlers.c's token bucket. */
gw_frame_budget_t *gw_session_frame_budget(gw_session_t *s);

/** Messages sent for storage and not answered yet (message_pipeline.h). */
uint32_t gw_session_inflight(const gw_session_t *s);
/** +1 when one is sent, -1 when answered (never below 0). */
void gw_session_inflight_add(gw_session_t *s, int delta);
/** Subscription jobs on the workers now (subscription.h). */
uint32_t gw_session_sub_jobs(const gw_session_t *s);
void gw_session_sub_jobs_add(gw_session_t *s, int delta);
/** A replay paused until the send queue drains (true), or no longer waiting (false): the
 *  events table's drained() is called while any wait. */
void gw_session_replay_wait(gw_session_t *s, bool waiting);

/** Its subscriptions, n of them (the array may move on the next add or remove). */
gw_sub_t *const *gw_session_subs(const gw_session_t *s, uint32_t *n);
/** 0, or -1 when out of memory. */
int gw_session_add_sub(gw_session_t *s, gw_sub_t *sub);
void gw_session_remove_sub(gw_session_t *s, gw_sub_t *sub);

/** The loop's tick for every session: an expired token closes it (4001), a queue over
 *  its bound past lim.slow_grace_ms closes it (4008); otherwise the keepalive checks it
 *  (keepalive.h). now_sec: wall clock; now_ms: monotonic. */
void gw_session_tick_all(gw_t *gw, int64_t now_sec, int64_t now_ms);
/** Closes every session (draining), flushing queues. */
void gw_session_close_all(gw_t *gw, uint16_t code, const char *reason);

#endif
