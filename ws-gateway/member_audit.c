/*
 * member_audit.c - taking rooms away from sessions whose user is no longer a member,
 * even when the member_removed event was lost (see member_audit.h).
 *
 * Each round has two steps, each a job on a read worker: (1) the epochs of every
 * watched room; (2) for the rooms whose epoch differs from the one their watchers were
 * checked under, each watching user's membership. Only one round is in flight.
 *
 * Threads: loop thread; audit__epochs_run and audit__users_run on read workers.
 */
#include "member_audit.h"

#include <stdlib.h>
#include <string.h>

#include "chat/log.h"
#include "chat/member_cache.h"
#include "chat/hmap.h"
#include "room_backfill.h"
#include "room_registry.h"
#include "store_worker.h"

struct gw_audit {
    gw_t *gw;
    uv_timer_t timer;
    chat_hmap_t *checked; /* room id -> malloc'd epoch its watchers were checked under */
    bool in_flight;
    bool closing;
    bool timer_closed;
};

/* Step 1: the epochs of these rooms. */
typedef struct audit__epochs_job {
    gw_job_t job;
    gw_audit_t *audit;
    size_t n;
    char (*rooms)[CHAT_ID_LEN];
    char (*epochs)[CHAT_MEMBER_EPOCH_LEN];
    chat_err_t err;
} audit__epochs_job_t;

/* Step 2: the watchers of the rooms whose epoch moved. */
typedef struct audit__room {
    char id[CHAT_ID_LEN];
    char epoch[CHAT_MEMBER_EPOCH_LEN];
    size_t first; /* users[first .. first + n) */
    size_t n;
    bool all_live; /* no subscription was still being set up: the epoch may be kept */
} audit__room_t;

typedef struct audit__users_job {
    gw_job_t job;
    gw_audit_t *audit;
    audit__room_t *rooms;
    size_t n_rooms;
    char (*users)[CHAT_ID_LEN];
    bool *gone;
    size_t n_users;
    uint64_t live_before; /* gw_registry_live_mark when the users were listed */
} audit__users_job_t;

static void audit__maybe_free(gw_audit_t *a)
{
    if (!a->closing || !a->timer_closed || a->in_flight) {
        return;
    }
    chat_hmap_clear(a->checked, free);
    chat_hmap_destroy(a->checked);
    free(a);
}

/* ------------------------------------------------------------------ step 2 */

static void audit__users_run(gw_job_t *job, gw_store_worker_t *w)
{
    audit__users_job_t *j = (audit__users_job_t *)job;

    for (size_t r = 0; r < j->n_rooms; r++) {
        gw_backfill_check_users(gw_store_worker_store(w), j->rooms[r].id,
                                (const char(*)[CHAT_ID_LEN])(j->users + j->rooms[r].first),
                                j->rooms[r].n, j->gone + j->rooms[r].first);
    }
}

static void audit__users_done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    audit__users_job_t *j = (audit__users_job_t *)job;
    gw_audit_t *a = j->audit;

    a->in_flight = false;
    for (size_t r = 0; !cancelled && !a->closing && r < j->n_rooms; r++) {
        audit__room_t *room = &j->rooms[r];
        char *epoch = strdup(room->epoch);
        for (size_t u = room->first; u < room->first + room->n; u++) {
            if (j->gone[u]) {
                gw_registry_take_away(gw->registry, room->id, j->users[u], j->live_before);
            }
        }
        /* an epoch of "" (set not built) is never remembered, nor one some watcher was
         * not checked under (still being set up): check again next round */
        if (epoch != NULL && epoch[0] != '\0' && room->all_live) {
            free(chat_hmap_remove(a->checked, room->id));
            if (chat_hmap_put(a->checked, room->id, epoch) == 0) {
                epoch = NULL;
            }
        }
        free(epoch);
    }
    free(j->rooms);
    free(j->users);
    free(j->gone);
    free(j);
    audit__maybe_free(a);
}

/* After step 1: the rooms whose epoch moved go to step 2. */
static bool audit__start_users(gw_audit_t *a, const audit__epochs_job_t *e)
{
    gw_registry_t *reg = a->gw->registry;
    audit__users_job_t *j = calloc(1, sizeof(*j));
    size_t cap_users = 0;

    if (j == NULL) {
        return false;
    }
    j->job.run = audit__users_run;
    j->job.done = audit__users_done;
    j->audit = a;
    j->rooms = calloc(e->n + 1, sizeof(*j->rooms));
    for (size_t i = 0; j->rooms != NULL && i < e->n; i++) {
        const char *known = chat_hmap_get(a->checked, e->rooms[i]);
        gw_room_t *room = gw_registry_find(reg, e->rooms[i]);
        if (room == NULL || gw_registry_room_watchers(room) == 0 ||
            (known != NULL && e->epochs[i][0] != '\0' && strcmp(known, e->epochs[i]) == 0)) {
            continue;
        }
        if (j->n_users + gw_registry_room_watchers(room) > cap_users) {
            size_t cap = (j->n_users + gw_registry_room_watchers(room)) * 2;
            char(*users)[CHAT_ID_LEN] = realloc(j->users, cap * sizeof(*users));
            if (users == NULL) {
                break;
            }
            j->users = users;
            cap_users = cap;
        }
        audit__room_t *r = &j->rooms[j->n_rooms++];
        memcpy(r->id, e->rooms[i], CHAT_ID_LEN);
        memcpy(r->epoch, e->epochs[i], CHAT_MEMBER_EPOCH_LEN);
        r->first = j->n_users;
        r->n = gw_registry_live_watchers(room, j->users + j->n_users, &r->all_live);
        j->n_users += r->n;
    }
    j->live_before = gw_registry_live_mark(reg);
    j->gone = calloc(j->n_users + 1, sizeof(*j->gone));
    if (j->rooms == NULL || j->gone == NULL || j->n_rooms == 0 ||
        gw_store_workers_submit_read(a->gw->workers, &j->job) != 0) {
        free(j->rooms);
        free(j->users);
        free(j->gone);
        free(j);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ step 1 */

static void audit__epochs_run(gw_job_t *job, gw_store_worker_t *w)
{
    audit__epochs_job_t *j = (audit__epochs_job_t *)job;
    const char **ids = calloc(j->n + 1, sizeof(*ids));

    if (ids == NULL) {
        j->err = CHAT_ERR_NOMEM;
        return;
    }
    for (size_t i = 0; i < j->n; i++) {
        ids[i] = j->rooms[i];
    }
    j->err = chat_member_epochs(gw_store_worker_store(w), ids, j->n, j->epochs);
    free(ids);
}

static void audit__epochs_done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    audit__epochs_job_t *j = (audit__epochs_job_t *)job;
    gw_audit_t *a = j->audit;

    (void)gw;
    a->in_flight = false;
    /* Redis down: nothing can be removed meanwhile (membership changes need Redis);
     * the epochs after it returns carry its new run and send every room to step 2 */
    if (!cancelled && !a->closing && j->err == CHAT_OK) {
        a->in_flight = audit__start_users(a, j);
    }
    free(j->rooms);
    free(j->epochs);
    free(j);
    audit__maybe_free(a);
}

typedef struct audit__collect {
    gw_audit_t *audit;
    char (*rooms)[CHAT_ID_LEN];
    size_t n;
    size_t cap;
} audit__collect_t;

static void audit__collect_room(gw_room_t *room, void *arg)
{
    audit__collect_t *c = arg;

    if (gw_registry_room_watchers(room) == 0 || c->n == c->cap) {
        return;
    }
    memcpy(c->rooms[c->n++], gw_registry_room_id(room), CHAT_ID_LEN);
}

static void audit__on_timer(uv_timer_t *t)
{
    gw_audit_t *a = t->data;
    audit__collect_t c = {.audit = a};
    audit__epochs_job_t *j;
    chat_hmap_iter_t it;
    const char *key;
    void *v;

    if (a->in_flight || a->closing || a->gw->draining) {
        return;
    }
    /* forget rooms nobody watches any more */
    chat_hmap_iter_init(&it, a->checked);
    while (chat_hmap_next(&it, &key, &v)) {
        gw_room_t *room = gw_registry_find(a->gw->registry, key);
        if (room == NULL || gw_registry_room_watchers(room) == 0) {
            chat_hmap_remove(a->checked, key);
            free(v);
        }
    }
    c.cap = gw_registry_room_count(a->gw->registry);
    if (c.cap == 0) {
        return;
    }
    j = calloc(1, sizeof(*j));
    c.rooms = calloc(c.cap, sizeof(*c.rooms));
    if (j == NULL || c.rooms == NULL) {
        free(j);
        free(c.rooms);
        return;
    }
    gw_registry_each_room(a->gw->registry, audit__collect_room, &c);
    j->job.run = audit__epochs_run;
    j->job.done = audit__epochs_done;
    j->audit = a;
    j->n = c.n;
    j->rooms = c.rooms;
    j->epochs = calloc(c.n + 1, sizeof(*j->epochs));
    if (c.n == 0 || j->epochs == NULL ||
        gw_store_workers_submit_read(a->gw->workers, &j->job) != 0) {
        free(j->rooms);
        free(j->epochs);
        free(j);
        return;
    }
    a->in_flight = true;
}

/* ------------------------------------------------------------------ lifecycle */

gw_audit_t *gw_audit_create(gw_t *gw)
{
    gw_audit_t *a = calloc(1, sizeof(*a));

    if (a == NULL) {
        return NULL;
    }
    a->gw = gw;
    a->checked = chat_hmap_create(256);
    if (a->checked == NULL) {
        free(a);
        return NULL;
    }
    uv_timer_init(&gw->loop, &a->timer);
    a->timer.data = a;
    uv_timer_start(&a->timer, audit__on_timer, GW_AUDIT_MS, GW_AUDIT_MS);
    return a;
}

static void audit__on_timer_closed(uv_handle_t *h)
{
    gw_audit_t *a = h->data;

    a->timer_closed = true;
    audit__maybe_free(a);
}

void gw_audit_destroy(gw_audit_t *a)
{
    if (a == NULL) {
        return;
    }
    a->closing = true;
    uv_timer_stop(&a->timer);
    uv_close((uv_handle_t *)&a->timer, audit__on_timer_closed);
}
