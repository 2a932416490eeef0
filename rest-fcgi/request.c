/*
 * request.c - building a rest_request_t from FastCGI parameters and the pure parsing
 * helpers every resource uses (query parameters, integers, Bearer token, JSON body
 * fields). Wrong input is always a 400 answer, never a crash or a 500.
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on jansson and
 * chat/clock.h; makes no FastCGI calls (main.c reads the body).
 */
#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "chat/clock.h"

#define REQUEST__MAX_JSON_DEPTH 32

static const char *request__param(rest_param_fn get, void *arg, const char *name)
{
    return get(name, arg);
}

/* A client-supplied request id is reused only when it is short and harmless to log. */
static bool request__id_ok(const char *id)
{
    size_t n = 0;

    if (id == NULL) {
        return false;
    }
    for (; id[n] != '\0'; n++) {
        if (n >= REST_REQUEST_ID_LEN - 1 ||
            !(isalnum((unsigned char)id[n]) || id[n] == '-' || id[n] == '_' || id[n] == '.')) {
            return false;
        }
    }
    return n > 0;
}

static void request__make_id(char *out)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[8];

    if (getrandom(raw, sizeof(raw), GRND_NONBLOCK) != (ssize_t)sizeof(raw)) {
        uint64_t t = (uint64_t)chat_clock_now_ms() ^ ((uint64_t)chat_clock_monotonic_ms() << 20);
        memcpy(raw, &t, sizeof(raw));
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[2 * sizeof(raw)] = '\0';
}

int rest_request_init(rest_request_t *req, rest_param_fn get, void *arg)
{
    const char *v;
    int64_t n = 0;

    memset(req, 0, sizeof(*req));
    req->start_ms = chat_clock_monotonic_ms();
    v = request__param(get, arg, "REQUEST_METHOD");
    req->method = v != NULL ? v : "";
    v = request__param(get, arg, "REQUEST_URI");
    if (v == NULL) {
        v = request__param(get, arg, "SCRIPT_NAME"); /* not seen behind lighttpd */
    }
    req->path = rest_path_from_uri(v);
    if (req->path == NULL) {
        return -1;
    }
    v = request__param(get, arg, "QUERY_STRING");
    req->query = v != NULL ? v : "";
    req->authorization = request__param(get, arg, "HTTP_AUTHORIZATION");
    req->origin = request__param(get, arg, "HTTP_ORIGIN");
    v = request__param(get, arg, "REMOTE_ADDR");
    req->remote_addr = v != NULL ? v : "";
    v = request__param(get, arg, "CONTENT_LENGTH");
    if (v == NULL || v[0] == '\0') {
        req->content_length = -1;
    } else if (rest_parse_int64(v, &n) != 0 || n < 0) {
        req->content_length = -2;
    } else {
        req->content_length = n;
    }
    v = request__param(get, arg, "HTTP_X_REQUEST_ID");
    if (request__id_ok(v)) {
        snprintf(req->request_id, sizeof(req->request_id), "%s", v);
    } else {
        request__make_id(req->request_id);
    }
    return 0;
}

void rest_request_clear(rest_request_t *req)
{
    if (req == NULL) {
        return;
    }
    free(req->path);
    free(req->body);
    chat_user_clear(&req->user);
    req->path = NULL;
    req->body = NULL;
}

char *rest_path_from_uri(const char *uri)
{
    size_t n;
    char *out;

    if (uri == NULL) {
        uri = "";
    }
    /* Routes match exactly (SPEC §2 lists each path once): "/api/rooms/" and
     * "/api/auth/login#x" are other paths, answered 404, never a handler lighttpd did
     * not route to its pool (issue 10, point 9). Only the query string is cut. */
    n = strcspn(uri, "?");
    out = malloc(n + 2);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, uri, n);
    out[n] = '\0';
    if (n == 0) {
        out[0] = '/';
        out[1] = '\0';
    }
    return out;
}

static int request__hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

rest_qstatus_t rest_url_decode(const char *src, size_t len, char **out)
{
    char *dst = malloc(len + 1);
    size_t j = 0;

    *out = NULL;
    if (dst == NULL) {
        return REST_Q_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '+') {
            dst[j++] = ' ';
        } else if (src[i] == '%') {
            int hi = i + 2 < len ? request__hexval(src[i + 1]) : -1;
            int lo = i + 2 < len ? request__hexval(src[i + 2]) : -1;

            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                free(dst);
                return REST_Q_INVALID;
            }
            dst[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            dst[j++] = src[i];
        }
    }
    dst[j] = '\0';
    *out = dst;
    return REST_Q_OK;
}

rest_qstatus_t rest_query_get(const char *query, const char *name, char **out)
{
    size_t name_len = strlen(name);
    const char *p = query;

    *out = NULL;
    if (p == NULL) {
        return REST_Q_ABSENT;
    }
    while (*p != '\0') {
        size_t seg = strcspn(p, "&");
        const char *eq = memchr(p, '=', seg);
        size_t key_len = eq != NULL ? (size_t)(eq - p) : seg;
        char *key = NULL;
        rest_qstatus_t st = rest_url_decode(p, key_len, &key);

        if (st == REST_Q_OK && strlen(key) == name_len && memcmp(key, name, name_len) == 0) {
            free(key);
            if (eq == NULL) {
                return rest_url_decode("", 0, out);
            }
            return rest_url_decode(eq + 1, seg - key_len - 1, out);
        }
        free(key);
        p += seg;
        if (*p == '&') {
            p++;
        }
    }
    return REST_Q_ABSENT;
}

int rest_parse_int64(const char *s, int64_t *out)
{
    char *end = NULL;
    long long v;

    if (s == NULL || s[0] == '\0' || !(isdigit((unsigned char)s[0]) || s[0] == '-')) {
        return -1;
    }
    if (s[0] == '-' && !isdigit((unsigned char)s[1])) {
        return -1;
    }
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == NULL || *end != '\0') {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

bool rest_query_int(const rest_request_t *req, const char *name, int64_t def, int64_t min,
                    int64_t max, int64_t *out, rest_response_t *resp)
{
    char *text = NULL;
    char msg[128];
    int64_t v = 0;
    rest_qstatus_t st = rest_query_get(req->query, name, &text);

    if (st == REST_Q_ABSENT) {
        *out = def;
        return true;
    }
    if (st != REST_Q_OK || rest_parse_int64(text, &v) != 0 || v < min) {
        free(text);
        snprintf(msg, sizeof(msg), "%s must be an integer >= %lld", name, (long long)min);
        rest_response_error(resp, 400, "validation_error", msg);
        return false;
    }
    free(text);
    *out = v > max ? max : v;
    return true;
}

const char *rest_bearer_token(const char *authorization, size_t *len)
{
    const char *p = authorization;
    size_t n;

    if (p == NULL || strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t')) {
        return NULL;
    }
    p += 6;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    n = strlen(p);
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    if (n == 0) {
        return NULL;
    }
    if (len != NULL) {
        *len = n;
    }
    return p;
}

/* jansson has no depth limit of its own worth relying on for hostile input: reject
 * anything nested deeper than a request body ever needs. */
static bool request__depth_ok(const char *s, size_t len)
{
    int depth = 0;
    bool in_str = false;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > REQUEST__MAX_JSON_DEPTH) {
                return false;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return true;
}

json_t *rest_body_object(const rest_request_t *req, rest_response_t *resp)
{
    json_error_t err;
    json_t *root = NULL;
    char msg[200];

    if (req->body == NULL || req->body_len == 0) {
        rest_response_error(resp, 400, "invalid_json", "request body must be a JSON object");
        return NULL;
    }
    if (!request__depth_ok(req->body, req->body_len)) {
        rest_response_error(resp, 400, "invalid_json", "request body is nested too deeply");
        return NULL;
    }
    /* Integers past int64 are valid JSON (an unknown field may hold one, and unknown
     * fields are ignored): read them as reals instead of refusing the body. No handler
     * reads an integer field. */
    root = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL,
                      &err);
    if (root == NULL) {
        snprintf(msg, sizeof(msg), "malformed JSON at line %d column %d: %s", err.line, err.column,
                 err.text);
        rest_response_error(resp, 400, "invalid_json", msg);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        rest_response_error(resp, 400, "invalid_json", "request body must be a JSON object");
        return NULL;
    }
    return root;
}

bool rest_json_string(const json_t *obj, const char *name, bool required, bool allow_null,
                      const char **out, rest_response_t *resp)
{
    json_t *v = json_object_get(obj, name);
    char msg[128];

    *out = NULL;
    if (v == NULL || (allow_null && json_is_null(v))) {
        if (required) {
            snprintf(msg, sizeof(msg), "%s is required", name);
            rest_response_error(resp, 400, "validation_error", msg);
            return false;
        }
        return true;
    }
    if (!json_is_string(v)) {
        snprintf(msg, sizeof(msg), "%s must be a string", name);
        rest_response_error(resp, 400, "validation_error", msg);
        return false;
    }
    /* jansson refuses \u0000 without JSON_ALLOW_NUL, so strlen is the real length. */
    *out = json_string_value(v);
    return true;
}

bool rest_json_bool(const json_t *obj, const char *name, bool def, bool *out, rest_response_t *resp)
{
    json_t *v = json_object_get(obj, name);
    char msg[128];

    if (v == NULL) {
        *out = def;
        return true;
    }
    if (!json_is_boolean(v)) {
        snprintf(msg, sizeof(msg), "%s must be a boolean", name);
        rest_response_error(resp, 400, "validation_error", msg);
        return false;
    }
    *out = json_is_true(v);
    return true;
}
