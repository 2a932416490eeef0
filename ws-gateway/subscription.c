/*
 * subscription.c - subscribe / join / leave and flow-controlled replay (see header); a
 * replay the room's recent frames cover is served from them without a query.
 *
 * Threads: loop thread; sub__run and leave__run on worker threads (they touch only
 * their job). Relies on: membership.h, rooms_repo.h, messages_repo.h (workers),
 * room_registry.h (rooms, ordering), session.h (queue room, errors).
 */
#include "subscription.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/log.h"
#include "chat/membership.h"
#include "chat/messages_repo.h"
#include "chat/rooms_repo.h"
#include "presence_tracker.h"
#include "pubsub.h"
#include "session.h"
#include "store_worker.h"

typedef struct sub_job {
    gw_job_t job;
    uint64_t conn_id;
    char room_id[CHAT_ID_LEN];
    char user_id[CHAT_ID_LEN];
    char username[CHAT_USERNAME_MAX + 1];
    uint32_t gen;
    bool join;
    bool has_after;
    bool continuation; /* next replay page only */
    bool need_last_seq; /* the room's seq is not known here yet */
    bool skip_page;     /* the room's recent frames cover the replay: no query */
    int64_t after;
    int limit;
    /* results */
    chat_err_t err;
    bool is_member;
    int64_t last_seq;
    gw_frame_t *sys_frame;
    int64_t sys_seq;
    gw_page_t page;
} sub_job_t;

typedef struct leave_job {
    gw_job_t job;
    uint64_t conn_id;
    char room_id[CHAT_ID_LEN];
    char user_id[CHAT_ID_LEN];
    char username[CHAT_USERNAME_MAX + 1];
    chat_err_t err;
    bool changed;
    gw_frame_t *sys_frame;
    int64_t sys_seq;
} leave_job_t;

static void sub__dispatch(gw_session_t *s, gw_sub_t *sub, bool continuation);

/* ------------------------------------------------------------------ helpers */

static void sub__send_error_for(gw_session_t *s, chat_err_t err, const char *room_id)
{
    switch (err) {
    case CHAT_ERR_NOT_FOUND:
        gw_session_send_error(s, "not_found", "no such room", room_id, NULL, NULL);
        break;
    case CHAT_ERR_FORBIDDEN:
        gw_session_send_error(s, "forbidden", "this room is private (invite only)", room_id,
                              NULL, NULL);
        break;
    case CHAT_ERR_UNAVAILABLE:
    case CHAT_ERR_NOMEM:
        gw_session_send_error(s, "unavailable", "storage is unavailable, try again", room_id,
                              NULL, json_pack("{s:b}", "retryable", 1));
        break;
    default:
        gw_session_send_error(s, chat_err_code(err), chat_strerror(err), room_id, NULL, NULL);
        break;
    }
}

static gw_frame_t *sub__message_frame(const chat_message_t *m)
{
    json_t *j = chat_message_to_json(m);
    gw_frame_t *f = j != NULL ? gw_frame_from_json(j) : NULL;

    json_decref(j);
    return f;
}

static void sub__go_live(gw_session_t *s, gw_sub_t *sub)
{
    sub->state = GW_SUB_LIVE;
    gw_session_send_json(s, json_pack("{s:s, s:s, s:I}", "type", "subscribed", "room_id",
                                      sub->room->id, "last_seq", (json_int_t)sub->delivered));
}

#define SUB__RETRY_MIN_MS 250
#define SUB__RETRY_MAX_MS 5000

static void sub__retry_unlink(gw_t *gw, gw_sub_t *sub)
{
    if (!sub->in_retry) {
        return;
    }
    if (sub->retry_prev != NULL) {
        sub->retry_prev->retry_next = sub->retry_next;
    } else {
        gw->sub_retry_head = sub->retry_next;
    }
    if (sub->retry_next != NULL) {
        sub->retry_next->retry_prev = sub->retry_prev;
    }
    sub->retry_prev = sub->retry_next = NULL;
    sub->in_retry = false;
}

/* MongoDB (or the worker queue) failed this request: try again later, with backoff. */
static void sub__schedule_retry(gw_session_t *s, gw_sub_t *sub, bool continuation)
{
    gw_t *gw = s->gw;

    sub__retry_unlink(gw, sub);
    sub->retry_backoff_ms = sub->retry_backoff_ms == 0 ? SUB__RETRY_MIN_MS
                                                       : sub->retry_backoff_ms * 2;
    if (sub->retry_backoff_ms > SUB__RETRY_MAX_MS) {
        sub->retry_backoff_ms = SUB__RETRY_MAX_MS;
    }
    sub->retry_at_ms = chat_clock_monotonic_ms() + sub->retry_backoff_ms;
    sub->retry_continuation = continuation;
    sub->job_in_flight = false;
    sub->in_retry = true;
    sub->retry_prev = NULL;
    sub->retry_next = gw->sub_retry_head;
    if (gw->sub_retry_head != NULL) {
        gw->sub_retry_head->retry_prev = sub;
    }
    gw->sub_retry_head = sub;
}

void gw_subscription_on_tick(gw_t *gw)
{
    int64_t now = chat_clock_monotonic_ms();
    gw_sub_t *sub = gw->sub_retry_head;

    while (sub != NULL) {
        gw_sub_t *next = sub->retry_next;
        if (sub->retry_at_ms <= now && !gw->draining) {
            sub__retry_unlink(gw, sub);
            sub__dispatch(sub->session, sub, sub->retry_continuation);
        }
        sub = next;
    }
}

void gw_subscription_drop(gw_session_t *s, gw_sub_t *sub)
{
    sub__retry_unlink(s->gw, sub);
    if (sub->waiting_queue) {
        sub->waiting_queue = false;
        s->replays_waiting--;
    }
    gw_registry_detach(s->gw->registry, sub);
    gw_session_remove_sub(s, sub);
    free(sub);
}

void gw_subscription_drop_all(gw_session_t *s)
{
    while (s->n_subs > 0) {
        gw_subscription_drop(s, s->subs[s->n_subs - 1]);
    }
}

/* ------------------------------------------------------------------ replay */

/* Pauses the replay until the session's queue drains (gw_subscription_on_queue_drained). */
static void sub__wait_queue(gw_session_t *s, gw_sub_t *sub)
{
    if (!sub->waiting_queue) {
        sub->waiting_queue = true;
        s->replays_waiting++;
    }
}

/* Queues the page's frames the sub has not had, while the queue has room.
 * Returns true when more may follow (page full, or stopped for lack of room). */
static bool sub__apply_page(gw_session_t *s, gw_sub_t *sub, const gw_page_t *page, int limit)
{
    for (size_t i = 0; i < page->n; i++) {
        if (page->seqs[i] <= sub->delivered) {
            continue;
        }
        if (!gw_session_has_room_for_replay(s, page->frames[i]->len)) {
            return true;
        }
        sub->delivered = page->seqs[i];
        gw_session_send(s, page->frames[i]);
    }
    return page->n >= (size_t)limit;
}

static void sub__replay_next(gw_session_t *s, gw_sub_t *sub, bool more)
{
    gw_frame_t *f;
    bool from_memory = false;

    if (s->closing) {
        return;
    }
    /* What the room still holds in memory needs no query (most resumes are seconds old). */
    while (sub->delivered < sub->room->last &&
           (f = gw_registry_recent(sub->room, sub->delivered + 1)) != NULL) {
        if (!gw_session_has_room_for_replay(s, f->len)) {
            sub__wait_queue(s, sub);
            return;
        }
        sub->delivered++;
        gw_session_send(s, f);
        from_memory = true;
    }
    /* Live only once nothing the room has delivered is missing here. An empty page is no
     * proof: the page may have been read just before a message the room has since
     * delivered was committed; reading again finds it (room->last is always stored).
     * Reaching last through the room's own frames is. */
    if (from_memory) {
        chat_log_debug("replayed from the room's recent frames", "gateway",
                       s->gw->cfg.gateway_id, "conn", s->conn_key, "room", sub->room->id);
    }
    if ((!more || from_memory) && sub->delivered >= sub->room->last) {
        sub__go_live(s, sub);
        return;
    }
    if (gw_session_has_room_for_replay(s, 0) &&
        s->q_len <= s->gw->lim.queue_max_frames / 4) {
        sub__dispatch(s, sub, true);
    } else {
        sub__wait_queue(s, sub);
    }
}

void gw_subscription_on_queue_drained(gw_session_t *s)
{
    for (uint32_t i = s->n_subs; i-- > 0;) {
        gw_sub_t *sub = s->subs[i];
        if (sub->waiting_queue) {
            sub->waiting_queue = false;
            s->replays_waiting--;
            sub__replay_next(s, sub, true);
        }
    }
}

/* ------------------------------------------------------------------ jobs */

static void sub__run(gw_job_t *job, gw_worker_t *w)
{
    sub_job_t *j = (sub_job_t *)job;
    chat_db_t *db = gw_worker_db(w);

    if (!j->continuation) {
        if (j->join) {
            chat_room_t room = {0};
            chat_message_t sys = {0};
            bool changed = false;
            j->err = chat_membership_join(db, j->room_id, j->user_id, j->username, false, &room,
                                          &sys, &changed);
            if (j->err == CHAT_OK) {
                j->is_member = true;
                if (changed) {
                    j->sys_frame = sub__message_frame(&sys);
                    j->sys_seq = sys.seq;
                }
            }
            chat_room_clear(&room);
            chat_message_clear(&sys);
        } else {
            j->err = chat_rooms_is_member(db, j->room_id, j->user_id, &j->is_member);
        }
        if (j->err != CHAT_OK || !j->is_member) {
            return;
        }
        if (j->need_last_seq) {
            j->err = chat_messages_last_seq(db, j->room_id, &j->last_seq);
            if (j->err != CHAT_OK) {
                return;
            }
        }
        if (j->sys_frame != NULL && !j->has_after) {
            /* a new member sees the room from their own join message on */
            j->has_after = true;
            j->after = j->sys_seq - 1;
        }
    }
    if (j->has_after && !j->skip_page) {
        gw_page_fetch(db, j->room_id, j->after, j->limit, &j->page);
        j->err = j->page.err;
    }
}

static void sub__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    sub_job_t *j = (sub_job_t *)job;
    gw_session_t *s = NULL;
    gw_sub_t *sub = NULL;
    bool more;

    if (cancelled || gw->stopping) {
        goto cleanup;
    }
    if (j->sys_frame != NULL) {
        gw_registry_publish_message(gw->registry, j->room_id, j->sys_seq, j->sys_frame);
        gw_presence_member_joined(gw->presence, j->room_id, j->user_id);
    }
    s = gw_session_find(gw, j->conn_id);
    sub = s != NULL ? gw_session_find_sub(s, j->room_id) : NULL;
    if (sub == NULL || sub->gen != j->gen) {
        goto cleanup;
    }
    sub->job_in_flight = false;
    if (j->err == CHAT_ERR_UNAVAILABLE || j->err == CHAT_ERR_NOMEM) {
        if (sub->retry_backoff_ms == 0) {
            chat_log_warn("subscription waits for MongoDB", "gateway", gw->cfg.gateway_id,
                          "conn", s->conn_key, "room", j->room_id);
        }
        sub__schedule_retry(s, sub, j->continuation);
        goto cleanup;
    }
    sub->retry_backoff_ms = 0;
    if (j->err != CHAT_OK) {
        sub__send_error_for(s, j->err, j->room_id);
        gw_subscription_drop(s, sub);
        goto cleanup;
    }
    if (!j->continuation) {
        if (!j->is_member) {
            gw_session_send_error(s, "not_member", "you are not a member of this room",
                                  j->room_id, NULL, NULL);
            gw_subscription_drop(s, sub);
            goto cleanup;
        }
        gw_registry_set_initial_seq(gw->registry, sub->room, j->last_seq);
        sub->member_checked_ms = chat_clock_monotonic_ms();
        if (!j->has_after) {
            sub->delivered = sub->room->last;
            sub__go_live(s, sub);
            goto cleanup;
        }
        sub->delivered = j->after;
        sub->state = GW_SUB_REPLAYING;
    }
    more = sub__apply_page(s, sub, &j->page, j->limit);
    sub__replay_next(s, sub, more);

cleanup:
    gw_frame_unref(j->sys_frame);
    gw_page_clear(&j->page);
    free(j);
}

static void sub__dispatch(gw_session_t *s, gw_sub_t *sub, bool continuation)
{
    gw_t *gw = s->gw;
    sub_job_t *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        goto fail;
    }
    j->job.run = sub__run;
    j->job.done = sub__done;
    j->conn_id = s->conn_id;
    snprintf(j->room_id, sizeof(j->room_id), "%s", sub->room->id);
    snprintf(j->user_id, sizeof(j->user_id), "%s", s->user_id);
    snprintf(j->username, sizeof(j->username), "%s", s->username);
    j->gen = sub->gen;
    j->join = sub->join;
    j->continuation = continuation;
    j->has_after = continuation ? true : sub->has_after;
    j->after = continuation ? sub->delivered : sub->after;
    j->limit = gw->lim.replay_page;
    j->need_last_seq = !sub->room->seq_known;
    j->skip_page = !continuation && j->has_after && sub->room->seq_known &&
                   (j->after >= sub->room->last ||
                    gw_registry_recent(sub->room, j->after + 1) != NULL);
    /* a join changes membership and stores a system message: it is a write, ordered
     * with the room's other writes; everything else is a read */
    if ((j->join && !continuation ? gw_workers_submit(gw->workers, gw_hash_str(j->room_id),
                                                      &j->job)
                                  : gw_workers_submit_read(gw->workers, &j->job)) != 0) {
        free(j);
        goto fail;
    }
    sub->job_in_flight = true;
    return;

fail:
    sub__schedule_retry(s, sub, continuation); /* busy: the registry tick tries again */
}

static void sub__start(gw_session_t *s, gw_sub_t *sub)
{
    if (gw_registry_channel_ready(s->gw->registry, sub->room)) {
        sub__dispatch(s, sub, false);
    } else {
        sub->waiting_redis = true; /* gw_subscription_on_channel_ready continues */
    }
}

void gw_subscription_on_channel_ready(gw_t *gw, gw_room_t *room)
{
    for (uint32_t i = room->n_subs; i-- > 0;) {
        gw_sub_t *sub = room->subs[i];
        if (sub->waiting_redis) {
            sub->waiting_redis = false;
            sub__dispatch(sub->session, sub, false);
        }
    }
    (void)gw;
}

void gw_subscription_request(gw_session_t *s, const char *room_id, bool join, bool has_after,
                             int64_t after)
{
    gw_t *gw = s->gw;
    gw_sub_t *sub;

    if (gw->draining) {
        gw_session_send_error(s, "unavailable", "the gateway is shutting down", room_id, NULL,
                              json_pack("{s:b}", "retryable", 1));
        return;
    }
    sub = gw_session_find_sub(s, room_id);
    if (sub != NULL) {
        if (!has_after) {
            if (sub->state == GW_SUB_LIVE) {
                sub__go_live(s, sub); /* repeats the confirmation */
            }
            return;
        }
        /* resume from a new point: results of the old request are ignored (gen) */
        if (sub->waiting_queue) {
            sub->waiting_queue = false;
            s->replays_waiting--;
        }
        sub__retry_unlink(gw, sub);
        sub->retry_backoff_ms = 0;
        sub->gen = ++gw->next_sub_gen;
        sub->state = GW_SUB_PENDING;
        sub->join = join;
        sub->has_after = true;
        sub->after = after;
        sub->waiting_redis = false;
        sub->job_in_flight = false;
        sub__start(s, sub);
        return;
    }
    if (s->n_subs >= gw->lim.max_rooms_per_session) {
        gw_session_send_error(s, "too_many_rooms", "this connection watches too many rooms",
                              room_id, NULL, NULL);
        return;
    }
    sub = calloc(1, sizeof(*sub));
    if (sub == NULL) {
        gw_session_send_error(s, "internal", "out of memory", room_id, NULL, NULL);
        return;
    }
    sub->session = s;
    sub->gen = ++gw->next_sub_gen;
    sub->join = join;
    sub->has_after = has_after;
    sub->after = after;
    if (gw_registry_attach(gw->registry, sub, room_id) != 0) {
        free(sub);
        gw_session_send_error(s, "internal", "out of memory", room_id, NULL, NULL);
        return;
    }
    if (gw_session_add_sub(s, sub) != 0) {
        gw_registry_detach(gw->registry, sub);
        free(sub);
        gw_session_send_error(s, "internal", "out of memory", room_id, NULL, NULL);
        return;
    }
    sub__start(s, sub);
}

void gw_subscription_unsubscribe(gw_session_t *s, const char *room_id)
{
    gw_sub_t *sub = gw_session_find_sub(s, room_id);

    if (sub != NULL) {
        gw_subscription_drop(s, sub);
    }
    gw_session_send_json(s, json_pack("{s:s, s:s}", "type", "unsubscribed", "room_id", room_id));
}

/* ------------------------------------------------------------------ leave */

static void leave__run(gw_job_t *job, gw_worker_t *w)
{
    leave_job_t *j = (leave_job_t *)job;
    chat_room_t room = {0};
    chat_message_t sys = {0};

    j->err = chat_membership_leave(gw_worker_db(w), j->room_id, j->user_id, j->username, false,
                                   &room, &sys, &j->changed);
    if (j->err == CHAT_OK && j->changed) {
        j->sys_frame = sub__message_frame(&sys);
        j->sys_seq = sys.seq;
    }
    chat_room_clear(&room);
    chat_message_clear(&sys);
}

static void leave__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    leave_job_t *j = (leave_job_t *)job;
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
                sub__send_error_for(s, j->err, j->room_id);
            }
        }
        goto cleanup;
    }
    /* every local session of this user stops receiving the room */
    gw_registry_remove_user(gw->registry, j->room_id, j->user_id);
    if (j->changed) {
        json_t *ev = json_pack("{s:s, s:s, s:s}", "type", "member_removed", "room_id", j->room_id,
                               "user_id", j->user_id);
        gw_frame_t *f = ev != NULL ? gw_frame_from_json(ev) : NULL;
        json_decref(ev);
        if (j->sys_frame != NULL) {
            gw_registry_publish_message(gw->registry, j->room_id, j->sys_seq, j->sys_frame);
        }
        if (f != NULL && !gw_pubsub_publish_room(gw->pubsub, j->room_id, f, false)) {
            gw_registry_deliver_event(gw->registry, j->room_id, f, NULL);
        }
        gw_frame_unref(f);
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
    leave_job_t *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        gw_session_send_error(s, "internal", "out of memory", room_id, NULL, NULL);
        return;
    }
    j->job.run = leave__run;
    j->job.done = leave__done;
    j->conn_id = s->conn_id;
    snprintf(j->room_id, sizeof(j->room_id), "%s", room_id);
    snprintf(j->user_id, sizeof(j->user_id), "%s", s->user_id);
    snprintf(j->username, sizeof(j->username), "%s", s->username);
    if (gw_workers_submit(s->gw->workers, gw_hash_str(room_id), &j->job) != 0) {
        free(j);
        gw_session_send_error(s, "unavailable", "the gateway is busy, try again", room_id, NULL,
                              json_pack("{s:b}", "retryable", 1));
    }
}
