/*
 * auth.c - the /api/auth resource (register, login, refresh) and the Bearer
 * authentication every protected route goes through.
 *
 * Register and login hash/verify with bcrypt (chat/password.h) and so are slow by
 * design; lighttpd runs them in their own FastCGI pool. Login rate limits (per IP and
 * per account) are checked before any bcrypt work, and an unknown email burns the same
 * time as a wrong password (chat_password_verify_dummy) so that timing reveals nothing.
 *
 * Registration also refuses the common passwords of chat/password_policy.h (the list
 * main.c loads into ctx->passwords).
 *
 * Sessions: login starts one (the token's auth_time), refresh keeps its auth_time and never
 * issues a token that outlives auth_time + SESSION_MAX_AGE (401 token_expired once the
 * session is that old), logout revokes the token's jti until its exp (token_denylist.h)
 * and tells the gateways (token_revoked on the user's channel); authentication refuses a
 * revoked token with 401 invalid_token.
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on chat/jwt.h,
 * chat/password.h, chat/password_policy.h, chat/users_repo.h, chat/validate.h and
 * limits.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/jwt.h"
#include "chat/log.h"
#include "chat/member_cache.h"
#include "chat/password.h"
#include "chat/token_denylist.h"
#include "chat/user_cache.h"
#include "chat/user_events.h"
#include "chat/user_exists.h"
#include "chat/user_logins.h"
#include "chat/users_repo.h"
#include "chat/validate.h"

#include "handlers.h"
#include "limits.h"

#define AUTH__TOKEN_MAX 8192
#define AUTH__BCRYPT_MAX 72 /* bytes bcrypt reads; more would be silently ignored */

/**
 * Pure check of a registration. Returns NULL when valid, else writes a message naming
 * the field into msg.
 */
const char *rest_auth_check_register(const char *username, const char *email, const char *password,
                                     char *msg, size_t msglen);

const char *rest_auth_check_register(const char *username, const char *email, const char *password,
                                     char *msg, size_t msglen)
{
    const char *why;

    if ((why = chat_validate_username(username)) != NULL) {
        snprintf(msg, msglen, "username: %s", why);
        return msg;
    }
    if ((why = chat_validate_email(email)) != NULL) {
        snprintf(msg, msglen, "email: %s", why);
        return msg;
    }
    if ((why = chat_validate_password(password)) != NULL) {
        snprintf(msg, msglen, "password: %s", why);
        return msg;
    }
    return NULL;
}

/* A 409 answered from the set of logins (user_logins.h) when it says the username or the
 * email is taken; false (go on to the insert, whose unique indexes decide) otherwise. */
static bool auth__taken_in_read_model(rest_ctx_t *ctx, const char *username, const char *email,
                                      rest_response_t *resp)
{
    chat_cset_answer_t taken[2];

    if (chat_user_logins_check_two(&ctx->store, username, email, taken) != CHAT_OK) {
        return false;
    }
    /* literal codes, so tests/static/test_error_codes.py sees every one */
    if (taken[0] == CHAT_CSET_PRESENT) {
        rest_response_error(resp, 409, "username_taken", "username is already taken");
        return true;
    }
    if (taken[1] == CHAT_CSET_PRESENT) {
        rest_response_error(resp, 409, "email_taken", "email is already taken");
        return true;
    }
    return false;
}

void rest_auth_register(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    json_t *body = NULL;
    const char *username = NULL;
    const char *email = NULL;
    const char *password = NULL;
    const char *field = NULL;
    const char *why = NULL;
    char hash[CHAT_PASSWORD_HASH_LEN];
    char msg[256];
    char code[32];
    chat_user_t user = {0};
    chat_err_t rc;

    if (!rest_limit_register(ctx, req, resp)) {
        return;
    }
    body = rest_body_object(req, resp);
    if (body == NULL || !rest_json_string(body, "username", true, false, &username, resp) ||
        !rest_json_string(body, "email", true, false, &email, resp) ||
        !rest_json_string(body, "password", true, false, &password, resp)) {
        goto cleanup;
    }
    if (rest_auth_check_register(username, email, password, msg, sizeof(msg)) != NULL) {
        rest_response_error(resp, 400, "validation_error", msg);
        goto cleanup;
    }
    if ((why = chat_password_policy_check(ctx->passwords, password)) != NULL) {
        snprintf(msg, sizeof(msg), "password: %s", why);
        rest_response_error(resp, 400, "validation_error", msg);
        goto cleanup;
    }
    if (auth__taken_in_read_model(ctx, username, email, resp)) {
        goto cleanup; /* no bcrypt, no insert for a name already taken */
    }
    rc = chat_password_hash(password, ctx->cfg->bcrypt_cost, hash, sizeof(hash));
    if (rc != CHAT_OK) {
        chat_log_error("password hashing failed", "req", req->request_id);
        rest_response_from_err(resp, CHAT_ERR_INTERNAL, NULL);
        goto cleanup;
    }
    rc = chat_users_create(ctx->db, username, email, hash, &user, &field);
    if (rc == CHAT_ERR_CONFLICT) {
        /* literal codes, so tests/static/test_error_codes.py sees every one */
        if (field == NULL) {
            field = "username or email";
            snprintf(code, sizeof(code), "%s", "conflict");
        } else if (strcmp(field, "username") == 0) {
            snprintf(code, sizeof(code), "%s", "username_taken");
        } else {
            snprintf(code, sizeof(code), "%s", "email_taken");
        }
        snprintf(msg, sizeof(msg), "%s is already taken", field);
        rest_response_error(resp, 409, code, msg);
        goto cleanup;
    }
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    chat_user_cache_registered(&ctx->store, &user);
    chat_member_cache_new_user(&ctx->store, user.id);
    chat_log_info("user registered", "user", user.id, "req", req->request_id);
    rest_response_json(resp, 201, chat_user_to_json_private(&user));

cleanup:
    explicit_bzero(hash, sizeof(hash));
    chat_user_clear(&user);
    json_decref(body);
}

/* {token, user: {id, username, email}}: new reference or NULL. */
static json_t *auth__login_json(const char *token, const chat_user_t *user)
{
    return json_pack("{s:s, s:{s:s, s:s, s:s}}", "token", token, "user", "id", user->id, "username",
                     user->username != NULL ? user->username : "", "email",
                     user->email != NULL ? user->email : "");
}

void rest_auth_login(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    json_t *body = NULL;
    const char *email = NULL;
    const char *password = NULL;
    char *token = NULL;
    chat_user_t user = {0};
    int64_t now = 0;
    chat_err_t rc;

    if (!rest_limit_login_ip(ctx, req, resp)) {
        return;
    }
    body = rest_body_object(req, resp);
    if (body == NULL || !rest_json_string(body, "email", true, false, &email, resp) ||
        !rest_json_string(body, "password", true, false, &password, resp)) {
        goto cleanup;
    }
    if (strlen(password) > AUTH__BCRYPT_MAX) {
        /* registration refuses such passwords, so none can match (bcrypt would compare
         * only its first 72 bytes): wrong credentials, as docs/openapi.yaml says */
        rest_response_error(resp, 401, "invalid_credentials", "wrong email, username or password");
        goto cleanup;
    }
    if (!rest_limit_login_account(ctx, email, resp)) {
        goto cleanup;
    }
    rc = chat_user_find_login(&ctx->store, email, &user); /* email or username */
    if (rc == CHAT_ERR_NOT_FOUND) {
        (void)chat_password_verify_dummy(password, ctx->cfg->bcrypt_cost);
        rest_response_error(resp, 401, "invalid_credentials", "wrong email, username or password");
        goto cleanup;
    }
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    /* the dummy path of unknown accounts follows the cost stored hashes really use */
    chat_password_note_stored_cost(chat_password_hash_cost(user.password_hash));
    if (user.password_hash == NULL || !chat_password_verify(password, user.password_hash)) {
        rest_response_error(resp, 401, "invalid_credentials", "wrong email, username or password");
        goto cleanup;
    }
    now = chat_clock_now_ms() / 1000;
    rc = chat_jwt_issue_session(ctx->cfg->jwt_secret, ctx->cfg->jwt_issuer, ctx->cfg->jwt_ttl_sec,
                                ctx->cfg->session_max_age_sec, user.id, user.username, now, now,
                                &token, NULL);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    snprintf(req->user.id, sizeof(req->user.id), "%s", user.id); /* for the request log */
    rest_response_json(resp, 200, auth__login_json(token, &user));

cleanup:
    free(token);
    chat_user_clear(&user);
    json_decref(body);
}

void rest_auth_refresh(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    char *token = NULL;
    chat_err_t rc;

    /* the same session: its auth_time travels on, and SESSION_MAX_AGE caps it */
    rc = chat_jwt_issue_session(ctx->cfg->jwt_secret, ctx->cfg->jwt_issuer, ctx->cfg->jwt_ttl_sec,
                                ctx->cfg->session_max_age_sec, req->user.id, req->user.username,
                                chat_clock_now_ms() / 1000, req->token.auth_time, &token, NULL);
    if (rc == CHAT_ERR_TOKEN_EXPIRED) {
        rest_response_error(resp, 401, "token_expired",
                            "the session is older than SESSION_MAX_AGE; log in again");
        return;
    }
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        return;
    }
    rest_response_json(resp, 200, json_pack("{s:s}", "token", token));
    free(token);
}

void rest_auth_logout(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    chat_err_t rc;

    if (req->token.jti[0] == '\0') {
        /* issued before tokens carried a jti: nothing to revoke it by; it lives out its
         * (at most JWT_TTL) life */
        chat_log_warn("logout of a token without jti: not revocable", "user", req->user.id, "req",
                      req->request_id);
        rest_response_json(resp, 204, NULL);
        return;
    }
    rc = chat_token_denylist_revoke(ctx->redis, req->token.jti, req->token.exp,
                                    chat_clock_now_ms() / 1000);
    if (rc != CHAT_OK) {
        /* the client must know the token still works */
        rest_response_from_err(resp, rc == CHAT_ERR_UNAVAILABLE ? rc : CHAT_ERR_INTERNAL, NULL);
        return;
    }
    chat_user_event_token_revoked(ctx->redis, req->user.id, req->token.jti);
    chat_log_info("token revoked", "user", req->user.id, "jti", req->token.jti, "req",
                  req->request_id);
    rest_response_json(resp, 204, NULL);
}

/* True when the token was logged out. While Redis cannot answer, the token is let through
 * (fail-open, like every REST path that degrades without Redis) with a warning. */
static bool auth__revoked(rest_ctx_t *ctx, const chat_jwt_claims_t *claims,
                          const rest_request_t *req)
{
    bool revoked = false;

    if (chat_token_denylist_check(ctx->redis, claims->jti, &revoked) != CHAT_OK) {
        chat_log_warn("token denylist unavailable (Redis down?): token accepted unchecked", "user",
                      claims->sub, "req", req->request_id);
        return false;
    }
    return revoked;
}

/* The token's user: its id and username (signed by us; a username never changes) once
 * the read model says the user still exists (user_exists.h: the cached document or the
 * set of all ids, O(1) in Redis), so a user whose document is not cached costs no read of
 * `users` (a scan on FerretDB). Handlers that need the rest of the document load it
 * (GET /api/users/me). When the read model cannot answer, the document is loaded. */
static chat_err_t auth__user(rest_ctx_t *ctx, const chat_jwt_claims_t *claims, chat_user_t *out)
{
    char id[1][CHAT_ID_LEN];
    chat_user_existence_t exists = CHAT_USER_UNKNOWN;

    chat_ascii_lower(claims->sub, id[0], sizeof(id[0]));
    if (ctx->store.redis != NULL) {
        chat_user_exist_many(&ctx->store, (const char(*)[CHAT_ID_LEN])id, 1, &exists, NULL);
    }
    if (exists == CHAT_USER_GONE) {
        return CHAT_ERR_NOT_FOUND;
    }
    if (exists == CHAT_USER_EXISTS) {
        memset(out, 0, sizeof(*out));
        memcpy(out->id, id[0], sizeof(out->id));
        out->username = strdup(claims->username);
        return out->username != NULL ? CHAT_OK : CHAT_ERR_NOMEM;
    }
    return chat_user_load(&ctx->store, claims->sub, false, out);
}

bool rest_auth_authenticate(rest_ctx_t *ctx, rest_request_t *req, bool api_limit,
                            rest_response_t *resp)
{
    chat_jwt_claims_t claims;
    size_t len = 0;
    const char *bearer = rest_bearer_token(req->authorization, &len);
    char *token = NULL;
    chat_err_t rc;

    if (bearer == NULL) {
        if (req->authorization == NULL || req->authorization[0] == '\0') {
            rest_response_error(resp, 401, "missing_token",
                                "authentication required: send Authorization: Bearer <token>");
        } else {
            rest_response_error(resp, 401, "invalid_token",
                                "the Authorization header must be Bearer <token>");
        }
        return false;
    }
    if (len > AUTH__TOKEN_MAX || (token = strndup(bearer, len)) == NULL) {
        rest_response_error(resp, 401, "invalid_token", "invalid token");
        return false;
    }
    memset(&claims, 0, sizeof(claims));
    rc = chat_jwt_verify(ctx->cfg->jwt_secret, ctx->cfg->jwt_issuer, token,
                         chat_clock_now_ms() / 1000, &claims);
    free(token);
    if (rc == CHAT_ERR_TOKEN_EXPIRED) {
        rest_response_error(resp, 401, "token_expired", "the token has expired; log in again");
        return false;
    }
    if (rc != CHAT_OK) {
        rest_response_error(resp, 401, "invalid_token", "invalid token");
        return false;
    }
    if (auth__revoked(ctx, &claims, req)) {
        rest_response_error(resp, 401, "invalid_token", "the token has been revoked (logged out)");
        return false;
    }
    if (api_limit && !rest_limit_api(ctx, claims.sub, resp)) {
        return false;
    }
    rc = auth__user(ctx, &claims, &req->user);
    if (rc == CHAT_ERR_NOT_FOUND) {
        rest_response_error(resp, 401, "invalid_token", "the token's user no longer exists");
        return false;
    }
    if (rc != CHAT_OK) {
        chat_user_clear(&req->user);
        memset(&req->user, 0, sizeof(req->user));
        rest_response_from_err(resp, rc, NULL);
        return false;
    }
    req->token = claims;
    req->authenticated = true;
    return true;
}
