/*
 * test_db.c - the MongoDB handle against a real MongoDB/FerretDB (CHAT_TEST_MONGO_URI):
 * URI handling, bounded timeouts when the server is gone, the indexes, and the error
 * map. Each test that touches the server uses its own database, dropped at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat/db.h"
#include "chat/db_trace.h"

#include "db_fixture.h"

/* ---- helpers ---- */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads listIndexes of coll into a "name:unique;" string for easy assertions. */
static void index_summary(chat_db_t *db, const char *coll_name, char *buf, size_t len)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, chat_db_name(db), coll_name);
    mongoc_cursor_t *cursor = mongoc_collection_find_indexes_with_opts(coll, NULL);
    const bson_t *doc = NULL;
    bson_iter_t iter;
    size_t used = 0;

    buf[0] = '\0';
    while (mongoc_cursor_next(cursor, &doc)) {
        const char *name = "?";
        bool unique = false;

        if (bson_iter_init_find(&iter, doc, "name") && BSON_ITER_HOLDS_UTF8(&iter)) {
            name = bson_iter_utf8(&iter, NULL);
        }
        if (bson_iter_init_find(&iter, doc, "unique")) {
            unique = bson_iter_as_bool(&iter);
        }
        used += (size_t)snprintf(buf + used, len - used, "%s:%d;", name, unique ? 1 : 0);
        assert_true(used < len);
    }
    mongoc_cursor_destroy(cursor);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
}

/* ---- tests ---- */

static void test_create_rejects_bad_input(void **state)
{
    char errbuf[256];

    (void)state;
    errbuf[0] = '\0';
    assert_null(chat_db_create("not a uri", "chat", 1000, errbuf, sizeof(errbuf)));
    assert_non_null(strstr(errbuf, "MONGO_URI"));
    errbuf[0] = '\0';
    assert_null(chat_db_create("mongodb://127.0.0.1:27017/", "", 1000, errbuf, sizeof(errbuf)));
    assert_non_null(strstr(errbuf, "MONGO_DB"));
    assert_null(chat_db_create("mongodb://127.0.0.1:27017/", "a.b", 1000, errbuf, sizeof(errbuf)));
    assert_null(chat_db_create(NULL, "chat", 1000, NULL, 0));
    chat_db_destroy(NULL);
}

static void test_ping_and_name(void **state)
{
    chat_db_t *db = *state;

    assert_int_equal(chat_db_ping(db), CHAT_OK);
    assert_int_equal(strncmp(chat_db_name(db), "t_", 2), 0);
}

static void test_down_is_unavailable_within_timeout(void **state)
{
    char errbuf[256];
    chat_db_t *db = NULL;
    int64_t start;

    (void)state;
    /* nothing listens on port 1: creating does not connect, calls fail fast */
    db = chat_db_create("mongodb://127.0.0.1:1/", "t_down", 300, errbuf, sizeof(errbuf));
    assert_non_null(db);
    start = now_ms();
    assert_int_equal(chat_db_ping(db), CHAT_ERR_UNAVAILABLE);
    assert_int_equal(chat_db_ensure_indexes(db), CHAT_ERR_UNAVAILABLE);
    assert_true(now_ms() - start < 3000);
    chat_db_destroy(db);

    /* an option already in the URI wins over timeout_ms */
    db = chat_db_create("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200", "t_down", 60000,
                        errbuf, sizeof(errbuf));
    assert_non_null(db);
    start = now_ms();
    assert_int_equal(chat_db_ping(db), CHAT_ERR_UNAVAILABLE);
    assert_true(now_ms() - start < 3000);
    chat_db_destroy(db);
}

static void test_indexes(void **state)
{
    chat_db_t *db = *state;
    char summary[1024];

    /* setup created them once; again must be a no-op */
    assert_int_equal(chat_db_ensure_indexes(db), CHAT_OK);

    index_summary(db, "users", summary, sizeof(summary));
    assert_non_null(strstr(summary, "username_lc_1:1;"));
    assert_non_null(strstr(summary, "email_lc_1:1;"));
    index_summary(db, "messages", summary, sizeof(summary));
    assert_non_null(strstr(summary, "room_id_1_seq_1:1;"));
    assert_non_null(strstr(summary, "idem_key_1:1;"));
    index_summary(db, "rooms", summary, sizeof(summary));
    assert_non_null(strstr(summary, "is_private_1_created_at_-1:0;"));
    index_summary(db, "room_members", summary, sizeof(summary));
    assert_non_null(strstr(summary, "room_id_1_user_id_1:1;"));
    assert_non_null(strstr(summary, "user_id_1:0;"));
}

static void test_duplicate_key_maps_to_conflict(void **state)
{
    chat_db_t *db = *state;
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, chat_db_name(db), "users");
    bson_t *doc = BCON_NEW("username_lc", BCON_UTF8("same"), "email_lc", BCON_UTF8("a@b.c"));
    bson_t *doc2 = BCON_NEW("username_lc", BCON_UTF8("same"), "email_lc", BCON_UTF8("x@y.z"));
    bson_error_t err;

    assert_true(mongoc_collection_insert_one(coll, doc, NULL, NULL, &err));
    assert_false(mongoc_collection_insert_one(coll, doc2, NULL, NULL, &err));
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_CONFLICT);
    bson_destroy(doc);
    bson_destroy(doc2);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
}

/* Every command is counted by kind and collection, through the pool's APM callbacks. */
static void test_commands_are_counted(void **state)
{
    chat_db_t *db = *state;
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, chat_db_name(db), "users");
    bson_t *doc = BCON_NEW("username_lc", BCON_UTF8("counted"), "email_lc", BCON_UTF8("c@d.e"));
    bson_t *filter = BCON_NEW("username_lc", BCON_UTF8("counted"));
    uint64_t reads = chat_db_trace_count(CHAT_DB_OP_READ, CHAT_DB_COLL_USERS);
    uint64_t writes = chat_db_trace_count(CHAT_DB_OP_WRITE, CHAT_DB_COLL_USERS);
    uint64_t msg_reads = chat_db_trace_count(CHAT_DB_OP_READ, CHAT_DB_COLL_MESSAGES);
    mongoc_cursor_t *cursor;
    const bson_t *found;
    bson_error_t err;

    assert_true(mongoc_collection_insert_one(coll, doc, NULL, NULL, &err));
    cursor = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    while (mongoc_cursor_next(cursor, &found)) {
    }
    mongoc_cursor_destroy(cursor);
    assert_int_equal(chat_db_trace_count(CHAT_DB_OP_WRITE, CHAT_DB_COLL_USERS), writes + 1);
    assert_int_equal(chat_db_trace_count(CHAT_DB_OP_READ, CHAT_DB_COLL_USERS), reads + 1);
    assert_int_equal(chat_db_trace_count(CHAT_DB_OP_READ, CHAT_DB_COLL_MESSAGES), msg_reads);
    bson_destroy(doc);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
}

static void test_commands_are_classified(void **state)
{
    bson_t *find = BCON_NEW("find", BCON_UTF8("messages"), "filter", "{", "}");
    bson_t *more = BCON_NEW("getMore", BCON_INT64(42), "collection", BCON_UTF8("room_members"));
    bson_t *ins = BCON_NEW("insert", BCON_UTF8("rooms"));
    bson_t *odd = BCON_NEW("find", BCON_UTF8("scratch"));
    bson_t *ping = BCON_NEW("ping", BCON_INT32(1));
    chat_db_op_t op;
    chat_db_coll_t coll;

    (void)state;
    chat_db_trace_classify("find", find, &op, &coll);
    assert_int_equal(op, CHAT_DB_OP_READ);
    assert_int_equal(coll, CHAT_DB_COLL_MESSAGES);
    chat_db_trace_classify("getMore", more, &op, &coll);
    assert_int_equal(op, CHAT_DB_OP_READ);
    assert_int_equal(coll, CHAT_DB_COLL_ROOM_MEMBERS);
    chat_db_trace_classify("insert", ins, &op, &coll);
    assert_int_equal(op, CHAT_DB_OP_WRITE);
    assert_int_equal(coll, CHAT_DB_COLL_ROOMS);
    chat_db_trace_classify("find", odd, &op, &coll);
    assert_int_equal(coll, CHAT_DB_COLL_OTHER);
    chat_db_trace_classify("ping", ping, &op, &coll);
    assert_int_equal(op, CHAT_DB_OP_OTHER);
    assert_string_equal(chat_db_trace_coll_name(CHAT_DB_COLL_ROOM_HEADS), "room_heads");
    assert_string_equal(chat_db_trace_op_name(CHAT_DB_OP_WRITE), "write");
    bson_destroy(find);
    bson_destroy(more);
    bson_destroy(ins);
    bson_destroy(odd);
    bson_destroy(ping);
}

static void test_map_error(void **state)
{
    bson_error_t err;

    (void)state;
    memset(&err, 0, sizeof(err));
    err.domain = MONGOC_ERROR_SERVER;
    err.code = 11000;
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_CONFLICT);
    err.domain = MONGOC_ERROR_COLLECTION;
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_CONFLICT);
    err.domain = MONGOC_ERROR_SERVER;
    err.code = 10107; /* NotWritablePrimary */
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_UNAVAILABLE);
    err.code = 2; /* BadValue */
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_INTERNAL);
    /* FerretDB's stale connection to a restarted PostgreSQL (its text, seen): retryable */
    err.code = 1;
    snprintf(err.message, sizeof(err.message), "%s",
             "[msg_find.go:344 handler.handleMaxTimeMSError] [collection.go:109 "
             "postgresql.(*collection).Query] FATAL: terminating connection due to unexpected "
             "postmaster exit (SQLSTATE 57P01)");
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_UNAVAILABLE);
    snprintf(err.message, sizeof(err.message), "%s",
             "failed to connect to `host=127.0.0.1 user=chat database=chat`: dial error");
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_UNAVAILABLE);
    /* any other InternalError stays one */
    snprintf(err.message, sizeof(err.message), "%s", "unexpected type in document");
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_INTERNAL);
    err.message[0] = '\0';
    err.domain = MONGOC_ERROR_STREAM;
    err.code = MONGOC_ERROR_STREAM_SOCKET;
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_UNAVAILABLE);
    err.code = MONGOC_ERROR_STREAM_CONNECT;
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_UNAVAILABLE);
    err.domain = MONGOC_ERROR_SERVER_SELECTION;
    err.code = MONGOC_ERROR_SERVER_SELECTION_FAILURE;
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_UNAVAILABLE);
    err.domain = MONGOC_ERROR_CLIENT;
    err.code = MONGOC_ERROR_CLIENT_AUTHENTICATE;
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_UNAVAILABLE);
    err.code = MONGOC_ERROR_CLIENT_TOO_BIG;
    assert_int_equal(chat_db_map_error(&err), CHAT_ERR_INTERNAL);
    assert_int_equal(chat_db_map_error(NULL), CHAT_ERR_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_bad_input),
        cmocka_unit_test_setup_teardown(test_ping_and_name, db_setup, db_teardown),
        cmocka_unit_test(test_down_is_unavailable_within_timeout),
        cmocka_unit_test_setup_teardown(test_indexes, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_key_maps_to_conflict, db_setup, db_teardown),
        cmocka_unit_test(test_map_error),
        cmocka_unit_test_setup_teardown(test_commands_are_counted, db_setup, db_teardown),
        cmocka_unit_test(test_commands_are_classified),
    };

    return DB_FIXTURE_RUN(tests);
}
