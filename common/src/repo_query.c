/*
 * repo_query.c - find-and-iterate for the repositories (see repo_query.h): one place
 * that pops a pooled client, runs the cursor, maps its error and pushes the client back.
 *
 * Threads: any thread that may block (rest-fcgi request threads, gateway workers);
 * each call pops its own client from the pool. Relies on db.h (pool, error map).
 */
#include "chat/repo_query.h"

#include <stdint.h>
#include <stdlib.h>

#include "chat/grow.h"

typedef struct repo_query__oids {
    const char *field;
    bson_oid_t *oids;
    size_t n;
    size_t cap;
} repo_query__oids_t;

chat_err_t chat_repo_query_each(chat_db_t *db, const char *coll_name, const bson_t *filter,
                                const bson_t *opts, size_t max, chat_repo_query_fn each, void *arg)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, chat_db_name(db), coll_name);
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    size_t seen = 0;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    while ((max == 0 || seen < max) && mongoc_cursor_next(cursor, &doc)) {
        seen++;
        rc = each != NULL ? each(doc, arg) : CHAT_OK;
        if (rc != CHAT_OK) {
            break;
        }
    }
    if (rc == CHAT_OK && mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    return rc;
}

typedef struct repo_query__one {
    chat_repo_query_fn fn;
    void *arg;
    bool found;
} repo_query__one_t;

static chat_err_t repo_query__one(const bson_t *doc, void *arg)
{
    repo_query__one_t *one = arg;

    one->found = true;
    return one->fn != NULL ? one->fn(doc, one->arg) : CHAT_OK;
}

chat_err_t chat_repo_query_one(chat_db_t *db, const char *coll_name, const bson_t *filter,
                               const bson_t *opts, chat_repo_query_fn one, void *arg)
{
    repo_query__one_t st = {one, arg, false};
    chat_err_t rc = chat_repo_query_each(db, coll_name, filter, opts, 1, repo_query__one, &st);

    return rc == CHAT_OK && !st.found ? CHAT_ERR_NOT_FOUND : rc;
}

typedef struct repo_query__page {
    unsigned char *items;
    size_t size;
    chat_repo_decode_fn decode;
    size_t n;
} repo_query__page_t;

static chat_err_t repo_query__page_doc(const bson_t *doc, void *arg)
{
    repo_query__page_t *page = arg;
    chat_err_t rc = page->decode(doc, page->items + page->n * page->size);

    if (rc == CHAT_OK) {
        page->n++;
    }
    return rc;
}

chat_err_t chat_repo_query_page(chat_db_t *db, const char *coll_name, const bson_t *filter,
                                const bson_t *opts, void *items, size_t size, size_t max,
                                chat_repo_decode_fn decode, size_t *n)
{
    repo_query__page_t page = {items, size, decode, 0};
    chat_err_t rc = CHAT_OK;

    if (max > 0) { /* a bound of 0 would read every document */
        rc = chat_repo_query_each(db, coll_name, filter, opts, max, repo_query__page_doc, &page);
    }
    *n = page.n;
    return rc;
}

chat_err_t chat_repo_query_take_oid(const bson_t *doc, const char *field, bson_oid_t **oids,
                                    size_t *n, size_t *cap)
{
    bson_oid_t *grown = NULL;
    bson_iter_t iter;

    if (!bson_iter_init_find(&iter, doc, field) || !BSON_ITER_HOLDS_OID(&iter)) {
        return CHAT_OK;
    }
    grown = chat_grow(*oids, *n, cap, sizeof(**oids), 16);
    if (grown == NULL) {
        return CHAT_ERR_NOMEM;
    }
    *oids = grown;
    bson_oid_copy(bson_iter_oid(&iter), &(*oids)[(*n)++]);
    return CHAT_OK;
}

static chat_err_t repo_query__oid(const bson_t *doc, void *arg)
{
    repo_query__oids_t *o = arg;

    return chat_repo_query_take_oid(doc, o->field, &o->oids, &o->n, &o->cap);
}

chat_err_t chat_repo_query_oids(chat_db_t *db, const char *coll_name, const bson_t *filter,
                                const bson_t *opts, const char *field, size_t max, bson_oid_t **out,
                                size_t *n_out)
{
    repo_query__oids_t o = {field, NULL, 0, 0};
    chat_err_t rc = chat_repo_query_each(db, coll_name, filter, opts, max, repo_query__oid, &o);

    *out = NULL;
    *n_out = 0;
    if (rc == CHAT_OK) {
        *out = o.oids;
        *n_out = o.n;
        o.oids = NULL;
    }
    free(o.oids);
    return rc;
}

/* field: {$in: [...]} with the ObjectIds that ids / oids give. */
static size_t repo_query__in(bson_t *filter, const char *field, const char (*ids)[CHAT_ID_LEN],
                             const bson_oid_t *oids, size_t n)
{
    bson_t in_doc;
    bson_t list;
    size_t k = 0;

    BSON_APPEND_DOCUMENT_BEGIN(filter, field, &in_doc);
    BSON_APPEND_ARRAY_BEGIN(&in_doc, "$in", &list);
    for (size_t i = 0; i < n; i++) {
        bson_oid_t oid;
        char key[16];
        const char *kp;
        if (ids != NULL && !chat_db_oid_from_hex(ids[i], &oid)) {
            continue;
        }
        bson_uint32_to_string((uint32_t)k++, &kp, key, sizeof(key));
        BSON_APPEND_OID(&list, kp, ids != NULL ? &oid : &oids[i]);
    }
    bson_append_array_end(&in_doc, &list);
    bson_append_document_end(filter, &in_doc);
    return k;
}

size_t chat_repo_query_in_hex(bson_t *filter, const char *field, const char (*ids)[CHAT_ID_LEN],
                              size_t n)
{
    return repo_query__in(filter, field, ids, NULL, n);
}

size_t chat_repo_query_in_oids(bson_t *filter, const char *field, const bson_oid_t *oids, size_t n)
{
    return repo_query__in(filter, field, NULL, oids, n);
}
