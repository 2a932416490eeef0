/*
 * users_list.h - reads of many users at once from the users collection (users_repo.h
 * has the document shape): the prefix search, every user's name and id, the sample of
 * recent password hashes. Blocking; see db.h for which threads may call.
 */
#ifndef CHAT_USERS_LIST_H
#define CHAT_USERS_LIST_H

#include <stddef.h>

#include "chat/db.h"
#include "chat/model.h"

/** A user's lower-cased username and id (the username search index rebuild). */
typedef struct chat_user_name {
    char username_lc[CHAT_USERNAME_MAX + 1];
    char id[CHAT_ID_LEN];
} chat_user_name_t;

/** Calls fn with the password_hash (borrowed for the call) of each of the limit most
 *  recently registered users: the login path's sample of the stored bcrypt cost. */
chat_err_t chat_users_recent_hashes(chat_db_t *db, int limit,
                                    void (*fn)(const char *hash, void *arg), void *arg);

/** Every user's name and id. *out malloc'd. */
chat_err_t chat_users_names(chat_db_t *db, chat_user_name_t **out, size_t *n_out);
/** The same read, also handing each whole document (with password_hash, borrowed for the
 *  call) to each: the read model's warm-up (user_ids.h, user_docs.h). */
chat_err_t chat_users_names_each(chat_db_t *db, chat_user_name_t **out, size_t *n_out,
                                 void (*each)(const chat_user_t *u, void *arg), void *arg);

/** Users whose username starts with prefix (case-insensitive), at most limit, by username.
 *  *out (malloc'd, NULL when none) is freed with chat_users_free_array. */
chat_err_t chat_users_search(chat_db_t *db, const char *prefix, int limit, chat_user_t **out,
                             size_t *n_out);
/** The users among ids[0..n) (with password_hash when with_hash), in no order: one query
 *  ({_id: {$in: ...}}) whatever n. *out (malloc'd, NULL when none) is freed with
 *  chat_users_free_array. Ids that are not ObjectIds are skipped. */
chat_err_t chat_users_find_by_ids(chat_db_t *db, const char (*ids)[CHAT_ID_LEN], size_t n,
                                  bool with_hash, chat_user_t **out, size_t *n_out);
/** Clears and frees arr[0..n) (accepts NULL). */
void chat_users_free_array(chat_user_t *arr, size_t n);

#endif
