/*
 * member_leaves_repo.c - the member_leaves collection (see member_leaves_repo.h).
 *
 * Threads: any thread that may block (rest-fcgi request threads and its heads thread,
 * gateway workers); each call borrows its own client from the pool. Relies on db.c's
 * unique {room_id, user_id} index of member_leaves.
 */
#include "chat/member_leaves_repo.h"

#include <stdlib.h>
#include <string.h>

#include "chat/grow.h"
#include "chat/repo_query.h"

#define LEAVES__COLL "member_leaves"

typedef struct leaves__acc {
    chat_member_leave_t *v;
    size_t n;
    size_t cap;
} leaves__acc_t;

static chat_err_t leaves__doc(const bson_t *doc, void *arg)
{
    leaves__acc_t *a = arg;
    chat_member_leave_t *grown;
    bson_iter_t id;
    bson_iter_t room;
    bson_iter_t user;
    bson_iter_t at;
    bson_iter_t done;

    if (!bson_iter_init_find(&id, doc, "_id") || !BSON_ITER_HOLDS_OID(&id) ||
        !bson_iter_init_find(&room, doc, "room_id") || !BSON_ITER_HOLDS_OID(&room) ||
        !bson_iter_init_find(&user, doc, "user_id") || !BSON_ITER_HOLDS_OID(&user) ||
        !bson_iter_init_find(&at, doc, "at") || !BSON_ITER_HOLDS_DATE_TIME(&at)) {
        return CHAT_OK; /* not ours */
    }
    grown = chat_grow(a->v, a->n, &a->cap, sizeof(*a->v), 8);
    if (grown == NULL) {
        return CHAT_ERR_NOMEM;
    }
    a->v = grown;
    bson_oid_copy(bson_iter_oid(&id), &a->v[a->n].id);
    bson_oid_copy(bson_iter_oid(&room), &a->v[a->n].room);
    bson_oid_copy(bson_iter_oid(&user), &a->v[a->n].user);
    a->v[a->n].at_ms = bson_iter_date_time(&at);
    a->v[a->n].done = bson_iter_init_find(&done, doc, "done") && BSON_ITER_HOLDS_BOOL(&done) &&
        bson_iter_bool(&done);
    a->n++;
    return CHAT_OK;
}

static int leaves__cmp_key(const bson_oid_t *room_a, const bson_oid_t *user_a,
                           const bson_oid_t *room_b, const bson_oid_t *user_b)
{
    int c = bson_oid_compare(room_a, room_b);

    return c != 0 ? c : bson_oid_compare(user_a, user_b);
}

static int leaves__cmp(const void *a, const void *b)
{
    const chat_member_leave_t *x = a;
    const chat_member_leave_t *y = b;

    return leaves__cmp_key(&x->room, &x->user, &y->room, &y->user);
}

/* What a read gathered into out, sorted by (room, user), when rc is CHAT_OK; freed
 * otherwise. */
static void leaves__take(leaves__acc_t *acc, chat_err_t rc, chat_member_leaves_t *out)
{
    if (rc == CHAT_OK) {
        if (acc->n > 1) {
            qsort(acc->v, acc->n, sizeof(*acc->v), leaves__cmp);
        }
        out->v = acc->v;
        out->n = acc->n;
    } else {
        free(acc->v);
    }
    acc->v = NULL;
}

chat_err_t chat_member_leave_record(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                                    int64_t at_ms, chat_member_leave_t *out)
{
    bson_t *doc;
    chat_err_t rc;

    memset(out, 0, sizeof(*out));
    bson_oid_init(&out->id, NULL);
    bson_oid_copy(room, &out->room);
    bson_oid_copy(user, &out->user);
    out->at_ms = at_ms;
    doc = BCON_NEW("_id", BCON_OID(&out->id), "room_id", BCON_OID(room), "user_id", BCON_OID(user),
                   "at", BCON_DATE_TIME(at_ms));
    rc = chat_db_insert(db, LEAVES__COLL, doc);
    bson_destroy(doc);
    return rc;
}

chat_err_t chat_member_leaves_mark_done(chat_db_t *db, const chat_member_leave_t *ls, size_t n)
{
    bson_oid_t *ids = n > 1 ? malloc(n * sizeof(*ids)) : NULL;
    bson_t filter = BSON_INITIALIZER;
    bson_t *update = BCON_NEW("$set", "{", "done", BCON_BOOL(true), "}");
    mongoc_client_t *client;
    mongoc_collection_t *coll;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    if (n == 0 || (n > 1 && ids == NULL)) {
        bson_destroy(update);
        return n == 0 ? CHAT_OK : CHAT_ERR_NOMEM;
    }
    if (n == 1) {
        BSON_APPEND_OID(&filter, "_id", &ls[0].id); /* the one filter FerretDB pushes down */
    } else {
        for (size_t i = 0; i < n; i++) {
            ids[i] = ls[i].id;
        }
        (void)chat_repo_query_in_oids(&filter, "_id", ids, n);
    }
    client = chat_db_pop(db);
    coll = mongoc_client_get_collection(client, chat_db_name(db), LEAVES__COLL);
    /* multi: FerretDB keeps a multi: false statement's pooled connection until the
     * command ends (docs/OPERATIONS.md, "FerretDB backend") */
    if (!mongoc_collection_update_many(coll, &filter, update, NULL, NULL, &err)) {
        rc = chat_db_map_error(&err);
    }
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(&filter);
    bson_destroy(update);
    free(ids);
    return rc;
}

chat_err_t chat_member_leaves_forget_done(chat_db_t *db, int64_t before_ms)
{
    bson_t *filter =
        BCON_NEW("done", BCON_BOOL(true), "at", "{", "$lt", BCON_DATE_TIME(before_ms), "}");
    chat_err_t rc = chat_db_delete(db, LEAVES__COLL, filter, true, NULL);

    bson_destroy(filter);
    return rc;
}

chat_err_t chat_member_leave_forget(chat_db_t *db, const chat_member_leave_t *l)
{
    bson_t *filter = BCON_NEW("_id", BCON_OID(&l->id));
    chat_err_t rc = chat_db_delete(db, LEAVES__COLL, filter, false, NULL);

    bson_destroy(filter);
    return rc;
}

chat_err_t chat_member_leaves_load(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                                   int64_t before_ms, chat_member_leaves_t *out)
{
    bson_t filter = BSON_INITIALIZER;
    leaves__acc_t acc = {NULL, 0, 0};
    chat_err_t rc;

    out->v = NULL;
    out->n = 0;
    if (room != NULL) {
        BSON_APPEND_OID(&filter, "room_id", room);
    }
    if (user != NULL) {
        BSON_APPEND_OID(&filter, "user_id", user);
    }
    if (before_ms > 0) {
        bson_t lt;
        BSON_APPEND_DOCUMENT_BEGIN(&filter, "at", &lt);
        BSON_APPEND_DATE_TIME(&lt, "$lt", before_ms);
        bson_append_document_end(&filter, &lt);
    }
    /* one more than the bound: a backlog past it is refused, not cut */
    rc = chat_repo_query_each(db, LEAVES__COLL, &filter, NULL, CHAT_MEMBER_LEAVES_MAX + 1,
                              leaves__doc, &acc);
    if (rc == CHAT_OK && acc.n > CHAT_MEMBER_LEAVES_MAX) {
        if (before_ms > 0) {
            acc.n = CHAT_MEMBER_LEAVES_MAX; /* the sweep: a page now, the rest next time */
        } else {
            rc = CHAT_ERR_UNAVAILABLE;
        }
    }
    leaves__take(&acc, rc, out);
    bson_destroy(&filter);
    return rc;
}

chat_err_t chat_member_leaves_load_ids(chat_db_t *db, const chat_member_leave_t *ls, size_t n,
                                       chat_member_leaves_t *out)
{
    bson_t filter = BSON_INITIALIZER;
    leaves__acc_t acc = {NULL, 0, 0};
    bson_oid_t *ids = n > 0 ? malloc(n * sizeof(*ids)) : NULL;
    chat_err_t rc = n > 0 && ids == NULL ? CHAT_ERR_NOMEM : CHAT_OK;

    out->v = NULL;
    out->n = 0;
    if (n == 0 || rc != CHAT_OK) {
        return rc;
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = ls[i].id;
    }
    chat_repo_query_in_oids(&filter, "_id", ids, n);
    rc = chat_repo_query_each(db, LEAVES__COLL, &filter, NULL, n, leaves__doc, &acc);
    leaves__take(&acc, rc, out);
    free(ids);
    bson_destroy(&filter);
    return rc;
}

/* The first of ls's leaves of (room, user), or NULL: a binary search for the lower
 * bound of the key. */
static const chat_member_leave_t *leaves__first(const chat_member_leaves_t *ls,
                                                const bson_oid_t *room, const bson_oid_t *user)
{
    size_t lo = 0;
    size_t hi = ls->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (leaves__cmp_key(&ls->v[mid].room, &ls->v[mid].user, room, user) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < ls->n && leaves__cmp_key(&ls->v[lo].room, &ls->v[lo].user, room, user) == 0) {
        return &ls->v[lo];
    }
    return NULL;
}

bool chat_member_leaves_cover(const chat_member_leaves_t *ls, const bson_oid_t *room,
                              const bson_oid_t *user, int64_t joined_at_ms)
{
    const chat_member_leave_t *l = leaves__first(ls, room, user);
    const chat_member_leave_t *end = ls->v + ls->n;

    /* the unique key allows one record per pair; a page read across a forget and a new
     * record may still hold two */
    for (; l != NULL && l < end && leaves__cmp_key(&l->room, &l->user, room, user) == 0; l++) {
        if (joined_at_ms <= l->at_ms) {
            return true;
        }
    }
    return false;
}

void chat_member_leaves_clear(chat_member_leaves_t *ls)
{
    free(ls->v);
    ls->v = NULL;
    ls->n = 0;
}
