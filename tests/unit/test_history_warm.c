/*
 * test_history_warm.c - chat_history_warm_all (history_warm.h) on a real MongoDB
 * stand-in and Redis (db_fixture.h store fixture, window 50): one read builds the window
 * of every room that has messages (the newest 50 of a longer room, all of a short one),
 * and the pages read afterwards come from those windows; what is held is bounded by
 * the windows, not the collection; windows that do not fit at once take more reads (of
 * their rooms only), up to a bound of reads, the rest left to the rooms' first looks; a
 * collection over the bound of what is stored is not read; a window already ready is
 * left as it is; another process's warm-up lock,
 * or a warm-up finished for the same Redis run, means nothing is read here; asked to look
 * at the rooms first, fewer than two rooms without a ready window mean no read either
 * (readers rebuilt them), two or more one read. Single-threaded test process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/history.h"
#include "chat/history_warm.h"
#include "chat/keys.h"
#include "chat/messages_repo.h"
#include "chat/model.h"
#include "chat/redis_lock.h"
#include "chat/redis_sync.h"
#include "chat/rooms_repo.h"
#include "chat/store.h"
#include "db_fixture.h"
#include "messages_fixture.h"

#define ROOM_LONG ROOM_A
#define ROOM_SHORT ROOM_B

static void store_n(chat_store_t *s, const char *room, int n)
{
    fill_room(s->db, room, n); /* contents "m1".."m<n>", seqs 1..n */
}

static long long redis_int(chat_store_t *s, const char *fmt, const char *room)
{
    redisReply *r = chat_redis_command(s->redis, fmt, room);
    long long v = -1;

    assert_non_null(r);
    if (r->type == REDIS_REPLY_INTEGER) {
        v = r->integer;
    } else if (r->type == REDIS_REPLY_STRING) {
        v = atoll(r->str);
    }
    freeReplyObject(r);
    return v;
}

/* The window of room holds exactly seqs lo..hi (meta and sorted set agree). */
static void expect_window(chat_store_t *s, const char *room, long long lo, long long hi)
{
    assert_int_equal(redis_int(s, "HGET chat:{%s}:meta lo", room), lo);
    assert_int_equal(redis_int(s, "HGET chat:{%s}:meta hi", room), hi);
    assert_int_equal(redis_int(s, "ZCARD chat:{%s}:win", room), hi - lo + 1);
}

static void flush(chat_store_t *s)
{
    redisReply *r = chat_redis_command(s->redis, "FLUSHALL");

    assert_non_null(r);
    freeReplyObject(r);
}

static void test_one_read_builds_every_window(void **state)
{
    chat_store_t *s = *state;
    chat_history_warm_t w = {.max_messages = 1000};
    chat_history_page_t page;
    bool done = true;

    store_n(s, ROOM_LONG, 80);
    store_n(s, ROOM_SHORT, 7);
    flush(s);
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_int_equal(w.read, 87);
    assert_int_equal(w.rooms_built, 2);
    assert_int_equal(w.rooms_left, 0);
    assert_false(w.too_many);
    expect_window(s, ROOM_LONG, 31, 80);
    expect_window(s, ROOM_SHORT, 1, 7);
    memset(&page, 0, sizeof(page));
    assert_int_equal(chat_history_read(s, ROOM_LONG, CHAT_WINDOW_LATEST, 0, 50, &page), CHAT_OK);
    assert_int_equal(page.source, CHAT_HISTORY_FROM_WINDOW);
    assert_int_equal(page.total, 80);
    assert_int_equal(page.n, 50);
    for (size_t i = 0; i < page.n; i++) {
        char want[32];
        assert_int_equal(page.seqs[i], 31 + (int64_t)i);
        snprintf(want, sizeof(want), "\"m%d\"", 31 + (int)i);
        assert_non_null(strstr(page.json[i], want));
    }
    chat_history_page_clear(&page);
    /* the same Redis run again (another gateway, a later cold batch): nothing is read */
    assert_int_equal(chat_history_warm_done(s, &done), CHAT_OK);
    assert_true(done);
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_true(w.already);
    assert_int_equal(w.read, 0);
    /* a flushed Redis is warmed again: the mark is gone with it */
    flush(s);
    assert_int_equal(chat_history_warm_done(s, &done), CHAT_OK);
    assert_false(done);
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_false(w.already);
    assert_int_equal(w.read, 87);
    assert_int_equal(w.rooms_built, 2);
    expect_window(s, ROOM_SHORT, 1, 7);
}

static void test_no_messages_builds_nothing(void **state)
{
    chat_store_t *s = *state;
    chat_history_warm_t w = {.max_messages = 1000};

    /* a first start: nothing stored (UBSan caught a qsort of no array here) */
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_int_equal(w.read, 0);
    assert_int_equal(w.rooms_built, 0);
    assert_false(w.too_many);
}

static void test_over_the_bound_reads_nothing(void **state)
{
    chat_store_t *s = *state;
    chat_history_warm_t w = {.max_messages = 20};

    store_n(s, ROOM_LONG, 21);
    flush(s);
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_true(w.too_many);
    assert_int_equal(w.read, 0);
    assert_int_equal(w.rooms_built, 0);
    assert_int_equal(redis_int(s, "EXISTS chat:{%s}:meta", ROOM_LONG), 0);
    /* looked at for this Redis run: the next caller does not count again */
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_true(w.already);
    assert_false(w.too_many);
}

static void test_a_ready_window_is_left_alone(void **state)
{
    chat_store_t *s = *state;
    chat_history_warm_t w = {.max_messages = 1000};
    int64_t head = 0;

    store_n(s, ROOM_LONG, 60);
    store_n(s, ROOM_SHORT, 3);
    flush(s);
    assert_int_equal(chat_history_head(s, ROOM_SHORT, &head), CHAT_OK); /* builds it */
    assert_int_equal(head, 3);
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_int_equal(w.rooms_built, 1);
    assert_int_equal(w.rooms_left, 1);
    expect_window(s, ROOM_LONG, 11, 60);
    expect_window(s, ROOM_SHORT, 1, 3);
}

static void test_another_warm_up_means_no_read(void **state)
{
    chat_store_t *s = *state;
    chat_history_warm_t w = {.max_messages = 1000};
    chat_redis_lock_t theirs;
    bool busy = false;

    store_n(s, ROOM_SHORT, 5);
    flush(s);
    assert_int_equal(chat_redis_lock_take(s->redis, &theirs, CHAT_KEY_WINDOWS_WARMING, 10000),
                     CHAT_OK);
    assert_true(theirs.held);
    /* the same Redis client plays the other process: the lock is taken with its token */
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_true(w.another_warms);
    assert_int_equal(w.read, 0);
    assert_int_equal(redis_int(s, "EXISTS chat:{%s}:meta", ROOM_SHORT), 0);
    /* what a gateway's periodic look asks before it acts: someone is warming now */
    assert_int_equal(chat_history_warm_busy(s, &busy), CHAT_OK);
    assert_true(busy);
    chat_redis_lock_release(s->redis, &theirs);
    assert_int_equal(chat_history_warm_busy(s, &busy), CHAT_OK);
    assert_false(busy);
}

/* A new room in `rooms` named name; its id into id. */
static void new_room(chat_store_t *s, const char *name, char *id)
{
    chat_room_t room = {0};

    assert_int_equal(chat_rooms_create(s->db, name, "", false, "650000000000000000000009", &room),
                     CHAT_OK);
    snprintf(id, CHAT_ID_LEN, "%s", room.id);
    chat_room_clear(&room);
}

/* Three rooms in `rooms`, with messages, and two without; windows built for the first
 * `ready` of the three (as a gateway's resubscribe or a history page would) after a
 * flush. */
static void three_rooms_some_ready(chat_store_t *s, char (*ids)[CHAT_ID_LEN], size_t ready)
{
    char empty[CHAT_ID_LEN];

    for (size_t i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "warm%zu", i);
        new_room(s, name, ids[i]);
        store_n(s, ids[i], 4 + (int)i);
    }
    /* rooms nobody wrote in have no window: they are not counted as missing one */
    new_room(s, "empty0", empty);
    new_room(s, "empty1", empty);
    flush(s);
    for (size_t i = 0; i < ready; i++) {
        chat_history_page_t page = {0};
        assert_int_equal(chat_history_read(s, ids[i], CHAT_WINDOW_LATEST, 0, 10, &page), CHAT_OK);
        chat_history_page_clear(&page);
        expect_window(s, ids[i], 1, 4 + (long long)i);
    }
}

static void test_windows_rebuilt_by_readers_mean_no_read(void **state)
{
    chat_store_t *s = *state;
    chat_history_warm_t w = {.max_messages = 1000, .max_rooms = 100};
    char ids[3][CHAT_ID_LEN];
    bool done = false;

    /* two of three rebuilt by their readers since the loss: the third's first reader
     * reads as much as this would, so nothing is read here and the run is marked */
    three_rooms_some_ready(s, ids, 2);
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_true(w.few_missing);
    assert_int_equal(w.rooms, 3);
    assert_int_equal(w.rooms_missing, 1);
    assert_int_equal(w.read, 0);
    assert_int_equal(redis_int(s, "EXISTS chat:{%s}:meta", ids[2]), 0);
    assert_int_equal(chat_history_warm_done(s, &done), CHAT_OK);
    assert_true(done);
}

static void test_two_windows_missing_mean_one_read(void **state)
{
    chat_store_t *s = *state;
    chat_history_warm_t w = {.max_messages = 1000, .max_rooms = 100};
    char ids[3][CHAT_ID_LEN];

    three_rooms_some_ready(s, ids, 1);
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_false(w.few_missing);
    assert_int_equal(w.rooms_missing, 2);
    assert_int_equal(w.read, 5 + 6); /* only the two rooms' messages: the ready one's not */
    assert_int_equal(w.passes, 1);
    assert_int_equal(w.rooms_built, 2);
    assert_int_equal(w.rooms_left, 0);
    expect_window(s, ids[0], 1, 4); /* left as its reader built it */
    expect_window(s, ids[1], 1, 5);
    expect_window(s, ids[2], 1, 6);
}

static void test_what_is_held_is_the_windows_not_the_collection(void **state)
{
    chat_store_t *s = *state;
    chat_history_warm_t w = {.max_messages = 60};

    /* 130 messages stored, at most 60 held: a room holds only its newest 50 (before,
     * a collection larger than the bound was left to the per-room builds) */
    store_n(s, ROOM_LONG, 120);
    store_n(s, ROOM_SHORT, 10);
    flush(s);
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_false(w.too_many);
    assert_int_equal(w.passes, 1);
    assert_int_equal(w.read, 130);
    assert_int_equal(w.held_max, 60); /* 50 + 10: the windows, not the 130 read */
    assert_int_equal(w.rooms_built, 2);
    expect_window(s, ROOM_LONG, 71, 120);
    expect_window(s, ROOM_SHORT, 1, 10);
}

static void test_windows_that_do_not_fit_at_once_take_more_reads(void **state)
{
    chat_store_t *s = *state;
    chat_history_warm_t w = {.max_messages = 35, .max_rooms = 100};
    char ids[3][CHAT_ID_LEN];
    const int sizes[3] = {30, 20, 10};
    bool done = false;

    for (size_t i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "pass%zu", i);
        new_room(s, name, ids[i]);
        store_n(s, ids[i], sizes[i]);
    }
    flush(s);
    /* 30 + 20 + 10 windows, 35 held at most: two reads, each of its rooms' messages */
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_false(w.too_many);
    assert_int_equal(w.passes, 2);
    assert_int_equal(w.read, 60);
    assert_int_equal(w.held_max, 30); /* the first read's room; then 20 + 10 */
    assert_int_equal(w.rooms_built, 3);
    for (size_t i = 0; i < 3; i++) {
        expect_window(s, ids[i], 1, sizes[i]);
    }
    /* a bound of one read: the rooms of the second are left to their first looks, and
     * the run is marked (looked at) */
    flush(s);
    w = (chat_history_warm_t){.max_messages = 35, .max_passes = 1, .max_rooms = 100};
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_true(w.too_many);
    assert_int_equal(w.passes, 1);
    assert_int_equal(w.rooms_built, 1);
    assert_int_equal(w.rooms_left, 2);
    assert_int_equal(chat_history_warm_done(s, &done), CHAT_OK);
    assert_true(done);
    /* more stored than max_read (the heads' sum): nothing read, marked */
    flush(s);
    w = (chat_history_warm_t){.max_messages = 1000, .max_read = 59, .max_rooms = 100};
    assert_int_equal(chat_history_warm_all(s, &w), CHAT_OK);
    assert_true(w.too_many);
    assert_int_equal(w.read, 0);
    assert_int_equal(w.passes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_read_builds_every_window, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_no_messages_builds_nothing, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_over_the_bound_reads_nothing, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_a_ready_window_is_left_alone, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_another_warm_up_means_no_read, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_windows_rebuilt_by_readers_mean_no_read, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_two_windows_missing_mean_one_read, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_what_is_held_is_the_windows_not_the_collection,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_windows_that_do_not_fit_at_once_take_more_reads,
                                        store_setup, store_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
