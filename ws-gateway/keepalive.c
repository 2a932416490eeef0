/*
 * keepalive.c - pings and idle reaping of sockets (see keepalive.h).
 *
 * Threads: loop thread only.
 */
#include "keepalive.h"

#include <string.h>

#include "chat/clock.h"
#include "chat/log.h"
#include "session_internal.h"

void gw_keepalive_check(gw_session_t *s, int64_t now_ms, int64_t ping_ms, int64_t idle_ms)
{
    int64_t silent = now_ms - s->last_rx_ms;

    if (!s->established || s->closing) {
        return;
    }
    if (silent > idle_ms) {
        chat_log_info("idle connection: closing", "gateway", s->gw->cfg.gateway_id, "conn",
                      s->conn_key, "user", s->user_id);
        gw_session_close(s, LWS_CLOSE_STATUS_GOINGAWAY, "idle", false);
    } else if (silent > ping_ms && (s->ping_sent_ms == 0 || now_ms - s->ping_sent_ms > ping_ms)) {
        s->ping_sent_ms = now_ms;
        s->ping_due = true;
        lws_callback_on_writable(s->wsi);
    }
}

void gw_keepalive_pong(gw_session_t *s)
{
    if (s != NULL && s->established) {
        s->last_rx_ms = chat_clock_monotonic_ms();
        s->ping_sent_ms = 0;
    }
}

int gw_keepalive_send_ping(gw_session_t *s)
{
    /* a payload: lws 4.1 does not report an empty PONG to the protocol */
    unsigned char ping[LWS_PRE + 4] = {0};

    memcpy(ping + LWS_PRE, "chat", 4);
    s->ping_due = false;
    if (lws_write(s->wsi, ping + LWS_PRE, 4, LWS_WRITE_PING) < 0) {
        return -1;
    }
    if (s->q_len > 0) {
        lws_callback_on_writable(s->wsi);
    }
    return 0;
}
