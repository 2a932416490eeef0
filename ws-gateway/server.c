/*
 * server.c - lws context on the foreign libuv loop and the protocol callback.
 *
 * Threads: loop thread (lws services its sockets from the libuv loop).
 * Relies on: session.h (per-connection work), upgrade_auth.h (handshake decision).
 */
#include "server.h"

#include <string.h>

#include "chat/log.h"
#include "gateway_health.h"
#include "keepalive.h"
#include "metrics_page.h"
#include "listener.h"
#include "session.h"
#include "upgrade_auth.h"

static int server__dispatch(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    gw_t *gw = ctx != NULL ? lws_context_user(ctx) : NULL;
    gw_session_t *s = user;

    if (gw == NULL) {
        return 0;
    }
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        /* a plain request to the gateway (health checks, mistakes) */
        if (in != NULL && strcmp(in, "/metrics") == 0) {
            return gw_metrics_page_respond(gw, wsi);
        }
        if (in != NULL) {
            int rc = gw_health_respond(gw, wsi, in);
            if (rc >= 0) {
                return rc;
            }
        }
        return gw_upgrade_auth_respond_error(wsi, 426, "upgrade_required",
                                             "connect with a WebSocket upgrade to /ws");
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (s == NULL) {
            return gw_upgrade_auth_respond_error(wsi, 500, "internal_error", "no session storage");
        }
        return gw_upgrade_auth_filter(gw, wsi, s);
    case LWS_CALLBACK_ESTABLISHED:
        gw_session_open(gw, s, wsi);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return gw_session_receive(s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return gw_session_writeable(s);
    case LWS_CALLBACK_RECEIVE_PONG:
        gw_keepalive_pong(s);
        return 0;
    case LWS_CALLBACK_TIMER:
        return s != NULL ? gw_session_timer(s) : 0;
    case LWS_CALLBACK_CLOSED:
        gw_session_closed(s);
        return 0;
    default:
        return 0;
    }
}

/* Every line logged while lws calls us about a socket names it ("conn"). */
static int server__callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                            size_t len)
{
    gw_session_t *s = user;
    bool scoped = s != NULL && reason != LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION &&
        gw_session_conn_key(s)[0] != '\0';
    int rc;

    if (scoped) {
        chat_log_scope_set("conn", gw_session_conn_key(s));
    }
    rc = server__dispatch(wsi, reason, user, in, len);
    if (scoped) {
        chat_log_scope_clear();
    }
    return rc;
}

/* rx_buffer_size: lws keeps one receive buffer of this size per socket for its whole
 * life (the default, 4 KiB, was most of an idle socket's memory); larger frames arrive in
 * pieces that session.c puts together. tx_packet_size: what one lws_write may send,
 * set apart so the small receive buffer does not bound it. */
#define SERVER__RX_BUFFER 1024
#define SERVER__TX_PACKET (1024 * 1024)

/* Not const: the session's size is session.c's to know (gw_server_start fills it in). */
static struct lws_protocols server__protocols[] = {
    {"chat", server__callback, 0, SERVER__RX_BUFFER, 0, NULL, SERVER__TX_PACKET},
    {NULL, NULL, 0, 0, 0, NULL, 0} /* 4.1.6 has no LWS_PROTOCOL_LIST_TERM */
};

static void server__lws_log(int level, const char *line)
{
    char msg[256];
    size_t n;

    if (strstr(line, "User code denied connection") != NULL) {
        return; /* our own refusals, already logged with their reason */
    }
    snprintf(msg, sizeof(msg), "%s", line);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    chat_log(level == LLL_ERR ? CHAT_LOG_ERROR : CHAT_LOG_WARN, msg, "source", "lws", (char *)NULL);
}

static const lws_retry_bo_t server__no_validity = {
    .secs_since_valid_ping = 0,
    .secs_since_valid_hangup = 0, /* 0: lws never arms the per-socket validity timer */
};

int gw_server_start(gw_t *gw)
{
    struct lws_context_creation_info info;
    void *loops[1] = {&gw->loop};

    lws_set_log_level(LLL_ERR | LLL_WARN, server__lws_log);

    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER; /* listener.c accepts (SO_REUSEPORT) */
    server__protocols[0].per_session_data_size = gw_session_size();
    info.protocols = server__protocols;
    info.vhost_name = "chat-gateway";
    info.server_string = "chat-gateway";
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE |
        LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_UV_NO_SIGSEGV_SIGFPE_SPIN;
    info.foreign_loops = loops;
    info.pcontext = &gw->lws; /* lws clears it once the context is completely gone */
    info.user = gw;
    /* A policy with no validity checks at all: without one lws applies its default
     * (a ping/hangup timer per socket, re-armed on every frame received, in one sorted
     * list that each re-arm walks: 70% of an idle gateway's CPU at 15,000 sockets).
     * main.c's tick pings and reaps instead (keepalive.c). */
    info.retry_and_idle_policy = &server__no_validity;
    info.timeout_secs = 10;
    info.max_http_header_pool = 256;

    gw->lws = lws_create_context(&info);
    if (gw->lws == NULL) {
        chat_log_error("cannot start libwebsockets", "gateway", gw->cfg.gateway_id);
        return -1;
    }
    gw->listener = gw_listener_start(gw, lws_get_vhost_by_name(gw->lws, info.vhost_name));
    return gw->listener != NULL ? 0 : -1;
}

void gw_server_stop_listening(gw_t *gw)
{
    gw_listener_stop(gw->listener);
    gw->listener = NULL;
}

void gw_server_destroy(gw_t *gw)
{
    /* On a foreign loop the first call closes connections and lws's handles; the
     * context is freed by a later call once the loop has run those closes. */
    gw_server_stop_listening(gw);
    if (gw->lws != NULL) {
        lws_context_destroy(gw->lws);
    }
}
