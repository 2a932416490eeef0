/*
 * test_messages_repo.c - message_append and messages_repo against a real
 * MongoDB/FerretDB (CHAT_TEST_MONGO_URI): gap-free seq allocation under concurrent
 * writers and in batches (group commit, also past FerretDB's 100-document insert chunks),
 * concurrent resends stored once, stale room heads, room heads of many rooms in one flush
 * (FerretDB's connection pool), and the seq-range reads. The other
 * idempotency cases are test_message_idem.c. Each test uses its own database, dropped at
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
#include "chat/message_append.h"
#include "chat/messages_repo.h"

#include "db_fixture.h"
#include "messages_fixture.h"

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
    assert_int_equal(chat_messages_range(db, ROOM_A, 1, CHAT_HISTORY_MAX_LIMIT, &list), CHAT_OK);
    assert_int_equal(list.n, WRITERS * PER_WRITER);
    for (size_t i = 0; i < list.n; i++) {
        assert_int_equal(list.items[i].seq, (int64_t)i + 1);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(list.items[i].id, list.items[j].id);
        }
    }
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_last_seq(db, ROOM_A, &total), CHAT_OK);
    assert_int_equal(total, WRITERS * PER_WRITER);
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

static void test_range_and_newest(void **state)
{
    chat_db_t *db = *state;
    chat_message_list_t list = {0};

    assert_int_equal(chat_messages_newest(db, ROOM_A, 50, &list), CHAT_OK);
    assert_int_equal(list.n, 0);
    chat_message_list_clear(&list);

    fill_room(db, ROOM_A, 10);
    fill_room(db, ROOM_B, 2);

    assert_int_equal(chat_messages_newest(db, ROOM_A, 3, &list), CHAT_OK);
    assert_seqs(&list, 8, 3); /* ascending */
    assert_string_equal(list.items[2].content, "m10");
    chat_message_list_clear(&list);
    assert_int_equal(chat_messages_newest(db, ROOM_A, 500, &list), CHAT_OK);
    assert_seqs(&list, 1, 10);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_range(db, ROOM_A, 5, 7, &list), CHAT_OK);
    assert_seqs(&list, 5, 3);
    chat_message_list_clear(&list);
    assert_int_equal(chat_messages_range(db, ROOM_A, 9, 50, &list), CHAT_OK);
    assert_seqs(&list, 9, 2);
    chat_message_list_clear(&list);
    assert_int_equal(chat_messages_range(db, ROOM_A, -4, 2, &list), CHAT_OK);
    assert_seqs(&list, 1, 2);
    chat_message_list_clear(&list);
    assert_int_equal(chat_messages_range(db, ROOM_A, 7, 6, &list), CHAT_OK);
    assert_int_equal(list.n, 0);
    chat_message_list_clear(&list);
    assert_int_equal(chat_messages_range(db, ROOM_B, 3, 50, &list), CHAT_OK);
    assert_int_equal(list.n, 0);
    chat_message_list_clear(&list);
    /* one read never returns more than a page */
    assert_int_equal(chat_messages_range(db, ROOM_A, 1, 100000, &list), CHAT_OK);
    assert_seqs(&list, 1, 10);
    chat_message_list_clear(&list);

    assert_int_equal(chat_messages_range(db, "bad", 0, 5, &list), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_messages_newest(db, "bad", 5, &list), CHAT_ERR_NOT_FOUND);
}

/* Group commit: one batch of many rooms keeps each room's order and its seqs gap-free,
 * answers a resend inside the batch from the stored copy, and stays correct past
 * FerretDB's 100-document insert chunks and while another writer takes seqs meanwhile. */
static void test_batch_keeps_order_and_seqs(void **state)
{
    chat_db_t *db = *state;
    enum { N = 230 };
    chat_message_t ins[N];
    chat_append_t items[N];
    char texts[N][16];
    char cmids[N][16];
    chat_message_list_t list = {0};
    int64_t expect_a = 0;
    int64_t expect_b = 0;

    fill_room(db, ROOM_A, 3); /* another writer's messages first */
    memset(items, 0, sizeof(items));
    for (int i = 0; i < N; i++) {
        snprintf(texts[i], sizeof(texts[i]), "b%d", i);
        snprintf(cmids[i], sizeof(cmids[i]), "k%d", i);
        make_msg(&ins[i], i % 3 == 0 ? ROOM_B : ROOM_A, USER_1, texts[i], cmids[i]);
        items[i].in = &ins[i];
        /* a stale (but stored) seq for room A: the refusal must be resolved */
        items[i].hint = i % 3 == 0 ? 0 : 1;
    }
    assert_int_equal(chat_messages_append_many(db, items, N, true, NULL), CHAT_OK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(items[i].err, CHAT_OK);
        assert_false(items[i].duplicate);
        if (i % 3 == 0) {
            assert_int_equal(items[i].out.seq, ++expect_b);
        } else {
            assert_int_equal(items[i].out.seq, 3 + ++expect_a);
        }
        chat_message_clear(&items[i].out);
    }
    /* the whole batch again: every one is a resend */
    for (int i = 0; i < N; i++) {
        items[i].err = CHAT_ERR_INTERNAL;
        items[i].hint = 0;
    }
    assert_int_equal(chat_messages_append_many(db, items, N, true, NULL), CHAT_OK);
    for (int i = 0; i < N; i++) {
        assert_int_equal(items[i].err, CHAT_OK);
        assert_true(items[i].duplicate);
        assert_string_equal(items[i].out.content, texts[i]);
        chat_message_clear(&items[i].out);
    }
    assert_int_equal(chat_messages_range(db, ROOM_A, 1, 200, &list), CHAT_OK);
    assert_seqs(&list, 1, 200 < 3 + expect_a ? 200 : (size_t)(3 + expect_a));
    chat_message_list_clear(&list);
}

/* One flush of room heads names every room written since the last one (100+ under
 * load). FerretDB 1.24 keeps the query of each single-document update statement open
 * until the whole command ends and takes a second pooled connection for its write, so
 * 100 "update one" statements in one command exhausted its pool (50 on PostgreSQL, 100 on
 * SQLite) and FerretDB stopped answering anyone. The heads must advance and the
 * database must still answer afterwards. */
static void test_heads_advance_many_rooms(void **state)
{
    enum { ROOMS = 160 };
    chat_db_t *db = *state;
    bson_oid_t rooms[ROOMS];
    int64_t seqs[ROOMS];
    int64_t head = 0;
    bool found = false;

    for (int i = 0; i < ROOMS; i++) {
        char hex[25];
        snprintf(hex, sizeof(hex), "6a00000000000000%08x", (unsigned)(i + 1));
        bson_oid_init_from_string(&rooms[i], hex);
        seqs[i] = 5;
    }
    chat_messages_heads_advance(db, rooms, seqs, ROOMS); /* creates them */
    for (int i = 0; i < ROOMS; i++) {
        seqs[i] = 7 + i;
    }
    chat_messages_heads_advance(db, rooms, seqs, ROOMS); /* updates every one */
    seqs[0] = 3;                                         /* $max: never lowered */
    chat_messages_heads_advance(db, rooms, seqs, 1);
    for (int i = 0; i < ROOMS; i++) {
        assert_int_equal(chat_messages_head(db, &rooms[i], &head, &found), CHAT_OK);
        assert_true(found);
        assert_int_equal(head, 7 + i);
    }
}

static void test_unavailable_when_down(void **state)
{
    char errbuf[256];
    chat_db_t *down =
        chat_db_create("mongodb://127.0.0.1:1/", "t_down", 300, errbuf, sizeof(errbuf));
    chat_message_t in;
    chat_message_t out = {0};
    chat_message_list_t list = {0};
    bool dup = false;

    (void)state;
    assert_non_null(down);
    make_msg(&in, ROOM_A, USER_1, "lost?", "c-9");
    assert_int_equal(chat_messages_append(down, &in, NULL, &out, &dup), CHAT_ERR_UNAVAILABLE);
    assert_int_equal(chat_messages_range(down, ROOM_A, 1, 5, &list), CHAT_ERR_UNAVAILABLE);
    chat_db_destroy(down);
}
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_assigns_seq_and_fields, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_append_rejects_bad_ids, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_stale_or_missing_head_is_repaired, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_appends_have_no_gaps, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_resends_store_once, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_range_and_newest, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_batch_keeps_order_and_seqs, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_heads_advance_many_rooms, db_setup, db_teardown),
        cmocka_unit_test(test_unavailable_when_down),
    };

    return DB_FIXTURE_RUN(tests);
}
