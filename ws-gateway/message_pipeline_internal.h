/*
 * message_pipeline_internal.h - a message request as message_pipeline.c (loop thread)
 * and message_store.c (its writer worker) share it. Not for other modules: they use
 * message_pipeline.h.
 *
 * Threads: a request belongs to the loop thread, except while its job runs on a writer
 * worker, which then writes only its results.
 */
#ifndef GW_MESSAGE_PIPELINE_INTERNAL_H
#define GW_MESSAGE_PIPELINE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/keys.h"
#include "chat/model.h"
#include "held_queue.h"
#include "message_pipeline.h"
#include "shared_frame.h"
#include "store_worker.h"

typedef struct msg_req {
    gw_job_t job;
    gw_t *gw;
    uint64_t conn_id;
    char room_id[CHAT_ID_LEN];
    char user_id[CHAT_ID_LEN];
    char username[CHAT_USERNAME_MAX + 1];
    char *content;
    char *client_msg_id;        /* NULL when the client gave none */
    bool trusted_member;        /* the session watches the room live: checked when it subscribed */
    char key[CHAT_KEY_LEN];     /* "<room>:<user>:<client_msg_id>" while in flight ("" = none) */
    struct msg_waiter *waiters; /* resends of it that arrived while it was in flight */
    int64_t queued_ms;          /* monotonic: when it was handed to the writer */
    int64_t queued_us;          /* the same in microseconds (the phase histograms) */
    int64_t ran_us;             /* monotonic: its batch done on the writer (worker thread) */
    int64_t seen_seq;           /* highest seq of the room this gateway has seen (0 = none) */
    bool limit_by_source;       /* the rate-limit script went by EVAL (after a NOSCRIPT) */
    /* results (worker), then loop state */
    chat_err_t err;
    bool is_member;
    bool room_hidden; /* not a member of a private room: answered as "no such room" */
    bool duplicate;
    bool stored;    /* in MongoDB */
    bool committed; /* in the room's window and published: the ack may go */
    bool delivered; /* offered to this gateway's watchers */
    int64_t seq;
    char *json; /* the message as clients receive it */
    size_t json_len;
    gw_frame_t *msg_frame;
    gw_frame_t *ack_frame;
    gw_held_link_t held; /* loop: while held for Redis (held_queue.h) */
} msg_req_t;

/* A resend that arrived while its original was in flight: answered with it. */
typedef struct msg_waiter {
    struct msg_waiter *next;
    uint64_t conn_id;
} msg_waiter_t;

/** Writer worker (store_worker.h run_batch): membership, resends, one insert_many, one
 *  window commit for the n requests of a batch; results go into each request. */
void gw_message_store_run_batch(gw_job_t **jobs, size_t n, gw_store_worker_t *w);
/** Writer worker (store_worker.h run): a batch of one. */
void gw_message_store_run(gw_job_t *job, gw_store_worker_t *w);

#endif
