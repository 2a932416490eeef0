/*
 * worker_job.h - a job of the gateway's MongoDB workers (store_worker.h), and a worker's
 * queue of them: what the loop submits, what a worker runs, alone or in a batch
 * (commit_linger.h takes the batches). The queue is held_queue.h's bounded FIFO, used so
 * that it refuses a job when full instead of giving up its oldest. Types and inline
 * helpers only.
 *
 * Threads: the queue under its worker's mutex; a job is the loop's until submitted, the
 * worker's while it runs, the loop's again in done().
 */
#ifndef GW_WORKER_JOB_H
#define GW_WORKER_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway.h"
#include "held_queue.h"

typedef struct gw_store_worker gw_store_worker_t;
typedef struct gw_job gw_job_t;

struct gw_job {
    gw_held_link_t link; /* in its worker's queue, then in the pool's finished list */
    /** Worker thread: do the blocking work, store results in the job. */
    void (*run)(gw_job_t *job, gw_store_worker_t *worker);
    /** Optional, worker thread: runs this job together with the consecutive queued jobs
     *  that have the same run_batch (at most GW_WORKER_BATCH_MAX). */
    void (*run_batch)(gw_job_t **jobs, size_t n, gw_store_worker_t *worker);
    /** Loop thread: use the results and free the job. cancelled = never ran. */
    void (*done)(gw_job_t *job, gw_t *gw, bool cancelled);
};

/** A queue of jobs (guarded by its owner's mutex). */
typedef gw_held_t gw_job_queue_t;

/** The job a queue link belongs to; NULL for NULL. */
static inline gw_job_t *gw_job_of(gw_held_link_t *link)
{
    return link != NULL ? (gw_job_t *)(void *)((char *)link - offsetof(gw_job_t, link)) : NULL;
}

/** An empty queue of at most cap jobs. */
static inline void gw_job_queue_init(gw_job_queue_t *q, size_t cap)
{
    gw_held_init(q, cap);
}

/** Appends job; false, and nothing queued, when the queue holds cap jobs already. */
static inline bool gw_job_queue_push(gw_job_queue_t *q, gw_job_t *job)
{
    if (q->len >= q->max) {
        return false;
    }
    (void)gw_held_push(q, &job->link); /* not full: nothing is given up */
    return true;
}

/** Takes the first job out, or NULL when empty. */
static inline gw_job_t *gw_job_queue_pop(gw_job_queue_t *q)
{
    return gw_job_of(gw_held_pop(q));
}

/** The first job, still queued, or NULL when empty. */
static inline gw_job_t *gw_job_queue_first(const gw_job_queue_t *q)
{
    return gw_job_of(q->head);
}

#define GW_WORKER_BATCH_MAX 64 /* a batch is delivered at once: keep it well inside a queue */

#endif
