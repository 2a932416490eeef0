/*
 * user_rooms_batch.c - many users' room sets from one query (see user_rooms_batch.h):
 * the versions of the unbuilt sets first, then room_members {user_id: {$in}}, then each
 * set stored under the version read before the query.
 *
 * Threads: the thread owning the store. Relies on cached_set.h, member_cache.h,
 * room_members_repo.h.
 */
#include "chat/user_rooms_batch.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chat/cached_set.h"
#include "chat/member_cache.h"
#include "chat/room_members_repo.h"

typedef struct rooms_batch__user {
    char id[CHAT_ID_LEN];
    bson_oid_t oid;
    char ver[24];
} rooms_batch__user_t;

/* The users whose set is not built, each once, with the version read now. */
static size_t rooms_batch__unbuilt(const chat_store_t *s, const char (*users)[CHAT_ID_LEN],
                                   size_t n, rooms_batch__user_t *out)
{
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        chat_cset_t set;
        bool built = false;
        bool seen = false;
        for (size_t j = 0; j < k && !seen; j++) {
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
    k = rooms_batch__unbuilt(s, users, n, todo);
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
