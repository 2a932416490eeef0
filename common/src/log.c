/*
 * log.c - structured logging (log.h). Each call builds its whole line in memory
 * (JSON with a hand-written escaper that never fails on bad UTF-8, or a text line for
 * LOG_FORMAT=text) and writes it with one fwrite under flockfile(stderr), so lines
 * from different threads never interleave.
 *
 * Threads: chat_log_init runs once on the main thread before any other thread
 * starts; after that the settings below are read-only and chat_log may be called
 * from any thread.
 */
#include "chat/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0) ||
        (c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
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

/* Appends the context pairs from ap (key, value, ..., NULL); NULL values skipped. */
static void log__context(log__buf_t *b, va_list ap, bool json)
{
    const char *key = NULL;

    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);

        if (value == NULL)
            continue;
        if (json) {
            log__json_field(b, key, value, false);
        } else {
            log__puts(b, " ");
            log__escape(b, key, false);
            log__puts(b, "=");
            log__escape(b, value, false);
        }
    }
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

    flockfile(stderr);
    fwrite(b.data, 1, b.len, stderr);
    fflush(stderr);
    funlockfile(stderr);
    if (b.heap)
        free(b.data);
}
