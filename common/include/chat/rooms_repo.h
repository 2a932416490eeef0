/*
 * rooms_repo.h - the rooms collection: {_id, name, description, creator_id, is_private,
 * is_dm, created_at}; room_members, one document per member of a room: {_id, room_id,
 * user_id, role: "owner"|"member", joined_at}, unique per (room_id, user_id); and
 * dm_pairs {_id: "<idA>:<idB>" sorted, room_id} that makes a direct-message room unique
 * per pair. Reads return the document only: member lists come from member_cache.h.
 * Blocking; see db.h.
 */
#ifndef CHAT_ROOMS_REPO_H
#define CHAT_ROOMS_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/model.h"

/** Creates a room whose only member (and owner) is creator_id; out->members = it. */
chat_err_t chat_rooms_create(chat_db_t *db, const char *name, const char *description,
                             bool is_private, const char *creator_id, chat_room_t *out);

/** The room document (members empty: member_cache.h). CHAT_ERR_NOT_FOUND. */
chat_err_t chat_rooms_find(chat_db_t *db, const char *room_id, chat_room_t *out);

/** The ids of every public room (rebuild of the public list). *oids_out malloc'd. */
chat_err_t chat_rooms_public_ids(chat_db_t *db, bson_oid_t **oids_out, size_t *n_out);

/** The ids of every room, at most max read (0: no bound; *oids_out malloc'd), and each
 *  room's document handed to each (NULL: not wanted; the room is borrowed for the call):
 *  one read of the whole collection. */
chat_err_t chat_rooms_all(chat_db_t *db, size_t max, bson_oid_t **oids_out, size_t *n_out,
                          void (*each)(const chat_room_t *room, void *arg), void *arg);

/** The one private two-member room of the pair, created on first use (race-safe). */
chat_err_t chat_rooms_get_or_create_dm(chat_db_t *db, const char *user_a, const char *user_b,
                                       chat_room_t *out, bool *created);

#endif
