/*
 * user_rooms_batch.c - many users' room sets from one query (see user_rooms_batch.h):
 * the versions of the unbuilt sets first, then room_members {user_id: {$in}} (or all of
 * room_members for everybody), then each set stored under the version read before the
 * query.
 *
 * Threads: the thread owning the store. Relies on cached_set.h, member_cache.h,
 * room_members_repo.h, room_members_warm.h (the rooms' sets from the same read), user_ids.h.
 */
#include "chat/user_rooms_batch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chat/cached_set.h"
#include "chat/keys.h"
#include "chat/member_cache.h"
#include "chat/redis_lock.h"
#include "chat/room_members_repo.h"
#include "chat/room_members_warm.h"
#include "chat/user_ids.h"

#define ROOMS_BATCH__WARM_LOCK_MS 60000 /* a warm that takes longer loses its lock */
#define ROOMS_BATCH__POLL_MS 50

/* The users of one build: ids sorted and distinct (hex order is the oids' byte order),
 * their oids, and for each whether its set is built and the version read before the
 * database is. */
typedef struct rooms_batch__todo {
    char (*ids)[CHAT_ID_LEN];
    bson_oid_t *oids;
    bool *built;
    char (*ver)[24];
    size_t n;
} rooms_batch__todo_t;

static int rooms_batch__by_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* chat_cset_nth_fn: user i's room set. */
static void rooms_batch__set_of(void *arg, size_t i, chat_cset_t *out)
{
    const rooms_batch__todo_t *t = arg;

    chat_cset_user_rooms(t->ids[i], out);
}

static void rooms_batch__todo_clear(rooms_batch__todo_t *t)
{
    free(t->ids);
    free(t->oids);
    free(t->built);
    free(t->ver);
    memset(t, 0, sizeof(*t));
}

/* Takes ids (n of them, malloc'd, duplicates fine): sorts them, drops duplicates and
 * malformed ids, and reads the versions of their sets in one pipeline. */
static chat_err_t rooms_batch__prepare(const chat_store_t *s, char (*ids)[CHAT_ID_LEN], size_t n,
                                       rooms_batch__todo_t *t)
{
    size_t k = 0;

    memset(t, 0, sizeof(*t));
    t->ids = ids;
    qsort(ids, n, sizeof(*ids), rooms_batch__by_id);
    t->oids = calloc(n + 1, sizeof(*t->oids));
    t->built = calloc(n + 1, sizeof(*t->built));
    t->ver = calloc(n + 1, sizeof(*t->ver));
    if (t->oids == NULL || t->built == NULL || t->ver == NULL) {
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if ((k > 0 && strcmp(ids[k - 1], ids[i]) == 0) ||
            !chat_db_oid_from_hex(ids[i], &t->oids[k])) {
            continue;
        }
        memmove(ids[k++], ids[i], CHAT_ID_LEN);
    }
    t->n = k;
    return chat_cset_build_prepare_many(s->redis, rooms_batch__set_of, t, t->n, t->built, t->ver);
}

/* Stores the set of every unbuilt user of t from pairs (all their memberships, and maybe
 * others'), pipelined; *n_built: the sets stored. */
static chat_err_t rooms_batch__store_all(const chat_store_t *s, rooms_batch__todo_t *t,
                                         chat_member_pair_t *pairs, size_t n_pairs, size_t *n_built)
{
    return chat_member_pairs_store(s, pairs, n_pairs, CHAT_PAIRS_BY_USER, t->oids, t->n,
                                   rooms_batch__set_of, t, t->built, (const char(*)[24])t->ver,
                                   n_built);
}

void chat_user_rooms_build_many(const chat_store_t *s, const char (*users)[CHAT_ID_LEN], size_t n)
{
    rooms_batch__todo_t t;
    char(*ids)[CHAT_ID_LEN] = NULL;
    bson_oid_t *unbuilt = NULL;
    chat_member_pair_t *pairs = NULL;
    size_t k = 0;
    size_t n_pairs = 0;
    size_t n_built = 0;

    if (s->redis == NULL || n == 0 || (ids = calloc(n, sizeof(*ids))) == NULL) {
        return;
    }
    memcpy(ids, users, n * sizeof(*ids));
    if (rooms_batch__prepare(s, ids, n, &t) != CHAT_OK ||
        (unbuilt = calloc(t.n + 1, sizeof(*unbuilt))) == NULL) {
        goto cleanup; /* Redis down: the readers fall back to the database themselves */
    }
    for (size_t i = 0; i < t.n; i++) {
        if (!t.built[i]) {
            bson_oid_copy(&t.oids[i], &unbuilt[k++]);
        }
    }
    if (k == 0 ||
        chat_members_of_users(s->db, unbuilt, k, CHAT_MEMBER_ROOMS_MAX, &pairs, &n_pairs) !=
            CHAT_OK ||
        n_pairs >= CHAT_MEMBER_ROOMS_MAX) {
        goto cleanup; /* nothing to build, or cut short: some set would be incomplete */
    }
    (void)rooms_batch__store_all(s, &t, pairs, n_pairs, &n_built);

cleanup:
    free(pairs);
    free(unbuilt);
    rooms_batch__todo_clear(&t);
}

/* ------------------------------------------------------------------ everybody */

/* The ids in the set of all users (at most max + 1) into *ids_out (malloc'd). */
static chat_err_t rooms_batch__all_ids(const chat_store_t *s, size_t max,
                                       char (**ids_out)[CHAT_ID_LEN], size_t *n_out)
{
    chat_cset_t all;
    chat_cset_page_t page = {0};
    char(*ids)[CHAT_ID_LEN] = NULL;
    size_t n = 0;
    chat_err_t rc;

    chat_cset_user_ids(&all);
    rc = chat_cset_page(s->redis, &all, 0, (int64_t)max + 1, false, &page);
    if (rc == CHAT_OK && (!page.built || page.total > (int64_t)max)) {
        rc = CHAT_ERR_CONFLICT; /* not built, or too many users to warm at once */
    }
    if (rc == CHAT_OK && (ids = calloc(page.n + 1, sizeof(*ids))) == NULL) {
        rc = CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; rc == CHAT_OK && i < page.n; i++) {
        if (page.len[i] == CHAT_ID_LEN - 1) {
            memcpy(ids[n], page.member[i], CHAT_ID_LEN - 1);
            ids[n++][CHAT_ID_LEN - 1] = '\0';
        }
    }
    chat_cset_page_clear(&page);
    if (rc != CHAT_OK) {
        free(ids);
        return rc;
    }
    *ids_out = ids;
    *n_out = n;
    return CHAT_OK;
}

chat_err_t chat_user_rooms_build_all(const chat_store_t *s, chat_read_model_warm_t *warm)
{
    rooms_batch__todo_t t = {0};
    chat_room_members_warm_t rooms = {0};
    char(*ids)[CHAT_ID_LEN] = NULL;
    chat_member_pair_t *pairs = NULL;
    size_t n_ids = 0;
    size_t n_pairs = 0;
    size_t unbuilt = 0;
    chat_redis_lock_t lock;
    chat_err_t rc;

    warm->user_sets = warm->room_sets = 0;
    warm->another_warms = false;
    if (s->redis == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    /* one process warms at a time (its lock expires should it die meanwhile) */
    rc = chat_redis_lock_take(s->redis, &lock, CHAT_KEY_USER_ROOMS_WARMING,
                              ROOMS_BATCH__WARM_LOCK_MS);
    if (rc != CHAT_OK) {
        return rc;
    }
    if (!lock.held) {
        /* another process warms: its result, rather than a read per batch meanwhile */
        warm->another_warms = true;
        return chat_redis_lock_wait(s->redis, CHAT_KEY_USER_ROOMS_WARMING,
                                    ROOMS_BATCH__WARM_LOCK_MS, ROOMS_BATCH__POLL_MS, true, NULL,
                                    NULL, NULL);
    }
    rc = rooms_batch__all_ids(s, warm->max_users, &ids, &n_ids);
    if (rc != CHAT_OK) {
        goto cleanup;
    }
    /* the versions before the database is read (the cached_set.h protocol): the users'
     * room sets, then the rooms' member sets from the same read (best effort: rooms past
     * max_rooms, or a failed read of their ids, are left to be built when first read) */
    rc = rooms_batch__prepare(s, ids, n_ids, &t);
    for (size_t i = 0; rc == CHAT_OK && i < t.n; i++) {
        unbuilt += !t.built[i];
    }
    if (rc == CHAT_OK && warm->max_rooms > 0 &&
        chat_room_members_warm_prepare(s, warm->max_rooms, &rooms) == CHAT_OK) {
        unbuilt += rooms.unbuilt;
    }
    if (rc != CHAT_OK || unbuilt == 0) {
        goto cleanup;
    }
    rc = chat_members_of_users(s->db, NULL, 0, warm->max_pairs + 1, &pairs, &n_pairs);
    if (rc == CHAT_OK && n_pairs > warm->max_pairs) {
        rc = CHAT_ERR_CONFLICT; /* cut short: some set would be incomplete, build none */
    }
    if (rc == CHAT_OK) {
        rc = rooms_batch__store_all(s, &t, pairs, n_pairs, &warm->user_sets);
    }
    if (rc == CHAT_OK && rooms.unbuilt > 0) {
        rc = chat_room_members_warm_store(s, &rooms, pairs, n_pairs, &warm->room_sets);
    }

cleanup:
    chat_redis_lock_release(s->redis, &lock);
    free(pairs);
    if (t.ids == NULL) {
        free(ids); /* not handed to t yet */
    }
    rooms_batch__todo_clear(&t);
    chat_room_members_warm_clear(&rooms);
    return rc;
}
