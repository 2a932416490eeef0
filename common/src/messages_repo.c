/*
 * messages_repo.c - the messages collection: gap-free per-room seq allocation by
 * insert-first under the unique (room_id, seq) index, idempotent resends through the
 * unique idem_key index, and the three history queries (latest page, after, before).
 *
 * Threads: any thread that may block (gateway persistence workers, rest-fcgi request
 * threads); any number of threads and processes may append to one room at once. Each
 * call pops its own client from the pool. Relies on db.c's indexes and error map.
 */
#include "chat/messages_repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/clock.h"
#include "chat/validate.h"

#define MESSAGES__COLL "messages"
#define MESSAGES__APPEND_ATTEMPTS 50
#define MESSAGES__IDEM_KEY_MAX 160

static bool messages__oid(const char *hex, bson_oid_t *oid)
{
    if (hex == NULL || !chat_validate_object_id(hex)) {
        return false;
    }
    bson_oid_init_from_string(oid, hex);
    return true;
}

static chat_err_t messages__dup(const bson_iter_t *iter, char **dst)
{
    uint32_t len = 0;
    const char *s = bson_iter_utf8(iter, &len);

    free(*dst);
    *dst = strndup(s, len);
    return *dst == NULL ? CHAT_ERR_NOMEM : CHAT_OK;
}

/* Fills out (zeroed) from a messages document. */
static chat_err_t messages__from_bson(const bson_t *doc, chat_message_t *out)
{
    bson_iter_t iter;
    chat_err_t rc = CHAT_OK;

    if (!bson_iter_init(&iter, doc)) {
        return CHAT_ERR_INTERNAL;
    }
    while (rc == CHAT_OK && bson_iter_next(&iter)) {
        const char *key = bson_iter_key(&iter);
        bson_type_t type = bson_iter_type(&iter);

        if (type == BSON_TYPE_OID && strcmp(key, "_id") == 0) {
            bson_oid_to_string(bson_iter_oid(&iter), out->id);
        } else if (type == BSON_TYPE_OID && strcmp(key, "room_id") == 0) {
            bson_oid_to_string(bson_iter_oid(&iter), out->room_id);
        } else if (type == BSON_TYPE_OID && strcmp(key, "user_id") == 0) {
            bson_oid_to_string(bson_iter_oid(&iter), out->user_id);
        } else if (BSON_ITER_HOLDS_NUMBER(&iter) && strcmp(key, "seq") == 0) {
            out->seq = bson_iter_as_int64(&iter);
        } else if (type == BSON_TYPE_DATE_TIME && strcmp(key, "created_at") == 0) {
            out->timestamp_ms = bson_iter_date_time(&iter);
        } else if (type != BSON_TYPE_UTF8) {
            continue;
        } else if (strcmp(key, "username") == 0) {
            rc = messages__dup(&iter, &out->username);
        } else if (strcmp(key, "content") == 0) {
            rc = messages__dup(&iter, &out->content);
        } else if (strcmp(key, "client_msg_id") == 0) {
            rc = messages__dup(&iter, &out->client_msg_id);
        } else if (strcmp(key, "type") == 0) {
            out->type = strcmp(bson_iter_utf8(&iter, NULL), "system") == 0 ? CHAT_MSG_SYSTEM
                                                                           : CHAT_MSG_TEXT;
        }
    }
    if (rc == CHAT_OK && (out->id[0] == '\0' || out->room_id[0] == '\0' ||
                          out->username == NULL || out->content == NULL)) {
        rc = CHAT_ERR_INTERNAL; /* not a document this module wrote */
    }
    if (rc != CHAT_OK) {
        chat_message_clear(out);
    }
    return rc;
}

/* Runs find(filter, opts) and collects at most max documents into out (items
 * allocated here). When reverse, stores them back to front (descending queries). */
static chat_err_t messages__query(chat_db_t *db, const bson_t *filter, const bson_t *opts,
                                  size_t max, bool reverse, chat_message_list_t *out)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    mongoc_cursor_t *cursor = NULL;
    const bson_t *doc = NULL;
    chat_message_t *items = NULL;
    size_t n = 0;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    out->items = NULL;
    out->n = 0;
    items = calloc(max > 0 ? max : 1, sizeof(*items));
    if (items == NULL) {
        return CHAT_ERR_NOMEM;
    }
    client = chat_db_pop(db);
    coll = mongoc_client_get_collection(client, chat_db_name(db), MESSAGES__COLL);
    cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    while (n < max && mongoc_cursor_next(cursor, &doc)) {
        rc = messages__from_bson(doc, &items[n]);
        if (rc != CHAT_OK) {
            goto cleanup;
        }
        n++;
    }
    if (mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
        goto cleanup;
    }
    if (reverse) {
        for (size_t i = 0; i < n / 2; i++) {
            chat_message_t tmp = items[i];

            items[i] = items[n - 1 - i];
            items[n - 1 - i] = tmp;
        }
    }
    out->items = items;
    out->n = n;
    items = NULL;

cleanup:
    if (items != NULL) {
        for (size_t i = 0; i < n; i++) {
            chat_message_clear(&items[i]);
        }
        free(items);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    return rc;
}

/* The stored message whose idem_key is key, into out. CHAT_ERR_NOT_FOUND when none. */
static chat_err_t messages__find_idem(chat_db_t *db, const char *key, chat_message_t *out)
{
    bson_t *filter = BCON_NEW("idem_key", BCON_UTF8(key));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    chat_message_list_t list = {0};
    chat_err_t rc = messages__query(db, filter, opts, 1, false, &list);

    if (rc == CHAT_OK && list.n == 0) {
        rc = CHAT_ERR_NOT_FOUND;
    } else if (rc == CHAT_OK) {
        *out = list.items[0]; /* moves the strings */
        memset(&list.items[0], 0, sizeof(list.items[0]));
    }
    chat_message_list_clear(&list);
    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}

static chat_err_t messages__last_seq_oid(chat_db_t *db, const bson_oid_t *room, int64_t *out)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, chat_db_name(db), MESSAGES__COLL);
    bson_t *filter = BCON_NEW("room_id", BCON_OID(room));
    bson_t *opts = BCON_NEW("sort", "{", "seq", BCON_INT32(-1), "}", "limit", BCON_INT64(1),
                            "projection", "{", "seq", BCON_INT32(1), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    bson_iter_t iter;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    *out = 0;
    if (mongoc_cursor_next(cursor, &doc)) {
        if (bson_iter_init_find(&iter, doc, "seq") && BSON_ITER_HOLDS_NUMBER(&iter)) {
            *out = bson_iter_as_int64(&iter);
        }
    } else if (mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}

chat_err_t chat_messages_last_seq(chat_db_t *db, const char *room_id, int64_t *out)
{
    bson_oid_t room;

    *out = 0;
    if (!messages__oid(room_id, &room)) {
        return CHAT_ERR_NOT_FOUND;
    }
    return messages__last_seq_oid(db, &room, out);
}

/* A short pause that grows with the attempt and is jittered, so racing writers spread
 * out instead of colliding on the same seq again. At most ~2 ms. */
static void messages__backoff(int attempt, unsigned *seed)
{
    long max_us = 100L * (attempt < 20 ? attempt : 20);
    struct timespec ts = {0, 0};

    *seed = *seed * 1103515245u + 12345u;
    ts.tv_nsec = (long)((*seed >> 8) % (unsigned long)(max_us + 1)) * 1000L;
    nanosleep(&ts, NULL);
}

/* Inserts one message document with the given seq. */
static chat_err_t messages__insert(chat_db_t *db, const bson_t *doc, bson_error_t *err)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, chat_db_name(db), MESSAGES__COLL);
    chat_err_t rc = CHAT_OK;

    if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, err)) {
        rc = chat_db_map_error(err);
    }
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    return rc;
}

/* Builds the document for one insert attempt. */
static void messages__build(bson_t *doc, const bson_oid_t *id, const bson_oid_t *room,
                            const bson_oid_t *user, const chat_message_t *in, int64_t seq,
                            int64_t now_ms, const char *idem_key)
{
    bson_init(doc);
    BSON_APPEND_OID(doc, "_id", id);
    BSON_APPEND_OID(doc, "room_id", room);
    BSON_APPEND_INT64(doc, "seq", seq);
    BSON_APPEND_OID(doc, "user_id", user);
    BSON_APPEND_UTF8(doc, "username", in->username);
    BSON_APPEND_UTF8(doc, "content", in->content);
    BSON_APPEND_UTF8(doc, "type", in->type == CHAT_MSG_SYSTEM ? "system" : "text");
    BSON_APPEND_DATE_TIME(doc, "created_at", now_ms);
    if (in->client_msg_id != NULL) {
        BSON_APPEND_UTF8(doc, "client_msg_id", in->client_msg_id);
    }
    BSON_APPEND_UTF8(doc, "idem_key", idem_key);
}

chat_err_t chat_messages_append(chat_db_t *db, const chat_message_t *in, int64_t *seq_hint,
                                chat_message_t *out, bool *duplicate)
{
    bson_oid_t room;
    bson_oid_t user;
    bson_oid_t id;
    char idem_key[MESSAGES__IDEM_KEY_MAX];
    bson_error_t err;
    int64_t seq = 0;
    unsigned seed;
    chat_err_t rc = CHAT_OK;

    *duplicate = false;
    if (!messages__oid(in->room_id, &room) || !messages__oid(in->user_id, &user) ||
        in->username == NULL || in->content == NULL) {
        return CHAT_ERR_INVALID;
    }
    bson_oid_init(&id, NULL);
    if (in->client_msg_id != NULL) {
        char user_hex[CHAT_ID_LEN];
        int len;

        bson_oid_to_string(&user, user_hex); /* canonical lower-case */
        len = snprintf(idem_key, sizeof(idem_key), "%s:%s", user_hex, in->client_msg_id);

        if (len < 0 || (size_t)len >= sizeof(idem_key)) {
            return CHAT_ERR_INVALID;
        }
        /* Fast path for resends: the earlier copy is the answer. */
        rc = messages__find_idem(db, idem_key, out);
        if (rc == CHAT_OK) {
            *duplicate = true;
            return CHAT_OK;
        }
        if (rc != CHAT_ERR_NOT_FOUND) {
            return rc;
        }
    } else {
        bson_oid_to_string(&id, idem_key);
    }
    seed = (unsigned)bson_oid_get_time_t(&id) ^ (unsigned)(uintptr_t)&seed ^
           (unsigned)id.bytes[11] << 8 ^ (unsigned)id.bytes[10];

    if (seq_hint != NULL && *seq_hint > 0) {
        seq = *seq_hint;
    } else {
        rc = messages__last_seq_oid(db, &room, &seq);
        if (rc != CHAT_OK) {
            return rc;
        }
    }

    for (int attempt = 1; attempt <= MESSAGES__APPEND_ATTEMPTS; attempt++) {
        bson_t doc;
        int64_t now_ms = chat_clock_now_ms();

        messages__build(&doc, &id, &room, &user, in, seq + 1, now_ms, idem_key);
        rc = messages__insert(db, &doc, &err);
        if (rc == CHAT_OK) {
            rc = messages__from_bson(&doc, out);
            bson_destroy(&doc);
            if (rc == CHAT_OK && seq_hint != NULL) {
                *seq_hint = out->seq;
            }
            return rc;
        }
        bson_destroy(&doc);
        if (rc != CHAT_ERR_CONFLICT) {
            return rc;
        }
        /* Which unique index refused us? Only a client_msg_id can collide on idem_key
         * (a concurrent resend of the same message); then that copy is the answer. */
        if (in->client_msg_id != NULL) {
            rc = messages__find_idem(db, idem_key, out);
            if (rc == CHAT_OK) {
                *duplicate = true;
                return CHAT_OK;
            }
            if (rc != CHAT_ERR_NOT_FOUND) {
                return rc;
            }
        }
        /* Another writer took seq + 1: learn the new maximum and try after it. */
        if (attempt > 1) {
            messages__backoff(attempt, &seed);
        }
        rc = messages__last_seq_oid(db, &room, &seq);
        if (rc != CHAT_OK) {
            return rc;
        }
    }
    return CHAT_ERR_UNAVAILABLE; /* contention beyond reason: let the caller retry */
}

static int64_t messages__clamp_limit(int64_t limit)
{
    if (limit < 1) {
        return 1;
    }
    return limit > CHAT_HISTORY_MAX_LIMIT ? CHAT_HISTORY_MAX_LIMIT : limit;
}

chat_err_t chat_messages_page_latest(chat_db_t *db, const char *room_id, int64_t limit,
                                     int64_t offset, chat_message_list_t *out, int64_t *total)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    bson_t *filter = NULL;
    bson_t *opts = NULL;
    bson_oid_t room;
    bson_error_t err;
    int64_t count;
    chat_err_t rc;

    out->items = NULL;
    out->n = 0;
    if (total != NULL) {
        *total = 0;
    }
    if (!messages__oid(room_id, &room)) {
        return CHAT_ERR_NOT_FOUND;
    }
    limit = messages__clamp_limit(limit);
    offset = offset < 0 ? 0 : offset;
    filter = BCON_NEW("room_id", BCON_OID(&room));
    if (total != NULL) {
        client = chat_db_pop(db);
        coll = mongoc_client_get_collection(client, chat_db_name(db), MESSAGES__COLL);
        count = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err);
        mongoc_collection_destroy(coll);
        chat_db_push(db, client);
        if (count < 0) {
            bson_destroy(filter);
            return chat_db_map_error(&err);
        }
        *total = count;
    }
    opts = BCON_NEW("sort", "{", "seq", BCON_INT32(-1), "}", "skip", BCON_INT64(offset),
                    "limit", BCON_INT64(limit));
    rc = messages__query(db, filter, opts, (size_t)limit, true, out);
    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}

chat_err_t chat_messages_after(chat_db_t *db, const char *room_id, int64_t after_seq,
                               int64_t limit, chat_message_list_t *out)
{
    bson_oid_t room;
    bson_t *filter = NULL;
    bson_t *opts = NULL;
    chat_err_t rc;

    out->items = NULL;
    out->n = 0;
    if (!messages__oid(room_id, &room)) {
        return CHAT_ERR_NOT_FOUND;
    }
    limit = messages__clamp_limit(limit);
    filter = BCON_NEW("room_id", BCON_OID(&room), "seq", "{", "$gt", BCON_INT64(after_seq), "}");
    opts = BCON_NEW("sort", "{", "seq", BCON_INT32(1), "}", "limit", BCON_INT64(limit));
    rc = messages__query(db, filter, opts, (size_t)limit, false, out);
    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}

chat_err_t chat_messages_before(chat_db_t *db, const char *room_id, int64_t before_seq,
                                int64_t limit, chat_message_list_t *out)
{
    bson_oid_t room;
    bson_t *filter = NULL;
    bson_t *opts = NULL;
    chat_err_t rc;

    out->items = NULL;
    out->n = 0;
    if (!messages__oid(room_id, &room)) {
        return CHAT_ERR_NOT_FOUND;
    }
    limit = messages__clamp_limit(limit);
    filter =
        BCON_NEW("room_id", BCON_OID(&room), "seq", "{", "$lt", BCON_INT64(before_seq), "}");
    opts = BCON_NEW("sort", "{", "seq", BCON_INT32(-1), "}", "limit", BCON_INT64(limit));
    rc = messages__query(db, filter, opts, (size_t)limit, true, out);
    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}
