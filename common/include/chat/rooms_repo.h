/*
 * rooms_repo.h - the rooms collection: {_id, name, description, creator_id, is_private,
 * is_dm, created_at}; room_members, one document per member of a room: {_id, room_id,
 * user_id, role: "owner"|"member", joined_at}, unique per (room_id, user_id); and
 * dm_pairs {_id: "<idA>:<idB>" sorted, room_id} that makes a direct-message room unique
 * per pair. chat_room_t.members comes from room_members, oldest member first.
 * Blocking; see db.h.
 */
#ifndef CHAT_ROOMS_REPO_H
#define CHAT_ROOMS_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/model.h"

/** Creates a room whose only member (and owner) is creator_id. */
chat_err_t chat_rooms_create(chat_db_t *db, const char *name, const char *description,
                             bool is_private, const char *creator_id, chat_room_t *out);

chat_err_t chat_rooms_find(chat_db_t *db, const char *room_id, chat_room_t *out);

/** Public rooms plus private rooms user_id belongs to, newest first, with total count. */
chat_err_t chat_rooms_list_visible(chat_db_t *db, const char *user_id, int64_t limit,
                                   int64_t offset, chat_room_list_t *out, int64_t *total);

/** Ids of every room user_id belongs to (for presence fan-out). *ids_out malloc'd. */
chat_err_t chat_rooms_ids_for_member(chat_db_t *db, const char *user_id,
                                     char (**ids_out)[CHAT_ID_LEN], size_t *n_out);

/**
 * Adds user_id (an insert under the unique (room_id, user_id) index, exact under races).
 * *changed = false when already a member. out (may be NULL) = room after. *changed can
 * be true with an error return: the member was added but the room could not be re-read.
 */
chat_err_t chat_rooms_add_member(chat_db_t *db, const char *room_id, const char *user_id,
                                 bool *changed, chat_room_t *out);
/** Removes user_id (a delete, exact under races). *changed = false when not a member.
 *  out (may be NULL) = room after; *changed as for add_member. */
chat_err_t chat_rooms_remove_member(chat_db_t *db, const char *room_id, const char *user_id,
                                    bool *changed, chat_room_t *out);

/** CHAT_OK with *is_member; CHAT_ERR_NOT_FOUND when the room does not exist. */
chat_err_t chat_rooms_is_member(chat_db_t *db, const char *room_id, const char *user_id,
                                bool *is_member);

/** The one private two-member room of the pair, created on first use (race-safe). */
chat_err_t chat_rooms_get_or_create_dm(chat_db_t *db, const char *user_a, const char *user_b,
                                       chat_room_t *out, bool *created);

#endif
