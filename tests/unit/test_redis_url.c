/*
 * test_redis_url.c - redis_url.h: host, port, password, ACL user and db from a Redis URL,
 * the defaults, IPv6 hosts, and the refusal of malformed URLs (nothing allocated then).
 * Pure; no services.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>

#include "chat/redis_url.h"

static void test_url_parse(void **state)
{
    char *host = NULL;
    char *password = NULL;
    int port = 0;
    int db = -1;

    (void)state;
    assert_int_equal(chat_redis_url_parse("redis://localhost", &host, &port, &password, &db), 0);
    assert_string_equal(host, "localhost");
    assert_int_equal(port, 6379);
    assert_null(password);
    assert_int_equal(db, 0);
    free(host);

    assert_int_equal(
        chat_redis_url_parse("redis://:s3cret@10.0.0.5:6380/4", &host, &port, &password, &db), 0);
    assert_string_equal(host, "10.0.0.5");
    assert_int_equal(port, 6380);
    assert_string_equal(password, "s3cret");
    assert_int_equal(db, 4);
    free(host);
    free(password);

    assert_int_equal(
        chat_redis_url_parse("redis://user:pw@[::1]:7000/", &host, &port, &password, &db), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7000);
    assert_string_equal(password, "pw");
    assert_int_equal(db, 0);
    free(host);
    free(password);

    /* the ACL user too (the gateway's AUTH user password) */
    {
        char *user = NULL;

        assert_int_equal(chat_redis_url_parse_auth("redis://app:s3cret@cache:6380/2", &host, &port,
                                                   &user, &password, &db),
                         0);
        assert_string_equal(user, "app");
        assert_string_equal(password, "s3cret");
        assert_string_equal(host, "cache");
        assert_int_equal(port, 6380);
        assert_int_equal(db, 2);
        free(host);
        free(user);
        free(password);
        assert_int_equal(
            chat_redis_url_parse_auth("redis://:s3cret@cache", &host, &port, &user, &password, &db),
            0);
        assert_null(user);
        assert_string_equal(password, "s3cret");
        free(host);
        free(password);
    }

    static const char *bad[] = {
        "http://localhost",   "redis://",         "redis://:pw@",   "redis://host:0",
        "redis://host:70000", "redis://host:abc", "redis://host:",  "redis://host/x",
        "redis://[::1",       "redis://:6379",    "localhost:6379", NULL,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        host = NULL;
        password = NULL;
        assert_int_equal(chat_redis_url_parse(bad[i], &host, &port, &password, &db), -1);
        assert_null(host);
        assert_null(password);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
