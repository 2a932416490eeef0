/*
 * test_window_gather.c - window_gather.h: each room's newest messages from an unordered
 * stream (the order FerretDB or MongoDB may return a collection in), the bound on what
 * is held, the rooms given and the others dropped, and nothing leaked when messages are
 * dropped or refused (ASan). Pure; no services.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/window_gather.h"

#define ROOM_A "64b000000000000000000001"
#define ROOM_B "64b000000000000000000002"
#define ROOM_C "64b000000000000000000003"

/* A message of room with seq whose strings are heap-allocated (as a decoded one's). */
static chat_message_t message(const char *room, int64_t seq)
{
    chat_message_t m;
    char text[32];

    memset(&m, 0, sizeof(m));
    snprintf(m.room_id, sizeof(m.room_id), "%s", room);
    snprintf(m.id, sizeof(m.id), "%024lld", (long long)seq);
    snprintf(text, sizeof(text), "m%lld", (long long)seq);
    m.content = strdup(text);
    m.username = strdup("someone");
    m.seq = seq;
    return m;
}

typedef struct seen {
    char rooms[8][CHAT_ID_LEN];
    int64_t first[8];
    int64_t last[8];
    size_t n_each[8];
    size_t n;
    bool sorted;
} seen_t;

static chat_err_t record(const char *room_id, chat_message_list_t *newest, void *arg)
{
    seen_t *s = arg;

    snprintf(s->rooms[s->n], sizeof(s->rooms[0]), "%s", room_id);
    s->first[s->n] = newest->items[0].seq;
    s->last[s->n] = newest->items[newest->n - 1].seq;
    s->n_each[s->n] = newest->n;
    for (size_t i = 1; i < newest->n; i++) {
        s->sorted = s->sorted && newest->items[i - 1].seq < newest->items[i].seq;
        assert_string_equal(newest->items[i].room_id, room_id);
    }
    s->n++;
    return CHAT_OK;
}

static size_t find(const seen_t *s, const char *room)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->rooms[i], room) == 0) {
            return i;
        }
    }
    fail_msg("room %s not seen", room);
    return 0;
}

static void test_the_newest_of_each_room_from_any_order(void **state)
{
    chat_window_gather_t *g = chat_window_gather_new(NULL, 0, 10, 1000);
    seen_t seen = {.sorted = true};

    (void)state;
    assert_non_null(g);
    /* room A: 1..100 in a shuffled order (a stride coprime with 100); room B: 50..1
     * (newest first); room C: 3 messages */
    for (int64_t i = 0; i < 100; i++) {
        chat_message_t m = message(ROOM_A, 1 + (i * 37) % 100);
        assert_int_equal(chat_window_gather_take(g, &m), CHAT_OK);
        if (i < 50) {
            chat_message_t b = message(ROOM_B, 50 - i);
            assert_int_equal(chat_window_gather_take(g, &b), CHAT_OK);
        }
    }
    for (int64_t s = 1; s <= 3; s++) {
        chat_message_t c = message(ROOM_C, s);
        assert_int_equal(chat_window_gather_take(g, &c), CHAT_OK);
    }
    assert_int_equal(chat_window_gather_taken(g), 153);
    assert_int_equal(chat_window_gather_held(g), 23); /* 10 + 10 + 3: bounded by keep */
    assert_int_equal(chat_window_gather_each(g, record, &seen), CHAT_OK);
    assert_int_equal(seen.n, 3);
    assert_true(seen.sorted);
    assert_int_equal(seen.first[find(&seen, ROOM_A)], 91);
    assert_int_equal(seen.last[find(&seen, ROOM_A)], 100);
    assert_int_equal(seen.n_each[find(&seen, ROOM_A)], 10);
    assert_int_equal(seen.first[find(&seen, ROOM_B)], 41);
    assert_int_equal(seen.last[find(&seen, ROOM_B)], 50);
    assert_int_equal(seen.first[find(&seen, ROOM_C)], 1);
    assert_int_equal(seen.n_each[find(&seen, ROOM_C)], 3);
    chat_window_gather_free(g);
}

static void test_only_the_rooms_given(void **state)
{
    const char *only[] = {ROOM_A, ROOM_C};
    chat_window_gather_t *g = chat_window_gather_new(only, 2, 5, 1000);
    seen_t seen = {.sorted = true};

    (void)state;
    for (int64_t s = 1; s <= 8; s++) {
        chat_message_t a = message(ROOM_A, s);
        chat_message_t b = message(ROOM_B, s);
        assert_int_equal(chat_window_gather_take(g, &a), CHAT_OK);
        assert_int_equal(chat_window_gather_take(g, &b), CHAT_OK); /* dropped, freed */
    }
    assert_int_equal(chat_window_gather_held(g), 5);
    assert_int_equal(chat_window_gather_each(g, record, &seen), CHAT_OK);
    assert_int_equal(seen.n, 1); /* C was given but has no message: not reported */
    assert_string_equal(seen.rooms[0], ROOM_A);
    assert_int_equal(seen.first[0], 4);
    assert_int_equal(seen.last[0], 8);
    chat_window_gather_free(g);
}

static void test_more_than_max_held_is_refused(void **state)
{
    chat_window_gather_t *g = chat_window_gather_new(NULL, 0, 4, 6);
    chat_message_t m;

    (void)state;
    for (int64_t s = 1; s <= 20; s++) { /* A's newest 4, however many arrive */
        m = message(ROOM_A, s);
        assert_int_equal(chat_window_gather_take(g, &m), CHAT_OK);
    }
    m = message(ROOM_B, 1);
    assert_int_equal(chat_window_gather_take(g, &m), CHAT_OK);
    m = message(ROOM_B, 2);
    assert_int_equal(chat_window_gather_take(g, &m), CHAT_OK);
    assert_int_equal(chat_window_gather_held(g), 6);
    m = message(ROOM_C, 1);
    assert_int_equal(chat_window_gather_take(g, &m), CHAT_ERR_CONFLICT);
    assert_null(m.content); /* cleared: nothing leaks */
    /* a newer message of a full room still replaces its oldest: no more held */
    m = message(ROOM_A, 21);
    assert_int_equal(chat_window_gather_take(g, &m), CHAT_OK);
    assert_int_equal(chat_window_gather_held(g), 6);
    chat_window_gather_free(g);
}

/* Counts the rooms reported, each with its newest two (2 and 3). */
static chat_err_t count_rooms(const char *room_id, chat_message_list_t *newest, void *arg)
{
    (void)room_id;
    assert_int_equal(newest->n, 2);
    assert_int_equal(newest->items[0].seq, 2);
    assert_int_equal(newest->items[1].seq, 3);
    (*(size_t *)arg)++;
    return CHAT_OK;
}

static void test_many_rooms_grow_the_index(void **state)
{
    chat_window_gather_t *g = chat_window_gather_new(NULL, 0, 2, 100000);
    char room[CHAT_ID_LEN];
    size_t reported = 0;

    (void)state;
    for (int i = 0; i < 5000; i++) {
        for (int64_t s = 3; s >= 1; s--) {
            chat_message_t m;
            snprintf(room, sizeof(room), "64b%021d", i);
            m = message(room, s);
            assert_int_equal(chat_window_gather_take(g, &m), CHAT_OK);
        }
    }
    assert_int_equal(chat_window_gather_held(g), 10000);
    assert_int_equal(chat_window_gather_each(g, count_rooms, &reported), CHAT_OK);
    assert_int_equal(reported, 5000);
    chat_window_gather_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_newest_of_each_room_from_any_order),
        cmocka_unit_test(test_only_the_rooms_given),
        cmocka_unit_test(test_more_than_max_held_is_refused),
        cmocka_unit_test(test_many_rooms_grow_the_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
