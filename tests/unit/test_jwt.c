/*
 * test_jwt.c - HS256 issue/verify: valid, expired, not yet valid, tampered,
 * alg "none" (built by hand), HS512 with the same key, wrong key, missing or
 * mistyped claims, wrong issuer, bad subject, garbage and empty input; the session
 * claims jti and auth_time and the SESSION_MAX_AGE cap of chat_jwt_issue_session.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/jwt.h"

#define SECRET "0123456789abcdef0123456789abcdef-test-secret"
#define ISSUER "chat-server"
#define UID "65a1b2c3d4e5f60718293a4b"
#define NOW INT64_C(1736937000)

/* base64url without padding of s into a new malloc'd string. */
static char *b64url(const char *s)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    char *out = malloc(n * 4 / 3 + 4);
    size_t o = 0;

    assert_non_null(out);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;

        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = tbl[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = tbl[v & 63];
    }
    out[o] = '\0';
    return out;
}

/* A token signed by libjwt with any alg/key and arbitrary claims JSON. */
static char *signed_token(jwt_alg_t alg, const char *key, const char *claims_json)
{
    jwt_t *jwt = NULL;
    char *token = NULL;

    assert_int_equal(jwt_new(&jwt), 0);
    assert_int_equal(jwt_add_grants_json(jwt, claims_json), 0);
    assert_int_equal(jwt_set_alg(jwt, alg, (const unsigned char *)key, (int)strlen(key)), 0);
    token = jwt_encode_str(jwt);
    assert_non_null(token);
    jwt_free(jwt);
    return token;
}

/* Claims JSON of a token that would be valid at NOW. */
static char *claims(const char *sub, const char *user, const char *iss, const char *iat,
                    const char *exp)
{
    char buf[1024];
    size_t n = 0;

    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "{");
    if (sub != NULL)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"sub\":%s,", sub);
    if (user != NULL)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"username\":%s,", user);
    if (iss != NULL)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"iss\":%s,", iss);
    if (iat != NULL)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"iat\":%s,", iat);
    if (exp != NULL)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\"exp\":%s,", exp);
    if (buf[n - 1] == ',')
        n--;
    snprintf(buf + n, sizeof(buf) - n, "}");
    return strdup(buf);
}

static chat_err_t verify(const char *token, int64_t now)
{
    chat_jwt_claims_t c;

    return chat_jwt_verify(SECRET, ISSUER, token, now, &c);
}

static void test_valid(void **state)
{
    char *token = NULL;
    chat_jwt_claims_t c;

    (void)state;
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, "alice", NOW, &token), CHAT_OK);
    assert_non_null(token);
    assert_int_equal(chat_jwt_verify(SECRET, ISSUER, token, NOW, &c), CHAT_OK);
    assert_string_equal(c.sub, UID);
    assert_string_equal(c.username, "alice");
    assert_int_equal(c.iat, NOW);
    assert_int_equal(c.exp, NOW + 3600);
    assert_int_equal(chat_jwt_verify(SECRET, ISSUER, token, NOW + 3599, &c), CHAT_OK);
    free(token);
}

static void test_expired(void **state)
{
    char *token = NULL;
    chat_jwt_claims_t c;

    (void)state;
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 60, UID, "alice", NOW, &token), CHAT_OK);
    assert_int_equal(chat_jwt_verify(SECRET, ISSUER, token, NOW + 60, &c),
                     CHAT_ERR_TOKEN_EXPIRED); /* now == exp is expired */
    assert_int_equal(chat_jwt_verify(SECRET, ISSUER, token, NOW + 100000, &c),
                     CHAT_ERR_TOKEN_EXPIRED);
    assert_string_equal(c.sub, ""); /* nothing filled on failure */
    free(token);

    /* libjwt itself would accept exp: 1 */
    char *cl = claims("\"" UID "\"", "\"a1\"", "\"" ISSUER "\"", "0", "1");
    token = signed_token(JWT_ALG_HS256, SECRET, cl);
    assert_int_equal(verify(token, NOW), CHAT_ERR_TOKEN_EXPIRED);
    free(token);
    free(cl);
}

static void test_not_yet_valid(void **state)
{
    char *token = NULL;

    (void)state;
    /* issued 61 s in the future: refused; 60 s is within the leeway */
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, "alice", NOW + 61, &token), CHAT_OK);
    assert_int_equal(verify(token, NOW), CHAT_ERR_TOKEN_INVALID);
    free(token);
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, "alice", NOW + 60, &token), CHAT_OK);
    assert_int_equal(verify(token, NOW), CHAT_OK);
    free(token);
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, "alice", NOW + 86400, &token),
                     CHAT_OK);
    assert_int_equal(verify(token, NOW), CHAT_ERR_TOKEN_INVALID);
    free(token);
}

static void test_tampered(void **state)
{
    char *token = NULL;
    char *dot = NULL;
    char *forged = NULL;
    char *payload = NULL;
    char *cl = NULL;
    size_t n = 0;

    (void)state;
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, "alice", NOW, &token), CHAT_OK);
    n = strlen(token);

    /* flip one signature character */
    token[n - 2] = token[n - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(verify(token, NOW), CHAT_ERR_TOKEN_INVALID);
    /* drop the signature */
    dot = strrchr(token, '.');
    dot[1] = '\0';
    assert_int_equal(verify(token, NOW), CHAT_ERR_TOKEN_INVALID);
    free(token);

    /* swap in another payload (username "admin") under the original signature */
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, "alice", NOW, &token), CHAT_OK);
    cl = claims("\"" UID "\"", "\"admin\"", "\"" ISSUER "\"", "1736937000", "1736940600");
    payload = b64url(cl);
    dot = strchr(token, '.');
    forged = malloc(strlen(token) + strlen(payload) + 4);
    sprintf(forged, "%.*s.%s%s", (int)(dot - token), token, payload, strrchr(token, '.'));
    assert_int_equal(verify(forged, NOW), CHAT_ERR_TOKEN_INVALID);
    free(forged);
    free(payload);
    free(cl);
    free(token);
}

static void test_alg_none(void **state)
{
    char *header = b64url("{\"alg\":\"none\",\"typ\":\"JWT\"}");
    char *cl = claims("\"" UID "\"", "\"alice\"", "\"" ISSUER "\"", "1736937000", "1736940600");
    char *payload = b64url(cl);
    char token[1024];

    (void)state;
    snprintf(token, sizeof(token), "%s.%s.", header, payload);
    assert_int_equal(verify(token, NOW), CHAT_ERR_TOKEN_INVALID);
    /* lower/upper case variants and a bogus signature part */
    free(header);
    header = b64url("{\"alg\":\"None\",\"typ\":\"JWT\"}");
    snprintf(token, sizeof(token), "%s.%s.", header, payload);
    assert_int_equal(verify(token, NOW), CHAT_ERR_TOKEN_INVALID);
    snprintf(token, sizeof(token), "%s.%s.AAAA", header, payload);
    assert_int_equal(verify(token, NOW), CHAT_ERR_TOKEN_INVALID);
    free(header);
    header = b64url("{\"typ\":\"JWT\"}"); /* no alg at all */
    snprintf(token, sizeof(token), "%s.%s.", header, payload);
    assert_int_equal(verify(token, NOW), CHAT_ERR_TOKEN_INVALID);
    free(header);
    free(payload);
    free(cl);
}

static void test_hs512_same_key(void **state)
{
    char *cl = claims("\"" UID "\"", "\"alice\"", "\"" ISSUER "\"", "1736937000", "1736940600");
    char *token = signed_token(JWT_ALG_HS512, SECRET, cl);
    char *t384 = signed_token(JWT_ALG_HS384, SECRET, cl);
    char *t256 = signed_token(JWT_ALG_HS256, SECRET, cl);

    (void)state;
    assert_int_equal(verify(token, NOW), CHAT_ERR_TOKEN_INVALID);
    assert_int_equal(verify(t384, NOW), CHAT_ERR_TOKEN_INVALID);
    assert_int_equal(verify(t256, NOW), CHAT_OK); /* the same claims under HS256 pass */
    free(t256);
    free(t384);
    free(token);
    free(cl);
}

static void test_wrong_key(void **state)
{
    char *token = NULL;
    chat_jwt_claims_t c;

    (void)state;
    assert_int_equal(chat_jwt_issue("another-secret-that-is-32-bytes-long!", ISSUER, 3600, UID,
                                    "alice", NOW, &token),
                     CHAT_OK);
    assert_int_equal(verify(token, NOW), CHAT_ERR_TOKEN_INVALID);
    assert_int_equal(chat_jwt_verify("", ISSUER, token, NOW, &c), CHAT_ERR_TOKEN_INVALID);
    assert_int_equal(chat_jwt_verify(NULL, ISSUER, token, NOW, &c), CHAT_ERR_TOKEN_INVALID);
    free(token);
}

static void test_missing_or_bad_claims(void **state)
{
    static const char *const cases[][5] = {
        /* sub, username, iss, iat, exp ; NULL = absent */
        {"\"" UID "\"", "\"alice\"", "\"" ISSUER "\"", "1736937000", NULL},  /* no exp */
        {"\"" UID "\"", "\"alice\"", "\"" ISSUER "\"", NULL, "1736940600"},  /* no iat */
        {NULL, "\"alice\"", "\"" ISSUER "\"", "1736937000", "1736940600"},   /* no sub */
        {"\"" UID "\"", NULL, "\"" ISSUER "\"", "1736937000", "1736940600"}, /* no username */
        {"\"" UID "\"", "\"alice\"", NULL, "1736937000", "1736940600"},      /* no iss */
        {"\"" UID "\"", "\"alice\"", "\"" ISSUER "\"", "1736937000", "\"1736940600\""},
        {"\"" UID "\"", "\"alice\"", "\"" ISSUER "\"", "1736937000", "1736940600.5"},
        {"\"" UID "\"", "\"alice\"", "\"" ISSUER "\"", "\"1736937000\"", "1736940600"},
        {"\"" UID "\"", "\"alice\"", "\"" ISSUER "\"", "1736937000", "null"},
        {"\"not-an-object-id\"", "\"alice\"", "\"" ISSUER "\"", "1736937000", "1736940600"},
        {"\"" UID "0\"", "\"alice\"", "\"" ISSUER "\"", "1736937000", "1736940600"},
        {"12345", "\"alice\"", "\"" ISSUER "\"", "1736937000", "1736940600"},
        {"\"" UID "\"", "\"\"", "\"" ISSUER "\"", "1736937000", "1736940600"},
        {"\"" UID "\"", "\"a23456789012345678901234567890123\"", "\"" ISSUER "\"", "1736937000",
         "1736940600"}, /* 33 chars */
        {"\"" UID "\"", "[\"alice\"]", "\"" ISSUER "\"", "1736937000", "1736940600"},
        {"\"" UID "\"", "\"alice\"", "\"other-issuer\"", "1736937000", "1736940600"},
        {"\"" UID "\"", "\"alice\"", "\"chat-server \"", "1736937000", "1736940600"},
        {"\"" UID "\"", "\"alice\"", "[\"" ISSUER "\"]", "1736937000", "1736940600"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *cl = claims(cases[i][0], cases[i][1], cases[i][2], cases[i][3], cases[i][4]);
        char *token = signed_token(JWT_ALG_HS256, SECRET, cl);

        if (verify(token, NOW) != CHAT_ERR_TOKEN_INVALID)
            fail_msg("accepted claims %s", cl);
        free(token);
        free(cl);
    }
}

static void test_wrong_issuer_param(void **state)
{
    char *token = NULL;
    chat_jwt_claims_t c;

    (void)state;
    assert_int_equal(chat_jwt_issue(SECRET, "staging", 3600, UID, "alice", NOW, &token), CHAT_OK);
    assert_int_equal(chat_jwt_verify(SECRET, ISSUER, token, NOW, &c), CHAT_ERR_TOKEN_INVALID);
    assert_int_equal(chat_jwt_verify(SECRET, "staging", token, NOW, &c), CHAT_OK);
    free(token);
}

static void test_garbage_and_empty(void **state)
{
    static const char *const bad[] = {
        "",
        ".",
        "..",
        "...",
        "abc",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "eyJhbGciOiJIUzI1NiJ9",
        "eyJhbGciOiJIUzI1NiJ9..",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "!!!.@@@.###",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x",
        "\xff\xfe.\xfd.\xfc",
    };
    char big[20000];
    chat_jwt_claims_t c;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (verify(bad[i], NOW) != CHAT_ERR_TOKEN_INVALID)
            fail_msg("accepted '%s'", bad[i]);
    }
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[100] = '.';
    big[200] = '.';
    assert_int_equal(verify(big, NOW), CHAT_ERR_TOKEN_INVALID);
    assert_int_equal(chat_jwt_verify(SECRET, ISSUER, NULL, NOW, &c), CHAT_ERR_TOKEN_INVALID);
    assert_int_equal(chat_jwt_verify(SECRET, ISSUER, "a.b.c", NOW, NULL), CHAT_ERR_TOKEN_INVALID);
}

static void test_issue_rejects_bad_input(void **state)
{
    char *token = (char *)"sentinel";

    (void)state;
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, "nothex", "alice", NOW, &token),
                     CHAT_ERR_INVALID);
    assert_null(token);
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 0, UID, "alice", NOW, &token),
                     CHAT_ERR_INVALID);
    assert_int_equal(chat_jwt_issue("", ISSUER, 3600, UID, "alice", NOW, &token), CHAT_ERR_INVALID);
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, "", NOW, &token), CHAT_ERR_INVALID);
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, NULL, NOW, &token),
                     CHAT_ERR_INVALID);
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, "alice", NOW, NULL),
                     CHAT_ERR_INVALID);
    /* exp = now + ttl would overflow (found by tests/fuzz/fuzz_jwt, UBSan) */
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, INT64_MAX, UID, "alice", NOW, &token),
                     CHAT_ERR_INVALID);
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, "alice", -1, &token),
                     CHAT_ERR_INVALID);
}

/* Every token gets its own random jti; a session keeps its auth_time and never outlives
 * auth_time + max_age (issue 10, point 12). */
static void test_session_claims(void **state)
{
    char *a = NULL;
    char *b = NULL;
    chat_jwt_claims_t ca;
    chat_jwt_claims_t cb;
    int64_t exp = 0;

    (void)state;
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, "alice", NOW, &a), CHAT_OK);
    assert_int_equal(chat_jwt_issue(SECRET, ISSUER, 3600, UID, "alice", NOW, &b), CHAT_OK);
    assert_int_equal(chat_jwt_verify(SECRET, ISSUER, a, NOW, &ca), CHAT_OK);
    assert_int_equal(chat_jwt_verify(SECRET, ISSUER, b, NOW, &cb), CHAT_OK);
    assert_int_equal(strlen(ca.jti), 32);
    assert_string_not_equal(ca.jti, cb.jti);
    assert_int_equal(ca.auth_time, NOW);
    free(a);
    free(b);

    /* a refresh 1000 s into a session of max age 3000: auth_time kept, exp capped */
    assert_int_equal(
        chat_jwt_issue_session(SECRET, ISSUER, 3600, 3000, UID, "alice", NOW + 1000, NOW, &a, &exp),
        CHAT_OK);
    assert_int_equal(exp, NOW + 3000);
    assert_int_equal(chat_jwt_verify(SECRET, ISSUER, a, NOW + 1000, &ca), CHAT_OK);
    assert_int_equal(ca.auth_time, NOW);
    assert_int_equal(ca.iat, NOW + 1000);
    assert_int_equal(ca.exp, NOW + 3000);
    free(a);
    /* under the cap the TTL rules */
    assert_int_equal(
        chat_jwt_issue_session(SECRET, ISSUER, 60, 3000, UID, "alice", NOW + 10, NOW, &a, &exp),
        CHAT_OK);
    assert_int_equal(exp, NOW + 70);
    free(a);
    /* at or past the cap: no token */
    assert_int_equal(
        chat_jwt_issue_session(SECRET, ISSUER, 3600, 3000, UID, "alice", NOW + 3000, NOW, &a, NULL),
        CHAT_ERR_TOKEN_EXPIRED);
    assert_null(a);
    /* auth_time in the future is a caller bug */
    assert_int_equal(
        chat_jwt_issue_session(SECRET, ISSUER, 3600, 3000, UID, "alice", NOW, NOW + 1, &a, NULL),
        CHAT_ERR_INVALID);
}

/* Tokens without jti/auth_time (issued before) verify; mistyped ones do not. */
static void test_session_claims_shape(void **state)
{
    static const char *const bad[] = {
        "{\"sub\":\"" UID "\",\"username\":\"a\",\"iss\":\"" ISSUER
        "\",\"iat\":1736937000,\"exp\":1736940600,\"jti\":7}",
        "{\"sub\":\"" UID "\",\"username\":\"a\",\"iss\":\"" ISSUER
        "\",\"iat\":1736937000,\"exp\":1736940600,\"jti\":\"\"}",
        "{\"sub\":\"" UID "\",\"username\":\"a\",\"iss\":\"" ISSUER
        "\",\"iat\":1736937000,\"exp\":1736940600,\"jti\":\"a b\"}",
        "{\"sub\":\"" UID "\",\"username\":\"a\",\"iss\":\"" ISSUER
        "\",\"iat\":1736937000,\"exp\":1736940600,\"auth_time\":\"1\"}",
        "{\"sub\":\"" UID "\",\"username\":\"a\",\"iss\":\"" ISSUER
        "\",\"iat\":1736937000,\"exp\":1736940600,\"auth_time\":1736937001}",
    };
    char *old = claims("\"" UID "\"", "\"a\"", "\"" ISSUER "\"", "1736937000", "1736940600");
    char *token = signed_token(JWT_ALG_HS256, SECRET, old);
    chat_jwt_claims_t c;

    (void)state;
    assert_int_equal(chat_jwt_verify(SECRET, ISSUER, token, NOW, &c), CHAT_OK);
    assert_string_equal(c.jti, "");
    assert_int_equal(c.auth_time, NOW);
    free(token);
    free(old);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        token = signed_token(JWT_ALG_HS256, SECRET, bad[i]);
        assert_int_equal(chat_jwt_verify(SECRET, ISSUER, token, NOW, &c), CHAT_ERR_TOKEN_INVALID);
        free(token);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_expired),
        cmocka_unit_test(test_not_yet_valid),
        cmocka_unit_test(test_tampered),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_hs512_same_key),
        cmocka_unit_test(test_wrong_key),
        cmocka_unit_test(test_missing_or_bad_claims),
        cmocka_unit_test(test_wrong_issuer_param),
        cmocka_unit_test(test_garbage_and_empty),
        cmocka_unit_test(test_issue_rejects_bad_input),
        cmocka_unit_test(test_session_claims),
        cmocka_unit_test(test_session_claims_shape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
