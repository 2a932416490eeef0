/*
 * test_log.c - structured logging: JSON line shape (ts, level, component, msg,
 * context), escaping of quotes, controls and bad UTF-8, the level threshold, text
 * format, long lines, and whole lines under concurrent writers. stderr is pointed at
 * a temporary file and read back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/clock.h"
#include "chat/log.h"

static FILE *capture;
static int saved_stderr = -1;

/* Points fd 2 at a fresh temp file. */
static int start_capture(void **state)
{
    (void)state;
    capture = tmpfile();
    if (capture == NULL)
        return -1;
    fflush(stderr);
    saved_stderr = dup(2);
    dup2(fileno(capture), 2);
    return 0;
}

static int stop_capture(void **state)
{
    (void)state;
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    fclose(capture);
    capture = NULL;
    return 0;
}

/* Everything written so far, as a new malloc'd string. */
static char *captured(void)
{
    long n = 0;
    char *buf = NULL;

    fflush(stderr);
    n = lseek(fileno(capture), 0, SEEK_END);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fileno(capture), buf, (size_t)n, 0), n);
    return buf;
}

/* Parses the only line written; fails unless exactly one JSON line is there. */
static json_t *one_json_line(void)
{
    char *text = captured();
    size_t n = strlen(text);
    json_error_t err;
    json_t *j = NULL;

    assert_true(n > 0);
    assert_int_equal(text[n - 1], '\n');
    assert_null(memchr(text, '\n', n - 1));
    j = json_loads(text, 0, &err);
    if (j == NULL)
        fail_msg("not JSON (%s): %s", err.text, text);
    free(text);
    return j;
}

static const char *field(const json_t *j, const char *key)
{
    return json_string_value(json_object_get(j, key));
}

static void test_json_shape(void **state)
{
    json_t *j = NULL;
    int64_t ts = 0;

    (void)state;
    chat_log_init("unit", CHAT_LOG_DEBUG, CHAT_LOG_JSON);
    chat_log_info("user registered", "user", "65a1b2c3d4e5f60718293a4b", "skip", NULL, "req",
                  "r-1");
    j = one_json_line();
    assert_string_equal(field(j, "level"), "info");
    assert_string_equal(field(j, "component"), "unit");
    assert_string_equal(field(j, "msg"), "user registered");
    assert_string_equal(field(j, "user"), "65a1b2c3d4e5f60718293a4b");
    assert_string_equal(field(j, "req"), "r-1");
    assert_null(json_object_get(j, "skip"));
    assert_int_equal(chat_clock_parse_rfc3339(field(j, "ts"), &ts), 0);
    assert_true(llabs((long long)(chat_clock_now_ms() - ts)) < 60000);
    assert_int_equal(strlen(field(j, "ts")), 24);
    assert_int_equal(field(j, "ts")[23], 'Z');
    json_decref(j);
}

/* A thread's scope (req / conn) is on every line it logs, once, until cleared. */
static void test_scope(void **state)
{
    json_t *j = NULL;

    (void)state;
    chat_log_init("unit", CHAT_LOG_DEBUG, CHAT_LOG_JSON);
    chat_log_scope_set("req", "r-42");
    chat_log_warn("mongo slow", "op", "find");
    j = one_json_line();
    assert_string_equal(field(j, "req"), "r-42");
    assert_string_equal(field(j, "op"), "find");
    json_decref(j);
    assert_int_equal(ftruncate(fileno(capture), 0), 0);
    assert_int_equal(lseek(2, 0, SEEK_SET), 0);
    chat_log_info("request", "req", "r-42", "status", "200");
    j = one_json_line(); /* named by the line itself: not twice */
    assert_int_equal(json_object_size(j), 6);
    json_decref(j);
    assert_int_equal(ftruncate(fileno(capture), 0), 0);
    assert_int_equal(lseek(2, 0, SEEK_SET), 0);
    chat_log_scope_clear();
    chat_log_info("idle");
    j = one_json_line();
    assert_null(json_object_get(j, "req"));
    json_decref(j);
}

static void test_escaping(void **state)
{
    json_t *j = NULL;

    (void)state;
    chat_log_init("unit", CHAT_LOG_DEBUG, CHAT_LOG_JSON);
    chat_log_warn("a \"quoted\" \\ back\nslash\ttab\x01\x7f", "bad", "x\xff\xc0\xafy", "ok",
                  "h\xc3\xa9llo \xf0\x9f\x98\x80", "k\"ey", "v");
    j = one_json_line();
    assert_string_equal(field(j, "level"), "warn");
    assert_string_equal(field(j, "msg"), "a \"quoted\" \\ back\nslash\ttab\x01\x7f");
    assert_string_equal(field(j, "bad"), "x\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdy");
    assert_string_equal(field(j, "ok"), "h\xc3\xa9llo \xf0\x9f\x98\x80");
    assert_string_equal(field(j, "k\"ey"), "v");
    json_decref(j);
}

static void test_threshold(void **state)
{
    char *text = NULL;

    (void)state;
    chat_log_init("unit", CHAT_LOG_WARN, CHAT_LOG_JSON);
    chat_log_debug("hidden");
    chat_log_info("hidden too");
    text = captured();
    assert_string_equal(text, "");
    free(text);
    chat_log_error("shown");
    text = captured();
    assert_non_null(strstr(text, "\"level\":\"error\""));
    assert_null(strstr(text, "hidden"));
    free(text);
}

static void test_text_format(void **state)
{
    char *text = NULL;

    (void)state;
    chat_log_init("gw", CHAT_LOG_INFO, CHAT_LOG_TEXT);
    chat_log_info("two\nlines", "conn", "c 1", "room", "r\x01");
    text = captured();
    assert_non_null(strstr(text, " info  gw: two\\nlines conn=c 1 room=r\\x01\n"));
    assert_int_equal(strchr(text, '\n') - text, (long)strlen(text) - 1);
    free(text);
}

static void test_long_line(void **state)
{
    char *big = malloc(10001);
    json_t *j = NULL;

    (void)state;
    chat_log_init("unit", CHAT_LOG_INFO, CHAT_LOG_JSON);
    memset(big, 'q', 10000);
    big[10000] = '\0';
    big[5000] = '"';
    chat_log_info("long", "blob", big, "after", "end");
    j = one_json_line();
    assert_string_equal(field(j, "blob"), big);
    assert_string_equal(field(j, "after"), "end");
    json_decref(j);
    free(big);
}

#define THREADS 8
#define LINES 200

static void *writer(void *arg)
{
    char id[16];
    char pad[300];

    snprintf(id, sizeof(id), "%d", (int)(intptr_t)arg);
    memset(pad, 'a' + (int)(intptr_t)arg, sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    for (int i = 0; i < LINES; i++)
        chat_log_info("concurrent", "thread", id, "pad", pad);
    return NULL;
}

static void test_concurrent_lines_whole(void **state)
{
    pthread_t t[THREADS];
    char *text = NULL;
    char *save = NULL;
    int lines = 0;

    (void)state;
    chat_log_init("unit", CHAT_LOG_INFO, CHAT_LOG_JSON);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    text = captured();
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *j = json_loads(line, 0, NULL);

        if (j == NULL)
            fail_msg("broken line: %.80s", line);
        json_decref(j);
        lines++;
    }
    assert_int_equal(lines, THREADS * LINES);
    free(text);
}

static void test_level_parse(void **state)
{
    (void)state;
    assert_int_equal(chat_log_level_parse("debug"), CHAT_LOG_DEBUG);
    assert_int_equal(chat_log_level_parse("INFO"), CHAT_LOG_INFO);
    assert_int_equal(chat_log_level_parse("Warn"), CHAT_LOG_WARN);
    assert_int_equal(chat_log_level_parse("warning"), CHAT_LOG_WARN);
    assert_int_equal(chat_log_level_parse("error"), CHAT_LOG_ERROR);
    assert_int_equal(chat_log_level_parse("trace"), -1);
    assert_int_equal(chat_log_level_parse(""), -1);
    assert_int_equal(chat_log_level_parse(NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_json_shape, start_capture, stop_capture),
        cmocka_unit_test_setup_teardown(test_escaping, start_capture, stop_capture),
        cmocka_unit_test_setup_teardown(test_scope, start_capture, stop_capture),
        cmocka_unit_test_setup_teardown(test_threshold, start_capture, stop_capture),
        cmocka_unit_test_setup_teardown(test_text_format, start_capture, stop_capture),
        cmocka_unit_test_setup_teardown(test_long_line, start_capture, stop_capture),
        cmocka_unit_test_setup_teardown(test_concurrent_lines_whole, start_capture, stop_capture),
        cmocka_unit_test(test_level_parse),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
