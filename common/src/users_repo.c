/*
 * users_repo.c - the users collection (see users_repo.h for the document shape).
 * Case-insensitive uniqueness comes from the lower-cased copies username_lc / email_lc
 * under unique indexes, so two racing registrations cannot both win.
 *
 * Threads: any thread that may block (rest-fcgi request threads, gateway workers);
 * each call pops its own client from the pool. Relies on db.c's indexes and error map.
 */
#include "chat/users_repo.h"

#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/validate.h"

#define USERS__COLL "users"
#define USERS__SEARCH_MAX 50
#define USERS__PREFIX_MAX 64 /* longer than any username: nothing can match */

/* New malloc'd lower-cased copy of s (ASCII only), or NULL on OOM. */
static char *users__lower(const char *s)
{
    size_t len = strlen(s) + 1;
    char *out = malloc(len);

    if (out != NULL) {
        chat_ascii_lower(s, out, len);
    }
    return out;
}

/* Fills out (zeroed) from a users document; password_hash only when with_hash. */
static chat_err_t users__from_bson(const bson_t *doc, bool with_hash, chat_user_t *out)
{
    bson_iter_t iter;
    chat_err_t rc = CHAT_OK;

    if (!bson_iter_init(&iter, doc)) {
        return CHAT_ERR_INTERNAL;
    }
    while (rc == CHAT_OK && bson_iter_next(&iter)) {
        const char *key = bson_iter_key(&iter);
        bson_type_t type = bson_iter_type(&iter);

        if (strcmp(key, "_id") == 0 && type == BSON_TYPE_OID) {
            bson_oid_to_string(bson_iter_oid(&iter), out->id);
        } else if (type == BSON_TYPE_DATE_TIME && strcmp(key, "created_at") == 0) {
            out->created_at_ms = bson_iter_date_time(&iter);
        } else if (type == BSON_TYPE_DATE_TIME && strcmp(key, "last_seen") == 0) {
            out->last_seen_ms = bson_iter_date_time(&iter);
        } else if (type != BSON_TYPE_UTF8) {
            continue;
        } else if (strcmp(key, "username") == 0 && out->username == NULL) {
            rc = chat_db_dup_utf8(&iter, &out->username);
        } else if (strcmp(key, "email") == 0 && out->email == NULL) {
            rc = chat_db_dup_utf8(&iter, &out->email);
        } else if (strcmp(key, "display_name") == 0 && out->display_name == NULL) {
            rc = chat_db_dup_utf8(&iter, &out->display_name);
        } else if (strcmp(key, "avatar_url") == 0 && out->avatar_url == NULL) {
            rc = chat_db_dup_utf8(&iter, &out->avatar_url);
        } else if (with_hash && strcmp(key, "password_hash") == 0 && out->password_hash == NULL) {
            rc = chat_db_dup_utf8(&iter, &out->password_hash);
        }
    }
    if (rc == CHAT_OK && (out->id[0] == '\0' || out->username == NULL || out->email == NULL)) {
        rc = CHAT_ERR_INTERNAL; /* not a document this module wrote */
    }
    if (rc != CHAT_OK) {
        chat_user_clear(out);
    }
    return rc;
}

/* find_one: first document matching filter into out. CHAT_ERR_NOT_FOUND when none. */
static chat_err_t users__find_one(chat_db_t *db, const bson_t *filter, bool with_hash,
                                  chat_user_t *out)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = NULL;
    mongoc_cursor_t *cursor = NULL;
    /* the hash stays on the server unless this is the login lookup */
    bson_t *opts = with_hash ? BCON_NEW("limit", BCON_INT64(1))
                             : BCON_NEW("limit", BCON_INT64(1), "projection", "{",
                                        "password_hash", BCON_INT32(0), "}");
    const bson_t *doc = NULL;
    bson_error_t err;
    chat_err_t rc = CHAT_ERR_NOT_FOUND;

    coll = mongoc_client_get_collection(client, chat_db_name(db), USERS__COLL);
    cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    if (mongoc_cursor_next(cursor, &doc)) {
        rc = users__from_bson(doc, with_hash, out);
    } else if (mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(opts);
    return rc;
}

/* After a duplicate-key error: which unique field clashed? The server's message names
 * the index on MongoDB; FerretDB's wording differs, so fall back to asking. */
static const char *users__conflict_field(chat_db_t *db, const bson_error_t *err,
                                         const char *username_lc)
{
    chat_user_t probe = {0};
    bson_t *filter = NULL;
    chat_err_t rc;

    if (strstr(err->message, "email_lc") != NULL) {
        return "email";
    }
    if (strstr(err->message, "username_lc") != NULL) {
        return "username";
    }
    filter = BCON_NEW("username_lc", BCON_UTF8(username_lc));
    rc = users__find_one(db, filter, false, &probe);
    bson_destroy(filter);
    chat_user_clear(&probe);
    return rc == CHAT_OK ? "username" : "email";
}

chat_err_t chat_users_create(chat_db_t *db, const char *username, const char *email,
                             const char *password_hash, chat_user_t *out,
                             const char **conflict_field)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    char *username_lc = NULL;
    char *email_lc = NULL;
    bson_t doc = BSON_INITIALIZER;
    bson_oid_t oid;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    if (conflict_field != NULL) {
        *conflict_field = NULL;
    }
    if (username == NULL || email == NULL || password_hash == NULL) {
        rc = CHAT_ERR_INVALID;
        goto cleanup;
    }
    username_lc = users__lower(username);
    email_lc = users__lower(email);
    if (username_lc == NULL || email_lc == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    bson_oid_init(&oid, NULL);
    BSON_APPEND_OID(&doc, "_id", &oid);
    BSON_APPEND_UTF8(&doc, "username", username);
    BSON_APPEND_UTF8(&doc, "username_lc", username_lc);
    BSON_APPEND_UTF8(&doc, "email", email);
    BSON_APPEND_UTF8(&doc, "email_lc", email_lc);
    BSON_APPEND_UTF8(&doc, "password_hash", password_hash);
    BSON_APPEND_DATE_TIME(&doc, "created_at", chat_clock_now_ms());

    client = chat_db_pop(db);
    coll = mongoc_client_get_collection(client, chat_db_name(db), USERS__COLL);
    if (!mongoc_collection_insert_one(coll, &doc, NULL, NULL, &err)) {
        rc = chat_db_map_error(&err);
        if (rc == CHAT_ERR_CONFLICT && conflict_field != NULL) {
            /* return the client first: the probe pops its own */
            mongoc_collection_destroy(coll);
            coll = NULL;
            chat_db_push(db, client);
            client = NULL;
            *conflict_field = users__conflict_field(db, &err, username_lc);
        }
        goto cleanup;
    }
    if (out != NULL) {
        rc = users__from_bson(&doc, false, out);
    }

cleanup:
    if (coll != NULL) {
        mongoc_collection_destroy(coll);
    }
    chat_db_push(db, client);
    bson_destroy(&doc);
    free(username_lc);
    free(email_lc);
    return rc;
}

chat_err_t chat_users_find_by_email(chat_db_t *db, const char *email, chat_user_t *out)
{
    char *email_lc = NULL;
    bson_t *filter = NULL;
    chat_err_t rc;

    if (email == NULL) {
        return CHAT_ERR_NOT_FOUND;
    }
    email_lc = users__lower(email);
    if (email_lc == NULL) {
        return CHAT_ERR_NOMEM;
    }
    filter = BCON_NEW("email_lc", BCON_UTF8(email_lc));
    rc = users__find_one(db, filter, true, out);
    bson_destroy(filter);
    free(email_lc);
    return rc;
}

chat_err_t chat_users_find_by_id(chat_db_t *db, const char *id, chat_user_t *out)
{
    bson_oid_t oid;
    bson_t *filter = NULL;
    chat_err_t rc;

    if (!chat_db_oid_from_hex(id, &oid)) {
        return CHAT_ERR_NOT_FOUND;
    }
    filter = BCON_NEW("_id", BCON_OID(&oid));
    rc = users__find_one(db, filter, false, out);
    bson_destroy(filter);
    return rc;
}

chat_err_t chat_users_update_profile(chat_db_t *db, const char *id, const char *display_name,
                                     const char *avatar_url, chat_user_t *out)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    bson_t query = BSON_INITIALIZER;
    bson_t update = BSON_INITIALIZER;
    bson_t set;
    bson_t unset;
    bson_t reply = BSON_INITIALIZER;
    bson_iter_t iter;
    bson_oid_t oid;
    bson_error_t err;
    chat_user_t tmp = {0};
    mongoc_find_and_modify_opts_t *fam = NULL;
    chat_err_t rc = CHAT_OK;

    if (!chat_db_oid_from_hex(id, &oid)) {
        rc = CHAT_ERR_NOT_FOUND;
        goto cleanup;
    }
    if (display_name == NULL && avatar_url == NULL) {
        rc = chat_users_find_by_id(db, id, out != NULL ? out : &tmp);
        goto cleanup;
    }
    BSON_APPEND_OID(&query, "_id", &oid);
    /* An empty string clears the field: the profile then shows it as unset (NULL). */
    if ((display_name != NULL && display_name[0] != '\0') ||
        (avatar_url != NULL && avatar_url[0] != '\0')) {
        bson_append_document_begin(&update, "$set", -1, &set);
        if (display_name != NULL && display_name[0] != '\0') {
            BSON_APPEND_UTF8(&set, "display_name", display_name);
        }
        if (avatar_url != NULL && avatar_url[0] != '\0') {
            BSON_APPEND_UTF8(&set, "avatar_url", avatar_url);
        }
        bson_append_document_end(&update, &set);
    }
    if ((display_name != NULL && display_name[0] == '\0') ||
        (avatar_url != NULL && avatar_url[0] == '\0')) {
        bson_append_document_begin(&update, "$unset", -1, &unset);
        if (display_name != NULL && display_name[0] == '\0') {
            BSON_APPEND_UTF8(&unset, "display_name", "");
        }
        if (avatar_url != NULL && avatar_url[0] == '\0') {
            BSON_APPEND_UTF8(&unset, "avatar_url", "");
        }
        bson_append_document_end(&update, &unset);
    }

    fam = mongoc_find_and_modify_opts_new();
    mongoc_find_and_modify_opts_set_update(fam, &update);
    mongoc_find_and_modify_opts_set_flags(fam, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
    client = chat_db_pop(db);
    coll = mongoc_client_get_collection(client, chat_db_name(db), USERS__COLL);
    bson_destroy(&reply);
    if (!mongoc_collection_find_and_modify_with_opts(coll, &query, fam, &reply, &err)) {
        rc = chat_db_map_error(&err);
        goto cleanup;
    }
    if (!bson_iter_init_find(&iter, &reply, "value") || !BSON_ITER_HOLDS_DOCUMENT(&iter)) {
        rc = CHAT_ERR_NOT_FOUND;
        goto cleanup;
    }
    if (out != NULL) {
        const uint8_t *data = NULL;
        uint32_t len = 0;
        bson_t value;

        bson_iter_document(&iter, &len, &data);
        if (!bson_init_static(&value, data, len)) {
            rc = CHAT_ERR_INTERNAL;
            goto cleanup;
        }
        rc = users__from_bson(&value, false, out);
    }

cleanup:
    if (coll != NULL) {
        mongoc_collection_destroy(coll);
    }
    chat_db_push(db, client);
    bson_destroy(&query);
    bson_destroy(&update);
    bson_destroy(&reply);
    if (fam != NULL) {
        mongoc_find_and_modify_opts_destroy(fam);
    }
    chat_user_clear(&tmp);
    return rc;
}

chat_err_t chat_users_touch_last_seen(chat_db_t *db, const char *id, int64_t now_ms)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    bson_t *query = NULL;
    bson_t *update = NULL;
    bson_t reply = BSON_INITIALIZER;
    bson_iter_t iter;
    bson_oid_t oid;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    if (!chat_db_oid_from_hex(id, &oid)) {
        return CHAT_ERR_NOT_FOUND;
    }
    query = BCON_NEW("_id", BCON_OID(&oid));
    update = BCON_NEW("$set", "{", "last_seen", BCON_DATE_TIME(now_ms), "}");
    client = chat_db_pop(db);
    coll = mongoc_client_get_collection(client, chat_db_name(db), USERS__COLL);
    bson_destroy(&reply);
    if (!mongoc_collection_update_one(coll, query, update, NULL, &reply, &err)) {
        rc = chat_db_map_error(&err);
    } else if (bson_iter_init_find(&iter, &reply, "matchedCount") &&
               bson_iter_as_int64(&iter) == 0) {
        rc = CHAT_ERR_NOT_FOUND;
    }
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(&reply);
    bson_destroy(query);
    bson_destroy(update);
    return rc;
}

/* "^" + prefix with every ASCII punctuation escaped, so the user's text is literal under
 * both PCRE (MongoDB) and RE2 (FerretDB). New malloc'd string or NULL. */
static char *users__prefix_regex(const char *prefix)
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

        if (c < 0x80 && !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                          (c >= 'A' && c <= 'Z') || c == '_')) {
            *p++ = '\\';
        }
        *p++ = (char)c;
    }
    *p = '\0';
    return out;
}

chat_err_t chat_users_search(chat_db_t *db, const char *prefix, int limit, chat_user_t **out,
                             size_t *n_out)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    mongoc_cursor_t *cursor = NULL;
    char *prefix_lc = NULL;
    char *regex = NULL;
    bson_t *filter = NULL;
    bson_t *opts = NULL;
    const bson_t *doc = NULL;
    chat_user_t *arr = NULL;
    size_t n = 0;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    *out = NULL;
    *n_out = 0;
    if (prefix == NULL || strlen(prefix) > USERS__PREFIX_MAX) {
        return CHAT_OK;
    }
    if (limit < 1) {
        limit = 1;
    }
    if (limit > USERS__SEARCH_MAX) {
        limit = USERS__SEARCH_MAX;
    }
    prefix_lc = users__lower(prefix);
    regex = prefix_lc != NULL ? users__prefix_regex(prefix_lc) : NULL;
    arr = calloc((size_t)limit, sizeof(*arr));
    if (regex == NULL || arr == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    filter = BCON_NEW("username_lc", "{", "$regex", BCON_UTF8(regex), "}");
    opts = BCON_NEW("sort", "{", "username_lc", BCON_INT32(1), "}", "limit", BCON_INT64(limit),
                    "projection", "{", "password_hash", BCON_INT32(0), "}");
    client = chat_db_pop(db);
    coll = mongoc_client_get_collection(client, chat_db_name(db), USERS__COLL);
    cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    while (n < (size_t)limit && mongoc_cursor_next(cursor, &doc)) {
        rc = users__from_bson(doc, false, &arr[n]);
        if (rc != CHAT_OK) {
            goto cleanup;
        }
        n++;
    }
    if (mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
    }

cleanup:
    if (rc == CHAT_OK && n > 0) {
        *out = arr;
        *n_out = n;
        arr = NULL;
    }
    chat_users_free_array(arr, n);
    if (cursor != NULL) {
        mongoc_cursor_destroy(cursor);
    }
    if (coll != NULL) {
        mongoc_collection_destroy(coll);
    }
    chat_db_push(db, client);
    bson_destroy(filter);
    bson_destroy(opts);
    free(prefix_lc);
    free(regex);
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
