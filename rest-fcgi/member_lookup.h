/*
 * member_lookup.h - batched presence for member lists: the presence of many users in one
 * pipelined Redis round trip (one per master in a Redis Cluster; chat_presence_is_online
 * would cost one per member). Usernames come
 * from chat_user_names (user_cache.h).
 * Thread: the process's only thread (FastCGI accept loop); blocking, bounded by the
 * MongoDB and Redis timeouts.
 */
#ifndef REST_MEMBER_LOOKUP_H
#define REST_MEMBER_LOOKUP_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/jwt.h"
#include "chat/redis_sync.h"

/**
 * online[i] = whether ids[i] is online (same rule as chat_presence_is_online: any
 * gateway's entry in chat:presence:<id> expires in the future). All false when Redis
 * is down.
 */
void rest_lookup_online(chat_redis_t *redis, const char (*ids)[CHAT_ID_LEN], size_t n,
                        bool *online);

#endif
