/*
 * gateway.h - the one per-process state of the WebSocket gateway (gw_t) that every
 * gateway module reaches through its pointer, plus the tunables read once at start-up.
 * Nothing here is global: main() owns one gw_t for the process's lifetime.
 *
 * Threads: gw_t belongs to the loop thread. Worker threads see only what a job
 * hands them (store_worker.h) and the read-only cfg/limits.
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <libwebsockets.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "chat/config.h"
#include "chat/db.h"
#include "chat/ratelimit.h"
#include "heap_trim.h"
#include "chat/hmap.h"

typedef struct gw_session gw_session_t;
typedef struct gw_sub gw_sub_t; /* one session's subscription to one room: subscription.h */
typedef struct gw_store_workers gw_store_workers_t;
typedef struct gw_pubsub gw_pubsub_t;
typedef struct gw_registry gw_registry_t;
typedef struct gw_presence gw_presence_t;
typedef struct gw_pipeline gw_pipeline_t;
typedef struct gw_users gw_users_t;
typedef struct gw_health gw_health_t;
typedef struct gw_audit gw_audit_t;
typedef struct gw_admission gw_admission_t;
typedef struct gw_admission_counts gw_admission_counts_t;
typedef struct gw_session_flush gw_session_flush_t;

/** The gateway's limits and timings (WS_* settings): common/config.h. */
typedef chat_ws_limits_t gw_limits_t;

typedef struct gw {
    chat_config_t cfg;
    gw_limits_t lim;
    uv_loop_t loop;
    struct lws_context *lws;
    struct gw_listener *listener; /* SO_REUSEPORT accept socket feeding lws */
    chat_db_t *db;
    gw_store_workers_t *workers;
    gw_pubsub_t *pubsub;
    gw_registry_t *registry;
    gw_presence_t *presence;
    gw_users_t *users;                       /* per-user live channels (user_channel.h) */
    gw_health_t *health;                     /* /health and /livez (gateway_health.h) */
    gw_audit_t *audit;                       /* membership re-checks (member_audit.h) */
    gw_admission_t *admission;               /* checks of new sockets (admission.h) */
    gw_admission_counts_t *admission_counts; /* its socket counts (admission_counts.h) */
    struct gw_metrics *metrics;              /* /metrics counters (gateway_metrics.h), any thread */
    gw_pipeline_t *pipeline;                 /* stored messages waiting for their commit (acks) */
    chat_local_limiter_t *limiter;           /* rate-limit fallback while Redis is down */
    atomic_bool redis_up;                    /* written by the loop (pubsub.c's health check), read
                                      by the workers: while false they do not wait on
                                      Redis timeouts */

    const struct gw_session_events *session_events; /* main.c's (session.h) */
    chat_hmap_t *sessions;             /* conn key -> gw_session_t (borrowed from lws) */
    gw_session_t *session_head;        /* intrusive list of established sessions */
    gw_session_flush_t *session_flush; /* the write round (session_flush.c) */
    size_t n_sessions;
    size_t presence_seen_total; /* entries of all sessions' presence dedupe maps (session.c) */
    gw_heap_trim_t heap_trim;   /* the most held since the heap was last trimmed (main.c) */
    uint64_t next_conn_id;
    uint32_t next_sub_gen;         /* request generations, unique per process */
    uint64_t next_live_mark;       /* orders subscriptions going LIVE (member audits) */
    struct gw_sub *sub_retry_head; /* subscriptions waiting to retry (subscription.c) */
    struct {
        int64_t next_ms; /* monotonic: the next look at the read model's mark is due */
        bool queued;     /* a look is on the background worker */
        bool missing;    /* the last look found the mark missing: the next one acts */
    } read_model_check;  /* read_model_warm.c's alone */

    uv_timer_t tick_timer; /* 1 s: token expiry */
    uv_timer_t drain_timer;
    uv_signal_t sig_term;
    uv_signal_t sig_int;
    int64_t drain_deadline_ms;
    bool draining; /* SIGTERM seen: refuse new work, close sockets */
    bool stopping; /* tearing down: callbacks only free */
} gw_t;

#endif
