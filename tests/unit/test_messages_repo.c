/*
 * test_messages_repo.c - messages_repo against a real MongoDB/FerretDB
 * (CHAT_TEST_MONGO_URI): gap-free seq allocation under concurrent writers, idempotent
 * resends (also of copies stored under a random _id), stale room heads, and the three
 * history queries. Each test uses its own database, dropped at
 * the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/db.h"
#include "chat/messages_repo.h"

#include "db_fixture.h"

/* ---- helpers ---- */

#define ROOM_A "650000000000000000000001"
#define ROOM_B "650000000000000000000002"
#define USER_1 "660000000000000000000001"
#define USER_2 "660000000000000000000002"

static void make_msg(chat_message_t *m, const char *room, const char *user, const char *text,
                     const char *client_msg_id)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->room_id, sizeof(m->room_id), "%s", room);
    snprintf(m->user_id, sizeof(m->user_id), "%s", user);
    m->username = (char *)"alice";
    m->content = (char *)text;
    m->client_msg_id = (char *)client_msg_id;
    m->type = CHAT_MSG_TEXT;
}

static int64_t append_ok(chat_db_t *db, const char *room, const char *text, int64_t *hint)
{
    chat_message_t in;
    chat_message_t out = {0};
    bool dup = true;
    int64_t seq;

    make_msg(&in, room, USER_1, text, NULL);
    assert_int_equal(chat_messages_append(db, &in, hint, &out, &dup), CHAT_OK);
    assert_false(dup);
    seq = out.seq;
    chat_message_clear(&out);
    return seq;
}

static void fill_room(chat_db_t *db, const char *room, int n)
{
    int64_t hint = 0;
    char text[32];

    for (int i = 1; i <= n; i++) {
        snprintf(text, sizeof(text), "m%d", i);
        assert_int_equal(append_ok(db, room, text, &hint), i);
    }
}

/* ---- tests ---- */

static void test_append_assigns_seq_and_fields(void **state)
{
    chat_db_t *db = *state;
    chat_message_t in;
    chat_message_t out = {0};
    bool dup = true;
    int64_t hint = 0;
    int64_t last = -1;

    assert_int_equal(chat_messages_last_seq(db, ROOM_A, &last), CHAT_OK);
    assert_int_equal(last, 0);

    make_msg(&in, ROOM_A, USER_1, "hello <b>world</b>", NULL);
    assert_int_equal(chat_messages_append(db, &in, &hint, &out, &dup), CHAT_OK);
    assert_false(dup);
    assert_int_equal(out.seq, 1);
    assert_int_equal(hint, 1);
    assert_int_equal(strlen(out.id), 24);
    assert_string_equal(out.room_id, ROOM_A);
    assert_string_equal(out.user_id, USER_1);
    assert_string_equal(out.username, "alice");
    assert_string_equal(out.content, "hello <b>world</b>");
    assert_null(out.client_msg_id);
    assert_int_equal(out.type, CHAT_MSG_TEXT);
    assert_true(out.timestamp_ms > 1600000000000LL);
    chat_message_clear(&out);

    /* without a hint the seq comes from the stored maximum */
    assert_int_equal(append_ok(db, ROOM_A, "two", NULL), 2);
    /* a stale hint is corrected by the unique index, not trusted */
    hint = 1;
    assert_int_equal(append_ok(db, ROOM_A, "three", &hint), 3);
    assert_int_equal(hint, 3);
    /* rooms count independently */
    assert_int_equal(append_ok(db, ROOM_B, "other room", NULL), 1);
    assert_int_equal(chat_messages_last_seq(db, ROOM_A, &last), CHAT_OK);
    assert_int_equal(last, 3);

    /* system messages keep their type */
    make_msg(&in, ROOM_A, USER_2, "bob joined the room", NULL);
    in.type = CHAT_MSG_SYSTEM;
    assert_int_equal(chat_messages_append(db, &in, NULL, &out, &dup), CHAT_OK);
    assert_int_equal(out.type, CHAT_MSG_SYSTEM);
    assert_int_equal(out.seq, 4);
    chat_message_clear(&out);
}

static void test_append_rejects_bad_ids(void **state)
{
    chat_db_t *db = *state;
    chat_message_t in;
    chat_message_t out = {0};
    bool dup = false;
    int64_t last = 0;

    make_msg(&in, "nope", USER_1, "x", NULL);
    assert_int_equal(chat_messages_append(db, &in, NULL, &out, &dup), CHAT_ERR_INVALID);
    make_msg(&in, ROOM_A, "zz0000000000000000000001", "x", NULL);
    assert_int_equal(chat_messages_append(db, &in, NULL, &out, &dup), CHAT_ERR_INVALID);
    assert_int_equal(chat_messages_last_seq(db, "bad", &last), CHAT_ERR_NOT_FOUND);
}

static void test_resend_is_idempotent(void **state)
{
    chat_db_t *db = *state;
    chat_message_t in;
    chat_message_t first = {0};
    chat_message_t again = {0};
    chat_message_t other = {0};
    bool dup = true;
    int64_t hint = 0;
    int64_t last = 0;

    make_msg(&in, ROOM_A, USER_1, "once", "c-1");
    assert_int_equal(chat_messages_append(db, &in, &hint, &first, &dup), CHAT_OK);
    assert_false(dup);
    assert_string_equal(first.client_msg_id, "c-1");

    usleep(5000); /* a new timestamp would show */
    assert_int_equal(chat_messages_append(db, &in, &hint, &again, &dup), CHAT_OK);
    assert_true(dup);
    assert_string_equal(again.id, first.id);
    assert_int_equal(again.seq, first.seq);
    assert_int_equal(again.timestamp_ms, first.timestamp_ms);
    assert_string_equal(again.content, "once");

    /* the same client_msg_id from another user is another message */
    make_msg(&in, ROOM_A, USER_2, "twice", "c-1");
    assert_int_equal(chat_messages_append(db, &in, &hint, &other, &dup), CHAT_OK);
    assert_false(dup);
    assert_int_equal(other.seq, 2);

    assert_int_equal(chat_messages_last_seq(db, ROOM_A, &last), CHAT_OK);
    assert_int_equal(last, 2);
    chat_message_clear(&first);
    chat_message_clear(&again);
    chat_message_clear(&other);
}

/* Puts the test database into a state the append path must cope with: inserts insert
 * (when given), else applies update to the first match of filter (when given), else
 * deletes every match of filter. Takes the documents. */
static void coll_exec(chat_db_t *db, const char *coll_name, bson_t *filter, bson_t *update,
                      bson_t *insert)
{
    chat_err_t rc = CHAT_OK;

    if (insert != NULL) {
        rc = chat_db_insert(db, coll_name, insert);
        bson_destroy(insert);
    } else if (update != NULL) {
        mongoc_client_t *client = chat_db_pop(db);
        mongoc_collection_t *coll =
            mongoc_client_get_collection(client, chat_db_name(db), coll_name);
        bson_error_t err;

        if (!mongoc_collection_update_one(coll, filter, update, NULL, NULL, &err)) {
            rc = chat_db_map_error(&err);
        }
        mongoc_collection_destroy(coll);
        chat_db_push(db, client);
        bson_destroy(update);
    } else {
        rc = chat_db_delete(db, coll_name, filter, true, NULL);
    }
    assert_int_equal(rc, CHAT_OK);
    if (filter != NULL) {
        bson_destroy(filter);
    }
}

/* The room head (room_heads) is only a lower bound: a writer may die between its insert
 * and its $max, or the head may be missing. Appends still take max + 1, no hole, no
 * duplicate seq, and repair the head. */
static void test_stale_or_missing_head_is_repaired(void **state)
{
    chat_db_t *db = *state;
    bson_oid_t room;
    int64_t last = 0;

    fill_room(db, ROOM_A, 5);
    bson_oid_init_from_string(&room, ROOM_A);
    coll_exec(db, "room_heads", BCON_NEW("_id", BCON_OID(&room)),
              BCON_NEW("$set", "{", "seq", BCON_INT64(2), "}"), NULL);
    assert_int_equal(append_ok(db, ROOM_A, "after a stale head", NULL), 6);
    assert_int_equal(append_ok(db, ROOM_A, "head repaired", NULL), 7);

    coll_exec(db, "room_heads", BCON_NEW("_id", BCON_OID(&room)), NULL, NULL);
    assert_int_equal(append_ok(db, ROOM_A, "after a lost head", NULL), 8);

    /* a caller's hint that trails behind is corrected the same way */
    int64_t hint = 3;
    assert_int_equal(append_ok(db, ROOM_A, "stale hint", &hint), 9);
    assert_int_equal(hint, 9);
    assert_int_equal(chat_messages_last_seq(db, ROOM_A, &last), CHAT_OK);
    assert_int_equal(last, 9);
}

/* A copy stored under a random _id (before ids were hashed from the idem_key, or after
 * a hash clash) is still found on a resend: one stored copy, the same ack. */
static void test_resend_of_a_copy_with_a_random_id(void **state)
{
    chat_db_t *db = *state;
    chat_message_t in;
    chat_message_t out = {0};
    bson_oid_t id;
    bson_oid_t room;
    bson_oid_t user;
    char id_hex[CHAT_ID_LEN];
    bool dup = false;
    int64_t hint = 0;
    int64_t last = 0;

    fill_room(db, ROOM_A, 2);
    bson_oid_init(&id, NULL);
    bson_oid_to_string(&id, id_hex);
    bson_oid_init_from_string(&room, ROOM_A);
    bson_oid_init_from_string(&user, USER_1);
    coll_exec(db, "messages", NULL, NULL,
              BCON_NEW("_id", BCON_OID(&id), "room_id", BCON_OID(&room), "seq", BCON_INT64(3),
                       "user_id", BCON_OID(&user), "username", "alice", "content", "legacy",
                       "type", "text", "created_at", BCON_DATE_TIME(1700000000000),
                       "client_msg_id", "old-1", "idem_key", USER_1 ":old-1"));

    make_msg(&in, ROOM_A, USER_1, "legacy", "old-1");
    assert_int_equal(chat_messages_append(db, &in, &hint, &out, &dup), CHAT_OK);
    assert_true(dup);
    assert_string_equal(out.id, id_hex);
    assert_int_equal(out.seq, 3);
    chat_message_clear(&out);
    assert_int_equal(chat_messages_last_seq(db, ROOM_A, &last), CHAT_OK);
    assert_int_equal(last, 3);
    assert_int_equal(append_ok(db, ROOM_A, "next", NULL), 4);
}

/* Another message already holds the _id hashed from our idem_key (a hash clash): ours
 * is stored anyway, under another _id, and is not mistaken for a resend. */
static void test_hash_clash_stores_a_new_message(void **state)
{
    chat_db_t *db = *state;
    chat_message_t in;
    chat_message_t out = {0};
    chat_message_t again = {0};
    bson_oid_t id;
    bson_oid_t room;
    bson_oid_t user;
    char hashed[CHAT_ID_LEN];
    bool dup = true;

    make_msg(&in, ROOM_B, USER_1, "probe", "clash-1");
    assert_int_equal(chat_messages_append(db, &in, NULL, &out, &dup), CHAT_OK);
    snprintf(hashed, sizeof(hashed), "%s", out.id);
    chat_message_clear(&out);
    bson_oid_init_from_string(&id, hashed);
    coll_exec(db, "messages", BCON_NEW("_id", BCON_OID(&id)), NULL, NULL);
    coll_exec(db, "room_heads", BCON_NEW("_id", "{", "$exists", BCON_BOOL(true), "}"), NULL,
              NULL);

    /* someone else's message now sits under that _id */
    bson_oid_init_from_string(&room, ROOM_A);
    bson_oid_init_from_string(&user, USER_2);
    coll_exec(db, "messages", NULL, NULL,
              BCON_NEW("_id", BCON_OID(&id), "room_id", BCON_OID(&room), "seq", BCON_INT64(1),
                       "user_id", BCON_OID(&user), "username", "bob", "content", "other",
                       "type", "text", "created_at", BCON_DATE_TIME(1700000000000),
                       "client_msg_id", "x", "idem_key", USER_2 ":x"));

    assert_int_equal(chat_messages_append(db, &in, NULL, &out, &dup), CHAT_OK);
    assert_false(dup);
    assert_string_not_equal(out.id, hashed);
    assert_string_equal(out.room_id, ROOM_B);
    assert_int_equal(out.seq, 1);
    /* and its own resend finds it (by idem_key now) */
    assert_int_equal(chat_messages_append(db, &in, NULL, &again, &dup), CHAT_OK);
    assert_true(dup);
    assert_string_equal(again.id, out.id);
    chat_message_clear(&out);
    chat_message_clear(&again);
}

/* ---- concurrency: 4 writers x 50 messages into one room ---- */

#define WRITERS 4
#define PER_WRITER 50

typedef struct writer_arg {
    chat_db_t *db;
    int index;
    const char *client_msg_id; /* all writers send the same one when set */
    int failures;
    int duplicates;
    char id[CHAT_ID_LEN];
} writer_arg_t;

static void *writer_main(void *p)
{
    writer_arg_t *arg = p;
    int64_t hint = 0; /* each writer has its own cache, as each gateway worker does */
    int count = arg->client_msg_id != NULL ? 1 : PER_WRITER;
    chat_db_t *db = arg->db;
    char errbuf[256];

    /* odd writers get a pool of their own: they stand for other processes */
    if (arg->index % 2 == 1) {
        db = chat_db_create(getenv("CHAT_TEST_MONGO_URI"), chat_db_name(arg->db), 5000, errbuf,
                            sizeof(errbuf));
        if (db == NULL) {
            arg->failures = count;
            return NULL;
        }
    }

    for (int i = 0; i < count; i++) {
        chat_message_t in;
        chat_message_t out = {0};
        bool dup = false;
        char text[64];

        snprintf(text, sizeof(text), "w%d-%d", arg->index, i);
        make_msg(&in, ROOM_A, USER_1, text, arg->client_msg_id);
        if (chat_messages_append(db, &in, &hint, &out, &dup) != CHAT_OK) {
            arg->failures++;
        } else {
            arg->duplicates += dup ? 1 : 0;
            snprintf(arg->id, sizeof(arg->id), "%s", out.id);
        }
        chat_message_clear(&out);
    }
    if (db != arg->db) {
        chat_db_destroy(db);
    }
    return NULL;
}

static void test_concurrent_appends_have_no_gaps(void **state)
{
    chat_db_t *db = *state;
    pthread_t threads[WRITERS];
    writer_arg_t args[WRITERS];
    chat_message_list_t list = {0};
    int64_t total = 0;

    for (int i = 0; i < WRITERS; i++) {
        args[i] = (writer_arg_t){.db = db, .index = i};
        assert_int_equal(pthread_create(&threads[i], NULL, writer_main, &args[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    assert_int_equal(chat_messages_after(db, ROOM_A, 0, CHAT_HISTORY_MAX_LIMIT, &list), CHAT_OK);
    assert_int_equal(list.n, WRITERS * PER_WRITER);
    for (size_t i = 0; i < list.n; i++) {
        assert_int_equal(list.items[i].seq, (int64_t)i + 1);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(list.items[i].id, list.items[j].id);
        }
    }
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_page_latest(db, ROOM_A, 1, 0, &list, &total), CHAT_OK);
    assert_int_equal(total, WRITERS * PER_WRITER);
    chat_message_list_clear(&list);
}

static void test_concurrent_resends_store_once(void **state)
{
    chat_db_t *db = *state;
    pthread_t threads[WRITERS];
    writer_arg_t args[WRITERS];
    int duplicates = 0;
    int64_t last = 0;

    for (int i = 0; i < WRITERS; i++) {
        args[i] = (writer_arg_t){.db = db, .index = i, .client_msg_id = "same-one"};
        assert_int_equal(pthread_create(&threads[i], NULL, writer_main, &args[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(args[i].failures, 0);
        duplicates += args[i].duplicates;
        assert_string_equal(args[i].id, args[0].id);
    }
    assert_int_equal(duplicates, WRITERS - 1);
    assert_int_equal(chat_messages_last_seq(db, ROOM_A, &last), CHAT_OK);
    assert_int_equal(last, 1);
}

/* ---- history ---- */

static void assert_seqs(const chat_message_list_t *list, int64_t first, size_t n)
{
    assert_int_equal(list->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(list->items[i].seq, first + (int64_t)i);
    }
}

static void test_page_latest(void **state)
{
    chat_db_t *db = *state;
    chat_message_list_t list = {0};
    int64_t total = 0;

    assert_int_equal(chat_messages_page_latest(db, ROOM_A, 50, 0, &list, &total), CHAT_OK);
    assert_int_equal(list.n, 0);
    assert_int_equal(total, 0);
    chat_message_list_clear(&list);

    fill_room(db, ROOM_A, 10);
    fill_room(db, ROOM_B, 2);

    assert_int_equal(chat_messages_page_latest(db, ROOM_A, 3, 0, &list, &total), CHAT_OK);
    assert_int_equal(total, 10);
    assert_seqs(&list, 8, 3);
    assert_string_equal(list.items[2].content, "m10");
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_page_latest(db, ROOM_A, 3, 3, &list, &total), CHAT_OK);
    assert_seqs(&list, 5, 3);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_page_latest(db, ROOM_A, 3, 9, &list, &total), CHAT_OK);
    assert_seqs(&list, 1, 1);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_page_latest(db, ROOM_A, 3, 10, &list, &total), CHAT_OK);
    assert_int_equal(list.n, 0);
    chat_message_list_clear(&list);

    /* limit is clamped to at least 1, a negative offset to 0; total may be skipped */
    assert_int_equal(chat_messages_page_latest(db, ROOM_A, 0, -5, &list, NULL), CHAT_OK);
    assert_seqs(&list, 10, 1);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_page_latest(db, "x", 3, 0, &list, &total),
                     CHAT_ERR_NOT_FOUND);
}

static void test_after_and_before(void **state)
{
    chat_db_t *db = *state;
    chat_message_list_t list = {0};

    fill_room(db, ROOM_A, 10);

    assert_int_equal(chat_messages_after(db, ROOM_A, 4, 3, &list), CHAT_OK);
    assert_seqs(&list, 5, 3);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_after(db, ROOM_A, 8, 50, &list), CHAT_OK);
    assert_seqs(&list, 9, 2);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_after(db, ROOM_A, 10, 50, &list), CHAT_OK);
    assert_int_equal(list.n, 0);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_after(db, ROOM_A, 0, 1000000, &list), CHAT_OK);
    assert_seqs(&list, 1, 10);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_before(db, ROOM_A, 8, 3, &list), CHAT_OK);
    assert_seqs(&list, 5, 3);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_before(db, ROOM_A, 3, 50, &list), CHAT_OK);
    assert_seqs(&list, 1, 2);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_before(db, ROOM_A, 1, 50, &list), CHAT_OK);
    assert_int_equal(list.n, 0);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_before(db, ROOM_B, 100, 50, &list), CHAT_OK);
    assert_int_equal(list.n, 0);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_after(db, "bad", 0, 5, &list), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_messages_before(db, "bad", 5, 5, &list), CHAT_ERR_NOT_FOUND);
}

static void test_unavailable_when_down(void **state)
{
    char errbuf[256];
    chat_db_t *down = chat_db_create("mongodb://127.0.0.1:1/", "t_down", 300, errbuf,
                                     sizeof(errbuf));
    chat_message_t in;
    chat_message_t out = {0};
    chat_message_list_t list = {0};
    bool dup = false;

    (void)state;
    assert_non_null(down);
    make_msg(&in, ROOM_A, USER_1, "lost?", "c-9");
    assert_int_equal(chat_messages_append(down, &in, NULL, &out, &dup), CHAT_ERR_UNAVAILABLE);
    assert_int_equal(chat_messages_after(down, ROOM_A, 0, 5, &list), CHAT_ERR_UNAVAILABLE);
    chat_db_destroy(down);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_assigns_seq_and_fields, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_append_rejects_bad_ids, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_resend_is_idempotent, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_stale_or_missing_head_is_repaired, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_resend_of_a_copy_with_a_random_id, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_hash_clash_stores_a_new_message, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appends_have_no_gaps, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_resends_store_once, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_page_latest, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_after_and_before, db_setup, db_teardown),
        cmocka_unit_test(test_unavailable_when_down),
    };

    return DB_FIXTURE_RUN(tests);
}
