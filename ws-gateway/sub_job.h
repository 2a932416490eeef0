/*
 * sub_job.h - the worker jobs behind subscribe / join / leave: what they carry, what a
 * worker does for them (membership check or join, the room's head seq, the first
 * replay page; the leave itself), and how their errors are told to the client. What
 * their results do on the loop is subscription.c's.
 *
 * Threads: gw_sub_job_run / gw_sub_job_run_leave on a worker (they touch only their
 * job); gw_sub_job_send_error on the loop thread.
 */
#ifndef GW_SUB_JOB_H
#define GW_SUB_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/jwt.h"
#include "chat/model.h"
#include "gateway.h"
#include "history_page.h"
#include "store_worker.h"

/* What a subscription job does. A room this gateway does not watch yet is only
 * SUBSCRIBEd once membership is confirmed: CHECK first, then START. */
typedef enum gw_sub_job_kind {
    GW_SUB_JOB_CHECK, /* membership (or the join) only */
    GW_SUB_JOB_FULL,  /* membership, then the room's seq and the first replay page */
    GW_SUB_JOB_START, /* membership just checked: the room's seq and the first page */
    GW_SUB_JOB_NEXT   /* the next replay page */
} gw_sub_job_kind_t;

typedef struct gw_sub_job {
    gw_job_t job;
    uint64_t conn_id;
    char room_id[CHAT_ID_LEN];
    char user_id[CHAT_ID_LEN];
    char username[CHAT_USERNAME_MAX + 1];
    uint32_t gen;
    gw_sub_job_kind_t kind;
    bool join;
    bool has_after;
    bool need_last_seq; /* the room's seq is not known here yet */
    bool skip_page;     /* the room's recent frames cover the replay: no query */
    int64_t after;
    double membership_per_min; /* RATE_MEMBERSHIP_PER_MIN for a join */
    /* results */
    chat_err_t err;
    int64_t retry_after_ms; /* CHAT_ERR_RATE_LIMITED */
    bool is_member;
    int64_t last_seq;
    gw_frame_t *sys_frame;
    int64_t sys_seq;
    gw_history_page_t page;
} gw_sub_job_t;

typedef struct gw_sub_job_leave {
    gw_job_t job;
    uint64_t conn_id;
    char room_id[CHAT_ID_LEN];
    char user_id[CHAT_ID_LEN];
    char username[CHAT_USERNAME_MAX + 1];
    double membership_per_min;
    chat_err_t err;
    int64_t retry_after_ms;
    bool changed;
    gw_frame_t *sys_frame;
    int64_t sys_seq;
} gw_sub_job_leave_t;

/** Worker: runs a gw_sub_job_t (the job's run()). */
void gw_sub_job_run(gw_job_t *job, gw_store_worker_t *w);
/** Worker: runs a gw_sub_job_leave_t (the job's run()). */
void gw_sub_job_run_leave(gw_job_t *job, gw_store_worker_t *w);

/** Loop: tells s what err (a job's result on room_id) means for the client. */
void gw_sub_job_send_error(gw_session_t *s, chat_err_t err, const char *room_id,
                           int64_t retry_after_ms);

#endif
