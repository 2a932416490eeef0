/*
 * log.h - structured logging: one JSON object per line on stderr with ts, level,
 * msg, component and context fields (LOG_FORMAT=text gives a human line instead).
 * Thread-safe: each line is written with one locked fwrite.
 */
#ifndef CHAT_LOG_H
#define CHAT_LOG_H

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
void chat_log(chat_log_level_t level, const char *msg, ...)
    __attribute__((sentinel));

#define chat_log_debug(...) chat_log(CHAT_LOG_DEBUG, __VA_ARGS__, (char *)NULL)
#define chat_log_info(...)  chat_log(CHAT_LOG_INFO, __VA_ARGS__, (char *)NULL)
#define chat_log_warn(...)  chat_log(CHAT_LOG_WARN, __VA_ARGS__, (char *)NULL)
#define chat_log_error(...) chat_log(CHAT_LOG_ERROR, __VA_ARGS__, (char *)NULL)

#endif
