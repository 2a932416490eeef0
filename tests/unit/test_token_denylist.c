/*
 * test_token_denylist.c - token_denylist.h against a real Redis (CHAT_TEST_REDIS_URL): a
 * revoked jti reads as revoked, its entry expires with the token, other jtis and a token
 * without jti are not revoked, an expired token stores nothing, and a Redis that is down
 * is reported as unavailable rather than as "not revoked".
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
#include "chat/token_denylist.h"
#include "db_fixture.h"

#define NOW INT64_C(1736937000)

static long long ttl_of(chat_redis_t *r, const char *jti)
{
    char key[CHAT_KEY_LEN];
    redisReply *reply = NULL;
    long long ttl = 0;

    chat_key_revoked_token(jti, key, sizeof(key));
    reply = chat_redis_command(r, "TTL %s", key);
    assert_non_null(reply);
    ttl = reply->integer;
    freeReplyObject(reply);
    return ttl;
}

static void test_revoke_and_check(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char jti[40];
    char other[40];
    bool revoked = true;

    (void)state;
    snprintf(jti, sizeof(jti), "t%08xa", (unsigned)getpid());
    snprintf(other, sizeof(other), "t%08xb", (unsigned)getpid());
    assert_int_equal(chat_token_denylist_check(r, jti, &revoked), CHAT_OK);
    assert_false(revoked);
    assert_int_equal(chat_token_denylist_revoke(r, jti, NOW + 600, NOW), CHAT_OK);
    assert_int_equal(chat_token_denylist_check(r, jti, &revoked), CHAT_OK);
    assert_true(revoked);
    /* the entry lives exactly as long as the token would */
    assert_in_range(ttl_of(r, jti), 598, 600);
    assert_int_equal(chat_token_denylist_check(r, other, &revoked), CHAT_OK);
    assert_false(revoked);
    assert_int_equal(chat_token_denylist_check(r, "", &revoked), CHAT_OK);
    assert_false(revoked);
    /* an already expired token: nothing stored */
    assert_int_equal(chat_token_denylist_revoke(r, other, NOW - 1, NOW), CHAT_OK);
    assert_int_equal(ttl_of(r, other), -2);
    assert_int_equal(chat_token_denylist_revoke(r, "", NOW + 5, NOW), CHAT_ERR_INVALID);
    chat_redis_destroy(r);
}

static void test_entry_expires_with_token(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char jti[40];
    bool revoked = false;

    (void)state;
    snprintf(jti, sizeof(jti), "t%08xc", (unsigned)getpid());
    assert_int_equal(chat_token_denylist_revoke(r, jti, NOW + 1, NOW), CHAT_OK);
    assert_int_equal(chat_token_denylist_check(r, jti, &revoked), CHAT_OK);
    assert_true(revoked);
    usleep(1300 * 1000);
    assert_int_equal(chat_token_denylist_check(r, jti, &revoked), CHAT_OK);
    assert_false(revoked);
    chat_redis_destroy(r);
}

static void test_redis_down(void **state)
{
    chat_redis_t *down = chat_redis_create("redis://127.0.0.1:1", false, 200, NULL, 0);
    bool revoked = true;

    (void)state;
    assert_non_null(down);
    assert_int_equal(chat_token_denylist_check(down, "abc", &revoked), CHAT_ERR_UNAVAILABLE);
    assert_false(revoked);
    assert_int_equal(chat_token_denylist_revoke(down, "abc", NOW + 5, NOW), CHAT_ERR_UNAVAILABLE);
    chat_redis_destroy(down);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revoke_and_check),
        cmocka_unit_test(test_entry_expires_with_token),
        cmocka_unit_test(test_redis_down),
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
