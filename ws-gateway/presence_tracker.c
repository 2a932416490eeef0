/*
 * presence_tracker.c - online/offline across gateways (see header), the local side:
 * sockets per user and the debounce before "offline", the remote users this gateway's
 * watchers were told are online, and the announcements (the user's rooms read on a
 * worker, then a presence event published on each). What Redis holds and answers is
 * presence_redis.c's.
 *
 * Threads: loop thread; rooms__run and seen__run on worker threads.
 * Relies on: presence_internal.h, member_cache.h, last_seen_log.h, user_docs.h, pubsub.h,
 * room_registry.h.
 */
#include "presence_tracker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/grow.h"
#include "chat/last_seen_log.h"
#include "chat/log.h"
#include "chat/member_cache.h"
#include "chat/user_docs.h"
#include "gateway_metrics.h"
#include "presence_internal.h"
#include "pubsub.h"
#include "room_registry.h"
#include "store_worker.h"

#define PRESENCE__TICK_MS 250

typedef struct rooms_job {
    gw_job_t job;
    char user_id[CHAT_ID_LEN];
    bool online;
    chat_err_t err;
    char (*ids)[CHAT_ID_LEN];
    size_t n;
} rooms_job_t;

/* last_seen of many users at once: one insert into last_seen_log.h per batch. */
typedef struct seen_job {
    gw_job_t job;
    char (*ids)[CHAT_ID_LEN];
    size_t n;
    int64_t now_ms;
    bool fold; /* then folds the log, when it holds enough batches */
} seen_job_t;

#define PRESENCE__SEEN_MAX 100000 /* waiting for a batch; past it a last_seen is skipped */
/* A batch at most this often (or at once when a log document's worth is waiting). Each is
 * one insert (~1 ms on FerretDB, whatever `users` holds; it was an update of `users`, a
 * scan of every user there, and every 10 s); each batch writes the same last_seen into
 * the users' cached documents (user_docs.h). */
#define PRESENCE__SEEN_EVERY_MS 2000
/* Every this many batches of this gateway, the batch's job also folds the log. */
#define PRESENCE__SEEN_FOLD_EVERY 8

/* ------------------------------------------------------------------ frames */

static gw_frame_t *presence__frame(const char *user_id, bool online)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "type", "presence", "user_id", user_id, "status",
                          online ? "online" : "offline");
    gw_frame_t *f = j != NULL ? gw_frame_from_json(j) : NULL;

    json_decref(j);
    return f;
}

static void presence__remote_free(void *v)
{
    gw_presence_remote_t *r = v;

    if (r != NULL) {
        free(r->rooms);
        free(r);
    }
}

void gw_presence_on_event(gw_presence_t *pt, const char *room_id, const char *user_id, bool online,
                          gw_frame_t *frame)
{
    gw_presence_remote_t *r = chat_hmap_get(pt->remote, user_id);

    if (online) {
        bool known = false;
        if (r == NULL) {
            r = calloc(1, sizeof(*r));
            if (r != NULL && chat_hmap_put(pt->remote, user_id, r) != 0) {
                free(r);
                r = NULL;
            }
        }
        for (size_t i = 0; r != NULL && i < r->n; i++) {
            known = known || strcmp(r->rooms[i], room_id) == 0;
        }
        if (r != NULL && !known) {
            char(*rooms)[CHAT_ID_LEN] = chat_grow(r->rooms, r->n, &r->cap, sizeof(*rooms), 2);
            if (rooms != NULL) {
                r->rooms = rooms;
                snprintf(r->rooms[r->n++], CHAT_ID_LEN, "%s", room_id);
            }
        }
    } else if (r != NULL) {
        chat_hmap_remove(pt->remote, user_id);
        presence__remote_free(r);
    }
    gw_registry_deliver_presence(pt->gw->registry, room_id, frame, user_id, online);
}

/* Tells this gateway's watchers that user_id went offline (no Redis needed). */
void gw_presence__offline_locally(gw_presence_t *pt, const char *user_id)
{
    gw_presence_remote_t *r = chat_hmap_remove(pt->remote, user_id);
    gw_frame_t *f;

    if (r == NULL) {
        return;
    }
    f = presence__frame(user_id, false);
    for (size_t i = 0; f != NULL && i < r->n; i++) {
        gw_registry_deliver_presence(pt->gw->registry, r->rooms[i], f, user_id, false);
    }
    gw_frame_unref(f);
    presence__remote_free(r);
}

/* ------------------------------------------------------------------ announcing */

static void rooms__run(gw_job_t *job, gw_store_worker_t *w)
{
    rooms_job_t *j = (rooms_job_t *)job;

    j->err = chat_member_rooms_of(gw_store_worker_store(w), j->user_id, &j->ids, &j->n);
}

static void rooms__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    rooms_job_t *j = (rooms_job_t *)job;
    gw_frame_t *f = NULL;

    if (cancelled || gw->stopping || j->err != CHAT_OK) {
        goto cleanup;
    }
    f = presence__frame(j->user_id, j->online);
    for (size_t i = 0; f != NULL && i < j->n; i++) {
        /* published events come back to our own watchers through the channel */
        if (!gw_pubsub_publish_room(gw->pubsub, j->ids[i], f, false)) {
            gw_presence_on_event(gw->presence, j->ids[i], j->user_id, j->online, f);
        }
    }
    if (!j->online && f != NULL) {
        gw_presence__offline_locally(gw->presence, j->user_id);
    }

cleanup:
    gw_frame_unref(f);
    free(j->ids);
    free(j);
}

void gw_presence__announce(gw_presence_t *pt, const char *user_id, bool online)
{
    rooms_job_t *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        return;
    }
    j->job.run = rooms__run;
    j->job.done = rooms__done;
    snprintf(j->user_id, sizeof(j->user_id), "%s", user_id);
    j->online = online;
    if (gw_store_workers_submit_read(pt->gw->workers, &j->job) != 0) {
        free(j);
    }
}

static void seen__run(gw_job_t *job, gw_store_worker_t *w)
{
    seen_job_t *j = (seen_job_t *)job;
    size_t folded = 0;
    int64_t t0;

    /* the cache after the database: a reader in between stores nothing older */
    if (chat_last_seen_log_append(gw_store_worker_db(w), (const char(*)[CHAT_ID_LEN])j->ids, j->n,
                                  j->now_ms) == CHAT_OK) {
        chat_user_docs_seen(gw_store_worker_store(w), (const char(*)[CHAT_ID_LEN])j->ids, j->n,
                            j->now_ms);
    }
    if (!j->fold) {
        return;
    }
    t0 = chat_clock_monotonic_ms();
    if (chat_last_seen_log_fold(gw_store_worker_db(w), CHAT_LAST_SEEN_LOG_FOLD_BATCHES, &folded) !=
        CHAT_OK) {
        chat_log_warn("last_seen log not folded (MongoDB down?)", NULL, NULL);
    } else if (folded > 0) {
        char b[2][24];
        snprintf(b[0], sizeof(b[0]), "%zu", folded);
        snprintf(b[1], sizeof(b[1]), "%" PRId64, chat_clock_monotonic_ms() - t0);
        chat_log_debug("last_seen log folded", "documents", b[0], "duration_ms", b[1]);
    }
}

static void seen__free(seen_job_t *j)
{
    if (j != NULL) {
        free(j->ids);
        free(j);
    }
}

static void seen__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    (void)cancelled;
    if (gw->presence != NULL) {
        gw->presence->seen_in_flight = false;
    }
    seen__free((seen_job_t *)job);
}

/* The users gone offline since the last batch get their last_seen, in one job (at most
 * every PRESENCE__SEEN_EVERY_MS). */
static void presence__flush_seen(gw_presence_t *pt)
{
    seen_job_t *j;
    int64_t now = chat_clock_monotonic_ms();
    bool due = pt->n_seen >= CHAT_LAST_SEEN_LOG_CHUNK || pt->gw->draining ||
        pt->seen_flushed_ms == 0 || now - pt->seen_flushed_ms >= PRESENCE__SEEN_EVERY_MS;

    if (pt->n_seen == 0 || pt->seen_in_flight || pt->gw->stopping || !due) {
        return;
    }
    if ((j = calloc(1, sizeof(*j))) == NULL) {
        return;
    }
    j->job.run = seen__run;
    j->job.done = seen__done;
    j->ids = pt->seen_ids; /* the job takes the list */
    j->n = pt->n_seen;
    j->now_ms = chat_clock_now_ms();
    j->fold = ++pt->seen_batches % PRESENCE__SEEN_FOLD_EVERY == 0;
    pt->seen_ids = NULL;
    pt->n_seen = pt->cap_seen = 0;
    if (gw_store_workers_submit_background(pt->gw->workers, &j->job) != 0) {
        seen__free(j); /* the queue is full: these last_seen stay older */
        return;
    }
    pt->seen_in_flight = true;
    pt->seen_flushed_ms = now;
}

void gw_presence_member_joined(gw_presence_t *pt, const char *room_id, const char *user_id)
{
    gw_presence_user_t *u = chat_hmap_get(pt->local, user_id);
    gw_frame_t *f;

    if (u == NULL || u->n_sockets == 0) {
        return;
    }
    f = presence__frame(user_id, true);
    if (f != NULL && !gw_pubsub_publish_room(pt->gw->pubsub, room_id, f, false)) {
        gw_presence_on_event(pt, room_id, user_id, true, f);
    }
    gw_frame_unref(f);
}

/* ------------------------------------------------------------------ sockets */

void gw_presence_socket_opened(gw_presence_t *pt, const char *user_id, const char *username)
{
    gw_presence_user_t *u = chat_hmap_get(pt->local, user_id);

    (void)username;
    if (u != NULL) {
        u->n_sockets++;
        u->offline_at_ms = 0; /* a reconnect within the debounce: no flapping */
        return;
    }
    u = calloc(1, sizeof(*u));
    if (u == NULL) {
        return;
    }
    snprintf(u->id, sizeof(u->id), "%s", user_id);
    u->n_sockets = 1;
    if (chat_hmap_put(pt->local, u->id, u) != 0) {
        free(u);
        return;
    }
    gw_presence_redis_zadd(pt, user_id, chat_clock_now_ms());
    gw_presence__announce(pt, user_id, true);
}

void gw_presence_socket_closed(gw_presence_t *pt, const char *user_id)
{
    gw_presence_user_t *u = chat_hmap_get(pt->local, user_id);

    if (u == NULL || u->n_sockets == 0) {
        return;
    }
    if (--u->n_sockets > 0) {
        return;
    }
    u->offline_at_ms = chat_clock_monotonic_ms() + pt->gw->lim.presence_debounce_ms;
    if (pt->gw->stopping) {
        return;
    }
    if (pt->n_seen >= PRESENCE__SEEN_MAX) {
        chat_counter_add(&pt->gw->metrics->batch_skipped[GW_BATCH_LAST_SEEN], 1);
        return;
    }
    {
        char(*grown)[CHAT_ID_LEN] =
            chat_grow(pt->seen_ids, pt->n_seen, &pt->cap_seen, sizeof(*grown), 64);
        if (grown == NULL) {
            return;
        }
        pt->seen_ids = grown;
    }
    memcpy(pt->seen_ids[pt->n_seen++], user_id, CHAT_ID_LEN);
}

/* ------------------------------------------------------------------ timers */

static void presence__on_tick(uv_timer_t *t)
{
    gw_presence_t *pt = t->data;
    int64_t now = chat_clock_monotonic_ms();
    chat_hmap_iter_t it;
    const char *key;
    void *v;

    presence__flush_seen(pt);
    chat_hmap_iter_init(&it, pt->local);
    while (chat_hmap_next(&it, &key, &v)) {
        gw_presence_user_t *u = v;
        if (u->n_sockets > 0 || u->offline_at_ms == 0 || u->offline_at_ms > now) {
            continue;
        }
        chat_hmap_remove(pt->local, u->id);
        if (gw_pubsub_up(pt->gw->pubsub)) {
            gw_presence_redis_zrem(pt, u->id);
            gw_presence_redis_check_gone(pt, u->id); /* offline only if no gateway has them */
        } else {
            gw_presence__announce(pt, u->id, false);
        }
        free(u);
    }
}

static void presence__on_heartbeat(uv_timer_t *t)
{
    gw_presence_redis_refresh_all(t->data);
}

static void presence__on_sweep(uv_timer_t *t)
{
    gw_presence_redis_sweep(t->data);
}

void gw_presence_on_redis_up(gw_presence_t *pt)
{
    if (pt != NULL) {
        gw_presence_redis_refresh_all(pt);
    }
}

/* ------------------------------------------------------------------ life */

gw_presence_t *gw_presence_create(gw_t *gw)
{
    gw_presence_t *pt = calloc(1, sizeof(*pt));

    if (pt == NULL) {
        return NULL;
    }
    pt->gw = gw;
    pt->local = chat_hmap_create(256);
    pt->remote = chat_hmap_create(256);
    if (pt->local == NULL || pt->remote == NULL) {
        chat_hmap_destroy(pt->local);
        chat_hmap_destroy(pt->remote);
        free(pt);
        return NULL;
    }
    uv_timer_init(&gw->loop, &pt->tick);
    uv_timer_init(&gw->loop, &pt->heartbeat);
    uv_timer_init(&gw->loop, &pt->sweep);
    pt->tick.data = pt->heartbeat.data = pt->sweep.data = pt;
    pt->open_handles = 3;
    uv_timer_start(&pt->tick, presence__on_tick, PRESENCE__TICK_MS, PRESENCE__TICK_MS);
    uv_timer_start(&pt->heartbeat, presence__on_heartbeat, (uint64_t)gw->lim.presence_heartbeat_ms,
                   (uint64_t)gw->lim.presence_heartbeat_ms);
    uv_timer_start(&pt->sweep, presence__on_sweep, (uint64_t)gw->lim.presence_sweep_ms,
                   (uint64_t)gw->lim.presence_sweep_ms);
    return pt;
}

void gw_presence_shutdown(gw_presence_t *pt)
{
    chat_hmap_iter_t it;
    void *v;

    if (pt == NULL || !gw_pubsub_up(pt->gw->pubsub)) {
        return;
    }
    chat_hmap_iter_init(&it, pt->local);
    while (chat_hmap_next(&it, NULL, &v)) {
        gw_presence_redis_zrem(pt, ((gw_presence_user_t *)v)->id);
    }
}

static void presence__on_closed(uv_handle_t *h)
{
    gw_presence_t *pt = h->data;

    if (--pt->open_handles == 0) {
        free(pt);
    }
}

void gw_presence_destroy(gw_presence_t *pt)
{
    if (pt == NULL) {
        return;
    }
    chat_hmap_clear(pt->local, free);
    chat_hmap_destroy(pt->local);
    pt->local = NULL;
    chat_hmap_clear(pt->remote, presence__remote_free);
    chat_hmap_destroy(pt->remote);
    pt->remote = NULL;
    free(pt->seen_ids);
    pt->seen_ids = NULL;
    pt->n_seen = pt->cap_seen = 0;
    uv_timer_stop(&pt->tick);
    uv_timer_stop(&pt->heartbeat);
    uv_timer_stop(&pt->sweep);
    uv_close((uv_handle_t *)&pt->tick, presence__on_closed);
    uv_close((uv_handle_t *)&pt->heartbeat, presence__on_closed);
    uv_close((uv_handle_t *)&pt->sweep, presence__on_closed);
}
