/*
 * message_pipeline.c - rate limit -> store (group commit) -> commit to the window ->
 * local delivery -> ack (see header): the loop thread's half.
 *
 * Threads: loop thread; the store itself runs on a writer worker (message_store.c).
 * Relies on: ratelimit.h, message_decide.h (the pure decisions), held_queue.h,
 * room_registry.h, session.h, store_worker.h, pubsub.h (the rate-limit script call).
 */
#include "message_pipeline.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/hash.h"
#include "chat/log.h"
#include "chat/ratelimit.h"
#include "gateway_metrics.h"
#include "message_decide.h"
#include "message_pipeline_internal.h"
#include "pubsub.h"
#include "room_registry.h"
#include "session.h"
#include "subscription.h"

struct gw_pipeline {
    gw_t *gw;
    chat_hmap_t *inflight; /* key -> msg_req_t*: messages with a client_msg_id in flight */
    gw_held_t held;        /* stored, waiting for Redis to commit them */
    uv_timer_t timer;
    bool timer_on;
};

static void append__done(gw_job_t *job, gw_t *gw, bool cancelled);

static msg_req_t *req__of_held(gw_held_link_t *link)
{
    return link != NULL ? (msg_req_t *)((char *)link - offsetof(msg_req_t, held)) : NULL;
}

static void req__free(msg_req_t *r)
{
    if (r == NULL) {
        return;
    }
    if (r->key[0] != '\0' && r->gw->pipeline != NULL &&
        chat_hmap_get(r->gw->pipeline->inflight, r->key) == r) {
        chat_hmap_remove(r->gw->pipeline->inflight, r->key);
    }
    while (r->waiters != NULL) {
        msg_waiter_t *w = r->waiters;
        r->waiters = w->next;
        free(w);
    }
    gw_frame_unref(r->msg_frame);
    gw_frame_unref(r->ack_frame);
    free(r->content);
    free(r->client_msg_id);
    free(r->json);
    free(r);
}

/* The request is answered: release the sender's in-flight slot. */
static gw_session_t *req__finish(msg_req_t *r)
{
    gw_session_t *s = gw_session_find(r->gw, r->conn_id);

    if (s != NULL) {
        gw_session_inflight_add(s, -1);
    }
    return s;
}

/* The resends that waited for r get its answer too: the ack (ack != NULL) or a
 * retryable error. */
static void req__answer_waiters(msg_req_t *r, gw_frame_t *ack)
{
    while (r->waiters != NULL) {
        msg_waiter_t *w = r->waiters;
        gw_session_t *s = gw_session_find(r->gw, w->conn_id);
        r->waiters = w->next;
        if (s != NULL) {
            gw_session_inflight_add(s, -1);
            if (ack != NULL) {
                gw_session_send(s, ack);
            } else {
                gw_session_send_error(s, "service_unavailable",
                                      "the message was not stored, resend it", r->room_id,
                                      r->client_msg_id, json_pack("{s:b}", "retryable", 1));
            }
        }
        free(w);
    }
}

static void req__fail_unavailable(msg_req_t *r, const char *message)
{
    gw_session_t *s = req__finish(r);

    if (s != NULL) {
        gw_session_send_error(s, "service_unavailable", message, r->room_id, r->client_msg_id,
                              json_pack("{s:b}", "retryable", 1));
    }
    req__answer_waiters(r, NULL);
    req__free(r);
}

/* ------------------------------------------------------------------ loop side */

static void pipeline__schedule(gw_pipeline_t *p);

/* A message is durable and its sender is about to hear it (/metrics). */
static void pipeline__count_ack(const msg_req_t *r)
{
    gw_metrics_t *m = r->gw->metrics;

    if (!r->duplicate) {
        chat_counter_add(&m->messages_stored, 1);
    }
    chat_counter_add(&m->messages_acked, 1);
    chat_hist_observe(&m->ack_seconds, (double)(chat_clock_monotonic_us() - r->queued_us) / 1e6);
}

static void req__submit(msg_req_t *r)
{
    r->job.run = gw_message_store_run;
    r->job.run_batch = gw_message_store_run_batch;
    r->job.done = append__done;
    r->queued_us = chat_clock_monotonic_us();
    r->queued_ms = r->queued_us / 1000;
    if (gw_store_workers_submit(r->gw->workers, chat_hash_fnv1a32(r->room_id), &r->job) != 0) {
        if (r->stored) {
            pipeline__schedule(r->gw->pipeline); /* back on the retry list */
            return;
        }
        req__fail_unavailable(r, "too much pending work, resend later");
    }
}

/* Keeps a stored, uncommitted message until Redis takes it. */
static void pipeline__hold(gw_pipeline_t *p, msg_req_t *r)
{
    /* bounded: the oldest is forgotten (stored; its sender's resend is answered from the
     * stored copy) */
    msg_req_t *old = req__of_held(gw_held_push(&p->held, &r->held));

    if (old != NULL) {
        req__finish(old);
        req__answer_waiters(old, NULL);
        req__free(old);
    }
    pipeline__schedule(p);
}

static void pipeline__on_timer(uv_timer_t *t)
{
    gw_pipeline_t *p = t->data;
    gw_held_link_t *list = NULL;

    p->timer_on = false;
    if (p->gw->stopping || p->held.len == 0) {
        return;
    }
    if (!gw_pubsub_up(p->gw->pubsub)) {
        pipeline__schedule(p); /* Redis still away */
        return;
    }
    list = gw_held_take_all(&p->held);
    while (list != NULL) {
        gw_held_link_t *next = list->next;
        list->next = NULL;
        req__submit(req__of_held(list));
        list = next;
    }
}

static void pipeline__schedule(gw_pipeline_t *p)
{
    if (!p->timer_on && !p->gw->stopping) {
        p->timer_on = true;
        uv_timer_start(&p->timer, pipeline__on_timer, GW_COMMIT_RETRY_MS, 0);
    }
}

static void append__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    msg_req_t *r = (msg_req_t *)job;
    gw_msg_outcome_t out;
    gw_session_t *s;

    if (cancelled || gw->stopping) {
        req__free(r);
        return;
    }
    chat_hist_observe(&gw->metrics->phase_seconds[GW_PHASE_HANDBACK],
                      (double)(chat_clock_monotonic_us() - r->ran_us) / 1e6);
    out = gw_msg_decide_outcome(r->err, r->stored, r->is_member, r->room_hidden, r->committed);
    if (out == GW_MSG_HOLD) {
        /* Redis is away: this gateway's watchers get it now, the ack waits for Redis */
        if (!r->delivered && !r->duplicate) {
            r->delivered = true;
            gw_registry_offer(gw->registry, r->room_id, r->seq, r->msg_frame);
        }
        pipeline__hold(gw->pipeline, r);
        return;
    }
    s = req__finish(r);
    if (out == GW_MSG_ACK) {
        pipeline__count_ack(r);
        if (s != NULL) {
            gw_session_send(s, r->ack_frame); /* the sender hears "stored" before the echo */
        }
        req__answer_waiters(r, r->ack_frame);
        if (!r->delivered && !r->duplicate) {
            gw_registry_offer(gw->registry, r->room_id, r->seq, r->msg_frame);
        }
        req__free(r);
        return;
    }
    if (s != NULL && out == GW_MSG_NOT_FOUND) {
        gw_session_send_error(s, "not_found", "no such room", r->room_id, r->client_msg_id, NULL);
    } else if (s != NULL && out == GW_MSG_NOT_MEMBER) {
        gw_session_send_error(s, "not_member", "you are not a member of this room", r->room_id,
                              r->client_msg_id, NULL);
    } else if (s != NULL && out == GW_MSG_INVALID) {
        gw_session_send_error(s, "invalid_message", "the message was refused", r->room_id,
                              r->client_msg_id, NULL);
    } else if (s != NULL) {
        gw_session_send_error(s, "service_unavailable", "the message was not stored, resend it",
                              r->room_id, r->client_msg_id, json_pack("{s:b}", "retryable", 1));
    }
    if (r->err != CHAT_OK && r->err != CHAT_ERR_INVALID) {
        chat_log_warn("message not stored", "gateway", gw->cfg.gateway_id, "room", r->room_id,
                      "user", r->user_id, "error", chat_strerror(r->err));
    }
    req__answer_waiters(r, NULL);
    req__free(r);
}

/* ------------------------------------------------------------------ rate limit */

static void req__decide(msg_req_t *r, bool allowed, int64_t retry_after_ms)
{
    gw_session_t *s;

    if (allowed) {
        req__submit(r);
        return;
    }
    s = req__finish(r);
    if (s != NULL) {
        chat_counter_add(&r->gw->metrics->rate_limited, 1);
        gw_session_send_error(s, "rate_limited", "too many messages, slow down", r->room_id,
                              r->client_msg_id,
                              json_pack("{s:I}", "retry_after_ms", (json_int_t)retry_after_ms));
        gw_session_note_refusal(s);
    }
    req__free(r);
}

static void req__local_limit(msg_req_t *r)
{
    const chat_config_t *cfg = &r->gw->cfg;
    char key[CHAT_KEY_LEN];
    int64_t retry = 0;
    bool allowed;

    chat_key_ratelimit("msg", r->user_id, key, sizeof(key));
    allowed = chat_local_limiter_take(r->gw->limiter, key, cfg->rate_msg_per_sec,
                                      cfg->rate_msg_burst, chat_clock_monotonic_ms(), &retry);
    req__decide(r, allowed, retry);
}

static void req__on_limit_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* Asks Redis's shared bucket (async): the script by its SHA1, or by its source once
 * Redis said NOSCRIPT. False when Redis is down (nothing sent). */
static bool req__send_limit(msg_req_t *r, bool by_sha)
{
    const chat_config_t *cfg = &r->gw->cfg;
    gw_msg_limit_call_t c;

    gw_msg_decide_limit_call(&c, r->user_id, cfg->rate_msg_per_sec, cfg->rate_msg_burst, by_sha);
    r->limit_by_source = !by_sha;
    return gw_pubsub_command(r->gw->pubsub, req__on_limit_reply, r, c.argc, c.argv, NULL);
}

static void req__on_limit_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    msg_req_t *r = privdata;
    bool allowed = false;
    int64_t retry = 0;

    (void)ac;
    if (r->gw->stopping) {
        req__free(r);
        return;
    }
    if (gw_msg_decide_noscript(reply) && !r->limit_by_source) {
        /* Redis lost its script cache (restart, SCRIPT FLUSH): EVAL caches it again */
        if (!req__send_limit(r, false)) {
            req__local_limit(r);
        }
        return;
    }
    if (chat_ratelimit_parse_reply(reply, &allowed, &retry) != 0) {
        req__local_limit(r); /* Redis went away mid-request */
        return;
    }
    req__decide(r, allowed, retry);
}

void gw_pipeline_submit(gw_session_t *s, const char *room_id, const char *content, size_t len,
                        const char *client_msg_id)
{
    gw_t *gw = gw_session_gw(s);
    const chat_config_t *cfg = &gw->cfg;
    gw_sub_t *sub;
    msg_req_t *r;

    if (gw->draining) {
        gw_session_send_error(s, "service_unavailable", "the gateway is shutting down, reconnect",
                              room_id, client_msg_id, json_pack("{s:b}", "retryable", 1));
        return;
    }
    if (gw_session_inflight(s) >= gw->lim.max_inflight_per_session) {
        /* back-pressure, not abuse: the client resends after its acks arrive */
        gw_session_send_error(s, "too_many_pending", "wait for acks before sending more", room_id,
                              client_msg_id, json_pack("{s:b}", "retryable", 1));
        return;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->content = malloc(len + 1)) == NULL ||
        (client_msg_id != NULL && (r->client_msg_id = strdup(client_msg_id)) == NULL)) {
        req__free(r);
        gw_session_send_error(s, "internal_error", "out of memory", room_id, client_msg_id, NULL);
        return;
    }
    memcpy(r->content, content, len);
    r->content[len] = '\0';
    r->gw = gw;
    r->conn_id = gw_session_conn_id(s);
    snprintf(r->room_id, sizeof(r->room_id), "%s", room_id);
    snprintf(r->user_id, sizeof(r->user_id), "%s", gw_session_user_id(s));
    snprintf(r->username, sizeof(r->username), "%s", gw_session_username(s));
    r->seen_seq = gw_registry_seen_seq(gw->registry, room_id);
    sub = gw_subscription_find(s, room_id);
    r->trusted_member = sub != NULL && gw_subscription_checked(sub);
    gw_session_inflight_add(s, 1);
    if (client_msg_id != NULL) {
        /* a resend of a message still in flight here (its ack waits for the store or for
         * Redis): answered with the original, never stored or queued twice */
        msg_req_t *orig = NULL;
        snprintf(r->key, sizeof(r->key), "%s:%s:%s", room_id, gw_session_user_id(s), client_msg_id);
        orig = chat_hmap_get(gw->pipeline->inflight, r->key);
        if (orig != NULL) {
            msg_waiter_t *wt = calloc(1, sizeof(*wt));
            if (wt != NULL) {
                wt->conn_id = gw_session_conn_id(s);
                wt->next = orig->waiters;
                orig->waiters = wt;
                r->key[0] = '\0';
                req__free(r);
                return;
            }
        }
        if (orig != NULL || chat_hmap_put(gw->pipeline->inflight, r->key, r) != 0) {
            r->key[0] = '\0';
        }
    }

    if (cfg->rate_msg_per_sec <= 0) {
        req__submit(r);
        return;
    }
    if (req__send_limit(r, true)) {
        return;
    }
    req__local_limit(r);
}

/* ------------------------------------------------------------------ lifecycle */

gw_pipeline_t *gw_pipeline_create(gw_t *gw)
{
    gw_pipeline_t *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        return NULL;
    }
    p->gw = gw;
    gw_held_init(&p->held, GW_COMMIT_PENDING_MAX);
    p->inflight = chat_hmap_create(256);
    if (p->inflight == NULL) {
        free(p);
        return NULL;
    }
    uv_timer_init(&gw->loop, &p->timer);
    p->timer.data = p;
    return p;
}

static void pipeline__on_closed(uv_handle_t *h)
{
    gw_pipeline_t *p = h->data;

    chat_hmap_destroy(p->inflight);
    free(p);
}

void gw_pipeline_destroy(gw_pipeline_t *p)
{
    if (p == NULL) {
        return;
    }
    for (gw_held_link_t *l = gw_held_pop(&p->held); l != NULL; l = gw_held_pop(&p->held)) {
        req__free(req__of_held(l));
    }
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, pipeline__on_closed);
}
