/*
 * test_redis_lock.c - the one-holder Redis lock (redis_lock.h) against a real Redis
 * (CHAT_TEST_REDIS_URL): one taker wins, a release frees it for the next, a holder whose
 * lock expired and was taken by another does not delete the new holder's lock, and a
 * waiter returns when the work is done or the lock is gone instead of waiting out its
 * whole limit; a holder extends its own lock, and an expired one neither extends nor
 * releases the next holder's. Single-threaded: a second connection plays the other process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat/clock.h"
#include "chat/redis_lock.h"
#include "db_fixture.h"

static void lock_key(char *key, size_t len, int n)
{
    snprintf(key, len, "test:lock:%d:%d", (int)getpid(), n);
}

static bool key_exists(chat_redis_t *r, const char *key)
{
    redisReply *reply = chat_redis_command(r, "EXISTS %s", key);
    bool exists;

    assert_non_null(reply);
    exists = reply->integer > 0;
    freeReplyObject(reply);
    return exists;
}

static void test_one_holder_at_a_time(void **state)
{
    chat_redis_t *a = test_redis_connect();
    chat_redis_t *b = test_redis_connect();
    chat_redis_lock_t la;
    chat_redis_lock_t lb;
    char key[64];

    (void)state;
    lock_key(key, sizeof(key), 1);
    assert_int_equal(chat_redis_lock_take(a, &la, key, 10000), CHAT_OK);
    assert_true(la.held);
    assert_int_equal(chat_redis_lock_take(b, &lb, key, 10000), CHAT_OK);
    assert_false(lb.held);
    chat_redis_lock_release(b, &lb); /* not held: nothing */
    assert_true(key_exists(a, key));
    chat_redis_lock_release(a, &la);
    assert_false(la.held);
    assert_false(key_exists(a, key));
    assert_int_equal(chat_redis_lock_take(b, &lb, key, 10000), CHAT_OK);
    assert_true(lb.held);
    assert_string_not_equal(la.token, lb.token);
    chat_redis_lock_release(b, &lb);
    chat_redis_destroy(a);
    chat_redis_destroy(b);
}

static long long pttl(chat_redis_t *r, const char *key)
{
    redisReply *reply = chat_redis_command(r, "PTTL %s", key);
    long long ms;

    assert_non_null(reply);
    ms = reply->integer;
    freeReplyObject(reply);
    return ms;
}

static void test_an_expired_holder_leaves_the_next_holders_lock(void **state)
{
    chat_redis_t *a = test_redis_connect();
    chat_redis_t *b = test_redis_connect();
    chat_redis_lock_t la;
    chat_redis_lock_t la_again;
    chat_redis_lock_t lb;
    struct timespec ts = {0, 150 * 1000000L};
    char key[64];

    (void)state;
    lock_key(key, sizeof(key), 2);
    assert_int_equal(chat_redis_lock_take(a, &la, key, 50), CHAT_OK);
    assert_true(la.held);
    nanosleep(&ts, NULL); /* a is slow: its lock expires */
    assert_int_equal(chat_redis_lock_take(b, &lb, key, 10000), CHAT_OK);
    assert_true(lb.held);
    /* a extends late: b's lock keeps its ttl, and a learns it lost the lock */
    la_again = la;
    assert_int_equal(chat_redis_lock_extend(a, &la_again, 60000), CHAT_ERR_CONFLICT);
    assert_false(la_again.held);
    assert_true(pttl(b, key) <= 10000);
    chat_redis_lock_release(a, &la); /* a finishes late: b's lock stays */
    assert_true(key_exists(b, key));
    chat_redis_lock_release(b, &lb);
    assert_false(key_exists(b, key));
    chat_redis_destroy(a);
    chat_redis_destroy(b);
}

static void test_a_holder_extends_its_lock(void **state)
{
    chat_redis_t *a = test_redis_connect();
    chat_redis_lock_t la;
    char key[64];

    (void)state;
    lock_key(key, sizeof(key), 5);
    assert_int_equal(chat_redis_lock_take(a, &la, key, 1000), CHAT_OK);
    assert_int_equal(chat_redis_lock_extend(a, &la, 60000), CHAT_OK);
    assert_true(la.held);
    assert_true(pttl(a, key) > 50000);
    chat_redis_lock_release(a, &la);
    assert_false(key_exists(a, key));
    chat_redis_destroy(a);
}

static int polls;

static chat_err_t done_on_third_poll(void *arg, bool *done)
{
    (void)arg;
    *done = ++polls >= 3;
    return CHAT_OK;
}

static chat_err_t never_done(void *arg, bool *done)
{
    (void)arg;
    *done = false;
    return CHAT_OK;
}

static void test_waiters_stop_when_done_or_free(void **state)
{
    chat_redis_t *a = test_redis_connect();
    chat_redis_t *b = test_redis_connect();
    chat_redis_lock_t la;
    char key[64];
    bool done = false;
    int64_t t0;

    (void)state;
    lock_key(key, sizeof(key), 3);
    assert_int_equal(chat_redis_lock_take(a, &la, key, 10000), CHAT_OK);
    /* the work is reported done on the third poll: no need to wait for the lock */
    polls = 0;
    t0 = chat_clock_monotonic_ms();
    assert_int_equal(chat_redis_lock_wait(b, key, 5000, 10, true, done_on_third_poll, NULL, &done),
                     CHAT_OK);
    assert_true(done);
    assert_int_equal(polls, 3);
    assert_true(chat_clock_monotonic_ms() - t0 < 1000);
    /* held and never done: the wait ends at its limit */
    t0 = chat_clock_monotonic_ms();
    assert_int_equal(chat_redis_lock_wait(b, key, 200, 10, true, never_done, NULL, &done), CHAT_OK);
    assert_false(done);
    assert_true(chat_clock_monotonic_ms() - t0 >= 190);
    /* the holder lets go: an until_free waiter returns at once, not done */
    chat_redis_lock_release(a, &la);
    t0 = chat_clock_monotonic_ms();
    assert_int_equal(chat_redis_lock_wait(b, key, 5000, 10, true, never_done, NULL, &done),
                     CHAT_OK);
    assert_false(done);
    assert_true(chat_clock_monotonic_ms() - t0 < 1000);
    /* only the lock watched (no done function) */
    t0 = chat_clock_monotonic_ms();
    assert_int_equal(chat_redis_lock_wait(b, key, 5000, 10, false, NULL, NULL, NULL), CHAT_OK);
    assert_true(chat_clock_monotonic_ms() - t0 < 1000);
    chat_redis_destroy(a);
    chat_redis_destroy(b);
}

static void test_a_key_too_long_is_refused(void **state)
{
    chat_redis_t *a = test_redis_connect();
    chat_redis_lock_t la;
    char key[CHAT_KEY_LEN + 64];

    (void)state;
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    assert_int_equal(chat_redis_lock_take(a, &la, key, 1000), CHAT_ERR_INVALID);
    assert_false(la.held);
    chat_redis_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_holder_at_a_time),
        cmocka_unit_test(test_an_expired_holder_leaves_the_next_holders_lock),
        cmocka_unit_test(test_waiters_stop_when_done_or_free),
        cmocka_unit_test(test_a_key_too_long_is_refused),
        cmocka_unit_test(test_a_holder_extends_its_lock),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
