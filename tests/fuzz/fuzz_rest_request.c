/*
 * fuzz_rest_request.c - libFuzzer harness of rest-fcgi's request side: the FastCGI
 * parameters of one request (method, REQUEST_URI, QUERY_STRING, Authorization,
 * X-Request-Id, CONTENT_LENGTH) and its body, through rest_request_init, the body
 * checks main.c makes, the route table (rest_router_find), the query parameters every
 * resource reads, the Bearer token, the JSON body and its fields with the validators the
 * handlers apply, and finally the rendering of the response.
 * Input: the six parameters separated by '\n', then the body (the rest of the input).
 * Checks, beyond ASan/UBSan: every answer is a known status with a JSON body that
 * renders; matched path ids are canonical.
 *
 * Thread: libFuzzer's (single-threaded); no network, no database.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "chat/error.h"
#include "chat/validate.h"
#include "../../rest-fcgi/request.h"
#include "../../rest-fcgi/response.h"
#include "../../rest-fcgi/router.h"

enum { F_METHOD, F_URI, F_QUERY, F_AUTH, F_REQID, F_CLEN, F_COUNT };

typedef struct fuzz_params {
    char *field[F_COUNT]; /* NULL = parameter absent */
} fuzz_params_t;

static const char *fuzz__get(const char *name, void *arg)
{
    const fuzz_params_t *p = arg;
    static const char *names[F_COUNT] = {"REQUEST_METHOD",    "REQUEST_URI",
                                         "QUERY_STRING",      "HTTP_AUTHORIZATION",
                                         "HTTP_X_REQUEST_ID", "CONTENT_LENGTH"};

    for (int i = 0; i < F_COUNT; i++) {
        if (strcmp(name, names[i]) == 0) {
            return p->field[i];
        }
    }
    return NULL;
}

/* A string field of the body and the validator its handler applies (NULL: an id). */
static const struct {
    const char *name;
    const char *(*check)(const char *s);
} fuzz__fields[] = {
    {"username", chat_validate_username},       {"email", chat_validate_email},
    {"password", chat_validate_password},       {"name", chat_validate_room_name},
    {"description", chat_validate_description}, {"display_name", chat_validate_display_name},
    {"avatar_url", chat_validate_avatar_url},   {"user_id", NULL},
};

static void fuzz__response(rest_response_t *resp, const rest_request_t *req)
{
    size_t len = 0;
    char *out = NULL;

    if (resp->status == 0) {
        return;
    }
    FUZZ_CHECK(resp->status >= 200 && resp->status <= 599);
    FUZZ_CHECK(strcmp(chat_http_status_text(resp->status), "") != 0);
    out = rest_response_render(resp, "http://localhost:5173", req->request_id, &len);
    FUZZ_CHECK(out != NULL && len == strlen(out));
    FUZZ_CHECK(strncmp(out, "Status: ", 8) == 0);
    free(out);
    rest_response_clear(resp);
    memset(resp, 0, sizeof(*resp));
}

/* The body checks main__read_body makes before any handler (413 / 400). */
static bool fuzz__body(rest_request_t *req, const uint8_t *data, size_t size, rest_response_t *resp)
{
    if (req->content_length == -2) {
        rest_response_error(resp, 400, "bad_request", "invalid Content-Length");
        return false;
    }
    if (req->content_length > CHAT_BODY_MAX_BYTES || size > CHAT_BODY_MAX_BYTES) {
        rest_response_error(resp, 413, "payload_too_large", "request body is over 64 KiB");
        return false;
    }
    if (req->content_length == 0 || size == 0) {
        return true;
    }
    if (req->content_length > 0 && (size_t)req->content_length < size) {
        size = (size_t)req->content_length;
    }
    req->body = malloc(size + 1);
    FUZZ_CHECK(req->body != NULL);
    memcpy(req->body, data, size);
    req->body[size] = '\0';
    req->body_len = size;
    return true;
}

static void fuzz__handlers(rest_request_t *req, rest_response_t *resp)
{
    static const char *ints[] = {"limit", "offset", "before_seq", "after_seq"};
    char *q = NULL;
    int64_t v = 0;
    size_t tok_len = 0;
    const char *tok = rest_bearer_token(req->authorization, &tok_len);
    json_t *body = NULL;

    FUZZ_CHECK(tok == NULL || (tok_len > 0 && tok_len <= strlen(tok)));
    if (rest_query_get(req->query, "q", &q) == REST_Q_OK) {
        FUZZ_CHECK(q != NULL);
        (void)chat_utf8_length(q, strlen(q));
    }
    free(q);
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (rest_query_int(req, ints[i], -1, 0, INT64_MAX / 2, &v, resp)) {
            FUZZ_CHECK(v == -1 || (v >= 0 && v <= INT64_MAX / 2));
        }
        fuzz__response(resp, req);
    }
    body = rest_body_object(req, resp);
    fuzz__response(resp, req);
    if (body == NULL) {
        return;
    }
    for (size_t i = 0; i < sizeof(fuzz__fields) / sizeof(fuzz__fields[0]); i++) {
        const char *s = NULL;

        if (rest_json_string(body, fuzz__fields[i].name, i % 2 == 0, i % 3 == 0, &s, resp) &&
            s != NULL) {
            if (fuzz__fields[i].check != NULL) {
                (void)fuzz__fields[i].check(s);
            } else {
                (void)chat_validate_object_id(s);
            }
        }
        fuzz__response(resp, req);
    }
    {
        bool b = false;
        (void)rest_json_bool(body, "is_private", false, &b, resp);
        fuzz__response(resp, req);
    }
    json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_params_t p;
    rest_request_t req;
    rest_response_t resp;
    const rest_route_t *route = NULL;
    char allow[64];
    size_t at = 0;

    memset(&p, 0, sizeof(p));
    memset(&resp, 0, sizeof(resp));
    for (int i = 0; i < F_COUNT; i++) {
        const uint8_t *nl = at < size ? memchr(data + at, '\n', size - at) : NULL;
        size_t n = nl != NULL ? (size_t)(nl - (data + at)) : size - at;

        /* a lone "\x01" stands for an absent parameter */
        if (!(n == 1 && data[at] == 1)) {
            p.field[i] = strndup((const char *)data + at, n);
            FUZZ_CHECK(p.field[i] != NULL);
        }
        at += n + (nl != NULL ? 1 : 0);
    }
    FUZZ_CHECK(rest_request_init(&req, fuzz__get, &p) == 0);
    FUZZ_CHECK(req.path != NULL && req.path[0] != '\0');
    if (fuzz__body(&req, data + at, size - at, &resp)) {
        rest_match_t m = rest_router_find(req.method, req.path, &req, &route, allow, sizeof(allow));
        if (m == REST_MATCH_OK) {
            FUZZ_CHECK(route != NULL);
            for (size_t i = 0; i < req.n_params; i++) {
                FUZZ_CHECK(chat_validate_object_id(req.params[i]));
            }
        }
        fuzz__handlers(&req, &resp);
    }
    fuzz__response(&resp, &req);
    rest_request_clear(&req);
    for (int i = 0; i < F_COUNT; i++) {
        free(p.field[i]);
    }
    return 0;
}
