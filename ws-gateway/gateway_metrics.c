/*
 * gateway_metrics.c - the gateway's /metrics (see gateway_metrics.h).
 *
 * Threads: counters from any thread; gw_metrics_respond on the loop thread.
 */
#include "gateway_metrics.h"

#include <stdlib.h>
#include <string.h>

#include "chat/log.h"
#include "gateway.h"
#include "gateway_health.h"
#include "pubsub.h"
#include "room_registry.h"
#include "session.h"
#include "upgrade_auth.h"

static const unsigned metrics__close_codes[GW_CLOSE_CODES_N] = {0,    1000, 1001, 1006, 1007, 1008,
                                                                1009, 1011, 1013, 4001, 4003, 4008};

static const char *const metrics__in_names[GW_IN__N] = {
    "message", "join", "leave", "subscribe", "unsubscribe", "typing", "ping", "auth", "invalid"};

static const char *const metrics__out_names[GW_OUT__N] = {
    "message", "ack", "error", "presence", "typing", "subscribed", "pong", "event", "other"};

static const char *const metrics__replay_names[GW_REPLAY__N] = {"memory", "redis", "database"};
static const char *const metrics__batch_names[GW_BATCH__N] = {"last_seen", "socket_count"};

gw_frame_in_t gw_metrics_in_type(const char *type)
{
    for (int i = 0; type != NULL && i < GW_IN_INVALID; i++) {
        if (strcmp(type, metrics__in_names[i]) == 0) {
            return (gw_frame_in_t)i;
        }
    }
    return GW_IN_INVALID;
}

gw_frame_out_t gw_metrics_out_type(const char *payload, size_t len)
{
    /* `"type":"` cannot occur inside a JSON string (its quotes would be escaped), so the
     * first match is a member name; compact output has no spaces around the colon */
    static const char key[] = "\"type\":\"";
    const char *p = payload != NULL ? memmem(payload, len, key, sizeof(key) - 1) : NULL;
    const char *v;
    size_t left;

    if (p == NULL) {
        return GW_OUT_OTHER;
    }
    v = p + sizeof(key) - 1;
    left = len - (size_t)(v - payload);
#define OUT__IS(word) (left > sizeof(word) - 1 && memcmp(v, word "\"", sizeof(word)) == 0)
    if (OUT__IS("text") || OUT__IS("system")) {
        return GW_OUT_MESSAGE;
    }
    if (OUT__IS("ack")) {
        return GW_OUT_ACK;
    }
    if (OUT__IS("error")) {
        return GW_OUT_ERROR;
    }
    if (OUT__IS("presence")) {
        return GW_OUT_PRESENCE;
    }
    if (OUT__IS("typing")) {
        return GW_OUT_TYPING;
    }
    if (OUT__IS("subscribed") || OUT__IS("unsubscribed")) {
        return GW_OUT_SUBSCRIBED;
    }
    if (OUT__IS("pong")) {
        return GW_OUT_PONG;
    }
    if (OUT__IS("room_added") || OUT__IS("dm_created") || OUT__IS("member_removed") ||
        OUT__IS("member_added")) {
        return GW_OUT_EVENT;
    }
#undef OUT__IS
    return GW_OUT_OTHER;
}

void gw_metrics_closed(gw_metrics_t *m, unsigned code)
{
    size_t i = 0;

    while (i < GW_CLOSE_CODES_N && metrics__close_codes[i] != code) {
        i++;
    }
    chat_counter_add(&m->sockets_closed[i], 1);
}

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
    uint64_t queued = 0;

    for (gw_session_t *s = gw->session_head; s != NULL; s = s->next) {
        queued += s->q_len;
    }
    metrics__gauge(out, "chat_gateway_sockets_open", "Open WebSockets.", (double)gw->n_sessions);
    metrics__counter(out, "chat_gateway_sockets_opened_total", "WebSockets opened.",
                     &m->sockets_opened);
    chat_metrics_family(out, "chat_gateway_sockets_closed_total", "counter",
                        "WebSockets closed, by close code (peer: the client closed or left).");
    for (size_t i = 0; i <= GW_CLOSE_CODES_N; i++) {
        if (i == GW_CLOSE_CODES_N) {
            snprintf(labels, sizeof(labels), "code=\"other\"");
        } else if (metrics__close_codes[i] == 0) {
            snprintf(labels, sizeof(labels), "code=\"peer\"");
        } else {
            snprintf(labels, sizeof(labels), "code=\"%u\"", metrics__close_codes[i]);
        }
        chat_metrics_sample(out, "chat_gateway_sockets_closed_total", labels,
                            metrics__get(&m->sockets_closed[i]));
    }
    metrics__gauge(out, "chat_gateway_rooms_watched", "Rooms with a local watcher.",
                   (double)gw_registry_room_count(gw->registry));
    metrics__labelled(out, "chat_gateway_frames_in_total", "Client frames received, by type.",
                      "type", metrics__in_names, m->frames_in, GW_IN__N);
    metrics__labelled(out, "chat_gateway_frames_out_total",
                      "Server frames queued to sockets, by type.", "type", metrics__out_names,
                      m->frames_out, GW_OUT__N);
    metrics__counter(out, "chat_gateway_messages_stored_total", "Messages stored durably.",
                     &m->messages_stored);
    metrics__counter(out, "chat_gateway_messages_acked_total", "Acks sent to senders.",
                     &m->messages_acked);
    metrics__hist(out, "chat_gateway_store_seconds", "MongoDB write time of a batch of messages.",
                  &m->store_seconds);
    metrics__hist(out, "chat_gateway_ack_seconds", "Message received to ack sent.",
                  &m->ack_seconds);
    metrics__hist(out, "chat_gateway_delivery_seconds",
                  "Message stored (its timestamp) to fanned out to local sockets.",
                  &m->delivery_seconds);
    metrics__counter(out, "chat_gateway_deliveries_total", "Room messages queued to sockets.",
                     &m->deliveries);
    metrics__gauge(out, "chat_gateway_send_queue_frames", "Frames waiting in send queues.",
                   (double)queued);
    metrics__counter(out, "chat_gateway_slow_consumer_closes_total",
                     "Sockets closed for not reading (4008).", &m->slow_consumer_closes);
    metrics__labelled(out, "chat_gateway_resume_replays_total",
                      "Resume and replay pages served, by source.", "source", metrics__replay_names,
                      m->resume_replays, GW_REPLAY__N);
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
                      "list", metrics__batch_names, m->batch_skipped, GW_BATCH__N);
    chat_metrics_family(out, "chat_gateway_log_lines_dropped_total", "counter",
                        "Log lines dropped because stderr was not read fast enough.");
    chat_metrics_sample(out, "chat_gateway_log_lines_dropped_total", "",
                        (double)chat_log_dropped_total());
    chat_metrics_process(out);
}

int gw_metrics_respond(gw_t *gw, struct lws *wsi)
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
