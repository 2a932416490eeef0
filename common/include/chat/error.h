/*
 * error.h - the one error enum shared by every module of common/, rest-fcgi and
 * ws-gateway, plus its text and HTTP mapping, and the one vocabulary of wire error
 * codes: every `code` a REST error body, a gateway HTTP refusal or a gateway error frame
 * may carry is in chat_wire_codes() (error.c), and docs/openapi.yaml's Error schema
 * lists the same codes (tests/static/test_error_codes.py checks all three agree).
 * Pure functions; any thread.
 */
#ifndef CHAT_ERROR_H
#define CHAT_ERROR_H

#include <stdbool.h>
#include <stddef.h>

typedef enum chat_err {
    CHAT_OK = 0,
    CHAT_ERR_NOMEM,         /* allocation failed */
    CHAT_ERR_INVALID,       /* bad input (validation, malformed JSON, wrong type) */
    CHAT_ERR_NOT_FOUND,     /* no such document */
    CHAT_ERR_CONFLICT,      /* unique key already taken */
    CHAT_ERR_FORBIDDEN,     /* caller may not do this */
    CHAT_ERR_UNAUTHORIZED,  /* missing / bad credentials */
    CHAT_ERR_TOKEN_EXPIRED, /* JWT past exp */
    CHAT_ERR_TOKEN_INVALID, /* JWT malformed, wrong alg, bad signature, bad claims */
    CHAT_ERR_RATE_LIMITED,  /* over a rate limit */
    CHAT_ERR_UNAVAILABLE,   /* MongoDB or Redis down / timed out */
    CHAT_ERR_TOO_LARGE,     /* body or frame over the limit */
    CHAT_ERR_INTERNAL       /* bug or unexpected library failure */
} chat_err_t;

/** Static text for an error; never NULL. */
const char *chat_strerror(chat_err_t err);

/** snake_case wire code for an error ("not_found", "conflict", ...); never NULL. */
const char *chat_err_code(chat_err_t err);

/** HTTP status that SPEC §2 gives an error (400, 401, 403, 404, 409, 413, 429, 503, 500). */
int chat_err_http_status(chat_err_t err);

/** The reason phrase of an HTTP status both servers send ("Not Found"); "Unknown" for
 *  one they never send; never NULL. */
const char *chat_http_status_text(int status);

/** One wire error code: its snake_case name and the HTTP status REST answers it with
 *  (the gateway sends the same code in frames, where no status applies). */
typedef struct chat_wire_code {
    const char *code;
    int status;
} chat_wire_code_t;

/** The table of every wire error code (static, *n entries). */
const chat_wire_code_t *chat_wire_codes(size_t *n);

/** True when code is in chat_wire_codes(). */
bool chat_wire_code_known(const char *code);

#endif
