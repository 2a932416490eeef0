/*
 * jwt.c - HS256 tokens on libjwt 1.10.2 (jwt.h). libjwt verifies the signature
 * only: with a key it refuses "alg":"none", but it accepts any HMAC alg the header
 * names and checks no claim. So verification here (1) always passes the key,
 * (2) pins jwt_get_alg() to HS256, and (3) reads the claims as JSON with jansson
 * and checks their types and values itself (jwt_get_grant_int returns 0 without an
 * error for a claim of the wrong type, so it cannot be trusted for that).
 * Each token gets a random jti (OpenSSL's RAND_bytes) and keeps its session's auth_time.
 * Pure CPU work with no shared state: any thread.
 */
#include "chat/jwt.h"

#include <jansson.h>
#include <jwt.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chat/validate.h"

#define JWT__IAT_LEEWAY_SEC 60
#define JWT__MAX_TOKEN_LEN 8192 /* ours are ~300 bytes; refuse to parse megabytes */

/* A fresh jti: 16 random bytes as 32 lower-case hex characters. */
static bool jwt__new_jti(char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[16];

    if (RAND_bytes(raw, (int)sizeof(raw)) != 1)
        return false;
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[32] = '\0';
    return true;
}

/* 1..CHAT_JTI_MAX characters of [A-Za-z0-9_-]: safe inside a Redis key and a log line. */
static bool jwt__jti_ok(const char *jti)
{
    size_t n = strlen(jti);

    if (n == 0 || n > CHAT_JTI_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = jti[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

chat_err_t chat_jwt_issue(const char *secret, const char *issuer, int64_t ttl_sec,
                          const char *user_id, const char *username, int64_t now_sec,
                          char **out_token)
{
    return chat_jwt_issue_session(secret, issuer, ttl_sec, 0, user_id, username, now_sec, now_sec,
                                  out_token, NULL);
}

chat_err_t chat_jwt_issue_session(const char *secret, const char *issuer, int64_t ttl_sec,
                                  int64_t max_age_sec, const char *user_id, const char *username,
                                  int64_t now_sec, int64_t auth_time, char **out_token,
                                  int64_t *out_exp)
{
    chat_err_t rc = CHAT_ERR_INTERNAL;
    jwt_t *jwt = NULL;
    char *token = NULL;
    char jti[33];
    size_t secret_len = 0;
    int64_t exp = 0;

    if (out_token == NULL)
        return CHAT_ERR_INVALID;
    *out_token = NULL;
    if (secret == NULL || issuer == NULL || user_id == NULL || username == NULL || ttl_sec <= 0 ||
        now_sec < 0 || ttl_sec > INT64_MAX - now_sec || /* exp fits */
        !chat_validate_object_id(user_id) || username[0] == '\0' ||
        strlen(username) > CHAT_USERNAME_MAX || auth_time < 0 || auth_time > now_sec)
        return CHAT_ERR_INVALID;
    secret_len = strlen(secret);
    if (secret_len == 0 || secret_len > 4096)
        return CHAT_ERR_INVALID;
    exp = now_sec + ttl_sec;
    if (max_age_sec > 0) {
        if (now_sec >= auth_time + max_age_sec)
            return CHAT_ERR_TOKEN_EXPIRED; /* the session is over: log in again */
        if (exp > auth_time + max_age_sec)
            exp = auth_time + max_age_sec;
    }
    if (!jwt__new_jti(jti))
        return CHAT_ERR_INTERNAL;

    if (jwt_new(&jwt) != 0) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    if (jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)secret, (int)secret_len) != 0 ||
        jwt_add_grant(jwt, "sub", user_id) != 0 || jwt_add_grant(jwt, "username", username) != 0 ||
        jwt_add_grant(jwt, "iss", issuer) != 0 ||
        jwt_add_grant_int(jwt, "iat", (long)now_sec) != 0 ||
        jwt_add_grant_int(jwt, "exp", (long)exp) != 0 ||
        jwt_add_grant_int(jwt, "auth_time", (long)auth_time) != 0 ||
        jwt_add_grant(jwt, "jti", jti) != 0)
        goto cleanup;
    token = jwt_encode_str(jwt);
    if (token == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    *out_token = token;
    if (out_exp != NULL)
        *out_exp = exp;
    rc = CHAT_OK;

cleanup:
    jwt_free(jwt);
    return rc;
}

/* Integer claim (JSON integer, not real or string); false when absent or mistyped. */
static bool jwt__int_claim(const json_t *claims, const char *key, int64_t *out)
{
    json_t *v = json_object_get(claims, key);

    if (!json_is_integer(v))
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

/* String claim without embedded NULs; NULL when absent or mistyped. */
static const char *jwt__str_claim(const json_t *claims, const char *key)
{
    json_t *v = json_object_get(claims, key);

    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return json_string_value(v);
}

chat_err_t chat_jwt_verify(const char *secret, const char *issuer, const char *token,
                           int64_t now_sec, chat_jwt_claims_t *out)
{
    chat_err_t rc = CHAT_ERR_TOKEN_INVALID;
    jwt_t *jwt = NULL;
    char *grants = NULL;
    json_t *claims = NULL;
    const char *sub = NULL;
    const char *username = NULL;
    const char *iss = NULL;
    int64_t iat = 0;
    int64_t exp = 0;
    int64_t auth_time = 0;
    const char *jti = NULL;
    size_t secret_len = 0;
    size_t token_len = 0;

    if (out != NULL)
        memset(out, 0, sizeof(*out));
    /* Never call jwt_decode without a key: that path accepts "alg":"none". */
    if (secret == NULL || issuer == NULL || token == NULL || out == NULL)
        return CHAT_ERR_TOKEN_INVALID;
    secret_len = strlen(secret);
    token_len = strlen(token);
    if (secret_len == 0 || secret_len > 4096 || token_len == 0 || token_len > JWT__MAX_TOKEN_LEN)
        return CHAT_ERR_TOKEN_INVALID;

    if (jwt_decode(&jwt, token, (const unsigned char *)secret, (int)secret_len) != 0 || jwt == NULL)
        goto cleanup;
    if (jwt_get_alg(jwt) != JWT_ALG_HS256)
        goto cleanup;
    grants = jwt_get_grants_json(jwt, NULL);
    if (grants == NULL)
        goto cleanup;
    claims = json_loads(grants, 0, NULL);
    if (!json_is_object(claims))
        goto cleanup;

    sub = jwt__str_claim(claims, "sub");
    username = jwt__str_claim(claims, "username");
    iss = jwt__str_claim(claims, "iss");
    if (sub == NULL || !chat_validate_object_id(sub) || username == NULL || username[0] == '\0' ||
        strlen(username) > CHAT_USERNAME_MAX || iss == NULL || strcmp(iss, issuer) != 0)
        goto cleanup;
    if (!jwt__int_claim(claims, "exp", &exp) || !jwt__int_claim(claims, "iat", &iat) || exp <= 0 ||
        iat < 0 || iat > now_sec + JWT__IAT_LEEWAY_SEC)
        goto cleanup;
    /* optional (older tokens lack them) but never of the wrong shape when present */
    if (json_object_get(claims, "jti") != NULL &&
        ((jti = jwt__str_claim(claims, "jti")) == NULL || !jwt__jti_ok(jti)))
        goto cleanup;
    if (json_object_get(claims, "auth_time") == NULL)
        auth_time = iat;
    else if (!jwt__int_claim(claims, "auth_time", &auth_time) || auth_time < 0 || auth_time > iat)
        goto cleanup;
    if (now_sec >= exp) {
        rc = CHAT_ERR_TOKEN_EXPIRED;
        goto cleanup;
    }

    memcpy(out->sub, sub, CHAT_ID_LEN); /* validated: 24 chars + NUL */
    memcpy(out->username, username, strlen(username) + 1);
    out->iat = iat;
    out->exp = exp;
    out->auth_time = auth_time;
    if (jti != NULL)
        memcpy(out->jti, jti, strlen(jti) + 1); /* checked: at most CHAT_JTI_MAX */
    rc = CHAT_OK;

cleanup:
    json_decref(claims);
    free(grants);
    jwt_free(jwt);
    return rc;
}
