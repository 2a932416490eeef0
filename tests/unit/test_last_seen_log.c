/*
 * test_last_seen_log.c - last_seen_log against a real MongoDB/FerretDB
 * (CHAT_TEST_MONGO_URI): batches as inserts (a document per CHAT_LAST_SEEN_LOG_CHUNK
 * users, bad ids skipped), the latest time per user read back, and the fold into
 * snapshots, which keeps every user's latest time also when it runs twice or meets a
 * batch written after its read. Each test uses its own database, dropped at the end.
 * Main thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/db.h"
#include "chat/last_seen_log.h"

#include "db_fixture.h"

/* n fresh ObjectId strings, increasing. */
static char (*ids_new(size_t n))[CHAT_ID_LEN]
{
    char(*ids)[CHAT_ID_LEN] = calloc(n, sizeof(*ids));

    assert_non_null(ids);
    for (size_t i = 0; i < n; i++) {
        bson_oid_t oid;
        bson_oid_init(&oid, NULL);
        bson_oid_to_string(&oid, ids[i]);
    }
    return ids;
}

static void append_ok(chat_db_t *db, char (*ids)[CHAT_ID_LEN], size_t n, int64_t at_ms)
{
    assert_int_equal(chat_last_seen_log_append(db, (const char(*)[CHAT_ID_LEN])ids, n, at_ms),
                     CHAT_OK);
}

static void test_append_and_load(void **state)
{
    chat_db_t *db = *state;
    char(*ids)[CHAT_ID_LEN] = ids_new(4);
    chat_last_seen_map_t m;

    assert_int_equal(chat_last_seen_log_load(db, &m), CHAT_OK);
    assert_int_equal(m.n, 0);
    assert_int_equal(m.n_docs, 0);
    chat_last_seen_map_clear(&m);

    append_ok(db, ids, 0, 10); /* nothing to write */
    snprintf(ids[3], CHAT_ID_LEN, "not-an-object-id");
    append_ok(db, ids, 4, 100); /* the bad id is skipped */
    append_ok(db, ids + 1, 1, 300);
    append_ok(db, ids, 1, 50); /* older than what the log has for ids[0] */
    assert_int_equal(chat_last_seen_log_load(db, &m), CHAT_OK);
    assert_int_equal(m.n_docs, 3);
    assert_int_equal(m.n_batches, 3);
    assert_int_equal(m.n, 3);
    assert_int_equal(chat_last_seen_map_get(&m, ids[0]), 100);
    assert_int_equal(chat_last_seen_map_get(&m, ids[1]), 300);
    assert_int_equal(chat_last_seen_map_get(&m, ids[2]), 100);
    assert_int_equal(chat_last_seen_map_get(&m, "650000000000000000000001"), 0);
    assert_int_equal(chat_last_seen_map_get(&m, "not-an-object-id"), 0);
    {
        chat_user_t users[2];
        memset(users, 0, sizeof(users));
        memcpy(users[0].id, ids[1], CHAT_ID_LEN);
        users[0].last_seen_ms = 200; /* raised */
        memcpy(users[1].id, ids[2], CHAT_ID_LEN);
        users[1].last_seen_ms = 900; /* kept: later than the log's */
        chat_last_seen_map_apply(&m, users, 2);
        assert_int_equal(users[0].last_seen_ms, 300);
        assert_int_equal(users[1].last_seen_ms, 900);
    }
    chat_last_seen_map_clear(&m);
    free(ids);
}

/* A batch larger than a document holds goes in several. */
static void test_a_large_batch_is_chunked(void **state)
{
    chat_db_t *db = *state;
    size_t n = CHAT_LAST_SEEN_LOG_CHUNK + 7;
    char(*ids)[CHAT_ID_LEN] = ids_new(n);
    chat_last_seen_map_t m;

    append_ok(db, ids, n, 1234);
    assert_int_equal(chat_last_seen_log_load(db, &m), CHAT_OK);
    assert_int_equal(m.n_docs, 2);
    assert_int_equal(m.n, n);
    assert_int_equal(chat_last_seen_map_get(&m, ids[0]), 1234);
    assert_int_equal(chat_last_seen_map_get(&m, ids[n - 1]), 1234);
    chat_last_seen_map_clear(&m);
    free(ids);
}

static void test_fold_keeps_every_latest_time(void **state)
{
    chat_db_t *db = *state;
    char(*ids)[CHAT_ID_LEN] = ids_new(10);
    chat_last_seen_map_t m;
    size_t folded = 99;

    for (int i = 0; i < 10; i++) {
        append_ok(db, ids, (size_t)i + 1, 1000 + i); /* ids[k] last at 1000 + 9 */
    }
    append_ok(db, ids + 9, 1, 500); /* older: the fold must not take it */
    /* too few batches: nothing done */
    assert_int_equal(chat_last_seen_log_fold(db, 12, &folded), CHAT_OK);
    assert_int_equal(folded, 0);
    assert_int_equal(chat_last_seen_log_fold(db, 11, &folded), CHAT_OK);
    assert_int_equal(folded, 11);
    assert_int_equal(chat_last_seen_log_load(db, &m), CHAT_OK);
    assert_int_equal(m.n_docs, 1); /* one snapshot */
    assert_int_equal(m.n_batches, 0);
    assert_int_equal(m.n, 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(chat_last_seen_map_get(&m, ids[i]), 1009);
    }
    chat_last_seen_map_clear(&m);

    /* a later batch, then a fold that folds the snapshot in too */
    append_ok(db, ids, 1, 2000);
    append_ok(db, ids + 1, 1, 3000);
    assert_int_equal(chat_last_seen_log_fold(db, 2, &folded), CHAT_OK);
    assert_int_equal(folded, 3);
    assert_int_equal(chat_last_seen_log_load(db, &m), CHAT_OK);
    assert_int_equal(m.n_docs, 1);
    assert_int_equal(chat_last_seen_map_get(&m, ids[0]), 2000);
    assert_int_equal(chat_last_seen_map_get(&m, ids[1]), 3000);
    assert_int_equal(chat_last_seen_map_get(&m, ids[2]), 1009);
    chat_last_seen_map_clear(&m);
    free(ids);
}

/* A fold that died between its insert and its delete, or two folds of the same documents
 * (two gateways at once): the snapshot stands beside the batches it came from (here: the
 * same batches written again after a fold), and the next fold keeps every time. */
static void test_a_fold_run_twice_loses_nothing(void **state)
{
    chat_db_t *db = *state;
    char(*ids)[CHAT_ID_LEN] = ids_new(3);
    chat_last_seen_map_t m;
    size_t folded = 0;

    append_ok(db, ids, 3, 10);
    append_ok(db, ids + 2, 1, 20);
    assert_int_equal(chat_last_seen_log_fold(db, 1, &folded), CHAT_OK);
    assert_int_equal(folded, 2);
    append_ok(db, ids, 3, 10);
    append_ok(db, ids + 2, 1, 20);
    assert_int_equal(chat_last_seen_log_fold(db, 1, &folded), CHAT_OK);
    assert_int_equal(folded, 3);
    assert_int_equal(chat_last_seen_log_load(db, &m), CHAT_OK);
    assert_int_equal(m.n_docs, 1);
    assert_int_equal(m.n, 3);
    assert_int_equal(chat_last_seen_map_get(&m, ids[0]), 10);
    assert_int_equal(chat_last_seen_map_get(&m, ids[1]), 10);
    assert_int_equal(chat_last_seen_map_get(&m, ids[2]), 20);
    chat_last_seen_map_clear(&m);
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_load, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_a_large_batch_is_chunked, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_fold_keeps_every_latest_time, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_a_fold_run_twice_loses_nothing, db_setup, db_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
