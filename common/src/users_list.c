/*
 * users_list.c - reads of many users at once from the users collection (see
 * users_list.h): the prefix search, every user's name for the search index rebuild, and
 * the sample of recent password hashes. One document's reads and writes are users_repo.c.
 * Every user read here takes its last_seen_log.h time in (one read of that log per call).
 *
 * Threads: any thread that may block (rest-fcgi request threads, gateway workers);
 * each call pops its own client from the pool. Relies on users_repo.h's document codec.
 */
#include "chat/users_list.h"

#include <stdlib.h>
#include <string.h>

#include "chat/grow.h"
#include "chat/last_seen_log.h"
#include "chat/repo_query.h"
#include "chat/users_repo.h"
#include "chat/validate.h"

#define USERS_LIST__COLL "users"
#define USERS_LIST__SEARCH_MAX 50
#define USERS_LIST__PREFIX_MAX 64 /* longer than any username: nothing can match */

typedef struct users_list__hashes {
    void (*fn)(const char *hash, void *arg);
    void *arg;
} users_list__hashes_t;

static chat_err_t users_list__hash_doc(const bson_t *doc, void *arg)
{
    users_list__hashes_t *h = arg;
    bson_iter_t it;

    if (bson_iter_init_find(&it, doc, "password_hash") && BSON_ITER_HOLDS_UTF8(&it)) {
        h->fn(bson_iter_utf8(&it, NULL), h->arg);
    }
    return CHAT_OK;
}

chat_err_t chat_users_recent_hashes(chat_db_t *db, int limit,
                                    void (*fn)(const char *hash, void *arg), void *arg)
{
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("projection", "{", "password_hash", BCON_INT32(1), "}", "sort", "{",
                            "_id", BCON_INT32(-1), "}", "limit", BCON_INT64(limit));
    users_list__hashes_t h = {fn, arg};
    chat_err_t rc =
        chat_repo_query_each(db, USERS_LIST__COLL, &filter, opts, 0, users_list__hash_doc, &h);

    bson_destroy(opts);
    bson_destroy(&filter);
    return rc;
}

typedef struct users_list__names {
    chat_user_name_t *arr;
    size_t n;
    size_t cap;
    void (*each)(const chat_user_t *u, void *arg); /* NULL: names only */
    void *arg;
    chat_last_seen_map_t seen; /* read before the scan when each wants documents */
} users_list__names_t;

static chat_err_t users_list__name_doc(const bson_t *doc, void *arg)
{
    users_list__names_t *names = arg;
    chat_user_name_t *grown = NULL;
    bson_iter_t it;
    const char *name = NULL;
    uint32_t len = 0;

    if (!bson_iter_init_find(&it, doc, "username_lc") || !BSON_ITER_HOLDS_UTF8(&it)) {
        return CHAT_OK;
    }
    name = bson_iter_utf8(&it, &len);
    if (len > CHAT_USERNAME_MAX || !bson_iter_init_find(&it, doc, "_id") ||
        !BSON_ITER_HOLDS_OID(&it)) {
        return CHAT_OK;
    }
    grown = chat_grow(names->arr, names->n, &names->cap, sizeof(*names->arr), 256);
    if (grown == NULL) {
        return CHAT_ERR_NOMEM;
    }
    names->arr = grown;
    memcpy(names->arr[names->n].username_lc, name, len);
    names->arr[names->n].username_lc[len] = '\0';
    bson_oid_to_string(bson_iter_oid(&it), names->arr[names->n].id);
    names->n++;
    if (names->each != NULL) {
        chat_user_t u = {0};
        if (chat_users_from_bson(doc, true, &u) == CHAT_OK) {
            chat_last_seen_map_apply(&names->seen, &u, 1);
            names->each(&u, names->arg);
        }
        chat_user_clear(&u);
    }
    return CHAT_OK;
}

chat_err_t chat_users_names(chat_db_t *db, chat_user_name_t **out, size_t *n_out)
{
    return chat_users_names_each(db, out, n_out, NULL, NULL);
}

chat_err_t chat_users_names_each(chat_db_t *db, chat_user_name_t **out, size_t *n_out,
                                 void (*each)(const chat_user_t *u, void *arg), void *arg)
{
    bson_t filter = BSON_INITIALIZER;
    /* whole documents when each wants them: on FerretDB the scan costs the same */
    bson_t *opts = each != NULL ? BCON_NEW("batchSize", BCON_INT32(CHAT_REPO_QUERY_BATCH))
                                : BCON_NEW("projection", "{", "username_lc", BCON_INT32(1), "}",
                                           "batchSize", BCON_INT32(CHAT_REPO_QUERY_BATCH));
    users_list__names_t names = {NULL, 0, 0, each, arg, {0}};
    /* the log first: a batch written during the scan is in the log, or in the cache */
    chat_err_t rc = each != NULL ? chat_last_seen_log_load(db, &names.seen) : CHAT_OK;

    if (rc == CHAT_OK) {
        rc = chat_repo_query_each(db, USERS_LIST__COLL, &filter, opts, 0, users_list__name_doc,
                                  &names);
    }
    chat_last_seen_map_clear(&names.seen);

    *out = NULL;
    *n_out = 0;
    if (rc == CHAT_OK) {
        *out = names.arr;
        *n_out = names.n;
        names.arr = NULL;
    }
    free(names.arr);
    bson_destroy(&filter);
    bson_destroy(opts);
    return rc;
}

/* "^" + prefix with every ASCII punctuation escaped, so the user's text is literal under
 * both PCRE (MongoDB) and RE2 (FerretDB). New malloc'd string or NULL. */
static char *users_list__prefix_regex(const char *prefix)
{
    size_t len = strlen(prefix);
    char *out = malloc(2 * len + 2);
    char *p = out;

    if (out == NULL) {
        return NULL;
    }
    *p++ = '^';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)prefix[i];

        if (c < 0x80 &&
            !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              c == '_')) {
            *p++ = '\\';
        }
        *p++ = (char)c;
    }
    *p = '\0';
    return out;
}

static chat_err_t users_list__decode(const bson_t *doc, void *item)
{
    return chat_users_from_bson(doc, false, item);
}

chat_err_t chat_users_search(chat_db_t *db, const char *prefix, int limit, chat_user_t **out,
                             size_t *n_out)
{
    char prefix_lc[USERS_LIST__PREFIX_MAX + 1];
    char *regex = NULL;
    bson_t *filter = NULL;
    bson_t *opts = NULL;
    chat_user_t *arr = NULL;
    size_t n = 0;
    chat_err_t rc = CHAT_OK;

    *out = NULL;
    *n_out = 0;
    if (prefix == NULL || strlen(prefix) > USERS_LIST__PREFIX_MAX) {
        return CHAT_OK;
    }
    if (limit < 1) {
        limit = 1;
    }
    if (limit > USERS_LIST__SEARCH_MAX) {
        limit = USERS_LIST__SEARCH_MAX;
    }
    chat_ascii_lower(prefix, prefix_lc, sizeof(prefix_lc)); /* fits: checked above */
    regex = users_list__prefix_regex(prefix_lc);
    arr = calloc((size_t)limit, sizeof(*arr));
    if (regex == NULL || arr == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    filter = BCON_NEW("username_lc", "{", "$regex", BCON_UTF8(regex), "}");
    opts = BCON_NEW("sort", "{", "username_lc", BCON_INT32(1), "}", "limit", BCON_INT64(limit),
                    "projection", "{", "password_hash", BCON_INT32(0), "}");
    rc = chat_repo_query_page(db, USERS_LIST__COLL, filter, opts, arr, sizeof(*arr), (size_t)limit,
                              users_list__decode, &n);
    if (rc == CHAT_OK) {
        rc = chat_last_seen_log_merge(db, arr, n);
    }

cleanup:
    if (rc == CHAT_OK && n > 0) {
        *out = arr;
        *n_out = n;
        arr = NULL;
    }
    chat_users_free_array(arr, n);
    bson_destroy(filter);
    bson_destroy(opts);
    free(regex);
    return rc;
}

static chat_err_t users_list__decode_full(const bson_t *doc, void *item)
{
    return chat_users_from_bson(doc, true, item);
}

chat_err_t chat_users_find_by_ids(chat_db_t *db, const char (*ids)[CHAT_ID_LEN], size_t n,
                                  bool with_hash, chat_user_t **out, size_t *n_out)
{
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = NULL;
    chat_user_t *arr = calloc(n + 1, sizeof(*arr));
    size_t found = 0;
    size_t k;
    chat_err_t rc = CHAT_OK;

    *out = NULL;
    *n_out = 0;
    if (arr == NULL) {
        return CHAT_ERR_NOMEM;
    }
    k = chat_repo_query_in_hex(&filter, "_id", ids, n);
    if (k > 0) {
        opts = with_hash ? bson_new()
                         : BCON_NEW("projection", "{", "password_hash", BCON_INT32(0), "}");
        rc = chat_repo_query_page(db, USERS_LIST__COLL, &filter, opts, arr, sizeof(*arr), n,
                                  with_hash ? users_list__decode_full : users_list__decode, &found);
    }
    if (rc == CHAT_OK) {
        rc = chat_last_seen_log_merge(db, arr, found);
    }
    if (rc == CHAT_OK && found > 0) {
        *out = arr;
        *n_out = found;
        arr = NULL;
    }
    chat_users_free_array(arr, found);
    bson_destroy(&filter);
    bson_destroy(opts);
    return rc;
}

void chat_users_free_array(chat_user_t *arr, size_t n)
{
    if (arr == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        chat_user_clear(&arr[i]);
    }
    free(arr);
}
