/*
 * response.h - the answer to one request (status, JSON body, extra headers) and its
 * rendering into the FastCGI responder output: Status line, JSON content type, CORS for
 * allowed origins, Retry-After, Allow, X-Request-Id. Every error body has the one shape
 * {"error": {"code": "snake_case", "message": "..."}}.
 * Runs on the process's only thread (the FastCGI accept loop); pure, no I/O.
 */
#ifndef REST_RESPONSE_H
#define REST_RESPONSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/error.h"

#define REST_CORS_METHODS "GET, POST, PATCH, DELETE, OPTIONS"
#define REST_CORS_HEADERS "Authorization, Content-Type"

typedef struct rest_response {
    int status;   /* 0 until something answered */
    json_t *body; /* owned; NULL = no body (204) */
    char *raw;    /* owned; a body already serialized (wins over body) */
    size_t raw_len;
    int64_t retry_after_sec; /* > 0 adds Retry-After */
    char allow[64];          /* non-empty: adds Allow (405) */
    bool preflight;          /* adds the CORS preflight headers */
} rest_response_t;

/** Sets status and body (takes ownership of body; NULL body on OOM gives a 500). */
void rest_response_json(rest_response_t *resp, int status, json_t *body);

/** Sets status and a body already serialized as JSON (takes ownership of body). */
void rest_response_raw_json(rest_response_t *resp, int status, char *body, size_t len);

/** Sets an error answer with the standard error shape. */
void rest_response_error(rest_response_t *resp, int status, const char *code, const char *message);

/**
 * Sets the answer for a chat_err_t from common/: NOT_FOUND 404 not_found,
 * UNAVAILABLE 503 service_unavailable, INVALID 400 validation_error, FORBIDDEN 403,
 * CONFLICT 409, NOMEM/INTERNAL 500 internal_error, ... message NULL = a default text.
 */
void rest_response_from_err(rest_response_t *resp, chat_err_t err, const char *message);

/** 429 rate_limited with Retry-After = ceil(retry_after_ms / 1000), at least 1. */
void rest_response_rate_limited(rest_response_t *resp, int64_t retry_after_ms);

/** Frees the body; accepts zeroed structs. */
void rest_response_clear(rest_response_t *resp);

/**
 * Renders headers and body for the FastCGI responder. allowed_origin is the request's
 * Origin when it is on the allow-list, else NULL (then no CORS allow headers are sent).
 * Returns a new malloc'd buffer of *len bytes, or NULL when out of memory.
 */
char *rest_response_render(const rest_response_t *resp, const char *allowed_origin,
                           const char *request_id, size_t *len);

#endif
