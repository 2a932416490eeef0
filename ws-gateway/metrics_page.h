/*
 * metrics_page.h - GET /metrics of one gateway: gateway_metrics.h's counters and
 * histograms with the gauges read from the gateway's state when scraped (sockets, rooms,
 * queued frames, Redis and MongoDB up), in Prometheus text format; the names are those
 * docs/OPERATIONS.md lists and deploy/prometheus alerts on. A top-level module: it reads
 * the layers below, none of them calls it.
 *
 * Threads: loop thread.
 */
#ifndef GW_METRICS_PAGE_H
#define GW_METRICS_PAGE_H

#include <libwebsockets.h>

#include "gateway.h"

/** Answers GET /metrics; returns what the lws HTTP callback returns. */
int gw_metrics_page_respond(gw_t *gw, struct lws *wsi);

#endif
