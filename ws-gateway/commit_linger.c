/*
 * commit_linger.c - a worker's batch of queued jobs and the writers' group-commit
 * linger (see commit_linger.h).
 *
 * Threads: the worker thread that owns the state (and, in gw_commit_linger_take, holds
 * its queue's mutex).
 */
#include "commit_linger.h"

#include "chat/clock.h"

void gw_commit_linger_init(gw_commit_linger_t *l, int linger_ms)
{
    l->linger_ms = linger_ms > 0 ? linger_ms : 0;
    l->bucket_start_us = 0;
    l->bucket_jobs = 0;
    l->per_ms = 0;
}

int gw_commit_linger_wait_ms(const gw_commit_linger_t *l)
{
    if (l->linger_ms == 0 || l->per_ms * l->linger_ms < 1.0) {
        return 0;
    }
    return l->linger_ms;
}

void gw_commit_linger_note(gw_commit_linger_t *l, int64_t now_us, size_t jobs)
{
    int64_t elapsed_us = now_us - l->bucket_start_us;

    if (l->bucket_start_us == 0 || elapsed_us < 0) {
        l->bucket_start_us = now_us;
        l->bucket_jobs = 0;
    } else if (elapsed_us >= (int64_t)GW_COMMIT_LINGER_BUCKET_MS * 1000) {
        /* the bucket closes before this batch: a long quiet gap makes a low rate */
        l->per_ms = (double)l->bucket_jobs * 1000.0 / (double)elapsed_us;
        l->bucket_start_us = now_us;
        l->bucket_jobs = 0;
    }
    l->bucket_jobs += (uint32_t)jobs; /* a batch is at most GW_WORKER_BATCH_MAX */
}

size_t gw_commit_linger_take(gw_commit_linger_t *l, int wait_ms, gw_job_queue_t *q,
                             pthread_mutex_t *mu, pthread_cond_t *cv, const bool *stop,
                             gw_job_t *first, gw_job_t **batch)
{
    struct timespec until = {0};
    size_t n = 0;

    if (wait_ms > 0) {
        until = chat_clock_deadline(wait_ms);
    }

    batch[n++] = first;
    while (n < GW_WORKER_BATCH_MAX && !*stop) {
        if (q->head == NULL) {
            if (wait_ms <= 0 || pthread_cond_timedwait(cv, mu, &until) != 0) {
                break;
            }
            continue; /* woken: a job, a stop, or spuriously */
        }
        if (gw_job_queue_first(q)->run_batch != first->run_batch) {
            break;
        }
        batch[n++] = gw_job_queue_pop(q);
    }
    gw_commit_linger_note(l, chat_clock_monotonic_us(), n);
    return n;
}
