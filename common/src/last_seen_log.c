/*
 * last_seen_log.c - the last_seen_log collection (see last_seen_log.h): batches of users
 * gone offline as inserts, their latest time per user read back, and the fold that keeps
 * the collection small.
 *
 * Threads: any thread that may block (gateway background workers write and fold,
 * rest-fcgi request threads and gateway workers read); each call borrows its own client.
 */
#include "chat/last_seen_log.h"

#include <stdlib.h>
#include <string.h>

#include "chat/grow.h"
#include "chat/log.h"
#include "chat/repo_query.h"

#define SEEN_LOG__COLL "last_seen_log"
#define SEEN_LOG__ENTRY 20 /* an entry: the user's ObjectId (12 B), then the time (int64 LE ms) */

/* ------------------------------------------------------------------ writes */

/* One document of entries e[0..n) (a snapshot's, or a batch's, all at one time). The
 * entries are packed (SEEN_LOG__ENTRY bytes each) into one binary value: FerretDB decodes
 * an array element in ~5-10 us, so 10,000 users as arrays took ~100 ms to read, as one
 * binary ~10 ms (pymongo, FerretDB on PostgreSQL, 6 December 2026). */
static chat_err_t seen_log__insert(chat_db_t *db, const chat_last_seen_t *e, size_t n,
                                   bool snapshot)
{
    bson_t doc = BSON_INITIALIZER;
    uint8_t *packed = malloc(n * SEEN_LOG__ENTRY + 1);
    int64_t latest = 0;
    bson_oid_t id;
    chat_err_t rc;

    if (packed == NULL) {
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t le = BSON_UINT64_TO_LE((uint64_t)e[i].at_ms);
        memcpy(packed + i * SEEN_LOG__ENTRY, e[i].user.bytes, 12);
        memcpy(packed + i * SEEN_LOG__ENTRY + 12, &le, 8);
        latest = e[i].at_ms > latest ? e[i].at_ms : latest;
    }
    bson_oid_init(&id, NULL);
    BSON_APPEND_OID(&doc, "_id", &id);
    BSON_APPEND_DATE_TIME(&doc, "at", latest);
    if (snapshot) {
        BSON_APPEND_BOOL(&doc, "snapshot", true);
    }
    BSON_APPEND_BINARY(&doc, "seen", BSON_SUBTYPE_BINARY, packed, (uint32_t)(n * SEEN_LOG__ENTRY));
    rc = chat_db_insert(db, SEEN_LOG__COLL, &doc);
    bson_destroy(&doc);
    free(packed);
    return rc;
}

chat_err_t chat_last_seen_log_append(chat_db_t *db, const char (*ids)[CHAT_ID_LEN], size_t n,
                                     int64_t at_ms)
{
    size_t chunk = n < CHAT_LAST_SEEN_LOG_CHUNK ? n : CHAT_LAST_SEEN_LOG_CHUNK;
    chat_last_seen_t *e = chunk > 0 ? malloc(chunk * sizeof(*e)) : NULL;
    size_t k = 0;
    chat_err_t rc = CHAT_OK;

    if (chunk > 0 && e == NULL) {
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < n && rc == CHAT_OK; i++) {
        if (chat_db_oid_from_hex(ids[i], &e[k].user)) {
            e[k++].at_ms = at_ms;
        }
        if (k == chunk || (i + 1 == n && k > 0)) {
            rc = seen_log__insert(db, e, k, false);
            k = 0;
        }
    }
    free(e);
    return rc;
}

/* ------------------------------------------------------------------ reads */

typedef struct seen_log__acc {
    chat_last_seen_t *v;
    size_t n;
    size_t cap;
    bson_oid_t *docs;
    size_t n_docs;
    size_t cap_docs;
    size_t n_batches;
} seen_log__acc_t;

static chat_err_t seen_log__push(seen_log__acc_t *a, const bson_oid_t *user, int64_t at_ms)
{
    chat_last_seen_t *grown = chat_grow(a->v, a->n, &a->cap, sizeof(*a->v), 256);

    if (grown == NULL) {
        return CHAT_ERR_NOMEM;
    }
    a->v = grown;
    bson_oid_copy(user, &a->v[a->n].user);
    a->v[a->n].at_ms = at_ms;
    a->n++;
    return CHAT_OK;
}

/* One document's entries into a, and its _id once they are all in: the fold deletes only
 * documents read whole. CHAT_ERR_TOO_LARGE (nothing of it kept) past
 * CHAT_LAST_SEEN_LOG_ENTRIES_MAX: the read stops there. */
static chat_err_t seen_log__doc(const bson_t *doc, void *arg)
{
    seen_log__acc_t *a = arg;
    bson_iter_t it;
    bson_subtype_t subtype;
    const uint8_t *packed = NULL;
    uint32_t len = 0;
    bool snapshot;
    size_t first = a->n;
    bson_oid_t *grown;
    chat_err_t rc = CHAT_OK;

    if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_OID(&it)) {
        return CHAT_OK; /* not ours */
    }
    snapshot = bson_iter_init_find(&it, doc, "snapshot") && BSON_ITER_HOLDS_BOOL(&it) &&
        bson_iter_bool(&it);
    if (bson_iter_init_find(&it, doc, "seen") && BSON_ITER_HOLDS_BINARY(&it)) {
        bson_iter_binary(&it, &subtype, &len, &packed);
    }
    for (uint32_t off = 0; rc == CHAT_OK && off + SEEN_LOG__ENTRY <= len; off += SEEN_LOG__ENTRY) {
        bson_oid_t user;
        uint64_t le;
        int64_t t;
        memcpy(user.bytes, packed + off, 12);
        memcpy(&le, packed + off + 12, 8);
        t = (int64_t)BSON_UINT64_FROM_LE(le);
        if (a->n >= CHAT_LAST_SEEN_LOG_ENTRIES_MAX) {
            rc = CHAT_ERR_TOO_LARGE;
        } else if (t > 0) {
            rc = seen_log__push(a, &user, t);
        }
    }
    grown =
        rc == CHAT_OK ? chat_grow(a->docs, a->n_docs, &a->cap_docs, sizeof(*a->docs), 16) : NULL;
    if (grown == NULL) {
        a->n = first; /* the document is not read */
        return rc == CHAT_OK ? CHAT_ERR_NOMEM : rc;
    }
    a->docs = grown;
    (void)bson_iter_init_find(&it, doc, "_id");
    bson_oid_copy(bson_iter_oid(&it), &a->docs[a->n_docs++]);
    a->n_batches += !snapshot;
    return CHAT_OK;
}

/* By user, the latest first. */
static int seen_log__cmp(const void *x, const void *y)
{
    const chat_last_seen_t *a = x;
    const chat_last_seen_t *b = y;
    int c = bson_oid_compare(&a->user, &b->user);

    if (c != 0) {
        return c;
    }
    return a->at_ms > b->at_ms ? -1 : a->at_ms < b->at_ms;
}

chat_err_t chat_last_seen_log_load(chat_db_t *db, chat_last_seen_map_t *out)
{
    bson_t filter = BSON_INITIALIZER;
    seen_log__acc_t acc;
    size_t n = 0;
    chat_err_t rc;

    memset(&acc, 0, sizeof(acc));
    memset(out, 0, sizeof(*out));
    rc = chat_repo_query_each(db, SEEN_LOG__COLL, &filter, NULL, CHAT_LAST_SEEN_LOG_READ_MAX,
                              seen_log__doc, &acc);
    bson_destroy(&filter);
    if (rc == CHAT_ERR_TOO_LARGE) {
        chat_log_warn("last_seen log read stopped at its bound: the rest waits for a fold", NULL,
                      NULL);
        rc = CHAT_OK;
    }
    if (rc != CHAT_OK) {
        free(acc.v);
        free(acc.docs);
        return rc;
    }
    if (acc.n > 1) {
        qsort(acc.v, acc.n, sizeof(*acc.v), seen_log__cmp);
    }
    for (size_t i = 0; i < acc.n; i++) { /* the first of each user is its latest */
        if (n == 0 || bson_oid_compare(&acc.v[n - 1].user, &acc.v[i].user) != 0) {
            acc.v[n++] = acc.v[i];
        }
    }
    out->v = acc.v;
    out->n = n;
    out->docs = acc.docs;
    out->n_docs = acc.n_docs;
    out->n_batches = acc.n_batches;
    return CHAT_OK;
}

int64_t chat_last_seen_map_get(const chat_last_seen_map_t *m, const char *user_id)
{
    bson_oid_t user;
    size_t lo = 0;
    size_t hi = m->n;

    if (m->n == 0 || !chat_db_oid_from_hex(user_id, &user)) {
        return 0;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = bson_oid_compare(&m->v[mid].user, &user);
        if (c == 0) {
            return m->v[mid].at_ms;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return 0;
}

void chat_last_seen_map_apply(const chat_last_seen_map_t *m, chat_user_t *users, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t t = chat_last_seen_map_get(m, users[i].id);
        if (t > users[i].last_seen_ms) {
            users[i].last_seen_ms = t;
        }
    }
}

void chat_last_seen_map_clear(chat_last_seen_map_t *m)
{
    free(m->v);
    free(m->docs);
    memset(m, 0, sizeof(*m));
}

chat_err_t chat_last_seen_log_merge(chat_db_t *db, chat_user_t *users, size_t n)
{
    chat_last_seen_map_t m;
    chat_err_t rc;

    if (n == 0) {
        return CHAT_OK;
    }
    rc = chat_last_seen_log_load(db, &m);
    if (rc == CHAT_OK) {
        chat_last_seen_map_apply(&m, users, n);
    }
    chat_last_seen_map_clear(&m);
    return rc;
}

/* ------------------------------------------------------------------ fold */

chat_err_t chat_last_seen_log_fold(chat_db_t *db, size_t min_batches, size_t *folded)
{
    chat_last_seen_map_t m;
    chat_err_t rc;

    *folded = 0;
    rc = chat_last_seen_log_load(db, &m);
    if (rc != CHAT_OK || m.n_batches < min_batches || m.n_docs < 2) {
        chat_last_seen_map_clear(&m);
        return rc;
    }
    /* the snapshots first: until they are in, the documents read stay */
    for (size_t i = 0; rc == CHAT_OK && i < m.n; i += CHAT_LAST_SEEN_LOG_CHUNK) {
        size_t k = m.n - i < CHAT_LAST_SEEN_LOG_CHUNK ? m.n - i : CHAT_LAST_SEEN_LOG_CHUNK;
        rc = seen_log__insert(db, m.v + i, k, true);
    }
    if (rc == CHAT_OK) {
        bson_t filter = BSON_INITIALIZER;
        (void)chat_repo_query_in_oids(&filter, "_id", m.docs, m.n_docs);
        rc = chat_db_delete(db, SEEN_LOG__COLL, &filter, true, NULL);
        bson_destroy(&filter);
        *folded = rc == CHAT_OK ? m.n_docs : 0;
    }
    chat_last_seen_map_clear(&m);
    return rc;
}
