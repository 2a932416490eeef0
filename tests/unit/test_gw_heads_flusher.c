/*
 * test_gw_heads_flusher.c - the gateway's room_heads flusher (ws-gateway/heads_flusher.c)
 * against a real MongoDB stand-in (db_fixture.h): heads noted from several threads are
 * written by the flusher's own thread as each room's highest, never lowered; nothing is
 * written before a round is due; what is noted at stop is written then; malformed ids
 * and notes beyond its bound of rooms are refused. Main thread, two noting threads and
 * the flusher's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "chat/clock.h"
#include "chat/messages_repo.h"
#include "db_fixture.h"

#include "heads_flusher.c"

#define ROOM_A "5f0000000000000000000d01"
#define ROOM_B "5f0000000000000000000d02"

typedef struct noter {
    gw_heads_flusher_t *f;
    int64_t from;
} noter_t;

static void *noter_main(void *arg)
{
    noter_t *n = arg;

    for (int64_t seq = n->from; seq < n->from + 500; seq++) {
        assert_true(gw_heads_flusher_note(n->f, seq % 2 ? ROOM_A : ROOM_B, seq));
    }
    return NULL;
}

static void wait_written(gw_heads_flusher_t *f)
{
    int64_t t0 = chat_clock_monotonic_ms();

    while (gw_heads_flusher_pending(f) > 0 && chat_clock_monotonic_ms() - t0 < 10000) {
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    }
    assert_int_equal(gw_heads_flusher_pending(f), 0);
}

static void test_heads_written_by_its_thread(void **state)
{
    chat_db_t *db = *state;
    gw_heads_flusher_t *f = gw_heads_flusher_start(db, 50, 0);
    noter_t a = {f, 1};
    noter_t b = {f, 1001};
    pthread_t ta;
    pthread_t tb;

    assert_non_null(f);
    assert_int_equal(pthread_create(&ta, NULL, noter_main, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, noter_main, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    wait_written(f);
    assert_int_equal(test_room_head(db, ROOM_A), 1499);
    assert_int_equal(test_room_head(db, ROOM_B), 1500);
    /* a lower head noted later never lowers room_heads */
    assert_true(gw_heads_flusher_note(f, ROOM_A, 7));
    wait_written(f);
    assert_int_equal(test_room_head(db, ROOM_A), 1499);
    gw_heads_flusher_stop(f);
}

static void test_rounds_wait_and_stop_writes_the_rest(void **state)
{
    chat_db_t *db = *state;
    gw_heads_flusher_t *f = gw_heads_flusher_start(db, 60000, 0);

    assert_non_null(f);
    assert_true(gw_heads_flusher_note(f, ROOM_A, 42));
    assert_false(gw_heads_flusher_note(f, "not-an-id", 1));
    nanosleep(&(struct timespec){0, 300 * 1000000L}, NULL);
    assert_int_equal(gw_heads_flusher_pending(f), 1);
    assert_int_equal(test_room_head(db, ROOM_A), 0); /* not before its round */
    gw_heads_flusher_stop(f);
    assert_int_equal(test_room_head(db, ROOM_A), 42);
}

static void test_noted_rooms_are_bounded(void **state)
{
    chat_db_t *db = *state;
    gw_heads_flusher_t *f = gw_heads_flusher_start(db, 60000, 100);
    char room[CHAT_ID_LEN];

    assert_non_null(f);
    for (unsigned i = 0; i < 100; i++) {
        snprintf(room, sizeof(room), "5f00000000000000%08x", i);
        assert_true(gw_heads_flusher_note(f, room, 1));
    }
    snprintf(room, sizeof(room), "5f00000000000001%08x", 0u);
    assert_false(gw_heads_flusher_note(f, room, 1));                      /* one room too many */
    assert_true(gw_heads_flusher_note(f, "5f0000000000000000000000", 2)); /* a known one */
    assert_int_equal(gw_heads_flusher_pending(f), 100);
    gw_heads_flusher_stop(f); /* writes the 100, in two commands */
    assert_int_equal(test_room_head(db, "5f0000000000000000000000"), 2);
    assert_int_equal(test_room_head(db, "5f0000000000000000000063"), 1);
    assert_int_equal(test_room_head(db, room), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_heads_written_by_its_thread, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_rounds_wait_and_stop_writes_the_rest, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_noted_rooms_are_bounded, db_setup, db_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
