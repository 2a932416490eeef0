/*
 * messages_repo.c - reads of the messages collection by seq range (see header) and the
 * room_heads primitives the append path (message_append.c) shares.
 *
 * Threads: any thread that may block (gateway workers, rest-fcgi request threads); each
 * call pops its own client from the pool. Relies on db.c's indexes and error map.
 */
#include "chat/messages_repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/clock.h"
#include "chat/grow.h"
#include "chat/repo_query.h"

#define MESSAGES__COLL "messages"
#define MESSAGES__HEADS_COLL "room_heads"
#define MESSAGES__APPEND_ATTEMPTS 50
#define MESSAGES__IDEM_KEY_MAX 160

/* Fills out (zeroed) from a messages document. */
chat_err_t chat_messages_from_bson(const bson_t *doc, chat_message_t *out)
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
    if (rc == CHAT_OK &&
        (out->id[0] == '\0' || out->room_id[0] == '\0' || out->username == NULL ||
         out->content == NULL)) {
        rc = CHAT_ERR_INTERNAL; /* not a document this module wrote */
    }
    if (rc != CHAT_OK) {
        chat_message_clear(out);
    }
    return rc;
}

static chat_err_t messages__decode(const bson_t *doc, void *item)
{
    return chat_messages_from_bson(doc, item);
}

/* Runs find(filter, opts) and collects at most max documents into out (items
 * allocated here). When reverse, stores them back to front (descending queries). */
static chat_err_t messages__query(chat_db_t *db, const bson_t *filter, const bson_t *opts,
                                  size_t max, bool reverse, chat_message_list_t *out)
{
    chat_message_t *items = NULL;
    size_t n = 0;
    chat_err_t rc;

    out->items = NULL;
    out->n = 0;
    items = calloc(max > 0 ? max : 1, sizeof(*items));
    if (items == NULL) {
        return CHAT_ERR_NOMEM;
    }
    rc = chat_repo_query_page(db, MESSAGES__COLL, filter, opts, items, sizeof(*items), max,
                              messages__decode, &n);
    if (rc != CHAT_OK) {
        for (size_t i = 0; i < n; i++) {
            chat_message_clear(&items[i]);
        }
        free(items);
        return rc;
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
    return CHAT_OK;
}

chat_err_t chat_messages_find_one(chat_db_t *db, bson_t *filter, chat_message_t *out)
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

typedef struct messages__seq {
    int64_t *out;
    bool *found;
} messages__seq_t;

static chat_err_t messages__seq_doc(const bson_t *doc, void *arg)
{
    messages__seq_t *seq = arg;
    bson_iter_t iter;

    if (bson_iter_init_find(&iter, doc, "seq") && BSON_ITER_HOLDS_NUMBER(&iter)) {
        *seq->out = bson_iter_as_int64(&iter);
        *seq->found = true;
    }
    return CHAT_OK;
}

/* The "seq" of the first document find(filter, opts) returns in coll_name; *found says
 * whether there was one (else *out = 0). Takes filter and opts. */
static chat_err_t messages__first_seq(chat_db_t *db, const char *coll_name, bson_t *filter,
                                      bson_t *opts, int64_t *out, bool *found)
{
    messages__seq_t seq = {out, found};
    chat_err_t rc;

    *out = 0;
    *found = false;
    rc = chat_repo_query_one(db, coll_name, filter, opts, messages__seq_doc, &seq);
    bson_destroy(filter);
    bson_destroy(opts);
    return rc == CHAT_ERR_NOT_FOUND ? CHAT_OK : rc;
}

/* From the messages themselves: a scan on FerretDB. */
chat_err_t chat_messages_last_seq_oid(chat_db_t *db, const bson_oid_t *room, int64_t *out)
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
    return chat_messages_last_seq_oid(db, &room, out);
}

chat_err_t chat_messages_head(chat_db_t *db, const bson_oid_t *room, int64_t *out, bool *found)
{
    return messages__first_seq(db, MESSAGES__HEADS_COLL, BCON_NEW("_id", BCON_OID(room)),
                               BCON_NEW("limit", BCON_INT64(1)), out, found);
}

void chat_messages_heads_advance(chat_db_t *db, const bson_oid_t *rooms, const int64_t *seqs,
                                 size_t n)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    mongoc_bulk_operation_t *bulk = NULL;
    bson_t *opts = BCON_NEW("ordered", BCON_BOOL(false));
    bson_t upsert = BSON_INITIALIZER;

    if (n == 0) {
        bson_destroy(opts);
        return;
    }
    BSON_APPEND_BOOL(&upsert, "upsert", true);
    client = chat_db_pop(db);
    coll = mongoc_client_get_collection(client, chat_db_name(db), MESSAGES__HEADS_COLL);
    bulk = mongoc_collection_create_bulk_operation_with_opts(coll, opts);
    for (size_t i = 0; i < n; i++) {
        bson_t *filter = BCON_NEW("_id", BCON_OID(&rooms[i]));
        bson_t *update = BCON_NEW("$max", "{", "seq", BCON_INT64(seqs[i]), "}");
        /* "many" (multi: true) although _id matches at most one head: FerretDB 1.24 keeps
         * a multi: false statement's query, and its pooled connection, open until the
         * whole command ends, and takes a second connection for the write; 50 rooms in
         * one flush then exhaust its PostgreSQL pool (100 on SQLite) and FerretDB stops
         * answering everyone. A multi statement drains its query before the next. */
        (void)mongoc_bulk_operation_update_many_with_opts(bulk, filter, update, &upsert, NULL);
        bson_destroy(filter);
        bson_destroy(update);
    }
    /* best effort: the head is only a hint and every reader copes with a stale one */
    (void)mongoc_bulk_operation_execute(bulk, NULL, NULL);
    mongoc_bulk_operation_destroy(bulk);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(&upsert);
    bson_destroy(opts);
}

/* Runs find(filter) sorted by seq (descending when newest) with at most limit items. */
static chat_err_t messages__seq_query(chat_db_t *db, bson_t *filter, int64_t limit, bool newest,
                                      chat_message_list_t *out)
{
    bson_t *opts =
        BCON_NEW("sort", "{", "seq", BCON_INT32(newest ? -1 : 1), "}", "limit", BCON_INT64(limit));
    chat_err_t rc = messages__query(db, filter, opts, (size_t)limit, newest, out);

    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}

chat_err_t chat_messages_range(chat_db_t *db, const char *room_id, int64_t from, int64_t to,
                               chat_message_list_t *out)
{
    bson_oid_t room;

    out->items = NULL;
    out->n = 0;
    if (!chat_db_oid_from_hex(room_id, &room)) {
        return CHAT_ERR_NOT_FOUND;
    }
    if (from < 1) {
        from = 1;
    }
    if (to < from) {
        return CHAT_OK;
    }
    if (to - from + 1 > CHAT_HISTORY_MAX_LIMIT) {
        to = from + CHAT_HISTORY_MAX_LIMIT - 1;
    }
    return messages__seq_query(db,
                               BCON_NEW("room_id", BCON_OID(&room), "seq", "{", "$gte",
                                        BCON_INT64(from), "$lte", BCON_INT64(to), "}"),
                               to - from + 1, false, out);
}

chat_err_t chat_messages_newest(chat_db_t *db, const char *room_id, int64_t limit,
                                chat_message_list_t *out)
{
    bson_oid_t room;

    out->items = NULL;
    out->n = 0;
    if (!chat_db_oid_from_hex(room_id, &room)) {
        return CHAT_ERR_NOT_FOUND;
    }
    if (limit < 1) {
        return CHAT_OK;
    }
    return messages__seq_query(db, BCON_NEW("room_id", BCON_OID(&room)), limit, true, out);
}

/* ------------------------------------------------------------------ whole collection */

typedef struct messages__each {
    chat_messages_each_fn each;
    void *arg;
} messages__each_t;

static chat_err_t messages__each_doc(const bson_t *doc, void *arg)
{
    messages__each_t *e = arg;
    chat_message_t m;

    memset(&m, 0, sizeof(m));
    if (chat_messages_from_bson(doc, &m) != CHAT_OK) {
        return CHAT_OK; /* not a document this module wrote: not a message */
    }
    return e->each(&m, e->arg);
}

chat_err_t chat_messages_each(chat_db_t *db, const bson_oid_t *rooms, size_t n_rooms,
                              chat_messages_each_fn each, void *arg)
{
    messages__each_t e = {each, arg};
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("batchSize", BCON_INT32(CHAT_REPO_QUERY_BATCH));

    if (rooms != NULL) {
        bson_t room_id;
        bson_t in;
        char key[16];
        const char *k;

        BSON_APPEND_DOCUMENT_BEGIN(&filter, "room_id", &room_id);
        BSON_APPEND_ARRAY_BEGIN(&room_id, "$in", &in);
        for (size_t i = 0; i < n_rooms; i++) {
            bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
            BSON_APPEND_OID(&in, k, &rooms[i]);
        }
        bson_append_array_end(&room_id, &in);
        bson_append_document_end(&filter, &room_id);
    }
    chat_err_t rc =
        chat_repo_query_each(db, MESSAGES__COLL, &filter, opts, 0, messages__each_doc, &e);

    bson_destroy(opts);
    bson_destroy(&filter);
    return rc;
}

typedef struct messages__heads_read {
    chat_room_heads_t *out;
    size_t cap;
} messages__heads_read_t;

static chat_err_t messages__add_head(const bson_t *doc, void *arg)
{
    messages__heads_read_t *r = arg;
    chat_room_heads_t *out = r->out;
    bson_iter_t seq;
    bson_iter_t id;
    bson_oid_t *grown;
    size_t seqs_cap = r->cap;
    int64_t *seqs;

    out->read++;
    if (!bson_iter_init_find(&seq, doc, "seq") || !BSON_ITER_HOLDS_NUMBER(&seq) ||
        bson_iter_as_int64(&seq) <= 0 || !bson_iter_init_find(&id, doc, "_id") ||
        !BSON_ITER_HOLDS_OID(&id)) {
        return CHAT_OK; /* no message stored in it yet */
    }
    /* both arrays grow together: the seqs first, with a copy of the capacity */
    seqs = chat_grow(out->seqs, out->n, &seqs_cap, sizeof(*seqs), 256);
    if (seqs == NULL) {
        return CHAT_ERR_NOMEM;
    }
    out->seqs = seqs;
    grown = chat_grow(out->rooms, out->n, &r->cap, sizeof(*grown), 256);
    if (grown == NULL) {
        return CHAT_ERR_NOMEM;
    }
    out->rooms = grown;
    out->seqs[out->n] = bson_iter_as_int64(&seq);
    bson_oid_copy(bson_iter_oid(&id), &out->rooms[out->n++]);
    out->total += bson_iter_as_int64(&seq);
    return CHAT_OK;
}

chat_err_t chat_messages_heads_all(chat_db_t *db, size_t max_rooms, chat_room_heads_t *out)
{
    messages__heads_read_t r = {out, 0};
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("projection", "{", "seq", BCON_INT32(1), "}", "batchSize",
                            BCON_INT32(CHAT_REPO_QUERY_BATCH));
    chat_err_t rc;

    memset(out, 0, sizeof(*out));
    rc = chat_repo_query_each(db, MESSAGES__HEADS_COLL, &filter, opts, max_rooms + 1,
                              messages__add_head, &r);
    bson_destroy(opts);
    bson_destroy(&filter);
    if (rc != CHAT_OK) {
        chat_room_heads_clear(out);
    }
    return rc;
}

void chat_room_heads_clear(chat_room_heads_t *h)
{
    free(h->rooms);
    free(h->seqs);
    memset(h, 0, sizeof(*h));
}
