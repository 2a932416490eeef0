/*
 * presence.c - reading who is online from the chat:presence:<user_id> sorted sets that
 * the gateways refresh (member = gateway id, score = expiry in ms). A user is online
 * while any gateway's entry expires in the future, so a crashed gateway's users go
 * offline by themselves within CHAT_PRESENCE_TTL_MS.
 *
 * Threads: the thread that owns the chat_redis_t (rest-fcgi request loop).
 */
#include "chat/presence.h"

#include <inttypes.h>
#include <stdio.h>

#include "chat/keys.h"

bool chat_presence_is_online(chat_redis_t *redis, const char *user_id, int64_t now_ms)
{
    char key[CHAT_KEY_LEN];
    char min[32];
    redisReply *reply = NULL;
    bool online = false;

    if (redis == NULL || user_id == NULL || chat_key_presence(user_id, key, sizeof(key)) == NULL) {
        return false;
    }
    snprintf(min, sizeof(min), "(%" PRId64, now_ms); /* exclusive: expiring now is gone */
    reply = chat_redis_command(redis, "ZCOUNT %s %s +inf", key, min);
    if (reply != NULL) {
        online = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
        freeReplyObject(reply);
    }
    return online;
}
