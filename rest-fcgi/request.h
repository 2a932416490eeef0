/*
 * request.h - one HTTP request as rest-fcgi sees it (FastCGI params, body, path ids,
 * the authenticated caller) and the pure parsing helpers: path from REQUEST_URI,
 * URL-decoded query parameters, strict integers, Bearer tokens, JSON bodies.
 * Runs on the process's only thread (the FastCGI accept loop). No FastCGI calls here,
 * so the unit tests can include request.c directly.
 */
#ifndef REST_REQUEST_H
#define REST_REQUEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/jwt.h"
#include "chat/model.h"

#include "response.h"

#define REST_MAX_PARAMS 2
#define REST_REQUEST_ID_LEN 33 /* up to 32 characters + NUL */

/** Reads one CGI/FastCGI parameter by name; NULL when absent. */
typedef const char *(*rest_param_fn)(const char *name, void *arg);

typedef struct rest_request {
    const char *method;        /* REQUEST_METHOD, borrowed ("" when absent) */
    char *path;                /* path part of REQUEST_URI (no query), owned */
    const char *query;         /* QUERY_STRING, borrowed ("" when absent) */
    const char *authorization; /* HTTP_AUTHORIZATION, borrowed, may be NULL */
    const char *origin;        /* HTTP_ORIGIN, borrowed, may be NULL */
    const char *remote_addr;   /* REMOTE_ADDR, borrowed ("" when absent) */
    int64_t content_length;    /* -1 when absent, -2 when not a number */
    char *body;                /* owned, NUL-terminated; NULL when there is none */
    size_t body_len;
    char request_id[REST_REQUEST_ID_LEN];
    char params[REST_MAX_PARAMS][CHAT_ID_LEN]; /* ids from the path, lower-cased */
    size_t n_params;
    bool authenticated;
    chat_user_t user;        /* the caller once authenticated (owned) */
    chat_jwt_claims_t token; /* the caller's verified token claims once authenticated */
    int64_t start_ms;        /* monotonic clock at arrival */
} rest_request_t;

/**
 * Fills req from the parameters get() returns (borrowed strings must outlive req).
 * The request id is taken from X-Request-Id when it is short and plain, else made up.
 * Returns 0, or -1 when out of memory.
 */
int rest_request_init(rest_request_t *req, rest_param_fn get, void *arg);

/** Frees what req owns; accepts zeroed structs. */
void rest_request_clear(rest_request_t *req);

/**
 * Path part of a request URI (everything before '?', kept byte for byte: no trailing
 * '/' is dropped, so routes match exactly), "/" for NULL or "": a new malloc'd string
 * (NULL on OOM).
 */
char *rest_path_from_uri(const char *uri);

typedef enum rest_qstatus { REST_Q_ABSENT = 0, REST_Q_OK, REST_Q_INVALID } rest_qstatus_t;

/**
 * Decodes percent-escapes and '+' of src[0..len) into a new malloc'd string (*out).
 * A broken escape or an encoded NUL gives REST_Q_INVALID (and *out = NULL).
 */
rest_qstatus_t rest_url_decode(const char *src, size_t len, char **out);

/**
 * The URL-decoded value of the first query parameter called name (*out, malloc'd, the
 * caller frees). REST_Q_ABSENT when there is none (then *out = NULL).
 */
rest_qstatus_t rest_query_get(const char *query, const char *name, char **out);

/** Strict base-10 integer (optional '-', no spaces, no trailing text). 0 or -1. */
int rest_parse_int64(const char *s, int64_t *out);

/**
 * Integer query parameter name: def when absent; 400 (filled into resp, returns false)
 * when it is not a number or below min; values above max are clamped to max.
 */
bool rest_query_int(const rest_request_t *req, const char *name, int64_t def, int64_t min,
                    int64_t max, int64_t *out, rest_response_t *resp);

/** The token of "Bearer <token>" (scheme case-insensitive), borrowed; NULL otherwise. */
const char *rest_bearer_token(const char *authorization, size_t *len);

/** The body as a JSON object (new reference), or NULL with a 400 in resp. */
json_t *rest_body_object(const rest_request_t *req, rest_response_t *resp);

/**
 * Reads string field name of obj into *out (borrowed from obj). Absent: *out = NULL,
 * and when required a 400 is filled in and false returned. null counts as absent when
 * allow_null. Any other type: 400, false.
 */
bool rest_json_string(const json_t *obj, const char *name, bool required, bool allow_null,
                      const char **out, rest_response_t *resp);

/** Boolean field: def when absent; a non-boolean is a 400 (false returned). */
bool rest_json_bool(const json_t *obj, const char *name, bool def, bool *out,
                    rest_response_t *resp);

#endif
