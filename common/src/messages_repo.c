/*
 * messages_repo.c - the messages collection: gap-free per-room seq allocation by
 * insert-first under the unique (room_id, seq) index, idempotent resends through the
 * unique idem_key index, and the three history queries (latest page, after, before).
 *
 * The append path reads and writes only by _id, the one lookup FerretDB v1.24's SQLite
 * handler does not answer by decoding every document in Go (docs/BENCHMARKS.md): the
 * next seq comes from room_heads ({_id: room, seq}, a lower bound kept with $max), and
 * a message sent with a client_msg_id gets an _id hashed from its idem_key, so a resend
 * is refused on _id and its earlier copy is found by _id. The scans (max seq of the
 * room, lookup by idem_key) run only when those hints cannot explain a refusal.
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

#define MESSAGES__COLL "messages"
#define MESSAGES__HEADS_COLL "room_heads"
#define MESSAGES__APPEND_ATTEMPTS 50
#define MESSAGES__IDEM_KEY_MAX 160

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
            rc = chat_db_dup_utf8(&iter, &out->username);
        } else if (strcmp(key, "content") == 0) {
            rc = chat_db_dup_utf8(&iter, &out->content);
        } else if (strcmp(key, "client_msg_id") == 0) {
            rc = chat_db_dup_utf8(&iter, &out->client_msg_id);
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

/* The one stored message matching filter (destroyed here), into out.
 * CHAT_ERR_NOT_FOUND when none. */
static chat_err_t messages__find_one(chat_db_t *db, bson_t *filter, chat_message_t *out)
{
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

/* The stored message whose idem_key is key (a scan on FerretDB). */
static chat_err_t messages__find_idem(chat_db_t *db, const char *key, chat_message_t *out)
{
    return messages__find_one(db, BCON_NEW("idem_key", BCON_UTF8(key)), out);
}

/* The "seq" of the first document find(filter, opts) returns in coll_name; *found says
 * whether there was one (else *out = 0). */
static chat_err_t messages__first_seq(chat_db_t *db, const char *coll_name, bson_t *filter,
                                      bson_t *opts, int64_t *out, bool *found)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, chat_db_name(db), coll_name);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    bson_iter_t iter;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    *out = 0;
    *found = false;
    if (mongoc_cursor_next(cursor, &doc)) {
        if (bson_iter_init_find(&iter, doc, "seq") && BSON_ITER_HOLDS_NUMBER(&iter)) {
            *out = bson_iter_as_int64(&iter);
            *found = true;
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

/* The highest stored seq of the room, from the messages themselves (a scan on FerretDB). */
static chat_err_t messages__last_seq_oid(chat_db_t *db, const bson_oid_t *room, int64_t *out)
{
    bool found = false;

    return messages__first_seq(db, MESSAGES__COLL, BCON_NEW("room_id", BCON_OID(room)),
                               BCON_NEW("sort", "{", "seq", BCON_INT32(-1), "}", "limit",
                                        BCON_INT64(1), "projection", "{", "seq", BCON_INT32(1),
                                        "}"),
                               out, &found);
}

chat_err_t chat_messages_last_seq(chat_db_t *db, const char *room_id, int64_t *out)
{
    bson_oid_t room;

    *out = 0;
    if (!chat_db_oid_from_hex(room_id, &room)) {
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

/* The _id of a message sent with a client_msg_id: 96 bits of a hash of its idem_key, so
 * that a resend collides on _id and the earlier copy is found by _id (the one lookup
 * FerretDB's SQLite handler does not run in Go over every document). Not a security
 * boundary: a clash with another key is detected by the caller, which then falls back
 * to a random _id and the unique idem_key index. FNV-1a with two bases, then mixed. */
static void messages__id_from_key(const char *key, bson_oid_t *out)
{
    uint64_t h1 = 0xcbf29ce484222325ull;
    uint64_t h2 = 0x84222325cbf29ce4ull;

    for (const unsigned char *c = (const unsigned char *)key; *c != '\0'; c++) {
        h1 = (h1 ^ *c) * 0x100000001b3ull;
        h2 = (h2 ^ *c) * 0x100000001b3ull;
    }
    h1 ^= h2 >> 29;
    h2 ^= h1 >> 31;
    h1 = (h1 ^ (h1 >> 30)) * 0xbf58476d1ce4e5b9ull;
    h2 = (h2 ^ (h2 >> 27)) * 0x94d049bb133111ebull;
    for (int i = 0; i < 8; i++) {
        out->bytes[i] = (uint8_t)(h1 >> (8 * i));
    }
    for (int i = 0; i < 4; i++) {
        out->bytes[8 + i] = (uint8_t)(h2 >> (8 * i));
    }
}

/* The stored message with this _id (found by _id, cheap everywhere). */
static chat_err_t messages__find_by_id(chat_db_t *db, const bson_oid_t *id, chat_message_t *out)
{
    return messages__find_one(db, BCON_NEW("_id", BCON_OID(id)), out);
}

/* The room's head: the highest seq a writer has recorded in room_heads ({_id: room,
 * seq}), a lower bound of the stored maximum (a writer may die between its insert and
 * its $max, and FerretDB applies $max without isolation). *found is false when the room
 * has no head document yet. One small document per room, read by _id. */
static chat_err_t messages__head_seq(chat_db_t *db, const bson_oid_t *room, int64_t *out,
                                     bool *found)
{
    return messages__first_seq(db, MESSAGES__HEADS_COLL, BCON_NEW("_id", BCON_OID(room)),
                               BCON_NEW("limit", BCON_INT64(1)), out, found);
}

/* Raises the room's head to seq (never lowers it). Best effort: the head is only a hint
 * and every reader copes with a stale one, so a failure here is not the caller's. */
static void messages__head_advance(chat_db_t *db, const bson_oid_t *room, int64_t seq)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, chat_db_name(db), MESSAGES__HEADS_COLL);
    bson_t *filter = BCON_NEW("_id", BCON_OID(room));
    bson_t *update = BCON_NEW("$max", "{", "seq", BCON_INT64(seq), "}");
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));

    (void)mongoc_collection_update_one(coll, filter, update, opts, NULL, NULL);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(filter);
    bson_destroy(update);
    bson_destroy(opts);
}

/* The highest stored seq, as cheaply as is safe: the head when there is one (it may be
 * stale; a stale value only costs the caller a conflict), else the scan, which then
 * creates the head. */
static chat_err_t messages__start_seq(chat_db_t *db, const bson_oid_t *room, int64_t *out)
{
    bool found = false;
    chat_err_t rc = messages__head_seq(db, room, out, &found);

    if (rc != CHAT_OK || found) {
        return rc;
    }
    rc = messages__last_seq_oid(db, room, out);
    if (rc == CHAT_OK && *out > 0) {
        messages__head_advance(db, room, *out);
    }
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

/* After an insert refused as a duplicate key: was it this very message, stored before?
 * *same = true and out filled when so. The hashed _id answers it by _id; after a hash
 * clash (*hashed_id cleared, the _id made random) or for a copy stored under a random
 * _id, only the idem_key lookup can, and thorough says whether to pay for it. */
static chat_err_t messages__earlier_copy(chat_db_t *db, const chat_message_t *in,
                                         const char *idem_key, bson_oid_t *id, bool *hashed_id,
                                         bool thorough, chat_message_t *out, bool *same)
{
    chat_err_t rc = CHAT_OK;

    *same = false;
    if (in->client_msg_id == NULL) {
        return CHAT_OK;
    }
    if (*hashed_id) {
        rc = messages__find_by_id(db, id, out);
        if (rc == CHAT_OK && strcmp(out->user_id, in->user_id) == 0 && out->client_msg_id &&
            strcmp(out->client_msg_id, in->client_msg_id) == 0) {
            *same = true;
            return CHAT_OK;
        }
        if (rc == CHAT_OK) { /* another key hashed to our _id: go random */
            chat_message_clear(out);
            bson_oid_init(id, NULL);
            *hashed_id = false;
            thorough = true;
        } else if (rc != CHAT_ERR_NOT_FOUND) {
            return rc;
        }
    }
    if (!thorough) {
        return CHAT_OK;
    }
    rc = messages__find_idem(db, idem_key, out);
    if (rc == CHAT_OK) {
        *same = true;
    }
    return rc == CHAT_ERR_NOT_FOUND ? CHAT_OK : rc;
}

chat_err_t chat_messages_append(chat_db_t *db, const chat_message_t *in, int64_t *seq_hint,
                                chat_message_t *out, bool *duplicate)
{
    bson_oid_t room;
    bson_oid_t user;
    bson_oid_t id;
    char idem_key[MESSAGES__IDEM_KEY_MAX];
    bool hashed_id = false;
    int64_t seq = 0;
    unsigned seed;
    chat_err_t rc = CHAT_OK;

    *duplicate = false;
    if (!chat_db_oid_from_hex(in->room_id, &room) || !chat_db_oid_from_hex(in->user_id, &user) ||
        in->username == NULL || in->content == NULL) {
        return CHAT_ERR_INVALID;
    }
    bson_oid_init(&id, NULL);
    seed = (unsigned)bson_oid_get_time_t(&id) ^ (unsigned)(uintptr_t)&seed ^
           (unsigned)id.bytes[11] << 8 ^ (unsigned)id.bytes[10];
    if (in->client_msg_id != NULL) {
        char user_hex[CHAT_ID_LEN];
        int len;

        bson_oid_to_string(&user, user_hex); /* canonical lower-case */
        len = snprintf(idem_key, sizeof(idem_key), "%s:%s", user_hex, in->client_msg_id);
        if (len < 0 || (size_t)len >= sizeof(idem_key)) {
            return CHAT_ERR_INVALID;
        }
        messages__id_from_key(idem_key, &id);
        hashed_id = true;
    } else {
        bson_oid_to_string(&id, idem_key);
    }

    if (seq_hint != NULL && *seq_hint > 0) {
        seq = *seq_hint;
    } else {
        rc = messages__start_seq(db, &room, &seq);
        if (rc != CHAT_OK) {
            return rc;
        }
    }

    /* Insert first: a new message costs one insert and one head update. A refusal is a
     * resend (same _id or idem_key) or a lost race for seq + 1 (unique room_id, seq). */
    for (int attempt = 1; attempt <= MESSAGES__APPEND_ATTEMPTS; attempt++) {
        bson_t doc;
        int64_t head = 0;
        bool found = false;
        bool same = false;

        messages__build(&doc, &id, &room, &user, in, seq + 1, chat_clock_now_ms(), idem_key);
        rc = chat_db_insert(db, MESSAGES__COLL, &doc);
        if (rc == CHAT_OK) {
            rc = messages__from_bson(&doc, out);
            bson_destroy(&doc);
            messages__head_advance(db, &room, seq + 1);
            if (rc == CHAT_OK && seq_hint != NULL) {
                *seq_hint = out->seq;
            }
            return rc;
        }
        bson_destroy(&doc);
        if (rc != CHAT_ERR_CONFLICT) {
            return rc;
        }
        rc = messages__earlier_copy(db, in, idem_key, &id, &hashed_id, false, out, &same);
        if (rc != CHAT_OK || same) {
            *duplicate = same;
            return rc;
        }
        if (attempt > 1) {
            messages__backoff(attempt, &seed);
        }
        /* Someone else took seq + 1 when the head moved past it. When it did not, the
         * head is stale or the refusal was our idem_key under a random _id: ask the
         * slow, certain questions. */
        rc = messages__head_seq(db, &room, &head, &found);
        if (rc == CHAT_OK && !(found && head > seq)) { /* the winner's $max may trail */
            messages__backoff(attempt + 4, &seed);
            rc = messages__head_seq(db, &room, &head, &found);
        }
        if (rc != CHAT_OK) {
            return rc;
        }
        if (found && head > seq) {
            seq = head;
            continue;
        }
        rc = messages__earlier_copy(db, in, idem_key, &id, &hashed_id, true, out, &same);
        if (rc != CHAT_OK || same) {
            *duplicate = same;
            return rc;
        }
        rc = messages__last_seq_oid(db, &room, &seq);
        if (rc != CHAT_OK) {
            return rc;
        }
        messages__head_advance(db, &room, seq);
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
    if (!chat_db_oid_from_hex(room_id, &room)) {
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
    if (!chat_db_oid_from_hex(room_id, &room)) {
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
    if (!chat_db_oid_from_hex(room_id, &room)) {
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
