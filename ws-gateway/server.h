/*
 * server.h - the libwebsockets side: one context and vhost joined to the gateway's own
 * libuv loop (LWS_SERVER_OPTION_LIBUV + foreign_loops) and fed by listener.c, which
 * accepts on GATEWAY_HOST:GATEWAY_PORT with SO_REUSEPORT (several gateway processes may
 * share a port); the protocol table and the callback that routes lws events to the
 * session and upgrade modules. Pings after lim.ping_sec idle and hangs up after lim.idle_sec
 * (lws retry/idle policy).
 *
 * Threads: loop thread.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include "gateway.h"

/** Creates the lws context on gw->loop. 0, or -1 (logged). */
int gw_server_start(gw_t *gw);
/** Closes the listening socket; open connections stay (graceful drain). */
void gw_server_stop_listening(gw_t *gw);
/** Destroys the context. On the foreign loop this takes two calls: one that closes
 *  everything (its handles close on the next loop turns), and one after the loop has
 *  run, which frees the context and sets gw->lws to NULL. */
void gw_server_destroy(gw_t *gw);

#endif
