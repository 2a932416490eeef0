/*
 * users_repo.h - the users collection: {_id, username, username_lc, email, email_lc,
 * password_hash, display_name, avatar_url, created_at, last_seen}; unique indexes on
 * username_lc and email_lc. Blocking; see db.h for which threads may call.
 */
#ifndef CHAT_USERS_REPO_H
#define CHAT_USERS_REPO_H

#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/model.h"

/**
 * Inserts a new user. CHAT_ERR_CONFLICT when the username or email is taken
 * (case-insensitively); *conflict_field (if not NULL) is set to "username" or "email".
 * out is filled (without password_hash) on success.
 */
chat_err_t chat_users_create(chat_db_t *db, const char *username, const char *email,
                             const char *password_hash, chat_user_t *out,
                             const char **conflict_field);

/** Looks up by email, case-insensitive; out includes password_hash. */
chat_err_t chat_users_find_by_email(chat_db_t *db, const char *email, chat_user_t *out);
chat_err_t chat_users_find_by_id(chat_db_t *db, const char *id, chat_user_t *out);

/** Sets display_name / avatar_url (a NULL argument leaves that field as it is). */
chat_err_t chat_users_update_profile(chat_db_t *db, const char *id, const char *display_name,
                                     const char *avatar_url, chat_user_t *out);

chat_err_t chat_users_touch_last_seen(chat_db_t *db, const char *id, int64_t now_ms);

/** Users whose username starts with prefix (case-insensitive), at most limit, by username. */
chat_err_t chat_users_search(chat_db_t *db, const char *prefix, int limit, chat_user_t **out,
                             size_t *n_out);
void chat_users_free_array(chat_user_t *arr, size_t n);

#endif
