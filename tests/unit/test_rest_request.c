/*
 * test_rest_request.c - the pure request/response helpers of rest-fcgi: path from
 * REQUEST_URI, URL decoding, query parameters, strict integers, Bearer tokens, JSON body
 * fields, and the rendering of responses (status line, CORS, Retry-After, Allow).
 * Includes rest-fcgi/request.c and response.c directly (no FastCGI needed).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../rest-fcgi/request.c"
#include "../../rest-fcgi/response.c"

static void test_path_from_uri(void **state)
{
    struct {
        const char *in;
        const char *out;
    } cases[] = {
        /* exact: a trailing '/' or a fragment is part of the path (no route has one) */
        {"/api/rooms?limit=5", "/api/rooms"},
        {"/api/rooms/", "/api/rooms/"},
        {"/api/rooms//", "/api/rooms//"},
        {"/", "/"},
        {"", "/"},
        {NULL, "/"},
        {"/health#frag", "/health#frag"},
        {"/api/x?y#z", "/api/x"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *p = rest_path_from_uri(cases[i].in);
        assert_non_null(p);
        assert_string_equal(p, cases[i].out);
        free(p);
    }
}

static void expect_decode(const char *in, rest_qstatus_t st, const char *out)
{
    char *got = NULL;

    assert_int_equal(rest_url_decode(in, strlen(in), &got), st);
    if (st == REST_Q_OK) {
        assert_string_equal(got, out);
    } else {
        assert_null(got);
    }
    free(got);
}

static void test_url_decode(void **state)
{
    (void)state;
    expect_decode("a+b%20c", REST_Q_OK, "a b c");
    expect_decode("%41%62", REST_Q_OK, "Ab");
    expect_decode("%e2%9c%93", REST_Q_OK, "\xe2\x9c\x93");
    expect_decode("", REST_Q_OK, "");
    expect_decode("%", REST_Q_INVALID, NULL);
    expect_decode("%4", REST_Q_INVALID, NULL);
    expect_decode("x%zz", REST_Q_INVALID, NULL);
    expect_decode("%00", REST_Q_INVALID, NULL);
    expect_decode("ab%", REST_Q_INVALID, NULL);
}

static void test_query_get(void **state)
{
    char *v = NULL;

    (void)state;
    assert_int_equal(rest_query_get("q=abc&limit=5", "limit", &v), REST_Q_OK);
    assert_string_equal(v, "5");
    free(v);
    assert_int_equal(rest_query_get("q=a%26b&limit=5", "q", &v), REST_Q_OK);
    assert_string_equal(v, "a&b");
    free(v);
    assert_int_equal(rest_query_get("l%69mit=7", "limit", &v), REST_Q_OK);
    assert_string_equal(v, "7");
    free(v);
    assert_int_equal(rest_query_get("q&x=1", "q", &v), REST_Q_OK);
    assert_string_equal(v, "");
    free(v);
    assert_int_equal(rest_query_get("q=1&q=2", "q", &v), REST_Q_OK);
    assert_string_equal(v, "1");
    free(v);
    assert_int_equal(rest_query_get("qq=1&&q2=3", "q", &v), REST_Q_ABSENT);
    assert_null(v);
    assert_int_equal(rest_query_get("", "q", &v), REST_Q_ABSENT);
    assert_int_equal(rest_query_get(NULL, "q", &v), REST_Q_ABSENT);
    assert_int_equal(rest_query_get("q=%zz", "q", &v), REST_Q_INVALID);
    assert_null(v);
}

static void test_parse_int64(void **state)
{
    int64_t v = 0;
    const char *bad[] = {
        "", "1.5", " 1", "1 ", "1e3", "+1", "-", "0x10", "abc", "99999999999999999999", NULL};

    (void)state;
    assert_int_equal(rest_parse_int64("12", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(rest_parse_int64("-3", &v), 0);
    assert_int_equal(v, -3);
    assert_int_equal(rest_parse_int64("0", &v), 0);
    assert_int_equal(v, 0);
    for (int i = 0; bad[i] != NULL; i++) {
        assert_int_equal(rest_parse_int64(bad[i], &v), -1);
    }
    assert_int_equal(rest_parse_int64(NULL, &v), -1);
}

static void test_query_int(void **state)
{
    rest_request_t req;
    rest_response_t resp;
    int64_t v = 0;

    (void)state;
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.query = "limit=500&offset=-1&x=abc";
    assert_true(rest_query_int(&req, "limit", 50, 1, 200, &v, &resp));
    assert_int_equal(v, 200); /* clamped */
    assert_true(rest_query_int(&req, "missing", 50, 1, 200, &v, &resp));
    assert_int_equal(v, 50);
    assert_int_equal(resp.status, 0);
    assert_false(rest_query_int(&req, "offset", 0, 0, 100, &v, &resp));
    assert_int_equal(resp.status, 400);
    rest_response_clear(&resp);
    memset(&resp, 0, sizeof(resp));
    assert_false(rest_query_int(&req, "x", 0, 0, 100, &v, &resp));
    assert_int_equal(resp.status, 400);
    rest_response_clear(&resp);
}

static void test_bearer(void **state)
{
    size_t len = 0;
    const char *t;

    (void)state;
    t = rest_bearer_token("Bearer abc.def", &len);
    assert_non_null(t);
    assert_int_equal(len, 7);
    assert_memory_equal(t, "abc.def", 7);
    t = rest_bearer_token("bearer   tok  ", &len);
    assert_non_null(t);
    assert_int_equal(len, 3);
    assert_null(rest_bearer_token("Basic abc", &len));
    assert_null(rest_bearer_token("Bearer", &len));
    assert_null(rest_bearer_token("Bearer    ", &len));
    assert_null(rest_bearer_token("Bearerabc", &len));
    assert_null(rest_bearer_token(NULL, &len));
}

static json_t *body_of(const char *text, rest_response_t *resp)
{
    rest_request_t req;

    memset(&req, 0, sizeof(req));
    req.body = (char *)text;
    req.body_len = text != NULL ? strlen(text) : 0;
    return rest_body_object(&req, resp);
}

static void test_body_and_fields(void **state)
{
    const char *bad[] = {
        "",  "[]", "1", "\"s\"", "{", "{\"a\":1,}", "{\"a\":1,\"a\":2}", "{\"a\":\"\\u0000\"}",
        NULL};
    rest_response_t resp;
    json_t *obj;
    const char *s = NULL;
    bool b = false;
    char deep[200];

    (void)state;
    for (int i = 0; bad[i] != NULL; i++) {
        memset(&resp, 0, sizeof(resp));
        assert_null(body_of(bad[i], &resp));
        assert_int_equal(resp.status, 400);
        rest_response_clear(&resp);
    }
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    memset(&resp, 0, sizeof(resp));
    assert_null(body_of(deep, &resp));
    assert_int_equal(resp.status, 400);
    rest_response_clear(&resp);

    memset(&resp, 0, sizeof(resp));
    obj = body_of("{\"name\":\"x\",\"n\":5,\"nul\":null,\"flag\":true}", &resp);
    assert_non_null(obj);
    assert_true(rest_json_string(obj, "name", true, false, &s, &resp));
    assert_string_equal(s, "x");
    assert_true(rest_json_string(obj, "absent", false, false, &s, &resp));
    assert_null(s);
    assert_true(rest_json_string(obj, "nul", false, true, &s, &resp));
    assert_null(s);
    assert_int_equal(resp.status, 0);
    assert_false(rest_json_string(obj, "nul", false, false, &s, &resp));
    assert_int_equal(resp.status, 400);
    rest_response_clear(&resp);
    memset(&resp, 0, sizeof(resp));
    assert_false(rest_json_string(obj, "n", true, false, &s, &resp));
    assert_int_equal(resp.status, 400);
    rest_response_clear(&resp);
    memset(&resp, 0, sizeof(resp));
    assert_false(rest_json_string(obj, "absent", true, false, &s, &resp));
    assert_int_equal(resp.status, 400);
    rest_response_clear(&resp);
    memset(&resp, 0, sizeof(resp));
    assert_true(rest_json_bool(obj, "flag", false, &b, &resp));
    assert_true(b);
    assert_true(rest_json_bool(obj, "absent", true, &b, &resp));
    assert_true(b);
    assert_false(rest_json_bool(obj, "n", false, &b, &resp));
    assert_int_equal(resp.status, 400);
    rest_response_clear(&resp);
    json_decref(obj);
}

static const char *const *test_env;

static const char *env_get(const char *name, void *arg)
{
    (void)arg;
    for (size_t i = 0; test_env[i] != NULL; i += 2) {
        if (strcmp(test_env[i], name) == 0) {
            return test_env[i + 1];
        }
    }
    return NULL;
}

static void test_request_init_from_params(void **state)
{
    static const char *const env1[] = {"REQUEST_METHOD",
                                       "POST",
                                       "REQUEST_URI",
                                       "/api/rooms?a=b",
                                       "QUERY_STRING",
                                       "a=b",
                                       "CONTENT_LENGTH",
                                       "12",
                                       "REMOTE_ADDR",
                                       "10.0.0.1",
                                       "HTTP_X_REQUEST_ID",
                                       "req-1",
                                       NULL};
    static const char *const env2[] = {"CONTENT_LENGTH", "12x", "HTTP_X_REQUEST_ID", "bad id\"",
                                       NULL};
    rest_request_t req;

    (void)state;
    test_env = env1;
    assert_int_equal(rest_request_init(&req, env_get, NULL), 0);
    assert_string_equal(req.method, "POST");
    assert_string_equal(req.path, "/api/rooms");
    assert_string_equal(req.query, "a=b");
    assert_int_equal(req.content_length, 12);
    assert_string_equal(req.remote_addr, "10.0.0.1");
    assert_string_equal(req.request_id, "req-1");
    assert_null(req.authorization);
    rest_request_clear(&req);

    test_env = env2;
    assert_int_equal(rest_request_init(&req, env_get, NULL), 0);
    assert_string_equal(req.method, "");
    assert_string_equal(req.path, "/");
    assert_int_equal(req.content_length, -2);
    assert_int_equal(strlen(req.request_id), 16);
    rest_request_clear(&req);
}

static void test_render(void **state)
{
    rest_response_t resp;
    size_t len = 0;
    char *out;

    (void)state;
    memset(&resp, 0, sizeof(resp));
    rest_response_rate_limited(&resp, 1001);
    assert_int_equal(resp.retry_after_sec, 2);
    out = rest_response_render(&resp, "http://localhost:3000", "rid", &len);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    assert_non_null(strstr(out, "Status: 429 Too Many Requests\r\n"));
    assert_non_null(strstr(out, "Retry-After: 2\r\n"));
    assert_non_null(strstr(out, "Access-Control-Allow-Origin: http://localhost:3000\r\n"));
    assert_non_null(strstr(out, "Access-Control-Allow-Credentials: true\r\n"));
    assert_null(strstr(out, "Access-Control-Allow-Methods"));
    assert_non_null(strstr(out, "X-Request-Id: rid\r\n"));
    assert_non_null(strstr(out, "\r\n\r\n{\"error\":{\"code\":\"rate_limited\""));
    free(out);
    rest_response_clear(&resp);

    memset(&resp, 0, sizeof(resp));
    rest_response_rate_limited(&resp, 0);
    assert_int_equal(resp.retry_after_sec, 1);
    rest_response_clear(&resp);
    memset(&resp, 0, sizeof(resp));
    rest_response_rate_limited(&resp, 1000);
    assert_int_equal(resp.retry_after_sec, 1);
    rest_response_clear(&resp);

    memset(&resp, 0, sizeof(resp));
    rest_response_json(&resp, 204, NULL);
    resp.preflight = true;
    out = rest_response_render(&resp, NULL, "rid", &len);
    assert_non_null(strstr(out, "Status: 204 No Content\r\n"));
    assert_null(strstr(out, "Access-Control"));
    assert_null(strstr(out, "Content-Type"));
    assert_string_equal(out + len - 4, "\r\n\r\n");
    free(out);
    out = rest_response_render(&resp, "http://a.b", "rid", &len);
    assert_non_null(strstr(out, "Access-Control-Allow-Methods: GET, POST, PATCH, DELETE"));
    assert_non_null(strstr(out, "Access-Control-Allow-Headers: Authorization, Content-Type"));
    free(out);
    /* header injection through the origin is impossible */
    out = rest_response_render(&resp, "http://a.b\r\nX-Evil: 1", "rid", &len);
    assert_null(strstr(out, "X-Evil"));
    free(out);
    rest_response_clear(&resp);

    memset(&resp, 0, sizeof(resp));
    rest_response_error(&resp, 405, "method_not_allowed", "no");
    snprintf(resp.allow, sizeof(resp.allow), "GET, OPTIONS");
    out = rest_response_render(&resp, NULL, "rid", &len);
    assert_non_null(strstr(out, "Allow: GET, OPTIONS\r\n"));
    free(out);
    rest_response_clear(&resp);
}

static void test_errors_from_chat_err(void **state)
{
    struct {
        chat_err_t err;
        int status;
        const char *code;
    } cases[] = {
        {CHAT_ERR_INVALID, 400, "validation_error"},
        {CHAT_ERR_NOT_FOUND, 404, "not_found"},
        {CHAT_ERR_CONFLICT, 409, "conflict"},
        {CHAT_ERR_FORBIDDEN, 403, "forbidden"},
        {CHAT_ERR_TOKEN_EXPIRED, 401, "token_expired"},
        {CHAT_ERR_TOKEN_INVALID, 401, "invalid_token"},
        {CHAT_ERR_RATE_LIMITED, 429, "rate_limited"},
        {CHAT_ERR_UNAVAILABLE, 503, "service_unavailable"},
        {CHAT_ERR_TOO_LARGE, 413, "payload_too_large"},
        {CHAT_ERR_INTERNAL, 500, "internal_error"},
        {CHAT_ERR_NOMEM, 500, "internal_error"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rest_response_t resp;
        json_t *code;

        memset(&resp, 0, sizeof(resp));
        rest_response_from_err(&resp, cases[i].err, NULL);
        assert_int_equal(resp.status, cases[i].status);
        code = json_object_get(json_object_get(resp.body, "error"), "code");
        assert_string_equal(json_string_value(code), cases[i].code);
        assert_true(
            json_is_string(json_object_get(json_object_get(resp.body, "error"), "message")));
        rest_response_clear(&resp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_from_uri),   cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_query_get),       cmocka_unit_test(test_parse_int64),
        cmocka_unit_test(test_query_int),       cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_body_and_fields), cmocka_unit_test(test_request_init_from_params),
        cmocka_unit_test(test_render),          cmocka_unit_test(test_errors_from_chat_err),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
