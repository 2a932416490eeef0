/*
 * member_lookup.c - batched presence for member lists: one pipelined ZCOUNT per
 * chat:presence:<id>, in chunks so that no pipeline grows without bound. One round trip
 * per chunk on one Redis; in a Redis Cluster the users' keys live in different slots
 * (no multi-key script can read them all), and the pipeline sends each ZCOUNT to its
 * slot's master (one round trip per master).
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on the presence keys
 * documented in chat/keys.h.
 */
#include "member_lookup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/keys.h"
#include "chat/validate.h"

#define LOOKUP__CHUNK 500

void rest_lookup_online(chat_redis_t *redis, const char (*ids)[CHAT_ID_LEN], size_t n, bool *online)
{
    char min[32];

    memset(online, 0, n * sizeof(*online));
    if (redis == NULL || n == 0) {
        return;
    }
    snprintf(min, sizeof(min), "(%" PRId64, chat_clock_now_ms()); /* expiring now is gone */
    for (size_t from = 0; from < n; from += LOOKUP__CHUNK) {
        size_t count = from + LOOKUP__CHUNK < n ? LOOKUP__CHUNK : n - from;
        size_t queued = 0;
        bool ok = true;

        for (size_t i = 0; i < count && ok; i++, queued++) {
            char key[CHAT_KEY_LEN];
            const char *argv[4] = {"ZCOUNT", key, min, "+inf"};
            ok = chat_key_presence(ids[from + i], key, sizeof(key)) != NULL &&
                chat_redis_append_argv(redis, 4, argv, NULL) == CHAT_OK;
        }
        if (!ok) {
            queued--; /* the one that failed was not queued */
        }
        for (size_t i = 0; i < queued; i++) {
            redisReply *reply = chat_redis_next_reply(redis);
            if (reply == NULL) {
                ok = false; /* Redis down: the rest shows offline */
                break;
            }
            online[from + i] = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
            freeReplyObject(reply);
        }
        chat_redis_discard_replies(redis);
        if (!ok) {
            break;
        }
    }
}
