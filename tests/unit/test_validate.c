/*
 * test_validate.c - table-driven tests of the SPEC §2 input rules: usernames,
 * emails, passwords (8..72 bytes), room name/description, display name, avatar URL,
 * message content (strict UTF-8, controls, 1..4000 code points, not blank),
 * client_msg_id, object ids, UTF-8 length and ASCII lower-casing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/validate.h"

typedef struct str_case {
    const char *in;
    bool ok;
} str_case_t;

typedef const char *(*validator_fn)(const char *);

static void run_table(const char *what, validator_fn fn, const str_case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *reason = fn(cases[i].in);

        if (cases[i].ok && reason != NULL)
            fail_msg("%s: '%s' refused: %s", what, cases[i].in ? cases[i].in : "(null)", reason);
        if (!cases[i].ok && reason == NULL)
            fail_msg("%s: '%s' accepted", what, cases[i].in ? cases[i].in : "(null)");
        if (reason != NULL)
            assert_true(strlen(reason) > 0);
    }
}

#define RUN(fn, table) run_table(#fn, fn, table, sizeof(table) / sizeof(table[0]))

/* Writes count copies of unit into buf; returns buf. */
static char *rep(char *buf, const char *unit, size_t count)
{
    size_t u = strlen(unit);

    for (size_t i = 0; i < count; i++)
        memcpy(buf + i * u, unit, u);
    buf[count * u] = '\0';
    return buf;
}

static void test_username(void **state)
{
    static char b32[40], b33[40];
    str_case_t cases[] = {
        {"abc", true},
        {"Alice_1.x-y", true},
        {"a.b", true},
        {"___", true},
        {NULL, false},
        {"", false},
        {"ab", false},
        {"has space", false},
        {"semi;colon", false},
        {"ünï", false},
        {"a@b", false},
        {"tab\tx", false},
        {rep(b32, "a", 32), true},
        {rep(b33, "a", 33), false},
    };

    (void)state;
    RUN(chat_validate_username, cases);
}

static void test_email(void **state)
{
    static char long_local[80], long_label[80], long_total[300];
    str_case_t cases[] = {
        {"a@b.co", true},
        {"alice@example.com", true},
        {"first.last+tag@sub.example.co.uk", true},
        {"x_y-z@my-host.example", true},
        {"UPPER@EXAMPLE.COM", true},
        {"o'brien@example.ie", true},
        {NULL, false},
        {"", false},
        {"plain", false},
        {"@example.com", false},
        {"alice@", false},
        {"alice@example", false}, /* no dot */
        {"alice@@example.com", false},
        {"a@b@example.com", false},
        {"al ice@example.com", false},
        {"alice@exa mple.com", false},
        {".alice@example.com", false},
        {"alice.@example.com", false},
        {"al..ice@example.com", false},
        {"alice@.example.com", false},
        {"alice@example..com", false},
        {"alice@example.com.", false},
        {"alice@-example.com", false},
        {"alice@example-.com", false},
        {"alice@exam_ple.com", false},
        {"alice@1.2.3.4", false}, /* numeric TLD */
        {"alice@[127.0.0.1]", false},
        {"\"quoted\"@example.com", false},
        {"alice@ex\xc3\xa4mple.com", false},
        {"ali\nce@example.com", false},
        {"a<b>@example.com", false},
    };

    (void)state;
    RUN(chat_validate_email, cases);

    /* local part 64 ok / 65 not; label 63 ok / 64 not; total 254 ok / 255 not */
    rep(long_local, "l", 64);
    strcat(long_local, "@x.io");
    assert_null(chat_validate_email(long_local));
    rep(long_local, "l", 65);
    strcat(long_local, "@x.io");
    assert_non_null(chat_validate_email(long_local));
    strcpy(long_label, "a@");
    rep(long_label + 2, "d", 63);
    strcat(long_label, ".io");
    assert_null(chat_validate_email(long_label));
    strcpy(long_label, "a@");
    rep(long_label + 2, "d", 64);
    strcat(long_label, ".io");
    assert_non_null(chat_validate_email(long_label));
    /* a@ + 4 labels of 62 + dots + ".io" = 2 + 4*63 = 254 */
    strcpy(long_total, "a@");
    for (int i = 0; i < 4; i++) {
        rep(long_total + strlen(long_total), "e", 62);
        strcat(long_total, i < 3 ? "." : "");
    }
    assert_int_equal(strlen(long_total), 2 + 4 * 62 + 3);
    assert_null(chat_validate_email(long_total));
    strcat(long_total, ".io"); /* 256 */
    assert_non_null(chat_validate_email(long_total));
}

static void test_password(void **state)
{
    static char p72[80], p73[80], p128[140];
    str_case_t cases[] = {
        {"12345678", true},
        {"correct horse battery", true},
        {"pässwörd", true},
        {NULL, false},
        {"", false},
        {"1234567", false},
        {rep(p72, "x", 72), true},
        {rep(p73, "x", 73), false},
        {rep(p128, "x", 128), false},
    };
    const char *reason = NULL;

    (void)state;
    RUN(chat_validate_password, cases);
    reason = chat_validate_password(p73);
    assert_non_null(strstr(reason, "72"));
    assert_non_null(strstr(reason, "bcrypt"));
}

static void test_room_name_and_description(void **state)
{
    static char n100[500], n101[500], d500[2000], d501[2000];
    str_case_t names[] = {
        {"general", true},
        {"a", true},
        {"Café ☕", true},
        {"  x  ", true},
        {rep(n100, "é", 100), true},
        {rep(n101, "é", 101), false},
        {NULL, false},
        {"", false},
        {"   ", false},
        {"\t", false},
        {"line\nbreak", false},
        {"bell\a", false},
        {"bad \xff", false},
        {"\xe3\x80\x80", false}, /* ideographic space only: blank */
    };
    str_case_t descs[] = {
        {NULL, true},
        {"", true},
        {"multi\nline\twith tab", true},
        {"   ", true},
        {rep(d500, "ü", 500), true},
        {rep(d501, "ü", 501), false},
        {"nul-free but \x1b[31m ansi", false},
        {"cr\r\n", false},
        {"\xc0\x80", false},
    };

    (void)state;
    RUN(chat_validate_room_name, names);
    RUN(chat_validate_description, descs);
}

static void test_profile_fields(void **state)
{
    static char d64[300], d65[300], url2048[2100], url2049[2100];
    str_case_t names[] = {
        {NULL, true},
        {"", true},
        {"Alice A.", true},
        {"Zoë 🌸", true},
        {rep(d64, "ж", 64), true},
        {rep(d65, "ж", 65), false},
        {"new\nline", false},
        {"tab\t", false},
        {"\xed\xa0\x80", false},
    };
    str_case_t urls[] = {
        {NULL, true},
        {"", true},
        {"https://example.com/a.png", true},
        {"http://cdn.example.com:8080/x?y=1#z", true},
        {"javascript:alert(1)", false},
        {"data:image/png;base64,AAAA", false},
        {"ftp://example.com/a.png", false},
        {"https://", false},
        {"https:///path", false},
        {"https://exa mple.com", false},
        {"https://example.com/\"onerror=", false},
        {"https://example.com/<script>", false},
        {"//example.com/a.png", false},
        {"HTTPS://example.com", true},
        {"https://example.com/\xc3\xa9", false},
    };

    (void)state;
    RUN(chat_validate_display_name, names);
    RUN(chat_validate_avatar_url, urls);
    strcpy(url2048, "https://e.com/");
    rep(url2048 + 14, "a", 2048 - 14);
    assert_null(chat_validate_avatar_url(url2048));
    strcpy(url2049, url2048);
    strcat(url2049, "a");
    assert_non_null(chat_validate_avatar_url(url2049));
}

typedef struct content_case {
    const char *bytes;
    size_t len; /* 0 = strlen */
    bool ok;
    const char *why;
} content_case_t;

static void test_content(void **state)
{
    static const content_case_t cases[] = {
        {"hello", 0, true, "ascii"},
        {"x", 0, true, "one char"},
        {"line1\nline2\ttabbed", 0, true, "newline and tab"},
        {"<script>alert(1)</script>", 0, true, "html is just text"},
        {"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 0, true, "2, 3, 4-byte sequences"},
        {"\xef\xbb\xbfhi", 0, true, "BOM then text"},
        {"\xf4\x8f\xbf\xbf", 0, true, "U+10FFFF"},
        {"\xee\x80\x80", 0, true, "private use"},
        {" x ", 0, true, "surrounded by spaces"},
        {"", 0, false, "empty"},
        {" ", 0, false, "one space"},
        {" \n\t \n", 0, false, "all whitespace"},
        {"\xc2\xa0\xe3\x80\x80", 0, false, "unicode spaces only"},
        {"a\rb", 0, false, "CR"},
        {"a\x00"
         "b",
         3, false, "NUL"},
        {"\x01", 0, false, "SOH"},
        {"a\x1b[2J", 0, false, "ESC"},
        {"a\x7f", 0, false, "DEL"},
        {"a\xc2\x85", 0, false, "C1 NEL"},
        {"a\xc2\x9f", 0, false, "C1 APC"},
        {"\xc0\x80", 0, false, "overlong NUL"},
        {"\xc1\xbf", 0, false, "overlong 2-byte"},
        {"\xe0\x80\xaf", 0, false, "overlong 3-byte"},
        {"\xf0\x80\x80\xaf", 0, false, "overlong 4-byte"},
        {"\xed\xa0\x80", 0, false, "high surrogate"},
        {"\xed\xbf\xbf", 0, false, "low surrogate"},
        {"\xf4\x90\x80\x80", 0, false, "above U+10FFFF"},
        {"\xf5\x80\x80\x80", 0, false, "lead F5"},
        {"\xff", 0, false, "FF byte"},
        {"\x80", 0, false, "stray continuation"},
        {"a\xc3", 0, false, "truncated 2-byte"},
        {"a\xe2\x82", 0, false, "truncated 3-byte"},
        {"a\xf0\x9f\x98", 0, false, "truncated 4-byte"},
        {"\xe2\x28\xa1", 0, false, "bad continuation"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len != 0 ? cases[i].len : strlen(cases[i].bytes);
        const char *reason = chat_validate_content(cases[i].bytes, len);

        if (cases[i].ok != (reason == NULL))
            fail_msg("content case '%s': expected %s, got %s", cases[i].why,
                     cases[i].ok ? "ok" : "refusal", reason ? reason : "ok");
    }
    assert_non_null(chat_validate_content(NULL, 0));
    /* the length counts only len bytes, not up to a NUL */
    assert_null(chat_validate_content("ab\xff", 2));
}

static void test_content_length_limit(void **state)
{
    char *buf = malloc(4 * 4001 + 1);

    (void)state;
    rep(buf, "a", 4000);
    assert_null(chat_validate_content(buf, strlen(buf)));
    rep(buf, "a", 4001);
    assert_non_null(chat_validate_content(buf, strlen(buf)));
    /* code points, not bytes: 4000 emoji (16000 bytes) are fine */
    rep(buf, "\xf0\x9f\x98\x80", 4000);
    assert_null(chat_validate_content(buf, strlen(buf)));
    rep(buf, "\xf0\x9f\x98\x80", 4001);
    assert_non_null(chat_validate_content(buf, strlen(buf)));
    free(buf);
}

static void test_client_msg_id(void **state)
{
    static char id64[80], id65[80];
    str_case_t cases[] = {
        {"c1", true},
        {"550e8400-e29b-41d4-a716-446655440000", true},
        {"a b", true},
        {rep(id64, "z", 64), true},
        {rep(id65, "z", 65), false},
        {NULL, false},
        {"", false},
        {"tab\t", false},
        {"\xc3\xa9", false},
        {"\x7f", false},
    };

    (void)state;
    RUN(chat_validate_client_msg_id, cases);
}

static void test_object_id(void **state)
{
    (void)state;
    assert_true(chat_validate_object_id("65a1b2c3d4e5f60718293a4b"));
    assert_false(chat_validate_object_id("65A1B2C3D4E5F60718293A4B")); /* not canonical */
    assert_false(chat_validate_object_id("65a1b2c3d4e5f60718293A4b"));
    assert_true(chat_validate_object_id("000000000000000000000000"));
    assert_false(chat_validate_object_id("65a1b2c3d4e5f60718293a4"));
    assert_false(chat_validate_object_id("65a1b2c3d4e5f60718293a4bc"));
    assert_false(chat_validate_object_id("65a1b2c3d4e5f60718293a4g"));
    assert_false(chat_validate_object_id(" 65a1b2c3d4e5f60718293a4"));
    assert_false(chat_validate_object_id(""));
    assert_false(chat_validate_object_id(NULL));
}

static void test_utf8_length(void **state)
{
    (void)state;
    assert_int_equal(chat_utf8_length("", 0), 0);
    assert_int_equal(chat_utf8_length(NULL, 0), 0);
    assert_int_equal(chat_utf8_length(NULL, 3), -1);
    assert_int_equal(chat_utf8_length("abc", 3), 3);
    assert_int_equal(chat_utf8_length("h\xc3\xa9", 3), 2);
    assert_int_equal(chat_utf8_length("\xe2\x82\xac\xf0\x9f\x98\x80", 7), 2);
    assert_int_equal(chat_utf8_length("a\x00"
                                      "b",
                                      3),
                     3); /* NUL is valid UTF-8 */
    assert_int_equal(chat_utf8_length("\xed\xa0\x80", 3), -1);
    assert_int_equal(chat_utf8_length("\xc0\x80", 2), -1);
    assert_int_equal(chat_utf8_length("\xc3", 1), -1);
    assert_int_equal(chat_utf8_length("h\xc3\xa9", 2), -1); /* cut mid-sequence */
}

static void test_ascii_lower(void **state)
{
    char buf[8];

    (void)state;
    chat_ascii_lower("AbC-É", buf, sizeof(buf));
    assert_string_equal(buf, "abc-\xc3\x89"); /* non-ASCII untouched */
    chat_ascii_lower("ABCDEFGHIJ", buf, sizeof(buf));
    assert_string_equal(buf, "abcdefg"); /* truncated, terminated */
    chat_ascii_lower(NULL, buf, sizeof(buf));
    assert_string_equal(buf, "");
    chat_ascii_lower("X", buf, 1);
    assert_string_equal(buf, "");
    chat_ascii_lower("X", NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_username),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_room_name_and_description),
        cmocka_unit_test(test_profile_fields),
        cmocka_unit_test(test_content),
        cmocka_unit_test(test_content_length_limit),
        cmocka_unit_test(test_client_msg_id),
        cmocka_unit_test(test_object_id),
        cmocka_unit_test(test_utf8_length),
        cmocka_unit_test(test_ascii_lower),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
