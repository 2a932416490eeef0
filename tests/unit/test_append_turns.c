/*
 * test_append_turns.c - turns at a contended room's seqs (append_turns.h) on a real Redis
 * and MongoDB stand-in (db_fixture.h store fixture): a turn held by another writer is
 * waited for, at most CHAT_APPEND_TURN_WAIT_MS, and a writer's own turns are given back
 * before it waits; chat_messages_append_many in a room this thread saw contended waits
 * for the other writer's turn and starts from the head it recorded, while elsewhere it
 * does not look; a refused insert marks its room contended. Main thread, plus one
 * "other writer" thread with its own Redis client.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chat/append_turns.h"
#include "chat/clock.h"
#include "chat/history.h"
#include "chat/message_append.h"
#include "chat/redis_sync.h"
#include "chat/store.h"
#include "db_fixture.h"

#define ROOM_A "5f0000000000000000000c01"
#define ROOM_B "5f0000000000000000000c02"
#define ROOM_C "5f0000000000000000000c03"
#define ROOM_D "5f0000000000000000000c04" /* never noted contended by this thread */
#define USER "5f0000000000000000000b01"

static bson_oid_t oid_of(const char *hex)
{
    bson_oid_t oid;

    assert_true(chat_db_oid_from_hex(hex, &oid));
    return oid;
}

static void sleep_ms(int ms)
{
    nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL);
}

/* The other writer: after delay_ms, optionally stores n messages in room through its own
 * store (hints included), then gives back its turn. */
typedef struct other_writer {
    chat_store_t store;
    chat_redis_lock_t turn;
    const char *room;
    int delay_ms;
    int n;
} other_writer_t;

/* Stores n messages in room in one chat_messages_append_many (one insert round). */
static void append_n(const chat_store_t *st, const char *room, int64_t hint, chat_append_t *items,
                     chat_message_t *ins, int n)
{
    chat_head_hints_t hints = chat_history_hints(st);

    for (int i = 0; i < n; i++) {
        memset(&ins[i], 0, sizeof(ins[i]));
        snprintf(ins[i].room_id, sizeof(ins[i].room_id), "%s", room);
        snprintf(ins[i].user_id, sizeof(ins[i].user_id), "%s", USER);
        ins[i].username = "u";
        ins[i].content = "hello";
        ins[i].type = CHAT_MSG_TEXT;
        memset(&items[i], 0, sizeof(items[i]));
        items[i].in = &ins[i];
        items[i].hint = hint;
    }
    assert_int_equal(chat_messages_append_many(st->db, items, (size_t)n, false, &hints), CHAT_OK);
    for (int i = 0; i < n; i++) {
        assert_int_equal(items[i].err, CHAT_OK);
    }
}

static void append_one(const chat_store_t *st, const char *room, int64_t hint, chat_append_t *item,
                       chat_message_t *in)
{
    append_n(st, room, hint, item, in, 1);
}

/* (its n messages go in one round: a second round of its own would wait for the turn
 * this test holds for it outside chat_messages_append_many) */
static void *other_writer_main(void *arg)
{
    other_writer_t *o = arg;
    chat_append_t items[4];
    chat_message_t ins[4];

    sleep_ms(o->delay_ms);
    if (o->n > 0) {
        append_n(&o->store, o->room, 0, items, ins, o->n);
        for (int i = 0; i < o->n; i++) {
            chat_message_clear(&items[i].out);
        }
    }
    chat_append_turn_give(o->store.redis, &o->turn);
    return NULL;
}

static void start_other(other_writer_t *o, const chat_store_t *st, const char *room, int delay_ms,
                        int n, pthread_t *thread)
{
    bson_oid_t oid = oid_of(room);

    memset(o, 0, sizeof(*o));
    o->store = *st;
    o->store.redis = test_redis_connect();
    o->room = room;
    o->delay_ms = delay_ms;
    o->n = n;
    assert_int_equal(chat_append_turn_take(o->store.redis, &oid, &o->turn), CHAT_OK);
    assert_true(o->turn.held);
    assert_int_equal(pthread_create(thread, NULL, other_writer_main, o), 0);
}

static void join_other(other_writer_t *o, pthread_t thread)
{
    pthread_join(thread, NULL);
    chat_redis_destroy(o->store.redis);
}

/* The wait: at once with no turn held, until the other writer gives it back, bounded
 * when it never does, never for this writer's own; own turns are given back first. */
static void test_turns_are_waited_for_within_a_bound(void **state)
{
    chat_store_t *st = *state;
    chat_redis_t *r = st->redis;
    chat_redis_t *r2 = test_redis_connect();
    chat_redis_lock_t mine[2] = {0};
    chat_redis_lock_t theirs = {0};
    bson_oid_t oids[2] = {oid_of(ROOM_A), oid_of(ROOM_B)};
    bool waited[2];
    other_writer_t o;
    pthread_t thread;
    int64_t t0;
    chat_err_t rc[2];
    bool held;

    chat_append_turns_note(&oids[0]); /* only rooms seen contended are looked at */
    chat_append_turns_note(&oids[1]);
    t0 = chat_clock_monotonic_ms();
    assert_int_equal(chat_append_turns_wait(r, oids, NULL, mine, 2, waited), CHAT_OK);
    assert_true(chat_clock_monotonic_ms() - t0 < 50);
    assert_false(waited[0] || waited[1]);

    start_other(&o, st, ROOM_A, 80, 0, &thread);
    rc[0] = chat_append_turn_take(r, &oids[0], &mine[0]);
    held = mine[0].held; /* the other writer has it */
    t0 = chat_clock_monotonic_ms();
    rc[1] = chat_append_turns_wait(r, oids, NULL, mine, 2, waited);
    t0 = chat_clock_monotonic_ms() - t0;
    join_other(&o, thread); /* before any assert: the fixture's teardown must not race it */
    assert_int_equal(rc[0], CHAT_OK);
    assert_false(held);
    assert_int_equal(rc[1], CHAT_OK);
    assert_true(t0 >= 70);
    assert_true(waited[0]);
    assert_false(waited[1]);

    /* our own turn is no reason to wait */
    assert_int_equal(chat_append_turn_take(r, &oids[0], &mine[0]), CHAT_OK);
    assert_true(mine[0].held);
    t0 = chat_clock_monotonic_ms();
    assert_int_equal(chat_append_turns_wait(r, oids, NULL, mine, 1, waited), CHAT_OK);
    assert_true(chat_clock_monotonic_ms() - t0 < 50);
    assert_true(mine[0].held);

    /* another's turn never given back: waited for at most the bound, ours given back */
    assert_int_equal(chat_append_turn_take(r2, &oids[1], &theirs), CHAT_OK);
    assert_true(theirs.held);
    t0 = chat_clock_monotonic_ms();
    assert_int_equal(chat_append_turns_wait(r, oids, NULL, mine, 2, waited), CHAT_OK);
    assert_true(chat_clock_monotonic_ms() - t0 >= CHAT_APPEND_TURN_WAIT_MS - 20);
    assert_true(chat_clock_monotonic_ms() - t0 < CHAT_APPEND_TURN_WAIT_MS + 300);
    assert_false(waited[0]);
    assert_true(waited[1]);
    assert_false(mine[0].held);
    assert_int_equal(chat_append_turn_take(r2, &oids[0], &theirs), CHAT_OK);
    assert_true(theirs.held); /* ours was deleted, not left to expire */
    chat_append_turn_give(r2, &theirs);
    chat_redis_destroy(r2);
}

/* A room this thread saw contended: the append waits for the other writer's turn, then
 * takes the seq after the two messages the other writer stored meanwhile (its hint, 1,
 * would have been taken at once without the turn). */
static void test_contended_room_waits_for_the_turn(void **state)
{
    chat_store_t *st = *state;
    chat_append_t item;
    chat_message_t in;
    other_writer_t o;
    pthread_t thread;
    bson_oid_t room;
    int64_t t0;

    append_one(st, ROOM_A, 0, &item, &in);
    assert_int_equal(item.out.seq, 1);
    chat_message_clear(&item.out);
    assert_true(chat_db_oid_from_hex(ROOM_A, &room));
    chat_append_turns_note(&room);
    assert_true(chat_append_turns_recent(&room));
    start_other(&o, st, ROOM_A, 100, 2, &thread);
    t0 = chat_clock_monotonic_ms();
    append_one(st, ROOM_A, 1, &item, &in);
    t0 = chat_clock_monotonic_ms() - t0;
    join_other(&o, thread); /* before any assert: the fixture's teardown must not race it */
    assert_true(t0 >= 90);
    assert_int_equal(item.out.seq, 4);
    chat_message_clear(&item.out);
}

/* A room this thread never saw contended: no look at turns, no wait (the turn is only
 * a matter of speed: its holder's inserts are refused and resolved instead). */
static void test_uncontended_room_does_not_look(void **state)
{
    chat_store_t *st = *state;
    chat_append_t item;
    chat_message_t in;
    other_writer_t o;
    pthread_t thread;
    int64_t t0;

    start_other(&o, st, ROOM_D, 600, 0, &thread);
    t0 = chat_clock_monotonic_ms();
    append_one(st, ROOM_D, 0, &item, &in);
    t0 = chat_clock_monotonic_ms() - t0;
    join_other(&o, thread);
    assert_true(t0 < CHAT_APPEND_TURN_WAIT_MS - 50);
    assert_int_equal(item.out.seq, 1);
    chat_message_clear(&item.out);
}

/* A refused insert (a stale hint) marks the room contended and takes its turn for the
 * retry, given back once the message is in. */
static void test_refusal_marks_the_room_contended(void **state)
{
    chat_store_t *st = *state;
    chat_redis_t *r2 = test_redis_connect();
    chat_redis_lock_t probe = {0};
    chat_append_t item;
    chat_message_t in;
    bson_oid_t room;

    assert_true(chat_db_oid_from_hex(ROOM_C, &room));
    for (int i = 0; i < 3; i++) {
        append_one(st, ROOM_C, i, &item, &in);
        chat_message_clear(&item.out);
    }
    assert_false(chat_append_turns_recent(&room));
    append_one(st, ROOM_C, 1, &item, &in); /* seq 2 is taken: refused, then 4 */
    assert_int_equal(item.out.seq, 4);
    chat_message_clear(&item.out);
    assert_true(chat_append_turns_recent(&room));
    assert_int_equal(chat_append_turn_take(r2, &room, &probe), CHAT_OK);
    assert_true(probe.held); /* the writer gave its turn back */
    chat_append_turn_give(r2, &probe);
    chat_redis_destroy(r2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_turns_are_waited_for_within_a_bound, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_contended_room_waits_for_the_turn, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_uncontended_room_does_not_look, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_refusal_marks_the_room_contended, store_setup,
                                        store_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
