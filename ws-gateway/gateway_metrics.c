/*
 * gateway_metrics.c - the gateway's counters and histograms and their label tables (see
 * gateway_metrics.h); the page that renders them with the gauges is metrics_page.c.
 *
 * Threads: any thread (atomics).
 */
#include "gateway_metrics.h"

#include <stdlib.h>
#include <string.h>

const unsigned gw_metrics_close_codes[GW_CLOSE_CODES_N] = {0,    1000, 1001, 1006, 1007, 1008,
                                                           1009, 1011, 1013, 4001, 4003, 4008};

const char *const gw_metrics_in_names[GW_IN__N] = {
    "message", "join", "leave", "subscribe", "unsubscribe", "typing", "ping", "auth", "invalid"};

const char *const gw_metrics_out_names[GW_OUT__N] = {
    "message", "ack", "error", "presence", "typing", "subscribed", "pong", "event", "other"};

const char *const gw_metrics_replay_names[GW_REPLAY__N] = {"memory", "redis", "database"};
const char *const gw_metrics_batch_names[GW_BATCH__N] = {"last_seen", "socket_count"};
const char *const gw_metrics_warm_names[GW_WARM__N] = {"built", "already_warm", "by_another",
                                                       "failed"};
const char *const gw_metrics_phase_names[GW_PHASE__N] = {"queued", "members", "insert", "commit",
                                                         "handback"};

gw_frame_in_t gw_metrics_in_type(const char *type)
{
    for (int i = 0; type != NULL && i < GW_IN_INVALID; i++) {
        if (strcmp(type, gw_metrics_in_names[i]) == 0) {
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

    while (i < GW_CLOSE_CODES_N && gw_metrics_close_codes[i] != code) {
        i++;
    }
    chat_counter_add(&m->sockets_closed[i], 1);
}
