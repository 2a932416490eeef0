/*
 * member_lookup.c - batched presence for member lists: one script call (EVALSHA of
 * common/lua/presence_count.lua through chat_redis_eval, which reloads the scripts after
 * a NOSCRIPT) running ZCOUNT on each chat:presence:<id>, in chunks so that no command
 * grows without bound.
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

void rest_lookup_online(chat_redis_t *redis, const char (*ids)[CHAT_ID_LEN], size_t n,
                        bool *online)
{
    const char **argv = NULL;
    char (*keys)[CHAT_KEY_LEN] = NULL;
    char min[32];

    memset(online, 0, n * sizeof(*online));
    if (redis == NULL || n == 0) {
        return;
    }
    argv = calloc(LOOKUP__CHUNK + 1, sizeof(*argv));
    keys = calloc(LOOKUP__CHUNK, sizeof(*keys));
    if (argv == NULL || keys == NULL) {
        goto cleanup;
    }
    snprintf(min, sizeof(min), "(%" PRId64, chat_clock_now_ms()); /* expiring now is gone */
    for (size_t from = 0; from < n; from += LOOKUP__CHUNK) {
        size_t count = from + LOOKUP__CHUNK < n ? LOOKUP__CHUNK : n - from;
        redisReply *reply = NULL;
        int argc = 0;

        for (size_t i = 0; i < count; i++) {
            chat_key_presence(ids[from + i], keys[i], sizeof(keys[i]));
            argv[argc++] = keys[i];
        }
        argv[argc++] = min;
        reply = chat_redis_eval(redis, CHAT_SCRIPT_PRESENCE_COUNT, (int)count, argc, argv, NULL);
        if (reply == NULL) {
            break; /* Redis down: everyone shows offline */
        }
        if (reply->type == REDIS_REPLY_ARRAY) {
            for (size_t i = 0; i < reply->elements && i < count; i++) {
                const redisReply *e = reply->element[i];
                online[from + i] = e->type == REDIS_REPLY_INTEGER && e->integer > 0;
            }
        }
        freeReplyObject(reply);
    }

cleanup:
    free(argv);
    free(keys);
}
