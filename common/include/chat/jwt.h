/*
 * jwt.h - issue and verify HS256 JWTs with libjwt 1.10. Verification pins the
 * algorithm to HS256 and checks exp, iat and iss itself (libjwt does not).
 * Every token carries a random `jti` (the handle logout revokes, token_denylist.h) and
 * `auth_time`, the time of the login that started the session: a refresh keeps it, and
 * no token of the session expires later than auth_time + SESSION_MAX_AGE.
 * Pure CPU work (no I/O); any thread, including the gateway's loop.
 */
#ifndef CHAT_JWT_H
#define CHAT_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "chat/error.h"

#define CHAT_ID_LEN 25 /* 24 hex chars + NUL */
#define CHAT_USERNAME_MAX 32
#define CHAT_JTI_MAX 64 /* ours are 32 hex chars; a jti is 1..64 of [A-Za-z0-9_-] */

typedef struct chat_jwt_claims {
    char sub[CHAT_ID_LEN]; /* user id */
    char username[CHAT_USERNAME_MAX + 1];
    int64_t iat;                /* seconds */
    int64_t exp;                /* seconds */
    int64_t auth_time;          /* seconds: the session's login (iat if absent) */
    char jti[CHAT_JTI_MAX + 1]; /* "" for a token issued before jti existed */
} chat_jwt_claims_t;

/**
 * Signs a token for user_id/username valid from now_sec for ttl_sec: a new session
 * (auth_time = now_sec, no cap), as chat_jwt_issue_session.
 * *out_token is a new malloc'd string the caller frees.
 */
chat_err_t chat_jwt_issue(const char *secret, const char *issuer, int64_t ttl_sec,
                          const char *user_id, const char *username, int64_t now_sec,
                          char **out_token);

/**
 * Signs a token of a session that started (logged in) at auth_time: valid from now_sec
 * for ttl_sec but never past auth_time + max_age_sec (max_age_sec <= 0: no cap), with a
 * fresh random jti. CHAT_ERR_TOKEN_EXPIRED when the session is already that old (a
 * refresh must not extend it), CHAT_ERR_INVALID for bad arguments (auth_time in the
 * future included). *out_token is a new malloc'd string the caller frees; *out_exp (may be
 * NULL) gets the token's exp.
 */
chat_err_t chat_jwt_issue_session(const char *secret, const char *issuer, int64_t ttl_sec,
                                  int64_t max_age_sec, const char *user_id, const char *username,
                                  int64_t now_sec, int64_t auth_time, char **out_token,
                                  int64_t *out_exp);

/**
 * Verifies token against secret/issuer at now_sec (60 s leeway for iat in the future).
 * Returns CHAT_OK and fills *out, CHAT_ERR_TOKEN_EXPIRED, or CHAT_ERR_TOKEN_INVALID
 * (malformed, alg other than HS256 including "none", bad signature, missing exp/sub,
 * wrong iss, sub not a 24-hex id, a jti or auth_time of the wrong shape, auth_time after
 * iat). Tokens without jti / auth_time (issued before they existed) still verify: jti is
 * then "" and auth_time is iat.
 */
chat_err_t chat_jwt_verify(const char *secret, const char *issuer, const char *token,
                           int64_t now_sec, chat_jwt_claims_t *out);

#endif
