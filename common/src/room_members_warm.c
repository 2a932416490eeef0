/*
 * room_members_warm.c - every room's member set from the warm-up's read of all of
 * room_members (see room_members_warm.h): the room ids and the sets' versions first,
 * then, once the memberships are read, each unbuilt set stored under its version; and
 * the grouping of memberships into sets that the users' room sets share.
 *
 * Threads: the thread owning the store. Relies on cached_set.h, rooms_repo.h (whose read
 * of every room also caches each room's document: room_cache.h).
 */
#include "chat/room_members_warm.h"

#include <stdlib.h>
#include <string.h>

#include "chat/cached_set.h"
#include "chat/room_cache.h"
#include "chat/rooms_repo.h"

static int members_warm__by_oid(const void *a, const void *b)
{
    return bson_oid_compare(a, b);
}

static int members_warm__by_user(const void *a, const void *b)
{
    return bson_oid_compare(&((const chat_member_pair_t *)a)->user,
                            &((const chat_member_pair_t *)b)->user);
}

static int members_warm__by_room(const void *a, const void *b)
{
    const chat_member_pair_t *x = a;
    const chat_member_pair_t *y = b;
    int c = bson_oid_compare(&x->room, &y->room);

    return c != 0 ? c : (x->joined_at_ms > y->joined_at_ms) - (x->joined_at_ms < y->joined_at_ms);
}

chat_err_t chat_member_pairs_store(const chat_store_t *s, chat_member_pair_t *pairs, size_t n_pairs,
                                   chat_pairs_key_t key, const bson_oid_t *keys, size_t n,
                                   chat_cset_nth_fn nth, void *arg, const bool *skip,
                                   const char (*ver)[24], size_t *n_built)
{
    chat_cset_entry_t *e = calloc(n_pairs + 1, sizeof(*e));
    char(*other)[CHAT_ID_LEN] = calloc(n_pairs + 1, sizeof(*other));
    size_t *first = calloc(n + 1, sizeof(*first));
    size_t *count = calloc(n + 1, sizeof(*count));
    bool *stored = calloc(n + 1, sizeof(*stored));
    bool by_room = key == CHAT_PAIRS_BY_ROOM;
    size_t p = 0;
    chat_err_t rc = CHAT_ERR_NOMEM;

    *n_built = 0;
    if (e != NULL && other != NULL && first != NULL && count != NULL && stored != NULL) {
        /* pairs and keys both sorted by the key: one walk finds each key's run */
        if (n_pairs > 0) { /* pairs is NULL when there are none */
            qsort(pairs, n_pairs, sizeof(*pairs),
                  by_room ? members_warm__by_room : members_warm__by_user);
        }
        for (size_t i = 0; i < n; i++) {
            while (p < n_pairs &&
                   bson_oid_compare(by_room ? &pairs[p].room : &pairs[p].user, &keys[i]) < 0) {
                p++;
            }
            first[i] = p;
            for (;
                 p < n_pairs && bson_oid_equal(by_room ? &pairs[p].room : &pairs[p].user, &keys[i]);
                 p++) {
                bson_oid_to_string(by_room ? &pairs[p].user : &pairs[p].room, other[p]);
                e[p].score = by_room ? (double)pairs[p].joined_at_ms
                                     : (double)bson_oid_get_time_t(&pairs[p].room);
                e[p].member = other[p];
                e[p].len = CHAT_ID_LEN - 1;
            }
            count[i] = p - first[i];
        }
        rc = chat_cset_build_store_many(s->redis, nth, arg, n, skip, ver, e, first, count, stored);
        for (size_t i = 0; i < n; i++) {
            *n_built += stored[i];
        }
    }
    free(stored);
    free(count);
    free(first);
    free(other);
    free(e);
    return rc;
}

/* chat_cset_nth_fn: room i's member set. */
static void members_warm__set_of(void *arg, size_t i, chat_cset_t *out)
{
    const chat_room_members_warm_t *w = arg;

    chat_cset_room_members(w->ids[i], out);
}

void chat_room_members_warm_clear(chat_room_members_warm_t *w)
{
    free(w->oids);
    free(w->ids);
    free(w->built);
    free(w->ver);
    memset(w, 0, sizeof(*w));
}

#define MEMBERS_WARM__ROOMS_QUEUED 256 /* rooms' documents per pipelined round */

/* chat_rooms_all's each: the room's document to the read model, pipelined. */
typedef struct members_warm__rooms_cached {
    const chat_store_t *s;
    size_t queued;
} members_warm__rooms_cached_t;

static void members_warm__cache_room(const chat_room_t *room, void *arg)
{
    members_warm__rooms_cached_t *c = arg;

    chat_room_cache_put(c->s, room, true);
    if (++c->queued % MEMBERS_WARM__ROOMS_QUEUED == 0) {
        chat_redis_discard_replies(c->s->redis);
    }
}

chat_err_t chat_room_members_warm_prepare(const chat_store_t *s, size_t max_rooms,
                                          chat_room_members_warm_t *w)
{
    members_warm__rooms_cached_t cached = {s, 0};
    size_t k = 0;
    chat_err_t rc;

    memset(w, 0, sizeof(*w));
    if (s->redis == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    /* every room's document too, while the collection is read anyway: a room's first
     * GET /api/rooms/{id} after a Redis loss was a read of rooms (2-11 ms on FerretDB) */
    rc = chat_rooms_all(s->db, max_rooms + 1, &w->oids, &w->n, members_warm__cache_room, &cached);
    chat_redis_discard_replies(s->redis);
    if (rc == CHAT_OK && w->n > max_rooms) {
        rc = CHAT_ERR_CONFLICT;
    }
    if (rc == CHAT_OK) {
        w->ids = calloc(w->n + 1, sizeof(*w->ids));
        w->built = calloc(w->n + 1, sizeof(*w->built));
        w->ver = calloc(w->n + 1, sizeof(*w->ver));
        rc = w->ids != NULL && w->built != NULL && w->ver != NULL ? CHAT_OK : CHAT_ERR_NOMEM;
    }
    if (rc != CHAT_OK) {
        chat_room_members_warm_clear(w);
        return rc;
    }
    if (w->n > 0) { /* oids is NULL when there are no rooms */
        qsort(w->oids, w->n, sizeof(*w->oids), members_warm__by_oid);
    }
    for (size_t i = 0; i < w->n; i++) {
        if (k == 0 || !bson_oid_equal(&w->oids[k - 1], &w->oids[i])) {
            bson_oid_copy(&w->oids[i], &w->oids[k]);
            bson_oid_to_string(&w->oids[k], w->ids[k]);
            k++;
        }
    }
    w->n = k;
    rc = chat_cset_build_prepare_many(s->redis, members_warm__set_of, w, w->n, w->built, w->ver);
    for (size_t i = 0; rc == CHAT_OK && i < w->n; i++) {
        w->unbuilt += !w->built[i];
    }
    if (rc != CHAT_OK) {
        chat_room_members_warm_clear(w);
    }
    return rc;
}

chat_err_t chat_room_members_warm_store(const chat_store_t *s, const chat_room_members_warm_t *w,
                                        chat_member_pair_t *pairs, size_t n_pairs, size_t *n_built)
{
    return chat_member_pairs_store(s, pairs, n_pairs, CHAT_PAIRS_BY_ROOM, w->oids, w->n,
                                   members_warm__set_of, (void *)w, w->built,
                                   (const char(*)[24])w->ver, n_built);
}
