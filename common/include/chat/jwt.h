/*
 * jwt.h - issue and verify HS256 JWTs with libjwt 1.10. Verification pins the
 * algorithm to HS256 and checks exp, iat and iss itself (libjwt does not).
 * Pure CPU work (no I/O); any thread, including the gateway's loop.
 */
#ifndef CHAT_JWT_H
#define CHAT_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "chat/error.h"

#define CHAT_ID_LEN 25 /* 24 hex chars + NUL */
#define CHAT_USERNAME_MAX 32

typedef struct chat_jwt_claims {
    char sub[CHAT_ID_LEN];                /* user id */
    char username[CHAT_USERNAME_MAX + 1];
    int64_t iat;                          /* seconds */
    int64_t exp;                          /* seconds */
} chat_jwt_claims_t;

/**
 * Signs a token for user_id/username valid from now_sec for ttl_sec.
 * *out_token is a new malloc'd string the caller frees.
 */
chat_err_t chat_jwt_issue(const char *secret, const char *issuer, int64_t ttl_sec,
                          const char *user_id, const char *username, int64_t now_sec,
                          char **out_token);

/**
 * Verifies token against secret/issuer at now_sec (60 s leeway for iat in the future).
 * Returns CHAT_OK and fills *out, CHAT_ERR_TOKEN_EXPIRED, or CHAT_ERR_TOKEN_INVALID
 * (malformed, alg other than HS256 including "none", bad signature, missing exp/sub,
 * wrong iss, sub not a 24-hex id).
 */
chat_err_t chat_jwt_verify(const char *secret, const char *issuer, const char *token,
                           int64_t now_sec, chat_jwt_claims_t *out);

#endif
