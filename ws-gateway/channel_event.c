/*
 * channel_event.c - decoding of room channel payloads (see the header).
 *
 * Threads: any.
 */
#include "channel_event.h"

#include <string.h>

#include "chat/clock.h"

static gw_chan_kind_t chan__kind(const char *type)
{
    if (type == NULL) {
        return GW_CHAN_OTHER;
    }
    if (strcmp(type, "text") == 0 || strcmp(type, "system") == 0) {
        return GW_CHAN_MESSAGE;
    }
    if (strcmp(type, "typing") == 0) {
        return GW_CHAN_TYPING;
    }
    if (strcmp(type, "presence") == 0) {
        return GW_CHAN_PRESENCE;
    }
    if (strcmp(type, "member_removed") == 0) {
        return GW_CHAN_MEMBER_REMOVED;
    }
    if (strcmp(type, "member_added") == 0) {
        return GW_CHAN_MEMBER_ADDED;
    }
    return GW_CHAN_OTHER;
}

int gw_chan_event_parse(const char *payload, size_t len, gw_chan_event_t *ev)
{
    json_error_t jerr;
    json_t *seq;

    memset(ev, 0, sizeof(*ev));
    ev->root = json_loadb(payload, len, 0, &jerr);
    if (ev->root == NULL || !json_is_object(ev->root)) {
        gw_chan_event_clear(ev);
        return -1;
    }
    ev->kind = chan__kind(json_string_value(json_object_get(ev->root, "type")));
    ev->user_id = json_string_value(json_object_get(ev->root, "user_id"));
    ev->status = json_string_value(json_object_get(ev->root, "status"));
    if (ev->kind == GW_CHAN_MESSAGE) {
        seq = json_object_get(ev->root, "seq");
        ev->has_seq = json_is_integer(seq);
        ev->seq = ev->has_seq ? json_integer_value(seq) : 0;
        ev->has_stored_ms =
            chat_clock_parse_rfc3339(json_string_value(json_object_get(ev->root, "timestamp")),
                                     &ev->stored_ms) == 0;
    }
    return 0;
}

bool gw_chan_event_online(const gw_chan_event_t *ev)
{
    return ev->status != NULL && strcmp(ev->status, "online") == 0;
}

void gw_chan_event_clear(gw_chan_event_t *ev)
{
    json_decref(ev->root);
    memset(ev, 0, sizeof(*ev));
}
