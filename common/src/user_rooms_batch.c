/*
 * user_rooms_batch.c - many users' room sets from one query (see user_rooms_batch.h):
 * the versions of the unbuilt sets first, then room_members {user_id: {$in}} (or all of
 * room_members for everybody), then each set stored under the version read before the
 * query.
 *
 * Threads: the thread owning the store. Relies on cached_set.h, member_cache.h,
 * room_members_repo.h, user_ids.h.
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
#include "chat/user_ids.h"

#define ROOMS_BATCH__WARM_LOCK_MS 60000 /* a warm that takes longer loses its lock */
#define ROOMS_BATCH__POLL_MS 50

typedef struct rooms_batch__user {
    char id[CHAT_ID_LEN];
    bson_oid_t oid;
    char ver[24];
} rooms_batch__user_t;

/* The users whose set is not built, each once (unique: users has no duplicates), with
 * the version read now. */
static size_t rooms_batch__unbuilt(const chat_store_t *s, const char (*users)[CHAT_ID_LEN],
                                   size_t n, bool unique, rooms_batch__user_t *out)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        chat_cset_t set;
        bool built = false;
        bool seen = false;
        for (size_t j = 0; j < k && !seen && !unique; j++) {
            seen = strcmp(out[j].id, users[i]) == 0;
        }
        if (seen || !chat_db_oid_from_hex(users[i], &out[k].oid)) {
            continue;
        }
        chat_cset_user_rooms(users[i], &set);
        if (chat_cset_build_prepare(s->redis, &set, &built, out[k].ver) != CHAT_OK) {
            return k; /* Redis down: the readers fall back to the database themselves */
        }
        if (!built) {
            memcpy(out[k].id, users[i], CHAT_ID_LEN);
            k++;
        }
    }
    return k;
}

/* Stores user u's set from the pairs that are its (pairs[i].user == u->oid). */
static void rooms_batch__store(const chat_store_t *s, const rooms_batch__user_t *u,
                               const chat_member_pair_t *pairs, size_t n_pairs,
                               chat_cset_entry_t *e, char (*ids)[CHAT_ID_LEN])
{
    chat_cset_t set;
    size_t n = 0;
    bool stored = false;

    for (size_t i = 0; i < n_pairs; i++) {
        if (bson_oid_equal(&pairs[i].user, &u->oid)) {
            bson_oid_to_string(&pairs[i].room, ids[n]);
            e[n].score = (double)bson_oid_get_time_t(&pairs[i].room);
            e[n].member = ids[n];
            e[n].len = CHAT_ID_LEN - 1;
            n++;
        }
    }
    chat_cset_user_rooms(u->id, &set);
    (void)chat_cset_build_store(s->redis, &set, u->ver, e, n, &stored);
}

void chat_user_rooms_build_many(const chat_store_t *s, const char (*users)[CHAT_ID_LEN], size_t n)
{
    rooms_batch__user_t *todo = NULL;
    bson_oid_t *oids = NULL;
    chat_member_pair_t *pairs = NULL;
    chat_cset_entry_t *e = NULL;
    char(*ids)[CHAT_ID_LEN] = NULL;
    size_t k;
    size_t n_pairs = 0;

    if (s->redis == NULL || n == 0 || (todo = calloc(n, sizeof(*todo))) == NULL) {
        return;
    }
    k = rooms_batch__unbuilt(s, users, n, false, todo);
    oids = k > 0 ? calloc(k, sizeof(*oids)) : NULL;
    if (oids == NULL) {
        goto cleanup;
    }
    for (size_t i = 0; i < k; i++) {
        bson_oid_copy(&todo[i].oid, &oids[i]);
    }
    if (chat_members_of_users(s->db, oids, k, CHAT_MEMBER_ROOMS_MAX, &pairs, &n_pairs) != CHAT_OK ||
        n_pairs >= CHAT_MEMBER_ROOMS_MAX) {
        goto cleanup; /* cut short: some set would be incomplete, build none */
    }
    /* one user has at most all the pairs: scratch big enough for any of them */
    e = calloc(n_pairs + 1, sizeof(*e));
    ids = calloc(n_pairs + 1, sizeof(*ids));
    for (size_t i = 0; e != NULL && ids != NULL && i < k; i++) {
        rooms_batch__store(s, &todo[i], pairs, n_pairs, e, ids);
    }

cleanup:
    free(ids);
    free(e);
    free(pairs);
    free(oids);
    free(todo);
}

/* ------------------------------------------------------------------ everybody */

static int rooms_batch__by_user(const void *a, const void *b)
{
    return bson_oid_compare(&((const chat_member_pair_t *)a)->user,
                            &((const chat_member_pair_t *)b)->user);
}

static int rooms_batch__by_oid(const void *a, const void *b)
{
    return bson_oid_compare(&((const rooms_batch__user_t *)a)->oid,
                            &((const rooms_batch__user_t *)b)->oid);
}

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

chat_err_t chat_user_rooms_build_all(const chat_store_t *s, size_t max_users, size_t max_pairs,
                                     size_t *n_built, bool *another_warms)
{
    char(*ids)[CHAT_ID_LEN] = NULL;
    rooms_batch__user_t *todo = NULL;
    chat_member_pair_t *pairs = NULL;
    chat_cset_entry_t *e = NULL;
    char(*rooms)[CHAT_ID_LEN] = NULL;
    size_t n_ids = 0;
    size_t k = 0;
    size_t n_pairs = 0;
    size_t p = 0;
    chat_redis_lock_t lock;
    chat_err_t rc;

    *n_built = 0;
    *another_warms = false;
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
        *another_warms = true;
        return chat_redis_lock_wait(s->redis, CHAT_KEY_USER_ROOMS_WARMING,
                                    ROOMS_BATCH__WARM_LOCK_MS, ROOMS_BATCH__POLL_MS, true, NULL,
                                    NULL, NULL);
    }
    rc = rooms_batch__all_ids(s, max_users, &ids, &n_ids);
    if (rc == CHAT_OK && (todo = calloc(n_ids + 1, sizeof(*todo))) == NULL) {
        rc = CHAT_ERR_NOMEM;
    }
    if (rc != CHAT_OK) {
        goto cleanup;
    }
    /* the versions before the database is read (the cached_set.h protocol) */
    k = rooms_batch__unbuilt(s, (const char(*)[CHAT_ID_LEN])ids, n_ids, true, todo);
    if (k == 0) {
        goto cleanup;
    }
    rc = chat_members_of_users(s->db, NULL, 0, max_pairs + 1, &pairs, &n_pairs);
    if (rc == CHAT_OK && n_pairs > max_pairs) {
        rc = CHAT_ERR_CONFLICT; /* cut short: some set would be incomplete, build none */
    }
    if (rc != CHAT_OK) {
        goto cleanup;
    }
    qsort(pairs, n_pairs, sizeof(*pairs), rooms_batch__by_user);
    qsort(todo, k, sizeof(*todo), rooms_batch__by_oid);
    e = calloc(n_pairs + 1, sizeof(*e));
    rooms = calloc(n_pairs + 1, sizeof(*rooms));
    if (e == NULL || rooms == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    /* both sorted by user: one walk stores each user's set from its run of pairs */
    for (size_t i = 0; i < k; i++) {
        chat_cset_t set;
        size_t n = 0;
        bool stored = false;
        while (p < n_pairs && bson_oid_compare(&pairs[p].user, &todo[i].oid) < 0) {
            p++;
        }
        for (; p < n_pairs && bson_oid_equal(&pairs[p].user, &todo[i].oid); p++, n++) {
            bson_oid_to_string(&pairs[p].room, rooms[n]);
            e[n].score = (double)bson_oid_get_time_t(&pairs[p].room);
            e[n].member = rooms[n];
            e[n].len = CHAT_ID_LEN - 1;
        }
        chat_cset_user_rooms(todo[i].id, &set);
        if (chat_cset_build_store(s->redis, &set, todo[i].ver, e, n, &stored) == CHAT_OK &&
            stored) {
            (*n_built)++;
        }
    }

cleanup:
    chat_redis_lock_release(s->redis, &lock);
    free(rooms);
    free(e);
    free(pairs);
    free(todo);
    free(ids);
    return rc;
}
