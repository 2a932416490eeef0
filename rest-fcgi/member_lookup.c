/*
 * member_lookup.c - batched usernames ({_id: {$in: [...]}} on the users collection,
 * projected to username) and batched presence (one EVAL running ZCOUNT on each
 * chat:presence:<id>), in chunks so that no command or document grows without bound.
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on chat/db.h (pool,
 * error mapping), the users collection layout documented in chat/users_repo.h, and
 * the presence keys documented in chat/keys.h.
 */
#include "member_lookup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/keys.h"
#include "chat/validate.h"

#define LOOKUP__USERS_COLL "users" /* see chat/users_repo.h */
#define LOOKUP__CHUNK 500

typedef struct lookup__entry {
    const char *id;
    size_t index;
} lookup__entry_t;

static int lookup__cmp(const void *a, const void *b)
{
    return strcmp(((const lookup__entry_t *)a)->id, ((const lookup__entry_t *)b)->id);
}

void rest_lookup_free_names(char **names, size_t n)
{
    if (names == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

/* Asks for the usernames of ids[from..to) and stores them by index through sorted. */
static chat_err_t lookup__chunk(mongoc_collection_t *coll, const char (*ids)[CHAT_ID_LEN],
                                size_t from, size_t to, const lookup__entry_t *sorted,
                                size_t n, char **names)
{
    bson_t filter = BSON_INITIALIZER;
    bson_t cond;
    bson_t in;
    bson_t *opts = BCON_NEW("projection", "{", "username", BCON_INT32(1), "}");
    mongoc_cursor_t *cursor = NULL;
    const bson_t *doc = NULL;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;
    uint32_t k = 0;

    bson_append_document_begin(&filter, "_id", -1, &cond);
    bson_append_array_begin(&cond, "$in", -1, &in);
    for (size_t i = from; i < to; i++) {
        char key[16];
        const char *keyp = NULL;
        bson_oid_t oid;

        if (!chat_validate_object_id(ids[i])) {
            continue;
        }
        bson_oid_init_from_string(&oid, ids[i]);
        bson_uint32_to_string(k++, &keyp, key, sizeof(key));
        bson_append_oid(&in, keyp, -1, &oid);
    }
    bson_append_array_end(&cond, &in);
    bson_append_document_end(&filter, &cond);

    cursor = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
    while (rc == CHAT_OK && mongoc_cursor_next(cursor, &doc)) {
        bson_iter_t it;
        char hex[CHAT_ID_LEN];
        const char *name = NULL;
        uint32_t len = 0;
        lookup__entry_t probe;
        const lookup__entry_t *hit;

        if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) {
            continue;
        }
        bson_oid_to_string(bson_iter_oid(&it), hex);
        if (!bson_iter_init_find(&it, doc, "username") || !BSON_ITER_HOLDS_UTF8(&it)) {
            continue;
        }
        name = bson_iter_utf8(&it, &len);
        probe.id = hex;
        hit = bsearch(&probe, sorted, n, sizeof(*sorted), lookup__cmp);
        /* Equal ids sit next to each other: give every copy its name. */
        while (hit != NULL && hit > sorted && strcmp(hit[-1].id, hex) == 0) {
            hit--;
        }
        for (; hit != NULL && hit < sorted + n && strcmp(hit->id, hex) == 0; hit++) {
            if (names[hit->index] == NULL && (names[hit->index] = strndup(name, len)) == NULL) {
                rc = CHAT_ERR_NOMEM;
                break;
            }
        }
    }
    if (rc == CHAT_OK && mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
    }
    mongoc_cursor_destroy(cursor);
    bson_destroy(&filter);
    bson_destroy(opts);
    return rc;
}

chat_err_t rest_lookup_usernames(chat_db_t *db, const char (*ids)[CHAT_ID_LEN], size_t n,
                                 char ***names_out)
{
    char **names = calloc(n + 1, sizeof(*names));
    lookup__entry_t *sorted = calloc(n + 1, sizeof(*sorted));
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    chat_err_t rc = CHAT_OK;

    *names_out = NULL;
    if (names == NULL || sorted == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        sorted[i].id = ids[i];
        sorted[i].index = i;
    }
    qsort(sorted, n, sizeof(*sorted), lookup__cmp);
    client = chat_db_pop(db);
    coll = mongoc_client_get_collection(client, chat_db_name(db), LOOKUP__USERS_COLL);
    for (size_t from = 0; from < n && rc == CHAT_OK; from += LOOKUP__CHUNK) {
        size_t to = from + LOOKUP__CHUNK < n ? from + LOOKUP__CHUNK : n;
        rc = lookup__chunk(coll, ids, from, to, sorted, n, names);
    }

cleanup:
    if (coll != NULL) {
        mongoc_collection_destroy(coll);
    }
    if (client != NULL) {
        chat_db_push(db, client);
    }
    free(sorted);
    if (rc == CHAT_OK) {
        *names_out = names;
    } else {
        rest_lookup_free_names(names, n);
    }
    return rc;
}

/* ZCOUNT key (now +inf for each key: the number of gateway entries still alive. */
static const char lookup__presence_lua[] =
    "local r = {}\n"
    "for i, k in ipairs(KEYS) do r[i] = redis.call('ZCOUNT', k, ARGV[1], '+inf') end\n"
    "return r\n";

void rest_lookup_online(chat_redis_t *redis, const char (*ids)[CHAT_ID_LEN], size_t n,
                        bool *online)
{
    const char **argv = NULL;
    char (*keys)[CHAT_KEY_LEN] = NULL;
    char numkeys[24];
    char min[32];

    memset(online, 0, n * sizeof(*online));
    if (redis == NULL || n == 0) {
        return;
    }
    argv = calloc(LOOKUP__CHUNK + 4, sizeof(*argv));
    keys = calloc(LOOKUP__CHUNK, sizeof(*keys));
    if (argv == NULL || keys == NULL) {
        goto cleanup;
    }
    snprintf(min, sizeof(min), "(%" PRId64, chat_clock_now_ms()); /* expiring now is gone */
    for (size_t from = 0; from < n; from += LOOKUP__CHUNK) {
        size_t count = from + LOOKUP__CHUNK < n ? LOOKUP__CHUNK : n - from;
        redisReply *reply = NULL;
        int argc = 0;

        argv[argc++] = "EVAL";
        argv[argc++] = lookup__presence_lua;
        snprintf(numkeys, sizeof(numkeys), "%zu", count);
        argv[argc++] = numkeys;
        for (size_t i = 0; i < count; i++) {
            chat_key_presence(ids[from + i], keys[i], sizeof(keys[i]));
            argv[argc++] = keys[i];
        }
        argv[argc++] = min;
        reply = chat_redis_command_argv(redis, argc, argv, NULL);
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
