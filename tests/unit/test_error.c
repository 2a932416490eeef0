/*
 * test_error.c - chat_strerror / chat_err_code / chat_err_http_status: every enum
 * value has text, the wire code the SPEC promises and the right HTTP status.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "chat/error.h"

static void test_codes_and_statuses(void **state)
{
    static const struct {
        chat_err_t err;
        const char *code;
        int status;
    } cases[] = {
        {CHAT_ERR_INVALID, "validation_error", 400},
        {CHAT_ERR_NOT_FOUND, "not_found", 404},
        {CHAT_ERR_CONFLICT, "conflict", 409},
        {CHAT_ERR_FORBIDDEN, "forbidden", 403},
        {CHAT_ERR_UNAUTHORIZED, "missing_token", 401},
        {CHAT_ERR_TOKEN_EXPIRED, "token_expired", 401},
        {CHAT_ERR_TOKEN_INVALID, "invalid_token", 401},
        {CHAT_ERR_RATE_LIMITED, "rate_limited", 429},
        {CHAT_ERR_UNAVAILABLE, "service_unavailable", 503},
        {CHAT_ERR_TOO_LARGE, "payload_too_large", 413},
        {CHAT_ERR_NOMEM, "internal_error", 500},
        {CHAT_ERR_INTERNAL, "internal_error", 500},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_string_equal(chat_err_code(cases[i].err), cases[i].code);
        assert_int_equal(chat_err_http_status(cases[i].err), cases[i].status);
    }
}

static void test_every_value_has_text(void **state)
{
    (void)state;
    for (int e = CHAT_OK; e <= CHAT_ERR_INTERNAL; e++) {
        assert_non_null(chat_strerror((chat_err_t)e));
        assert_true(strlen(chat_strerror((chat_err_t)e)) > 0);
        assert_non_null(chat_err_code((chat_err_t)e));
    }
}

static void test_out_of_range_is_internal(void **state)
{
    (void)state;
    assert_string_equal(chat_err_code((chat_err_t)999), "internal_error");
    assert_int_equal(chat_err_http_status((chat_err_t)999), 500);
    assert_non_null(chat_strerror((chat_err_t)-1));
    assert_int_equal(chat_err_http_status((chat_err_t)-1), 500);
}

/* issue 10, point 13: every chat_err_t code is a wire code; the gateway's old spellings
 * are not; the table has no duplicates and sane statuses */
static void test_one_wire_vocabulary(void **state)
{
    size_t n = 0;
    const chat_wire_code_t *t = chat_wire_codes(&n);

    (void)state;
    assert_true(n > 20);
    for (int e = CHAT_ERR_NOMEM; e <= CHAT_ERR_INTERNAL; e++) {
        assert_true(chat_wire_code_known(chat_err_code((chat_err_t)e)));
    }
    assert_false(chat_wire_code_known("unavailable"));
    assert_false(chat_wire_code_known("unauthorized"));
    assert_false(chat_wire_code_known("internal"));
    assert_false(chat_wire_code_known(NULL));
    for (size_t i = 0; i < n; i++) {
        assert_true(t[i].status >= 400 && t[i].status <= 599);
        for (size_t j = i + 1; j < n; j++) {
            assert_string_not_equal(t[i].code, t[j].code);
        }
    }
}

static void test_http_status_text(void **state)
{
    (void)state;
    /* one table for both servers (REST's responses, the gateway's HTTP refusals) */
    assert_string_equal(chat_http_status_text(404), "Not Found");
    assert_string_equal(chat_http_status_text(413), "Content Too Large");
    assert_string_equal(chat_http_status_text(426), "Upgrade Required");
    assert_string_equal(chat_http_status_text(503), "Service Unavailable");
    assert_string_equal(chat_http_status_text(299), "Unknown");
    for (int err = CHAT_OK + 1; err <= CHAT_ERR_INTERNAL; err++) {
        /* every status an error maps to has its phrase */
        assert_string_not_equal(chat_http_status_text(chat_err_http_status((chat_err_t)err)),
                                "Unknown");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_and_statuses),
        cmocka_unit_test(test_every_value_has_text),
        cmocka_unit_test(test_out_of_range_is_internal),
        cmocka_unit_test(test_one_wire_vocabulary),
        cmocka_unit_test(test_http_status_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
