/*
 * user_exists.c - many users' existence in one go (see user_exists.h): one pipelined
 * round trip to Redis (TYPE of each user's cache key: a hash is a cached user, a string
 * the "gone" mark), one to the set of all ids (user_ids.h) for the misses, then one
 * MongoDB query for those the set lacks, whose answers are cached.
 *
 * Threads: the thread owning the store. Relies on user_cache.h, user_ids.h,
 * users_list.h, keys.h.
 */
#include "chat/user_exists.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/keys.h"
#include "chat/redis_sync.h"
#include "chat/user_cache.h"
#include "chat/user_ids.h"
#include "chat/users_list.h"
#include "chat/validate.h"

/* Redis's answers: out[i] set for cached users and gone marks, left UNKNOWN otherwise. */
static void exists__from_redis(const chat_store_t *s, const char (*ids)[CHAT_ID_LEN], size_t n,
                               chat_user_existence_t *out)
{
    size_t queued = 0;

    for (size_t i = 0; s->redis != NULL && i < n; i++) {
        char key[CHAT_KEY_LEN];
        const char *argv[2] = {"TYPE", key};
        if (chat_key_tagged(ids[i], "user", key, sizeof(key)) == NULL ||
            chat_redis_append_argv(s->redis, 2, argv, NULL) != CHAT_OK) {
            break;
        }
        queued++;
    }
    for (size_t i = 0; i < queued; i++) {
        redisReply *reply = chat_redis_next_reply(s->redis);
        if (reply != NULL && reply->type == REDIS_REPLY_STATUS) {
            if (strcmp(reply->str, "hash") == 0) {
                out[i] = CHAT_USER_EXISTS;
            } else if (strcmp(reply->str, "string") == 0) {
                out[i] = CHAT_USER_GONE;
            }
        }
        if (reply != NULL) {
            freeReplyObject(reply);
        }
    }
    chat_redis_discard_replies(s->redis);
}

/* A user some answer is still needed for: its id and where it stands in the batch. */
typedef struct exists__miss {
    char id[CHAT_ID_LEN];
    size_t at;
} exists__miss_t;

static int exists__by_id(const void *a, const void *b)
{
    return strcmp(((const exists__miss_t *)a)->id, ((const exists__miss_t *)b)->id);
}

/* The users MongoDB must answer for: asked with one query; each one it returns is cached
 * and marked (every place of it in the batch: misses sorted by id, then searched). */
static void exists__from_mongo(const chat_store_t *s, exists__miss_t *misses, size_t n_miss,
                               chat_user_existence_t *out)
{
    char(*ask)[CHAT_ID_LEN] = calloc(n_miss + 1, sizeof(*ask));
    chat_user_t *found = NULL;
    size_t n_found = 0;

    if (ask == NULL) {
        return; /* the misses stay unknown */
    }
    qsort(misses, n_miss, sizeof(*misses), exists__by_id);
    for (size_t m = 0; m < n_miss; m++) {
        memcpy(ask[m], misses[m].id, CHAT_ID_LEN);
    }
    /* with the hash, so the cached document is the complete one chat_user_load keeps */
    if (chat_users_find_by_ids(s->db, (const char(*)[CHAT_ID_LEN])ask, n_miss, true, &found,
                               &n_found) != CHAT_OK) {
        free(ask);
        return; /* MongoDB down: unknown, as for one user */
    }
    for (size_t f = 0; f < n_found; f++) {
        exists__miss_t key;
        const exists__miss_t *hit;
        chat_user_cache_put(s, &found[f], true);
        snprintf(key.id, sizeof(key.id), "%s", found[f].id);
        hit = bsearch(&key, misses, n_miss, sizeof(*misses), exists__by_id);
        while (hit != NULL && hit > misses && strcmp(hit[-1].id, key.id) == 0) {
            hit--; /* the first of its places */
        }
        for (; hit != NULL && hit < misses + n_miss && strcmp(hit->id, key.id) == 0; hit++) {
            out[hit->at] = CHAT_USER_EXISTS;
        }
    }
    for (size_t m = 0; m < n_miss; m++) {
        if (out[misses[m].at] == CHAT_USER_UNKNOWN) {
            chat_user_t gone = {0};
            snprintf(gone.id, sizeof(gone.id), "%s", misses[m].id);
            chat_user_cache_put(s, &gone, false);
            out[misses[m].at] = CHAT_USER_GONE; /* the query answered, without it */
        }
    }
    chat_users_free_array(found, n_found);
    free(ask);
}

void chat_user_exist_many(const chat_store_t *s, const char (*ids)[CHAT_ID_LEN], size_t n,
                          chat_user_existence_t *out, bool *cold_out)
{
    char(*miss_ids)[CHAT_ID_LEN] = NULL;
    exists__miss_t *misses = NULL;
    chat_cset_answer_t *answers = NULL;
    size_t n_miss = 0;
    size_t n_ask = 0;

    for (size_t i = 0; i < n; i++) {
        out[i] = chat_validate_object_id(ids[i]) ? CHAT_USER_UNKNOWN : CHAT_USER_GONE;
    }
    if (cold_out != NULL) {
        *cold_out = false;
    }
    exists__from_redis(s, ids, n, out);
    miss_ids = calloc(n + 1, sizeof(*miss_ids));
    misses = calloc(n + 1, sizeof(*misses));
    answers = calloc(n + 1, sizeof(*answers));
    if (miss_ids == NULL || misses == NULL || answers == NULL) {
        goto cleanup; /* the misses stay unknown */
    }
    for (size_t i = 0; i < n; i++) {
        if (out[i] == CHAT_USER_UNKNOWN) {
            memcpy(miss_ids[n_miss], ids[i], CHAT_ID_LEN);
            memcpy(misses[n_miss].id, ids[i], CHAT_ID_LEN);
            misses[n_miss++].at = i;
        }
    }
    /* the set of all ids answers for the users whose document is not cached; only those
     * it lacks (deleted, or a change Redis lost) are asked of MongoDB */
    (void)chat_user_ids_check_many(s, (const char(*)[CHAT_ID_LEN])miss_ids, n_miss, answers,
                                   cold_out);
    for (size_t m = 0; m < n_miss; m++) {
        if (answers[m] == CHAT_CSET_PRESENT) {
            out[misses[m].at] = CHAT_USER_EXISTS;
        } else {
            misses[n_ask++] = misses[m];
        }
    }
    if (n_ask > 0) {
        exists__from_mongo(s, misses, n_ask, out);
    }

cleanup:
    free(answers);
    free(misses);
    free(miss_ids);
}
