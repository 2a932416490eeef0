/*
 * room_members_repo.h - the room_members collection, one document per member of a room:
 * {_id, room_id, user_id, role: "owner"|"member", joined_at}, unique per (room_id,
 * user_id). Single-document inserts under that index and deletes are atomic on MongoDB
 * and FerretDB alike, so membership changes are exact under races (an array in the room
 * document updated with $addToSet lost concurrent joins on FerretDB, whose updates are an
 * unisolated read-modify-write). The layer under rooms_repo.c, which owns the public
 * membership calls (membership.h). Every read leaves out the memberships that a pending
 * leave ended (member_leaves_repo.h). Blocking; see db.h.
 */
#ifndef CHAT_ROOM_MEMBERS_REPO_H
#define CHAT_ROOM_MEMBERS_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/model.h"

#define CHAT_MEMBER_ROOMS_MAX 100000 /* rooms of one user that chat_members_room_oids reads */

/** One member of a room as stored. */
typedef struct chat_member_row {
    char user_id[CHAT_ID_LEN];
    int64_t joined_at_ms;
} chat_member_row_t;

/** Every member of room (the read model's rebuild: member_cache.h), in no particular
 *  order. *rows_out malloc'd (NULL when none). */
chat_err_t chat_members_of_room(chat_db_t *db, const bson_oid_t *room, chat_member_row_t **rows_out,
                                size_t *n_out);

/** Inserts the member document of (room, user). CHAT_ERR_CONFLICT when that user already
 *  belongs to the room. */
chat_err_t chat_members_insert(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                               const char *role, int64_t joined_at_ms);

/** Deletes the member document of (room, user), or every member of room when user is NULL;
 *  *deleted (may be NULL) = how many went, exact under races. */
chat_err_t chat_members_delete(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                               int64_t *deleted);

/** Deletes the member documents in room of users[i] that began at or before untils[i]
 *  (pending leaves' ends: member_leaves_repo.h; a later membership stays), one command:
 *  FerretDB scans room_members once for all of them. */
chat_err_t chat_members_delete_left(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *users,
                                    const int64_t *untils, size_t n);

/** Deletes the member documents in room of users[0..n) that began at or before until,
 *  one {user_id: {$in}} command: only for leaves settled as membership_leaves.h says
 *  (the one bound is exact there and nowhere else). */
chat_err_t chat_members_delete_left_by(chat_db_t *db, const bson_oid_t *room,
                                       const bson_oid_t *users, size_t n, int64_t until);

/** *found = whether user belongs to room (the room itself is not checked). */
chat_err_t chat_members_contains(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                                 bool *found);

/** The ids of the rooms uid belongs to (at most CHAT_MEMBER_ROOMS_MAX), in no particular
 *  order. *oids_out malloc'd (NULL when none). */
chat_err_t chat_members_room_oids(chat_db_t *db, const bson_oid_t *uid, bson_oid_t **oids_out,
                                  size_t *n_out);

/** One (user, room) membership. */
typedef struct chat_member_pair {
    bson_oid_t user;
    bson_oid_t room;
    int64_t joined_at_ms;
} chat_member_pair_t;

/** Every membership of the users uids[0..n) with one query ({user_id: {$in}}), or of
 *  everybody when uids is NULL, in no particular order, at most max rows. *out malloc'd
 *  (NULL when none). */
chat_err_t chat_members_of_users(chat_db_t *db, const bson_oid_t *uids, size_t n, size_t max,
                                 chat_member_pair_t **out, size_t *n_out);

#endif
