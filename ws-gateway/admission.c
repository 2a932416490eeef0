/*
 * admission.c - the checks a socket passes before its frames are acted on (see
 * admission.h).
 *
 * New sockets are checked in batches (up to ADMISSION__BATCH per job, at most
 * ADMISSION__PARALLEL jobs at once): a reconnect storm after a restart costs one
 * existence query for a batch of users, not one per socket (user_exists.h). A batch
 * that finds that Redis lost the read model has everybody's room sets built at once
 * (read_model_warm.h, which also warms it at start).
 *
 * Threads: loop thread; admission__run on read workers.
 */
#include "admission.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/grow.h"
#include "chat/log.h"
#include "chat/user_exists.h"
#include "chat/user_rooms_batch.h"
#include "chat/token_denylist.h"
#include "chat/user_sockets.h"
#include "admission_counts.h"
#include "frame_handlers.h"
#include "gateway_metrics.h"
#include "chat/hmap.h"
#include "presence_tracker.h"
#include "read_model_warm.h"
#include "session.h"
#include "store_worker.h"
#include "subscription.h"
#include "user_channel.h"

#define ADMISSION__CLOSE_DELETED 4001
#define ADMISSION__BATCH 1024         /* sockets checked by one job */
#define ADMISSION__PARALLEL 2         /* batch jobs in flight (the read workers' default) */
#define ADMISSION__PENDING_MAX 100000 /* sockets waiting for a batch; past it: 1013 */

/* One socket's checks. */
typedef struct admission__item {
    uint64_t conn_id;
    char user_id[CHAT_ID_LEN];
    char jti[CHAT_JTI_MAX + 1];
    bool token_only; /* an auth frame's new token: the denylist only */
    /* results */
    bool token_revoked;
    bool user_gone;
    bool over_limit;
    bool counted;
} admission__item_t;

struct gw_admission {
    gw_t *gw;
    gw_admission_counts_t *counts; /* this gateway's share of each user's socket count */
    admission__item_t *pending;    /* pending[head .. head + n_pending): waiting for a job */
    size_t head;
    size_t n_pending;
    size_t cap_pending;
    int in_flight; /* batch jobs */
    bool closing;
};

typedef struct admission__job {
    gw_job_t job;
    char gateway_id[128];
    gw_metrics_t *metrics;
    int max_sockets;
    bool found_cold; /* Redis had lost the read model: the windows are warmed next */
    size_t n;
    chat_user_existence_t *exists; /* scratch of the run: n */
    char (*users)[CHAT_ID_LEN];    /* scratch of the run: n */
    admission__item_t items[];
} admission__job_t;

/* ------------------------------------------------------------------ admission */

static void admission__run(gw_job_t *job, gw_store_worker_t *w)
{
    admission__job_t *j = (admission__job_t *)job;
    const chat_store_t *st = gw_store_worker_store(w);
    size_t n_users = 0;
    bool cold = false;

    for (size_t i = 0; i < j->n; i++) {
        admission__item_t *it = &j->items[i];
        if (st->redis != NULL &&
            chat_token_denylist_check(st->redis, it->jti, &it->token_revoked) == CHAT_OK &&
            it->token_revoked) {
            continue;
        }
        if (!it->token_only) {
            memcpy(j->users[n_users++], it->user_id, CHAT_ID_LEN);
        }
    }
    /* one existence query for the whole batch (Redis, then MongoDB for the misses), and
     * one for their room sets, which presence and subscribe read next; when Redis had
     * lost the read model, everybody's room sets at once (one read of room_members
     * instead of one per batch, and none for the users who come later) */
    chat_user_exist_many(st, (const char(*)[CHAT_ID_LEN])j->users, n_users, j->exists, &cold);
    if (cold) {
        gw_read_model_warm_everybody(st, j->gateway_id, j->metrics, "read model was cold");
        j->found_cold = true;
    }
    chat_user_rooms_build_many(st, (const char(*)[CHAT_ID_LEN])j->users, n_users);
    n_users = 0;
    for (size_t i = 0; i < j->n; i++) {
        admission__item_t *it = &j->items[i];
        bool admitted = true;
        if (it->token_revoked || it->token_only) {
            continue;
        }
        it->user_gone = j->exists[n_users++] == CHAT_USER_GONE;
        if (it->user_gone || j->max_sockets <= 0 || st->redis == NULL) {
            continue;
        }
        if (chat_user_sockets_open(st->redis, it->user_id, j->gateway_id, j->max_sockets,
                                   &admitted) == CHAT_OK) {
            it->over_limit = !admitted;
            it->counted = admitted;
        }
    }
}

/* Checks passed: the session joins its user's presence and live channel, and what it
 * asked for meanwhile runs in order. */
static void admission__admit(gw_session_t *s)
{
    gw_t *gw = gw_session_gw(s);
    const char *url_room;
    bool url_has_after;
    int64_t url_after_seq;

    gw_session_set_admitted(s);
    gw_session_pause_reading(s, false); /* reading again if the stash had stopped it */
    gw_presence_socket_opened(gw->presence, gw_session_user_id(s), gw_session_username(s));
    gw_users_socket_opened(gw->users, s);
    url_room = gw_session_url_room(s, &url_has_after, &url_after_seq);
    if (url_room != NULL) {
        gw_subscription_request(s, url_room, true, url_has_after, url_after_seq);
    }
    gw_admission_stash_replay(s, gw_frame_handlers_dispatch);
}

/* One socket's results, on the loop thread. */
static void admission__apply(gw_t *gw, const admission__item_t *it, bool cancelled)
{
    gw_session_t *s = cancelled || gw->stopping ? NULL : gw_session_find(gw, it->conn_id);

    if (it->counted) {
        gw_admission_counts_add(gw->admission_counts, it->user_id);
        if (s == NULL || gw_session_is_closing(s)) {
            gw_admission_counts_remove(gw, it->user_id); /* it went meanwhile */
        } else {
            gw_session_set_counted(s, true);
        }
    }
    if (s == NULL || gw_session_is_closing(s)) {
        return;
    }
    if (it->token_revoked) {
        if (strcmp(gw_session_jti(s), it->jti) == 0) {
            chat_log_info("socket closed: its token was revoked (logout)", "gateway",
                          gw->cfg.gateway_id, "conn", gw_session_conn_key(s), "user",
                          gw_session_user_id(s));
            gw_session_close(s, ADMISSION__CLOSE_DELETED, "token_revoked", false);
        }
    } else if (it->token_only) {
        /* the renewed token is fine; the socket was admitted already */
    } else if (it->user_gone) {
        chat_log_info("socket refused: the token's user no longer exists", "gateway",
                      gw->cfg.gateway_id, "conn", gw_session_conn_key(s), "user",
                      gw_session_user_id(s));
        gw_session_close(s, ADMISSION__CLOSE_DELETED, "account_deleted", false);
    } else if (it->over_limit) {
        chat_log_info("socket refused: too many connections for this user", "gateway",
                      gw->cfg.gateway_id, "conn", gw_session_conn_key(s), "user",
                      gw_session_user_id(s));
        gw_session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "too_many_connections", false);
    } else {
        admission__admit(s);
    }
}

static void admission__pump(gw_t *gw);

static void admission__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    admission__job_t *j = (admission__job_t *)job;

    if (gw->admission != NULL) {
        gw->admission->in_flight--;
    }
    for (size_t i = 0; i < j->n; i++) {
        admission__apply(gw, &j->items[i], cancelled);
    }
    if (j->found_cold && !cancelled) {
        gw_read_model_found_cold(gw);
    }
    free(j->exists);
    free(j->users);
    free(j);
    if (!cancelled && !gw->stopping) {
        admission__pump(gw);
    }
}

/* Starts batch jobs for what waits, up to ADMISSION__PARALLEL in flight. */
static void admission__pump(gw_t *gw)
{
    gw_admission_t *a = gw->admission;

    while (a != NULL && !a->closing && a->in_flight < ADMISSION__PARALLEL && a->n_pending > 0) {
        size_t k = a->n_pending < ADMISSION__BATCH ? a->n_pending : ADMISSION__BATCH;
        admission__job_t *j = calloc(1, sizeof(*j) + k * sizeof(j->items[0]));

        if (j != NULL) {
            j->exists = calloc(k, sizeof(*j->exists));
            j->users = calloc(k, sizeof(*j->users));
        }
        if (j == NULL || j->exists == NULL || j->users == NULL) {
            if (j != NULL) {
                free(j->exists);
                free(j->users);
            }
            free(j);
            return; /* out of memory: they wait for the next try (main.c's tick) */
        }
        j->job.run = admission__run;
        j->job.done = admission__done;
        snprintf(j->gateway_id, sizeof(j->gateway_id), "%s", gw->cfg.gateway_id);
        j->metrics = gw->metrics;
        j->max_sockets = gw->cfg.max_sockets_per_user;
        j->n = k;
        memcpy(j->items, &a->pending[a->head], k * sizeof(j->items[0]));
        if (gw_store_workers_submit_read(gw->workers, &j->job) != 0) {
            /* the worker queue is full (a mass close, a burst): the sockets keep waiting,
             * bounded by ADMISSION__PENDING_MAX, until a job ends or the next tick */
            free(j->exists);
            free(j->users);
            free(j);
            return;
        }
        a->head += k;
        a->n_pending -= k;
        if (a->n_pending == 0) {
            a->head = 0;
        }
        a->in_flight++;
    }
}

static void admission__submit(gw_session_t *s, bool token_only)
{
    gw_t *gw = gw_session_gw(s);
    gw_admission_t *a = gw->admission;
    admission__item_t *it;

    if (a == NULL || a->closing) {
        return; /* shutting down: the socket closes anyway */
    }
    if (a->n_pending >= ADMISSION__PENDING_MAX) {
        gw_session_close(s, 1013, "the gateway is busy, try again", false); /* try again later */
        return;
    }
    if (a->head + a->n_pending == a->cap_pending) {
        if (a->head > 0) { /* room at the front: move the waiting ones there */
            memmove(a->pending, a->pending + a->head, a->n_pending * sizeof(*a->pending));
            a->head = 0;
        } else {
            admission__item_t *grown = chat_grow(a->pending, a->n_pending, &a->cap_pending,
                                                 sizeof(*grown), ADMISSION__BATCH);
            if (grown == NULL) {
                gw_session_close(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory", false);
                return;
            }
            a->pending = grown;
        }
    }
    it = &a->pending[a->head + a->n_pending++];
    memset(it, 0, sizeof(*it));
    it->conn_id = gw_session_conn_id(s);
    snprintf(it->user_id, sizeof(it->user_id), "%s", gw_session_user_id(s));
    snprintf(it->jti, sizeof(it->jti), "%s", gw_session_jti(s));
    it->token_only = token_only;
    admission__pump(gw);
}

void gw_admission_begin(gw_session_t *s)
{
    gw_admission_counts_opened(gw_session_gw(s)->admission_counts, gw_session_user_id(s));
    admission__submit(s, false);
}

void gw_admission_check_token(gw_session_t *s)
{
    if (gw_session_jti(s)[0] != '\0') {
        admission__submit(s, true);
    }
}

int gw_admission_on_frame(gw_session_t *s, const char *data, size_t len)
{
    if (gw_session_is_admitted(s)) {
        gw_frame_handlers_dispatch(s, data, len);
        return 0;
    }
    /* its checks are still running: keep it for then, and once the stash is full stop
     * reading the socket until admission (back-pressure, so a client that sends a burst
     * at once is not cut off) */
    if (!gw_admission_stash(s, data, len)) {
        return -1;
    }
    if (gw_admission_stash_count(s) >= GW_ADMISSION_STASH_PAUSE) {
        gw_session_pause_reading(s, true);
    }
    return 0;
}

void gw_admission_end(gw_session_t *s)
{
    gw_admission_stash_drop(s);
    gw_admission_counts_closed(gw_session_gw(s)->admission_counts, gw_session_user_id(s));
    if (gw_session_is_admitted(s)) {
        gw_presence_socket_closed(gw_session_gw(s)->presence, gw_session_user_id(s));
        gw_users_socket_closed(gw_session_gw(s)->users, s);
    }
    if (gw_session_is_counted(s)) {
        gw_session_set_counted(s, false);
        gw_admission_counts_remove(gw_session_gw(s), gw_session_user_id(s));
    }
}

gw_admission_t *gw_admission_create(gw_t *gw)
{
    gw_admission_t *a = calloc(1, sizeof(*a));

    if (a == NULL) {
        return NULL;
    }
    a->gw = gw;
    a->counts = gw_admission_counts_create(gw, admission__pump);
    if (a->counts == NULL) {
        free(a);
        return NULL;
    }
    gw_read_model_warm_at_start(gw);
    return a;
}

void gw_admission_destroy(gw_admission_t *a)
{
    if (a == NULL) {
        return;
    }
    a->closing = true;
    gw_admission_counts_destroy(a->counts); /* frees once its timer is closed */
    free(a->pending);
    free(a);
}

void gw_admission_pump(gw_t *gw)
{
    admission__pump(gw);
}
