/*
 * users_repo.c - the users collection, one document at a time (see users_repo.h for the
 * document shape): create, find, update. Reads of many users are users_list.c.
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
#include "chat/last_seen_log.h"
#include "chat/repo_query.h"
#include "chat/validate.h"

#define USERS__COLL "users"

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

chat_err_t chat_users_from_bson(const bson_t *doc, bool with_hash, chat_user_t *out)
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

typedef struct users__one {
    bool with_hash;
    chat_user_t *out;
} users__one_t;

static chat_err_t users__one_doc(const bson_t *doc, void *arg)
{
    users__one_t *one = arg;

    return chat_users_from_bson(doc, one->with_hash, one->out);
}

/* find_one: first document matching filter into out. CHAT_ERR_NOT_FOUND when none. */
static chat_err_t users__find_one(chat_db_t *db, const bson_t *filter, bool with_hash,
                                  chat_user_t *out)
{
    /* the hash stays on the server unless this is the login lookup */
    bson_t *opts = with_hash
        ? BCON_NEW("limit", BCON_INT64(1))
        : BCON_NEW("limit", BCON_INT64(1), "projection", "{", "password_hash", BCON_INT32(0), "}");
    users__one_t one = {with_hash, out};
    chat_err_t rc = chat_repo_query_one(db, USERS__COLL, filter, opts, users__one_doc, &one);

    bson_destroy(opts);
    if (rc == CHAT_OK && (rc = chat_last_seen_log_merge(db, out, 1)) != CHAT_OK) {
        chat_user_clear(out);
    }
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
        rc = chat_users_from_bson(&doc, false, out);
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

chat_err_t chat_users_find_by_login(chat_db_t *db, const char *login, chat_user_t *out)
{
    char *lc = NULL;
    bson_t *filter = NULL;
    chat_err_t rc;

    if (login == NULL) {
        return CHAT_ERR_NOT_FOUND;
    }
    lc = users__lower(login);
    if (lc == NULL) {
        return CHAT_ERR_NOMEM;
    }
    /* usernames never contain '@', emails always do */
    filter = BCON_NEW(strchr(lc, '@') != NULL ? "email_lc" : "username_lc", BCON_UTF8(lc));
    rc = users__find_one(db, filter, true, out);
    bson_destroy(filter);
    free(lc);
    return rc;
}

chat_err_t chat_users_find_by_id_full(chat_db_t *db, const char *id, bool with_hash,
                                      chat_user_t *out)
{
    bson_oid_t oid;
    bson_t *filter = NULL;
    chat_err_t rc;

    if (!chat_db_oid_from_hex(id, &oid)) {
        return CHAT_ERR_NOT_FOUND;
    }
    filter = BCON_NEW("_id", BCON_OID(&oid));
    rc = users__find_one(db, filter, with_hash, out);
    bson_destroy(filter);
    return rc;
}

chat_err_t chat_users_find_by_id(chat_db_t *db, const char *id, chat_user_t *out)
{
    return chat_users_find_by_id_full(db, id, false, out);
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
    bool read_back = false;
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
        rc = chat_users_from_bson(&value, false, out);
        read_back = rc == CHAT_OK;
    }

cleanup:
    if (coll != NULL) {
        mongoc_collection_destroy(coll);
    }
    chat_db_push(db, client);
    /* with the client back: the log's read pops its own */
    if (read_back && (rc = chat_last_seen_log_merge(db, out, 1)) != CHAT_OK) {
        chat_user_clear(out);
    }
    bson_destroy(&query);
    bson_destroy(&update);
    bson_destroy(&reply);
    if (fam != NULL) {
        mongoc_find_and_modify_opts_destroy(fam);
    }
    chat_user_clear(&tmp);
    return rc;
}
