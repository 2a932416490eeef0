/*
 * test_redact.c - redact.h: the credentials of REDIS_URL / MONGO_URI, well-formed or
 * malformed, never survive into a string that may be logged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "chat/redact.h"

static void check_url(const char *url, const char *want)
{
    char out[256];

    assert_string_equal(chat_redact_url(url, out, sizeof(out)), want);
}

static void test_urls(void **state)
{
    (void)state;
    check_url("redis://127.0.0.1:6379", "redis://127.0.0.1:6379");
    check_url("redis://:s3cret@host:6379/2", "redis://:***@host:6379/2");
    check_url("redis://app:s3cret@host:6379", "redis://app:***@host:6379");
    check_url("redis://s3cret@host", "redis://***@host");
    check_url("mongodb://root:pa@ss/w:rd@db1,db2/chat?authSource=admin",
              "mongodb://root:***@db1,db2/chat?authSource=admin");
    /* malformed: no scheme, bad port, a '/' inside the password */
    check_url("app:s3cret@host", "app:***@host");
    check_url("rediss://:top/secret@host:notaport", "rediss://:***@host:notaport");
    check_url("mongodb+srv://u:p%40ss@cluster/", "mongodb+srv://u:***@cluster/");
    check_url("", "");
}

static void test_truncation_keeps_secret_out(void **state)
{
    char out[12];

    (void)state;
    chat_redact_url("redis://:hunter2hunter2@host", out, sizeof(out));
    assert_null(strstr(out, "hunter"));
    assert_int_equal(strlen(out), sizeof(out) - 1);
    assert_null(chat_redact_url("redis://x", NULL, 0));
}

static void test_secret_in_text(void **state)
{
    char msg[128];

    (void)state;
    strcpy(msg, "Invalid URI 'mongodb://u:Swordfish42@h:99999' (Swordfish42)");
    chat_redact_secret_in(msg, "mongodb://u:Swordfish42@h:99999");
    assert_string_equal(msg, "Invalid URI 'mongodb://u:***@h:99999' (***)");
    strcpy(msg, "no secret here");
    chat_redact_secret_in(msg, "mongodb://u:Swordfish42@h");
    assert_string_equal(msg, "no secret here");
    chat_redact_secret_in(msg, "mongodb://h");
    assert_string_equal(msg, "no secret here");
    /* a password shorter than the mask: the whole text is withheld */
    strcpy(msg, "bad uri mongodb://u:ab@h");
    chat_redact_secret_in(msg, "mongodb://u:ab@h");
    assert_null(strstr(msg, "ab@"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_truncation_keeps_secret_out),
        cmocka_unit_test(test_secret_in_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
