/*
 * log.h - structured logging: one JSON object per line on stderr with ts, level,
 * msg, component and context fields (LOG_FORMAT=text gives a human line instead).
 * Thread-safe: each line is written with one locked fwrite, or, once
 * chat_log_async_start ran, queued whole for a writer thread.
 */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum chat_log_level {
    CHAT_LOG_DEBUG = 0,
    CHAT_LOG_INFO,
    CHAT_LOG_WARN,
    CHAT_LOG_ERROR
} chat_log_level_t;

typedef enum chat_log_format { CHAT_LOG_JSON = 0, CHAT_LOG_TEXT } chat_log_format_t;

/** Sets the component name (copied) and the threshold; call once from main. */
void chat_log_init(const char *component, chat_log_level_t level, chat_log_format_t format);

/** Parses "debug|info|warn|error" (case-insensitive); -1 when unknown. */
int chat_log_level_parse(const char *text);

/**
 * Logs msg with context as string key/value pairs ending in NULL:
 *   chat_log(CHAT_LOG_INFO, "user registered", "user", id, "req", rid, NULL);
 * A NULL value is skipped. Strings are JSON-escaped.
 */
/**
 * The calling thread's scope: key=value is added to every line this thread logs until
 * chat_log_scope_clear (unless the line names key itself), so one grep for a request id
 * (REST: "req") or a socket (gateway: "conn") finds every line about it. value is copied
 * (up to 63 bytes).
 */
void chat_log_scope_set(const char *key, const char *value);
void chat_log_scope_clear(void);

void chat_log(chat_log_level_t level, const char *msg, ...) __attribute__((sentinel));

/**
 * From now on lines go into a ring of ring_bytes that a writer thread of this module
 * writes to stderr: a caller never waits for the reader of stderr (a full pipe, a slow
 * terminal); a line that does not fit is dropped and counted. 0 on success, -1 when
 * the thread or the ring cannot be had (lines are then written directly, as before).
 */
int chat_log_async_start(size_t ring_bytes);
/** Writes out what is queued (waiting at most timeout_ms for a stuck stderr), stops
 *  the writer; later lines are written directly. */
void chat_log_async_stop(int timeout_ms);
/** Lines dropped because the ring was full, since the process started. */
uint64_t chat_log_dropped_total(void);

#define chat_log_debug(...) chat_log(CHAT_LOG_DEBUG, __VA_ARGS__, (char *)NULL)
#define chat_log_info(...) chat_log(CHAT_LOG_INFO, __VA_ARGS__, (char *)NULL)
#define chat_log_warn(...) chat_log(CHAT_LOG_WARN, __VA_ARGS__, (char *)NULL)
#define chat_log_error(...) chat_log(CHAT_LOG_ERROR, __VA_ARGS__, (char *)NULL)

#endif
