/*
 * message_pipeline.c - rate limit -> store -> ack -> publish (see header).
 *
 * Threads: loop thread; append__run on a worker thread (touches only its request).
 * Relies on: ratelimit.h (Lua script, reply parser, local buckets), messages_repo.h,
 * rooms_repo.h, pubsub.h, room_registry.h, session.h.
 */
#include "message_pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/keys.h"
#include "chat/log.h"
#include "chat/messages_repo.h"
#include "chat/model.h"
#include "chat/ratelimit.h"
#include "chat/rooms_repo.h"
#include "pubsub.h"
#include "room_registry.h"
#include "session.h"
#include "store_worker.h"

#define PIPELINE__MEMBER_CACHE_MS 30000
#define PIPELINE__MAX_QUEUE_WAIT_MS 10000 /* older appends fail fast (overload) */

typedef struct msg_req {
    gw_job_t job;
    gw_t *gw;
    uint64_t conn_id;
    char room_id[CHAT_ID_LEN];
    char user_id[CHAT_ID_LEN];
    char username[CHAT_USERNAME_MAX + 1];
    char *content;
    char *client_msg_id; /* NULL when the client gave none */
    bool check_member;
    int64_t queued_ms;   /* monotonic: when it was handed to the writer */
    int64_t seen_seq;    /* highest seq of the room this gateway has seen (0 = none) */
    /* results */
    chat_err_t err;
    bool is_member;
    bool duplicate;
    int64_t seq;
    gw_frame_t *msg_frame; /* what room members receive (not for duplicates) */
    gw_frame_t *ack_frame;
} msg_req_t;

static void req__free(msg_req_t *r)
{
    if (r == NULL) {
        return;
    }
    gw_frame_unref(r->msg_frame);
    gw_frame_unref(r->ack_frame);
    free(r->content);
    free(r->client_msg_id);
    free(r);
}

/* The request ends without being stored: release the sender's in-flight slot. */
static gw_session_t *req__finish(msg_req_t *r)
{
    gw_session_t *s = gw_session_find(r->gw, r->conn_id);

    if (s != NULL && s->inflight > 0) {
        s->inflight--;
    }
    return s;
}

static void req__fail_unavailable(msg_req_t *r, const char *message)
{
    gw_session_t *s = req__finish(r);

    if (s != NULL) {
        gw_session_send_error(s, "unavailable", message, r->room_id, r->client_msg_id,
                              json_pack("{s:b}", "retryable", 1));
    }
    req__free(r);
}

/* ------------------------------------------------------------------ store */

static void append__run(gw_job_t *job, gw_worker_t *w)
{
    msg_req_t *r = (msg_req_t *)job;
    chat_db_t *db = gw_worker_db(w);
    chat_message_t in = {0};
    chat_message_t out = {0};
    json_t *msg = NULL;
    json_t *ack = NULL;

    if (chat_clock_monotonic_ms() - r->queued_ms > PIPELINE__MAX_QUEUE_WAIT_MS) {
        /* shed load: the sender has most likely given up and resent this already */
        r->err = CHAT_ERR_UNAVAILABLE;
        return;
    }
    if (r->check_member) {
        r->err = chat_rooms_is_member(db, r->room_id, r->user_id, &r->is_member);
        if (r->err != CHAT_OK || !r->is_member) {
            return;
        }
    }
    r->is_member = true;
    snprintf(in.room_id, sizeof(in.room_id), "%s", r->room_id);
    snprintf(in.user_id, sizeof(in.user_id), "%s", r->user_id);
    in.username = r->username;
    in.content = r->content;
    in.client_msg_id = r->client_msg_id;
    in.type = CHAT_MSG_TEXT;
    {
        /* Start from the newest seq anyone here has seen: with writers on several
         * gateways the worker's own hint is stale, and every stale try is a failed
         * insert plus a re-read in MongoDB. Both values are stored seqs, so the hint
         * never runs ahead of the collection. */
        int64_t *mine = gw_worker_seq_hint(w, r->room_id);
        int64_t hint = mine != NULL && *mine > r->seen_seq ? *mine : r->seen_seq;
        r->err = chat_messages_append(db, &in, &hint, &out, &r->duplicate);
        if (mine != NULL && hint > *mine) {
            *mine = hint;
        }
    }
    if (r->err != CHAT_OK) {
        goto cleanup;
    }
    r->seq = out.seq;
    msg = chat_message_to_json(&out);
    if (msg == NULL) {
        r->err = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    ack = json_pack("{s:s, s:o, s:s, s:I, s:O, s:s}", "type", "ack", "client_msg_id",
                    r->client_msg_id != NULL ? json_string(r->client_msg_id) : json_null(),
                    "id", out.id, "seq", (json_int_t)out.seq, "timestamp",
                    json_object_get(msg, "timestamp"), "room_id", out.room_id);
    r->ack_frame = ack != NULL ? gw_frame_from_json(ack) : NULL;
    if (!r->duplicate) {
        r->msg_frame = gw_frame_from_json(msg);
    }
    if (r->ack_frame == NULL || (!r->duplicate && r->msg_frame == NULL)) {
        r->err = CHAT_ERR_NOMEM; /* stored, but no ack: the client's resend gets it */
    }

cleanup:
    json_decref(msg);
    json_decref(ack);
    chat_message_clear(&out);
}

static void append__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    msg_req_t *r = (msg_req_t *)job;
    gw_session_t *s;

    if (cancelled || gw->stopping) {
        req__free(r);
        return;
    }
    s = req__finish(r);
    if (r->err != CHAT_OK || !r->is_member) {
        if (s != NULL) {
            if (r->err == CHAT_OK) {
                gw_session_send_error(s, "not_member", "you are not a member of this room",
                                      r->room_id, r->client_msg_id, NULL);
            } else if (r->err == CHAT_ERR_NOT_FOUND) {
                gw_session_send_error(s, "not_found", "no such room", r->room_id,
                                      r->client_msg_id, NULL);
            } else if (r->err == CHAT_ERR_INVALID) {
                gw_session_send_error(s, "invalid_message", "the message was refused",
                                      r->room_id, r->client_msg_id, NULL);
            } else {
                gw_session_send_error(s, "unavailable", "the message was not stored, resend it",
                                      r->room_id, r->client_msg_id,
                                      json_pack("{s:b}", "retryable", 1));
            }
        }
        if (r->err != CHAT_OK && r->err != CHAT_ERR_NOT_FOUND && r->err != CHAT_ERR_INVALID) {
            chat_log_warn("message not stored", "gateway", gw->cfg.gateway_id, "room", r->room_id,
                          "user", r->user_id, "error", chat_strerror(r->err));
        }
        req__free(r);
        return;
    }
    if (s != NULL) {
        gw_sub_t *sub = gw_session_find_sub(s, r->room_id);
        if (sub != NULL && r->check_member) {
            sub->member_checked_ms = chat_clock_monotonic_ms();
        }
        gw_session_send(s, r->ack_frame);
    }
    if (!r->duplicate) {
        gw_registry_publish_message(gw->registry, r->room_id, r->seq, r->msg_frame);
    }
    req__free(r);
}

static void req__append(msg_req_t *r)
{
    r->job.run = append__run;
    r->job.done = append__done;
    r->queued_ms = chat_clock_monotonic_ms();
    if (gw_workers_submit(r->gw->workers, gw_hash_str(r->room_id), &r->job) != 0) {
        req__fail_unavailable(r, "too much pending work, resend later");
    }
}

/* ------------------------------------------------------------------ rate limit */

static void req__decide(msg_req_t *r, bool allowed, int64_t retry_after_ms)
{
    gw_session_t *s;

    if (allowed) {
        req__append(r);
        return;
    }
    s = req__finish(r);
    if (s != NULL) {
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
    if (chat_ratelimit_parse_reply(reply, &allowed, &retry) != 0) {
        req__local_limit(r); /* Redis went away mid-request */
        return;
    }
    req__decide(r, allowed, retry);
}

void gw_message_submit(gw_session_t *s, const char *room_id, const char *content, size_t len,
                       const char *client_msg_id)
{
    gw_t *gw = s->gw;
    const chat_config_t *cfg = &gw->cfg;
    gw_sub_t *sub;
    msg_req_t *r;

    if (gw->draining) {
        gw_session_send_error(s, "unavailable", "the gateway is shutting down, reconnect",
                              room_id, client_msg_id, json_pack("{s:b}", "retryable", 1));
        return;
    }
    if (s->inflight >= gw->lim.max_inflight_per_session) {
        /* back-pressure, not abuse: the client resends after its acks arrive */
        gw_session_send_error(s, "too_many_pending", "wait for acks before sending more",
                              room_id, client_msg_id, json_pack("{s:b}", "retryable", 1));
        return;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->content = malloc(len + 1)) == NULL ||
        (client_msg_id != NULL && (r->client_msg_id = strdup(client_msg_id)) == NULL)) {
        req__free(r);
        gw_session_send_error(s, "internal", "out of memory", room_id, client_msg_id, NULL);
        return;
    }
    memcpy(r->content, content, len);
    r->content[len] = '\0';
    r->gw = gw;
    r->conn_id = s->conn_id;
    snprintf(r->room_id, sizeof(r->room_id), "%s", room_id);
    snprintf(r->user_id, sizeof(r->user_id), "%s", s->user_id);
    snprintf(r->username, sizeof(r->username), "%s", s->username);
    r->seen_seq = gw_registry_seen_seq(gw->registry, room_id);
    sub = gw_session_find_sub(s, room_id);
    r->check_member = !(sub != NULL && sub->state != GW_SUB_PENDING &&
                        chat_clock_monotonic_ms() - sub->member_checked_ms <
                            PIPELINE__MEMBER_CACHE_MS);
    s->inflight++;

    if (cfg->rate_msg_per_sec <= 0) {
        req__append(r);
        return;
    }
    {
        char key[CHAT_KEY_LEN];
        char rate[32];
        char burst[32];
        const char *argv[7];
        chat_key_ratelimit("msg", s->user_id, key, sizeof(key));
        snprintf(rate, sizeof(rate), "%.6g", cfg->rate_msg_per_sec);
        snprintf(burst, sizeof(burst), "%.6g", cfg->rate_msg_burst);
        argv[0] = "EVAL";
        argv[1] = CHAT_RATELIMIT_LUA;
        argv[2] = "1";
        argv[3] = key;
        argv[4] = rate;
        argv[5] = burst;
        argv[6] = "1";
        if (gw_pubsub_command(gw->pubsub, req__on_limit_reply, r, 7, argv, NULL)) {
            return;
        }
    }
    req__local_limit(r);
}
