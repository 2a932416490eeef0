/*
 * store_worker.c - MongoDB worker threads with bounded per-worker job queues, and the
 * hand-back of finished jobs to the loop thread (uv_async_t).
 *
 * Threads: gw_store_workers_create/submit/stop/destroy and every job->done run on the loop
 * thread; worker__main and job->run on the worker threads. The two sides share only
 * the queues below, each under its own mutex. Leaves noted by jobs are finished by the
 * collector's own thread (write_behind.h), room heads they reach raised by the heads
 * flusher's (heads_flusher.h).
 */
#include "store_worker.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "chat/log.h"
#include "chat/write_behind.h"
#include "commit_linger.h"
#include "heads_flusher.h"

#define WORKER__REDIS_TIMEOUT_MS 500 /* a Redis call takes well under a millisecond */
#define WORKER__HINTS_MAX 4096

struct gw_store_worker {
    gw_store_workers_t *pool;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gw_job_queue_t queue; /* queued, not yet running (guarded by mu) */
    bool stop;
    chat_hmap_t *seq_hints;    /* worker thread only: room id -> int64_t* */
    gw_commit_linger_t linger; /* worker thread only: a writer's group-commit linger */
    chat_store_t store;        /* worker thread only (its redis client is its own) */
};

struct gw_store_workers {
    gw_t *gw;
    int n; /* n_write writers first, then n_read readers, then the background worker */
    int n_write;
    int n_read;
    uint32_t cap;
    gw_store_worker_t *w;
    pthread_mutex_t done_mu;
    gw_job_queue_t done; /* finished, waiting for the loop (guarded by done_mu); never
                          * more than the workers' queues and running jobs hold */
    uv_async_t async;
    bool async_ready;
    bool stopped; /* loop thread */
    /* leaves whose memberships are deleted behind the answers, a large room's settled
     * together (write_behind.h, as in rest-fcgi); a full collector: deleted before */
    chat_write_behind_t *behind;
    /* room_heads raised behind the writers, on a thread of its own: a round of them on
     * the writer held the acks queued behind it (heads_flusher.h) */
    gw_heads_flusher_t *heads;
};

static void workers__push_done(gw_store_workers_t *ws, gw_job_t *job)
{
    pthread_mutex_lock(&ws->done_mu);
    (void)gw_job_queue_push(&ws->done, job); /* its bound is never reached */
    pthread_mutex_unlock(&ws->done_mu);
    uv_async_send(&ws->async);
}

bool gw_store_worker_note_head(gw_store_worker_t *w, const char *room_id, int64_t seq)
{
    return gw_heads_flusher_note(w->pool->heads, room_id, seq);
}

/* store.h's head_later hook: a membership change's system message has its room_heads
 * raised by the heads flusher's next round, after the answer went back to the loop. */
static bool worker__head_later(void *arg, const char *room_id, int64_t seq)
{
    return gw_store_worker_note_head(arg, room_id, seq);
}

/* store.h's leave_later hook: the membership is deleted after the job's answer is out,
 * by the collector's thread (false when it is full or missing: deleted before). */
static bool worker__leave_later(void *arg, const struct chat_member_leave *l)
{
    gw_store_worker_t *w = arg;

    return chat_write_behind_note_leave(w->pool->behind, l);
}

/* Worker thread: whether this worker's jobs are work someone waits for (writers and
 * readers: stores, joins, replays, checks), which the leave collector's membership
 * deletes and settles (FerretDB scans) let pass: they wait for a moment without any
 * (CHAT_WRITE_BEHIND_QUIET_MS, at most CHAT_WRITE_BEHIND_QUIET_MAX_WAIT_MS), as behind
 * REST's requests. The background worker's jobs do not count. */
static bool worker__waited_for(const gw_store_worker_t *w)
{
    return w - w->pool->w < w->pool->n_write + w->pool->n_read;
}

static void *worker__main(void *arg)
{
    gw_store_worker_t *w = arg;
    chat_write_behind_t *behind = worker__waited_for(w) ? w->pool->behind : NULL;

    for (;;) {
        gw_job_t *job;

        pthread_mutex_lock(&w->mu);
        while (!w->stop && w->queue.head == NULL) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->stop) {
            pthread_mutex_unlock(&w->mu);
            break;
        }
        job = gw_job_queue_pop(&w->queue);
        if (job->run_batch != NULL) {
            gw_job_t *batch[GW_WORKER_BATCH_MAX];
            /* a writer whose recent arrivals say more are due lingers for them */
            size_t n = gw_commit_linger_take(&w->linger, gw_commit_linger_wait_ms(&w->linger),
                                             &w->queue, &w->mu, &w->cv, &w->stop, job, batch);
            pthread_mutex_unlock(&w->mu);
            chat_write_behind_request_begin(behind);
            job->run_batch(batch, n, w);
            chat_write_behind_request_end(behind);
            for (size_t i = 0; i < n; i++) {
                workers__push_done(w->pool, batch[i]);
            }
            continue;
        }
        pthread_mutex_unlock(&w->mu);

        chat_write_behind_request_begin(behind);
        job->run(job, w);
        chat_write_behind_request_end(behind);
        workers__push_done(w->pool, job);
    }
    return NULL;
}

/* Loop thread: run done() for every finished job. */
static void workers__drain(gw_store_workers_t *ws)
{
    gw_held_link_t *list;

    pthread_mutex_lock(&ws->done_mu);
    list = gw_held_take_all(&ws->done);
    pthread_mutex_unlock(&ws->done_mu);
    while (list != NULL) {
        gw_held_link_t *next = list->next;
        gw_job_t *job = gw_job_of(list);
        job->done(job, ws->gw, false);
        list = next;
    }
}

static void workers__on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void workers__on_async(uv_async_t *h)
{
    workers__drain(h->data);
}

gw_store_workers_t *gw_store_workers_create(gw_t *gw, int n_write, int n_read, uint32_t queue_cap,
                                            int linger_ms)
{
    gw_store_workers_t *ws = calloc(1, sizeof(*ws));

    if (ws == NULL) {
        return NULL;
    }
    ws->gw = gw;
    ws->n_write = n_write > 0 ? n_write : 1;
    ws->n_read = n_read > 0 ? n_read : 1;
    ws->n = ws->n_write + ws->n_read + 1;
    ws->cap = queue_cap > 0 ? queue_cap : 1024;
    pthread_mutex_init(&ws->done_mu, NULL);
    gw_job_queue_init(&ws->done, SIZE_MAX);
    if (uv_async_init(&gw->loop, &ws->async, workers__on_async) != 0) {
        pthread_mutex_destroy(&ws->done_mu);
        free(ws);
        return NULL;
    }
    ws->async.data = ws;
    ws->async_ready = true;
    ws->w = calloc((size_t)ws->n, sizeof(*ws->w));
    ws->behind = chat_write_behind_start(gw->db);
    ws->heads = gw_heads_flusher_start(gw->db, 0, 0);
    if (ws->w == NULL || ws->behind == NULL || ws->heads == NULL) {
        goto fail;
    }
    for (int i = 0; i < ws->n; i++) {
        gw_store_worker_t *w = &ws->w[i];
        w->pool = ws;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
        gw_job_queue_init(&w->queue, ws->cap);
        w->seq_hints = chat_hmap_create(64);
        gw_commit_linger_init(&w->linger, i < ws->n_write ? linger_ms : 0);
        w->store.db = gw->db;
        w->store.window = gw->cfg.history_window;
        w->store.head_later = worker__head_later;
        w->store.leave_later = worker__leave_later;
        w->store.later_arg = w;
        w->store.redis = chat_redis_create(gw->cfg.redis_url, gw->cfg.redis_cluster,
                                           WORKER__REDIS_TIMEOUT_MS, NULL, 0);
        if (w->seq_hints == NULL || w->store.redis == NULL ||
            pthread_create(&w->thread, NULL, worker__main, w) != 0) {
            goto fail;
        }
        w->started = true;
    }
    return ws;

fail:
    chat_log_error("cannot start worker threads");
    gw_store_workers_stop(ws);
    gw_store_workers_destroy(ws);
    return NULL;
}

static int workers__push(gw_store_workers_t *ws, gw_store_worker_t *w, gw_job_t *job)
{
    int rc = -1;

    pthread_mutex_lock(&w->mu);
    if (!w->stop && gw_job_queue_push(&w->queue, job)) {
        rc = 0;
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int gw_store_workers_submit(gw_store_workers_t *ws, uint32_t affinity, gw_job_t *job)
{
    if (ws == NULL || ws->stopped) {
        return -1;
    }
    return workers__push(ws, &ws->w[affinity % (uint32_t)ws->n_write], job);
}

int gw_store_workers_submit_read(gw_store_workers_t *ws, gw_job_t *job)
{
    gw_store_worker_t *best = NULL;
    size_t best_len = SIZE_MAX;

    if (ws == NULL || ws->stopped) {
        return -1;
    }
    for (int i = ws->n_write; i < ws->n_write + ws->n_read; i++) {
        gw_store_worker_t *w = &ws->w[i];
        size_t len;
        pthread_mutex_lock(&w->mu);
        len = w->queue.len;
        pthread_mutex_unlock(&w->mu);
        if (len < best_len) {
            best = w;
            best_len = len;
        }
    }
    return workers__push(ws, best, job);
}

int gw_store_workers_submit_background(gw_store_workers_t *ws, gw_job_t *job)
{
    if (ws == NULL || ws->stopped) {
        return -1;
    }
    return workers__push(ws, &ws->w[ws->n - 1], job);
}

void gw_store_workers_stop(gw_store_workers_t *ws)
{
    if (ws == NULL || ws->stopped) {
        return;
    }
    ws->stopped = true;
    if (ws->w != NULL) {
        for (int i = 0; i < ws->n; i++) {
            gw_store_worker_t *w = &ws->w[i];
            pthread_mutex_lock(&w->mu);
            w->stop = true;
            pthread_cond_broadcast(&w->cv);
            pthread_mutex_unlock(&w->mu);
        }
        for (int i = 0; i < ws->n; i++) {
            gw_store_worker_t *w = &ws->w[i];
            gw_held_link_t *list;
            if (w->started) {
                pthread_join(w->thread, NULL);
                w->started = false;
            }
            list = gw_held_take_all(&w->queue); /* threads are gone: the queue is ours now */
            while (list != NULL) {
                gw_held_link_t *next = list->next;
                gw_job_t *job = gw_job_of(list);
                job->done(job, ws->gw, true);
                list = next;
            }
        }
    }
    workers__drain(ws);
}

void gw_store_workers_destroy(gw_store_workers_t *ws)
{
    if (ws == NULL) {
        return;
    }
    gw_store_workers_stop(ws);
    if (ws->w != NULL) {
        for (int i = 0; i < ws->n; i++) {
            gw_store_worker_t *w = &ws->w[i];
            chat_hmap_clear(w->seq_hints, free);
            chat_hmap_destroy(w->seq_hints);
            chat_redis_destroy(w->store.redis);
            pthread_mutex_destroy(&w->mu);
            pthread_cond_destroy(&w->cv);
        }
        free(ws->w);
        ws->w = NULL;
    }
    /* after the workers: the heads and leaves they noted are written now, the database
     * still up */
    gw_heads_flusher_stop(ws->heads);
    ws->heads = NULL;
    chat_write_behind_destroy(ws->behind, ws->gw->db);
    ws->behind = NULL;
    pthread_mutex_destroy(&ws->done_mu);
    if (ws->async_ready) {
        /* the handle lives inside ws: free it from the close callback */
        ws->async.data = ws;
        uv_close((uv_handle_t *)&ws->async, workers__on_closed);
    } else {
        free(ws);
    }
}

chat_db_t *gw_store_worker_db(gw_store_worker_t *w)
{
    return w->pool->gw->db;
}

const chat_store_t *gw_store_worker_store(gw_store_worker_t *w)
{
    return &w->store;
}

int64_t *gw_store_worker_seq_hint(gw_store_worker_t *w, const char *room_id)
{
    int64_t *hint = chat_hmap_get(w->seq_hints, room_id);

    if (hint != NULL) {
        return hint;
    }
    if (chat_hmap_size(w->seq_hints) >= WORKER__HINTS_MAX) {
        chat_hmap_clear(w->seq_hints, free);
    }
    hint = calloc(1, sizeof(*hint));
    if (hint != NULL && chat_hmap_put(w->seq_hints, room_id, hint) != 0) {
        free(hint);
        hint = NULL;
    }
    return hint;
}
