/*
 * user_rooms_batch.h - building many users' room sets (member_cache.h's
 * chat:{<user>}:rooms) with one database query. The gateway's admission does this for a
 * batch of new sockets, so that presence and the subscribe checks that follow find the
 * sets built instead of scanning room_members once per user (on FerretDB each such read
 * decodes the whole collection). The cached_set.h protocol holds: each set's version is
 * read before the query, and a set changed meanwhile is left unbuilt.
 *
 * Blocking; the thread owning the store (a gateway read worker).
 */
#ifndef CHAT_USER_ROOMS_BATCH_H
#define CHAT_USER_ROOMS_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/model.h"
#include "chat/store.h"

/** Builds the room sets of users[0..n) that are not built yet (duplicates fine). Best
 *  effort: a set it cannot build is built later by whoever reads it. */
void chat_user_rooms_build_many(const chat_store_t *s, const char (*users)[CHAT_ID_LEN], size_t n);

/** What chat_user_rooms_build_all may do (in) and did (out). */
typedef struct chat_read_model_warm {
    size_t max_users;   /* in: at most this many users in the set of all ids */
    size_t max_pairs;   /* in: at most this many rows of room_members */
    size_t max_rooms;   /* in: the rooms' member sets too, when there are at most this many
                         rooms (0: not at all); past it they are built when first read */
    size_t user_sets;   /* out: users' room sets stored */
    size_t room_sets;   /* out: rooms' member sets stored (room_members_warm.h) */
    bool another_warms; /* out: another process was warming; this call waited for it */
} chat_read_model_warm_t;

/**
 * Warms the room sets of everybody at once, for when Redis has lost the read model
 * (user_ids.h's *built_now): the users from the set of all ids (at most max_users), one
 * read of all of room_members (at most max_pairs rows), each unbuilt set stored under
 * the version read before that read; the member set of every room from the same read
 * (room_members_warm.h). One process at a time (a lock key, chat:users:rooms:warming,
 * 60 s): while another warms, waits for it (as long as its lock lasts) and returns
 * CHAT_OK with another_warms. CHAT_ERR_CONFLICT when the set of ids is not built or
 * max_users or max_pairs is passed (nothing is stored: the sets are built per batch as
 * before); CHAT_ERR_UNAVAILABLE without Redis; the database's error.
 */
chat_err_t chat_user_rooms_build_all(const chat_store_t *s, chat_read_model_warm_t *warm);

#endif
