/*
 * listener.h - the gateway's own listening socket, with SO_REUSEPORT so that several
 * gateway processes can share one GATEWAY_PORT (the kernel spreads connections over
 * them). libwebsockets 4.1.6 sets only SO_REUSEADDR on Linux (its
 * LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE matters on Windows), so the gateway accepts
 * here and hands each connection to lws with lws_adopt_socket_vhost(), which serves
 * it exactly as if lws had accepted it (HTTP, then the WebSocket upgrade).
 *
 * Threads: loop thread (a uv_poll_t on the listening socket).
 */
#ifndef GW_LISTENER_H
#define GW_LISTENER_H

#include <libwebsockets.h>

#include "gateway.h"

typedef struct gw_listener gw_listener_t;

/** Binds cfg.gateway_host:cfg.gateway_port and starts accepting into vh. NULL (logged)
 *  when the address cannot be bound. */
gw_listener_t *gw_listener_start(gw_t *gw, struct lws_vhost *vh);
/** Stops accepting and closes the socket; the struct is freed after the loop closes
 *  its handle. Accepts NULL. */
void gw_listener_stop(gw_listener_t *l);

#endif
