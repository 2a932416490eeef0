/*
 * upgrade_auth.h - the decision on a WebSocket handshake, taken in
 * LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION before anything is upgraded: path /ws,
 * Origin on the CORS allow-list when present (a handshake without Origin is judged by
 * its token alone), a valid HS256 token from ?token= or "Authorization: Bearer", the
 * per-user socket cap, and well-formed ?room_id= / ?after_seq=. A refusal is a plain
 * HTTP response with SPEC's JSON error body: 401, 403, 400, 404, 429 or 503.
 * (LWS_CALLBACK_HTTP_CONFIRM_UPGRADE is deliberately never handled: CVE-2025-11677.)
 *
 * Threads: loop thread (JWT verification is cheap CPU work).
 */
#ifndef GW_UPGRADE_AUTH_H
#define GW_UPGRADE_AUTH_H

#include <jansson.h>
#include <libwebsockets.h>

#include "gateway.h"

/** Returns 0 to accept (s is filled with the user and URL parameters), or non-zero
 *  after writing the refusal (lws then closes the connection). */
int gw_upgrade_auth_filter(gw_t *gw, struct lws *wsi, gw_session_t *s);

/** Answers with status and body (stolen) as application/json, then the connection
 *  closes; returns -1 for the callback to return. */
int gw_upgrade_auth_respond_json(struct lws *wsi, unsigned int status, json_t *body);
/** The same for a text body of content_type (e.g. /metrics). */
int gw_upgrade_auth_respond_text(struct lws *wsi, unsigned int status, const char *content_type,
                                 const char *text, size_t len);

/** Answers a plain HTTP request with status and a JSON error body; returns -1. */
int gw_upgrade_auth_respond_error(struct lws *wsi, unsigned int status, const char *code,
                                  const char *message);

#endif
