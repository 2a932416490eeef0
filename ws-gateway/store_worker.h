/*
 * store_worker.h - the worker threads that talk to MongoDB and, through the read model,
 * to Redis (each owns a blocking chat_redis_t: chat_store_t). The loop thread submits
 * jobs; a worker runs job->run() (blocking is fine there); the finished job goes back
 * to the loop thread through a mutex-protected list and uv_async_send, where
 * job->done() runs and frees it. Writes with the same affinity key (a room id's hash)
 * run on the same writer in submission order, so one gateway appends a room's messages
 * in the order its clients sent them and each writer keeps a per-room seq_hint; reads go
 * to separate reader threads so that replay and gap backfill are never queued behind a
 * write backlog, and work nobody waits for to one background thread. Group commit:
 * consecutive queued jobs with the same run_batch run as one batch (message appends: one
 * insert_many, one window commit), and a busy writer lingers for more (commit_linger.h;
 * readers never do). Queues are bounded: submit fails instead of growing without limit.
 */
#ifndef GW_STORE_WORKER_H
#define GW_STORE_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/store.h"
#include "gateway.h"
#include "worker_job.h"

/** Starts n_write writer threads, n_read reader threads and one background thread,
 *  each with a queue of at most queue_cap jobs; a writer waits at most linger_ms for
 *  more messages when they are due (commit_linger.h; 0: never). NULL on failure. */
gw_store_workers_t *gw_store_workers_create(gw_t *gw, int n_write, int n_read, uint32_t queue_cap,
                                            int linger_ms);

/**
 * Queues a write (message append, join, leave) on the writer chosen by affinity (a
 * room id's hash), so one room's writes keep their order (loop thread). Returns 0, or
 * -1 when that queue is full or the pool is stopping: the caller still owns job.
 */
int gw_store_workers_submit(gw_store_workers_t *ws, uint32_t affinity, gw_job_t *job);

/**
 * Queues a read (membership check, replay page, gap backfill, presence lookups) on the
 * least busy reader, so that deliveries never wait behind a backlog of writes.
 * Same return contract as gw_store_workers_submit.
 */
int gw_store_workers_submit_read(gw_store_workers_t *ws, gw_job_t *job);

/**
 * Queues work nobody waits for (last_seen writes, warming the read model) on the one
 * background worker, so that a slow batch of it (on FerretDB a mass close's last_seen
 * update takes seconds) never holds up admission, subscribes or message writes. Same
 * return contract as gw_store_workers_submit.
 */
int gw_store_workers_submit_background(gw_store_workers_t *ws, gw_job_t *job);

/** Stops accepting, joins the threads, then runs done(cancelled=true) for jobs that
 *  never ran and done() for finished ones. Loop thread. */
void gw_store_workers_stop(gw_store_workers_t *ws);
/** Frees the pool after gw_store_workers_stop; closes its uv handle (needs a loop turn). */
void gw_store_workers_destroy(gw_store_workers_t *ws);

/** Worker thread: the database handle. */
chat_db_t *gw_store_worker_db(gw_store_worker_t *w);
/** Worker thread: this worker's store (MongoDB + its own Redis client). */
const chat_store_t *gw_store_worker_store(gw_store_worker_t *w);
/** Worker thread: this worker's cached last seq of room_id (0 = unknown). */
int64_t *gw_store_worker_seq_hint(gw_store_worker_t *w, const char *room_id);
/** Worker thread: room_id's head reached seq; room_heads in MongoDB is raised for all
 *  such rooms at most once a second by the pool's heads flusher (heads_flusher.h), not
 *  by the writer. False when it could not be noted: room_heads stays a lower bound. */
bool gw_store_worker_note_head(gw_store_worker_t *w, const char *room_id, int64_t seq);

#endif
