/*
 * worker_job.h - a job of the gateway's MongoDB workers (store_worker.h), and a worker's
 * queue of them: what the loop submits, what a worker runs, alone or in a batch
 * (commit_linger.h takes the batches). Types and one inline helper only.
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

typedef struct gw_store_worker gw_store_worker_t;
typedef struct gw_job gw_job_t;

struct gw_job {
    gw_job_t *next;
    /** Worker thread: do the blocking work, store results in the job. */
    void (*run)(gw_job_t *job, gw_store_worker_t *worker);
    /** Optional, worker thread: runs this job together with the consecutive queued jobs
     *  that have the same run_batch (at most GW_WORKER_BATCH_MAX). */
    void (*run_batch)(gw_job_t **jobs, size_t n, gw_store_worker_t *worker);
    /** Loop thread: use the results and free the job. cancelled = never ran. */
    void (*done)(gw_job_t *job, gw_t *gw, bool cancelled);
};

/** A worker's queue of jobs (guarded by the worker's mutex). */
typedef struct gw_job_queue {
    gw_job_t *head;
    gw_job_t *tail;
    uint32_t len;
} gw_job_queue_t;

/** Appends a job to a queue. */
static inline void gw_job_queue_push(gw_job_queue_t *q, gw_job_t *job)
{
    job->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = job;
    } else {
        q->head = job;
    }
    q->tail = job;
    q->len++;
}

/** Takes the first job of a queue that has one. */
static inline gw_job_t *gw_job_queue_pop(gw_job_queue_t *q)
{
    gw_job_t *job = q->head;

    q->head = job->next;
    if (q->head == NULL) {
        q->tail = NULL;
    }
    q->len--;
    return job;
}

#define GW_WORKER_BATCH_MAX 64 /* a batch is delivered at once: keep it well inside a queue */

#endif
