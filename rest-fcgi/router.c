/*
 * router.c - the route table of SPEC §2 and the dispatch of one request: CORS
 * preflight, route lookup (404 / 405 / bad id 404), Bearer authentication with the
 * per-user API rate limit for protected routes, then the resource handler.
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on handlers.h.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

#include "chat/log.h"
#include "chat/validate.h"

static const rest_route_t router__routes[] = {
    {"POST", "/api/auth/register", rest_auth_register, REST_ROUTE_BCRYPT},
    {"POST", "/api/auth/login", rest_auth_login, REST_ROUTE_BCRYPT},
    {"POST", "/api/auth/refresh", rest_auth_refresh, REST_ROUTE_AUTH},
    {"POST", "/api/auth/logout", rest_auth_logout, REST_ROUTE_AUTH},
    {"GET", "/api/users/me", rest_users_get_me, REST_ROUTE_AUTH},
    {"PATCH", "/api/users/me", rest_users_patch_me, REST_ROUTE_AUTH},
    {"GET", "/api/users", rest_users_search, REST_ROUTE_AUTH},
    {"GET", "/api/users/:id", rest_users_get, REST_ROUTE_AUTH},
    {"POST", "/api/rooms", rest_rooms_create, REST_ROUTE_AUTH_NOAPI},
    {"GET", "/api/rooms", rest_rooms_list, REST_ROUTE_AUTH},
    {"GET", "/api/rooms/:id", rest_rooms_get, REST_ROUTE_AUTH},
    {"POST", "/api/rooms/:id/join", rest_rooms_join, REST_ROUTE_AUTH},
    {"POST", "/api/rooms/:id/leave", rest_rooms_leave, REST_ROUTE_AUTH},
    {"GET", "/api/rooms/:id/members", rest_members_list, REST_ROUTE_AUTH},
    {"POST", "/api/rooms/:id/members", rest_members_add, REST_ROUTE_AUTH},
    {"DELETE", "/api/rooms/:id/members/:id", rest_members_remove, REST_ROUTE_AUTH},
    {"GET", "/api/rooms/:id/messages", rest_messages_history, REST_ROUTE_AUTH},
    {"POST", "/api/dms", rest_dms_open, REST_ROUTE_AUTH},
    {"GET", "/health", rest_health, REST_ROUTE_PUBLIC},
};

#define ROUTER__N_ROUTES (sizeof(router__routes) / sizeof(router__routes[0]))

bool rest_path_match(const char *pattern, const char *path,
                     char params[REST_MAX_PARAMS][CHAT_ID_LEN], size_t *n_params, bool *id_ok)
{
    const char *p = pattern;
    const char *s = path;

    *n_params = 0;
    *id_ok = true;
    while (*p != '\0' && *s != '\0') {
        size_t plen;
        size_t slen;

        if (*p != '/' || *s != '/') {
            return false;
        }
        p++;
        s++;
        plen = strcspn(p, "/");
        slen = strcspn(s, "/");
        if (plen == 3 && strncmp(p, ":id", 3) == 0) {
            char seg[CHAT_ID_LEN];

            if (slen == 0 || *n_params >= REST_MAX_PARAMS) {
                return false;
            }
            if (slen >= CHAT_ID_LEN) {
                *id_ok = false;
                seg[0] = '\0';
            } else {
                memcpy(seg, s, slen);
                seg[slen] = '\0';
                if (!chat_validate_object_id(seg)) {
                    *id_ok = false;
                }
            }
            snprintf(params[*n_params], CHAT_ID_LEN, "%s", seg);
            (*n_params)++;
        } else if (plen != slen || strncmp(p, s, plen) != 0) {
            return false;
        }
        p += plen;
        s += slen;
    }
    return *p == '\0' && *s == '\0';
}

static bool router__is_literal(const char *pattern)
{
    return strchr(pattern, ':') == NULL;
}

rest_match_t rest_router_find(const char *method, const char *path, rest_request_t *req,
                              const rest_route_t **route, char *allow, size_t allow_len)
{
    char params[REST_MAX_PARAMS][CHAT_ID_LEN];
    size_t n_params = 0;
    bool id_ok = true;
    bool any_path = false;
    bool bad_id = false;
    size_t used = 0;

    *route = NULL;
    if (allow_len > 0) {
        allow[0] = '\0';
    }
    /* Two passes: literal patterns ("/api/users/me") win over ":id" patterns. */
    for (int pass = 0; pass < 2 && !any_path; pass++) {
        for (size_t i = 0; i < ROUTER__N_ROUTES; i++) {
            const rest_route_t *r = &router__routes[i];

            if (router__is_literal(r->pattern) != (pass == 0)) {
                continue;
            }
            if (!rest_path_match(r->pattern, path, params, &n_params, &id_ok)) {
                continue;
            }
            any_path = true;
            if (used + strlen(r->method) + 3 < allow_len) {
                used += (size_t)snprintf(allow + used, allow_len - used, "%s%s",
                                         used > 0 ? ", " : "", r->method);
            }
            if (strcmp(r->method, method) == 0 && *route == NULL) {
                *route = r;
                bad_id = !id_ok;
                if (req != NULL) {
                    memcpy(req->params, params, sizeof(params));
                    req->n_params = n_params;
                }
            }
        }
    }
    if (!any_path) {
        return REST_MATCH_NO_ROUTE;
    }
    if (*route == NULL) {
        if (used + 10 < allow_len) {
            snprintf(allow + used, allow_len - used, ", OPTIONS");
        }
        return REST_MATCH_BAD_METHOD;
    }
    return bad_id ? REST_MATCH_BAD_ID : REST_MATCH_OK;
}

bool rest_pool_hashes_passwords(const char *pool)
{
    return pool == NULL || pool[0] == '\0' || strcmp(pool, REST_POOL_AUTH) == 0;
}

bool rest_pool_reads_history(const char *pool)
{
    return pool == NULL || pool[0] == '\0' || strcmp(pool, REST_POOL_HISTORY) == 0;
}

bool rest_pool_writes_behind(const char *pool)
{
    return pool == NULL ||
        (strcmp(pool, REST_POOL_AUTH) != 0 && strcmp(pool, REST_POOL_HEALTH) != 0);
}

bool rest_route_allowed_in_pool(const rest_route_t *route, const char *pool)
{
    return (route->flags & REST_ROUTE_BCRYPT) == 0 || rest_pool_hashes_passwords(pool);
}

void rest_router_dispatch(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    const rest_route_t *route = NULL;
    char msg[160];
    rest_match_t m;

    if (strcmp(req->method, "OPTIONS") == 0) {
        /* CORS preflight: never authenticated; allow headers only for allowed origins. */
        rest_response_json(resp, 204, NULL);
        resp->preflight = true;
        return;
    }
    m = rest_router_find(req->method, req->path, req, &route, resp->allow, sizeof(resp->allow));
    switch (m) {
    case REST_MATCH_NO_ROUTE:
        rest_response_error(resp, 404, "not_found", "no such endpoint");
        return;
    case REST_MATCH_BAD_METHOD:
        snprintf(msg, sizeof(msg), "method not allowed; use %s", resp->allow);
        rest_response_error(resp, 405, "method_not_allowed", msg);
        return;
    case REST_MATCH_BAD_ID:
        resp->allow[0] = '\0';
        rest_response_error(resp, 404, "not_found",
                            "no such resource (ids are 24 lower-case hex digits)");
        return;
    case REST_MATCH_OK:
        resp->allow[0] = '\0';
        break;
    }
    if (!rest_route_allowed_in_pool(route, ctx->pool)) {
        chat_log_warn("bcrypt route outside the auth pool refused", "pool", ctx->pool, "path",
                      req->path);
        rest_response_error(resp, 404, "not_found", "no such endpoint");
        return;
    }
    if ((route->flags & REST_ROUTE_AUTH) != 0 &&
        !rest_auth_authenticate(ctx, req, route->flags == REST_ROUTE_AUTH, resp)) {
        return;
    }
    route->handler(ctx, req, resp);
    if (resp->status == 0) {
        rest_response_error(resp, 500, "internal_error", "no answer");
    }
}
