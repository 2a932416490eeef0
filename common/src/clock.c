/*
 * clock.c - wall and monotonic clocks, and RFC 3339 formatting/parsing of
 * millisecond UTC timestamps. The calendar arithmetic is done here (days from the
 * civil date, proleptic Gregorian) instead of gmtime_r/timegm, so the result never
 * depends on TZ, locale or the width of time_t. Pure functions: any thread.
 */
#include "chat/clock.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define CLOCK__MS_PER_DAY INT64_C(86400000)

/* Milliseconds of clock id; 0 if the clock cannot be read (never on Linux). */
static int64_t clock__read_ms(clockid_t id)
{
    struct timespec ts = {0};

    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + (int64_t)(ts.tv_nsec / 1000000);
}

int64_t chat_clock_now_ms(void)
{
    return clock__read_ms(CLOCK_REALTIME);
}

int64_t chat_clock_monotonic_ms(void)
{
    return clock__read_ms(CLOCK_MONOTONIC);
}

int64_t chat_clock_monotonic_us(void)
{
    struct timespec ts = {0};

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000000 + (int64_t)(ts.tv_nsec / 1000);
}

/* Days since 1970-01-01 of y-m-d (Howard Hinnant's days_from_civil). */
static int64_t clock__days_from_civil(int64_t y, int m, int d)
{
    int64_t era = 0;
    int64_t yoe = 0;
    int64_t doy = 0;
    int64_t doe = 0;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Inverse of clock__days_from_civil. */
static void clock__civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era = 0;
    int64_t doe = 0;
    int64_t yoe = 0;
    int64_t doy = 0;
    int64_t mp = 0;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* a / b rounded toward negative infinity (b != 0), for times before 1970. */
static int64_t clock__floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

struct timespec chat_clock_deadline(int64_t ms)
{
    struct timespec until;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    return until;
}

char *chat_clock_format_rfc3339(int64_t epoch_ms, char *buf, size_t len)
{
    int64_t days = 0;
    int64_t rem = 0;
    int64_t year = 0;
    int month = 0;
    int day = 0;

    if (buf == NULL || len == 0)
        return buf;
    days = clock__floor_div(epoch_ms, CLOCK__MS_PER_DAY);
    rem = epoch_ms - days * CLOCK__MS_PER_DAY; /* 0 .. ms per day - 1 */
    clock__civil_from_days(days, &year, &month, &day);
    snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)year, month, day,
             (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60),
             (int)(rem % 1000));
    return buf;
}

/* Reads exactly n decimal digits at *p; advances *p. */
static bool clock__digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];

        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* Consumes the literal c at *p; false when it is not there. */
static bool clock__expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

/* Gregorian leap year. */
static bool clock__leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/*
 * Accepts "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('t'/'z' too). Digits of
 * the fraction past milliseconds are truncated. A leap second (60) is accepted and
 * lands on the next second.
 */
int chat_clock_parse_rfc3339(const char *text, int64_t *out_epoch_ms)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = text;
    int year = 0, month = 0, day = 0, hour = 0, min = 0, sec = 0, ms = 0;
    int64_t offset_min = 0;
    int64_t result = 0;

    if (text == NULL || out_epoch_ms == NULL)
        return -1;
    if (!clock__digits(&p, 4, &year) || !clock__expect(&p, '-') || !clock__digits(&p, 2, &month) ||
        !clock__expect(&p, '-') || !clock__digits(&p, 2, &day))
        return -1;
    if (*p != 'T' && *p != 't')
        return -1;
    p++;
    if (!clock__digits(&p, 2, &hour) || !clock__expect(&p, ':') || !clock__digits(&p, 2, &min) ||
        !clock__expect(&p, ':') || !clock__digits(&p, 2, &sec))
        return -1;
    if (month < 1 || month > 12 || day < 1 || hour > 23 || min > 59 || sec > 60)
        return -1;
    if (day > mdays[month - 1] + (month == 2 && clock__leap(year)))
        return -1;
    if (*p == '.') {
        int n = 0;

        p++;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                ms = ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return -1;
        for (; n < 3; n++)
            ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh = 0;
        int om = 0;

        p++;
        if (!clock__digits(&p, 2, &oh) || !clock__expect(&p, ':') || !clock__digits(&p, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        offset_min = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    result = clock__days_from_civil(year, month, day) * CLOCK__MS_PER_DAY +
        (int64_t)hour * 3600000 + (int64_t)min * 60000 + (int64_t)sec * 1000 + ms -
        offset_min * 60000;
    *out_epoch_ms = result;
    return 0;
}
