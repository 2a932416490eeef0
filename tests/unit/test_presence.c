/*
 * test_presence.c - reading presence from the chat:presence:<user_id> sorted sets in a
 * real Redis (CHAT_TEST_REDIS_URL): entries expiring in the future mean online, past
 * ones do not, and a Redis that is down reads as offline. Also the batched read of
 * rest-fcgi's member lists (member_lookup.c): past one chunk of keys, and again after
 * the server lost its scripts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/jwt.h" /* CHAT_ID_LEN */
#include "chat/keys.h"
#include "chat/presence.h"

#include "../../rest-fcgi/member_lookup.c"
#include "db_fixture.h"

#define NOW 1736937000000LL

/* A user id unique to this process and call (24 hex). */
static void fresh_user(char *buf, size_t len, int n)
{
    snprintf(buf, len, "%08x%016x", (unsigned)getpid(), (unsigned)n);
}

static void zadd(chat_redis_t *r, const char *user_id, int64_t score, const char *gateway)
{
    char key[CHAT_KEY_LEN];
    char score_s[32];
    redisReply *reply = NULL;

    chat_key_presence(user_id, key, sizeof(key));
    snprintf(score_s, sizeof(score_s), "%" PRId64, score);
    reply = chat_redis_command(r, "ZADD %s %s %s", key, score_s, gateway);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
    freeReplyObject(reply);
    reply = chat_redis_command(r, "PEXPIRE %s 60000", key);
    freeReplyObject(reply);
}

static void test_online_offline(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char never[CHAT_ID_LEN];
    char live[CHAT_ID_LEN];
    char stale[CHAT_ID_LEN];
    char mixed[CHAT_ID_LEN];

    (void)state;
    fresh_user(never, sizeof(never), 1);
    fresh_user(live, sizeof(live), 2);
    fresh_user(stale, sizeof(stale), 3);
    fresh_user(mixed, sizeof(mixed), 4);

    assert_false(chat_presence_is_online(r, never, NOW));

    zadd(r, live, NOW + 30000, "gw-a");
    assert_true(chat_presence_is_online(r, live, NOW));

    zadd(r, stale, NOW - 1, "gw-a");
    assert_false(chat_presence_is_online(r, stale, NOW));
    /* an entry expiring exactly now is already gone */
    zadd(r, stale, NOW, "gw-b");
    assert_false(chat_presence_is_online(r, stale, NOW));

    /* one gateway's entry lapsed, another's still runs */
    zadd(r, mixed, NOW - 5000, "gw-a");
    zadd(r, mixed, NOW + 1, "gw-b");
    assert_true(chat_presence_is_online(r, mixed, NOW));
    assert_false(chat_presence_is_online(r, mixed, NOW + 1));

    assert_false(chat_presence_is_online(r, NULL, NOW));
    assert_false(chat_presence_is_online(NULL, live, NOW));
    chat_redis_destroy(r);
}

static void test_redis_down_reads_offline(void **state)
{
    char errbuf[256];
    chat_redis_t *down =
        chat_redis_create("redis://127.0.0.1:1", false, 200, errbuf, sizeof(errbuf));

    (void)state;
    assert_non_null(down);
    assert_false(chat_presence_is_online(down, "660000000000000000000001", NOW));
    chat_redis_destroy(down);
}

/* rest_lookup_online: 501 users (two chunks), every third online; the same after a
 * SCRIPT FLUSH (the script is loaded again); all offline without Redis. */
static void test_lookup_many(void **state)
{
    enum { N = 501 };
    chat_redis_t *r = test_redis_connect();
    char(*ids)[CHAT_ID_LEN] = calloc(N, sizeof(*ids));
    bool *online = calloc(N, sizeof(*online));
    int64_t now = chat_clock_now_ms();
    redisReply *reply = NULL;

    (void)state;
    assert_non_null(ids);
    assert_non_null(online);
    for (int i = 0; i < N; i++) {
        fresh_user(ids[i], sizeof(ids[i]), 1000 + i);
        if (i % 3 == 0) {
            zadd(r, ids[i], now + 60000, "gw-a");
        } else if (i % 3 == 1) {
            zadd(r, ids[i], now - 1000, "gw-a"); /* lapsed */
        }
    }
    for (int round = 0; round < 2; round++) {
        memset(online, 1, N * sizeof(*online));
        rest_lookup_online(r, (const char(*)[CHAT_ID_LEN])ids, N, online);
        for (int i = 0; i < N; i++) {
            assert_int_equal(online[i], i % 3 == 0);
        }
        reply = chat_redis_command(r, "SCRIPT FLUSH");
        assert_non_null(reply);
        freeReplyObject(reply);
    }
    rest_lookup_online(NULL, (const char(*)[CHAT_ID_LEN])ids, N, online);
    for (int i = 0; i < N; i++) {
        assert_false(online[i]);
    }
    free(ids);
    free(online);
    chat_redis_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_online_offline),
        cmocka_unit_test(test_redis_down_reads_offline),
        cmocka_unit_test(test_lookup_many),
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
