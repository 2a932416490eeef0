/*
 * rooms_repo.c - the rooms collection and the dm_pairs collection that makes a direct-
 * message room unique per pair of users (see rooms_repo.h for the document shapes).
 * Member changes are single-document findAndModify calls whose query says whether the
 * user is (not) yet a member, so *changed is exact even when callers race.
 *
 * Threads: any thread that may block (rest-fcgi request threads, gateway workers);
 * each call pops its own client from the pool. Relies on db.c's indexes and error map.
 */
#include "chat/rooms_repo.h"

#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/validate.h"

#define ROOMS__COLL "rooms"
#define ROOMS__DM_COLL "dm_pairs"
#define ROOMS__LIST_MAX 1000        /* page size cap for list_visible */
#define ROOMS__MEMBER_ROOMS_MAX 100000 /* cap for ids_for_member */
#define ROOMS__DM_ATTEMPTS 3

static bool rooms__oid(const char *hex, bson_oid_t *oid)
{
    if (hex == NULL || !chat_validate_object_id(hex)) {
        return false;
    }
    bson_oid_init_from_string(oid, hex);
    return true;
}

static chat_err_t rooms__dup(const bson_iter_t *iter, char **dst)
{
    uint32_t len = 0;
    const char *s = bson_iter_utf8(iter, &len);

    free(*dst);
    *dst = strndup(s, len);
    return *dst == NULL ? CHAT_ERR_NOMEM : CHAT_OK;
}

/* Reads the members array (ObjectIds) into out->members. */
static chat_err_t rooms__members(const bson_iter_t *array_iter, chat_room_t *out)
{
    bson_iter_t child;
    size_t count = 0;

    if (!bson_iter_recurse(array_iter, &child)) {
        return CHAT_ERR_INTERNAL;
    }
    while (bson_iter_next(&child)) {
        count++;
    }
    free(out->members);
    out->members = NULL;
    out->n_members = 0;
    if (count == 0) {
        return CHAT_OK;
    }
    out->members = calloc(count, sizeof(*out->members));
    if (out->members == NULL) {
        return CHAT_ERR_NOMEM;
    }
    if (!bson_iter_recurse(array_iter, &child)) {
        return CHAT_ERR_INTERNAL;
    }
    while (bson_iter_next(&child) && out->n_members < count) {
        if (BSON_ITER_HOLDS_OID(&child)) {
            bson_oid_to_string(bson_iter_oid(&child), out->members[out->n_members++]);
        }
    }
    return CHAT_OK;
}

/* Fills out (zeroed) from a rooms document. */
static chat_err_t rooms__from_bson(const bson_t *doc, chat_room_t *out)
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
        } else if (type == BSON_TYPE_OID && strcmp(key, "creator_id") == 0) {
            bson_oid_to_string(bson_iter_oid(&iter), out->creator_id);
        } else if (type == BSON_TYPE_UTF8 && strcmp(key, "name") == 0) {
            rc = rooms__dup(&iter, &out->name);
        } else if (type == BSON_TYPE_UTF8 && strcmp(key, "description") == 0) {
            rc = rooms__dup(&iter, &out->description);
        } else if (type == BSON_TYPE_ARRAY && strcmp(key, "members") == 0) {
            rc = rooms__members(&iter, out);
        } else if (type == BSON_TYPE_BOOL && strcmp(key, "is_private") == 0) {
            out->is_private = bson_iter_bool(&iter);
        } else if (type == BSON_TYPE_BOOL && strcmp(key, "is_dm") == 0) {
            out->is_dm = bson_iter_bool(&iter);
        } else if (type == BSON_TYPE_DATE_TIME && strcmp(key, "created_at") == 0) {
            out->created_at_ms = bson_iter_date_time(&iter);
        }
    }
    if (rc == CHAT_OK && out->description == NULL) {
        out->description = strdup("");
        if (out->description == NULL) {
            rc = CHAT_ERR_NOMEM;
        }
    }
    if (rc == CHAT_OK && (out->id[0] == '\0' || out->name == NULL)) {
        rc = CHAT_ERR_INTERNAL; /* not a document this module wrote */
    }
    if (rc != CHAT_OK) {
        chat_room_clear(out);
    }
    return rc;
}

static mongoc_collection_t *rooms__coll(chat_db_t *db, mongoc_client_t *client,
                                        const char *name)
{
    return mongoc_client_get_collection(client, chat_db_name(db), name);
}

/* First room matching filter into out (may be NULL to test existence). */
static chat_err_t rooms__find_one(chat_db_t *db, const bson_t *filter, chat_room_t *out)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = rooms__coll(db, client, ROOMS__COLL);
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    bson_error_t err;
    chat_err_t rc = CHAT_ERR_NOT_FOUND;

    if (mongoc_cursor_next(cursor, &doc)) {
        rc = out != NULL ? rooms__from_bson(doc, out) : CHAT_OK;
    } else if (mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(opts);
    return rc;
}

static chat_err_t rooms__find_oid(chat_db_t *db, const bson_oid_t *oid, chat_room_t *out)
{
    bson_t *filter = BCON_NEW("_id", BCON_OID(oid));
    chat_err_t rc = rooms__find_one(db, filter, out);

    bson_destroy(filter);
    return rc;
}

/* Inserts a room document; fills out from it. */
static chat_err_t rooms__insert(chat_db_t *db, const char *name, const char *description,
                                bool is_private, bool is_dm, const bson_oid_t *creator,
                                const bson_oid_t *other, bson_oid_t *id_out, chat_room_t *out)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    bson_t doc = BSON_INITIALIZER;
    bson_t members;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    bson_oid_init(id_out, NULL);
    BSON_APPEND_OID(&doc, "_id", id_out);
    BSON_APPEND_UTF8(&doc, "name", name);
    BSON_APPEND_UTF8(&doc, "description", description != NULL ? description : "");
    BSON_APPEND_OID(&doc, "creator_id", creator);
    bson_append_array_begin(&doc, "members", -1, &members);
    BSON_APPEND_OID(&members, "0", creator);
    if (other != NULL) {
        BSON_APPEND_OID(&members, "1", other);
    }
    bson_append_array_end(&doc, &members);
    BSON_APPEND_BOOL(&doc, "is_private", is_private);
    BSON_APPEND_BOOL(&doc, "is_dm", is_dm);
    BSON_APPEND_DATE_TIME(&doc, "created_at", chat_clock_now_ms());

    client = chat_db_pop(db);
    coll = rooms__coll(db, client, ROOMS__COLL);
    if (!mongoc_collection_insert_one(coll, &doc, NULL, NULL, &err)) {
        rc = chat_db_map_error(&err);
    } else if (out != NULL) {
        rc = rooms__from_bson(&doc, out);
    }
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(&doc);
    return rc;
}

chat_err_t chat_rooms_create(chat_db_t *db, const char *name, const char *description,
                             bool is_private, const char *creator_id, chat_room_t *out)
{
    bson_oid_t creator;
    bson_oid_t id;

    if (name == NULL || !rooms__oid(creator_id, &creator)) {
        return CHAT_ERR_INVALID;
    }
    return rooms__insert(db, name, description, is_private, false, &creator, NULL, &id, out);
}

chat_err_t chat_rooms_find(chat_db_t *db, const char *room_id, chat_room_t *out)
{
    bson_oid_t oid;

    if (!rooms__oid(room_id, &oid)) {
        return CHAT_ERR_NOT_FOUND;
    }
    return rooms__find_oid(db, &oid, out);
}

chat_err_t chat_rooms_list_visible(chat_db_t *db, const char *user_id, int64_t limit,
                                   int64_t offset, chat_room_list_t *out, int64_t *total)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    mongoc_cursor_t *cursor = NULL;
    bson_t *filter = NULL;
    bson_t *opts = NULL;
    const bson_t *doc = NULL;
    bson_oid_t uid;
    bson_error_t err;
    int64_t count;
    chat_err_t rc = CHAT_OK;

    out->items = NULL;
    out->n = 0;
    if (total != NULL) {
        *total = 0;
    }
    limit = limit < 1 ? 1 : (limit > ROOMS__LIST_MAX ? ROOMS__LIST_MAX : limit);
    offset = offset < 0 ? 0 : offset;
    if (rooms__oid(user_id, &uid)) {
        filter = BCON_NEW("$or", "[", "{", "is_private", BCON_BOOL(false), "}", "{", "members",
                          BCON_OID(&uid), "}", "]");
    } else {
        filter = BCON_NEW("is_private", BCON_BOOL(false));
    }
    opts = BCON_NEW("sort", "{", "created_at", BCON_INT32(-1), "_id", BCON_INT32(-1), "}",
                    "skip", BCON_INT64(offset), "limit", BCON_INT64(limit));
    out->items = calloc((size_t)limit, sizeof(*out->items));
    if (out->items == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }

    client = chat_db_pop(db);
    coll = rooms__coll(db, client, ROOMS__COLL);
    if (total != NULL) {
        count = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err);
        if (count < 0) {
            rc = chat_db_map_error(&err);
            goto cleanup;
        }
        *total = count;
    }
    cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    while (out->n < (size_t)limit && mongoc_cursor_next(cursor, &doc)) {
        rc = rooms__from_bson(doc, &out->items[out->n]);
        if (rc != CHAT_OK) {
            goto cleanup;
        }
        out->n++;
    }
    if (mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
    }

cleanup:
    if (rc != CHAT_OK) {
        chat_room_list_clear(out);
        out->items = NULL;
        out->n = 0;
    }
    if (cursor != NULL) {
        mongoc_cursor_destroy(cursor);
    }
    if (coll != NULL) {
        mongoc_collection_destroy(coll);
    }
    chat_db_push(db, client);
    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}

chat_err_t chat_rooms_ids_for_member(chat_db_t *db, const char *user_id,
                                     char (**ids_out)[CHAT_ID_LEN], size_t *n_out)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    mongoc_cursor_t *cursor = NULL;
    bson_t *filter = NULL;
    bson_t *opts = NULL;
    const bson_t *doc = NULL;
    char (*ids)[CHAT_ID_LEN] = NULL;
    size_t n = 0;
    size_t cap = 0;
    bson_oid_t uid;
    bson_iter_t iter;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    *ids_out = NULL;
    *n_out = 0;
    if (!rooms__oid(user_id, &uid)) {
        return CHAT_OK;
    }
    filter = BCON_NEW("members", BCON_OID(&uid));
    opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}", "limit",
                    BCON_INT64(ROOMS__MEMBER_ROOMS_MAX));
    client = chat_db_pop(db);
    coll = rooms__coll(db, client, ROOMS__COLL);
    cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    while (n < ROOMS__MEMBER_ROOMS_MAX && mongoc_cursor_next(cursor, &doc)) {
        if (!bson_iter_init_find(&iter, doc, "_id") || !BSON_ITER_HOLDS_OID(&iter)) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            char (*grown)[CHAT_ID_LEN] = realloc(ids, ncap * sizeof(*ids));

            if (grown == NULL) {
                rc = CHAT_ERR_NOMEM;
                goto cleanup;
            }
            ids = grown;
            cap = ncap;
        }
        bson_oid_to_string(bson_iter_oid(&iter), ids[n++]);
    }
    if (mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
    }

cleanup:
    if (rc == CHAT_OK) {
        *ids_out = ids;
        *n_out = n;
        ids = NULL;
    }
    free(ids);
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}

/*
 * findAndModify on rooms returning the new document. *matched = false when the query
 * matched nothing (out untouched).
 */
static chat_err_t rooms__find_and_modify(chat_db_t *db, const bson_t *query,
                                         const bson_t *update, bool *matched,
                                         chat_room_t *out)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = rooms__coll(db, client, ROOMS__COLL);
    mongoc_find_and_modify_opts_t *fam = mongoc_find_and_modify_opts_new();
    bson_t reply;
    bson_iter_t iter;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    *matched = false;
    mongoc_find_and_modify_opts_set_update(fam, update);
    mongoc_find_and_modify_opts_set_flags(fam, MONGOC_FIND_AND_MODIFY_RETURN_NEW);
    if (!mongoc_collection_find_and_modify_with_opts(coll, query, fam, &reply, &err)) {
        rc = chat_db_map_error(&err);
    } else if (bson_iter_init_find(&iter, &reply, "value") && BSON_ITER_HOLDS_DOCUMENT(&iter)) {
        const uint8_t *data = NULL;
        uint32_t len = 0;
        bson_t value;

        *matched = true;
        bson_iter_document(&iter, &len, &data);
        if (!bson_init_static(&value, data, len)) {
            rc = CHAT_ERR_INTERNAL;
        } else if (out != NULL) {
            rc = rooms__from_bson(&value, out);
        }
    }
    bson_destroy(&reply);
    mongoc_find_and_modify_opts_destroy(fam);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    return rc;
}

/* Shared body of add/remove: add = true uses {$ne} + $addToSet, else {members} + $pull. */
static chat_err_t rooms__change_member(chat_db_t *db, const char *room_id, const char *user_id,
                                       bool add, bool *changed, chat_room_t *out)
{
    bson_oid_t rid;
    bson_oid_t uid;
    bson_t *query = NULL;
    bson_t *update = NULL;
    bool matched = false;
    chat_err_t rc;

    *changed = false;
    if (!rooms__oid(room_id, &rid)) {
        return CHAT_ERR_NOT_FOUND;
    }
    if (!rooms__oid(user_id, &uid)) {
        return CHAT_ERR_INVALID;
    }
    if (add) {
        query = BCON_NEW("_id", BCON_OID(&rid), "members", "{", "$ne", BCON_OID(&uid), "}");
        update = BCON_NEW("$addToSet", "{", "members", BCON_OID(&uid), "}");
    } else {
        query = BCON_NEW("_id", BCON_OID(&rid), "members", BCON_OID(&uid));
        update = BCON_NEW("$pull", "{", "members", BCON_OID(&uid), "}");
    }
    rc = rooms__find_and_modify(db, query, update, &matched, out);
    if (rc == CHAT_OK && matched) {
        *changed = true;
    } else if (rc == CHAT_OK) {
        /* Nothing to change (or no such room): report the room as it is. */
        rc = rooms__find_oid(db, &rid, out);
    }
    bson_destroy(query);
    bson_destroy(update);
    return rc;
}

chat_err_t chat_rooms_add_member(chat_db_t *db, const char *room_id, const char *user_id,
                                 bool *changed, chat_room_t *out)
{
    return rooms__change_member(db, room_id, user_id, true, changed, out);
}

chat_err_t chat_rooms_remove_member(chat_db_t *db, const char *room_id, const char *user_id,
                                    bool *changed, chat_room_t *out)
{
    return rooms__change_member(db, room_id, user_id, false, changed, out);
}

chat_err_t chat_rooms_is_member(chat_db_t *db, const char *room_id, const char *user_id,
                                bool *is_member)
{
    bson_oid_t rid;
    bson_oid_t uid;
    bson_t *filter = NULL;
    chat_err_t rc;

    *is_member = false;
    if (!rooms__oid(room_id, &rid)) {
        return CHAT_ERR_NOT_FOUND;
    }
    if (rooms__oid(user_id, &uid)) {
        filter = BCON_NEW("_id", BCON_OID(&rid), "members", BCON_OID(&uid));
        rc = rooms__find_one(db, filter, NULL);
        bson_destroy(filter);
        if (rc != CHAT_ERR_NOT_FOUND) {
            *is_member = rc == CHAT_OK;
            return rc;
        }
    }
    /* Not a member: distinguish "no such room". */
    return rooms__find_oid(db, &rid, NULL);
}

/* The room id stored for a dm_pairs key. CHAT_ERR_NOT_FOUND when the pair is new. */
static chat_err_t rooms__dm_lookup(chat_db_t *db, const char *key, bson_oid_t *room_oid)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = rooms__coll(db, client, ROOMS__DM_COLL);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(key));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    bson_iter_t iter;
    bson_error_t err;
    chat_err_t rc = CHAT_ERR_NOT_FOUND;

    if (mongoc_cursor_next(cursor, &doc)) {
        if (bson_iter_init_find(&iter, doc, "room_id") && BSON_ITER_HOLDS_OID(&iter)) {
            bson_oid_copy(bson_iter_oid(&iter), room_oid);
            rc = CHAT_OK;
        } else {
            rc = CHAT_ERR_INTERNAL;
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

/* Deletes the first document of coll_name matching filter (clean-up paths). */
static chat_err_t rooms__delete_one(chat_db_t *db, const char *coll_name, const bson_t *filter)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = rooms__coll(db, client, coll_name);
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    if (!mongoc_collection_delete_one(coll, filter, NULL, NULL, &err)) {
        rc = chat_db_map_error(&err);
    }
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    return rc;
}

/* Claims the pair for room_oid; CHAT_ERR_CONFLICT when another caller got there first. */
static chat_err_t rooms__dm_insert(chat_db_t *db, const char *key, const bson_oid_t *room_oid)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = rooms__coll(db, client, ROOMS__DM_COLL);
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(key), "room_id", BCON_OID(room_oid));
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &err)) {
        rc = chat_db_map_error(&err);
    }
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(doc);
    return rc;
}

chat_err_t chat_rooms_get_or_create_dm(chat_db_t *db, const char *user_a, const char *user_b,
                                       chat_room_t *out, bool *created)
{
    bson_oid_t a;
    bson_oid_t b;
    bson_oid_t room_oid;
    char key[2 * CHAT_ID_LEN];
    char a_hex[CHAT_ID_LEN];
    char b_hex[CHAT_ID_LEN];
    chat_err_t rc = CHAT_ERR_INTERNAL;

    *created = false;
    if (!rooms__oid(user_a, &a) || !rooms__oid(user_b, &b) || bson_oid_equal(&a, &b)) {
        return CHAT_ERR_INVALID;
    }
    bson_oid_to_string(&a, a_hex);
    bson_oid_to_string(&b, b_hex);
    if (strcmp(a_hex, b_hex) < 0) {
        snprintf(key, sizeof(key), "%s:%s", a_hex, b_hex);
    } else {
        snprintf(key, sizeof(key), "%s:%s", b_hex, a_hex);
    }

    /* Bounded: each round either returns or removes one stale pair. */
    for (int attempt = 0; attempt < ROOMS__DM_ATTEMPTS; attempt++) {
        bson_t *filter = NULL;

        rc = rooms__dm_lookup(db, key, &room_oid);
        if (rc == CHAT_OK) {
            rc = rooms__find_oid(db, &room_oid, out);
            if (rc != CHAT_ERR_NOT_FOUND) {
                return rc;
            }
            /* The pair points at a room that is gone: forget it and start over. */
            filter = BCON_NEW("_id", BCON_UTF8(key), "room_id", BCON_OID(&room_oid));
            rc = rooms__delete_one(db, ROOMS__DM_COLL, filter);
            bson_destroy(filter);
            if (rc != CHAT_OK) {
                return rc;
            }
            continue;
        }
        if (rc != CHAT_ERR_NOT_FOUND) {
            return rc;
        }

        /* Room first, then the pair: a pair never points at a room that was not stored. */
        rc = rooms__insert(db, "dm", "", true, true, &a, &b, &room_oid, out);
        if (rc != CHAT_OK) {
            return rc;
        }
        rc = rooms__dm_insert(db, key, &room_oid);
        if (rc == CHAT_OK) {
            *created = true;
            return CHAT_OK;
        }
        /* Lost the race (or failed): drop our room; on a conflict use the winner's. */
        chat_room_clear(out);
        filter = BCON_NEW("_id", BCON_OID(&room_oid));
        (void)rooms__delete_one(db, ROOMS__COLL, filter);
        bson_destroy(filter);
        if (rc != CHAT_ERR_CONFLICT) {
            return rc;
        }
    }
    return rc == CHAT_OK ? CHAT_ERR_INTERNAL : rc;
}
