/*
 * router.h - maps (method, path) onto a resource handler: the route table of SPEC §2,
 * path ids (":id" segments, 24 hex characters, else 404), 404 for unknown routes, 405
 * with Allow for a known path with another method, 204 for CORS preflights, and the
 * Bearer authentication of protected routes before their handler runs.
 * Thread: the process's only thread (FastCGI accept loop).
 */
#ifndef REST_ROUTER_H
#define REST_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "handlers.h"

typedef enum rest_route_flags {
    REST_ROUTE_PUBLIC = 0,     /* no token */
    REST_ROUTE_AUTH = 1,       /* Bearer token, per-user API rate limit */
    REST_ROUTE_AUTH_NOAPI = 3, /* Bearer token; the handler applies its own rate limit */
    REST_ROUTE_BCRYPT = 4,     /* public, hashes passwords: served only by the "auth" pool */
} rest_route_flags_t;

/** The pool lighttpd routes bcrypt requests to (CHAT_FCGI_POOL of its processes). */
#define REST_POOL_AUTH "auth"
/** The pool lighttpd routes history pages to. */
#define REST_POOL_HISTORY "history"
/** The pool lighttpd routes /health and /metrics to. */
#define REST_POOL_HEALTH "health"

typedef struct rest_route {
    const char *method;
    const char *pattern; /* "/api/rooms/:id/members/:id" */
    rest_handler_fn handler;
    rest_route_flags_t flags;
} rest_route_t;

typedef enum rest_match {
    REST_MATCH_OK = 0,
    REST_MATCH_NO_ROUTE,   /* 404 */
    REST_MATCH_BAD_METHOD, /* 405; *allow lists the methods */
    REST_MATCH_BAD_ID      /* 404: an id segment is not a 24-hex ObjectId */
} rest_match_t;

/**
 * Pure matching of one path against one pattern: true when the segments line up;
 * ":id" segments are copied (up to CHAT_ID_LEN - 1 bytes) into params and *id_ok tells
 * whether every one is a valid ObjectId.
 */
bool rest_path_match(const char *pattern, const char *path,
                     char params[REST_MAX_PARAMS][CHAT_ID_LEN], size_t *n_params, bool *id_ok);

/**
 * Finds the route for method and path in the table. On REST_MATCH_OK *route is set and
 * req->params filled (lower-cased); on REST_MATCH_BAD_METHOD allow (allow_len bytes) lists
 * the path's methods, comma separated.
 */
rest_match_t rest_router_find(const char *method, const char *path, rest_request_t *req,
                              const rest_route_t **route, char *allow, size_t allow_len);

/** Whether a process of this pool may store a message or change a membership, and so
 *  starts the write-behind collector (write_behind.h) with its sweep of the leave
 *  records: every pool but "auth" (login, register) and "health" (/health, /metrics), whose
 *  routes do neither. Pure. */
bool rest_pool_writes_behind(const char *pool);

/**
 * True when a route may run in this process's pool (pool: CHAT_FCGI_POOL, NULL when
 * unset, e.g. a process not started by lighttpd.conf): REST_ROUTE_BCRYPT routes only in
 * the "auth" pool, so a spelling lighttpd did not send there can never make another
 * pool hash passwords. Pure.
 */
bool rest_route_allowed_in_pool(const rest_route_t *route, const char *pool);

/** Whether a process of this pool serves REST_ROUTE_BCRYPT routes (the same rule): only
 *  such a process samples the stored hashes' cost and warms bcrypt at start. Pure. */
bool rest_pool_hashes_passwords(const char *pool);

/** Whether a process of this pool serves history pages (an unset pool serves everything):
 *  only such a process opens the pool with HISTORY_SCAN_TIMEOUT_MS. Pure. */
bool rest_pool_reads_history(const char *pool);

/**
 * Answers req into resp: preflight, routing, authentication, then the handler. A route
 * not allowed in ctx->pool answers 404 like an unknown path.
 */
void rest_router_dispatch(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);

#endif
