/*
 * users.c - the /api/users resource: the caller's own profile (GET/PATCH
 * /api/users/me), another user's public profile with presence (GET /api/users/{id}),
 * and username prefix search (GET /api/users?q=&limit=) that the web client uses to
 * start direct messages.
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on
 * chat/users_repo.h, chat/presence.h (Redis down = everyone offline), chat/validate.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/presence.h"
#include "chat/user_cache.h"
#include "chat/users_repo.h"
#include "chat/validate.h"

#include "handlers.h"

#define USERS__SEARCH_DEFAULT 20
#define USERS__SEARCH_MAX 50
#define USERS__PREFIX_MAX 64

/**
 * Pure check of a profile patch: each field is NULL (leave as is) or the new value ("" =
 * clear). Returns NULL when valid, else a message naming the field in msg.
 */
const char *rest_users_check_patch(const char *display_name, const char *avatar_url, char *msg,
                                   size_t msglen);

const char *rest_users_check_patch(const char *display_name, const char *avatar_url, char *msg,
                                   size_t msglen)
{
    const char *why;

    if (display_name != NULL && (why = chat_validate_display_name(display_name)) != NULL) {
        snprintf(msg, msglen, "display_name: %s", why);
        return msg;
    }
    if (avatar_url != NULL && (why = chat_validate_avatar_url(avatar_url)) != NULL) {
        snprintf(msg, msglen, "avatar_url: %s", why);
        return msg;
    }
    return NULL;
}

void rest_users_get_me(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    chat_user_t me = {0};
    chat_err_t rc = chat_user_load(&ctx->store, req->user.id, false, &me);

    /* authentication filled only id and username: the profile is the whole document */
    if (rc == CHAT_ERR_NOT_FOUND) {
        rest_response_error(resp, 401, "invalid_token", "the token's user no longer exists");
    } else if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
    } else {
        rest_response_json(resp, 200, chat_user_to_json_private(&me));
    }
    chat_user_clear(&me);
}

/* A profile field of the patch: absent = leave, null = clear (""), string = set. */
static bool users__patch_field(const json_t *body, const char *name, const char **out,
                               rest_response_t *resp)
{
    const json_t *v = json_object_get(body, name);

    if (v != NULL && json_is_null(v)) {
        *out = "";
        return true;
    }
    return rest_json_string(body, name, false, false, out, resp);
}

void rest_users_patch_me(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    json_t *body = rest_body_object(req, resp);
    const char *display_name = NULL;
    const char *avatar_url = NULL;
    chat_user_t updated = {0};
    char msg[200];
    chat_err_t rc;

    if (body == NULL || !users__patch_field(body, "display_name", &display_name, resp) ||
        !users__patch_field(body, "avatar_url", &avatar_url, resp)) {
        goto cleanup;
    }
    if (rest_users_check_patch(display_name, avatar_url, msg, sizeof(msg)) != NULL) {
        rest_response_error(resp, 400, "validation_error", msg);
        goto cleanup;
    }
    rc = chat_users_update_profile(ctx->db, req->user.id, display_name, avatar_url, &updated);
    if (rc == CHAT_ERR_NOT_FOUND) {
        rest_response_error(resp, 401, "invalid_token", "the token's user no longer exists");
        goto cleanup;
    }
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    chat_user_cache_drop(&ctx->store, req->user.id);
    rest_response_json(resp, 200, chat_user_to_json_private(&updated));

cleanup:
    chat_user_clear(&updated);
    json_decref(body);
}

void rest_users_get(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    chat_user_t user = {0};
    bool online;
    chat_err_t rc = chat_user_load(&ctx->store, req->params[0], false, &user);

    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, rc == CHAT_ERR_NOT_FOUND ? "no such user" : NULL);
        chat_user_clear(&user);
        return;
    }
    online = chat_presence_is_online(ctx->redis, user.id, chat_clock_now_ms());
    rest_response_json(resp, 200, chat_user_to_json_public(&user, online));
    chat_user_clear(&user);
}

/**
 * Pure check of a search prefix as docs/openapi.yaml states it: valid UTF-8, at most
 * USERS__PREFIX_MAX characters, no control characters. NULL or the reason (400).
 */
const char *rest_users_check_prefix(const char *q);

const char *rest_users_check_prefix(const char *q)
{
    long chars = chat_utf8_length(q, strlen(q));

    if (chars < 0) {
        return "q must be valid UTF-8";
    }
    if (chars > USERS__PREFIX_MAX) {
        return "q must be at most 64 characters";
    }
    for (const unsigned char *p = (const unsigned char *)q; *p != '\0'; p++) {
        /* C0 and DEL; C1 controls are two bytes, 0xC2 0x80..0x9F */
        if (*p < 0x20 || *p == 0x7F || (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F)) {
            return "q must not contain control characters";
        }
    }
    return NULL;
}

void rest_users_search(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    const char *why = NULL;
    char *q = NULL;
    int64_t limit = USERS__SEARCH_DEFAULT;
    chat_user_t *found = NULL;
    size_t n = 0;
    json_t *list = NULL;
    int64_t now = chat_clock_now_ms();
    chat_err_t rc;
    rest_qstatus_t st = rest_query_get(req->query, "q", &q);

    if (st != REST_Q_OK) {
        rest_response_error(resp, 400, "validation_error",
                            st == REST_Q_ABSENT ? "q (a username prefix) is required"
                                                : "q is not valid URL encoding");
        goto cleanup;
    }
    if ((why = rest_users_check_prefix(q)) != NULL) {
        rest_response_error(resp, 400, "validation_error", why);
        goto cleanup;
    }
    if (!rest_query_int(req, "limit", USERS__SEARCH_DEFAULT, 1, USERS__SEARCH_MAX, &limit, resp)) {
        goto cleanup;
    }
    list = json_array();
    if (list == NULL) {
        rest_response_from_err(resp, CHAT_ERR_NOMEM, NULL);
        goto cleanup;
    }
    /* An empty or impossible prefix matches nobody: no need to ask MongoDB. */
    if (q[0] != '\0') {
        rc = chat_user_search(&ctx->store, q, (int)limit, &found, &n);
        if (rc != CHAT_OK) {
            rest_response_from_err(resp, rc, NULL);
            goto cleanup;
        }
    }
    for (size_t i = 0; i < n; i++) {
        bool online = chat_presence_is_online(ctx->redis, found[i].id, now);
        if (json_array_append_new(list, chat_user_to_json_public(&found[i], online)) != 0) {
            rest_response_from_err(resp, CHAT_ERR_NOMEM, NULL);
            goto cleanup;
        }
    }
    rest_response_json(resp, 200, json_pack("{s:O}", "users", list));

cleanup:
    json_decref(list);
    chat_users_free_array(found, n);
    free(q);
}
