/*
 * test_log_async.c - the log writer thread (chat_log_async_start): lines arrive whole
 * and in each thread's order; a stderr nobody reads never blocks a caller, the lines
 * that do not fit are counted, and a line saying how many were dropped follows once the
 * reader catches up. fd 2 is pointed at a temporary file or a pipe.
 *
 * Threads: the cmocka main thread, plus writer threads in the ordering test and a
 * reader thread that drains the pipe.
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
#include <time.h>
#include <unistd.h>

#include "chat/log.h"

#define WRITERS 4
#define LINES_PER_WRITER 500

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *ordered_writer(void *arg)
{
    char who[8];
    char idx[16];

    snprintf(who, sizeof(who), "%d", (int)(intptr_t)arg);
    for (int i = 0; i < LINES_PER_WRITER; i++) {
        snprintf(idx, sizeof(idx), "%d", i);
        chat_log_info("line", "writer", who, "i", idx);
    }
    return NULL;
}

static void test_lines_arrive_whole_and_in_order(void **state)
{
    FILE *f = tmpfile();
    int saved = dup(2);
    pthread_t t[WRITERS];
    int last[WRITERS] = {-1, -1, -1, -1};
    char *text;
    long n;
    int lines = 0;

    (void)state;
    assert_non_null(f);
    fflush(stderr);
    dup2(fileno(f), 2);
    chat_log_init("test", CHAT_LOG_INFO, CHAT_LOG_JSON);
    assert_int_equal(chat_log_async_start(64 * 1024), 0);
    for (intptr_t i = 0; i < WRITERS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, ordered_writer, (void *)i), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        pthread_join(t[i], NULL);
    }
    chat_log_async_stop(5000);
    dup2(saved, 2);
    close(saved);

    n = lseek(fileno(f), 0, SEEK_END);
    text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(pread(fileno(f), text, (size_t)n, 0), n);
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        json_error_t err;
        json_t *j = json_loads(line, 0, &err);
        int who;
        int i;
        if (j == NULL) {
            fail_msg("not a whole JSON line (%s): %s", err.text, line);
        }
        if (strcmp(json_string_value(json_object_get(j, "msg")),
                   "log lines dropped (stderr too slow)") == 0) {
            json_decref(j); /* the count of lines the full ring refused */
            continue;
        }
        who = atoi(json_string_value(json_object_get(j, "writer")));
        i = atoi(json_string_value(json_object_get(j, "i")));
        assert_true(who >= 0 && who < WRITERS);
        assert_true(i > last[who]); /* each thread's lines in its order (some dropped) */
        last[who] = i;
        lines++;
        json_decref(j);
    }
    /* the ring held ~120 lines at most: writers that found it full dropped lines, and
     * every line that was not dropped arrived */
    assert_int_equal((uint64_t)lines + chat_log_dropped_total(),
                     (uint64_t)(WRITERS * LINES_PER_WRITER));
    free(text);
    fclose(f);
}

typedef struct drain {
    int fd;
    char *got;
    size_t len;
    size_t cap;
} drain_t;

static void *drain_pipe(void *arg)
{
    drain_t *d = arg;
    char buf[65536];
    ssize_t r;

    while ((r = read(d->fd, buf, sizeof(buf))) > 0) {
        if (d->len + (size_t)r + 1 > d->cap) {
            d->cap = (d->len + (size_t)r + 1) * 2;
            d->got = realloc(d->got, d->cap);
            assert_non_null(d->got);
        }
        memcpy(d->got + d->len, buf, (size_t)r);
        d->len += (size_t)r;
        d->got[d->len] = '\0';
    }
    return NULL;
}

static void test_a_stuck_reader_never_blocks_a_caller(void **state)
{
    int p[2];
    int saved = dup(2);
    uint64_t dropped_before = chat_log_dropped_total();
    uint64_t dropped;
    double t0;
    double took;
    pthread_t reader;
    drain_t d = {0};

    (void)state;
    assert_int_equal(pipe(p), 0);
    fflush(stderr);
    dup2(p[1], 2);
    close(p[1]);
    chat_log_init("test", CHAT_LOG_INFO, CHAT_LOG_JSON);
    assert_int_equal(chat_log_async_start(4096), 0);
    /* ~1.2 MB: far more than the pipe (64 KiB) and the ring (4 KiB) hold, and nobody
     * reads the pipe yet: a direct write would block here for good */
    t0 = now_s();
    for (int i = 0; i < 10000; i++) {
        chat_log_info("a line nobody reads yet", "pad",
                      "................................................................");
    }
    took = now_s() - t0;
    dropped = chat_log_dropped_total() - dropped_before;
    assert_true(took < 5.0);
    assert_true(dropped > 9000);

    /* the reader comes back: what was queued and the count of what was not arrive */
    d.fd = p[0];
    assert_int_equal(pthread_create(&reader, NULL, drain_pipe, &d), 0);
    chat_log_async_stop(5000);
    dup2(saved, 2); /* closes the pipe's last write end: the reader sees EOF */
    close(saved);
    pthread_join(reader, NULL);
    close(p[0]);
    assert_non_null(d.got);
    assert_non_null(strstr(d.got, "log lines dropped (stderr too slow)"));
    free(d.got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_arrive_whole_and_in_order),
        cmocka_unit_test(test_a_stuck_reader_never_blocks_a_caller),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
