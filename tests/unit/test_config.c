/*
 * test_config.c - environment configuration: every default, each variable's
 * parsing and range (messages name the variable), JWT_SECRET rules, JWT_TTL suffixes,
 * CORS list trimming and matching, and cleanup on failure (ASan checks for leaks).
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

#include "chat/config.h"

#define SECRET "0123456789abcdef0123456789abcdef"

static const char *const all_vars[] = {
    "HTTP_PORT",
    "MONGO_URI",
    "MONGO_DB",
    "REDIS_URL",
    "JWT_SECRET",
    "JWT_ISSUER",
    "JWT_TTL",
    "BCRYPT_COST",
    "CORS_ORIGINS",
    "RATE_MSG_PER_SEC",
    "RATE_MSG_BURST",
    "RATE_LOGIN_PER_MIN",
    "RATE_REGISTER_PER_HOUR",
    "RATE_API_PER_SEC",
    "RATE_ROOM_CREATE_PER_MIN",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "GATEWAY_ID",
    "GATEWAY_PORT",
    "GATEWAY_HOST",
    "MAX_SOCKETS_PER_USER",
    "MONGO_TIMEOUT_MS",
    "HISTORY_SCAN_TIMEOUT_MS",
    "BCRYPT_ALLOW_WEAK",
    "SESSION_MAX_AGE",
    "REDIS_CLUSTER",
};

/* Each test starts from a clean environment with only a valid secret. */
static int reset_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(all_vars) / sizeof(all_vars[0]); i++)
        unsetenv(all_vars[i]);
    setenv("JWT_SECRET", SECRET, 1);
    return 0;
}

/* Loads with one variable set to value; expects failure naming the variable. */
static void expect_bad(const char *name, const char *value)
{
    chat_config_t cfg;
    char err[512];

    setenv(name, value, 1);
    if (chat_config_load(&cfg, true, err, sizeof(err)) != -1)
        fail_msg("%s='%s' was accepted", name, value);
    if (strstr(err, name) == NULL)
        fail_msg("message for %s='%s' does not name it: %s", name, value, err);
    assert_null(cfg.mongo_uri); /* zeroed on failure */
    assert_null(cfg.cors_origins);
    unsetenv(name);
}

static void test_defaults(void **state)
{
    chat_config_t cfg;
    char err[256];
    char pid_suffix[32];

    (void)state;
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    assert_int_equal(cfg.http_port, 8080);
    assert_string_equal(cfg.mongo_uri, "mongodb://127.0.0.1:27017");
    assert_string_equal(cfg.mongo_db, "chat");
    assert_string_equal(cfg.redis_url, "redis://127.0.0.1:6379");
    assert_string_equal(cfg.jwt_secret, SECRET);
    assert_string_equal(cfg.jwt_issuer, "chat-server");
    assert_int_equal(cfg.jwt_ttl_sec, 86400);
    assert_int_equal(cfg.bcrypt_cost, 12);
    assert_int_equal(cfg.n_cors_origins, 4);
    assert_string_equal(cfg.cors_origins[0], "http://localhost:3000");
    assert_string_equal(cfg.cors_origins[1], "http://127.0.0.1:3000");
    assert_string_equal(cfg.cors_origins[2], "http://localhost:8080");
    assert_string_equal(cfg.cors_origins[3], "http://127.0.0.1:8080");
    assert_true(cfg.rate_msg_per_sec == 10);
    assert_true(cfg.rate_msg_burst == 30);
    assert_true(cfg.rate_login_per_min == 10);
    assert_true(cfg.rate_register_per_hour == 20);
    assert_true(cfg.rate_api_per_sec == 50);
    assert_true(cfg.rate_room_create_per_min == 10);
    assert_int_equal(cfg.log_level, CHAT_LOG_INFO);
    assert_int_equal(cfg.log_format, CHAT_LOG_JSON);
    assert_int_equal(strncmp(cfg.gateway_id, "gw-", 3), 0);
    snprintf(pid_suffix, sizeof(pid_suffix), "-%ld", (long)getpid());
    assert_string_equal(cfg.gateway_id + strlen(cfg.gateway_id) - strlen(pid_suffix), pid_suffix);
    assert_int_equal(cfg.gateway_port, 9001);
    assert_string_equal(cfg.gateway_host, "127.0.0.1");
    assert_int_equal(cfg.max_sockets_per_user, 20);
    assert_int_equal(cfg.mongo_timeout_ms, 1500);
    assert_int_equal(cfg.history_scan_timeout_ms, 10000);
    chat_config_free(&cfg);
    assert_null(cfg.jwt_secret);
    chat_config_free(&cfg); /* zeroed: a second free is harmless */
    chat_config_free(NULL);
}

static void test_overrides(void **state)
{
    chat_config_t cfg;
    char err[256];

    (void)state;
    setenv("HTTP_PORT", "8081", 1);
    setenv("MONGO_URI", "mongodb+srv://cluster.example.com/", 1);
    setenv("MONGO_DB", "chat_test", 1);
    setenv("REDIS_URL", "redis://:pw@10.0.0.2:6380/1", 1);
    setenv("JWT_ISSUER", "staging", 1);
    setenv("BCRYPT_COST", " 10 ", 1);
    setenv("RATE_MSG_PER_SEC", "0", 1);
    setenv("RATE_MSG_BURST", "0", 1); /* fine while the limit is off */
    setenv("RATE_API_PER_SEC", "2.5", 1);
    setenv("LOG_LEVEL", "DEBUG", 1);
    setenv("LOG_FORMAT", "text", 1);
    setenv("GATEWAY_ID", "gw-7", 1);
    setenv("GATEWAY_PORT", "9100", 1);
    setenv("GATEWAY_HOST", "0.0.0.0", 1);
    setenv("MAX_SOCKETS_PER_USER", "5", 1);
    setenv("MONGO_TIMEOUT_MS", "250", 1);
    setenv("HISTORY_SCAN_TIMEOUT_MS", "30000", 1);
    setenv("JWT_TTL", "", 1); /* empty = unset */
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    assert_int_equal(cfg.http_port, 8081);
    assert_string_equal(cfg.mongo_uri, "mongodb+srv://cluster.example.com/");
    assert_string_equal(cfg.mongo_db, "chat_test");
    assert_string_equal(cfg.redis_url, "redis://:pw@10.0.0.2:6380/1");
    assert_string_equal(cfg.jwt_issuer, "staging");
    assert_int_equal(cfg.jwt_ttl_sec, 86400);
    assert_int_equal(cfg.bcrypt_cost, 10);
    assert_true(cfg.rate_msg_per_sec == 0);
    assert_true(cfg.rate_msg_burst == 0);
    assert_true(cfg.rate_api_per_sec == 2.5);
    assert_int_equal(cfg.log_level, CHAT_LOG_DEBUG);
    assert_int_equal(cfg.log_format, CHAT_LOG_TEXT);
    assert_string_equal(cfg.gateway_id, "gw-7");
    assert_int_equal(cfg.gateway_port, 9100);
    assert_string_equal(cfg.gateway_host, "0.0.0.0");
    assert_int_equal(cfg.max_sockets_per_user, 5);
    assert_int_equal(cfg.mongo_timeout_ms, 250);
    assert_int_equal(cfg.history_scan_timeout_ms, 30000);
    /* default CORS list follows HTTP_PORT */
    assert_int_equal(cfg.n_cors_origins, 4);
    assert_string_equal(cfg.cors_origins[2], "http://localhost:8081");
    assert_string_equal(cfg.cors_origins[3], "http://127.0.0.1:8081");
    chat_config_free(&cfg);
}

static void test_secret(void **state)
{
    chat_config_t cfg;
    char err[256];

    (void)state;
    unsetenv("JWT_SECRET");
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "JWT_SECRET"));
    /* tools that never sign may run without it */
    assert_int_equal(chat_config_load(&cfg, false, err, sizeof(err)), 0);
    assert_null(cfg.jwt_secret);
    chat_config_free(&cfg);

    setenv("JWT_SECRET", "short-secret-31-bytes-long-xxxx", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "JWT_SECRET"));
    assert_null(strstr(err, "short-secret")); /* never echoed */
    setenv("JWT_SECRET", "", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "JWT_SECRET"));
    setenv("JWT_SECRET", "exactly-32-bytes-long-secret-xyz", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    assert_string_equal(cfg.jwt_secret, "exactly-32-bytes-long-secret-xyz");
    chat_config_free(&cfg);
}

static void test_bcrypt_cost_message(void **state)
{
    chat_config_t cfg;
    char err[256];

    (void)state;
    setenv("BCRYPT_COST", "abc", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), -1);
    assert_string_equal(err, "BCRYPT_COST must be an integer 4..31, got 'abc'");
    unsetenv("BCRYPT_COST");
}

/* A cost below 10 is refused unless the test-only switch is set (issue 10, point 8). */
static void test_bcrypt_weak_cost(void **state)
{
    chat_config_t cfg;
    char err[512];

    (void)state;
    setenv("BCRYPT_COST", "4", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "BCRYPT_COST must be at least 10, got 4"));
    assert_non_null(strstr(err, "BCRYPT_ALLOW_WEAK=1"));
    setenv("BCRYPT_COST", "9", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), -1);
    setenv("BCRYPT_ALLOW_WEAK", "1", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    assert_int_equal(cfg.bcrypt_cost, 9);
    assert_true(cfg.bcrypt_allow_weak);
    chat_config_free(&cfg);
    setenv("BCRYPT_ALLOW_WEAK", "0", 1);
    setenv("BCRYPT_COST", "10", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    assert_false(cfg.bcrypt_allow_weak);
    chat_config_free(&cfg);
    expect_bad("BCRYPT_ALLOW_WEAK", "yes");
    unsetenv("BCRYPT_COST");
    unsetenv("BCRYPT_ALLOW_WEAK");
}

/* REDIS_CLUSTER: off by default, 0|1, anything else refused with its name. */
static void test_redis_cluster(void **state)
{
    chat_config_t cfg;
    char err[512];

    (void)state;
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    assert_false(cfg.redis_cluster);
    chat_config_free(&cfg);
    setenv("REDIS_CLUSTER", "1", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    assert_true(cfg.redis_cluster);
    chat_config_free(&cfg);
    expect_bad("REDIS_CLUSTER", "2");
    expect_bad("REDIS_CLUSTER", "yes");
}

/* A malformed URL's password is masked in the message (issue 10, point 10). */
static void test_bad_url_hides_password(void **state)
{
    chat_config_t cfg;
    char err[512];

    (void)state;
    setenv("REDIS_URL", "rediss://:Swordfish42@cache:6380", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "REDIS_URL"));
    assert_null(strstr(err, "Swordfish42"));
    unsetenv("REDIS_URL");
    setenv("MONGO_URI", "mongo://root:Swordfish42@db", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "MONGO_URI"));
    assert_null(strstr(err, "Swordfish42"));
    unsetenv("MONGO_URI");
}

static void test_bad_numbers(void **state)
{
    static const char *const cases[][2] = {
        {"BCRYPT_COST", "3"},
        {"BCRYPT_COST", "32"},
        {"BCRYPT_COST", "12x"},
        {"BCRYPT_COST", "1 2"},
        {"BCRYPT_COST", "  "},
        {"HTTP_PORT", "0"},
        {"HTTP_PORT", "65536"},
        {"HTTP_PORT", "-1"},
        {"HTTP_PORT", "80.5"},
        {"HTTP_PORT", "99999999999999999999999"},
        {"GATEWAY_PORT", "x"},
        {"MAX_SOCKETS_PER_USER", "0"},
        {"MONGO_TIMEOUT_MS", "0"},
        {"HISTORY_SCAN_TIMEOUT_MS", "0"},
        {"RATE_MSG_PER_SEC", "-1"},
        {"RATE_MSG_PER_SEC", "nan"},
        {"RATE_MSG_PER_SEC", "inf"},
        {"RATE_MSG_PER_SEC", "ten"},
        {"RATE_MSG_PER_SEC", "0x10"},
        {"RATE_MSG_PER_SEC", "1e99"},
        {"RATE_LOGIN_PER_MIN", "5/min"},
        {"RATE_REGISTER_PER_HOUR", "-0.5"},
        {"RATE_API_PER_SEC", "fast"},
        {"RATE_ROOM_CREATE_PER_MIN", "1,5"},
        {"RATE_MSG_BURST", "0"}, /* while RATE_MSG_PER_SEC is on */
        {"LOG_LEVEL", "verbose"},
        {"LOG_FORMAT", "xml"},
        {"GATEWAY_ID", "gw 1"},
        {"GATEWAY_ID", "gw-0123456789012345678901234567890123456789012345678901234567890123"},
        {"MONGO_URI", "http://127.0.0.1:27017"},
        {"REDIS_URL", "127.0.0.1:6379"},
        {"REDIS_URL", "rediss://host"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_bad(cases[i][0], cases[i][1]);
}

static void test_jwt_ttl(void **state)
{
    static const struct {
        const char *text;
        int64_t sec;
    } good[] = {
        {"3600", 3600}, {"90s", 90},    {"30m", 1800}, {"24h", 86400},
        {"7d", 604800}, {" 15m ", 900}, {"1", 1},      {"3650d", 3650 * 86400},
    };
    static const char *const bad[] = {
        "0",     "-5",  "10w", "1.5h", "h", "24hh", "24 h", "+5", "0m", "99999999999999999999",
        "3651d", "abc",
    };
    chat_config_t cfg;
    char err[512];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        setenv("JWT_TTL", good[i].text, 1);
        assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
        assert_int_equal(cfg.jwt_ttl_sec, good[i].sec);
        chat_config_free(&cfg);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad("JWT_TTL", bad[i]);
    unsetenv("JWT_TTL");
    /* SESSION_MAX_AGE: the same syntax, default 30 days */
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    assert_int_equal(cfg.session_max_age_sec, 30 * 86400);
    chat_config_free(&cfg);
    setenv("SESSION_MAX_AGE", "12h", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    assert_int_equal(cfg.session_max_age_sec, 12 * 3600);
    chat_config_free(&cfg);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_bad("SESSION_MAX_AGE", bad[i]);
    unsetenv("SESSION_MAX_AGE");
}

static void test_cors(void **state)
{
    chat_config_t cfg;
    char err[512];

    (void)state;
    setenv("CORS_ORIGINS", " http://a.example.com , https://b.example.org:8443/ ,, ", 1);
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    assert_int_equal(cfg.n_cors_origins, 2);
    assert_string_equal(cfg.cors_origins[0], "http://a.example.com");
    assert_string_equal(cfg.cors_origins[1], "https://b.example.org:8443");
    assert_true(chat_config_origin_allowed(&cfg, "http://a.example.com"));
    assert_true(chat_config_origin_allowed(&cfg, "HTTP://A.example.com"));
    assert_true(chat_config_origin_allowed(&cfg, "https://b.example.org:8443"));
    assert_false(chat_config_origin_allowed(&cfg, "https://b.example.org"));
    assert_false(chat_config_origin_allowed(&cfg, "http://a.example.com.evil.com"));
    assert_false(chat_config_origin_allowed(&cfg, "http://a.example.co"));
    assert_false(chat_config_origin_allowed(&cfg, "null"));
    assert_false(chat_config_origin_allowed(&cfg, ""));
    assert_false(chat_config_origin_allowed(&cfg, NULL));
    assert_false(chat_config_origin_allowed(NULL, "http://a.example.com"));
    chat_config_free(&cfg);

    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    chat_config_free(&cfg);
    expect_bad("CORS_ORIGINS", "*");
    expect_bad("CORS_ORIGINS", "http://ok.example.com,*");
    expect_bad("CORS_ORIGINS", "example.com");
    expect_bad("CORS_ORIGINS", " , ,");
}

static void test_default_cors_allows_own_origin(void **state)
{
    chat_config_t cfg;
    char err[256];

    (void)state;
    assert_int_equal(chat_config_load(&cfg, true, err, sizeof(err)), 0);
    assert_true(chat_config_origin_allowed(&cfg, "http://localhost:3000"));
    assert_true(chat_config_origin_allowed(&cfg, "http://127.0.0.1:8080"));
    assert_false(chat_config_origin_allowed(&cfg, "http://evil.example"));
    chat_config_free(&cfg);
}

static void test_null_errbuf(void **state)
{
    chat_config_t cfg;

    (void)state;
    setenv("HTTP_PORT", "nope", 1);
    assert_int_equal(chat_config_load(&cfg, true, NULL, 0), -1);
    unsetenv("HTTP_PORT");
    assert_int_equal(chat_config_load(NULL, true, NULL, 0), -1);
}

/* The gateway's WS_* settings: defaults, an override, a bad value named, and the ping
 * / idle rule. */
static void test_ws_limits(void **state)
{
    chat_ws_limits_t lim;
    char err[256];

    (void)state;
    unsetenv("WS_QUEUE_MAX_BYTES");
    unsetenv("WS_PING_SEC");
    unsetenv("WS_IDLE_SEC");
    unsetenv("WS_ROOM_CACHE");
    assert_int_equal(chat_config_ws_limits_load(&lim, err, sizeof(err)), 0);
    assert_int_equal(lim.queue_max_bytes, 1024 * 1024);
    assert_int_equal(lim.ping_sec, 25);
    assert_int_equal(lim.idle_sec, 60);
    assert_int_equal(lim.room_cache, 256);
    assert_int_equal(lim.max_rooms_per_session, 500);
    setenv("WS_QUEUE_MAX_BYTES", " 2097152 ", 1);
    setenv("WS_ROOM_CACHE", "0", 1);
    assert_int_equal(chat_config_ws_limits_load(&lim, err, sizeof(err)), 0);
    assert_int_equal(lim.queue_max_bytes, 2097152);
    assert_int_equal(lim.room_cache, 0);
    setenv("WS_ROOM_CACHE", "lots", 1);
    assert_int_equal(chat_config_ws_limits_load(&lim, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "WS_ROOM_CACHE"));
    unsetenv("WS_ROOM_CACHE");
    setenv("WS_PING_SEC", "30", 1);
    setenv("WS_IDLE_SEC", "30", 1);
    assert_int_equal(chat_config_ws_limits_load(&lim, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "WS_IDLE_SEC"));
    unsetenv("WS_PING_SEC");
    unsetenv("WS_IDLE_SEC");
    unsetenv("WS_QUEUE_MAX_BYTES");
    /* the writers' group-commit linger: 6 ms, 0 turns it off, past 100 ms refused */
    unsetenv("WS_COMMIT_LINGER_MS");
    assert_int_equal(chat_config_ws_limits_load(&lim, err, sizeof(err)), 0);
    assert_int_equal(lim.commit_linger_ms, 6);
    setenv("WS_COMMIT_LINGER_MS", "0", 1);
    assert_int_equal(chat_config_ws_limits_load(&lim, err, sizeof(err)), 0);
    assert_int_equal(lim.commit_linger_ms, 0);
    setenv("WS_COMMIT_LINGER_MS", "101", 1);
    assert_int_equal(chat_config_ws_limits_load(&lim, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "WS_COMMIT_LINGER_MS"));
    unsetenv("WS_COMMIT_LINGER_MS");
    /* the process-wide bound of the presence dedupe: 0 remembers nothing */
    unsetenv("WS_PRESENCE_SEEN_MAX");
    assert_int_equal(chat_config_ws_limits_load(&lim, err, sizeof(err)), 0);
    assert_int_equal(lim.presence_seen_max, 262144);
    setenv("WS_PRESENCE_SEEN_MAX", "0", 1);
    assert_int_equal(chat_config_ws_limits_load(&lim, err, sizeof(err)), 0);
    assert_int_equal(lim.presence_seen_max, 0);
    setenv("WS_PRESENCE_SEEN_MAX", "-1", 1);
    assert_int_equal(chat_config_ws_limits_load(&lim, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "WS_PRESENCE_SEEN_MAX"));
    unsetenv("WS_PRESENCE_SEEN_MAX");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults, reset_env),
        cmocka_unit_test_setup(test_overrides, reset_env),
        cmocka_unit_test_setup(test_secret, reset_env),
        cmocka_unit_test_setup(test_bcrypt_cost_message, reset_env),
        cmocka_unit_test_setup(test_bad_numbers, reset_env),
        cmocka_unit_test_setup(test_jwt_ttl, reset_env),
        cmocka_unit_test_setup(test_cors, reset_env),
        cmocka_unit_test_setup(test_bcrypt_weak_cost, reset_env),
        cmocka_unit_test_setup(test_bad_url_hides_password, reset_env),
        cmocka_unit_test_setup(test_default_cors_allows_own_origin, reset_env),
        cmocka_unit_test_setup(test_null_errbuf, reset_env),
        cmocka_unit_test_setup(test_redis_cluster, reset_env),
        cmocka_unit_test_setup(test_ws_limits, reset_env),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
