/*
 * subscription.c - subscribe / join / leave requests (see subscription.h): a
 * subscription's life from the request to LIVE or its refusal, the job results that
 * move it on, and its end. The worker side of the jobs is sub_job.c, the replay
 * sub_replay.c, the retry list sub_retry.c.
 *
 * Threads: loop thread only (the jobs' run() on workers, in sub_job.c).
 * Relies on: sub_job.h, sub_replay.h, sub_retry.h, room_registry.h (rooms, ordering),
 * session.h (queue room, errors), presence_tracker.h (a join is announced).
 */
#include "subscription.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/hash.h"
#include "chat/log.h"
#include "gateway_metrics.h"
#include "presence_tracker.h"
#include "session.h"
#include "store_worker.h"
#include "sub_job.h"
#include "sub_replay.h"
#include "sub_retry.h"
#include "subscription_internal.h"

static void sub__dispatch(gw_session_t *s, gw_sub_t *sub, gw_sub_job_kind_t kind);

/* ------------------------------------------------------------------ the session's list */

gw_sub_t *gw_subscription_find(gw_session_t *s, const char *room_id)
{
    uint32_t n;
    gw_sub_t *const *subs = gw_session_subs(s, &n);

    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(subs[i]->room_id, room_id) == 0) {
            return subs[i];
        }
    }
    return NULL;
}

/* The i-th of s's subscriptions, or NULL past the end (the list may change between
 * calls: a drop or a dispatch may remove one). */
static gw_sub_t *subs__at(const gw_session_t *s, uint32_t i)
{
    uint32_t n;
    gw_sub_t *const *subs = gw_session_subs(s, &n);

    return i < n ? subs[i] : NULL;
}

bool gw_subscription_checked(const gw_sub_t *sub)
{
    return gw_registry_entry_state(sub->entry) != GW_SUB_PENDING;
}

bool gw_subscription_typing_turn(gw_sub_t *sub, int64_t now_ms, int64_t min_interval_ms)
{
    if (now_ms - sub->last_typing_ms < min_interval_ms) {
        return false;
    }
    sub->last_typing_ms = now_ms;
    return true;
}

/* ------------------------------------------------------------------ life */

static void sub__retry_due(gw_sub_t *sub, int kind)
{
    sub__dispatch(sub->session, sub, (gw_sub_job_kind_t)kind);
}

void gw_subscription_on_tick(gw_t *gw)
{
    if (!gw->draining) {
        gw_sub_retry_run_due(gw, chat_clock_monotonic_ms(), sub__retry_due);
    }
}

void gw_subscription_drop(gw_session_t *s, gw_sub_t *sub)
{
    gw_sub_retry_unlink(gw_session_gw(s), sub);
    gw_sub_replay_unpause(s, sub);
    gw_registry_entry_destroy(gw_session_gw(s)->registry, sub->entry);
    gw_session_remove_sub(s, sub);
    free(sub);
}

void gw_subscription_drop_all(gw_session_t *s)
{
    uint32_t n;

    while (gw_session_subs(s, &n), n > 0) {
        gw_subscription_drop(s, subs__at(s, n - 1));
    }
}

/* A page or a drained queue moved the replay on: fetch the next page when it asks. */
static void sub__continue(gw_session_t *s, gw_sub_t *sub, bool more)
{
    if (gw_sub_replay_continue(s, sub, more) == GW_SUB_REPLAY_FETCH) {
        sub__dispatch(s, sub, GW_SUB_JOB_NEXT);
    }
}

void gw_subscription_on_queue_drained(gw_session_t *s)
{
    uint32_t n;

    gw_session_subs(s, &n);
    for (uint32_t i = n; i-- > 0;) {
        gw_sub_t *sub = subs__at(s, i);
        if (sub != NULL && sub->waiting_queue) {
            gw_sub_replay_unpause(s, sub);
            sub__continue(s, sub, true);
        }
    }
}

/* ------------------------------------------------------------------ jobs */

/* Starts the jobs that waited for the session's other subscription jobs to end. */
static void sub__dispatch_waiting(gw_session_t *s)
{
    gw_sub_t *sub;

    for (uint32_t i = 0; (sub = subs__at(s, i)) != NULL &&
         gw_session_sub_jobs(s) < gw_session_gw(s)->lim.max_sub_jobs;
         i++) {
        if (sub->dispatch_waiting) {
            sub->dispatch_waiting = false;
            sub__dispatch(s, sub, (gw_sub_job_kind_t)sub->retry_kind);
        }
    }
}

/* Membership confirmed for a sub that is not attached yet: now its room may be watched
 * (SUBSCRIBE), and the replay starts once the channel is up. */
static void sub__attach_checked(gw_session_t *s, gw_sub_t *sub, const gw_sub_job_t *j)
{
    sub->checked = true;
    if (j->sys_frame != NULL && !sub->has_after) {
        /* a new member sees the room from their own join message on */
        sub->has_after = true;
        sub->after = j->sys_seq - 1;
    }
    sub->join = false; /* done */
    if (gw_registry_entry_room(sub->entry) == NULL &&
        gw_registry_attach(gw_session_gw(s)->registry, sub->entry, sub->room_id) != 0) {
        gw_sub_job_send_error(s, CHAT_ERR_NOMEM, sub->room_id, 0);
        gw_subscription_drop(s, sub);
        return;
    }
    if (gw_registry_channel_ready(gw_session_gw(s)->registry, gw_registry_entry_room(sub->entry))) {
        sub__dispatch(s, sub, GW_SUB_JOB_START);
    } else {
        sub->waiting_redis = true; /* gw_subscription_on_channel_ready continues */
    }
}

static void sub__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    gw_sub_job_t *j = (gw_sub_job_t *)job;
    gw_session_t *s = NULL;
    gw_sub_t *sub = NULL;
    bool more;

    if (cancelled || gw->stopping) {
        goto cleanup;
    }
    if (j->sys_frame != NULL) {
        /* published by the membership commit; local watchers get it now */
        gw_registry_offer(gw->registry, j->room_id, j->sys_seq, j->sys_frame);
        gw_presence_member_joined(gw->presence, j->room_id, j->user_id);
    }
    s = gw_session_find(gw, j->conn_id);
    if (s == NULL) {
        goto cleanup;
    }
    gw_session_sub_jobs_add(s, -1);
    sub = gw_subscription_find(s, j->room_id);
    if (sub == NULL || sub->gen != j->gen) {
        goto next;
    }
    if (j->err == CHAT_ERR_UNAVAILABLE || j->err == CHAT_ERR_NOMEM) {
        if (sub->retry_backoff_ms == 0) {
            chat_log_warn("subscription waits for MongoDB", "gateway", gw->cfg.gateway_id, "conn",
                          gw_session_conn_key(s), "room", j->room_id);
        }
        gw_sub_retry_schedule(gw, sub, (int)j->kind);
        goto next;
    }
    sub->retry_backoff_ms = 0;
    if (j->err != CHAT_OK) {
        gw_sub_job_send_error(s, j->err, j->room_id, j->retry_after_ms);
        if (j->err == CHAT_ERR_NOT_FOUND) {
            gw_session_note_refusal(s); /* probing for rooms counts toward the close */
        }
        gw_subscription_drop(s, sub);
        goto next;
    }
    if ((j->kind == GW_SUB_JOB_CHECK || j->kind == GW_SUB_JOB_FULL) && !j->is_member) {
        gw_session_send_error(s, "not_member", "you are not a member of this room", j->room_id,
                              NULL, NULL);
        gw_session_note_refusal(s);
        gw_subscription_drop(s, sub);
        goto next;
    }
    if (j->kind == GW_SUB_JOB_CHECK) {
        sub__attach_checked(s, sub, j);
        goto next;
    }
    if (j->kind != GW_SUB_JOB_NEXT) {
        gw_room_t *room = gw_registry_entry_room(sub->entry);
        int64_t last;
        gw_registry_set_initial_seq(gw->registry, room, j->last_seq);
        if (!j->has_after) {
            (void)gw_registry_room_last(room, &last);
            gw_registry_entry_set_delivered(sub->entry, last);
            gw_sub_replay_go_live(s, sub);
            goto next;
        }
        gw_registry_entry_set_delivered(sub->entry, j->after);
        gw_registry_entry_set_state(gw->registry, sub->entry, GW_SUB_REPLAYING);
    }
    if (j->has_after) {
        chat_counter_add(&gw->metrics->resume_replays[j->page.from_window ? GW_REPLAY_REDIS
                                                                          : GW_REPLAY_DATABASE],
                         1);
    }
    more = gw_sub_replay_apply_page(s, sub, &j->page);
    sub__continue(s, sub, more);

next:
    sub__dispatch_waiting(s);

cleanup:
    gw_frame_unref(j->sys_frame);
    gw_history_page_clear(&j->page);
    free(j);
}

static void sub__dispatch(gw_session_t *s, gw_sub_t *sub, gw_sub_job_kind_t kind)
{
    gw_t *gw = gw_session_gw(s);
    gw_sub_job_t *j;

    if (gw_session_sub_jobs(s) >= gw->lim.max_sub_jobs) {
        /* one session never holds more than its share of the workers */
        sub->dispatch_waiting = true;
        sub->retry_kind = (int)kind;
        return;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        goto fail;
    }
    j->job.run = gw_sub_job_run;
    j->job.done = sub__done;
    j->conn_id = gw_session_conn_id(s);
    snprintf(j->room_id, sizeof(j->room_id), "%s", sub->room_id);
    snprintf(j->user_id, sizeof(j->user_id), "%s", gw_session_user_id(s));
    snprintf(j->username, sizeof(j->username), "%s", gw_session_username(s));
    j->gen = sub->gen;
    j->kind = kind;
    j->join = sub->join && (kind == GW_SUB_JOB_CHECK || kind == GW_SUB_JOB_FULL);
    j->membership_per_min = gw->cfg.rate_membership_per_min;
    j->has_after = kind == GW_SUB_JOB_NEXT ? true : sub->has_after;
    j->after = kind == GW_SUB_JOB_NEXT ? gw_registry_entry_delivered(sub->entry) : sub->after;
    if (kind != GW_SUB_JOB_CHECK) {
        const gw_room_t *room = gw_registry_entry_room(sub->entry);
        int64_t last;
        bool known = gw_registry_room_last(room, &last);
        j->need_last_seq = !known;
        j->skip_page = kind != GW_SUB_JOB_NEXT && j->has_after && known &&
            (j->after >= last || gw_registry_recent(room, j->after + 1) != NULL);
    } else {
        j->has_after = false; /* a check reads no page */
    }
    /* a join changes membership and stores a system message: it is a write, ordered
     * with the room's other writes; everything else is a read */
    if ((j->join ? gw_store_workers_submit(gw->workers, chat_hash_fnv1a32(j->room_id), &j->job)
                 : gw_store_workers_submit_read(gw->workers, &j->job)) != 0) {
        free(j);
        goto fail;
    }
    gw_session_sub_jobs_add(s, 1);
    return;

fail:
    gw_sub_retry_schedule(gw, sub, (int)kind); /* busy: the registry tick tries again */
}

/* A request is answered: on a room already watched live here, at once (no Redis
 * subscription is at stake); otherwise membership is checked before the room is
 * watched. */
static void sub__start(gw_session_t *s, gw_sub_t *sub)
{
    const gw_room_t *room = gw_registry_entry_room(sub->entry);

    if (room != NULL && gw_registry_channel_ready(gw_session_gw(s)->registry, room)) {
        sub__dispatch(s, sub, sub->checked ? GW_SUB_JOB_START : GW_SUB_JOB_FULL);
    } else if (room != NULL && sub->checked) {
        sub->waiting_redis = true;
    } else {
        sub__dispatch(s, sub, GW_SUB_JOB_CHECK);
    }
}

void gw_subscription_on_channel_ready(gw_t *gw, gw_room_t *room)
{
    for (uint32_t i = gw_registry_room_watchers(room); i-- > 0;) {
        gw_sub_t *sub = gw_registry_room_sub(room, i);
        if (sub->waiting_redis) {
            sub->waiting_redis = false;
            sub__dispatch(sub->session, sub, sub->checked ? GW_SUB_JOB_START : GW_SUB_JOB_FULL);
        }
    }
    (void)gw;
}

void gw_subscription_recheck(gw_session_t *s, gw_sub_t *sub)
{
    gw_t *gw = gw_session_gw(s);

    /* results of the request in flight are ignored (gen) */
    gw_sub_replay_unpause(s, sub);
    gw_sub_retry_unlink(gw, sub);
    sub->retry_backoff_ms = 0;
    sub->gen = ++gw->next_sub_gen;
    gw_registry_entry_set_state(gw->registry, sub->entry, GW_SUB_PENDING);
    sub->join = false; /* a removal is never undone by joining again here */
    sub->waiting_redis = false;
    sub->dispatch_waiting = false;
    sub->checked = false;
    sub__start(s, sub);
}

void gw_subscription_request(gw_session_t *s, const char *room_id, bool join, bool has_after,
                             int64_t after)
{
    gw_t *gw = gw_session_gw(s);
    gw_sub_t *sub;
    uint32_t n_subs;

    if (gw->draining) {
        gw_session_send_error(s, "service_unavailable", "the gateway is shutting down", room_id,
                              NULL, json_pack("{s:b}", "retryable", 1));
        return;
    }
    sub = gw_subscription_find(s, room_id);
    if (sub != NULL) {
        if (!has_after) {
            if (gw_registry_entry_state(sub->entry) == GW_SUB_LIVE) {
                gw_sub_replay_go_live(s, sub); /* repeats the confirmation */
            }
            return;
        }
        /* resume from a new point: results of the old request are ignored (gen) */
        gw_sub_replay_unpause(s, sub);
        gw_sub_retry_unlink(gw, sub);
        sub->retry_backoff_ms = 0;
        sub->gen = ++gw->next_sub_gen;
        gw_registry_entry_set_state(gw->registry, sub->entry, GW_SUB_PENDING);
        sub->join = join;
        sub->has_after = true;
        sub->after = after;
        sub->waiting_redis = false;
        sub->dispatch_waiting = false;
        sub->checked = false; /* asked again: checked again */
        sub__start(s, sub);
        return;
    }
    if (gw_session_subs(s, &n_subs), n_subs >= gw->lim.max_rooms_per_session) {
        gw_session_send_error(s, "too_many_rooms", "this connection watches too many rooms",
                              room_id, NULL, NULL);
        return;
    }
    sub = calloc(1, sizeof(*sub));
    if (sub == NULL || (sub->entry = gw_registry_entry_create(s, sub)) == NULL) {
        free(sub);
        gw_session_send_error(s, "internal_error", "out of memory", room_id, NULL, NULL);
        return;
    }
    sub->session = s;
    snprintf(sub->room_id, sizeof(sub->room_id), "%s", room_id);
    sub->gen = ++gw->next_sub_gen;
    sub->join = join;
    sub->has_after = has_after;
    sub->after = after;
    {
        /* a room watched live here already costs Redis nothing: join it at once */
        gw_room_t *room = gw_registry_find(gw->registry, room_id);
        if (room != NULL && gw_registry_channel_ready(gw->registry, room) &&
            gw_registry_attach(gw->registry, sub->entry, room_id) != 0) {
            gw_registry_entry_destroy(gw->registry, sub->entry);
            free(sub);
            gw_session_send_error(s, "internal_error", "out of memory", room_id, NULL, NULL);
            return;
        }
    }
    if (gw_session_add_sub(s, sub) != 0) {
        gw_registry_entry_destroy(gw->registry, sub->entry);
        free(sub);
        gw_session_send_error(s, "internal_error", "out of memory", room_id, NULL, NULL);
        return;
    }
    sub__start(s, sub);
}

void gw_subscription_unsubscribe(gw_session_t *s, const char *room_id)
{
    gw_sub_t *sub = gw_subscription_find(s, room_id);

    if (sub != NULL) {
        gw_subscription_drop(s, sub);
    }
    gw_session_send_json(s, json_pack("{s:s, s:s}", "type", "unsubscribed", "room_id", room_id));
}

/* ------------------------------------------------------------------ leave */

static void leave__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    gw_sub_job_leave_t *j = (gw_sub_job_leave_t *)job;
    gw_session_t *s;

    if (cancelled || gw->stopping) {
        goto cleanup;
    }
    s = gw_session_find(gw, j->conn_id);
    if (j->err != CHAT_OK) {
        if (s != NULL) {
            if (j->err == CHAT_ERR_FORBIDDEN) {
                gw_session_send_error(s, "forbidden", "the owner cannot leave their own room",
                                      j->room_id, NULL, NULL);
            } else {
                gw_sub_job_send_error(s, j->err, j->room_id, j->retry_after_ms);
            }
        }
        goto cleanup;
    }
    /* every local session of this user stops receiving the room */
    gw_registry_remove_user(gw->registry, j->room_id, j->user_id);
    if (j->changed && j->sys_frame != NULL) {
        /* published (with member_removed after it) by the membership change */
        gw_registry_offer(gw->registry, j->room_id, j->sys_seq, j->sys_frame);
    }
    if (s != NULL) {
        gw_session_send_json(s, json_pack("{s:s, s:s}", "type", "left", "room_id", j->room_id));
    }

cleanup:
    gw_frame_unref(j->sys_frame);
    free(j);
}

void gw_subscription_leave(gw_session_t *s, const char *room_id)
{
    gw_sub_job_leave_t *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        gw_session_send_error(s, "internal_error", "out of memory", room_id, NULL, NULL);
        return;
    }
    j->job.run = gw_sub_job_run_leave;
    j->job.done = leave__done;
    j->conn_id = gw_session_conn_id(s);
    snprintf(j->room_id, sizeof(j->room_id), "%s", room_id);
    snprintf(j->user_id, sizeof(j->user_id), "%s", gw_session_user_id(s));
    snprintf(j->username, sizeof(j->username), "%s", gw_session_username(s));
    j->membership_per_min = gw_session_gw(s)->cfg.rate_membership_per_min;
    if (gw_store_workers_submit(gw_session_gw(s)->workers, chat_hash_fnv1a32(room_id), &j->job) !=
        0) {
        free(j);
        gw_session_send_error(s, "service_unavailable", "the gateway is busy, try again", room_id,
                              NULL, json_pack("{s:b}", "retryable", 1));
    }
}
