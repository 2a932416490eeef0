/*
 * room_members_repo.h - the room_members collection, one document per member of a room:
 * {_id, room_id, user_id, role: "owner"|"member", joined_at}, unique per (room_id,
 * user_id). Single-document inserts under that index and deletes are atomic on MongoDB
 * and FerretDB alike, so membership changes are exact under races (an array in the room
 * document updated with $addToSet lost concurrent joins on FerretDB, whose updates are an
 * unisolated read-modify-write). The layer under rooms_repo.c, which owns the public
 * membership calls (chat_rooms_add_member, ...). Blocking; see db.h.
 */
#ifndef CHAT_ROOM_MEMBERS_REPO_H
#define CHAT_ROOM_MEMBERS_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/model.h"

#define CHAT_MEMBER_ROOMS_MAX 100000 /* rooms of one user that chat_members_room_oids reads */

/**
 * Replaces rooms[i].members / n_members of each of the n rooms with its member list,
 * oldest member first: ONE query for all n rooms. On failure the rooms stay valid for
 * chat_room_clear (lists possibly partial).
 */
chat_err_t chat_members_load(chat_db_t *db, chat_room_t *rooms, size_t n);

/** Inserts the member document of (room, user). CHAT_ERR_CONFLICT when that user already
 *  belongs to the room. */
chat_err_t chat_members_insert(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                               const char *role, int64_t joined_at_ms);

/** Deletes the member document of (room, user), or every member of room when user is NULL;
 *  *deleted (may be NULL) = how many went, exact under races. */
chat_err_t chat_members_delete(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                               int64_t *deleted);

/** *found = whether user belongs to room (the room itself is not checked). */
chat_err_t chat_members_contains(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                                 bool *found);

/** The ids of the rooms uid belongs to (at most CHAT_MEMBER_ROOMS_MAX), in no particular
 *  order. *oids_out malloc'd (NULL when none). */
chat_err_t chat_members_room_oids(chat_db_t *db, const bson_oid_t *uid, bson_oid_t **oids_out,
                                  size_t *n_out);

#endif
