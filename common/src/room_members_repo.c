/*
 * room_members_repo.c - the room_members collection (see room_members_repo.h).
 *
 * Threads: any thread that may block (rest-fcgi request threads, gateway workers);
 * each call pops its own client from the pool and pushes it back before returning.
 * Relies on db.c's {room_id, user_id} unique and {user_id} indexes.
 */
#include "chat/room_members_repo.h"

#include <stdlib.h>
#include <string.h>

#define MEMBERS__COLL "room_members"

/* A room of the page being filled, by id (chat_members_load's lookup table). */
typedef struct members__slot {
    bson_oid_t oid;
    size_t index;
} members__slot_t;

static int members__slot_cmp(const void *a, const void *b)
{
    return bson_oid_compare(&((const members__slot_t *)a)->oid,
                            &((const members__slot_t *)b)->oid);
}

/*
 * Replaces rooms[i].members / n_members of each of the n rooms with its member list
 * from room_members, oldest member first: ONE query for all n rooms. On failure the
 * rooms stay valid for chat_room_clear (lists possibly partial).
 */
chat_err_t chat_members_load(chat_db_t *db, chat_room_t *rooms, size_t n)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    mongoc_cursor_t *cursor = NULL;
    members__slot_t *slots = NULL;
    size_t *caps = NULL;
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = NULL;
    const bson_t *doc = NULL;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    if (n == 0) {
        goto cleanup;
    }
    slots = calloc(n, sizeof(*slots));
    caps = calloc(n, sizeof(*caps));
    if (slots == NULL || caps == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        free(rooms[i].members);
        rooms[i].members = NULL;
        rooms[i].n_members = 0;
        if (!chat_db_oid_from_hex(rooms[i].id, &slots[i].oid)) {
            rc = CHAT_ERR_INTERNAL;
            goto cleanup;
        }
        slots[i].index = i;
    }
    qsort(slots, n, sizeof(*slots), members__slot_cmp);

    if (n == 1) {
        BSON_APPEND_OID(&filter, "room_id", &slots[0].oid);
    } else {
        bson_t cond;
        bson_t in;

        bson_append_document_begin(&filter, "room_id", -1, &cond);
        bson_append_array_begin(&cond, "$in", -1, &in);
        for (size_t i = 0; i < n; i++) {
            char buf[16];
            const char *key = NULL;

            bson_uint32_to_string((uint32_t)i, &key, buf, sizeof(buf));
            bson_append_oid(&in, key, -1, &slots[i].oid);
        }
        bson_append_array_end(&cond, &in);
        bson_append_document_end(&filter, &cond);
    }
    opts = BCON_NEW("projection", "{", "room_id", BCON_INT32(1), "user_id", BCON_INT32(1), "}",
                    "sort", "{", "joined_at", BCON_INT32(1), "_id", BCON_INT32(1), "}");

    client = chat_db_pop(db);
    coll = mongoc_client_get_collection(client, chat_db_name(db), MEMBERS__COLL);
    cursor = mongoc_collection_find_with_opts(coll, &filter, opts, NULL);
    while (mongoc_cursor_next(cursor, &doc)) {
        members__slot_t probe;
        const members__slot_t *hit = NULL;
        chat_room_t *room = NULL;
        size_t *cap = NULL;
        bson_iter_t iter;

        if (!bson_iter_init_find(&iter, doc, "room_id") || !BSON_ITER_HOLDS_OID(&iter)) {
            continue;
        }
        bson_oid_copy(bson_iter_oid(&iter), &probe.oid);
        hit = bsearch(&probe, slots, n, sizeof(*slots), members__slot_cmp);
        if (hit == NULL || !bson_iter_init_find(&iter, doc, "user_id") ||
            !BSON_ITER_HOLDS_OID(&iter)) {
            continue;
        }
        room = &rooms[hit->index];
        cap = &caps[hit->index];
        if (room->n_members == *cap) {
            size_t ncap = *cap == 0 ? 8 : *cap * 2;
            char (*grown)[CHAT_ID_LEN] = realloc(room->members, ncap * sizeof(*room->members));

            if (grown == NULL) {
                rc = CHAT_ERR_NOMEM;
                goto cleanup;
            }
            room->members = grown;
            *cap = ncap;
        }
        bson_oid_to_string(bson_iter_oid(&iter), room->members[room->n_members++]);
    }
    if (mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
    }

cleanup:
    if (cursor != NULL) {
        mongoc_cursor_destroy(cursor);
    }
    if (coll != NULL) {
        mongoc_collection_destroy(coll);
    }
    chat_db_push(db, client);
    bson_destroy(&filter);
    bson_destroy(opts);
    free(slots);
    free(caps);
    return rc;
}

/* Inserts the room_members document of (room, user). CHAT_ERR_CONFLICT when that user
 * already belongs to the room (unique {room_id, user_id}). */
chat_err_t chat_members_insert(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                               const char *role, int64_t joined_at_ms)
{
    bson_oid_t id;
    bson_t *doc = NULL;
    chat_err_t rc;

    bson_oid_init(&id, NULL);
    doc = BCON_NEW("_id", BCON_OID(&id), "room_id", BCON_OID(room), "user_id", BCON_OID(user),
                   "role", BCON_UTF8(role), "joined_at", BCON_DATE_TIME(joined_at_ms));
    rc = chat_db_insert(db, MEMBERS__COLL, doc);
    bson_destroy(doc);
    return rc;
}

chat_err_t chat_members_delete(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                               int64_t *deleted)
{
    bson_t *filter = user != NULL ? BCON_NEW("room_id", BCON_OID(room), "user_id", BCON_OID(user))
                                  : BCON_NEW("room_id", BCON_OID(room));
    chat_err_t rc = chat_db_delete(db, MEMBERS__COLL, filter, user == NULL, deleted);

    bson_destroy(filter);
    return rc;
}

chat_err_t chat_members_contains(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                                 bool *found)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, chat_db_name(db), MEMBERS__COLL);
    bson_t *filter = BCON_NEW("room_id", BCON_OID(room), "user_id", BCON_OID(user));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1), "projection", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    const bson_t *doc = NULL;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    *found = mongoc_cursor_next(cursor, &doc);
    if (!*found && mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}

/* The ids of the rooms uid belongs to (room_members by user_id, at most
 * CHAT_MEMBER_ROOMS_MAX), in no particular order. *oids_out malloc'd (NULL when none). */
chat_err_t chat_members_room_oids(chat_db_t *db, const bson_oid_t *uid, bson_oid_t **oids_out,
                                  size_t *n_out)
{
    mongoc_client_t *client = NULL;
    mongoc_collection_t *coll = NULL;
    mongoc_cursor_t *cursor = NULL;
    bson_t *filter = BCON_NEW("user_id", BCON_OID(uid));
    bson_t *opts = BCON_NEW("projection", "{", "room_id", BCON_INT32(1), "}", "limit",
                            BCON_INT64(CHAT_MEMBER_ROOMS_MAX));
    const bson_t *doc = NULL;
    bson_oid_t *oids = NULL;
    size_t n = 0;
    size_t cap = 0;
    bson_iter_t iter;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    *oids_out = NULL;
    *n_out = 0;
    client = chat_db_pop(db);
    coll = mongoc_client_get_collection(client, chat_db_name(db), MEMBERS__COLL);
    cursor = mongoc_collection_find_with_opts(coll, filter, opts, NULL);
    while (n < CHAT_MEMBER_ROOMS_MAX && mongoc_cursor_next(cursor, &doc)) {
        if (!bson_iter_init_find(&iter, doc, "room_id") || !BSON_ITER_HOLDS_OID(&iter)) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap == 0 ? 16 : cap * 2;
            bson_oid_t *grown = realloc(oids, ncap * sizeof(*oids));

            if (grown == NULL) {
                rc = CHAT_ERR_NOMEM;
                goto cleanup;
            }
            oids = grown;
            cap = ncap;
        }
        bson_oid_copy(bson_iter_oid(&iter), &oids[n++]);
    }
    if (mongoc_cursor_error(cursor, &err)) {
        rc = chat_db_map_error(&err);
    }

cleanup:
    if (rc == CHAT_OK) {
        *oids_out = oids;
        *n_out = n;
        oids = NULL;
    }
    free(oids);
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}
