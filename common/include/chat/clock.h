/*
 * clock.h - wall-clock helpers and RFC 3339 formatting/parsing of millisecond
 * timestamps. Pure functions; any thread.
 */
#ifndef CHAT_CLOCK_H
#define CHAT_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CHAT_RFC3339_LEN 32 /* buffer size enough for "2025-01-15T10:30:00.123Z" + NUL */

/** Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t chat_clock_now_ms(void);

/** Milliseconds of CLOCK_MONOTONIC, for timeouts and rate limits inside one process. */
int64_t chat_clock_monotonic_ms(void);
/** Monotonic microseconds (durations too short for milliseconds). */
int64_t chat_clock_monotonic_us(void);

/** The CLOCK_REALTIME instant ms from now, as pthread_cond_timedwait takes it. */
struct timespec chat_clock_deadline(int64_t ms);

/** Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC) into buf (>= CHAT_RFC3339_LEN). Returns buf. */
char *chat_clock_format_rfc3339(int64_t epoch_ms, char *buf, size_t len);

/** Parses RFC 3339 UTC ("...Z", optional fraction). Returns 0 and sets *out, or -1. */
int chat_clock_parse_rfc3339(const char *text, int64_t *out_epoch_ms);

#endif
