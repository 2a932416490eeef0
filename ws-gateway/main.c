/*
 * main.c - the chat-gateway daemon: reads and validates configuration once, owns the
 * libuv loop that libwebsockets, hiredis and the worker hand-back share, and runs the
 * start and stop order. SIGTERM/SIGINT drain: stop listening, close every socket with
 * 1001 after flushing its queue (at most WS_DRAIN_MS), then tear down in dependency
 * order and free everything so that ASan/valgrind report no leak.
 *
 * Threads: the main thread is the loop thread; store_worker.c starts the workers.
 */
#include <malloc.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/clock.h"
#include "chat/config.h"
#include "chat/db.h"
#include "chat/db_trace.h"
#include "chat/log.h"
#include "admission.h"
#include "gateway.h"
#include "gateway_health.h"
#include "keepalive.h"
#include "gateway_metrics.h"
#include "heap_trim.h"
#include "member_audit.h"
#include "read_model_warm.h"
#include "message_pipeline.h"
#include "presence_tracker.h"
#include "pubsub.h"
#include "room_dedupe.h"
#include "room_registry.h"
#include "server.h"
#include "session.h"
#include "store_worker.h"
#include "subscription.h"
#include "user_channel.h"

#define MAIN__LOG_FLUSH_MS 2000

#define MAIN__TICK_MS 1000
#define MAIN__DRAIN_POLL_MS 50

/* ------------------------------------------------------------------ start-up job */

typedef struct main__index_job {
    gw_job_t job;
    chat_err_t err;
} main__index_job_t;

static void main__index_run(gw_job_t *job, gw_store_worker_t *w)
{
    ((main__index_job_t *)job)->err = chat_db_ensure_indexes(gw_store_worker_db(w));
}

static void main__index_done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    main__index_job_t *j = (main__index_job_t *)job;

    if (!cancelled && j->err != CHAT_OK) {
        chat_log_warn("could not ensure MongoDB indexes (will work once MongoDB is up)", "gateway",
                      gw->cfg.gateway_id, "error", chat_strerror(j->err));
    }
    free(j);
}

/* ------------------------------------------------------------------ pub/sub events */

/* What pub/sub reports goes up here: pubsub.c never calls the layers above it. */
static void main__on_room_message(gw_t *gw, const char *room_id, const char *payload, size_t len)
{
    /* this gateway's own PUBLISH coming back is dropped before anything parses it */
    if (!gw_room_dedupe_drop_stale(gw, room_id, payload, len)) {
        gw_registry_on_channel_message(gw->registry, room_id, payload, len);
    }
}

static void main__on_room_channel_ready(gw_t *gw, const char *room_id)
{
    gw_registry_on_channel_ready(gw->registry, room_id);
}

static void main__on_user_message(gw_t *gw, const char *user_id, const char *payload, size_t len)
{
    gw_users_on_channel_message(gw->users, user_id, payload, len);
}

static void main__on_redis_up(gw_t *gw)
{
    gw_presence_on_redis_up(gw->presence);
}

static void main__on_presence_event(gw_t *gw, const char *room_id, const char *user_id, bool online,
                                    gw_frame_t *frame)
{
    gw_presence_on_event(gw->presence, room_id, user_id, online, frame);
}

static const gw_registry_events_t main__registry_events = {
    .sub_removed = gw_subscription_drop,
    .sub_recheck = gw_subscription_recheck,
    .channel_ready = gw_subscription_on_channel_ready,
    .tick = gw_subscription_on_tick,
    .presence = main__on_presence_event,
};

static const gw_session_events_t main__session_events = {
    .opened = gw_admission_begin,
    .frame = gw_admission_on_frame,
    .closing = gw_subscription_drop_all,
    .closed = gw_admission_end,
    .ping_due = gw_keepalive_send_ping,
    .drained = gw_subscription_on_queue_drained,
    .token_renewed = gw_admission_check_token,
};

static const gw_pubsub_events_t main__pubsub_events = {
    .room_message = main__on_room_message,
    .room_channel_ready = main__on_room_channel_ready,
    .user_message = main__on_user_message,
    .redis_up = main__on_redis_up,
};

/* ------------------------------------------------------------------ timers, drain */

/* After a mass close, or once many rooms lost their last watcher, the freed memory goes
 * back to the system instead of staying at its peak (heap_trim.h). */
static void main__maybe_trim(gw_t *gw)
{
    size_t held =
        gw_heap_trim_estimate(gw->n_sessions, gw_registry_room_count(gw->registry),
                              gw->presence_seen_total, gw_registry_cached_bytes(gw->registry));

    if (gw_heap_trim_due(&gw->heap_trim, held)) {
        struct timespec t0;
        struct timespec t1;
        char took[24];
        char est[24];
        clock_gettime(CLOCK_MONOTONIC, &t0);
        malloc_trim(0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        /* how long the loop stood still for it: a rare event, logged */
        snprintf(took, sizeof(took), "%lld",
                 (long long)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000);
        snprintf(est, sizeof(est), "%zu", held);
        chat_log_info("heap trimmed", "gateway", gw->cfg.gateway_id, "held_estimate", est,
                      "duration_us", took);
    }
}

static void main__on_tick(uv_timer_t *t)
{
    gw_t *gw = t->data;
    int64_t now_sec = chat_clock_now_ms() / 1000;

    int64_t now_ms = chat_clock_monotonic_ms();

    main__maybe_trim(gw);
    gw_admission_pump(gw);   /* sockets that wait since the worker queue was full */
    gw_read_model_check(gw); /* Redis lost the read model since the last look? */
    gw_session_tick_all(gw, now_sec, now_ms); /* expiry, slow consumers, keepalive */
}

static void main__finish(gw_t *gw)
{
    gw->stopping = true;
    uv_timer_stop(&gw->drain_timer);
    uv_timer_stop(&gw->tick_timer);
    gw_presence_shutdown(gw->presence); /* ZREM while Redis is still there */
    gw_server_destroy(gw);              /* closes what is left: CLOSED callbacks run */
    gw_health_destroy(gw->health);      /* freed once its ping (if any) comes back */
    gw->health = NULL;
    gw_audit_destroy(gw->audit); /* the same for its round */
    gw->audit = NULL;
    gw_store_workers_stop(gw->workers); /* joins; leftover jobs only free themselves */
    gw_pubsub_destroy(gw->pubsub);      /* pending replies run with NULL and free */
    gw->pubsub = NULL;
    gw_presence_destroy(gw->presence);
    gw->presence = NULL;
    gw_pipeline_destroy(gw->pipeline);
    gw->pipeline = NULL;
    gw_registry_destroy(gw->registry);
    gw->registry = NULL;
    gw_users_destroy(gw->users);
    gw->users = NULL;
    gw_store_workers_destroy(gw->workers);
    gw->workers = NULL;
    gw_admission_destroy(gw->admission);
    gw->admission = NULL;
    gw_session_flush_stop(gw);
    uv_close((uv_handle_t *)&gw->tick_timer, NULL);
    uv_close((uv_handle_t *)&gw->drain_timer, NULL);
    uv_close((uv_handle_t *)&gw->sig_term, NULL);
    uv_close((uv_handle_t *)&gw->sig_int, NULL);
    chat_log_info("gateway stopped", "gateway", gw->cfg.gateway_id);
}

static void main__on_drain_poll(uv_timer_t *t)
{
    gw_t *gw = t->data;

    if (gw->n_sessions == 0 || chat_clock_monotonic_ms() >= gw->drain_deadline_ms) {
        main__finish(gw);
    }
}

static void main__on_signal(uv_signal_t *h, int signum)
{
    gw_t *gw = h->data;
    char conns[24];

    if (gw->draining) {
        return; /* already draining */
    }
    gw->draining = true;
    snprintf(conns, sizeof(conns), "%zu", gw->n_sessions);
    chat_log_info("draining", "gateway", gw->cfg.gateway_id, "signal",
                  signum == SIGTERM ? "SIGTERM" : "SIGINT", "connections", conns);
    gw_server_stop_listening(gw);
    gw_session_close_all(gw, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
    gw->drain_deadline_ms = chat_clock_monotonic_ms() + gw->lim.drain_ms;
    uv_timer_start(&gw->drain_timer, main__on_drain_poll, MAIN__DRAIN_POLL_MS, MAIN__DRAIN_POLL_MS);
}

static void main__walk_report(uv_handle_t *h, void *arg)
{
    (void)arg;
    chat_log_warn("libuv handle still open at exit", "type", uv_handle_type_name(h->type));
}

/* ------------------------------------------------------------------ main */

int main(void)
{
    gw_t *gw = calloc(1, sizeof(*gw));
    char err[512];
    char port[16];
    int rc = 1;
    bool loop_ready = false;

    if (gw == NULL) {
        fprintf(stderr, "chat-gateway: out of memory\n");
        return 1;
    }
    if (chat_config_load(&gw->cfg, true, err, sizeof(err)) != 0) {
        fprintf(stderr, "chat-gateway: configuration error: %s\n", err);
        free(gw);
        return 2;
    }
    chat_log_init("ws-gateway", gw->cfg.log_level, gw->cfg.log_format);
    /* the loop thread never waits for whoever reads stderr (drops are counted) */
    if (chat_log_async_start((size_t)gw->cfg.log_buffer_bytes) != 0) {
        chat_log_warn("log writer thread not started: logging writes directly");
    }
    chat_db_trace_set_logging(gw->cfg.db_trace != 0);
    atomic_init(&gw->redis_up, true); /* until the first health check says otherwise */
    if (chat_config_ws_limits_load(&gw->lim, err, sizeof(err)) != 0) {
        chat_log_error("configuration error", "error", err);
        rc = 2;
        goto cleanup;
    }
    signal(SIGPIPE, SIG_IGN);
    if (getenv("GLIBC_TUNABLES") == NULL || strstr(getenv("GLIBC_TUNABLES"), "threshold") == NULL) {
        mallopt(M_TRIM_THRESHOLD, GW_TRIM_THRESHOLD_BYTES); /* every arena: heap_trim.h */
    }
    if (uv_loop_init(&gw->loop) != 0) {
        chat_log_error("cannot create the event loop");
        goto cleanup;
    }
    loop_ready = true;
    chat_db_global_init();
    /* a worker waits out a slow reply (abandoning it would leave the server the work and
     * add a retry); an outage is still seen within MONGO_TIMEOUT_MS (connect, select) */
    gw->db = chat_db_create_with_socket_timeout(
        gw->cfg.mongo_uri, gw->cfg.mongo_db, gw->cfg.mongo_timeout_ms,
        gw->lim.mongo_socket_timeout_ms > gw->cfg.mongo_timeout_ms ? gw->lim.mongo_socket_timeout_ms
                                                                   : gw->cfg.mongo_timeout_ms,
        err, sizeof(err));
    if (gw->db == NULL) {
        chat_log_error("configuration error", "error", err);
        rc = 2;
        goto cleanup;
    }
    gw->limiter = chat_local_limiter_create(10000);
    gw->sessions = chat_hmap_create(1024);
    gw->metrics = calloc(1, sizeof(*gw->metrics));
    if (gw->limiter == NULL || gw->sessions == NULL || gw->metrics == NULL) {
        chat_log_error("out of memory");
        goto cleanup;
    }
    gw->workers = gw_store_workers_create(gw, gw->lim.workers, gw->lim.read_workers,
                                          gw->lim.worker_queue_cap, gw->lim.commit_linger_ms);
    gw->registry = gw_registry_create(gw);
    gw_registry_set_events(gw->registry, &main__registry_events);
    gw->presence = gw_presence_create(gw);
    gw->pipeline = gw_pipeline_create(gw);
    gw->users = gw_users_create(gw);
    gw->session_events = &main__session_events;
    if (gw_session_flush_start(gw) != 0) {
        chat_log_error("out of memory");
        rc = 2;
        goto fail_running;
    }
    gw->pubsub = gw_pubsub_create(gw);
    gw_pubsub_set_events(gw->pubsub, &main__pubsub_events);
    gw->health = gw->workers != NULL ? gw_health_create(gw) : NULL;
    gw->audit = gw->workers != NULL ? gw_audit_create(gw) : NULL;
    gw->admission = gw_admission_create(gw);
    if (gw->workers == NULL || gw->registry == NULL || gw->presence == NULL ||
        gw->pipeline == NULL || gw->users == NULL || gw->pubsub == NULL || gw->health == NULL ||
        gw->audit == NULL || gw->admission == NULL) {
        chat_log_error("cannot start the gateway's components");
        rc = 2;
        goto fail_running;
    }
    {
        main__index_job_t *j = calloc(1, sizeof(*j));
        if (j != NULL) {
            j->job.run = main__index_run;
            j->job.done = main__index_done;
            if (gw_store_workers_submit_read(gw->workers, &j->job) != 0) {
                free(j);
            }
        }
    }
    uv_timer_init(&gw->loop, &gw->tick_timer);
    gw->tick_timer.data = gw;
    uv_timer_init(&gw->loop, &gw->drain_timer);
    gw->drain_timer.data = gw;
    uv_signal_init(&gw->loop, &gw->sig_term);
    gw->sig_term.data = gw;
    uv_signal_init(&gw->loop, &gw->sig_int);
    gw->sig_int.data = gw;
    if (gw_server_start(gw) != 0) {
        gw->draining = true;
        uv_timer_start(&gw->drain_timer, main__on_drain_poll, 0, 0);
        rc = 1;
    } else {
        uv_signal_start(&gw->sig_term, main__on_signal, SIGTERM);
        uv_signal_start(&gw->sig_int, main__on_signal, SIGINT);
        uv_timer_start(&gw->tick_timer, main__on_tick, MAIN__TICK_MS, MAIN__TICK_MS);
        snprintf(port, sizeof(port), "%d", gw->cfg.gateway_port);
        chat_log_info("gateway listening", "gateway", gw->cfg.gateway_id, "host",
                      gw->cfg.gateway_host, "port", port);
        rc = 0;
    }
    uv_run(&gw->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 3 && gw->lws != NULL; i++) {
        gw_server_destroy(gw); /* second stage, now that lws's handles are closed */
        uv_run(&gw->loop, UV_RUN_DEFAULT);
    }
    goto cleanup;

fail_running:
    /* components that did start own uv handles: tear them down through the loop */
    gw->stopping = true;
    gw_health_destroy(gw->health);
    gw->health = NULL;
    gw_audit_destroy(gw->audit);
    gw->audit = NULL;
    gw_store_workers_stop(gw->workers);
    gw_pubsub_destroy(gw->pubsub);
    gw->pubsub = NULL;
    gw_presence_destroy(gw->presence);
    gw->presence = NULL;
    gw_pipeline_destroy(gw->pipeline);
    gw->pipeline = NULL;
    gw_registry_destroy(gw->registry);
    gw->registry = NULL;
    gw_users_destroy(gw->users);
    gw->users = NULL;
    gw_store_workers_destroy(gw->workers);
    gw->workers = NULL;
    gw_admission_destroy(gw->admission);
    gw->admission = NULL;
    gw_session_flush_stop(gw);
    uv_run(&gw->loop, UV_RUN_DEFAULT);

cleanup:
    if (loop_ready) {
        if (uv_loop_close(&gw->loop) != 0) {
            uv_walk(&gw->loop, main__walk_report, NULL);
            uv_run(&gw->loop, UV_RUN_NOWAIT);
            (void)uv_loop_close(&gw->loop);
        }
    }
    chat_hmap_destroy(gw->sessions);
    chat_local_limiter_destroy(gw->limiter);
    free(gw->metrics);
    chat_db_destroy(gw->db);
    if (loop_ready) {
        chat_db_global_cleanup();
    }
    chat_config_free(&gw->cfg);
    free(gw);
    chat_log_async_stop(MAIN__LOG_FLUSH_MS);
    return rc;
}
