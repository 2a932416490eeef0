/*
 * rooms_repo.c - the rooms collection and the dm_pairs collection that makes a
 * direct-message room unique per pair of users (see rooms_repo.h for the document
 * shapes), with the public membership calls on top of room_members_repo.c.
 * chat_room_t.members is assembled from room_members, oldest member first (joined_at,
 * then _id).
 *
 * Threads: any thread that may block (rest-fcgi request threads, gateway workers);
 * each helper pops its own client from the pool and pushes it back before the next
 * helper runs (never two at once, so a busy pool cannot deadlock us). Relies on db.c's
 * indexes and error map.
 */
#include "chat/rooms_repo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/room_members_repo.h"

#define ROOMS__COLL "rooms"
#define ROOMS__DM_COLL "dm_pairs"
#define ROOMS__ROLE_OWNER "owner"
#define ROOMS__ROLE_MEMBER "member"
#define ROOMS__LIST_MAX 1000        /* page size cap for list_visible */
#define ROOMS__DM_ATTEMPTS 3

/* Fills out (zeroed) from a rooms document; members are left empty (see
 * chat_members_load). A legacy "members" array field is ignored. */
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
            rc = chat_db_dup_utf8(&iter, &out->name);
        } else if (type == BSON_TYPE_UTF8 && strcmp(key, "description") == 0) {
            rc = chat_db_dup_utf8(&iter, &out->description);
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

/* The room document of oid into out (zeroed; may be NULL to test existence), without
 * members. CHAT_ERR_NOT_FOUND when there is none. */
static chat_err_t rooms__find_room_doc(chat_db_t *db, const bson_oid_t *oid, chat_room_t *out)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = rooms__coll(db, client, ROOMS__COLL);
    bson_t *filter = BCON_NEW("_id", BCON_OID(oid));
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
    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}

/* The room of oid with its members into out (zeroed; may be NULL to test existence). */
static chat_err_t rooms__find_oid(chat_db_t *db, const bson_oid_t *oid, chat_room_t *out)
{
    chat_err_t rc = rooms__find_room_doc(db, oid, out);

    if (rc == CHAT_OK && out != NULL) {
        rc = chat_members_load(db, out, 1);
        if (rc != CHAT_OK) {
            chat_room_clear(out);
        }
    }
    return rc;
}

/* Removes a room that was just inserted: its members first, so that no member document
 * ever points at a missing room. Best effort (clean-up paths). */
static void rooms__drop_new_room(chat_db_t *db, const bson_oid_t *room)
{
    bson_t *doc = BCON_NEW("_id", BCON_OID(room));

    if (chat_members_delete(db, room, NULL, NULL) == CHAT_OK) {
        (void)chat_db_delete(db, ROOMS__COLL, doc, false, NULL);
    }
    bson_destroy(doc);
}

/*
 * Inserts a room document, then the member documents of creator (owner) and other
 * (DM partner, may be NULL). The room goes first so that a member document never
 * points at a room that was not stored; if a member insert fails the room is removed
 * again. Fills out (may be NULL) from what was stored.
 */
static chat_err_t rooms__insert(chat_db_t *db, const char *name, const char *description,
                                bool is_private, bool is_dm, const bson_oid_t *creator,
                                const bson_oid_t *other, bson_oid_t *id_out, chat_room_t *out)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    bson_t doc = BSON_INITIALIZER;
    bson_error_t err;
    int64_t now = chat_clock_now_ms();
    chat_err_t rc = CHAT_OK;

    bson_oid_init(id_out, NULL);
    BSON_APPEND_OID(&doc, "_id", id_out);
    BSON_APPEND_UTF8(&doc, "name", name);
    BSON_APPEND_UTF8(&doc, "description", description != NULL ? description : "");
    BSON_APPEND_OID(&doc, "creator_id", creator);
    BSON_APPEND_BOOL(&doc, "is_private", is_private);
    BSON_APPEND_BOOL(&doc, "is_dm", is_dm);
    BSON_APPEND_DATE_TIME(&doc, "created_at", now);

    client = chat_db_pop(db);
    coll = rooms__coll(db, client, ROOMS__COLL);
    if (!mongoc_collection_insert_one(coll, &doc, NULL, NULL, &err)) {
        rc = chat_db_map_error(&err);
    }
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    if (rc != CHAT_OK) {
        goto cleanup;
    }

    /* Same joined_at for both; the member _ids (made in this order) keep creator first. */
    rc = chat_members_insert(db, id_out, creator, ROOMS__ROLE_OWNER, now);
    if (rc == CHAT_OK && other != NULL) {
        rc = chat_members_insert(db, id_out, other, ROOMS__ROLE_MEMBER, now);
    }
    if (rc != CHAT_OK) {
        rooms__drop_new_room(db, id_out);
        goto cleanup;
    }

    if (out != NULL) {
        /* Nobody else knows the id yet: the members are exactly the ones just stored. */
        rc = rooms__from_bson(&doc, out);
        if (rc == CHAT_OK) {
            out->members = calloc(other != NULL ? 2 : 1, sizeof(*out->members));
            if (out->members == NULL) {
                chat_room_clear(out);
                rc = CHAT_ERR_NOMEM;
                goto cleanup;
            }
            bson_oid_to_string(creator, out->members[out->n_members++]);
            if (other != NULL) {
                bson_oid_to_string(other, out->members[out->n_members++]);
            }
        }
    }

cleanup:
    bson_destroy(&doc);
    return rc;
}

chat_err_t chat_rooms_create(chat_db_t *db, const char *name, const char *description,
                             bool is_private, const char *creator_id, chat_room_t *out)
{
    bson_oid_t creator;
    bson_oid_t id;

    if (name == NULL || !chat_db_oid_from_hex(creator_id, &creator)) {
        return CHAT_ERR_INVALID;
    }
    return rooms__insert(db, name, description, is_private, false, &creator, NULL, &id, out);
}

chat_err_t chat_rooms_find(chat_db_t *db, const char *room_id, chat_room_t *out)
{
    bson_oid_t oid;

    if (!chat_db_oid_from_hex(room_id, &oid)) {
        return CHAT_ERR_NOT_FOUND;
    }
    return rooms__find_oid(db, &oid, out);
}

/* {is_private: false}, or with member rooms {$or: [{is_private: false}, {_id: {$in: ids}}]}. */
static bson_t *rooms__visible_filter(const bson_oid_t *ids, size_t n)
{
    bson_t *filter = bson_new();
    bson_t or_arr;
    bson_t clause;
    bson_t cond;
    bson_t in;

    if (n == 0) {
        BSON_APPEND_BOOL(filter, "is_private", false);
        return filter;
    }
    bson_append_array_begin(filter, "$or", -1, &or_arr);
    bson_append_document_begin(&or_arr, "0", -1, &clause);
    BSON_APPEND_BOOL(&clause, "is_private", false);
    bson_append_document_end(&or_arr, &clause);
    bson_append_document_begin(&or_arr, "1", -1, &clause);
    bson_append_document_begin(&clause, "_id", -1, &cond);
    bson_append_array_begin(&cond, "$in", -1, &in);
    for (size_t i = 0; i < n; i++) {
        char buf[16];
        const char *key = NULL;

        bson_uint32_to_string((uint32_t)i, &key, buf, sizeof(buf));
        bson_append_oid(&in, key, -1, &ids[i]);
    }
    bson_append_array_end(&cond, &in);
    bson_append_document_end(&clause, &cond);
    bson_append_document_end(&or_arr, &clause);
    bson_append_array_end(filter, &or_arr);
    return filter;
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
    bson_oid_t *member_of = NULL;
    size_t n_member_of = 0;
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
    if (chat_db_oid_from_hex(user_id, &uid)) {
        rc = chat_members_room_oids(db, &uid, &member_of, &n_member_of);
        if (rc != CHAT_OK) {
            goto cleanup;
        }
    }
    filter = rooms__visible_filter(member_of, n_member_of);
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
        goto cleanup;
    }
    /* Give the client back before chat_members_load takes one. */
    mongoc_cursor_destroy(cursor);
    cursor = NULL;
    mongoc_collection_destroy(coll);
    coll = NULL;
    chat_db_push(db, client);
    client = NULL;
    rc = chat_members_load(db, out->items, out->n);

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
    free(member_of);
    return rc;
}

chat_err_t chat_rooms_ids_for_member(chat_db_t *db, const char *user_id,
                                     char (**ids_out)[CHAT_ID_LEN], size_t *n_out)
{
    bson_oid_t *oids = NULL;
    size_t n = 0;
    char (*ids)[CHAT_ID_LEN] = NULL;
    bson_oid_t uid;
    chat_err_t rc;

    *ids_out = NULL;
    *n_out = 0;
    if (!chat_db_oid_from_hex(user_id, &uid)) {
        return CHAT_OK;
    }
    rc = chat_members_room_oids(db, &uid, &oids, &n);
    if (rc == CHAT_OK && n > 0) {
        ids = calloc(n, sizeof(*ids));
        if (ids == NULL) {
            rc = CHAT_ERR_NOMEM;
        } else {
            for (size_t i = 0; i < n; i++) {
                bson_oid_to_string(&oids[i], ids[i]);
            }
            *ids_out = ids;
            *n_out = n;
        }
    }
    free(oids);
    return rc;
}

/*
 * Shared body of add/remove. The room is read first (unknown room: CHAT_ERR_NOT_FOUND;
 * its creator gives the member's role), then one atomic insert or delete on
 * room_members decides *changed, then out gets the room as it is afterwards.
 */
static chat_err_t rooms__change_member(chat_db_t *db, const char *room_id, const char *user_id,
                                       bool add, bool *changed, chat_room_t *out)
{
    chat_room_t room = {0};
    bson_oid_t rid;
    bson_oid_t uid;
    char uid_hex[CHAT_ID_LEN];
    int64_t deleted = 0;
    chat_err_t rc;

    *changed = false;
    if (!chat_db_oid_from_hex(room_id, &rid)) {
        return CHAT_ERR_NOT_FOUND;
    }
    if (!chat_db_oid_from_hex(user_id, &uid)) {
        return CHAT_ERR_INVALID;
    }
    bson_oid_to_string(&uid, uid_hex);
    rc = rooms__find_room_doc(db, &rid, &room);
    if (rc != CHAT_OK) {
        goto cleanup;
    }
    if (add) {
        rc = chat_members_insert(db, &rid, &uid,
                                  strcmp(room.creator_id, uid_hex) == 0 ? ROOMS__ROLE_OWNER
                                                                        : ROOMS__ROLE_MEMBER,
                                  chat_clock_now_ms());
        if (rc == CHAT_OK) {
            *changed = true;
        } else if (rc == CHAT_ERR_CONFLICT) {
            rc = CHAT_OK; /* already a member (maybe a concurrent add won) */
        }
    } else {
        rc = chat_members_delete(db, &rid, &uid, &deleted);
        *changed = rc == CHAT_OK && deleted > 0;
    }
    if (rc == CHAT_OK && out != NULL) {
        rc = chat_members_load(db, &room, 1);
        if (rc == CHAT_OK) {
            *out = room; /* moves */
            memset(&room, 0, sizeof(room));
        }
    }

cleanup:
    chat_room_clear(&room);
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
    chat_err_t rc;

    *is_member = false;
    if (!chat_db_oid_from_hex(room_id, &rid)) {
        return CHAT_ERR_NOT_FOUND;
    }
    if (chat_db_oid_from_hex(user_id, &uid)) {
        /* A member document implies its room: rooms are never deleted except a DM race
         * loser's, whose member documents go first (rooms__drop_new_room). */
        rc = chat_members_contains(db, &rid, &uid, is_member);
        if (rc != CHAT_OK || *is_member) {
            return rc;
        }
    }
    /* Not a member: distinguish "no such room". */
    return rooms__find_room_doc(db, &rid, NULL);
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

/* Claims the pair for room_oid; CHAT_ERR_CONFLICT when another caller got there first. */
static chat_err_t rooms__dm_insert(chat_db_t *db, const char *key, const bson_oid_t *room_oid)
{
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(key), "room_id", BCON_OID(room_oid));
    chat_err_t rc = chat_db_insert(db, ROOMS__DM_COLL, doc);

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
    if (!chat_db_oid_from_hex(user_a, &a) || !chat_db_oid_from_hex(user_b, &b) ||
        bson_oid_equal(&a, &b)) {
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
            rc = chat_db_delete(db, ROOMS__DM_COLL, filter, false, NULL);
            bson_destroy(filter);
            if (rc != CHAT_OK) {
                return rc;
            }
            continue;
        }
        if (rc != CHAT_ERR_NOT_FOUND) {
            return rc;
        }

        /* Room (and its members) first, then the pair: a pair never points at a room
         * that was not stored. user_a is the creator, so the owner. */
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
        rooms__drop_new_room(db, &room_oid);
        if (rc != CHAT_ERR_CONFLICT) {
            return rc;
        }
    }
    return rc == CHAT_OK ? CHAT_ERR_INTERNAL : rc;
}
