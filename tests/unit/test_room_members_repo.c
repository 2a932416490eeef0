/*
 * test_room_members_repo.c - room_members_repo against a real MongoDB/FerretDB
 * (CHAT_TEST_MONGO_URI): a second insert of one member is a conflict, contains and
 * delete (one member, then a whole room) with exact counts, member lists loaded for
 * several rooms in one call in joining order, and the rooms of a user. Also the BSON
 * helpers of db.c the repositories share. Each test uses its own database.
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
#include "chat/room_members_repo.h"

#include "db_fixture.h"

#define ROOM_A "650000000000000000000001"
#define ROOM_B "650000000000000000000002"
#define ROOM_C "650000000000000000000003"
#define USER_1 "660000000000000000000001"
#define USER_2 "660000000000000000000002"
#define USER_3 "660000000000000000000003"

static bson_oid_t oid(const char *hex)
{
    bson_oid_t o;

    assert_true(chat_db_oid_from_hex(hex, &o));
    return o;
}

static void add(chat_db_t *db, const char *room, const char *user, int64_t joined_at)
{
    bson_oid_t r = oid(room);
    bson_oid_t u = oid(user);

    assert_int_equal(chat_members_insert(db, &r, &u, "member", joined_at), CHAT_OK);
}

static void test_insert_contains_delete(void **state)
{
    chat_db_t *db = *state;
    bson_oid_t a = oid(ROOM_A);
    bson_oid_t u1 = oid(USER_1);
    bson_oid_t u2 = oid(USER_2);
    bool found = true;
    int64_t deleted = -1;

    assert_int_equal(chat_members_contains(db, &a, &u1, &found), CHAT_OK);
    assert_false(found);
    add(db, ROOM_A, USER_1, 1000);
    assert_int_equal(chat_members_insert(db, &a, &u1, "member", 2000), CHAT_ERR_CONFLICT);
    assert_int_equal(chat_members_contains(db, &a, &u1, &found), CHAT_OK);
    assert_true(found);

    add(db, ROOM_A, USER_2, 2000);
    assert_int_equal(chat_members_delete(db, &a, &u1, &deleted), CHAT_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(chat_members_delete(db, &a, &u1, &deleted), CHAT_OK);
    assert_int_equal(deleted, 0); /* a second delete changes nothing */
    assert_int_equal(chat_members_contains(db, &a, &u2, &found), CHAT_OK);
    assert_true(found);

    add(db, ROOM_A, USER_3, 3000);
    assert_int_equal(chat_members_delete(db, &a, NULL, &deleted), CHAT_OK);
    assert_int_equal(deleted, 2); /* the whole room */
    assert_int_equal(chat_members_contains(db, &a, &u2, &found), CHAT_OK);
    assert_false(found);
}

static void test_load_and_rooms_of_a_user(void **state)
{
    chat_db_t *db = *state;
    chat_member_row_t *rows = NULL;
    size_t n_rows = 0;
    bson_oid_t u1 = oid(USER_1);
    bson_oid_t ra = oid(ROOM_A);
    bson_oid_t rc_ = oid(ROOM_C);
    bson_oid_t *ids = NULL;
    size_t n = 0;
    int seen_a = 0;
    int seen_b = 0;

    /* every member of a room with when it joined (order is the read model's business) */
    add(db, ROOM_A, USER_2, 2000);
    add(db, ROOM_A, USER_1, 1000);
    add(db, ROOM_A, USER_3, 3000);
    add(db, ROOM_B, USER_1, 5000);

    assert_int_equal(chat_members_of_room(db, &ra, &rows, &n_rows), CHAT_OK);
    assert_int_equal(n_rows, 3);
    for (size_t i = 0; i < n_rows; i++) {
        int64_t want = strcmp(rows[i].user_id, USER_1) == 0 ? 1000
            : strcmp(rows[i].user_id, USER_2) == 0          ? 2000
                                                            : 3000;
        assert_int_equal(rows[i].joined_at_ms, want);
    }
    free(rows);
    assert_int_equal(chat_members_of_room(db, &rc_, &rows, &n_rows), CHAT_OK);
    assert_int_equal(n_rows, 0);
    free(rows);

    assert_int_equal(chat_members_room_oids(db, &u1, &ids, &n), CHAT_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        char hex[CHAT_ID_LEN];

        bson_oid_to_string(&ids[i], hex);
        seen_a += strcmp(hex, ROOM_A) == 0;
        seen_b += strcmp(hex, ROOM_B) == 0;
    }
    assert_int_equal(seen_a, 1);
    assert_int_equal(seen_b, 1);
    free(ids);
}

static void test_shared_bson_helpers(void **state)
{
    chat_db_t *db = *state;
    bson_oid_t o;
    bson_t *doc = BCON_NEW("_id", "k1", "s", "héllo");
    bson_iter_t iter;
    char *copy = strdup("old");
    int64_t deleted = -1;

    assert_true(chat_db_oid_from_hex(ROOM_A, &o));
    assert_false(chat_db_oid_from_hex("65000000000000000000000", &o)); /* 23 hex */
    assert_false(chat_db_oid_from_hex("65000000000000000000000g", &o));
    assert_false(chat_db_oid_from_hex(NULL, &o));

    assert_true(bson_iter_init_find(&iter, doc, "s"));
    assert_int_equal(chat_db_dup_utf8(&iter, &copy), CHAT_OK); /* frees "old" */
    assert_string_equal(copy, "héllo");
    free(copy);

    assert_int_equal(chat_db_insert(db, "scratch", doc), CHAT_OK);
    assert_int_equal(chat_db_insert(db, "scratch", doc), CHAT_ERR_CONFLICT);
    bson_destroy(doc);
    doc = BCON_NEW("_id", "k1");
    assert_int_equal(chat_db_delete(db, "scratch", doc, false, &deleted), CHAT_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(chat_db_delete(db, "scratch", doc, true, &deleted), CHAT_OK);
    assert_int_equal(deleted, 0);
    bson_destroy(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_contains_delete, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_load_and_rooms_of_a_user, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_shared_bson_helpers, db_setup, db_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
