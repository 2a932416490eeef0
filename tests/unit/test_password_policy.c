/*
 * test_password_policy.c - the common-password list (password_policy.h): loading a
 * small file (blank lines, CRLF, spaces, duplicates, upper case), case-insensitive
 * lookups, errors for a missing or empty file, and the shipped list itself
 * (common/data/common-passwords.txt: about 10,000 entries, "password" on it).
 * Runs on the test's main thread only.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/password_policy.h"

/* Writes text to a fresh temporary file; the caller unlinks path. */
static void write_temp(char *path, size_t len, const char *text)
{
    int fd;

    snprintf(path, len, "/tmp/test_password_policy_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static void test_small_list(void **state)
{
    char path[64];
    char err[256];
    chat_password_policy_t *p;

    (void)state;
    write_temp(path, sizeof(path), "Password\r\n\n  letmein99 \nqwertyuiop\npassword\n\nlast-line");
    p = chat_password_policy_load(path, err, sizeof(err));
    unlink(path);
    assert_non_null(p);
    assert_int_equal(chat_password_policy_count(p), 4);
    assert_true(chat_password_policy_is_common(p, "password"));
    assert_true(chat_password_policy_is_common(p, "PassWord"));
    assert_true(chat_password_policy_is_common(p, "letmein99"));
    assert_true(chat_password_policy_is_common(p, "QWERTYUIOP"));
    assert_true(chat_password_policy_is_common(p, "last-line"));
    assert_false(chat_password_policy_is_common(p, "password1"));
    assert_false(chat_password_policy_is_common(p, " letmein99"));
    assert_false(chat_password_policy_is_common(p, ""));
    assert_false(chat_password_policy_is_common(p, NULL));
    assert_non_null(chat_password_policy_check(p, "PASSWORD"));
    assert_non_null(strstr(chat_password_policy_check(p, "PASSWORD"), "too common"));
    assert_null(chat_password_policy_check(p, "correct horse battery staple"));
    chat_password_policy_free(p);
}

static void test_long_candidates(void **state)
{
    char path[64];
    char err[256];
    char longpw[600];
    chat_password_policy_t *p;

    (void)state;
    write_temp(path, sizeof(path), "aaaaaaaa\n");
    p = chat_password_policy_load(path, err, sizeof(err));
    unlink(path);
    assert_non_null(p);
    memset(longpw, 'a', sizeof(longpw) - 1);
    longpw[sizeof(longpw) - 1] = '\0';
    assert_false(chat_password_policy_is_common(p, longpw));
    chat_password_policy_free(p);
}

static void test_errors(void **state)
{
    char path[64];
    char err[256];

    (void)state;
    err[0] = '\0';
    assert_null(chat_password_policy_load("/nonexistent/common-passwords.txt", err, sizeof(err)));
    assert_non_null(strstr(err, "cannot open"));
    write_temp(path, sizeof(path), "\n \n\r\n");
    assert_null(chat_password_policy_load(path, err, sizeof(err)));
    unlink(path);
    assert_non_null(strstr(err, "no passwords"));
    assert_null(chat_password_policy_load(NULL, err, sizeof(err)));
    /* no list loaded: nothing is refused */
    assert_false(chat_password_policy_is_common(NULL, "password"));
    assert_null(chat_password_policy_check(NULL, "password"));
    chat_password_policy_free(NULL);
}

static void test_shipped_list(void **state)
{
    char err[256];
    chat_password_policy_t *p;

    (void)state;
    unsetenv(CHAT_PASSWORD_POLICY_ENV);
    p = chat_password_policy_load(chat_password_policy_default_path(), err, sizeof(err));
    if (p == NULL) {
        fail_msg("cannot load the shipped list: %s", err);
    }
    assert_true(chat_password_policy_count(p) >= 9000);
    assert_true(chat_password_policy_count(p) <= 20000);
    assert_true(chat_password_policy_is_common(p, "password"));
    assert_true(chat_password_policy_is_common(p, "Password123"));
    assert_true(chat_password_policy_is_common(p, "12345678"));
    assert_true(chat_password_policy_is_common(p, "iloveyou"));
    assert_false(chat_password_policy_is_common(p, "correct-horse-battery"));
    assert_false(chat_password_policy_is_common(p, "quiet-lantern-harbor-42"));
    chat_password_policy_free(p);
}

static void test_env_overrides_path(void **state)
{
    (void)state;
    setenv(CHAT_PASSWORD_POLICY_ENV, "/somewhere/else.txt", 1);
    assert_string_equal(chat_password_policy_default_path(), "/somewhere/else.txt");
    setenv(CHAT_PASSWORD_POLICY_ENV, "", 1);
    assert_non_null(strstr(chat_password_policy_default_path(), "common-passwords.txt"));
    unsetenv(CHAT_PASSWORD_POLICY_ENV);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_list),
        cmocka_unit_test(test_long_candidates),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_shipped_list),
        cmocka_unit_test(test_env_overrides_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
