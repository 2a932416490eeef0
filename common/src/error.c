/*
 * error.c - text, wire code and HTTP status of each chat_err_t (error.h).
 * Pure table lookups with no state: any thread.
 */
#include "chat/error.h"

#include <stddef.h>

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
    [CHAT_ERR_UNAUTHORIZED] = {"unauthorized", "unauthorized", 401},
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
