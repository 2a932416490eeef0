/*
 * users_repo.h - the users collection: {_id, username, username_lc, email, email_lc,
 * password_hash, display_name, avatar_url, created_at, last_seen}; unique indexes on
 * username_lc and email_lc. One document at a time here; reads of many are users_list.h.
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

chat_err_t chat_users_touch_last_seen(chat_db_t *db, const char *id, int64_t now_ms);
/** last_seen = now_ms for every user of ids[0..n) with one command: a few users get one
 *  `{_id}` statement each, many one `{_id: {$in}}` update (on FerretDB one scan for all
 *  of them; chat_users_seen_by_id says which). Ids that are not ObjectIds are skipped. */
chat_err_t chat_users_touch_last_seen_many(chat_db_t *db, const char (*ids)[CHAT_ID_LEN], size_t n,
                                           int64_t now_ms);

/** Whether a batch of n users is written one `{_id}` statement each (see users_repo.c
 *  for the measured costs). Pure; exposed for the unit test. */
bool chat_users_seen_by_id(size_t n);

#define CHAT_USERS_SEEN_CHUNK 1000            /* users per last_seen command, at most */
#define CHAT_USERS_SEEN_LOCKED_BUDGET_MS 1000 /* a batch's time under one write lock */

/** How many of the `waiting` users the next last_seen command of a batch covers, the batch
 *  having spent spent_ms so far; 0 ends the batch here (the rest waits for the next one).
 *  Up to CHAT_USERS_SEEN_CHUNK, the whole batch in one go; but on a database whose writes
 *  all wait for the one a filtered write holds (one_lock: FerretDB on SQLite, where even a
 *  `{_id}` statement scans the collection under it, ~110 ms at 10,000 users, and an `$in`
 *  of n users holds it ~n/2 times that) one user per command, the others' writes passing
 *  in between, and no more commands after CHAT_USERS_SEEN_LOCKED_BUDGET_MS. Pure. */
size_t chat_users_seen_step(bool one_lock, size_t waiting, int64_t spent_ms);

#endif
