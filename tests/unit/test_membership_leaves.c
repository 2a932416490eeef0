/*
 * test_membership_leaves.c - a large room's leaves settled together
 * (membership_leaves.h): one $in delete under the latest leave's bound once the records
 * are old enough and read again, a member who came back since keeps the new membership,
 * and rest-fcgi's collector keeps such leaves until then (write_behind.h). Against a real
 * MongoDB/FerretDB (CHAT_TEST_MONGO_URI) and Redis (CHAT_TEST_REDIS_URL). Main thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/db.h"
#include "chat/member_leaves_repo.h"
#include "chat/membership_leaves.h"
#include "chat/room_members_repo.h"
#include "chat/store.h"
#include "chat/write_behind.h"

#include "db_fixture.h"

#define BOB "660000000000000000000002"

/* Whether (room, user) has a record and it is marked done. */
static bool record_done(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user)
{
    chat_member_leaves_t ls = {NULL, 0};
    bool done;

    assert_int_equal(chat_member_leaves_load(db, room, user, 0, &ls), CHAT_OK);
    done = ls.n == 1 && ls.v[0].done;
    chat_member_leaves_clear(&ls);
    return done;
}

/* Leaves of a large room old enough to settle go in one $in delete under the latest
 * leave's bound; the records are read again first, so a member who came back since (a
 * join forgot their record) keeps the new membership even though it began before that
 * bound. A young leave is finished on its own exact bound. */
static void test_settled_leaves_of_a_large_room(void **state)
{
    chat_store_t *st = *state;
    int64_t now = chat_clock_now_ms();
    int64_t old = now - CHAT_MEMBER_LEAVE_SETTLE_MS - 10000;
    const char *ids[4] = {"660000000000000000000011", "660000000000000000000012",
                          "660000000000000000000013", "660000000000000000000014"};
    int64_t at[4] = {old, old + 5000, old, now - 1000}; /* u2's is the latest settled */
    chat_member_leave_t noted[4];
    bson_oid_t room;
    bson_oid_t u[4];
    int64_t rejoined = old;

    bson_oid_init_from_string(&room, "670000000000000000000002");
    for (int i = 0; i < 4; i++) {
        bson_oid_init_from_string(&u[i], ids[i]);
        assert_int_equal(chat_members_insert(st->db, &room, &u[i], "member", old - 60000), CHAT_OK);
        assert_int_equal(chat_member_leave_record(st->db, &room, &u[i], at[i], &noted[i]), CHAT_OK);
        /* large enough that two leaves cost more one by one than one $in */
        noted[i].room_members = 251;
    }
    /* u3 came back after the leave, before the settle: the join took the record over and
     * began between u3's leave and u2's (the batch's bound) */
    assert_int_equal(chat_membership_leaves_take_over(st->db, &room, &u[2], &rejoined), CHAT_OK);
    assert_int_equal(rejoined, old + 1);
    assert_int_equal(chat_members_insert(st->db, &room, &u[2], "member", old + 1000), CHAT_OK);

    assert_int_equal(chat_membership_leaves_settle(st->db, noted, 4, now), CHAT_OK);
    assert_int_equal(test_count_docs(st->db, "room_members", "670000000000000000000002", ids[0]),
                     0);
    assert_int_equal(test_count_docs(st->db, "room_members", "670000000000000000000002", ids[1]),
                     0);
    assert_int_equal(test_count_docs(st->db, "room_members", "670000000000000000000002", ids[2]),
                     1);
    assert_int_equal(test_count_docs(st->db, "room_members", "670000000000000000000002", ids[3]),
                     0);
    assert_true(record_done(st->db, &room, &u[0]));
    assert_true(record_done(st->db, &room, &u[1]));
    assert_true(record_done(st->db, &room, &u[3]));
    assert_int_equal(test_count_docs(st->db, "member_leaves", "670000000000000000000002", ids[2]),
                     0);

    /* that one command was used, with the batch's bound: a membership that (in this
     * test only) began after its own user's leave but before the latest goes too; one
     * delete each, on its own bound, would have left it */
    {
        bson_oid_t v[2];
        chat_member_leave_t two[2];
        bson_oid_init_from_string(&v[0], "660000000000000000000015");
        bson_oid_init_from_string(&v[1], "660000000000000000000016");
        for (int i = 0; i < 2; i++) {
            assert_int_equal(
                chat_member_leave_record(st->db, &room, &v[i], old + 5000 * i, &two[i]), CHAT_OK);
            two[i].room_members = 251;
        }
        assert_int_equal(chat_members_insert(st->db, &room, &v[0], "member", old + 2000), CHAT_OK);
        assert_int_equal(chat_members_insert(st->db, &room, &v[1], "member", old - 60000), CHAT_OK);
        assert_int_equal(chat_membership_leaves_settle(st->db, two, 2, now), CHAT_OK);
        assert_int_equal(test_count_docs(st->db, "room_members", "670000000000000000000002",
                                         "660000000000000000000015"),
                         0);
        assert_true(record_done(st->db, &room, &v[0]));
    }
}

/* A large room's leave waits in the collector for its settle; a flush finishes it. */
static void test_the_collector_keeps_a_large_rooms_leave(void **state)
{
    chat_store_t *st = *state;
    chat_write_behind_t *h = chat_write_behind_create();
    chat_member_leave_t l;
    bson_oid_t room;
    bson_oid_t bob;

    assert_non_null(h);
    bson_oid_init_from_string(&room, "670000000000000000000003");
    bson_oid_init_from_string(&bob, BOB);
    assert_int_equal(chat_members_insert(st->db, &room, &bob, "member", 1), CHAT_OK);
    assert_int_equal(chat_member_leave_record(st->db, &room, &bob, chat_clock_now_ms(), &l),
                     CHAT_OK);
    l.room_members = CHAT_WRITE_BEHIND_LARGE_ROOM + 1;
    for (size_t i = 0; i < CHAT_WRITE_BEHIND_SETTLE_MAX; i++) {
        assert_true(chat_write_behind_note_leave(h, &l));
    }
    assert_false(chat_write_behind_note_leave(h, &l)); /* full: the caller finishes it */
    assert_int_equal(chat_write_behind_pending(h), CHAT_WRITE_BEHIND_SETTLE_MAX);
    assert_int_equal(test_count_docs(st->db, "room_members", "670000000000000000000003", BOB), 1);
    chat_write_behind_flush(h, st->db);
    assert_int_equal(chat_write_behind_pending(h), 0);
    assert_int_equal(test_count_docs(st->db, "room_members", "670000000000000000000003", BOB), 0);
    assert_true(record_done(st->db, &room, &bob));
    chat_write_behind_destroy(h, st->db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_settled_leaves_of_a_large_room, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_the_collector_keeps_a_large_rooms_leave, store_setup,
                                        store_teardown),
    };
    return DB_FIXTURE_RUN(tests);
}
