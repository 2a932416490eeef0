/*
 * log.c - structured logging (log.h). Each call builds its whole line in memory
 * (JSON with a hand-written escaper that never fails on bad UTF-8, or a text line for
 * LOG_FORMAT=text) and writes it with one fwrite under flockfile(stderr), so lines
 * from different threads never interleave. After chat_log_async_start (the gateway),
 * lines go instead into a bounded in-memory ring that a writer thread of its own
 * writes out: a slow or stuck reader of stderr costs the event loop nothing, and a
 * line that does not fit is dropped and counted (chat_log_dropped_total; a line
 * saying how many follows once the writer catches up).
 *
 * Threads: chat_log_init runs once on the main thread before any other thread
 * starts; after that the settings below are read-only and chat_log may be called
 * from any thread. The ring is shared under log__async.mu; the writer thread is its
 * only reader.
 */
#include "chat/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "chat/clock.h"

/* Owner: main thread, written only by chat_log_init before other threads exist. */
static struct {
    char component[64];
    chat_log_level_t level;
    chat_log_format_t format;
} log__settings = {"chat", CHAT_LOG_INFO, CHAT_LOG_JSON};

static const char *const log__level_names[] = {"debug", "info", "warn", "error"};

void chat_log_init(const char *component, chat_log_level_t level, chat_log_format_t format)
{
    snprintf(log__settings.component, sizeof(log__settings.component), "%s",
             component != NULL ? component : "chat");
    log__settings.level = level;
    log__settings.format = format;
}

int chat_log_level_parse(const char *text)
{
    if (text == NULL)
        return -1;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(text, log__level_names[i]) == 0)
            return i;
    }
    if (strcasecmp(text, "warning") == 0)
        return CHAT_LOG_WARN;
    return -1;
}

/* A growable line buffer that starts on the caller's stack. Once an allocation fails
 * it stops growing and keeps what fits (truncated lines beat lost lines). */
typedef struct log__buf {
    char *data;
    size_t len;
    size_t cap;
    bool heap;
    bool full;
} log__buf_t;

static void log__put(log__buf_t *b, const char *s, size_t n)
{
    if (b->full)
        return;
    if (b->len + n + 2 > b->cap) { /* keep room for "\n" and NUL */
        size_t cap = b->cap * 2;
        char *p = NULL;

        while (cap < b->len + n + 2)
            cap *= 2;
        p = b->heap ? realloc(b->data, cap) : malloc(cap);
        if (p == NULL) {
            b->full = true;
            return;
        }
        if (!b->heap)
            memcpy(p, b->data, b->len);
        b->data = p;
        b->cap = cap;
        b->heap = true;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* Appends a NUL-terminated string. */
static void log__puts(log__buf_t *b, const char *s)
{
    log__put(b, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is malformed. */
static size_t log__utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n = 0;

    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    for (size_t k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    }
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0) || (c == 0xF0 && s[1] < 0x90) ||
        (c == 0xF4 && s[1] >= 0x90))
        return 0; /* overlong, surrogate, or above U+10FFFF */
    return n;
}

/*
 * Appends s escaped. json=true: a JSON string body (quotes, backslash and controls
 * escaped). json=false: text mode, where controls become \n, \t or \xNN so a line
 * stays one line. In both, malformed UTF-8 bytes become U+FFFD.
 */
static void log__escape(log__buf_t *b, const char *s, bool json)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        char tmp[8];
        size_t n = 0;

        if (*p >= 0x80) {
            n = log__utf8_seq(p);
            if (n == 0) {
                log__puts(b, json ? "\\ufffd" : "\xef\xbf\xbd");
                p++;
            } else {
                log__put(b, (const char *)p, n);
                p += n;
            }
            continue;
        }
        if (*p == '"' && json) {
            log__puts(b, "\\\"");
        } else if (*p == '\\') {
            log__puts(b, "\\\\");
        } else if (*p == '\n') {
            log__puts(b, "\\n");
        } else if (*p == '\t') {
            log__puts(b, "\\t");
        } else if (*p == '\r') {
            log__puts(b, "\\r");
        } else if (*p < 0x20 || *p == 0x7F) {
            snprintf(tmp, sizeof(tmp), json ? "\\u%04x" : "\\x%02x", *p);
            log__puts(b, tmp);
        } else {
            log__put(b, (const char *)p, 1);
        }
        p++;
    }
}

/* Appends "key":"value" (escaped), preceded by a comma unless first. */
static void log__json_field(log__buf_t *b, const char *key, const char *value, bool first)
{
    log__puts(b, first ? "\"" : ",\"");
    log__escape(b, key, true);
    log__puts(b, "\":\"");
    log__escape(b, value, true);
    log__puts(b, "\"");
}

static _Thread_local struct {
    char key[16];
    char value[64];
} log__scope;

void chat_log_scope_set(const char *key, const char *value)
{
    snprintf(log__scope.key, sizeof(log__scope.key), "%s", key != NULL ? key : "");
    snprintf(log__scope.value, sizeof(log__scope.value), "%s", value != NULL ? value : "");
}

void chat_log_scope_clear(void)
{
    log__scope.key[0] = '\0';
}

static void log__pair(log__buf_t *b, const char *key, const char *value, bool json)
{
    if (json) {
        log__json_field(b, key, value, false);
    } else {
        log__puts(b, " ");
        log__escape(b, key, false);
        log__puts(b, "=");
        log__escape(b, value, false);
    }
}

/* Appends the context pairs from ap (key, value, ..., NULL; NULL values skipped), then
 * the thread's scope unless a pair named its key. */
static void log__context(log__buf_t *b, va_list ap, bool json)
{
    const char *key = NULL;
    bool scope_named = log__scope.key[0] == '\0';

    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);

        if (value == NULL)
            continue;
        if (!scope_named && strcmp(key, log__scope.key) == 0)
            scope_named = true;
        log__pair(b, key, value, json);
    }
    if (!scope_named)
        log__pair(b, log__scope.key, log__scope.value, json);
}

/* ------------------------------------------------------------------ async writer */

#define LOG__WRITE_CHUNK 65536

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* lines queued, or stop */
    pthread_cond_t drained; /* the writer emptied the ring (or gave up) */
    pthread_t thread;
    char *ring;
    size_t cap;
    size_t head; /* next byte to write out */
    size_t len;  /* bytes queued */
    uint64_t dropped;
    uint64_t dropped_reported;
    bool running;
    bool stop;
    bool writer_done;
} log__async = {.mu = PTHREAD_MUTEX_INITIALIZER,
                .wake = PTHREAD_COND_INITIALIZER,
                .drained = PTHREAD_COND_INITIALIZER};

/* Writes all of data to stderr's descriptor; false when it cannot (closed pipe). */
static bool log__write_fd(const char *data, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, data, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        data += w;
        n -= (size_t)w;
    }
    return true;
}

static void *log__writer_main(void *arg)
{
    char *chunk = malloc(LOG__WRITE_CHUNK);

    (void)arg;
    pthread_mutex_lock(&log__async.mu);
    while (chunk != NULL) {
        size_t n;
        uint64_t lost = 0;
        char note[192];
        while (log__async.len == 0 && !log__async.stop) {
            pthread_cond_broadcast(&log__async.drained);
            pthread_cond_wait(&log__async.wake, &log__async.mu);
        }
        if (log__async.len == 0) {
            break; /* stop, and everything was written */
        }
        n = log__async.len < LOG__WRITE_CHUNK ? log__async.len : LOG__WRITE_CHUNK;
        for (size_t i = 0; i < n; i++) { /* a ring: the copy may wrap */
            chunk[i] = log__async.ring[(log__async.head + i) % log__async.cap];
        }
        log__async.head = (log__async.head + n) % log__async.cap;
        log__async.len -= n;
        if (log__async.dropped > log__async.dropped_reported) {
            lost = log__async.dropped - log__async.dropped_reported;
            log__async.dropped_reported = log__async.dropped;
        }
        pthread_mutex_unlock(&log__async.mu);
        (void)log__write_fd(chunk, n); /* may block: only this thread waits */
        if (lost > 0) {
            char ts[CHAT_RFC3339_LEN];
            int len;
            chat_clock_format_rfc3339(chat_clock_now_ms(), ts, sizeof(ts));
            if (log__settings.format == CHAT_LOG_TEXT) {
                len = snprintf(note, sizeof(note),
                               "%s warn  %s: log lines dropped (stderr too slow) count=%llu\n", ts,
                               log__settings.component, (unsigned long long)lost);
            } else {
                len = snprintf(note, sizeof(note),
                               "{\"ts\":\"%s\",\"level\":\"warn\",\"component\":\"%s\","
                               "\"msg\":\"log lines dropped (stderr too slow)\","
                               "\"count\":\"%llu\"}\n",
                               ts, log__settings.component, (unsigned long long)lost);
            }
            if (len > 0 && (size_t)len < sizeof(note)) {
                (void)log__write_fd(note, (size_t)len);
            }
        }
        pthread_mutex_lock(&log__async.mu);
    }
    log__async.writer_done = true;
    pthread_cond_broadcast(&log__async.drained);
    pthread_mutex_unlock(&log__async.mu);
    free(chunk);
    return NULL;
}

int chat_log_async_start(size_t ring_bytes)
{
    int rc = 0;

    pthread_mutex_lock(&log__async.mu);
    if (log__async.running) {
        pthread_mutex_unlock(&log__async.mu);
        return 0;
    }
    log__async.ring = malloc(ring_bytes > 0 ? ring_bytes : 1);
    log__async.cap = ring_bytes;
    log__async.head = log__async.len = 0;
    log__async.stop = log__async.writer_done = false;
    if (log__async.ring == NULL || ring_bytes == 0 ||
        pthread_create(&log__async.thread, NULL, log__writer_main, NULL) != 0) {
        free(log__async.ring);
        log__async.ring = NULL;
        rc = -1;
    } else {
        log__async.running = true;
    }
    pthread_mutex_unlock(&log__async.mu);
    return rc;
}

void chat_log_async_stop(int timeout_ms)
{
    struct timespec until;
    bool done;

    pthread_mutex_lock(&log__async.mu);
    if (!log__async.running) {
        pthread_mutex_unlock(&log__async.mu);
        return;
    }
    log__async.stop = true;
    pthread_cond_signal(&log__async.wake);
    until = chat_clock_deadline(timeout_ms);
    while (!log__async.writer_done &&
           pthread_cond_timedwait(&log__async.drained, &log__async.mu, &until) == 0) {
    }
    done = log__async.writer_done;
    log__async.running = false; /* from here on lines are written directly again */
    pthread_mutex_unlock(&log__async.mu);
    if (done) {
        pthread_join(log__async.thread, NULL);
        free(log__async.ring);
        log__async.ring = NULL;
    } else {
        /* stderr is stuck: leave the writer (and its ring) to the process's exit */
        pthread_detach(log__async.thread);
    }
}

uint64_t chat_log_dropped_total(void)
{
    uint64_t n;

    pthread_mutex_lock(&log__async.mu);
    n = log__async.dropped;
    pthread_mutex_unlock(&log__async.mu);
    return n;
}

/* Queues one line for the writer; false when no writer runs (write it directly). */
static bool log__enqueue(const char *data, size_t n)
{
    pthread_mutex_lock(&log__async.mu);
    if (!log__async.running) {
        pthread_mutex_unlock(&log__async.mu);
        return false;
    }
    if (n > log__async.cap - log__async.len) {
        log__async.dropped++; /* never wait for the reader of stderr */
    } else {
        size_t tail = (log__async.head + log__async.len) % log__async.cap;
        size_t first = log__async.cap - tail < n ? log__async.cap - tail : n;
        memcpy(log__async.ring + tail, data, first);
        memcpy(log__async.ring, data + first, n - first);
        log__async.len += n;
        pthread_cond_signal(&log__async.wake);
    }
    pthread_mutex_unlock(&log__async.mu);
    return true;
}

void chat_log(chat_log_level_t level, const char *msg, ...)
{
    char stack[1024];
    char ts[CHAT_RFC3339_LEN];
    log__buf_t b = {stack, 0, sizeof(stack), false, false};
    const char *lname = NULL;
    bool json = log__settings.format != CHAT_LOG_TEXT;
    va_list ap;

    if ((int)level < (int)log__settings.level)
        return;
    lname = ((int)level >= 0 && (int)level < 4) ? log__level_names[level] : "error";
    chat_clock_format_rfc3339(chat_clock_now_ms(), ts, sizeof(ts));
    if (json) {
        log__puts(&b, "{");
        log__json_field(&b, "ts", ts, true);
        log__json_field(&b, "level", lname, false);
        log__json_field(&b, "component", log__settings.component, false);
        log__json_field(&b, "msg", msg != NULL ? msg : "", false);
    } else {
        char head[128];

        snprintf(head, sizeof(head), "%s %-5s %s: ", ts, lname, log__settings.component);
        log__puts(&b, head);
        log__escape(&b, msg != NULL ? msg : "", false);
    }
    va_start(ap, msg);
    log__context(&b, ap, json);
    va_end(ap);
    if (json) {
        if (b.full) { /* out of memory mid-line: close it so it still parses */
            b.full = false;
            b.len = 0;
            log__puts(&b, "{");
            log__json_field(&b, "ts", ts, true);
            log__json_field(&b, "level", lname, false);
            log__json_field(&b, "msg", "log line dropped: out of memory", false);
        }
        log__puts(&b, "}");
    }
    b.data[b.len++] = '\n'; /* log__put always leaves room for it */

    if (!log__enqueue(b.data, b.len)) {
        flockfile(stderr);
        fwrite(b.data, 1, b.len, stderr);
        fflush(stderr);
        funlockfile(stderr);
    }
    if (b.heap)
        free(b.data);
}
