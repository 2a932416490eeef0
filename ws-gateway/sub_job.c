/*
 * sub_job.c - the worker side of subscribe / join / leave (see sub_job.h).
 *
 * Threads: the runs on worker threads (they touch only their job and the worker's
 * store); gw_sub_job_send_error on the loop thread. Relies on: membership.h,
 * member_cache.h, room_cache.h, history.h (workers), session.h (error frames).
 */
#include "sub_job.h"

#include "chat/history.h"
#include "chat/member_cache.h"
#include "chat/membership.h"
#include "chat/room_cache.h"
#include "gateway_metrics.h"
#include "session.h"

static gw_frame_t *job__message_frame(const chat_message_t *m)
{
    json_t *j = chat_message_to_json(m);
    gw_frame_t *f = j != NULL ? gw_frame_from_json(j) : NULL;

    json_decref(j);
    return f;
}

void gw_sub_job_send_error(gw_session_t *s, chat_err_t err, const char *room_id,
                           int64_t retry_after_ms)
{
    switch (err) {
    case CHAT_ERR_RATE_LIMITED:
        chat_counter_add(&gw_session_gw(s)->metrics->rate_limited, 1);
        gw_session_send_error(s, "rate_limited", "too many joins and leaves, slow down", room_id,
                              NULL,
                              json_pack("{s:I}", "retry_after_ms", (json_int_t)retry_after_ms));
        gw_session_note_refusal(s);
        break;
    case CHAT_ERR_NOT_FOUND:
        gw_session_send_error(s, "not_found", "no such room", room_id, NULL, NULL);
        break;
    case CHAT_ERR_FORBIDDEN:
        gw_session_send_error(s, "forbidden", "this room is private (invite only)", room_id, NULL,
                              NULL);
        break;
    case CHAT_ERR_UNAVAILABLE:
    case CHAT_ERR_NOMEM:
        gw_session_send_error(s, "service_unavailable", "storage is unavailable, try again",
                              room_id, NULL, json_pack("{s:b}", "retryable", 1));
        break;
    default:
        gw_session_send_error(s, chat_err_code(err), chat_strerror(err), room_id, NULL, NULL);
        break;
    }
}

/* Membership (or the join) of a job's user; j->err / j->is_member. */
static void job__check_member(gw_sub_job_t *j, const chat_store_t *st)
{
    chat_room_t room = {0};
    bool public_room = false;

    if (j->join) {
        chat_message_t sys = {0};
        bool changed = false;
        bool already = false;
        /* only a real change is charged to the user's membership bucket */
        j->err = chat_member_check(st, j->room_id, j->user_id, &already);
        if (j->err == CHAT_OK && !already) {
            j->err =
                chat_membership_charge(st, j->user_id, j->membership_per_min, &j->retry_after_ms);
        }
        if (j->err == CHAT_OK) {
            j->err = chat_membership_join(st, j->room_id, j->user_id, j->username, false, &room,
                                          &sys, &changed);
        }
        if (j->err == CHAT_ERR_FORBIDDEN) {
            j->err = CHAT_ERR_NOT_FOUND; /* private: outsiders are not told it exists */
        }
        if (j->err == CHAT_OK) {
            j->is_member = true;
            if (changed) {
                j->sys_frame = job__message_frame(&sys);
                j->sys_seq = sys.seq;
            }
        }
        chat_message_clear(&sys);
    } else if (chat_member_surely_outside(st, j->room_id, j->user_id, &public_room)) {
        /* from the user's own room set: a flood of random ids never reaches MongoDB */
        j->is_member = false;
        j->err = public_room ? CHAT_OK : CHAT_ERR_NOT_FOUND;
    } else {
        /* the room first: an unknown room is not_found, not not_member */
        j->err = chat_room_load(st, j->room_id, &room);
        if (j->err == CHAT_OK) {
            j->err = chat_member_check(st, j->room_id, j->user_id, &j->is_member);
        }
        if (j->err == CHAT_OK && !j->is_member && room.is_private) {
            j->err = CHAT_ERR_NOT_FOUND; /* the same answer as for no room at all */
        }
    }
    chat_room_clear(&room);
}

void gw_sub_job_run(gw_job_t *job, gw_store_worker_t *w)
{
    gw_sub_job_t *j = (gw_sub_job_t *)job;
    const chat_store_t *st = gw_store_worker_store(w);

    if (j->kind == GW_SUB_JOB_CHECK || j->kind == GW_SUB_JOB_FULL) {
        job__check_member(j, st);
        if (j->kind == GW_SUB_JOB_CHECK || j->err != CHAT_OK || !j->is_member) {
            return;
        }
    }
    if (j->kind != GW_SUB_JOB_NEXT && j->need_last_seq) {
        j->err = chat_history_head(st, j->room_id, &j->last_seq);
        if (j->err != CHAT_OK) {
            return;
        }
    }
    if (j->has_after && !j->skip_page) {
        gw_history_page_fetch(st, j->room_id, j->after, &j->page);
        j->err = j->page.err;
    }
}

void gw_sub_job_run_leave(gw_job_t *job, gw_store_worker_t *w)
{
    gw_sub_job_leave_t *j = (gw_sub_job_leave_t *)job;
    chat_room_t room = {0};
    chat_message_t sys = {0};
    bool is_in = false;

    j->err = chat_member_check(gw_store_worker_store(w), j->room_id, j->user_id, &is_in);
    if (j->err == CHAT_OK && is_in) {
        j->err = chat_membership_charge(gw_store_worker_store(w), j->user_id, j->membership_per_min,
                                        &j->retry_after_ms);
    }
    if (j->err != CHAT_OK) {
        return;
    }
    j->err = chat_membership_leave(gw_store_worker_store(w), j->room_id, j->user_id, j->username,
                                   false, &room, &sys, &j->changed);
    if (j->err == CHAT_OK && j->changed) {
        j->sys_frame = job__message_frame(&sys);
        j->sys_seq = sys.seq;
    } else if (j->err == CHAT_OK && room.is_private) {
        /* nothing to leave: an outsider is not told that the private room exists */
        bool is_member = false;
        if (chat_member_check(gw_store_worker_store(w), j->room_id, j->user_id, &is_member) ==
                CHAT_OK &&
            !is_member) {
            j->err = CHAT_ERR_NOT_FOUND;
        }
    }
    chat_room_clear(&room);
    chat_message_clear(&sys);
}
