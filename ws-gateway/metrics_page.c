/*
 * metrics_page.c - GET /metrics of one gateway (see metrics_page.h): the counters of
 * gateway_metrics.c and the gauges read from the gateway's state when scraped, in
 * Prometheus text format.
 *
 * Threads: loop thread.
 */
#include "metrics_page.h"

#include <stdio.h>
#include <stdlib.h>

#include "chat/log.h"
#include "chat/metrics.h"
#include "gateway_health.h"
#include "gateway_metrics.h"
#include "pubsub.h"
#include "room_registry.h"
#include "session.h"
#include "upgrade_auth.h"

static double metrics__get(_Atomic uint64_t *c)
{
    return (double)atomic_load_explicit(c, memory_order_relaxed);
}

static void metrics__labelled(chat_metrics_out_t *out, const char *name, const char *help,
                              const char *label, const char *const *values,
                              _Atomic uint64_t *counts, size_t n)
{
    char labels[96];

    chat_metrics_family(out, name, "counter", help);
    for (size_t i = 0; i < n; i++) {
        snprintf(labels, sizeof(labels), "%s=\"%s\"", label, values[i]);
        chat_metrics_sample(out, name, labels, metrics__get(&counts[i]));
    }
}

static void metrics__counter(chat_metrics_out_t *out, const char *name, const char *help,
                             _Atomic uint64_t *c)
{
    chat_metrics_family(out, name, "counter", help);
    chat_metrics_sample(out, name, "", metrics__get(c));
}

static void metrics__gauge(chat_metrics_out_t *out, const char *name, const char *help, double v)
{
    chat_metrics_family(out, name, "gauge", help);
    chat_metrics_sample(out, name, "", v);
}

static void metrics__hist(chat_metrics_out_t *out, const char *name, const char *help,
                          const chat_hist_t *h)
{
    chat_metrics_family(out, name, "histogram", help);
    chat_metrics_hist(out, name, "", h);
}

static void metrics__render(gw_t *gw, chat_metrics_out_t *out)
{
    gw_metrics_t *m = gw->metrics;
    char labels[64];
    uint64_t queued = gw_session_queued_total(gw);

    metrics__gauge(out, "chat_gateway_sockets_open", "Open WebSockets.", (double)gw->n_sessions);
    metrics__counter(out, "chat_gateway_sockets_opened_total", "WebSockets opened.",
                     &m->sockets_opened);
    chat_metrics_family(out, "chat_gateway_sockets_closed_total", "counter",
                        "WebSockets closed, by close code (peer: the client closed or left).");
    for (size_t i = 0; i <= GW_CLOSE_CODES_N; i++) {
        if (i == GW_CLOSE_CODES_N) {
            snprintf(labels, sizeof(labels), "code=\"other\"");
        } else if (gw_metrics_close_codes[i] == 0) {
            snprintf(labels, sizeof(labels), "code=\"peer\"");
        } else {
            snprintf(labels, sizeof(labels), "code=\"%u\"", gw_metrics_close_codes[i]);
        }
        chat_metrics_sample(out, "chat_gateway_sockets_closed_total", labels,
                            metrics__get(&m->sockets_closed[i]));
    }
    metrics__gauge(out, "chat_gateway_rooms_watched", "Rooms with a local watcher.",
                   (double)gw_registry_room_count(gw->registry));
    metrics__labelled(out, "chat_gateway_frames_in_total", "Client frames received, by type.",
                      "type", gw_metrics_in_names, m->frames_in, GW_IN__N);
    metrics__labelled(out, "chat_gateway_frames_out_total",
                      "Server frames queued to sockets, by type.", "type", gw_metrics_out_names,
                      m->frames_out, GW_OUT__N);
    metrics__counter(out, "chat_gateway_messages_stored_total", "Messages stored durably.",
                     &m->messages_stored);
    metrics__counter(out, "chat_gateway_messages_acked_total", "Acks sent to senders.",
                     &m->messages_acked);
    metrics__hist(out, "chat_gateway_store_seconds", "MongoDB write time of a batch of messages.",
                  &m->store_seconds);
    metrics__hist(out, "chat_gateway_ack_seconds", "Message received to ack sent.",
                  &m->ack_seconds);
    chat_metrics_family(out, "chat_gateway_message_phase_seconds", "histogram",
                        "A message's time before its ack and fan-out, by phase: queued for its "
                        "writer, members (Redis), insert (MongoDB, per batch), commit (window "
                        "and PUBLISH, per batch), handback to the loop thread.");
    for (size_t i = 0; i < GW_PHASE__N; i++) {
        char phase[48];
        snprintf(phase, sizeof(phase), "phase=\"%s\"", gw_metrics_phase_names[i]);
        chat_metrics_hist(out, "chat_gateway_message_phase_seconds", phase, &m->phase_seconds[i]);
    }
    metrics__hist(out, "chat_gateway_delivery_seconds",
                  "Message stored (its timestamp) to fanned out to local sockets.",
                  &m->delivery_seconds);
    metrics__hist(out, "chat_gateway_fanout_seconds",
                  "One room message queued to every local live subscriber.", &m->fanout_seconds);
    metrics__hist(out, "chat_gateway_write_round_seconds",
                  "A write round: first frame queued to every waiting socket written.",
                  &m->write_round_seconds);
    metrics__counter(out, "chat_gateway_deliveries_total", "Room messages queued to sockets.",
                     &m->deliveries);
    metrics__gauge(out, "chat_gateway_send_queue_frames", "Frames waiting in send queues.",
                   (double)queued);
    metrics__counter(out, "chat_gateway_slow_consumer_closes_total",
                     "Sockets closed for not reading (4008).", &m->slow_consumer_closes);
    metrics__labelled(out, "chat_gateway_resume_replays_total",
                      "Resume and replay pages served, by source.", "source",
                      gw_metrics_replay_names, m->resume_replays, GW_REPLAY__N);
    metrics__counter(out, "chat_gateway_backfills_total", "Gap backfills started.", &m->backfills);
    metrics__gauge(out, "chat_gateway_redis_up", "1 while Redis answers.",
                   gw_pubsub_up(gw->pubsub) ? 1 : 0);
    metrics__gauge(out, "chat_gateway_mongo_up", "1 while MongoDB answers.",
                   gw_health_mongo_up(gw->health) ? 1 : 0);
    metrics__counter(out, "chat_gateway_rate_limited_total", "Frames refused by rate limits.",
                     &m->rate_limited);
    metrics__labelled(out, "chat_gateway_batch_entries_skipped_total",
                      "Entries a full per-tick batch list skipped (last_seen left older; "
                      "socket counts corrected by the heartbeat).",
                      "list", gw_metrics_batch_names, m->batch_skipped, GW_BATCH__N);
    metrics__labelled(out, "chat_gateway_read_model_warms_total",
                      "Looks at a cold read model (at start, or after Redis lost it), by outcome.",
                      "outcome", gw_metrics_warm_names, m->read_model_warms, GW_WARM__N);
    metrics__hist(out, "chat_gateway_read_model_warm_seconds",
                  "Time a warm-up of the read model took (built, or waited for another process).",
                  &m->warm_seconds);
    chat_metrics_family(out, "chat_gateway_log_lines_dropped_total", "counter",
                        "Log lines dropped because stderr was not read fast enough.");
    chat_metrics_sample(out, "chat_gateway_log_lines_dropped_total", "",
                        (double)chat_log_dropped_total());
    chat_metrics_process(out);
}

int gw_metrics_page_respond(gw_t *gw, struct lws *wsi)
{
    chat_metrics_out_t out;
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (gw->metrics == NULL || chat_metrics_begin(&out) != 0) {
        return gw_upgrade_auth_respond_error(wsi, 500, "internal_error", "metrics unavailable");
    }
    metrics__render(gw, &out);
    if (chat_metrics_end(&out, &text, &len) != 0) {
        return gw_upgrade_auth_respond_error(wsi, 500, "internal_error", "metrics unavailable");
    }
    rc = gw_upgrade_auth_respond_text(wsi, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                                      len);
    free(text);
    return rc;
}
