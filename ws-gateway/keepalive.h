/*
 * keepalive.h - pings and idle reaping from the gateway's one 1 s timer (main.c), not
 * lws's per-socket validity timers, whose sorted list costs O(sockets) per re-arm: a
 * socket silent for WS_PING_SEC gets a ping, one silent for WS_IDLE_SEC is closed with
 * 1001 "idle"; any frame or pong from the peer counts as life.
 *
 * Threads: loop thread only.
 */
#ifndef GW_KEEPALIVE_H
#define GW_KEEPALIVE_H

#include <stdint.h>

#include "gateway.h"

/** From the 1 s tick: ping s if silent for ping_ms, close it if silent for idle_ms. */
void gw_keepalive_check(gw_session_t *s, int64_t now_ms, int64_t ping_ms, int64_t idle_ms);
/** The peer answered a ping (LWS_CALLBACK_RECEIVE_PONG). */
void gw_keepalive_pong(gw_session_t *s);
/** SERVER_WRITEABLE with a ping due: sends it; returns what the callback returns. */
int gw_keepalive_send_ping(gw_session_t *s);

#endif
