/*
 * gateway_health.h - what the gateway's own HTTP endpoints say about it:
 *   GET /health  readiness, the meaning REST's /health has: 200 while Redis answers and
 *                MongoDB answered a ping within the last few seconds and the gateway is
 *                not draining, else 503 with which part is down;
 *   GET /livez   liveness: 200 whenever the event loop answers at all (a database
 *                outage must not make an orchestrator restart healthy gateways).
 * MongoDB is pinged once a second on a read worker (never on the loop).
 *
 * Threads: loop thread; the ping job's run() on a worker.
 */
#ifndef GW_GATEWAY_HEALTH_H
#define GW_GATEWAY_HEALTH_H

#include <libwebsockets.h>
#include <stdbool.h>

#include "gateway.h"

typedef struct gw_health gw_health_t;

gw_health_t *gw_health_create(gw_t *gw);
/** Stops the timer; frees once the timer handle is closed and no ping is in flight. */
void gw_health_destroy(gw_health_t *h);

/** True while MongoDB answered a ping recently. */
bool gw_health_mongo_up(const gw_health_t *h);

/** Answers a plain HTTP request for path (/health or /livez); -1 when path is neither. */
int gw_health_respond(gw_t *gw, struct lws *wsi, const char *path);

#endif
