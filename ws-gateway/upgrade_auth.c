/*
 * upgrade_auth.c - handshake checks and JSON refusals (see header).
 *
 * Threads: loop thread. Relies on: jwt.h, config.h (origin allow-list), validate.h,
 * admission_counts.h (the sockets each user has open here).
 */
#include "upgrade_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat/clock.h"
#include "chat/error.h"
#include "chat/jwt.h"
#include "chat/log.h"
#include "chat/model.h"
#include "chat/validate.h"
#include "admission_counts.h"
#include "session.h"

#define UPGRADE__TOKEN_MAX 4096

int gw_upgrade_auth_respond_json(struct lws *wsi, unsigned int status, json_t *body)
{
    char *text = body != NULL ? chat_json_dumps(body) : NULL;
    int rc = -1;

    json_decref(body);
    if (text != NULL) {
        rc = gw_upgrade_auth_respond_text(wsi, status, "application/json", text, strlen(text));
    }
    free(text);
    return rc;
}

int gw_upgrade_auth_respond_text(struct lws *wsi, unsigned int status, const char *content_type,
                                 const char *text, size_t len)
{
    unsigned char headers[LWS_PRE + 1024];
    unsigned char *start = headers + LWS_PRE;
    unsigned char *p = start;
    unsigned char *end = headers + sizeof(headers) - 1;
    unsigned char *out = NULL;
    int n;

    /* The status line is written by hand: at FILTER_PROTOCOL_CONNECTION lws does not
     * know the request's HTTP version yet and would answer "HTTP/1.0", which strict
     * WebSocket clients reject instead of reporting the status. */
    n = snprintf((char *)p, (size_t)(end - p), "HTTP/1.1 %u %s\r\n", status,
                 chat_http_status_text((int)status));
    if (n <= 0 || n >= end - p) {
        goto cleanup;
    }
    p += n;
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)content_type, (int)strlen(content_type),
                                     &p, end) ||
        lws_add_http_header_content_length(wsi, len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                    (const unsigned char *)"close", 5, &p, end)) {
        goto cleanup;
    }
    if (status == 429 &&
        lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
                                    (const unsigned char *)"5", 1, &p, end) != 0) {
        goto cleanup;
    }
    if (lws_finalize_write_http_header(wsi, start, &p, end) != 0) {
        goto cleanup;
    }
    out = malloc(LWS_PRE + len);
    if (out == NULL) {
        goto cleanup;
    }
    memcpy(out + LWS_PRE, text, len);
    lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);

cleanup:
    free(out);
    return -1;
}

int gw_upgrade_auth_respond_error(struct lws *wsi, unsigned int status, const char *code,
                                  const char *message)
{
    return gw_upgrade_auth_respond_json(wsi, status, chat_json_error(code, message));
}

static int upgrade__refuse(gw_t *gw, struct lws *wsi, unsigned int status, const char *code,
                           const char *message)
{
    char peer[64] = "";
    char st[8];

    lws_get_peer_simple(wsi, peer, sizeof(peer));
    snprintf(st, sizeof(st), "%u", status);
    chat_log_info("upgrade refused", "gateway", gw->cfg.gateway_id, "status", st, "code", code,
                  "peer", peer);
    return gw_upgrade_auth_respond_error(wsi, status, code, message);
}

/* The token from ?token= or the Authorization header, into buf; NULL when absent. */
static const char *upgrade__token(struct lws *wsi, char *buf, int len)
{
    const char *v = lws_get_urlarg_by_name(wsi, "token=", buf, len);
    int n;

    if (v != NULL && v[0] != '\0') {
        return v;
    }
    n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n <= 0 || n >= len) {
        return NULL;
    }
    if (lws_hdr_copy(wsi, buf, len, WSI_TOKEN_HTTP_AUTHORIZATION) < 0) {
        return NULL;
    }
    if (strncasecmp(buf, "Bearer ", 7) != 0) {
        return NULL;
    }
    v = buf + 7;
    while (*v == ' ') {
        v++;
    }
    return v[0] != '\0' ? v : NULL;
}

int gw_upgrade_auth_filter(gw_t *gw, struct lws *wsi, gw_session_t *s)
{
    char uri[256];
    char origin[512];
    char *argbuf = NULL; /* lws copies whole "name=value" fragments: room for a token */
    char *token_buf = NULL;
    const char *token;
    const char *v;
    chat_jwt_claims_t claims;
    char url_room[CHAT_ID_LEN] = "";
    bool url_has_after = false;
    int64_t url_after_seq = 0;
    chat_err_t err;
    int rc = -1;

    if (gw->draining) {
        return upgrade__refuse(gw, wsi, 503, "service_unavailable",
                               "this gateway is shutting down");
    }
    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 ||
        (strcmp(uri, "/ws") != 0 && strcmp(uri, "/ws/") != 0)) {
        return upgrade__refuse(gw, wsi, 404, "not_found", "WebSocket endpoint is /ws");
    }
    if (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0) {
        if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0 ||
            !chat_config_origin_allowed(&gw->cfg, origin)) {
            return upgrade__refuse(gw, wsi, 403, "forbidden_origin",
                                   "this Origin may not open a WebSocket");
        }
    }
    token_buf = malloc(UPGRADE__TOKEN_MAX);
    if (token_buf == NULL) {
        return upgrade__refuse(gw, wsi, 500, "internal_error", "out of memory");
    }
    token = upgrade__token(wsi, token_buf, UPGRADE__TOKEN_MAX);
    if (token == NULL) {
        rc = upgrade__refuse(gw, wsi, 401, "missing_token",
                             "a token is required (?token= or Authorization: Bearer)");
        goto cleanup;
    }
    err = chat_jwt_verify(gw->cfg.jwt_secret, gw->cfg.jwt_issuer, token, chat_clock_now_ms() / 1000,
                          &claims);
    if (err == CHAT_ERR_TOKEN_EXPIRED) {
        rc = upgrade__refuse(gw, wsi, 401, "token_expired", "the token has expired");
        goto cleanup;
    }
    if (err != CHAT_OK) {
        rc = upgrade__refuse(gw, wsi, 401, "invalid_token", "the token is not valid");
        goto cleanup;
    }
    if (gw->cfg.max_sockets_per_user > 0 &&
        gw_admission_counts_open_here(gw->admission_counts, claims.sub) >=
            (uint32_t)gw->cfg.max_sockets_per_user) {
        rc = upgrade__refuse(gw, wsi, 429, "too_many_connections",
                             "too many open connections for this user");
        goto cleanup;
    }

    gw_session_reset(s);
    argbuf = malloc(UPGRADE__TOKEN_MAX);
    if (argbuf == NULL) {
        rc = upgrade__refuse(gw, wsi, 500, "internal_error", "out of memory");
        goto cleanup;
    }
    v = lws_get_urlarg_by_name(wsi, "room_id=", argbuf, UPGRADE__TOKEN_MAX);
    if (v != NULL) {
        if (!chat_validate_object_id(v)) {
            rc = upgrade__refuse(gw, wsi, 400, "validation_error", "room_id is not a valid id");
            goto cleanup;
        }
        snprintf(url_room, sizeof(url_room), "%s", v);
    }
    v = lws_get_urlarg_by_name(wsi, "after_seq=", argbuf, UPGRADE__TOKEN_MAX);
    if (v != NULL) {
        char *endp = NULL;
        long long n;
        errno = 0;
        n = strtoll(v, &endp, 10);
        if (v[0] == '\0' || *endp != '\0' || errno != 0 || n < 0) {
            rc = upgrade__refuse(gw, wsi, 400, "validation_error",
                                 "after_seq must be a non-negative integer");
            goto cleanup;
        }
        url_has_after = true;
        url_after_seq = n;
    }
    gw_session_set_url_resume(s, url_room, url_has_after, url_after_seq);
    gw_session_set_identity(s, wsi, &claims);
    rc = 0;

cleanup:
    free(argbuf);
    free(token_buf);
    return rc;
}
