/*
 * channel_event.h - what a payload on a room's channel (chat:room:<id>) means to the
 * gateway: a stored message with its seq (text, system), typing, presence, or a
 * membership event; anything else is ignored. Pure: JSON decoding only, no delivery.
 *
 * Threads: any (the gateway calls it on the loop thread).
 */
#ifndef GW_CHANNEL_EVENT_H
#define GW_CHANNEL_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum gw_chan_kind {
    GW_CHAN_OTHER = 0, /* no type, or one the gateway does not relay */
    GW_CHAN_MESSAGE,   /* "text" or "system": in order by seq */
    GW_CHAN_TYPING,
    GW_CHAN_PRESENCE,
    GW_CHAN_MEMBER_REMOVED,
    GW_CHAN_MEMBER_ADDED
} gw_chan_kind_t;

typedef struct gw_chan_event {
    gw_chan_kind_t kind;
    bool has_seq; /* MESSAGE: seq is an integer */
    int64_t seq;
    bool has_stored_ms; /* MESSAGE: its RFC 3339 timestamp parsed (delivery latency) */
    int64_t stored_ms;
    const char *user_id; /* borrowed from root; NULL when absent */
    const char *status;  /* PRESENCE: borrowed; NULL when absent */
    json_t *root;        /* owned: the parsed payload */
} gw_chan_event_t;

/** Decodes payload[0..len) into ev. 0, or -1 when it is not a JSON object (ev is then
 *  empty). Release with gw_chan_event_clear. */
int gw_chan_event_parse(const char *payload, size_t len, gw_chan_event_t *ev);
/** True for a presence event saying "online". */
bool gw_chan_event_online(const gw_chan_event_t *ev);
/** Frees what ev holds. */
void gw_chan_event_clear(gw_chan_event_t *ev);

#endif
