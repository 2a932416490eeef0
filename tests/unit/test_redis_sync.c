/*
 * test_redis_sync.c - the blocking Redis client against a real Redis
 * (CHAT_TEST_REDIS_URL): a bad URL refused, commands, SELECT and AUTH from the URL, fast
 * "down" answers, reconnection after the connection is killed, and the run id that
 * follows an epoch a clean stop handed over (only one naming this server's run_id).
 * Parsing the URL itself is test_redis_url.c.
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

#include "chat/keys.h"
#include "chat/redis_sync.h"

static const char *redis_url(void)
{
    return getenv("CHAT_TEST_REDIS_URL");
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A URL for the test server with a path or credentials spliced in. */
static void url_with(char *buf, size_t len, const char *userinfo, const char *path)
{
    const char *hostport = redis_url() + strlen("redis://");
    const char *slash = strchr(hostport, '/');
    int hostlen = slash != NULL ? (int)(slash - hostport) : (int)strlen(hostport);

    snprintf(buf, len, "redis://%s%.*s%s", userinfo, hostlen, hostport, path);
}

static void test_create_rejects_bad_url(void **state)
{
    char errbuf[256];

    (void)state;
    errbuf[0] = '\0';
    assert_null(chat_redis_create("nope", false, 500, errbuf, sizeof(errbuf)));
    assert_non_null(strstr(errbuf, "REDIS_URL"));
    chat_redis_destroy(NULL);
    /* a Redis Cluster has database 0 only: another one is a configuration error */
    errbuf[0] = '\0';
    assert_null(chat_redis_create("redis://127.0.0.1:7000/3", true, 500, errbuf, sizeof(errbuf)));
    assert_non_null(strstr(errbuf, "REDIS_URL"));
    assert_non_null(strstr(errbuf, "REDIS_CLUSTER"));
    chat_redis_destroy(chat_redis_create("redis://127.0.0.1:7000/0", true, 500, NULL, 0));
}

static void test_commands(void **state)
{
    char errbuf[256];
    char key[64];
    chat_redis_t *r = chat_redis_create(redis_url(), false, 1000, errbuf, sizeof(errbuf));
    redisReply *reply = NULL;
    const char *argv[3];
    size_t argvlen[3];

    (void)state;
    assert_non_null(r);
    assert_int_equal(chat_redis_ping(r), CHAT_OK);

    snprintf(key, sizeof(key), "test:redis_sync:%d:k", (int)getpid());
    reply = chat_redis_command(r, "SET %s %b EX 60", key, "a\0b", (size_t)3);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STATUS);
    freeReplyObject(reply);

    argv[0] = "GET";
    argv[1] = key;
    argvlen[0] = 3;
    argvlen[1] = strlen(key);
    reply = chat_redis_command_argv(r, 2, argv, argvlen);
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STRING);
    assert_int_equal(reply->len, 3);
    assert_memory_equal(reply->str, "a\0b", 3);
    freeReplyObject(reply);

    /* an error reply is a reply, not "down" */
    reply = chat_redis_command(r, "NOSUCHCOMMAND");
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_ERROR);
    freeReplyObject(reply);
    assert_int_equal(chat_redis_ping(r), CHAT_OK);

    assert_int_equal(chat_redis_publish(r, "test:redis_sync:chan", "{\"x\":1}", 7), CHAT_OK);

    reply = chat_redis_command(r, "DEL %s", key);
    freeReplyObject(reply);
    chat_redis_destroy(r);
}

static void test_select_db_from_url(void **state)
{
    char url[256];
    char errbuf[256];
    char key[64];
    chat_redis_t *db0 = chat_redis_create(redis_url(), false, 1000, errbuf, sizeof(errbuf));
    chat_redis_t *db5 = NULL;
    redisReply *reply = NULL;

    (void)state;
    url_with(url, sizeof(url), "", "/5");
    db5 = chat_redis_create(url, false, 1000, errbuf, sizeof(errbuf));
    assert_non_null(db0);
    assert_non_null(db5);
    snprintf(key, sizeof(key), "test:redis_sync:%d:db", (int)getpid());

    reply = chat_redis_command(db5, "SET %s five EX 60", key);
    assert_non_null(reply);
    freeReplyObject(reply);
    reply = chat_redis_command(db0, "EXISTS %s", key);
    assert_non_null(reply);
    assert_int_equal(reply->integer, 0);
    freeReplyObject(reply);
    reply = chat_redis_command(db5, "EXISTS %s", key);
    assert_non_null(reply);
    assert_int_equal(reply->integer, 1);
    freeReplyObject(reply);
    freeReplyObject(chat_redis_command(db5, "DEL %s", key));
    chat_redis_destroy(db0);
    chat_redis_destroy(db5);
}

static void test_bad_password_is_down(void **state)
{
    char url[256];
    char errbuf[256];
    chat_redis_t *r = NULL;

    (void)state;
    /* the test server has no password: AUTH fails, so the connection is refused */
    url_with(url, sizeof(url), ":wrong@", "");
    r = chat_redis_create(url, false, 1000, errbuf, sizeof(errbuf));
    assert_non_null(r);
    assert_null(chat_redis_command(r, "PING"));
    assert_int_equal(chat_redis_ping(r), CHAT_ERR_UNAVAILABLE);
    chat_redis_destroy(r);
}

static void test_down_fails_fast_and_throttles(void **state)
{
    char errbuf[256];
    chat_redis_t *r = chat_redis_create("redis://127.0.0.1:1", false, 300, errbuf, sizeof(errbuf));
    int64_t start;

    (void)state;
    assert_non_null(r);
    start = now_ms();
    assert_int_equal(chat_redis_ping(r), CHAT_ERR_UNAVAILABLE);
    /* later calls within the second do not even try */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(chat_redis_publish(r, "c", "x", 1), CHAT_ERR_UNAVAILABLE);
    }
    assert_true(now_ms() - start < 900);
    chat_redis_destroy(r);
}

static void test_reconnects_after_connection_loss(void **state)
{
    char errbuf[256];
    chat_redis_t *r = chat_redis_create(redis_url(), false, 1000, errbuf, sizeof(errbuf));
    chat_redis_t *killer = chat_redis_create(redis_url(), false, 1000, errbuf, sizeof(errbuf));
    redisReply *reply = NULL;
    long long id;
    int64_t deadline;
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;

    (void)state;
    reply = chat_redis_command(r, "CLIENT ID");
    assert_non_null(reply);
    id = reply->integer;
    freeReplyObject(reply);

    reply = chat_redis_command(killer, "CLIENT KILL ID %lld", id);
    assert_non_null(reply);
    assert_int_equal(reply->integer, 1);
    freeReplyObject(reply);

    /* the dead connection is noticed, then replaced within about a second */
    deadline = now_ms() + 3000;
    while (rc != CHAT_OK && now_ms() < deadline) {
        rc = chat_redis_ping(r);
        if (rc != CHAT_OK) {
            usleep(100 * 1000);
        }
    }
    assert_int_equal(rc, CHAT_OK);
    chat_redis_destroy(r);
    chat_redis_destroy(killer);
}

/* The run id a new connection reports, with CHAT_KEY_REDIS_EPOCH set to value (NULL:
 * deleted) first; copied to out. */
static void run_id_with_epoch_key(chat_redis_t *setter, const char *value, char *out, size_t len)
{
    redisReply *reply = value != NULL
        ? chat_redis_command(setter, "SET %s %s", CHAT_KEY_REDIS_EPOCH, value)
        : chat_redis_command(setter, "DEL %s", CHAT_KEY_REDIS_EPOCH);
    chat_redis_t *r = chat_redis_create(redis_url(), false, 1000, NULL, 0);
    const char *run = NULL;

    freeReplyObject(reply);
    assert_non_null(r);
    run = chat_redis_run_id(r);
    assert_non_null(run);
    snprintf(out, len, "%s", run);
    chat_redis_destroy(r);
}

static void test_run_id_follows_only_this_servers_epoch(void **state)
{
    chat_redis_t *setter = chat_redis_create(redis_url(), false, 1000, NULL, 0);
    char server_run[64];
    char value[160];
    char got[64];
    const char *epoch = "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3";
    redisReply *reply = NULL;
    char *p = NULL;

    (void)state;
    assert_non_null(setter);
    reply = chat_redis_command(setter, "INFO server");
    assert_non_null(reply);
    assert_int_equal(reply->type, REDIS_REPLY_STRING);
    p = strstr(reply->str, "run_id:");
    assert_non_null(p);
    snprintf(server_run, sizeof(server_run), "%.*s", (int)strcspn(p + 7, "\r\n"), p + 7);
    freeReplyObject(reply);

    run_id_with_epoch_key(setter, NULL, got, sizeof(got));
    assert_string_equal(got, server_run);
    /* handed over to this run: the epoch */
    snprintf(value, sizeof(value), "%s %s", server_run, epoch);
    run_id_with_epoch_key(setter, value, got, sizeof(got));
    assert_string_equal(got, epoch);
    /* handed to another run (this server restarted after a crash): its own run_id */
    snprintf(value, sizeof(value), "%c%s %s", server_run[0] == 'a' ? 'b' : 'a', server_run + 1,
             epoch);
    run_id_with_epoch_key(setter, value, got, sizeof(got));
    assert_string_equal(got, server_run);
    /* malformed: no epoch, two words, a prefix of the run_id */
    snprintf(value, sizeof(value), "%s ", server_run);
    run_id_with_epoch_key(setter, value, got, sizeof(got));
    assert_string_equal(got, server_run);
    snprintf(value, sizeof(value), "%s %s x", server_run, epoch);
    run_id_with_epoch_key(setter, value, got, sizeof(got));
    assert_string_equal(got, server_run);
    snprintf(value, sizeof(value), "%.20s %s", server_run, epoch);
    run_id_with_epoch_key(setter, value, got, sizeof(got));
    assert_string_equal(got, server_run);

    run_id_with_epoch_key(setter, NULL, got, sizeof(got));
    chat_redis_destroy(setter);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_bad_url),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_select_db_from_url),
        cmocka_unit_test(test_bad_password_is_down),
        cmocka_unit_test(test_down_fails_fast_and_throttles),
        cmocka_unit_test(test_reconnects_after_connection_loss),
        cmocka_unit_test(test_run_id_follows_only_this_servers_epoch),
    };

    if (redis_url() == NULL || strncmp(redis_url(), "redis://", 8) != 0) {
        fprintf(stderr,
                "FAIL: CHAT_TEST_REDIS_URL is not set (or not redis://...). These "
                "tests need a Redis (make test starts one), e.g. "
                "CHAT_TEST_REDIS_URL=redis://127.0.0.1:6379\n");
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
