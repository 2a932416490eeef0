/*
 * gateway_metrics.h - the counters and histograms one gateway exports, updated where
 * things happen (a leaf: it calls nothing of the gateway); metrics_page.c renders them at
 * GET /metrics with the gauges read from the gateway's state.
 *
 * Threads: any thread (atomics).
 */
#ifndef GW_GATEWAY_METRICS_H
#define GW_GATEWAY_METRICS_H

#include <stdint.h>

#include "chat/metrics.h"

typedef enum {
    GW_IN_MESSAGE,
    GW_IN_JOIN,
    GW_IN_LEAVE,
    GW_IN_SUBSCRIBE,
    GW_IN_UNSUBSCRIBE,
    GW_IN_TYPING,
    GW_IN_PING,
    GW_IN_AUTH,
    GW_IN_INVALID,
    GW_IN__N
} gw_frame_in_t;

typedef enum {
    GW_OUT_MESSAGE,
    GW_OUT_ACK,
    GW_OUT_ERROR,
    GW_OUT_PRESENCE,
    GW_OUT_TYPING,
    GW_OUT_SUBSCRIBED,
    GW_OUT_PONG,
    GW_OUT_EVENT,
    GW_OUT_OTHER,
    GW_OUT__N
} gw_frame_out_t;

typedef enum { GW_REPLAY_MEMORY, GW_REPLAY_REDIS, GW_REPLAY_DATABASE, GW_REPLAY__N } gw_replay_t;

/* The bounded lists of work batched per tick whose overflow is skipped, not queued. */
typedef enum { GW_BATCH_LAST_SEEN, GW_BATCH_SOCKET_COUNT, GW_BATCH__N } gw_batch_list_t;

/* What one look at a possibly cold read model found (admission.c's warm-up): it built the
 * sets, found them built already, waited for another process building them, or failed
 * (Redis or MongoDB down, or past the size limits: then admission builds per batch). */
typedef enum {
    GW_WARM_BUILT,
    GW_WARM_ALREADY,
    GW_WARM_BY_ANOTHER,
    GW_WARM_FAILED,
    GW_WARM__N
} gw_warm_outcome_t;

/* Where a message's time goes between its receipt and its ack (message_store.c,
 * message_pipeline.c): waiting for its writer thread, the membership check (one Redis
 * round trip), the durable insert, the commit to the room's window and the PUBLISH (one
 * Redis round trip), and the hand-back to the loop thread that acks and fans it out. */
typedef enum {
    GW_PHASE_QUEUED,
    GW_PHASE_MEMBERS,
    GW_PHASE_INSERT,
    GW_PHASE_COMMIT,
    GW_PHASE_HANDBACK,
    GW_PHASE__N
} gw_msg_phase_t;

#define GW_CLOSE_CODES_N 12 /* the codes of gateway_metrics.c's table, then "other" */

typedef struct gw_metrics {
    _Atomic uint64_t sockets_opened;
    _Atomic uint64_t sockets_closed[GW_CLOSE_CODES_N + 1];
    _Atomic uint64_t frames_in[GW_IN__N];
    _Atomic uint64_t frames_out[GW_OUT__N];
    _Atomic uint64_t messages_stored;
    _Atomic uint64_t messages_acked;
    _Atomic uint64_t deliveries;
    _Atomic uint64_t slow_consumer_closes;
    _Atomic uint64_t resume_replays[GW_REPLAY__N];
    _Atomic uint64_t backfills;
    _Atomic uint64_t rate_limited;
    _Atomic uint64_t batch_skipped[GW_BATCH__N];
    _Atomic uint64_t read_model_warms[GW_WARM__N];
    chat_hist_t store_seconds;
    chat_hist_t ack_seconds;
    chat_hist_t delivery_seconds;
    chat_hist_t fanout_seconds;      /* one message handed to every local live subscriber */
    chat_hist_t write_round_seconds; /* first frame queued to every listed socket written */
    chat_hist_t warm_seconds;        /* a warm-up that built or waited, start to sets stored */
    chat_hist_t phase_seconds[GW_PHASE__N]; /* gw_msg_phase_t */
} gw_metrics_t;

/** The frame type a client frame's "type" names (NULL or unknown: GW_IN_INVALID). */
gw_frame_in_t gw_metrics_in_type(const char *type);
/** The kind of a server frame, from its serialized JSON (its "type" member). */
gw_frame_out_t gw_metrics_out_type(const char *payload, size_t len);
/** A socket closed with code (0: the peer closed or went away). */
void gw_metrics_closed(gw_metrics_t *m, unsigned code);
/** The label values of the counters above, for the page (metrics_page.c). */
extern const unsigned gw_metrics_close_codes[GW_CLOSE_CODES_N];
extern const char *const gw_metrics_in_names[GW_IN__N];
extern const char *const gw_metrics_out_names[GW_OUT__N];
extern const char *const gw_metrics_replay_names[GW_REPLAY__N];
extern const char *const gw_metrics_batch_names[GW_BATCH__N];
extern const char *const gw_metrics_warm_names[GW_WARM__N];
extern const char *const gw_metrics_phase_names[GW_PHASE__N];

#endif
