/*
 * edge.h - the JSON answer for requests lighttpd refused itself (a body over 64 KiB, a
 * GET with a body, a malformed URL or header, an unknown method). lighttpd.conf's
 * server.error-handler sends those here with REDIRECT_STATUS set to its own status, the
 * method turned into GET and the body dropped; chat-api answers in SPEC §2's error shape
 * instead of lighttpd's HTML page, and runs no handler for them.
 * Thread: the process's only thread (FastCGI accept loop); pure, no I/O.
 */
#ifndef REST_EDGE_H
#define REST_EDGE_H

#include <stdbool.h>

#include "request.h"
#include "response.h"

/**
 * The status lighttpd refused the request with, from REDIRECT_STATUS (NULL when absent);
 * 0 for an ordinary request (lighttpd sets "200" then).
 */
int rest_edge_status(const char *redirect_status);

/**
 * Answers a request lighttpd refused with status (>= 400) into resp: 413
 * payload_too_large, 400 bad_request, 405 method_not_allowed (with Allow) when the
 * path is a route that does not take GET (lighttpd refuses a GET with a body before any
 * method check), 414 / 431 / 408 / 411 / 417 in their own codes, 5xx as
 * service_unavailable or internal_error. req->path is the original path.
 */
void rest_edge_answer(int status, const rest_request_t *req, rest_response_t *resp);

#endif
