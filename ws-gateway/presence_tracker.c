/*
 * presence_tracker.c - online/offline across gateways (see header).
 *
 * Threads: loop thread; rooms__run and seen__run on worker threads.
 * Relies on: keys.h (chat:presence:<uid>), rooms_repo.h, users_repo.h, pubsub.h,
 * room_registry.h.
 */
#include "presence_tracker.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/keys.h"
#include "chat/log.h"
#include "chat/rooms_repo.h"
#include "chat/users_repo.h"
#include "pubsub.h"
#include "room_registry.h"
#include "store_worker.h"

#define PRESENCE__TICK_MS 250

typedef struct pt_user {
    char id[CHAT_ID_LEN];
    uint32_t n_sockets;
    int64_t offline_at_ms; /* debounce deadline once n_sockets is 0 */
} pt_user_t;

typedef struct pt_remote {
    char (*rooms)[CHAT_ID_LEN]; /* rooms the user's "online" came through */
    size_t n;
    size_t cap;
    int64_t check_at_ms;        /* wall clock: when the user's latest entry expires */
    bool check_in_flight;
} pt_remote_t;

struct gw_presence {
    gw_t *gw;
    gw_hmap_t *local;  /* user id -> pt_user_t* */
    gw_hmap_t *remote; /* user id -> pt_remote_t*: told "online", may need a sweep */
    uv_timer_t tick;
    uv_timer_t heartbeat;
    uv_timer_t sweep;
    int open_handles;
};

typedef struct rooms_job {
    gw_job_t job;
    char user_id[CHAT_ID_LEN];
    bool online;
    chat_err_t err;
    char (*ids)[CHAT_ID_LEN];
    size_t n;
} rooms_job_t;

typedef struct seen_job {
    gw_job_t job;
    char user_id[CHAT_ID_LEN];
    int64_t now_ms;
} seen_job_t;

typedef struct zcount_req {
    gw_presence_t *pt;
    char user_id[CHAT_ID_LEN];
} zcount_req_t;

/* ------------------------------------------------------------------ frames */

static gw_frame_t *presence__frame(const char *user_id, bool online)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "type", "presence", "user_id", user_id, "status",
                          online ? "online" : "offline");
    gw_frame_t *f = j != NULL ? gw_frame_from_json(j) : NULL;

    json_decref(j);
    return f;
}

static void presence__remote_free(pt_remote_t *r)
{
    if (r != NULL) {
        free(r->rooms);
        free(r);
    }
}

void gw_presence_on_event(gw_presence_t *pt, const char *room_id, const char *user_id,
                          bool online, gw_frame_t *frame)
{
    pt_remote_t *r = gw_hmap_get(pt->remote, user_id);

    if (online) {
        bool known = false;
        if (r == NULL) {
            r = calloc(1, sizeof(*r));
            if (r != NULL && gw_hmap_put(pt->remote, user_id, r) != 0) {
                free(r);
                r = NULL;
            }
        }
        for (size_t i = 0; r != NULL && i < r->n; i++) {
            known = known || strcmp(r->rooms[i], room_id) == 0;
        }
        if (r != NULL && !known) {
            if (r->n == r->cap) {
                size_t cap = r->cap ? r->cap * 2 : 2;
                char(*rooms)[CHAT_ID_LEN] = realloc(r->rooms, cap * sizeof(*rooms));
                if (rooms != NULL) {
                    r->rooms = rooms;
                    r->cap = cap;
                }
            }
            if (r->n < r->cap) {
                snprintf(r->rooms[r->n++], CHAT_ID_LEN, "%s", room_id);
            }
        }
    } else if (r != NULL) {
        gw_hmap_remove(pt->remote, user_id);
        presence__remote_free(r);
    }
    gw_registry_deliver_presence(pt->gw->registry, room_id, frame, user_id, online);
}

/* Tells this gateway's watchers that user_id went offline (no Redis needed). */
static void presence__offline_locally(gw_presence_t *pt, const char *user_id)
{
    pt_remote_t *r = gw_hmap_remove(pt->remote, user_id);
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

static void rooms__run(gw_job_t *job, gw_worker_t *w)
{
    rooms_job_t *j = (rooms_job_t *)job;

    j->err = chat_rooms_ids_for_member(gw_worker_db(w), j->user_id, &j->ids, &j->n);
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
        presence__offline_locally(gw->presence, j->user_id);
    }

cleanup:
    gw_frame_unref(f);
    free(j->ids);
    free(j);
}

static void presence__announce(gw_presence_t *pt, const char *user_id, bool online)
{
    rooms_job_t *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        return;
    }
    j->job.run = rooms__run;
    j->job.done = rooms__done;
    snprintf(j->user_id, sizeof(j->user_id), "%s", user_id);
    j->online = online;
    if (gw_workers_submit_read(pt->gw->workers, &j->job) != 0) {
        free(j);
    }
}

static void seen__run(gw_job_t *job, gw_worker_t *w)
{
    seen_job_t *j = (seen_job_t *)job;

    (void)chat_users_touch_last_seen(gw_worker_db(w), j->user_id, j->now_ms);
}

static void seen__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    (void)gw;
    (void)cancelled;
    free(job);
}

void gw_presence_member_joined(gw_presence_t *pt, const char *room_id, const char *user_id)
{
    pt_user_t *u = gw_hmap_get(pt->local, user_id);
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

/* ------------------------------------------------------------------ redis */

static void presence__zadd(gw_presence_t *pt, const char *user_id, int64_t now_ms)
{
    char key[CHAT_KEY_LEN];
    char score[32];
    char cutoff[32];
    char ttl[32];
    const char *zadd[4];
    const char *trim[4];
    const char *expire[3];

    chat_key_presence(user_id, key, sizeof(key));
    snprintf(score, sizeof(score), "%" PRId64, now_ms + CHAT_PRESENCE_TTL_MS);
    snprintf(cutoff, sizeof(cutoff), "%" PRId64, now_ms);
    snprintf(ttl, sizeof(ttl), "%d", 2 * CHAT_PRESENCE_TTL_MS);
    zadd[0] = "ZADD";
    zadd[1] = key;
    zadd[2] = score;
    zadd[3] = pt->gw->cfg.gateway_id;
    trim[0] = "ZREMRANGEBYSCORE";
    trim[1] = key;
    trim[2] = "-inf";
    trim[3] = cutoff;
    expire[0] = "PEXPIRE";
    expire[1] = key;
    expire[2] = ttl;
    if (gw_pubsub_command(pt->gw->pubsub, NULL, NULL, 4, zadd, NULL)) {
        gw_pubsub_command(pt->gw->pubsub, NULL, NULL, 4, trim, NULL);
        gw_pubsub_command(pt->gw->pubsub, NULL, NULL, 3, expire, NULL);
    }
}

static void presence__on_zcount(redisAsyncContext *ac, void *r, void *privdata)
{
    zcount_req_t *z = privdata;
    redisReply *reply = r;
    gw_presence_t *pt = z->pt;

    (void)ac;
    if (pt->gw->stopping || reply == NULL || reply->type != REDIS_REPLY_INTEGER ||
        reply->integer != 0) {
        free(z);
        return;
    }
    if (gw_hmap_get(pt->local, z->user_id) == NULL) {
        presence__announce(pt, z->user_id, false); /* nobody anywhere holds the user */
    }
    free(z);
}

static bool presence__zcount(gw_presence_t *pt, const char *user_id)
{
    char key[CHAT_KEY_LEN];
    char min[32];
    const char *argv[4];
    zcount_req_t *z = calloc(1, sizeof(*z));

    if (z == NULL) {
        return false;
    }
    z->pt = pt;
    snprintf(z->user_id, sizeof(z->user_id), "%s", user_id);
    chat_key_presence(user_id, key, sizeof(key));
    snprintf(min, sizeof(min), "(%" PRId64, chat_clock_now_ms());
    argv[0] = "ZCOUNT";
    argv[1] = key;
    argv[2] = min;
    argv[3] = "+inf";
    if (!gw_pubsub_command(pt->gw->pubsub, presence__on_zcount, z, 4, argv, NULL)) {
        free(z);
        return false;
    }
    return true;
}

static void presence__zrem(gw_presence_t *pt, const char *user_id)
{
    char key[CHAT_KEY_LEN];
    const char *argv[3];

    chat_key_presence(user_id, key, sizeof(key));
    argv[0] = "ZREM";
    argv[1] = key;
    argv[2] = pt->gw->cfg.gateway_id;
    gw_pubsub_command(pt->gw->pubsub, NULL, NULL, 3, argv, NULL);
}

/* ------------------------------------------------------------------ sockets */

uint32_t gw_presence_local_sockets(const gw_presence_t *pt, const char *user_id)
{
    pt_user_t *u = gw_hmap_get(pt->local, user_id);

    return u != NULL ? u->n_sockets : 0;
}

void gw_presence_socket_opened(gw_presence_t *pt, const char *user_id, const char *username)
{
    pt_user_t *u = gw_hmap_get(pt->local, user_id);

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
    if (gw_hmap_put(pt->local, u->id, u) != 0) {
        free(u);
        return;
    }
    presence__zadd(pt, user_id, chat_clock_now_ms());
    presence__announce(pt, user_id, true);
}

void gw_presence_socket_closed(gw_presence_t *pt, const char *user_id)
{
    pt_user_t *u = gw_hmap_get(pt->local, user_id);
    seen_job_t *j;

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
    j = calloc(1, sizeof(*j));
    if (j != NULL) {
        j->job.run = seen__run;
        j->job.done = seen__done;
        snprintf(j->user_id, sizeof(j->user_id), "%s", user_id);
        j->now_ms = chat_clock_now_ms();
        if (gw_workers_submit_read(pt->gw->workers, &j->job) != 0) {
            free(j);
        }
    }
}

/* ------------------------------------------------------------------ timers */

static void presence__on_tick(uv_timer_t *t)
{
    gw_presence_t *pt = t->data;
    int64_t now = chat_clock_monotonic_ms();
    gw_hmap_iter_t it;
    const char *key;
    void *v;

    gw_hmap_iter_init(&it, pt->local);
    while (gw_hmap_next(&it, &key, &v)) {
        pt_user_t *u = v;
        if (u->n_sockets > 0 || u->offline_at_ms == 0 || u->offline_at_ms > now) {
            continue;
        }
        gw_hmap_remove(pt->local, u->id);
        if (gw_pubsub_up(pt->gw->pubsub)) {
            presence__zrem(pt, u->id);
            presence__zcount(pt, u->id); /* offline only if no gateway has them */
        } else {
            presence__announce(pt, u->id, false);
        }
        free(u);
    }
}

static void presence__on_heartbeat(uv_timer_t *t)
{
    gw_presence_t *pt = t->data;
    int64_t now = chat_clock_now_ms();
    gw_hmap_iter_t it;
    void *v;

    if (!gw_pubsub_up(pt->gw->pubsub)) {
        return;
    }
    gw_hmap_iter_init(&it, pt->local);
    while (gw_hmap_next(&it, NULL, &v)) {
        presence__zadd(pt, ((pt_user_t *)v)->id, now);
    }
}

/* Reply to ZREVRANGEBYSCORE key +inf (now WITHSCORES LIMIT 0 1: the live entry that
 * expires last, or nothing (offline everywhere). */
static void presence__on_expiry(redisAsyncContext *ac, void *r, void *privdata)
{
    zcount_req_t *z = privdata;
    redisReply *reply = r;
    gw_presence_t *pt = z->pt;
    pt_remote_t *rem;

    (void)ac;
    if (pt->gw->stopping || (rem = gw_hmap_get(pt->remote, z->user_id)) == NULL) {
        free(z);
        return;
    }
    rem->check_in_flight = false;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        free(z);
        return; /* Redis trouble: the next sweep asks again */
    }
    if (reply->elements >= 2 && reply->element[1]->type == REDIS_REPLY_STRING) {
        /* still online somewhere: look again when that entry would expire */
        rem->check_at_ms = strtoll(reply->element[1]->str, NULL, 10) + 100;
    } else {
        pt_user_t *u = gw_hmap_get(pt->local, z->user_id);
        if (u == NULL || u->n_sockets == 0) {
            presence__offline_locally(pt, z->user_id);
        }
    }
    free(z);
}

static void presence__query_expiry(gw_presence_t *pt, const char *user_id, pt_remote_t *rem,
                                   int64_t now_ms)
{
    char key[CHAT_KEY_LEN];
    char min[32];
    const char *argv[8];
    zcount_req_t *z = calloc(1, sizeof(*z));

    if (z == NULL) {
        return;
    }
    z->pt = pt;
    snprintf(z->user_id, sizeof(z->user_id), "%s", user_id);
    chat_key_presence(user_id, key, sizeof(key));
    snprintf(min, sizeof(min), "(%" PRId64, now_ms);
    argv[0] = "ZREVRANGEBYSCORE";
    argv[1] = key;
    argv[2] = "+inf";
    argv[3] = min;
    argv[4] = "WITHSCORES";
    argv[5] = "LIMIT";
    argv[6] = "0";
    argv[7] = "1";
    if (!gw_pubsub_command(pt->gw->pubsub, presence__on_expiry, z, 8, argv, NULL)) {
        free(z);
        return;
    }
    rem->check_in_flight = true;
}

static void presence__on_sweep(uv_timer_t *t)
{
    gw_presence_t *pt = t->data;
    int64_t now = chat_clock_now_ms();
    gw_hmap_iter_t it;
    const char *key;
    void *v;

    if (!gw_pubsub_up(pt->gw->pubsub)) {
        return;
    }
    gw_hmap_iter_init(&it, pt->remote);
    while (gw_hmap_next(&it, &key, &v)) {
        pt_remote_t *rem = v;
        pt_user_t *u = gw_hmap_get(pt->local, key);
        if ((u == NULL || u->n_sockets == 0) && !rem->check_in_flight &&
            rem->check_at_ms <= now) {
            presence__query_expiry(pt, key, rem, now);
        }
    }
}

void gw_presence_on_redis_up(gw_presence_t *pt)
{
    if (pt != NULL) {
        presence__on_heartbeat(&pt->heartbeat);
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
    pt->local = gw_hmap_create(256);
    pt->remote = gw_hmap_create(256);
    if (pt->local == NULL || pt->remote == NULL) {
        gw_hmap_destroy(pt->local);
        gw_hmap_destroy(pt->remote);
        free(pt);
        return NULL;
    }
    uv_timer_init(&gw->loop, &pt->tick);
    uv_timer_init(&gw->loop, &pt->heartbeat);
    uv_timer_init(&gw->loop, &pt->sweep);
    pt->tick.data = pt->heartbeat.data = pt->sweep.data = pt;
    pt->open_handles = 3;
    uv_timer_start(&pt->tick, presence__on_tick, PRESENCE__TICK_MS, PRESENCE__TICK_MS);
    uv_timer_start(&pt->heartbeat, presence__on_heartbeat,
                   (uint64_t)gw->lim.presence_heartbeat_ms, (uint64_t)gw->lim.presence_heartbeat_ms);
    uv_timer_start(&pt->sweep, presence__on_sweep, (uint64_t)gw->lim.presence_sweep_ms,
                   (uint64_t)gw->lim.presence_sweep_ms);
    return pt;
}

void gw_presence_shutdown(gw_presence_t *pt)
{
    gw_hmap_iter_t it;
    void *v;

    if (pt == NULL || !gw_pubsub_up(pt->gw->pubsub)) {
        return;
    }
    gw_hmap_iter_init(&it, pt->local);
    while (gw_hmap_next(&it, NULL, &v)) {
        presence__zrem(pt, ((pt_user_t *)v)->id);
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
    gw_hmap_iter_t it;
    void *v;

    if (pt == NULL) {
        return;
    }
    gw_hmap_iter_init(&it, pt->local);
    while (gw_hmap_next(&it, NULL, &v)) {
        free(v);
    }
    gw_hmap_destroy(pt->local);
    pt->local = NULL;
    gw_hmap_iter_init(&it, pt->remote);
    while (gw_hmap_next(&it, NULL, &v)) {
        presence__remote_free(v);
    }
    gw_hmap_destroy(pt->remote);
    pt->remote = NULL;
    uv_timer_stop(&pt->tick);
    uv_timer_stop(&pt->heartbeat);
    uv_timer_stop(&pt->sweep);
    uv_close((uv_handle_t *)&pt->tick, presence__on_closed);
    uv_close((uv_handle_t *)&pt->heartbeat, presence__on_closed);
    uv_close((uv_handle_t *)&pt->sweep, presence__on_closed);
}
