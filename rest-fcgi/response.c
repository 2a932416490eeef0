/*
 * response.c - error answers in the one shape of SPEC §2 and the rendering of a
 * response into FastCGI responder output (Status, headers, JSON body).
 *
 * Thread: the process's only thread (FastCGI accept loop). Pure; relies on jansson and
 * chat/model.h's chat_json_error / chat_json_dumps.
 */
#include "response.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/error.h"
#include "chat/model.h"

/* Sent when even the error body cannot be built (out of memory). */
static const char response__oom_body[] =
    "{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}";

void rest_response_json(rest_response_t *resp, int status, json_t *body)
{
    json_decref(resp->body);
    free(resp->raw);
    resp->raw = NULL;
    resp->raw_len = 0;
    resp->body = body;
    resp->status = body != NULL || status == 204 ? status : 500;
}

void rest_response_raw_json(rest_response_t *resp, int status, char *body, size_t len)
{
    json_decref(resp->body);
    resp->body = NULL;
    free(resp->raw);
    resp->status = status;
    resp->raw = body;
    resp->raw_len = len;
}

void rest_response_error(rest_response_t *resp, int status, const char *code, const char *message)
{
    rest_response_json(resp, status, chat_json_error(code, message));
    resp->status = status; /* a NULL body (OOM) is rendered as the static error */
}

void rest_response_from_err(rest_response_t *resp, chat_err_t err, const char *message)
{
    /* status and code come from the one table in common/ (chat/error.h), which the
     * gateway uses too; only the default texts are REST's own */
    switch (err) {
    case CHAT_OK:
        rest_response_error(resp, 500, "internal_error", "unexpected success");
        return;
    case CHAT_ERR_RATE_LIMITED:
        rest_response_rate_limited(resp, 1000);
        return;
    case CHAT_ERR_UNAVAILABLE:
        message = message ? message : "the database is unavailable, try again";
        break;
    case CHAT_ERR_UNAUTHORIZED:
        message = message ? message : "authentication required";
        break;
    case CHAT_ERR_TOO_LARGE:
        message = message ? message : "request body too large";
        break;
    case CHAT_ERR_NOMEM:
    case CHAT_ERR_INTERNAL:
        message = "internal error"; /* never a detail of a bug */
        break;
    default:
        break;
    }
    rest_response_error(resp, chat_err_http_status(err), chat_err_code(err),
                        message ? message : chat_strerror(err));
}

void rest_response_rate_limited(rest_response_t *resp, int64_t retry_after_ms)
{
    int64_t secs = retry_after_ms <= 0 ? 1 : (retry_after_ms + 999) / 1000;

    rest_response_error(resp, 429, "rate_limited", "too many requests, slow down");
    resp->retry_after_sec = secs < 1 ? 1 : secs;
}

void rest_response_clear(rest_response_t *resp)
{
    if (resp == NULL) {
        return;
    }
    json_decref(resp->body);
    resp->body = NULL;
    free(resp->raw);
    resp->raw = NULL;
    resp->raw_len = 0;
}

/* Appends printf output to a growing buffer; returns -1 on OOM. */
static int response__append(char **buf, size_t *len, size_t *cap, const char *text, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t want = (*cap == 0 ? 512 : *cap);
        char *grown;

        while (want < *len + n + 1) {
            want *= 2;
        }
        grown = realloc(*buf, want);
        if (grown == NULL) {
            return -1;
        }
        *buf = grown;
        *cap = want;
    }
    memcpy(*buf + *len, text, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

char *rest_response_render(const rest_response_t *resp, const char *allowed_origin,
                           const char *request_id, size_t *len)
{
    char head[1024];
    char *body = NULL;
    const char *body_text = NULL;
    size_t body_len = 0;
    char *out = NULL;
    size_t out_len = 0;
    size_t cap = 0;
    int status = resp->status > 0 ? resp->status : 500;
    int n;

    if (status != 204 && resp->raw != NULL) {
        body_text = resp->raw;
        body_len = resp->raw_len;
    } else if (status != 204) {
        body = resp->body != NULL ? chat_json_dumps(resp->body) : NULL;
        body_text = body != NULL ? body : response__oom_body;
        body_len = strlen(body_text);
    }
    n = snprintf(head, sizeof(head),
                 "Status: %d %s\r\n"
                 "Cache-Control: no-store\r\n"
                 "X-Request-Id: %s\r\n"
                 "Vary: Origin\r\n",
                 status, chat_http_status_text(status), request_id != NULL ? request_id : "-");
    if (n < 0 || (size_t)n >= sizeof(head) ||
        response__append(&out, &out_len, &cap, head, (size_t)n) != 0) {
        goto fail;
    }
    if (allowed_origin != NULL && strpbrk(allowed_origin, "\r\n") == NULL) {
        n = snprintf(head, sizeof(head),
                     "Access-Control-Allow-Origin: %s\r\n"
                     "Access-Control-Allow-Credentials: true\r\n"
                     "Access-Control-Expose-Headers: Retry-After, X-Request-Id\r\n",
                     allowed_origin);
        if (n < 0 || (size_t)n >= sizeof(head) ||
            response__append(&out, &out_len, &cap, head, (size_t)n) != 0) {
            goto fail;
        }
        if (resp->preflight) {
            static const char pre[] = "Access-Control-Allow-Methods: " REST_CORS_METHODS "\r\n"
                                      "Access-Control-Allow-Headers: " REST_CORS_HEADERS "\r\n"
                                      "Access-Control-Max-Age: 600\r\n";
            if (response__append(&out, &out_len, &cap, pre, sizeof(pre) - 1) != 0) {
                goto fail;
            }
        }
    }
    if (resp->retry_after_sec > 0) {
        n = snprintf(head, sizeof(head), "Retry-After: %lld\r\n", (long long)resp->retry_after_sec);
        if (response__append(&out, &out_len, &cap, head, (size_t)n) != 0) {
            goto fail;
        }
    }
    if (resp->allow[0] != '\0' && strpbrk(resp->allow, "\r\n") == NULL) {
        n = snprintf(head, sizeof(head), "Allow: %s\r\n", resp->allow);
        if (n < 0 || (size_t)n >= sizeof(head) ||
            response__append(&out, &out_len, &cap, head, (size_t)n) != 0) {
            goto fail;
        }
    }
    if (status == 204) {
        n = snprintf(head, sizeof(head), "\r\n");
    } else {
        n = snprintf(head, sizeof(head),
                     "Content-Type: application/json; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     body_len);
    }
    if (response__append(&out, &out_len, &cap, head, (size_t)n) != 0 ||
        (body_text != NULL && response__append(&out, &out_len, &cap, body_text, body_len) != 0)) {
        goto fail;
    }
    free(body);
    *len = out_len;
    return out;

fail:
    free(body);
    free(out);
    *len = 0;
    return NULL;
}
