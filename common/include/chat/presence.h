/*
 * presence.h - who is online, read and written through the chat:presence:<user_id>
 * sorted sets (see keys.h). The gateway writes them with hiredis async using the
 * command builders here; rest-fcgi reads them with chat_presence_is_online().
 */
#ifndef CHAT_PRESENCE_H
#define CHAT_PRESENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/redis_sync.h"

/** True when any gateway's entry for user_id expires after now_ms. False if Redis is down. */
bool chat_presence_is_online(chat_redis_t *redis, const char *user_id, int64_t now_ms);

#endif
