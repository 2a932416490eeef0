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

/* How many room_members documents have _id (a string) / match (room, user) with an
 * ObjectId _id. */
static int64_t count(chat_db_t *db, bson_t *filter)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, chat_db_name(db), "room_members");
    bson_error_t err;
    int64_t n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err);

    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    bson_destroy(filter);
    return n;
}

static void test_member_id_and_older_documents(void **state)
{
    chat_db_t *db = *state;
    bson_oid_t a = oid(ROOM_A);
    bson_oid_t b = oid(ROOM_B);
    bson_oid_t u1 = oid(USER_1);
    bson_oid_t old_id;
    char key[CHAT_MEMBER_KEY_LEN];
    int64_t deleted = -1;

    /* a new membership's _id is "<room>:<user>" */
    chat_members_key(&a, &u1, key);
    assert_string_equal(key, ROOM_A ":" USER_1);
    add(db, ROOM_A, USER_1, 1000);
    assert_int_equal(count(db, BCON_NEW("_id", BCON_UTF8(key))), 1);
    /* one stored before (an ObjectId _id) is still deleted, by its fields */
    {
        mongoc_client_t *client = chat_db_pop(db);
        mongoc_collection_t *coll =
            mongoc_client_get_collection(client, chat_db_name(db), "room_members");
        bson_t *doc;
        bson_oid_init(&old_id, NULL);
        doc = BCON_NEW("_id", BCON_OID(&old_id), "room_id", BCON_OID(&b), "user_id", BCON_OID(&u1),
                       "role", BCON_UTF8("member"), "joined_at", BCON_DATE_TIME(1000));
        assert_true(mongoc_collection_insert_one(coll, doc, NULL, NULL, NULL));
        bson_destroy(doc);
        mongoc_collection_destroy(coll);
        chat_db_push(db, client);
    }
    assert_int_equal(chat_members_delete(db, &b, &u1, &deleted), CHAT_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(count(db, BCON_NEW("_id", BCON_OID(&old_id))), 0);
    assert_int_equal(chat_members_delete(db, &a, &u1, &deleted), CHAT_OK);
    assert_int_equal(deleted, 1);
    assert_int_equal(count(db, BCON_NEW("_id", BCON_UTF8(key))), 0);
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
        cmocka_unit_test_setup_teardown(test_member_id_and_older_documents, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_load_and_rooms_of_a_user, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_shared_bson_helpers, db_setup, db_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
