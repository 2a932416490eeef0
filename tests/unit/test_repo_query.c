/*
 * test_repo_query.c - repo_query against a real MongoDB/FerretDB (CHAT_TEST_MONGO_URI):
 * each document visited once and no more than the bound, a visitor's error stops the
 * query and is returned, one document or CHAT_ERR_NOT_FOUND, ids read past documents
 * without the field, a page that stops at a decoding error, the growing array, and
 * MongoDB down. Each test uses its own database, dropped at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chat/db.h"
#include "chat/grow.h"
#include "chat/repo_query.h"

#include "db_fixture.h"

#define COLL "t_items"

/* Five documents {_id, n: 1..5, ref: an id} in COLL; n = 3 has no ref. */
static void insert_items(chat_db_t *db, bson_oid_t refs[5])
{
    for (int i = 0; i < 5; i++) {
        bson_t *doc = NULL;

        bson_oid_init(&refs[i], NULL);
        doc = i == 2 ? BCON_NEW("n", BCON_INT32(i + 1))
                     : BCON_NEW("n", BCON_INT32(i + 1), "ref", BCON_OID(&refs[i]));
        assert_int_equal(chat_db_insert(db, COLL, doc), CHAT_OK);
        bson_destroy(doc);
    }
}

/* Sums "n"; CHAT_ERR_CONFLICT at n == 4. */
static chat_err_t sum_n(const bson_t *doc, void *arg)
{
    int *sum = arg;
    bson_iter_t it;

    assert_true(bson_iter_init_find(&it, doc, "n"));
    *sum += bson_iter_int32(&it);
    return bson_iter_int32(&it) == 4 ? CHAT_ERR_CONFLICT : CHAT_OK;
}

/* An int item from "n"; refuses n == 2. */
static chat_err_t decode_n(const bson_t *doc, void *item)
{
    bson_iter_t it;

    assert_true(bson_iter_init_find(&it, doc, "n"));
    if (bson_iter_int32(&it) == 2) {
        return CHAT_ERR_INTERNAL;
    }
    *(int *)item = bson_iter_int32(&it);
    return CHAT_OK;
}

static void test_each_and_one(void **state)
{
    chat_db_t *db = *state;
    bson_oid_t refs[5];
    bson_t *all = bson_new();
    bson_t *up_to_3 = BCON_NEW("n", "{", "$lte", BCON_INT32(3), "}");
    bson_t *none = BCON_NEW("n", BCON_INT32(9));
    bson_t *sorted = BCON_NEW("sort", "{", "n", BCON_INT32(1), "}");
    bson_t *first = BCON_NEW("sort", "{", "n", BCON_INT32(-1), "}", "limit", BCON_INT64(1));
    int sum = 0;

    insert_items(db, refs);
    assert_int_equal(chat_repo_query_each(db, COLL, up_to_3, sorted, 0, sum_n, &sum), CHAT_OK);
    assert_int_equal(sum, 6);
    sum = 0; /* at most two documents */
    assert_int_equal(chat_repo_query_each(db, COLL, all, sorted, 2, sum_n, &sum), CHAT_OK);
    assert_int_equal(sum, 3);
    sum = 0; /* the visitor's error stops it: 1 + 2 + 3 + 4 */
    assert_int_equal(chat_repo_query_each(db, COLL, all, sorted, 0, sum_n, &sum),
                     CHAT_ERR_CONFLICT);
    assert_int_equal(sum, 10);

    sum = 0;
    assert_int_equal(chat_repo_query_one(db, COLL, up_to_3, first, sum_n, &sum), CHAT_OK);
    assert_int_equal(sum, 3);
    assert_int_equal(chat_repo_query_one(db, COLL, none, first, sum_n, &sum), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_repo_query_one(db, COLL, up_to_3, first, NULL, NULL), CHAT_OK);
    assert_int_equal(sum, 3);
    bson_destroy(all);
    bson_destroy(up_to_3);
    bson_destroy(none);
    bson_destroy(sorted);
    bson_destroy(first);
}

static void test_oids_page_and_grow(void **state)
{
    chat_db_t *db = *state;
    bson_oid_t refs[5];
    bson_oid_t *oids = NULL;
    bson_t *all = bson_new();
    bson_t *sorted = BCON_NEW("sort", "{", "n", BCON_INT32(1), "}");
    bson_t *from_3 = BCON_NEW("n", "{", "$gte", BCON_INT32(3), "}");
    int items[5] = {0};
    int *grown = NULL;
    size_t cap = 0;
    size_t n = 99;

    assert_int_equal(chat_repo_query_oids(db, COLL, all, sorted, "ref", 0, &oids, &n), CHAT_OK);
    assert_int_equal(n, 0); /* nothing stored yet */
    assert_null(oids);
    insert_items(db, refs);
    assert_int_equal(chat_repo_query_oids(db, COLL, all, sorted, "ref", 0, &oids, &n), CHAT_OK);
    assert_int_equal(n, 4); /* n = 3 has none */
    assert_true(bson_oid_equal(&oids[0], &refs[0]));
    assert_true(bson_oid_equal(&oids[2], &refs[3]));
    free(oids);
    assert_int_equal(chat_repo_query_oids(db, COLL, all, sorted, "ref", 2, &oids, &n), CHAT_OK);
    assert_int_equal(n, 2);
    free(oids);

    assert_int_equal(
        chat_repo_query_page(db, COLL, from_3, sorted, items, sizeof(items[0]), 5, decode_n, &n),
        CHAT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(items[0] + items[1] + items[2], 12);
    /* a decoding error stops the page; what came before stays */
    assert_int_equal(
        chat_repo_query_page(db, COLL, all, sorted, items, sizeof(items[0]), 5, decode_n, &n),
        CHAT_ERR_INTERNAL);
    assert_int_equal(n, 1);
    assert_int_equal(items[0], 1);

    for (size_t i = 0; i < 40; i++) {
        int *more = chat_grow(grown, i, &cap, sizeof(*grown), 16);
        assert_non_null(more);
        grown = more;
        grown[i] = (int)i;
    }
    assert_int_equal(cap, 64);
    assert_int_equal(grown[39], 39);
    free(grown);
    bson_destroy(all);
    bson_destroy(sorted);
    bson_destroy(from_3);
}

/* A ring that wrapped around keeps its order when it grows. */
static void test_ring_grow(void **state)
{
    size_t cap = 0;
    size_t head = 0;
    size_t n = 0;
    int *ring = chat_ring_grow(NULL, &head, n, &cap, sizeof(*ring), 4);

    (void)state;
    assert_non_null(ring);
    assert_int_equal(cap, 4);
    for (int v = 0; v < 4; v++) { /* 0 1 2 3, then 0 1 taken: head 2 */
        ring[(head + n++) % cap] = v;
    }
    head = 2;
    n = 2;
    ring[(head + n++) % cap] = 4; /* slots: 4 _ 2 3 -> order 2 3 4 */
    ring[(head + n++) % cap] = 5; /* full: 4 5 2 3 */
    assert_ptr_equal(chat_ring_grow(ring, &head, 3, &cap, sizeof(*ring), 4), ring);
    ring = chat_ring_grow(ring, &head, n, &cap, sizeof(*ring), 4);
    assert_non_null(ring);
    assert_int_equal(cap, 8);
    assert_int_equal(head, 0);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ring[i], i + 2);
    }
    free(ring);
}

static void test_down(void **state)
{
    char errbuf[256];
    chat_db_t *down =
        chat_db_create("mongodb://127.0.0.1:1/", "t_down", 300, errbuf, sizeof(errbuf));
    bson_t *all = bson_new();
    bson_oid_t *oids = NULL;
    size_t n = 99;

    (void)state;
    assert_non_null(down);
    assert_int_equal(chat_repo_query_one(down, COLL, all, NULL, NULL, NULL), CHAT_ERR_UNAVAILABLE);
    assert_int_equal(chat_repo_query_oids(down, COLL, all, NULL, "ref", 0, &oids, &n),
                     CHAT_ERR_UNAVAILABLE);
    assert_null(oids);
    assert_int_equal(n, 0);
    bson_destroy(all);
    chat_db_destroy(down);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_and_one, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_oids_page_and_grow, db_setup, db_teardown),
        cmocka_unit_test(test_ring_grow),
        cmocka_unit_test(test_down),
    };

    return DB_FIXTURE_RUN(tests);
}
