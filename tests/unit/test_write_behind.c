/*
 * test_write_behind.c - room_heads raised behind the reply (write_behind.h) through the
 * membership path that uses it, against a real MongoDB/FerretDB (CHAT_TEST_MONGO_URI)
 * and Redis (CHAT_TEST_REDIS_URL): inline without a hook, only at the flush with one,
 * inline again when the hook refuses or the collector is full, and written by the
 * collector's own thread (rest-fcgi's mode), including what is left at destroy; and the
 * collector's leave deletes waiting for a moment without requests, within a bound. Main
 * thread, plus the collector's thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chat/db.h"
#include "chat/write_behind.h"
#include "chat/clock.h"
#include "chat/member_leaves_repo.h"
#include "chat/membership.h"
#include "chat/messages_repo.h"
#include "chat/rooms_repo.h"

#include "db_fixture.h"

#define ALICE "660000000000000000000001"
#define BOB "660000000000000000000002"
#define CAROL "660000000000000000000003"

/* room_heads of a join's system message: raised before the join returns without a
 * head_later hook; with one, only when the owner flushes (after its reply), and then to
 * the system message's seq. A full collector, or a refusing hook, writes it inline. */
static bool refuse_head(void *arg, const char *room_id, int64_t seq)
{
    (void)arg;
    (void)room_id;
    (void)seq;
    return false;
}

static bool note_head(void *arg, const char *room_id, int64_t seq)
{
    return chat_write_behind_note_head(arg, room_id, seq);
}

static bool note_leave(void *arg, const struct chat_member_leave *l)
{
    return chat_write_behind_note_leave(arg, l);
}

static void test_room_heads_after_the_reply(void **state)
{
    chat_store_t *st = *state;
    chat_store_t later = *st;
    chat_write_behind_t *h = chat_write_behind_create();
    chat_room_t r = {0};
    chat_room_t after = {0};
    bool changed = false;

    assert_non_null(h);
    assert_int_equal(chat_rooms_create(st->db, "heads", "", false, ALICE, &r), CHAT_OK);
    /* no hook: inline */
    assert_int_equal(chat_membership_join(st, r.id, BOB, "bob", false, &after, NULL, &changed),
                     CHAT_OK);
    chat_room_clear(&after);
    assert_int_equal(test_room_head(st->db, r.id), 1);

    later.head_later = note_head;
    later.later_arg = h;
    assert_int_equal(
        chat_membership_join(&later, r.id, CAROL, "carol", false, &after, NULL, &changed), CHAT_OK);
    chat_room_clear(&after);
    assert_true(changed);
    {
        int64_t seq = -1;
        assert_int_equal(chat_messages_last_seq(st->db, r.id, &seq), CHAT_OK);
        assert_int_equal(seq, 2); /* the message is stored... */
    }
    assert_int_equal(test_room_head(st->db, r.id), 1); /* not yet */
    assert_int_equal(chat_write_behind_pending(h), 1);
    assert_int_equal(
        chat_membership_leave(&later, r.id, CAROL, "carol", false, &after, NULL, &changed),
        CHAT_OK);
    chat_room_clear(&after);
    assert_int_equal(chat_write_behind_pending(h), 1); /* the same room: one entry, max seq */
    chat_write_behind_flush(h, st->db);
    assert_int_equal(chat_write_behind_pending(h), 0);
    assert_int_equal(test_room_head(st->db, r.id), 3);

    /* a hook that refuses: inline again */
    later.head_later = refuse_head;
    assert_int_equal(
        chat_membership_join(&later, r.id, CAROL, "carol", false, &after, NULL, &changed), CHAT_OK);
    chat_room_clear(&after);
    assert_int_equal(test_room_head(st->db, r.id), 4);

    /* the collector is bounded and refuses malformed ids */
    assert_false(chat_write_behind_note_head(h, "not-an-id", 1));
    for (int i = 0; i < CHAT_WRITE_BEHIND_MAX; i++) {
        char id[32];
        snprintf(id, sizeof(id), "6700000000000000000000%02x", i);
        assert_true(chat_write_behind_note_head(h, id, i + 1));
    }
    assert_false(chat_write_behind_note_head(h, "670000000000000000000fff", 1));
    assert_true(chat_write_behind_note_head(h, "670000000000000000000001", 9)); /* known room */
    chat_write_behind_flush(h, st->db);
    assert_int_equal(test_room_head(st->db, "670000000000000000000001"), 9);
    assert_int_equal(test_room_head(st->db, "67000000000000000000003f"), 64);
    chat_write_behind_destroy(h, st->db);

    /* with a thread of its own (rest-fcgi): written without anybody flushing */
    h = chat_write_behind_start(st->db);
    assert_non_null(h);
    later.head_later = note_head;
    later.later_arg = h;
    assert_int_equal(
        chat_membership_leave(&later, r.id, CAROL, "carol", false, &after, NULL, &changed),
        CHAT_OK);
    chat_room_clear(&after);
    assert_true(changed);
    for (int i = 0;
         i < 500 && (chat_write_behind_pending(h) > 0 || test_room_head(st->db, r.id) < 5); i++) {
        usleep(10000);
    }
    assert_int_equal(test_room_head(st->db, r.id), 5);
    assert_int_equal(chat_write_behind_pending(h), 0);
    /* what is noted when it stops is written too */
    assert_true(chat_write_behind_note_head(h, r.id, 7));
    chat_write_behind_destroy(h, st->db);
    assert_int_equal(test_room_head(st->db, r.id), 7);
    chat_room_clear(&r);
}

/* Milliseconds until (room, user)'s membership is gone, polling every 50 ms for at most
 * limit_ms (then limit_ms + 1). */
static int64_t ms_until_deleted(chat_store_t *st, const char *room, const char *user,
                                int64_t limit_ms)
{
    int64_t t0 = chat_clock_monotonic_ms();

    while (test_count_docs(st->db, "room_members", room, user) > 0) {
        if (chat_clock_monotonic_ms() - t0 > limit_ms) {
            return limit_ms + 1;
        }
        usleep(50000);
    }
    return chat_clock_monotonic_ms() - t0;
}

/* The deletes are scans that slow the requests beside them: while the owner serves
 * requests they wait (past CHAT_WRITE_BEHIND_LEAVES_WAIT_MS), run once it has been quiet
 * for CHAT_WRITE_BEHIND_QUIET_MS, and at most CHAT_WRITE_BEHIND_QUIET_MAX_WAIT_MS late
 * when it never is; a full list goes at once. */
static void test_the_collector_waits_for_a_quiet_moment(void **state)
{
    chat_store_t *st = *state;
    chat_store_t later = *st;
    chat_write_behind_t *h = chat_write_behind_start(st->db);
    chat_room_t r = {0};
    bool changed = false;
    int64_t ms;

    assert_non_null(h);
    assert_int_equal(chat_rooms_create(st->db, "quiet", "", false, ALICE, &r), CHAT_OK);
    test_join(st, r.id, BOB, &changed);
    test_join(st, r.id, CAROL, &changed);
    later.leave_later = note_leave;
    later.later_arg = h;

    /* busy: still there well past the gather wait; deleted soon after the request ends */
    chat_write_behind_request_begin(h);
    test_leave(&later, r.id, BOB, &changed);
    assert_true(changed);
    ms = ms_until_deleted(st, r.id, BOB, CHAT_WRITE_BEHIND_LEAVES_WAIT_MS + 1500);
    assert_true(ms > CHAT_WRITE_BEHIND_LEAVES_WAIT_MS + 1500);
    assert_int_equal(chat_write_behind_pending(h), 1);
    chat_write_behind_request_end(h);
    ms = ms_until_deleted(st, r.id, BOB, 3000);
    assert_true(ms <= 3000);

    /* never quiet (a request begins and ends every 50 ms): deleted at the bound */
    test_leave(&later, r.id, CAROL, &changed);
    {
        int64_t t0 = chat_clock_monotonic_ms();
        int64_t limit = CHAT_WRITE_BEHIND_LEAVES_WAIT_MS + CHAT_WRITE_BEHIND_QUIET_MAX_WAIT_MS;
        while (test_count_docs(st->db, "room_members", r.id, CAROL) > 0 &&
               chat_clock_monotonic_ms() - t0 < limit + 3000) {
            chat_write_behind_request_begin(h);
            usleep(50000);
            chat_write_behind_request_end(h);
        }
        ms = chat_clock_monotonic_ms() - t0;
        assert_int_equal(test_count_docs(st->db, "room_members", r.id, CAROL), 0);
        assert_true(ms >= limit - 500);
    }

    /* busy, but the list is full: written at once (records of nobody: nothing to delete) */
    chat_write_behind_request_begin(h);
    for (size_t i = 0; i < CHAT_WRITE_BEHIND_LEAVES_MAX; i++) {
        chat_member_leave_t l = {0};
        bson_oid_init_from_string(&l.room, r.id);
        bson_oid_init(&l.id, NULL);
        bson_oid_init(&l.user, NULL);
        l.at_ms = chat_clock_now_ms();
        l.room_members = 2;
        assert_true(chat_write_behind_note_leave(h, &l));
    }
    for (int i = 0; i < 300 && chat_write_behind_pending(h) > 0; i++) {
        usleep(10000);
    }
    assert_int_equal(chat_write_behind_pending(h), 0);
    chat_write_behind_request_end(h);
    chat_write_behind_destroy(h, st->db);
    chat_room_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_room_heads_after_the_reply, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_the_collector_waits_for_a_quiet_moment, store_setup,
                                        store_teardown),
    };
    return DB_FIXTURE_RUN(tests);
}
