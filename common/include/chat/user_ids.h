/*
 * user_ids.h - the ids of all users as one cached set in Redis (cached_set.h:
 * chat:users:ids), so that "does this token's user still exist?" costs a Redis lookup
 * for every user, not only for those whose cached document (user_cache.h, 5 minutes)
 * is still there. Built with one read of `users` (on FerretDB one scan for everybody
 * instead of one per user); registration adds, account deletion removes (before and
 * after the database, the cached_set.h protocol). A user absent from a built set is
 * asked of MongoDB by the caller (a change lost with Redis must not lock anyone out).
 * Beside it, the usernames for prefix search (chat:users:names, user_cache.h's
 * chat_user_search): built from the same read when the ids set is built and it is not
 * (a cold start, a Redis loss), so the first search does not wait for a read of its own.
 *
 * Blocking; the thread owning the store.
 */
#ifndef CHAT_USER_IDS_H
#define CHAT_USER_IDS_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/cached_set.h"
#include "chat/model.h"
#include "chat/store.h"

/**
 * out[i]: whether ids[i] is in the set, with one pipelined round trip; a set that is not
 * built is built first (one database read) and asked again. *built_now (may be NULL):
 * the set was not built when asked (a fresh or flushed Redis: the read model is cold;
 * this call or a concurrent one built it). CHAT_ERR_UNAVAILABLE when
 * Redis does not answer, the database's error when the build failed: out is then all
 * CHAT_CSET_NOT_BUILT.
 */
chat_err_t chat_user_ids_check_many(const chat_store_t *s, const char (*ids)[CHAT_ID_LEN], size_t n,
                                    chat_cset_answer_t *out, bool *built_now);

/** Builds the set (and the username set, from the same read) when it is not built;
 *  *was_cold (may be NULL): it was not. */
chat_err_t chat_user_ids_build(const chat_store_t *s, bool *was_cold);

/** Separates the username from the id in a member of the username set. */
#define CHAT_USER_NAME_SEP '\x01'

/** "<username lowercased>\x01<id>", the username set's member, into buf; its length (0
 *  when it does not fit). */
size_t chat_user_name_member(const char *username, const char *id, char *buf, size_t len);

/** Builds the username set when it is not built (one read of `users`, one process at a
 *  time: cached_set.h's chat_cset_build). */
chat_err_t chat_user_names_build(const chat_store_t *s);

/** Adds (registration) or removes (deletion) one id; best effort. */
void chat_user_ids_change(const chat_store_t *s, const char *user_id, bool add);

#endif
