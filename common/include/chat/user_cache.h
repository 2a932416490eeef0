/*
 * user_cache.h - users through the Redis read model: the user document in
 * chat:{<user>}:user (user_docs.h: kept, not expiring, under a version that every change
 * this product makes bumps; filled for every user when a cold read model is warmed),
 * the login index chat:login:<email or username> -> id (neither ever changes), and the
 * username index for prefix search (cached_set.h). Misses are read from MongoDB and
 * cached; while Redis is down MongoDB answers alone. An unknown id is remembered for a
 * short while too, so tokens of deleted users do not cost a database read per request.
 * A change made behind the product's back (an operator editing `users` in MongoDB)
 * shows once the document is dropped: after a Redis flush, or DEL of its key.
 *
 * Blocking; the thread owning the store.
 */
#ifndef CHAT_USER_CACHE_H
#define CHAT_USER_CACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/model.h"
#include "chat/store.h"

#define CHAT_USER_GONE_TTL_SEC 30

/** The user (with password_hash when with_hash). CHAT_ERR_NOT_FOUND when there is none. */
chat_err_t chat_user_load(const chat_store_t *s, const char *user_id, bool with_hash,
                          chat_user_t *out);

/** The user whose email or username (case-insensitive) is login, with password_hash. */
chat_err_t chat_user_find_login(const chat_store_t *s, const char *login, chat_user_t *out);

/** Records a user just registered: document, login index, username index. */
void chat_user_cache_registered(const chat_store_t *s, const chat_user_t *u);
/** Caches u as read from MongoDB (found), or remembers that no user has u->id (!found,
 *  for CHAT_USER_GONE_TTL_SEC). For readers of many users at once (user_exists.h). */
void chat_user_cache_put(const chat_store_t *s, const chat_user_t *u, bool found);
/** Replaces the cached document after a change (u without password_hash is fine: the
 *  cached one is dropped and read again on the next login). */
void chat_user_cache_drop(const chat_store_t *s, const char *user_id);
/** Records that u's account was deleted: its document reads as gone, its email and
 *  username no longer resolve, it leaves the username index (account.h). */
void chat_user_cache_deleted(const chat_store_t *s, const chat_user_t *u);

/** names[i] (new strings, NULL for ids with no user) = the username of ids[i]: one
 *  pipelined round trip, MongoDB for the misses. Free with chat_user_names_free. */
chat_err_t chat_user_names(const chat_store_t *s, const char (*ids)[CHAT_ID_LEN], size_t n,
                           char ***names_out);
void chat_user_names_free(char **names, size_t n); /* accepts NULL */

/** Users whose username starts with prefix (case-insensitive), by username, at most
 *  limit. *out malloc'd (chat_users_free_array). */
chat_err_t chat_user_search(const chat_store_t *s, const char *prefix, int limit, chat_user_t **out,
                            size_t *n_out);

#endif
