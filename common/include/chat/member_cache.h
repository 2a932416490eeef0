/*
 * member_cache.h - who belongs to which room, answered in O(1) from the Redis read model
 * (cached_set.h: chat:{<room>}:members and chat:{<user>}:rooms) with MongoDB's
 * room_members behind it: a set that is missing or was built before a Redis restart is
 * rebuilt from MongoDB, and while Redis is down MongoDB answers alone.
 *
 * Changes go to MongoDB first and then to both sets (membership.h does it); a removal
 * also takes the member out of the sets before the database, so a removed member never
 * passes a check after the removal has returned, whatever rebuild runs meanwhile.
 *
 * Blocking; the thread owning the store (REST request thread, gateway worker).
 */
#ifndef CHAT_MEMBER_CACHE_H
#define CHAT_MEMBER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/cached_set.h"
#include "chat/jwt.h"
#include "chat/store.h"

/** *is_member: whether user_id belongs to room_id (the room itself is not checked). */
chat_err_t chat_member_check(const chat_store_t *s, const char *room_id, const char *user_id,
                             bool *is_member);

/** The cheap refusal (two Redis lookups, never the database): true when the user's own
 *  room set is built and lacks room_id; then *public_room says whether room_id is a
 *  public room (from the public rooms set) — not_member — or not one the user may know
 *  of — not_found. False: not known this way (ask chat_member_check). */
bool chat_member_surely_outside(const chat_store_t *s, const char *room_id, const char *user_id,
                                bool *public_room);

/** One membership question of a batch (chat_member_check_many). */
typedef struct chat_member_query {
    const char *room_id;
    const char *user_id;
    bool is_member;
    chat_err_t err;
} chat_member_query_t;

/** Answers q[0..n) with one pipelined round trip to Redis (rebuilding sets that are not
 *  built; MongoDB while Redis is down). */
void chat_member_check_many(const chat_store_t *s, chat_member_query_t *q, size_t n);

/* chat_member_check_many in three steps, for a caller that pipelines its own commands
 * in the same round trip: queue the checks (returns how many were queued; the rest stay
 * CHAT_ERR_UNAVAILABLE), queue its own, read the checks' replies (collect, first), read
 * its own, then resolve (drops unread replies; rebuilds or asks MongoDB what Redis could
 * not answer). */
size_t chat_member_check_queue(const chat_store_t *s, chat_member_query_t *q, size_t n);
void chat_member_check_collect(const chat_store_t *s, chat_member_query_t *q, size_t queued);
void chat_member_check_resolve(const chat_store_t *s, chat_member_query_t *q, size_t n);

/** Length of a membership epoch string (chat_member_epochs). */
#define CHAT_MEMBER_EPOCH_LEN 96

/**
 * The membership epoch of each room ("<run>:<built>:<ver>" of its member set: it changes
 * with every join or removal, every rebuild and every Redis restart), in one pipelined
 * round trip;
 * "" for a set that is not built. A gateway that remembers the epoch under which it
 * checked its watchers knows which rooms to check again. CHAT_ERR_UNAVAILABLE when
 * Redis does not answer.
 */
chat_err_t chat_member_epochs(const chat_store_t *s, const char *const *room_ids, size_t n,
                              char (*out)[CHAT_MEMBER_EPOCH_LEN]);

/** A page of a room's members, oldest first, and how many there are. */
typedef struct chat_member_page {
    size_t n;
    char (*ids)[CHAT_ID_LEN];
    int64_t *joined_ms;
    int64_t total;
} chat_member_page_t;

chat_err_t chat_member_page(const chat_store_t *s, const char *room_id, int64_t offset,
                            int64_t limit, chat_member_page_t *out);
void chat_member_page_clear(chat_member_page_t *page);
/** The page of a built member set (chat_cset_page of chat_cset_room_members), consumed. */
chat_err_t chat_member_page_from_set(chat_cset_page_t *page, chat_member_page_t *out);

/** Every room user_id belongs to (presence fan-out, room lists), newest room first.
 *  *ids malloc'd. */
chat_err_t chat_member_rooms_of(const chat_store_t *s, const char *user_id,
                                char (**ids)[CHAT_ID_LEN], size_t *n);

/**
 * Records a membership change that MongoDB already holds (added: joined_ms) in both
 * sets; for a removal call it before and after the database change. CHAT_OK, or
 * CHAT_ERR_UNAVAILABLE when Redis is down.
 */
chat_err_t chat_member_cache_change(const chat_store_t *s, const char *room_id, const char *user_id,
                                    bool added, int64_t joined_ms);

/** A user who was just registered belongs to no room: records their room list as built
 *  and empty, so their first connection needs no database read. Best effort. */
void chat_member_cache_new_user(const chat_store_t *s, const char *user_id);

/** The score a room has in user room lists and the public list: its creation second,
 *  read from its ObjectId (so no lookup is needed). */
double chat_member_room_score(const char *room_id);

#endif
