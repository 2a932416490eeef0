/*
 * admission_counts.c - this gateway's share of each user's socket count (see
 * admission_counts.h).
 *
 * Threads: loop thread; counts__flush_run and counts__refresh_run on read workers.
 */
#include "admission_counts.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "chat/grow.h"
#include "chat/user_sockets.h"
#include "gateway_metrics.h"
#include "chat/hmap.h"
#include "store_worker.h"

#define COUNTS__GONE_MAX 100000 /* decrements waiting; past it the heartbeat corrects */

struct gw_admission_counts {
    gw_t *gw;
    void (*tick)(gw_t *gw);
    uv_timer_t heartbeat;
    chat_hmap_t *counted;      /* user id -> uint32_t* sockets of the user counted in Redis */
    chat_hmap_t *open_here;    /* user id -> uint32_t* sockets of the user open here, from the
                                * upgrade to the close, admitted or still being checked */
    char (*gone)[CHAT_ID_LEN]; /* one entry per socket closed, for the next batch */
    size_t n_gone;
    size_t cap_gone;
    bool flush_in_flight;
    bool closing;
};

/* The decrements of one batch. */
typedef struct counts__flush_job {
    gw_job_t job;
    char gateway_id[128];
    char (*users)[CHAT_ID_LEN];
    size_t n;
} counts__flush_job_t;

/* The whole share, written again (heartbeat). */
typedef struct counts__refresh_job {
    gw_job_t job;
    char gateway_id[128];
    char (*users)[CHAT_ID_LEN];
    uint32_t *counts;
    size_t n;
} counts__refresh_job_t;

static gw_admission_counts_t *counts__of(gw_t *gw)
{
    return gw->admission_counts;
}

/* ------------------------------------------------------------------ local counts */

/* One more or one fewer for user_id in map; an entry goes when it reaches 0. Out of
 * memory an increment is lost: the heartbeat misses it and its Redis entry expires, the
 * upgrade's local check lets one more socket through to admission's cluster-wide check;
 * neither ever over-counts. */
static void counts__change(chat_hmap_t *map, const char *user_id, int delta)
{
    uint32_t *n = chat_hmap_get(map, user_id);

    if (n == NULL && delta > 0) {
        n = calloc(1, sizeof(*n));
        if (n == NULL || chat_hmap_put(map, user_id, n) != 0) {
            free(n);
            return;
        }
    }
    if (n == NULL) {
        return;
    }
    if (delta > 0) {
        (*n)++;
    } else if (*n > 0 && --(*n) == 0) {
        chat_hmap_remove(map, user_id);
        free(n);
    }
}

void gw_admission_counts_add(gw_admission_counts_t *c, const char *user_id)
{
    if (c != NULL) { /* NULL: shutting down */
        counts__change(c->counted, user_id, +1);
    }
}

void gw_admission_counts_opened(gw_admission_counts_t *c, const char *user_id)
{
    if (c != NULL) {
        counts__change(c->open_here, user_id, +1);
    }
}

void gw_admission_counts_closed(gw_admission_counts_t *c, const char *user_id)
{
    if (c != NULL) {
        counts__change(c->open_here, user_id, -1);
    }
}

uint32_t gw_admission_counts_open_here(const gw_admission_counts_t *c, const char *user_id)
{
    const uint32_t *n = c != NULL ? chat_hmap_get(c->open_here, user_id) : NULL;

    return n != NULL ? *n : 0;
}

/* ------------------------------------------------------------------ decrements */

static void counts__flush_run(gw_job_t *job, gw_store_worker_t *w)
{
    counts__flush_job_t *j = (counts__flush_job_t *)job;
    const chat_store_t *st = gw_store_worker_store(w);

    for (size_t i = 0; st->redis != NULL && i < j->n; i++) {
        (void)chat_user_sockets_close(st->redis, j->users[i], j->gateway_id);
    }
}

static void counts__flush(gw_t *gw, gw_admission_counts_t *c);

static void counts__flush_done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    counts__flush_job_t *j = (counts__flush_job_t *)job;
    gw_admission_counts_t *c = counts__of(gw);

    free(j->users);
    free(j);
    if (c != NULL) {
        c->flush_in_flight = false;
        if (!cancelled) {
            counts__flush(gw, c); /* what closed meanwhile */
        }
    }
}

/* Hands the waiting decrements to one job (one in flight at a time). */
static void counts__flush(gw_t *gw, gw_admission_counts_t *c)
{
    counts__flush_job_t *j;

    if (c->n_gone == 0 || c->flush_in_flight || c->closing || gw->stopping ||
        (j = calloc(1, sizeof(*j))) == NULL) {
        return;
    }
    j->job.run = counts__flush_run;
    j->job.done = counts__flush_done;
    snprintf(j->gateway_id, sizeof(j->gateway_id), "%s", gw->cfg.gateway_id);
    j->users = c->gone; /* the job takes the list */
    j->n = c->n_gone;
    c->gone = NULL;
    c->n_gone = c->cap_gone = 0;
    if (gw_store_workers_submit_read(gw->workers, &j->job) != 0) {
        free(j->users); /* the queue is full: the heartbeat writes the share again */
        free(j);
        return;
    }
    c->flush_in_flight = true;
}

void gw_admission_counts_remove(gw_t *gw, const char *user_id)
{
    gw_admission_counts_t *c = counts__of(gw);

    if (c == NULL) {
        return;
    }
    counts__change(c->counted, user_id, -1);
    if (gw->stopping) {
        return;
    }
    if (c->n_gone >= COUNTS__GONE_MAX) {
        chat_counter_add(&gw->metrics->batch_skipped[GW_BATCH_SOCKET_COUNT], 1);
        return;
    }
    {
        char(*grown)[CHAT_ID_LEN] = chat_grow(c->gone, c->n_gone, &c->cap_gone, sizeof(*grown), 64);
        if (grown == NULL) {
            return;
        }
        c->gone = grown;
    }
    memcpy(c->gone[c->n_gone++], user_id, CHAT_ID_LEN);
    counts__flush(gw, c);
}

/* ------------------------------------------------------------------ heartbeat */

static void counts__refresh_run(gw_job_t *job, gw_store_worker_t *w)
{
    counts__refresh_job_t *j = (counts__refresh_job_t *)job;
    const chat_store_t *st = gw_store_worker_store(w);

    if (st->redis != NULL) {
        (void)chat_user_sockets_refresh(st->redis, j->gateway_id,
                                        (const char(*)[CHAT_ID_LEN])j->users, j->counts, j->n);
    }
}

static void counts__refresh_done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    counts__refresh_job_t *j = (counts__refresh_job_t *)job;

    (void)gw;
    (void)cancelled;
    free(j->users);
    free(j->counts);
    free(j);
}

static void counts__on_heartbeat(uv_timer_t *t)
{
    gw_admission_counts_t *c = t->data;
    size_t n = chat_hmap_size(c->counted);
    counts__refresh_job_t *j;
    chat_hmap_iter_t it;
    const char *key;
    void *v;

    c->tick(c->gw); /* admission: sockets waiting since the worker queue was full */
    counts__flush(c->gw, c);
    if (n == 0 || c->closing || !atomic_load(&c->gw->redis_up)) {
        return;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return;
    }
    j->users = calloc(n, sizeof(*j->users));
    j->counts = calloc(n, sizeof(*j->counts));
    if (j->users == NULL || j->counts == NULL) {
        counts__refresh_done(&j->job, c->gw, true);
        return;
    }
    chat_hmap_iter_init(&it, c->counted);
    while (chat_hmap_next(&it, &key, &v) && j->n < n) {
        snprintf(j->users[j->n], CHAT_ID_LEN, "%s", key);
        j->counts[j->n++] = *(uint32_t *)v;
    }
    j->job.run = counts__refresh_run;
    j->job.done = counts__refresh_done;
    snprintf(j->gateway_id, sizeof(j->gateway_id), "%s", c->gw->cfg.gateway_id);
    if (gw_store_workers_submit_read(c->gw->workers, &j->job) != 0) {
        counts__refresh_done(&j->job, c->gw, true);
    }
}

/* ------------------------------------------------------------------ life */

gw_admission_counts_t *gw_admission_counts_create(gw_t *gw, void (*tick)(gw_t *gw))
{
    gw_admission_counts_t *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    c->gw = gw;
    c->tick = tick;
    c->counted = chat_hmap_create(1024);
    c->open_here = chat_hmap_create(1024);
    if (c->counted == NULL || c->open_here == NULL) {
        chat_hmap_destroy(c->counted);
        chat_hmap_destroy(c->open_here);
        free(c);
        return NULL;
    }
    gw->admission_counts = c;
    uv_timer_init(&gw->loop, &c->heartbeat);
    c->heartbeat.data = c;
    uv_timer_start(&c->heartbeat, counts__on_heartbeat, GW_ADMISSION_HEARTBEAT_MS,
                   GW_ADMISSION_HEARTBEAT_MS);
    return c;
}

static void counts__free_map(chat_hmap_t *map)
{
    chat_hmap_clear(map, free);
    chat_hmap_destroy(map);
}

static void counts__on_closed(uv_handle_t *h)
{
    gw_admission_counts_t *c = h->data;

    counts__free_map(c->counted);
    counts__free_map(c->open_here);
    free(c->gone);
    free(c);
}

void gw_admission_counts_destroy(gw_admission_counts_t *c)
{
    if (c == NULL) {
        return;
    }
    c->closing = true;
    if (c->gw->admission_counts == c) {
        c->gw->admission_counts = NULL;
    }
    uv_timer_stop(&c->heartbeat);
    uv_close((uv_handle_t *)&c->heartbeat, counts__on_closed);
}
