/*
 * error.c - text, wire code and HTTP status of each chat_err_t, and the table of every
 * wire error code REST and the gateway send (error.h).
 * Pure table lookups with no state: any thread.
 */
#include "chat/error.h"

#include <stddef.h>
#include <string.h>

typedef struct error__entry {
    const char *text;
    const char *code;
    int status;
} error__entry_t;

/* Indexed by chat_err_t; keep in the enum's order. */
static const error__entry_t error__table[] = {
    [CHAT_OK] = {"ok", "ok", 200},
    [CHAT_ERR_NOMEM] = {"out of memory", "internal_error", 500},
    [CHAT_ERR_INVALID] = {"invalid input", "validation_error", 400},
    [CHAT_ERR_NOT_FOUND] = {"not found", "not_found", 404},
    [CHAT_ERR_CONFLICT] = {"already exists", "conflict", 409},
    [CHAT_ERR_FORBIDDEN] = {"forbidden", "forbidden", 403},
    [CHAT_ERR_UNAUTHORIZED] = {"unauthorized", "missing_token", 401},
    [CHAT_ERR_TOKEN_EXPIRED] = {"token expired", "token_expired", 401},
    [CHAT_ERR_TOKEN_INVALID] = {"invalid token", "invalid_token", 401},
    [CHAT_ERR_RATE_LIMITED] = {"rate limited", "rate_limited", 429},
    [CHAT_ERR_UNAVAILABLE] = {"service unavailable", "service_unavailable", 503},
    [CHAT_ERR_TOO_LARGE] = {"payload too large", "payload_too_large", 413},
    [CHAT_ERR_INTERNAL] = {"internal error", "internal_error", 500},
};

/* Out-of-range values (a bug, or memory corruption) map to the internal entry. */
static const error__entry_t *error__lookup(chat_err_t err)
{
    size_t i = (size_t)err;

    if (i >= sizeof(error__table) / sizeof(error__table[0]))
        i = CHAT_ERR_INTERNAL;
    return &error__table[i];
}

const char *chat_strerror(chat_err_t err)
{
    return error__lookup(err)->text;
}

const char *chat_err_code(chat_err_t err)
{
    return error__lookup(err)->code;
}

int chat_err_http_status(chat_err_t err)
{
    return error__lookup(err)->status;
}

const char *chat_http_status_text(int status)
{
    switch (status) {
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

/* Every code on the wire, one spelling each (issue 10, point 13: the gateway used to say
 * `unavailable`, `unauthorized` and `internal` where REST said `service_unavailable`,
 * `missing_token` and `internal_error`). Keep docs/openapi.yaml's Error.code enum equal
 * to this list; tests/static/test_error_codes.py compares both with the C sources. */
static const chat_wire_code_t error__wire[] = {
    /* 400 */
    {"validation_error", 400},
    {"invalid_json", 400},
    {"bad_request", 400},
    {"invalid_message", 400}, /* gateway: a frame with a missing or wrong field */
    {"unknown_type", 400},    /* gateway: a frame type that does not exist */
    {"not_subscribed", 400},  /* gateway: typing in a room the socket does not watch */
    /* 401 */
    {"missing_token", 401},
    {"invalid_token", 401},
    {"token_expired", 401},
    {"invalid_credentials", 401},
    /* 403 */
    {"forbidden", 403},
    {"not_owner", 403},
    {"owner_cannot_leave", 403},
    {"forbidden_origin", 403}, /* gateway upgrade: Origin not on CORS_ORIGINS */
    {"not_member", 403},       /* gateway: posting to a room one is not in */
    /* 404, 405 */
    {"not_found", 404},
    {"method_not_allowed", 405},
    /* 408, 409, 411 */
    {"request_timeout", 408},
    {"conflict", 409},
    {"username_taken", 409},
    {"email_taken", 409},
    {"length_required", 411},
    /* 413, 414, 426, 429, 431 */
    {"payload_too_large", 413},
    {"uri_too_long", 414},
    {"upgrade_required", 426}, /* gateway: a plain HTTP request on the WebSocket port */
    {"rate_limited", 429},
    {"too_many_connections", 429},
    {"too_many_pending", 429}, /* gateway: too many unacknowledged messages */
    {"too_many_rooms", 429},   /* gateway: one socket watching too many rooms */
    {"headers_too_large", 431},
    /* 5xx */
    {"internal_error", 500},
    {"service_unavailable", 503},
};

const chat_wire_code_t *chat_wire_codes(size_t *n)
{
    *n = sizeof(error__wire) / sizeof(error__wire[0]);
    return error__wire;
}

bool chat_wire_code_known(const char *code)
{
    if (code == NULL)
        return false;
    for (size_t i = 0; i < sizeof(error__wire) / sizeof(error__wire[0]); i++) {
        if (strcmp(error__wire[i].code, code) == 0)
            return true;
    }
    return false;
}
