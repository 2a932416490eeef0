/*
 * test_clock.c - clocks and RFC 3339: known instants both ways, the ms format with
 * Z, fractions, offsets, calendar edges (leap days, pre-1970) and malformed input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "chat/clock.h"

static void test_now_and_monotonic(void **state)
{
    int64_t now = chat_clock_now_ms();
    int64_t m1 = chat_clock_monotonic_ms();
    int64_t m2 = chat_clock_monotonic_ms();

    (void)state;
    assert_true(now > INT64_C(1700000000000)); /* after 2023 */
    assert_true(now < INT64_C(4102444800000)); /* before 2100 */
    assert_true(m2 >= m1);
}

static void test_format_known(void **state)
{
    static const struct {
        int64_t ms;
        const char *text;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {INT64_C(1736937000000), "2025-01-15T10:30:00.000Z"},
        {INT64_C(1736937000123), "2025-01-15T10:30:00.123Z"},
        {INT64_C(951782400000), "2000-02-29T00:00:00.000Z"},
        {INT64_C(4107542399999), "2100-02-28T23:59:59.999Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {INT64_C(-86400000), "1969-12-31T00:00:00.000Z"},
        {INT64_C(253402300799999), "9999-12-31T23:59:59.999Z"},
    };
    char buf[CHAT_RFC3339_LEN];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t back = 0;

        assert_ptr_equal(chat_clock_format_rfc3339(cases[i].ms, buf, sizeof(buf)), buf);
        assert_string_equal(buf, cases[i].text);
        assert_int_equal(chat_clock_parse_rfc3339(cases[i].text, &back), 0);
        assert_int_equal(back, cases[i].ms);
    }
}

static void test_format_small_buffer(void **state)
{
    char buf[8];

    (void)state;
    chat_clock_format_rfc3339(0, buf, sizeof(buf));
    assert_int_equal(strlen(buf), 7); /* truncated, still terminated */
}

static void test_parse_variants(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } cases[] = {
        {"2025-01-15T10:30:00Z", INT64_C(1736937000000)},
        {"2025-01-15t10:30:00z", INT64_C(1736937000000)},
        {"2025-01-15T10:30:00.1Z", INT64_C(1736937000100)},
        {"2025-01-15T10:30:00.12Z", INT64_C(1736937000120)},
        {"2025-01-15T10:30:00.123456789Z", INT64_C(1736937000123)},
        {"2025-01-15T11:30:00+01:00", INT64_C(1736937000000)},
        {"2025-01-15T05:00:00-05:30", INT64_C(1736937000000)},
        {"2025-01-15T10:30:00+00:00", INT64_C(1736937000000)},
        {"2016-12-31T23:59:60Z", INT64_C(1483228800000)}, /* leap second */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ms = -42;

        assert_int_equal(chat_clock_parse_rfc3339(cases[i].text, &ms), 0);
        assert_int_equal(ms, cases[i].ms);
    }
}

static void test_parse_rejects(void **state)
{
    static const char *const bad[] = {
        "",
        "2025",
        "2025-01-15",
        "2025-01-15T10:30:00",  /* no zone */
        "2025-01-15 10:30:00Z", /* space separator */
        "2025-01-15T10:30Z",    /* no seconds */
        "2025-13-01T00:00:00Z", /* month */
        "2025-00-01T00:00:00Z",
        "2025-02-29T00:00:00Z", /* not a leap year */
        "2025-04-31T00:00:00Z",
        "2025-01-00T00:00:00Z",
        "2025-01-15T24:00:00Z",
        "2025-01-15T10:60:00Z",
        "2025-01-15T10:30:61Z",
        "2025-01-15T10:30:00.Z", /* empty fraction */
        "2025-01-15T10:30:00ZZ", /* trailing junk */
        "2025-01-15T10:30:00Z ",
        "2025-01-15T10:30:00+0100",
        "2025-01-15T10:30:00+25:00",
        "25-01-15T10:30:00Z",
        "2025-1-15T10:30:00Z",
        "abcd-ef-ghTij:kl:mnZ",
        "1736937000000",
    };
    int64_t ms = 7;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (chat_clock_parse_rfc3339(bad[i], &ms) != -1)
            fail_msg("accepted '%s'", bad[i]);
    }
    assert_int_equal(ms, 7);
    assert_int_equal(chat_clock_parse_rfc3339(NULL, &ms), -1);
    assert_int_equal(chat_clock_parse_rfc3339("2025-01-15T10:30:00Z", NULL), -1);
}

static void test_round_trip_now(void **state)
{
    char buf[CHAT_RFC3339_LEN];
    int64_t now = chat_clock_now_ms();
    int64_t back = 0;

    (void)state;
    chat_clock_format_rfc3339(now, buf, sizeof(buf));
    assert_int_equal(strlen(buf), 24);
    assert_int_equal(buf[23], 'Z');
    assert_int_equal(chat_clock_parse_rfc3339(buf, &back), 0);
    assert_int_equal(back, now);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_now_and_monotonic),   cmocka_unit_test(test_format_known),
        cmocka_unit_test(test_format_small_buffer), cmocka_unit_test(test_parse_variants),
        cmocka_unit_test(test_parse_rejects),       cmocka_unit_test(test_round_trip_now),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
