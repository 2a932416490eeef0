/*
 * commit_linger.h - a worker's batch of queued jobs, and when a writer waits a moment
 * for more messages before its insert (group commit's linger). Each insert is a
 * transaction of FerretDB and PostgreSQL whose cost is mostly per command: at 1,000
 * msg/s over two gateways' four writers, a writer that inserts as soon as it has one
 * message carries ~1.3 messages per insert, and the database's share of the two cores is
 * what the acks queue behind. A writer whose recent arrivals say that another message
 * is due within its linger waits for more (at most linger_ms); a writer that sees fewer
 * (100 msg/s over the same writers) never waits, so the linger costs latency only where
 * it buys batches.
 *
 * The arrival rate is the jobs taken over the last complete bucket of
 * GW_COMMIT_LINGER_BUCKET_MS; a gap longer than a bucket counts as a quiet bucket.
 *
 * Threads: a worker thread; gw_commit_linger_take with the queue's mutex held, the rest
 * on the worker's own state (no locking).
 */
#ifndef GW_COMMIT_LINGER_H
#define GW_COMMIT_LINGER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker_job.h"

#define GW_COMMIT_LINGER_BUCKET_MS 50

typedef struct gw_commit_linger {
    int linger_ms;           /* the longest wait; 0: never wait */
    int64_t bucket_start_us; /* 0: no bucket yet */
    uint32_t bucket_jobs;    /* jobs taken in the current bucket */
    double per_ms;           /* arrivals per ms over the last complete bucket */
} gw_commit_linger_t;

/** A writer's linger state: waits of at most linger_ms (0 or less: never). */
void gw_commit_linger_init(gw_commit_linger_t *l, int linger_ms);

/** How long the writer waits for more before inserting, in ms: linger_ms when the
 *  last bucket's rate brings at least one more job within it, else 0. */
int gw_commit_linger_wait_ms(const gw_commit_linger_t *l);

/** The worker took jobs at now_us (monotonic microseconds): counted for the rate. */
void gw_commit_linger_note(gw_commit_linger_t *l, int64_t now_us, size_t jobs);

/**
 * With mu held: first (already taken from q) and the jobs queued after it that have its
 * run_batch, into batch (at most GW_WORKER_BATCH_MAX, first at 0); with wait_ms > 0 it
 * waits on cv that long at most for more while q is empty, until *stop. Notes what it
 * took (gw_commit_linger_note). Returns how many; mu is held again on return.
 */
size_t gw_commit_linger_take(gw_commit_linger_t *l, int wait_ms, gw_job_queue_t *q,
                             pthread_mutex_t *mu, pthread_cond_t *cv, const bool *stop,
                             gw_job_t *first, gw_job_t **batch);

#endif
