/*
 * edge.c - JSON answers for the requests lighttpd refuses before any handler runs
 * (edge.h): its server.error-handler re-dispatches them here with REDIRECT_STATUS.
 *
 * Thread: the process's only thread (FastCGI accept loop). Pure; relies on router.c's
 * route table for the 405 of a GET with a body on a route that does not take GET.
 */
#include "edge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/error.h"

#include "router.h"

int rest_edge_status(const char *redirect_status)
{
    int64_t v = 0;

    if (redirect_status == NULL || rest_parse_int64(redirect_status, &v) != 0 || v < 400 ||
        v > 599) {
        return 0;
    }
    return (int)v;
}

/* 400 and 501 (a method lighttpd does not know) on a path whose route does not take
 * GET: lighttpd refuses a GET or HEAD with a body before looking at the route, and SPEC §2
 * answers a method the route does not take with 405. */
static bool edge__method_refused(const rest_request_t *req, rest_response_t *resp)
{
    const rest_route_t *route = NULL;
    char msg[160];

    if (rest_router_find("GET", req->path, NULL, &route, resp->allow, sizeof(resp->allow)) !=
        REST_MATCH_BAD_METHOD) {
        resp->allow[0] = '\0';
        return false;
    }
    snprintf(msg, sizeof(msg), "method not allowed; use %s", resp->allow);
    rest_response_error(resp, 405, "method_not_allowed", msg);
    return true;
}

void rest_edge_answer(int status, const rest_request_t *req, rest_response_t *resp)
{
    switch (status) {
    case 400:
        if (!edge__method_refused(req, resp)) {
            rest_response_error(resp, 400, "bad_request",
                                "malformed request (URL, header or a body on GET)");
        }
        break;
    case 501:
    case 405:
        if (!edge__method_refused(req, resp)) {
            rest_response_error(resp, 404, "not_found", "no such endpoint");
        }
        break;
    case 413:
        rest_response_error(resp, 413, "payload_too_large", "request body is over 64 KiB");
        break;
    case 414:
        rest_response_error(resp, 414, "uri_too_long", "the request URL is too long");
        break;
    case 431:
        rest_response_error(resp, 431, "headers_too_large", "the request headers are too large");
        break;
    case 408:
        rest_response_error(resp, 408, "request_timeout", "the request was not sent in time");
        break;
    case 411:
        rest_response_error(resp, 411, "length_required", "a body needs a Content-Length");
        break;
    case 403:
        rest_response_error(resp, 403, "forbidden", "not allowed");
        break;
    case 404:
        rest_response_error(resp, 404, "not_found", "no such endpoint");
        break;
    case 502:
    case 503:
    case 504:
        rest_response_error(resp, 503, "service_unavailable",
                            "the server is unavailable, try again");
        break;
    default:
        if (status >= 500) {
            rest_response_error(resp, 500, "internal_error", "internal error");
        } else {
            rest_response_error(resp, 400, "bad_request", "malformed request");
        }
        break;
    }
}
