/*
 * users_repo.h - the users collection: {_id, username, username_lc, email, email_lc,
 * password_hash, display_name, avatar_url, created_at, last_seen}; unique indexes on
 * username_lc and email_lc. One document at a time here; reads of many are users_list.h.
 * last_seen is no longer written here: the gateways record it in last_seen_log.h, and
 * every read takes the later of the two in.
 * Blocking; see db.h for which threads may call.
 */
#ifndef CHAT_USERS_REPO_H
#define CHAT_USERS_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/model.h"
#include "chat/users_list.h" /* reads of many users, for the callers of this header */

/**
 * Inserts a new user. CHAT_ERR_CONFLICT when the username or email is taken
 * (case-insensitively); *conflict_field (if not NULL) is set to "username" or "email".
 * out is filled (without password_hash) on success.
 */
chat_err_t chat_users_create(chat_db_t *db, const char *username, const char *email,
                             const char *password_hash, chat_user_t *out,
                             const char **conflict_field);

/** By email (login contains '@') or username, case-insensitive; with password_hash. */
chat_err_t chat_users_find_by_login(chat_db_t *db, const char *login, chat_user_t *out);
chat_err_t chat_users_find_by_id(chat_db_t *db, const char *id, chat_user_t *out);
/** By id, with password_hash when with_hash. */
chat_err_t chat_users_find_by_id_full(chat_db_t *db, const char *id, bool with_hash,
                                      chat_user_t *out);

/** Fills out (zeroed by the caller) from a users document (borrowed); password_hash only
 *  when with_hash. CHAT_ERR_INTERNAL, out cleared, for a document this module did not
 *  write. */
chat_err_t chat_users_from_bson(const bson_t *doc, bool with_hash, chat_user_t *out);

/** Sets display_name / avatar_url (a NULL argument leaves that field as it is). */
chat_err_t chat_users_update_profile(chat_db_t *db, const char *id, const char *display_name,
                                     const char *avatar_url, chat_user_t *out);

#endif
