/*
 * user_exists.h - whether the users behind many tokens still exist, in one go: the
 * gateway's admission asks this for every new socket, and after a Redis restart a
 * reconnect storm asks it for thousands of users at once. Redis answers what it has
 * cached (user_cache.h: the document, or a "gone" mark), then the set of all user ids
 * (user_ids.h; built with one read of `users` when Redis lost it); only the ids that set
 * lacks cost one MongoDB query for all of them ({_id: {$in}}), cached for the next time.
 *
 * Blocking; the thread owning the store (a gateway read worker; rest-fcgi's request
 * loop, for every authenticated request).
 */
#ifndef CHAT_USER_EXISTS_H
#define CHAT_USER_EXISTS_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/model.h"
#include "chat/store.h"

typedef enum chat_user_existence {
    CHAT_USER_UNKNOWN = 0, /* neither Redis nor MongoDB could answer */
    CHAT_USER_EXISTS,
    CHAT_USER_GONE /* no such user (never was, or deleted) */
} chat_user_existence_t;

/** out[i] = whether ids[i] is a user. Duplicates in ids are fine. *cold (may be NULL):
 *  the set of all ids was not built (Redis lost the read model; see user_ids.h). */
void chat_user_exist_many(const chat_store_t *s, const char (*ids)[CHAT_ID_LEN], size_t n,
                          chat_user_existence_t *out, bool *cold);

#endif
