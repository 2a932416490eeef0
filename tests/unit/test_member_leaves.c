/*
 * test_member_leaves.c - a leave answered before its room_members document is deleted
 * (member_leaves_repo.h, membership.c), against a real MongoDB/FerretDB
 * (CHAT_TEST_MONGO_URI) and Redis (CHAT_TEST_REDIS_URL): every reader subtracts the
 * pending leave, even after the read model is flushed; the membership is deleted after
 * the reply (by the hook's owner, by rest-fcgi's collector thread, or inline without a
 * hook); a second leave of the same membership does nothing; a join finishes a pending
 * leave and outlives its late delete; the sweep finishes orphans and forgets done records.
 * The collector's deletes waiting for a quiet moment: test_write_behind.c.
 * A large room's settled leaves: test_membership_leaves.c.
 * Main thread, plus the collector's thread in one part.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/clock.h"
#include "chat/db.h"
#include "chat/write_behind.h"
#include "chat/member_cache.h"
#include "chat/member_leaves_repo.h"
#include "chat/membership.h"
#include "chat/membership_leaves.h"
#include "chat/messages_repo.h"
#include "chat/room_members_repo.h"
#include "chat/rooms_repo.h"

#include "db_fixture.h"

#define ALICE "660000000000000000000001"
#define BOB "660000000000000000000002"
#define CAROL "660000000000000000000003"

/* A leave_later hook that keeps the leave and deletes nothing (the reply is "out"). */
typedef struct kept {
    chat_member_leave_t leaves[4];
    size_t n;
} kept_t;

static bool keep_leave(void *arg, const struct chat_member_leave *l)
{
    kept_t *k = arg;

    if (k->n == 4) {
        return false;
    }
    k->leaves[k->n++] = *l;
    return true;
}

static bool note_leave(void *arg, const struct chat_member_leave *l)
{
    return chat_write_behind_note_leave(arg, l);
}

static void flush_read_model(chat_store_t *st)
{
    redisReply *reply = chat_redis_command(st->redis, "FLUSHDB");

    assert_non_null(reply);
    freeReplyObject(reply);
}

/* What every reader of room_members says of (room, user): 1 = a member, 0 = not. */
static void assert_readers_say(chat_store_t *st, const char *room, const char *user, bool member)
{
    bson_oid_t r;
    bson_oid_t u;
    bool found = !member;
    chat_member_row_t *rows = NULL;
    bson_oid_t *oids = NULL;
    chat_member_pair_t *pairs = NULL;
    size_t n = 0;
    bool in_rows = false;
    bool in_oids = false;
    bool in_pairs = false;

    bson_oid_init_from_string(&r, room);
    bson_oid_init_from_string(&u, user);
    assert_int_equal(chat_members_contains(st->db, &r, &u, &found), CHAT_OK);
    assert_int_equal(found, member);
    assert_int_equal(chat_members_of_room(st->db, &r, &rows, &n), CHAT_OK);
    for (size_t i = 0; i < n; i++) {
        in_rows = in_rows || strcmp(rows[i].user_id, user) == 0;
    }
    free(rows);
    assert_int_equal(in_rows, member);
    assert_int_equal(chat_members_room_oids(st->db, &u, &oids, &n), CHAT_OK);
    for (size_t i = 0; i < n; i++) {
        in_oids = in_oids || bson_oid_equal(&oids[i], &r);
    }
    free(oids);
    assert_int_equal(in_oids, member);
    for (int one = 0; one < 2; one++) { /* {$in: [user]}, and everybody's */
        assert_int_equal(chat_members_of_users(st->db, one ? &u : NULL, one ? 1 : 0, 0, &pairs, &n),
                         CHAT_OK);
        in_pairs = false;
        for (size_t i = 0; i < n; i++) {
            in_pairs = in_pairs ||
                (bson_oid_equal(&pairs[i].room, &r) && bson_oid_equal(&pairs[i].user, &u));
        }
        free(pairs);
        assert_int_equal(in_pairs, member);
    }
    /* and the read model rebuilt from them */
    flush_read_model(st);
    found = !member;
    assert_int_equal(chat_member_check(st, room, user, &found), CHAT_OK);
    assert_int_equal(found, member);
}

static void test_a_leave_answers_before_its_membership_is_deleted(void **state)
{
    chat_store_t *st = *state;
    chat_store_t later = *st;
    kept_t k = {.n = 0};
    chat_room_t r = {0};
    bool changed = false;
    int64_t seq = -1;

    assert_int_equal(chat_rooms_create(st->db, "leaves", "", false, ALICE, &r), CHAT_OK);
    test_join(st, r.id, BOB, &changed);
    assert_true(changed);
    later.leave_later = keep_leave;
    later.later_arg = &k;
    test_leave(&later, r.id, BOB, &changed);
    assert_true(changed);
    assert_int_equal(k.n, 1);
    /* answered: the leave is durable, the membership document still there */
    assert_int_equal(test_count_docs(st->db, "room_members", r.id, BOB), 1);
    assert_int_equal(test_count_docs(st->db, "member_leaves", r.id, BOB), 1);
    assert_int_equal(chat_messages_last_seq(st->db, r.id, &seq), CHAT_OK);
    assert_int_equal(seq, 2); /* "u left the room" is stored */
    assert_readers_say(st, r.id, BOB, false);
    assert_readers_say(st, r.id, ALICE, true);

    /* the same membership left again (a check that ran before this leave took it out
     * of the sets): the record's unique key refuses, nothing is posted */
    {
        bool found = true;
        assert_int_equal(chat_member_check(st, r.id, BOB, &found), CHAT_OK); /* built */
        assert_false(found);
        assert_int_equal(chat_member_cache_change(st, r.id, BOB, true, 1), CHAT_OK);
        assert_int_equal(chat_member_check(st, r.id, BOB, &found), CHAT_OK);
        assert_true(found); /* the stale check */
    }
    test_leave(st, r.id, BOB, &changed);
    assert_false(changed);
    assert_int_equal(chat_messages_last_seq(st->db, r.id, &seq), CHAT_OK);
    assert_int_equal(seq, 2);
    assert_readers_say(st, r.id, BOB, false);

    /* behind the reply: the membership goes, the record stays (done) for a while */
    assert_int_equal(chat_membership_leaves_finish(st->db, &k.leaves[0], 1), CHAT_OK);
    assert_int_equal(test_count_docs(st->db, "room_members", r.id, BOB), 0);
    assert_int_equal(test_count_docs(st->db, "member_leaves", r.id, BOB), 1);
    assert_readers_say(st, r.id, BOB, false);

    /* without a hook: deleted before the leave returns */
    test_join(st, r.id, CAROL, &changed);
    test_leave(st, r.id, CAROL, &changed);
    assert_true(changed);
    assert_int_equal(test_count_docs(st->db, "room_members", r.id, CAROL), 0);
    assert_readers_say(st, r.id, CAROL, false);
    chat_room_clear(&r);
}

static void test_a_join_finishes_a_pending_leave(void **state)
{
    chat_store_t *st = *state;
    chat_store_t later = *st;
    kept_t k = {.n = 0};
    chat_room_t r = {0};
    bool changed = false;

    assert_int_equal(chat_rooms_create(st->db, "rejoin", "", false, ALICE, &r), CHAT_OK);
    test_join(st, r.id, BOB, &changed);
    later.leave_later = keep_leave;
    later.later_arg = &k;
    test_leave(&later, r.id, BOB, &changed);
    assert_true(changed);
    /* back at once, before the leave's delete ran */
    test_join(st, r.id, BOB, &changed);
    assert_true(changed);
    assert_int_equal(test_count_docs(st->db, "room_members", r.id, BOB), 1);
    assert_int_equal(test_count_docs(st->db, "member_leaves", r.id, BOB), 0);
    assert_readers_say(st, r.id, BOB, true);
    /* the late delete of the old membership leaves the new one alone */
    assert_int_equal(chat_membership_leaves_finish(st->db, &k.leaves[0], 1), CHAT_OK);
    assert_int_equal(test_count_docs(st->db, "room_members", r.id, BOB), 1);
    assert_readers_say(st, r.id, BOB, true);
    /* and leaving again works (no record stands in the way) */
    test_leave(st, r.id, BOB, &changed);
    assert_true(changed);
    assert_readers_say(st, r.id, BOB, false);

    /* a leave whose delete ran but whose record is still there: the join forgets it and
     * begins after it */
    k.n = 0;
    test_join(st, r.id, CAROL, &changed);
    test_leave(&later, r.id, CAROL, &changed);
    assert_int_equal(chat_membership_leaves_finish(st->db, &k.leaves[0], 1), CHAT_OK);
    test_join(st, r.id, CAROL, &changed);
    assert_true(changed);
    assert_int_equal(test_count_docs(st->db, "member_leaves", r.id, CAROL), 0);
    assert_readers_say(st, r.id, CAROL, true);
    chat_room_clear(&r);
}

static void test_the_sweep(void **state)
{
    chat_store_t *st = *state;
    chat_room_t r = {0};
    chat_member_leave_t orphan;
    chat_member_leave_t fresh;
    chat_member_leave_t old_done;
    bson_oid_t room;
    bson_oid_t bob;
    bson_oid_t carol;
    bson_oid_t dave;
    bool changed = false;
    size_t finished = 9;
    int64_t now = chat_clock_now_ms();

    assert_int_equal(chat_rooms_create(st->db, "sweep", "", false, ALICE, &r), CHAT_OK);
    test_join(st, r.id, CAROL, &changed);
    bson_oid_init_from_string(&room, r.id);
    bson_oid_init_from_string(&bob, BOB);
    /* bob joined long ago */
    assert_int_equal(chat_members_insert(st->db, &room, &bob, "member",
                                         now - CHAT_MEMBER_LEAVE_ORPHAN_MS - 9000),
                     CHAT_OK);
    bson_oid_init_from_string(&carol, CAROL);
    bson_oid_init_from_string(&dave, "660000000000000000000004");
    /* bob: a process died right after recording his leave, long ago */
    assert_int_equal(chat_member_leave_record(st->db, &room, &bob,
                                              now - CHAT_MEMBER_LEAVE_ORPHAN_MS - 1000, &orphan),
                     CHAT_OK);
    /* carol: a leave still running (its record is young): not touched */
    assert_int_equal(chat_member_leave_record(st->db, &room, &carol, chat_clock_now_ms(), &fresh),
                     CHAT_OK);
    /* dave: done and older than the keep */
    assert_int_equal(chat_member_leave_record(st->db, &room, &dave,
                                              now - CHAT_MEMBER_LEAVE_KEEP_MS - 1000, &old_done),
                     CHAT_OK);
    assert_int_equal(chat_member_leaves_mark_done(st->db, &old_done, 1), CHAT_OK);
    /* a second record for the same pair is refused */
    {
        chat_member_leave_t twice;
        assert_int_equal(chat_member_leave_record(st->db, &room, &carol, now, &twice),
                         CHAT_ERR_CONFLICT);
    }
    assert_int_equal(chat_membership_leaves_sweep(st->db, now, &finished), CHAT_OK);
    assert_int_equal(finished, 1);
    assert_int_equal(test_count_docs(st->db, "room_members", r.id, BOB), 0);
    assert_int_equal(test_count_docs(st->db, "member_leaves", r.id, BOB), 0);
    assert_int_equal(test_count_docs(st->db, "room_members", r.id, CAROL), 1);
    assert_int_equal(test_count_docs(st->db, "member_leaves", r.id, CAROL), 1);
    assert_int_equal(test_count_docs(st->db, "member_leaves", r.id, "660000000000000000000004"), 0);
    assert_readers_say(st, r.id, CAROL, false); /* recorded is left, swept or not */
    chat_room_clear(&r);
}

/* Leaves finished together: one delete per room, and a member who came back between
 * their leave and the delete keeps the new membership. */
static void test_leaves_finished_in_one_go(void **state)
{
    chat_store_t *st = *state;
    chat_store_t later = *st;
    kept_t k = {.n = 0};
    chat_room_t r1 = {0};
    chat_room_t r2 = {0};
    bool changed = false;

    assert_int_equal(chat_rooms_create(st->db, "one", "", false, ALICE, &r1), CHAT_OK);
    assert_int_equal(chat_rooms_create(st->db, "two", "", false, ALICE, &r2), CHAT_OK);
    test_join(st, r1.id, BOB, &changed);
    test_join(st, r1.id, CAROL, &changed);
    test_join(st, r2.id, BOB, &changed);
    later.leave_later = keep_leave;
    later.later_arg = &k;
    test_leave(&later, r1.id, BOB, &changed);
    test_leave(&later, r2.id, BOB, &changed);
    test_leave(&later, r1.id, CAROL, &changed);
    assert_int_equal(k.n, 3);
    assert_int_equal(k.leaves[0].room_members, 2); /* alice and carol left in r1: small */
    /* carol is back in r1 before the delete; the join took her leave record over */
    test_join(st, r1.id, CAROL, &changed);
    assert_true(changed);
    assert_int_equal(chat_membership_leaves_finish(st->db, k.leaves, k.n), CHAT_OK);
    assert_int_equal(test_count_docs(st->db, "room_members", r1.id, BOB), 0);
    assert_int_equal(test_count_docs(st->db, "room_members", r2.id, BOB), 0);
    assert_int_equal(test_count_docs(st->db, "room_members", r1.id, CAROL), 1);
    assert_int_equal(test_count_docs(st->db, "room_members", r1.id, ALICE), 1);
    assert_readers_say(st, r1.id, CAROL, true);
    assert_readers_say(st, r1.id, BOB, false);
    assert_readers_say(st, r2.id, BOB, false);
    chat_room_clear(&r1);
    chat_room_clear(&r2);
}

/* More records than CHAT_MEMBER_LEAVES_MAX (the database refused deletes for long):
 * reads answer "unavailable" rather than guess, and the sweep still works them down a
 * page at a time. */
static void test_a_backlog_is_refused_and_swept(void **state)
{
    chat_store_t *st = *state;
    mongoc_client_t *client = chat_db_pop(st->db);
    mongoc_collection_t *c =
        mongoc_client_get_collection(client, chat_db_name(st->db), "member_leaves");
    size_t n = CHAT_MEMBER_LEAVES_MAX + 1;
    bson_t **docs = calloc(n, sizeof(*docs));
    int64_t old = chat_clock_now_ms() - CHAT_MEMBER_LEAVE_ORPHAN_MS - 1000;
    chat_member_leaves_t ls = {NULL, 0};
    chat_member_pair_t *pairs = NULL;
    size_t n_pairs = 0;
    size_t finished = 9;
    bson_oid_t room;
    bson_oid_t bob;
    bson_error_t err;

    assert_non_null(docs);
    for (size_t i = 0; i < n; i++) { /* done long ago: the sweep only forgets them */
        bson_oid_t r;
        bson_oid_t u;
        bson_oid_init(&r, NULL);
        bson_oid_init(&u, NULL);
        docs[i] = BCON_NEW("room_id", BCON_OID(&r), "user_id", BCON_OID(&u), "at",
                           BCON_DATE_TIME(old), "done", BCON_BOOL(true));
    }
    assert_true(mongoc_collection_insert_many(c, (const bson_t **)docs, n, NULL, NULL, &err));
    for (size_t i = 0; i < n; i++) {
        bson_destroy(docs[i]);
    }
    free(docs);
    mongoc_collection_destroy(c);
    chat_db_push(st->db, client);

    bson_oid_init_from_string(&room, "670000000000000000000001");
    bson_oid_init_from_string(&bob, BOB);
    assert_int_equal(chat_members_insert(st->db, &room, &bob, "member", 1), CHAT_OK);
    assert_int_equal(chat_member_leaves_load(st->db, NULL, NULL, 0, &ls), CHAT_ERR_UNAVAILABLE);
    assert_int_equal(chat_members_of_users(st->db, NULL, 0, 0, &pairs, &n_pairs),
                     CHAT_ERR_UNAVAILABLE);
    assert_null(pairs);
    /* the sweep's read takes a page */
    assert_int_equal(chat_member_leaves_load(st->db, NULL, NULL, chat_clock_now_ms(), &ls),
                     CHAT_OK);
    assert_int_equal(ls.n, CHAT_MEMBER_LEAVES_MAX);
    chat_member_leaves_clear(&ls);
    assert_int_equal(chat_membership_leaves_sweep(st->db, chat_clock_now_ms(), &finished), CHAT_OK);
    assert_int_equal(finished, 0);
    assert_int_equal(chat_member_leaves_load(st->db, NULL, NULL, 0, &ls), CHAT_OK);
    assert_int_equal(ls.n, 0);
    assert_int_equal(chat_members_of_users(st->db, NULL, 0, 0, &pairs, &n_pairs), CHAT_OK);
    assert_int_equal(n_pairs, 1);
    free(pairs);
}

static void test_the_collector_thread_deletes_after_the_reply(void **state)
{
    chat_store_t *st = *state;
    chat_store_t later = *st;
    chat_write_behind_t *h = chat_write_behind_start(st->db);
    chat_room_t r = {0};
    bool changed = false;

    assert_non_null(h);
    assert_int_equal(chat_rooms_create(st->db, "thread", "", false, ALICE, &r), CHAT_OK);
    test_join(st, r.id, BOB, &changed);
    later.leave_later = note_leave;
    later.later_arg = h;
    test_leave(&later, r.id, BOB, &changed);
    assert_true(changed);
    for (int i = 0; i < 500 &&
         (chat_write_behind_pending(h) > 0 ||
          test_count_docs(st->db, "room_members", r.id, BOB) > 0);
         i++) {
        usleep(10000);
    }
    assert_int_equal(test_count_docs(st->db, "room_members", r.id, BOB), 0);
    /* what is noted when it stops is finished too */
    {
        chat_member_leave_t l;
        bson_oid_t room;
        bson_oid_t alice;
        bson_oid_init_from_string(&room, r.id);
        bson_oid_init_from_string(&alice, ALICE);
        assert_int_equal(chat_member_leave_record(st->db, &room, &alice, chat_clock_now_ms(), &l),
                         CHAT_OK);
        assert_true(chat_write_behind_note_leave(h, &l));
    }
    chat_write_behind_destroy(h, st->db);
    assert_int_equal(test_count_docs(st->db, "room_members", r.id, ALICE), 0);
    chat_room_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_leave_answers_before_its_membership_is_deleted,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_a_join_finishes_a_pending_leave, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_the_sweep, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_leaves_finished_in_one_go, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_a_backlog_is_refused_and_swept, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_the_collector_thread_deletes_after_the_reply,
                                        store_setup, store_teardown),
    };
    return DB_FIXTURE_RUN(tests);
}
