/*
 * rooms_repo.c - the rooms collection and the dm_pairs collection that makes a
 * direct-message room unique per pair of users (see rooms_repo.h for the document
 * shapes). Reads return the room document only: member lists come from the Redis read
 * model (member_cache.h), which rebuilds them from room_members when needed.
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
#include "chat/repo_query.h"
#include "chat/room_members_repo.h"

#define ROOMS__COLL "rooms"
#define ROOMS__DM_COLL "dm_pairs"
#define ROOMS__ROLE_OWNER "owner"
#define ROOMS__ROLE_MEMBER "member"
#define ROOMS__LIST_MAX 1000 /* page size cap for list_visible */
#define ROOMS__DM_ATTEMPTS 3

/* Fills out (zeroed) from a rooms document; members are left empty (member_cache.h).
 * A legacy "members" array field is ignored. */
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

static chat_err_t rooms__room_doc(const bson_t *doc, void *arg)
{
    return rooms__from_bson(doc, arg);
}

/* The room document of oid into out (zeroed; may be NULL to test existence), without
 * members. CHAT_ERR_NOT_FOUND when there is none. */
static chat_err_t rooms__find_room_doc(chat_db_t *db, const bson_oid_t *oid, chat_room_t *out)
{
    bson_t *filter = BCON_NEW("_id", BCON_OID(oid));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    chat_err_t rc = chat_repo_query_one(db, ROOMS__COLL, filter, opts,
                                        out != NULL ? rooms__room_doc : NULL, out);

    bson_destroy(filter);
    bson_destroy(opts);
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
    bson_t doc = BSON_INITIALIZER;
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

    rc = chat_db_insert(db, ROOMS__COLL, &doc);
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
            out->member_count = other != NULL ? 2 : 1;
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
    return rooms__find_room_doc(db, &oid, out);
}

chat_err_t chat_rooms_public_ids(chat_db_t *db, bson_oid_t **oids_out, size_t *n_out)
{
    bson_t *filter = BCON_NEW("is_private", BCON_BOOL(false));
    bson_t *opts = BCON_NEW("projection", "{", "_id", BCON_INT32(1), "}");
    chat_err_t rc = chat_repo_query_oids(db, ROOMS__COLL, filter, opts, "_id", 0, oids_out, n_out);

    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}

/* chat_rooms_all's walk: each document's id kept, the room handed to each. */
typedef struct rooms__all {
    bson_oid_t *oids;
    size_t n;
    size_t cap;
    void (*each)(const chat_room_t *room, void *arg);
    void *arg;
} rooms__all_t;

static chat_err_t rooms__all_doc(const bson_t *doc, void *arg)
{
    rooms__all_t *a = arg;
    chat_room_t room;
    size_t had = a->n;
    chat_err_t rc = chat_repo_query_take_oid(doc, "_id", &a->oids, &a->n, &a->cap);

    if (rc != CHAT_OK || a->n == had) {
        return rc; /* out of memory, or no id: not a room */
    }
    memset(&room, 0, sizeof(room));
    if (a->each != NULL && rooms__from_bson(doc, &room) == CHAT_OK) {
        a->each(&room, a->arg);
        chat_room_clear(&room);
    }
    return CHAT_OK;
}

chat_err_t chat_rooms_all(chat_db_t *db, size_t max, bson_oid_t **oids_out, size_t *n_out,
                          void (*each)(const chat_room_t *room, void *arg), void *arg)
{
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("batchSize", BCON_INT32(CHAT_REPO_QUERY_BATCH));
    rooms__all_t all = {NULL, 0, 0, each, arg};
    chat_err_t rc = chat_repo_query_each(db, ROOMS__COLL, &filter, opts, max, rooms__all_doc, &all);

    bson_destroy(&filter);
    bson_destroy(opts);
    *oids_out = NULL;
    *n_out = 0;
    if (rc == CHAT_OK) {
        *oids_out = all.oids;
        *n_out = all.n;
        all.oids = NULL;
    }
    free(all.oids);
    return rc;
}

static chat_err_t rooms__dm_doc(const bson_t *doc, void *arg)
{
    bson_iter_t iter;

    if (!bson_iter_init_find(&iter, doc, "room_id") || !BSON_ITER_HOLDS_OID(&iter)) {
        return CHAT_ERR_INTERNAL;
    }
    bson_oid_copy(bson_iter_oid(&iter), arg);
    return CHAT_OK;
}

/* The room id stored for a dm_pairs key. CHAT_ERR_NOT_FOUND when the pair is new. */
static chat_err_t rooms__dm_lookup(chat_db_t *db, const char *key, bson_oid_t *room_oid)
{
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(key));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    chat_err_t rc = chat_repo_query_one(db, ROOMS__DM_COLL, filter, opts, rooms__dm_doc, room_oid);

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
            rc = rooms__find_room_doc(db, &room_oid, out);
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
