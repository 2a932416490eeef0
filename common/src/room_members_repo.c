/*
 * room_members_repo.c - the room_members collection (see room_members_repo.h).
 *
 * Threads: any thread that may block (rest-fcgi request threads, gateway workers);
 * each call pops its own client from the pool and pushes it back before returning.
 * Relies on db.c's {room_id, user_id} unique and {user_id} indexes. Every read subtracts
 * the memberships that a pending leave ended (member_leaves_repo.h): one more query, on
 * a collection that holds only the leaves still in flight, and only when rows came back.
 */
#include "chat/room_members_repo.h"

#include <stdlib.h>
#include <string.h>

#include "chat/grow.h"
#include "chat/member_leaves_repo.h"
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
    grown = chat_grow(r->rows, r->n, &r->cap, sizeof(*r->rows), 16);
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
    chat_member_leaves_t leaves = {NULL, 0};

    *rows_out = NULL;
    *n_out = 0;
    if (rc == CHAT_OK && r.n > 0) {
        rc = chat_member_leaves_load(db, room, NULL, 0, &leaves);
    }
    if (rc == CHAT_OK && leaves.n > 0) {
        size_t kept = 0;
        for (size_t i = 0; i < r.n; i++) {
            bson_oid_t user;
            bson_oid_init_from_string(&user, r.rows[i].user_id);
            if (!chat_member_leaves_cover(&leaves, room, &user, r.rows[i].joined_at_ms)) {
                r.rows[kept++] = r.rows[i];
            }
        }
        r.n = kept;
    }
    chat_member_leaves_clear(&leaves);
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

/* {user_id: u, joined_at: {$lte: until}} into doc */
static void members__left_clause(bson_t *doc, const bson_oid_t *user, int64_t until)
{
    bson_t lte;

    BSON_APPEND_OID(doc, "user_id", user);
    BSON_APPEND_DOCUMENT_BEGIN(doc, "joined_at", &lte);
    BSON_APPEND_DATE_TIME(&lte, "$lte", until);
    bson_append_document_end(doc, &lte);
}

chat_err_t chat_members_delete_left(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *users,
                                    const int64_t *untils, size_t n)
{
    bson_t filter = BSON_INITIALIZER;
    chat_err_t rc;

    if (n == 0) {
        return CHAT_OK;
    }
    /* room_id stays a top-level equality: FerretDB pushes it down beside the $or */
    BSON_APPEND_OID(&filter, "room_id", room);
    if (n == 1) {
        members__left_clause(&filter, &users[0], untils[0]);
    } else {
        bson_t or ;
        BSON_APPEND_ARRAY_BEGIN(&filter, "$or", & or);
        for (size_t i = 0; i < n; i++) {
            char key[24];
            const char *k;
            bson_t clause;
            bson_uint32_to_string((uint32_t)i, &k, key, sizeof(key));
            BSON_APPEND_DOCUMENT_BEGIN(& or, k, &clause);
            members__left_clause(&clause, &users[i], untils[i]);
            bson_append_document_end(& or, &clause);
        }
        bson_append_array_end(&filter, & or);
    }
    rc = chat_db_delete(db, MEMBERS__COLL, &filter, true, NULL);
    bson_destroy(&filter);
    return rc;
}

chat_err_t chat_members_delete_left_by(chat_db_t *db, const bson_oid_t *room,
                                       const bson_oid_t *users, size_t n, int64_t until)
{
    bson_t filter = BSON_INITIALIZER;
    bson_t lte;
    chat_err_t rc;

    if (n == 0) {
        return CHAT_OK;
    }
    BSON_APPEND_OID(&filter, "room_id", room); /* pushed down beside the $in */
    chat_repo_query_in_oids(&filter, "user_id", users, n);
    BSON_APPEND_DOCUMENT_BEGIN(&filter, "joined_at", &lte);
    BSON_APPEND_DATE_TIME(&lte, "$lte", until);
    bson_append_document_end(&filter, &lte);
    rc = chat_db_delete(db, MEMBERS__COLL, &filter, true, NULL);
    bson_destroy(&filter);
    return rc;
}

static chat_err_t members__joined_at(const bson_t *doc, void *arg)
{
    bson_iter_t iter;

    *(int64_t *)arg =
        bson_iter_init_find(&iter, doc, "joined_at") && BSON_ITER_HOLDS_DATE_TIME(&iter)
        ? bson_iter_date_time(&iter)
        : 0;
    return CHAT_OK;
}

chat_err_t chat_members_contains(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                                 bool *found)
{
    bson_t *filter = BCON_NEW("room_id", BCON_OID(room), "user_id", BCON_OID(user));
    bson_t *opts =
        BCON_NEW("limit", BCON_INT64(1), "projection", "{", "joined_at", BCON_INT32(1), "}");
    int64_t joined_at = 0;
    chat_err_t rc =
        chat_repo_query_one(db, MEMBERS__COLL, filter, opts, members__joined_at, &joined_at);

    *found = false;
    if (rc == CHAT_OK) {
        chat_member_leaves_t leaves = {NULL, 0};
        rc = chat_member_leaves_load(db, room, user, 0, &leaves);
        *found = rc == CHAT_OK && !chat_member_leaves_cover(&leaves, room, user, joined_at);
        chat_member_leaves_clear(&leaves);
    }
    bson_destroy(filter);
    bson_destroy(opts);
    return rc == CHAT_ERR_NOT_FOUND ? CHAT_OK : rc;
}

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
    grown = chat_grow(p->arr, p->n, &p->cap, sizeof(*p->arr), 256);
    if (grown == NULL) {
        return CHAT_ERR_NOMEM;
    }
    p->arr = grown;
    bson_oid_copy(bson_iter_oid(&user), &p->arr[p->n].user);
    bson_oid_copy(bson_iter_oid(&room), &p->arr[p->n].room);
    (void)members__joined_at(doc, &p->arr[p->n].joined_at_ms);
    p->n++;
    return CHAT_OK;
}

/* The memberships matching filter (at most max), less those a pending leave of user
 * (NULL: of anybody) ended. */
static chat_err_t members__pairs_read(chat_db_t *db, const bson_t *filter, size_t max,
                                      const bson_oid_t *user, members__pairs_t *pairs)
{
    bson_t *opts =
        BCON_NEW("projection", "{", "user_id", BCON_INT32(1), "room_id", BCON_INT32(1), "joined_at",
                 BCON_INT32(1), "}", "batchSize", BCON_INT32(CHAT_REPO_QUERY_BATCH));
    chat_member_leaves_t leaves = {NULL, 0};
    chat_err_t rc =
        chat_repo_query_each(db, MEMBERS__COLL, filter, opts, max, members__pair_doc, pairs);

    if (rc == CHAT_OK && pairs->n > 0) {
        rc = chat_member_leaves_load(db, NULL, user, 0, &leaves);
    }
    if (rc == CHAT_OK && leaves.n > 0) {
        size_t kept = 0;
        for (size_t i = 0; i < pairs->n; i++) {
            const chat_member_pair_t *m = &pairs->arr[i];
            if (!chat_member_leaves_cover(&leaves, &m->room, &m->user, m->joined_at_ms)) {
                pairs->arr[kept++] = *m;
            }
        }
        pairs->n = kept;
    }
    chat_member_leaves_clear(&leaves);
    bson_destroy(opts);
    return rc;
}

chat_err_t chat_members_of_users(chat_db_t *db, const bson_oid_t *uids, size_t n, size_t max,
                                 chat_member_pair_t **out, size_t *n_out)
{
    bson_t filter = BSON_INITIALIZER;
    members__pairs_t pairs = {NULL, 0, 0};
    chat_err_t rc;

    *out = NULL;
    *n_out = 0;
    if (uids != NULL) {
        (void)chat_repo_query_in_oids(&filter, "user_id", uids, n);
    }
    rc = members__pairs_read(db, &filter, max, uids != NULL && n == 1 ? &uids[0] : NULL, &pairs);
    if (rc == CHAT_OK) {
        *out = pairs.arr;
        *n_out = pairs.n;
        pairs.arr = NULL;
    }
    free(pairs.arr);
    bson_destroy(&filter);
    return rc;
}

chat_err_t chat_members_room_oids(chat_db_t *db, const bson_oid_t *uid, bson_oid_t **oids_out,
                                  size_t *n_out)
{
    bson_t *filter = BCON_NEW("user_id", BCON_OID(uid));
    members__pairs_t pairs = {NULL, 0, 0};
    chat_err_t rc = members__pairs_read(db, filter, CHAT_MEMBER_ROOMS_MAX, uid, &pairs);
    bson_oid_t *oids = NULL;

    *oids_out = NULL;
    *n_out = 0;
    if (rc == CHAT_OK && pairs.n > 0) {
        oids = malloc(pairs.n * sizeof(*oids));
        rc = oids != NULL ? CHAT_OK : CHAT_ERR_NOMEM;
    }
    if (rc == CHAT_OK) {
        for (size_t i = 0; i < pairs.n; i++) {
            bson_oid_copy(&pairs.arr[i].room, &oids[i]);
        }
        *oids_out = oids;
        *n_out = pairs.n;
    }
    free(pairs.arr);
    bson_destroy(filter);
    return rc;
}
