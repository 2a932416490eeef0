/*
 * user_logins.h - every user's logins (username and email, lower-cased) as one cached
 * set (cached_set.h: chat:users:logins, members "u:<username>" and "e:<email>"), so that
 * a login of nobody and a registration of a taken name are answered from Redis: on
 * FerretDB a lookup by email or username decodes the whole users collection (SQLite) or
 * costs ~10 ms (PostgreSQL), and a refused registration used to cost a bcrypt, an insert
 * and a find. Built from the same read of `users` as the set of ids when it is not built
 * (user_ids.c), or alone by a gateway's start on a read model warmed before it existed;
 * registration adds after MongoDB's insert, account deletion removes after the delete.
 * A login absent from a built set does not exist; while the set is not built (or Redis
 * is down) the callers ask MongoDB, and MongoDB's unique indexes stay the authority for
 * a registration that the set let through.
 *
 * Blocking; the thread owning the store.
 */
#ifndef CHAT_USER_LOGINS_H
#define CHAT_USER_LOGINS_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/cached_set.h"
#include "chat/model.h"
#include "chat/store.h"

void chat_cset_user_logins(chat_cset_t *out);

/** Is login (an email when it holds '@', else a username; any case) someone's? */
chat_err_t chat_user_logins_check(const chat_store_t *s, const char *login,
                                  chat_cset_answer_t *out);
/** Both at once (one round trip): out[0] for username, out[1] for email. */
chat_err_t chat_user_logins_check_two(const chat_store_t *s, const char *username,
                                      const char *email, chat_cset_answer_t out[2]);

/** After MongoDB's insert (add) or delete (!add): u's username and email. */
void chat_user_logins_change(const chat_store_t *s, const chat_user_t *u, bool add);

/* A scan's logins (user_ids.c): _begin before the database is read (nothing is collected
 * when the set is built), _add per user, _end stores them unless a change came since. */
typedef struct chat_user_logins_scan {
    bool wanted;
    char ver[24];
    char **members; /* "u:..." / "e:..." strings, malloc'd */
    size_t n;
    size_t cap;
    bool failed; /* out of memory: nothing is stored */
} chat_user_logins_scan_t;

void chat_user_logins_scan_begin(const chat_store_t *s, chat_user_logins_scan_t *scan);
void chat_user_logins_scan_add(chat_user_logins_scan_t *scan, const chat_user_t *u);
void chat_user_logins_scan_end(const chat_store_t *s, chat_user_logins_scan_t *scan);

/** Builds the set with a read of its own when it is not built (a gateway's start). */
chat_err_t chat_user_logins_build(const chat_store_t *s);

#endif
