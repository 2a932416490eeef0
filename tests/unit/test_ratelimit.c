/*
 * test_ratelimit.c - token buckets: the shared Redis bucket (CHAT_TEST_REDIS_URL) with
 * burst, refusal, refill, sharing between connections and key expiry; the reply
 * decoder; and the local fallback table with its LRU eviction.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/keys.h"
#include "chat/ratelimit.h"
#include "db_fixture.h"

static int key_counter;

/* A fresh bucket name per test so reruns and parallel runs never share state. */
static char *fresh_key(char *buf, size_t len)
{
    char subject[64];

    snprintf(subject, sizeof(subject), "test-%d-%d", (int)getpid(), ++key_counter);
    return chat_key_ratelimit("unit", subject, buf, len);
}

/* ---- reply decoding ---- */

static void test_parse_reply(void **state)
{
    redisReply one = {.type = REDIS_REPLY_INTEGER, .integer = 1};
    redisReply zero = {.type = REDIS_REPLY_INTEGER, .integer = 0};
    redisReply wait = {.type = REDIS_REPLY_INTEGER, .integer = 250};
    redisReply text = {.type = REDIS_REPLY_STRING, .str = (char *)"1", .len = 1};
    redisReply *ok_items[] = {&one, &zero};
    redisReply *no_items[] = {&zero, &wait};
    redisReply *bad_items[] = {&text, &wait};
    redisReply ok = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = ok_items};
    redisReply no = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = no_items};
    redisReply bad = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = bad_items};
    redisReply short_arr = {.type = REDIS_REPLY_ARRAY, .elements = 1, .element = ok_items};
    redisReply err = {.type = REDIS_REPLY_ERROR, .str = (char *)"ERR x", .len = 5};
    bool allowed = false;
    int64_t retry = -1;

    (void)state;
    assert_int_equal(chat_ratelimit_parse_reply(&ok, &allowed, &retry), 0);
    assert_true(allowed);
    assert_int_equal(retry, 0);
    assert_int_equal(chat_ratelimit_parse_reply(&no, &allowed, &retry), 0);
    assert_false(allowed);
    assert_int_equal(retry, 250);
    assert_int_equal(chat_ratelimit_parse_reply(&bad, &allowed, &retry), -1);
    assert_int_equal(chat_ratelimit_parse_reply(&short_arr, &allowed, &retry), -1);
    assert_int_equal(chat_ratelimit_parse_reply(&err, &allowed, &retry), -1);
    assert_int_equal(chat_ratelimit_parse_reply(NULL, &allowed, &retry), -1);
}

/* ---- shared bucket in Redis ---- */

static void test_burst_then_refusal(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char key[CHAT_KEY_LEN];
    int64_t retry = -1;

    (void)state;
    fresh_key(key, sizeof(key));
    for (int i = 0; i < 5; i++) {
        assert_true(chat_ratelimit_check(r, NULL, key, 1.0, 5, &retry));
        assert_int_equal(retry, 0);
    }
    assert_false(chat_ratelimit_check(r, NULL, key, 1.0, 5, &retry));
    /* one token per second: the next one is due within a second */
    assert_true(retry > 0 && retry <= 1000);
    chat_redis_destroy(r);
}

static void test_refill_over_time(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char key[CHAT_KEY_LEN];
    int64_t retry = 0;

    (void)state;
    fresh_key(key, sizeof(key));
    assert_true(chat_ratelimit_check(r, NULL, key, 20, 2, &retry));
    assert_true(chat_ratelimit_check(r, NULL, key, 20, 2, &retry));
    assert_false(chat_ratelimit_check(r, NULL, key, 20, 2, &retry));
    assert_true(retry > 0 && retry <= 50);
    usleep(120 * 1000); /* 20/s: 2.4 tokens' worth, capped at the burst of 2 */
    assert_true(chat_ratelimit_check(r, NULL, key, 20, 2, &retry));
    assert_true(chat_ratelimit_check(r, NULL, key, 20, 2, &retry));
    assert_false(chat_ratelimit_check(r, NULL, key, 20, 2, &retry));
    chat_redis_destroy(r);
}

static void test_processes_share_one_bucket(void **state)
{
    chat_redis_t *a = test_redis_connect(); /* two connections stand for two processes */
    chat_redis_t *b = test_redis_connect();
    chat_local_limiter_t *local_a = chat_local_limiter_create(16);
    chat_local_limiter_t *local_b = chat_local_limiter_create(16);
    char key[CHAT_KEY_LEN];
    int64_t retry = 0;

    (void)state;
    fresh_key(key, sizeof(key));
    assert_true(chat_ratelimit_check(a, local_a, key, 0.5, 3, &retry));
    assert_true(chat_ratelimit_check(b, local_b, key, 0.5, 3, &retry));
    assert_true(chat_ratelimit_check(a, local_a, key, 0.5, 3, &retry));
    assert_false(chat_ratelimit_check(b, local_b, key, 0.5, 3, &retry));
    assert_false(chat_ratelimit_check(a, local_a, key, 0.5, 3, &retry));
    assert_true(retry > 1000 && retry <= 2000);
    chat_local_limiter_destroy(local_a);
    chat_local_limiter_destroy(local_b);
    chat_redis_destroy(a);
    chat_redis_destroy(b);
}

static void test_key_expires_after_full_refill(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char key[CHAT_KEY_LEN];
    redisReply *reply = NULL;
    int64_t retry = 0;

    (void)state;
    fresh_key(key, sizeof(key));
    assert_true(chat_ratelimit_check(r, NULL, key, 10, 30, &retry));
    reply = chat_redis_command(r, "PTTL %s", key);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
    /* 30 tokens at 10/s refill in 3 s, plus a second */
    assert_true(reply->integer > 3000 && reply->integer <= 4000);
    freeReplyObject(reply);
    chat_redis_destroy(r);
}

static void test_zero_rate_is_off(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char key[CHAT_KEY_LEN];
    redisReply *reply = NULL;
    int64_t retry = -1;

    (void)state;
    fresh_key(key, sizeof(key));
    for (int i = 0; i < 100; i++) {
        assert_true(chat_ratelimit_check(r, NULL, key, 0, 1, &retry));
        assert_int_equal(retry, 0);
    }
    assert_true(chat_ratelimit_check(r, NULL, key, -1, 1, &retry));
    /* "off" never touches Redis */
    reply = chat_redis_command(r, "EXISTS %s", key);
    assert_non_null(reply);
    assert_int_equal(reply->integer, 0);
    freeReplyObject(reply);
    chat_redis_destroy(r);
}

static void test_script_for_async_callers(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char key[CHAT_KEY_LEN];
    redisReply *reply = NULL;
    bool allowed = false;
    int64_t retry = -1;

    (void)state;
    fresh_key(key, sizeof(key));
    /* what the gateway sends with hiredis async: EVAL script 1 key rate burst cost */
    reply =
        chat_redis_command(r, "EVAL %s 1 %s %s %s %s", CHAT_RATELIMIT_LUA, key, "2.5", "1", "1");
    assert_int_equal(chat_ratelimit_parse_reply(reply, &allowed, &retry), 0);
    assert_true(allowed);
    freeReplyObject(reply);
    reply =
        chat_redis_command(r, "EVAL %s 1 %s %s %s %s", CHAT_RATELIMIT_LUA, key, "2.5", "1", "1");
    assert_int_equal(chat_ratelimit_parse_reply(reply, &allowed, &retry), 0);
    assert_false(allowed);
    assert_true(retry > 0 && retry <= 400);
    freeReplyObject(reply);
    chat_redis_destroy(r);
}

static void test_redis_down_falls_back_to_local(void **state)
{
    char errbuf[256];
    chat_redis_t *down =
        chat_redis_create("redis://127.0.0.1:1", false, 200, errbuf, sizeof(errbuf));
    chat_local_limiter_t *local = chat_local_limiter_create(8);
    int64_t retry = 0;

    (void)state;
    assert_non_null(down);
    assert_non_null(local);
    assert_true(chat_ratelimit_check(down, local, "chat:rl:msg:u1", 1, 2, &retry));
    assert_true(chat_ratelimit_check(down, local, "chat:rl:msg:u1", 1, 2, &retry));
    assert_false(chat_ratelimit_check(down, local, "chat:rl:msg:u1", 1, 2, &retry));
    assert_true(retry > 0 && retry <= 1000);
    /* another subject has its own bucket */
    assert_true(chat_ratelimit_check(down, local, "chat:rl:msg:u2", 1, 2, &retry));
    /* no local table: allowed (better than refusing everyone while Redis is away) */
    assert_true(chat_ratelimit_check(down, NULL, "chat:rl:msg:u1", 1, 2, &retry));
    assert_true(chat_ratelimit_check(NULL, NULL, "chat:rl:msg:u1", 1, 2, &retry));
    chat_local_limiter_destroy(local);
    chat_redis_destroy(down);
}

/* ---- local table ---- */

static void test_local_bucket(void **state)
{
    chat_local_limiter_t *l = chat_local_limiter_create(4);
    int64_t retry = -1;
    int64_t t = 1000000;

    (void)state;
    assert_non_null(l);
    for (int i = 0; i < 3; i++) {
        assert_true(chat_local_limiter_take(l, "k", 2, 3, t, &retry));
    }
    assert_false(chat_local_limiter_take(l, "k", 2, 3, t, &retry));
    assert_int_equal(retry, 500); /* 2 tokens/s */
    assert_false(chat_local_limiter_take(l, "k", 2, 3, t + 400, &retry));
    assert_true(retry >= 100 && retry <= 101); /* 0.2 tokens short, float rounding aside */
    assert_true(chat_local_limiter_take(l, "k", 2, 3, t + 501, &retry));
    /* a long pause refills only up to the burst */
    assert_true(chat_local_limiter_take(l, "k", 2, 3, t + 100000, &retry));
    assert_true(chat_local_limiter_take(l, "k", 2, 3, t + 100000, &retry));
    assert_true(chat_local_limiter_take(l, "k", 2, 3, t + 100000, &retry));
    assert_false(chat_local_limiter_take(l, "k", 2, 3, t + 100000, &retry));
    /* a clock that goes back does not mint tokens */
    assert_false(chat_local_limiter_take(l, "k", 2, 3, t, &retry));
    /* off */
    assert_true(chat_local_limiter_take(l, "k", 0, 3, t + 100000, &retry));
    assert_true(chat_local_limiter_take(NULL, "k", 2, 3, t, &retry));
    chat_local_limiter_destroy(l);
    chat_local_limiter_destroy(NULL);
    assert_null(chat_local_limiter_create(0));
}

static void test_local_evicts_least_recently_used(void **state)
{
    chat_local_limiter_t *l = chat_local_limiter_create(2);
    int64_t retry = 0;

    (void)state;
    /* burst 1, slow refill: a drained bucket stays drained unless evicted */
    assert_true(chat_local_limiter_take(l, "a", 0.001, 1, 0, &retry));
    assert_true(chat_local_limiter_take(l, "b", 0.001, 1, 0, &retry));
    assert_false(chat_local_limiter_take(l, "a", 0.001, 1, 1, &retry)); /* a is now newest */
    assert_true(chat_local_limiter_take(l, "c", 0.001, 1, 2, &retry));  /* evicts b */
    assert_false(chat_local_limiter_take(l, "a", 0.001, 1, 3, &retry)); /* a survived */
    assert_true(chat_local_limiter_take(l, "b", 0.001, 1, 4, &retry));  /* b was new again */
    chat_local_limiter_destroy(l);
}

static void test_local_table_stays_consistent(void **state)
{
    enum { CAP = 50, KEYS = 3000 };
    chat_local_limiter_t *l = chat_local_limiter_create(CAP);
    char key[32];
    int64_t retry = 0;

    (void)state;
    /* many more subjects than slots: exercises eviction and probe-run repair */
    for (int i = 0; i < KEYS; i++) {
        snprintf(key, sizeof(key), "user-%d", i);
        assert_true(chat_local_limiter_take(l, key, 0.001, 1, i, &retry));
    }
    /* the newest CAP subjects are still tracked (drained) ... */
    for (int i = KEYS - 1; i >= KEYS - CAP; i--) {
        snprintf(key, sizeof(key), "user-%d", i);
        assert_false(chat_local_limiter_take(l, key, 0.001, 1, KEYS, &retry));
    }
    /* ... and the oldest were forgotten */
    assert_true(chat_local_limiter_take(l, "user-0", 0.001, 1, KEYS, &retry));
    chat_local_limiter_destroy(l);
}

/* Random traffic checked against a plain LRU list: with burst 1 and no refill a take is
 * allowed exactly when the table had forgotten the subject. */
static void test_local_matches_reference_lru(void **state)
{
    enum { CAP = 37, SUBJECTS = 120, OPS = 20000 };
    chat_local_limiter_t *l = chat_local_limiter_create(CAP);
    int lru[CAP]; /* subject numbers, most recent first */
    int n = 0;
    unsigned seed = 12345;
    char key[32];
    int64_t retry = 0;

    (void)state;
    for (int op = 0; op < OPS; op++) {
        int subject;
        int pos = -1;
        bool expect;

        seed = seed * 1103515245u + 12345u;
        subject = (int)((seed >> 8) % SUBJECTS);
        for (int i = 0; i < n; i++) {
            if (lru[i] == subject) {
                pos = i;
            }
        }
        expect = pos < 0;
        if (pos < 0) {
            pos = n < CAP ? n++ : CAP - 1; /* full: the tail is evicted */
        }
        memmove(&lru[1], &lru[0], (size_t)pos * sizeof(lru[0]));
        lru[0] = subject;

        snprintf(key, sizeof(key), "s%d", subject);
        assert_int_equal(chat_local_limiter_take(l, key, 1e-9, 1, op, &retry), expect);
    }
    chat_local_limiter_destroy(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_reply),
        cmocka_unit_test(test_burst_then_refusal),
        cmocka_unit_test(test_refill_over_time),
        cmocka_unit_test(test_processes_share_one_bucket),
        cmocka_unit_test(test_key_expires_after_full_refill),
        cmocka_unit_test(test_zero_rate_is_off),
        cmocka_unit_test(test_script_for_async_callers),
        cmocka_unit_test(test_redis_down_falls_back_to_local),
        cmocka_unit_test(test_local_bucket),
        cmocka_unit_test(test_local_evicts_least_recently_used),
        cmocka_unit_test(test_local_table_stays_consistent),
        cmocka_unit_test(test_local_matches_reference_lru),
    };
    const char *url = getenv("CHAT_TEST_REDIS_URL");

    if (url == NULL || strncmp(url, "redis://", 8) != 0) {
        fprintf(stderr,
                "FAIL: CHAT_TEST_REDIS_URL is not set (or not redis://...). These "
                "tests need a Redis (make test starts one), e.g. "
                "CHAT_TEST_REDIS_URL=redis://127.0.0.1:6379\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
