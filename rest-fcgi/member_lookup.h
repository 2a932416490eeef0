/*
 * member_lookup.h - batched look-ups for member lists: the usernames of many user ids
 * in one MongoDB query, and the presence of many users in one Redis round trip.
 * common/ only offers one-at-a-time calls (chat_users_find_by_id,
 * chat_presence_is_online), which would cost a round trip per member of a big room.
 * Thread: the process's only thread (FastCGI accept loop); blocking, bounded by the
 * MongoDB and Redis timeouts.
 */
#ifndef REST_MEMBER_LOOKUP_H
#define REST_MEMBER_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/db.h"
#include "chat/jwt.h"
#include "chat/redis_sync.h"

/**
 * *names_out (new, n entries, free with rest_lookup_free_names) gets the username of
 * each ids[i], NULL for ids with no user. CHAT_ERR_UNAVAILABLE when MongoDB is down.
 */
chat_err_t rest_lookup_usernames(chat_db_t *db, const char (*ids)[CHAT_ID_LEN], size_t n,
                                 char ***names_out);
void rest_lookup_free_names(char **names, size_t n); /* accepts NULL */

/**
 * online[i] = whether ids[i] is online (same rule as chat_presence_is_online: any
 * gateway's entry in chat:presence:<id> expires in the future). All false when Redis
 * is down.
 */
void rest_lookup_online(chat_redis_t *redis, const char (*ids)[CHAT_ID_LEN], size_t n,
                        bool *online);

#endif
