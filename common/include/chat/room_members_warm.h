/*
 * room_members_warm.h - every room's member set (member_cache.h's chat:{<room>}:members)
 * built from the one read of all of room_members that the read model's warm-up already
 * makes for the users' room sets (user_rooms_batch.h). Without it, the first look at
 * each room after a start or a Redis loss (GET /api/rooms/{id}, a subscribe's or a
 * history request's member check) read room_members for that room alone: on FerretDB a
 * read that decodes the whole collection, 118-505 ms for rooms of 1,000-5,000 members
 * at 10,000 users. The cached_set.h protocol holds: each set's version is read before
 * room_members is, and a set changed meanwhile is left unbuilt (its next reader builds
 * it as before).
 *
 * Blocking; the thread owning the store (a gateway's background worker).
 */
#ifndef CHAT_ROOM_MEMBERS_WARM_H
#define CHAT_ROOM_MEMBERS_WARM_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/cached_set.h"
#include "chat/room_members_repo.h"
#include "chat/store.h"

/** The rooms of one warm-up, sorted by id, with each set's state before the read. */
typedef struct chat_room_members_warm {
    bson_oid_t *oids;
    char (*ids)[CHAT_ID_LEN];
    bool *built;
    char (*ver)[24];
    size_t n;
    size_t unbuilt;
} chat_room_members_warm_t;

/** Reads every room (at most max_rooms: CHAT_ERR_CONFLICT past it, nothing to warm),
 *  caches each room's document (room_cache.h) and reads the versions of their member
 *  sets; call before room_members is read. */
chat_err_t chat_room_members_warm_prepare(const chat_store_t *s, size_t max_rooms,
                                          chat_room_members_warm_t *w);

/** Stores the member set of every unbuilt room of w from pairs (every membership, read
 *  after chat_room_members_warm_prepare; reordered by room here), pipelined. *n_built:
 *  the sets stored. */
chat_err_t chat_room_members_warm_store(const chat_store_t *s, const chat_room_members_warm_t *w,
                                        chat_member_pair_t *pairs, size_t n_pairs, size_t *n_built);

void chat_room_members_warm_clear(chat_room_members_warm_t *w);

/** Which side of a membership a set is keyed by. */
typedef enum chat_pairs_key { CHAT_PAIRS_BY_USER, CHAT_PAIRS_BY_ROOM } chat_pairs_key_t;

/**
 * Stores the sets 0 .. n-1 (nth(arg, i)) from pairs, pipelined: set i holds the
 * memberships whose user (CHAT_PAIRS_BY_USER) or room is keys[i] (keys sorted), as the
 * other side's id, scored as member_cache.h's sets are (a room by its creation second,
 * a member by its join time); a set whose skip[i] is true is left alone, the others
 * stored under ver[i] (cached_set.h). Reorders pairs. *n_built: the sets stored.
 */
chat_err_t chat_member_pairs_store(const chat_store_t *s, chat_member_pair_t *pairs, size_t n_pairs,
                                   chat_pairs_key_t key, const bson_oid_t *keys, size_t n,
                                   chat_cset_nth_fn nth, void *arg, const bool *skip,
                                   const char (*ver)[24], size_t *n_built);

#endif
