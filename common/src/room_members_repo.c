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

#include "chat/repo_query.h"

#define MEMBERS__COLL "room_members"

typedef struct members__rows {
    chat_member_row_t *rows;
    size_t n;
    size_t cap;
} members__rows_t;

static chat_err_t members__row_doc(const bson_t *doc, void *arg)
{
    members__rows_t *r = arg;
    chat_member_row_t *grown = NULL;
    bson_iter_t iter;

    if (!bson_iter_init_find(&iter, doc, "user_id") || !BSON_ITER_HOLDS_OID(&iter)) {
        return CHAT_OK;
    }
    grown = chat_repo_query_grow(r->rows, r->n, &r->cap, sizeof(*r->rows), 16);
    if (grown == NULL) {
        return CHAT_ERR_NOMEM;
    }
    r->rows = grown;
    bson_oid_to_string(bson_iter_oid(&iter), r->rows[r->n].user_id);
    r->rows[r->n].joined_at_ms = 0;
    if (bson_iter_init_find(&iter, doc, "joined_at") && BSON_ITER_HOLDS_DATE_TIME(&iter)) {
        r->rows[r->n].joined_at_ms = bson_iter_date_time(&iter);
    }
    r->n++;
    return CHAT_OK;
}

chat_err_t chat_members_of_room(chat_db_t *db, const bson_oid_t *room, chat_member_row_t **rows_out,
                                size_t *n_out)
{
    bson_t *filter = BCON_NEW("room_id", BCON_OID(room));
    bson_t *opts =
        BCON_NEW("projection", "{", "user_id", BCON_INT32(1), "joined_at", BCON_INT32(1), "}");
    members__rows_t r = {NULL, 0, 0};
    chat_err_t rc = chat_repo_query_each(db, MEMBERS__COLL, filter, opts, 0, members__row_doc, &r);

    *rows_out = NULL;
    *n_out = 0;
    if (rc == CHAT_OK) {
        *rows_out = r.rows;
        *n_out = r.n;
        r.rows = NULL;
    }
    free(r.rows);
    bson_destroy(filter);
    bson_destroy(opts);
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
    bson_t *filter = BCON_NEW("room_id", BCON_OID(room), "user_id", BCON_OID(user));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1), "projection", "{", "_id", BCON_INT32(1), "}");
    chat_err_t rc = chat_repo_query_one(db, MEMBERS__COLL, filter, opts, NULL, NULL);

    *found = rc == CHAT_OK;
    bson_destroy(filter);
    bson_destroy(opts);
    return rc == CHAT_ERR_NOT_FOUND ? CHAT_OK : rc;
}

/* The ids of the rooms uid belongs to (room_members by user_id, at most
 * CHAT_MEMBER_ROOMS_MAX), in no particular order. *oids_out malloc'd (NULL when none). */
typedef struct members__pairs {
    chat_member_pair_t *arr;
    size_t n;
    size_t cap;
} members__pairs_t;

static chat_err_t members__pair_doc(const bson_t *doc, void *arg)
{
    members__pairs_t *p = arg;
    bson_iter_t user;
    bson_iter_t room;
    chat_member_pair_t *grown;

    if (!bson_iter_init_find(&user, doc, "user_id") || !BSON_ITER_HOLDS_OID(&user) ||
        !bson_iter_init_find(&room, doc, "room_id") || !BSON_ITER_HOLDS_OID(&room)) {
        return CHAT_OK;
    }
    grown = chat_repo_query_grow(p->arr, p->n, &p->cap, sizeof(*p->arr), 256);
    if (grown == NULL) {
        return CHAT_ERR_NOMEM;
    }
    p->arr = grown;
    bson_oid_copy(bson_iter_oid(&user), &p->arr[p->n].user);
    bson_oid_copy(bson_iter_oid(&room), &p->arr[p->n].room);
    p->n++;
    return CHAT_OK;
}

chat_err_t chat_members_of_users(chat_db_t *db, const bson_oid_t *uids, size_t n, size_t max,
                                 chat_member_pair_t **out, size_t *n_out)
{
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts =
        BCON_NEW("projection", "{", "user_id", BCON_INT32(1), "room_id", BCON_INT32(1), "}");
    members__pairs_t pairs = {NULL, 0, 0};
    chat_err_t rc;

    *out = NULL;
    *n_out = 0;
    if (uids != NULL) {
        (void)chat_repo_query_in_oids(&filter, "user_id", uids, n);
    }
    rc = chat_repo_query_each(db, MEMBERS__COLL, &filter, opts, max, members__pair_doc, &pairs);
    if (rc == CHAT_OK) {
        *out = pairs.arr;
        *n_out = pairs.n;
        pairs.arr = NULL;
    }
    free(pairs.arr);
    bson_destroy(&filter);
    bson_destroy(opts);
    return rc;
}

chat_err_t chat_members_room_oids(chat_db_t *db, const bson_oid_t *uid, bson_oid_t **oids_out,
                                  size_t *n_out)
{
    bson_t *filter = BCON_NEW("user_id", BCON_OID(uid));
    bson_t *opts = BCON_NEW("projection", "{", "room_id", BCON_INT32(1), "}", "limit",
                            BCON_INT64(CHAT_MEMBER_ROOMS_MAX));
    chat_err_t rc = chat_repo_query_oids(db, MEMBERS__COLL, filter, opts, "room_id",
                                         CHAT_MEMBER_ROOMS_MAX, oids_out, n_out);

    bson_destroy(filter);
    bson_destroy(opts);
    return rc;
}
