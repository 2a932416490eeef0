/*
 * room_dedupe.h - drops a room message the room has already delivered before anything
 * parses or copies it. Every message this gateway stores it also PUBLISHes, and gets it
 * back on the room's channel after (or just before) delivering it itself; the retry
 * queue and the other gateways' resends add more. Those are duplicates by seq, and
 * finding that out used to cost a JSON parse and a frame copy per message.
 *
 * Threads: loop thread (gw_room_dedupe_peek is pure and runs anywhere).
 */
#ifndef GW_ROOM_DEDUPE_H
#define GW_ROOM_DEDUPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway.h"

/** What a room message's payload says about itself, read without parsing it. */
typedef struct gw_room_dedupe_head {
    int64_t seq;
    const char *timestamp; /* its "timestamp" value in the payload (borrowed), or NULL */
    size_t timestamp_len;
} gw_room_dedupe_head_t;

/**
 * True when payload[0..len) is a room message ("type":"text" or "system", as
 * chat_message_to_json writes it compactly) with a non-negative "seq"; fills *out.
 * False means "not sure": the caller parses the payload as before. Relies on the
 * compact JSON our writers produce: `"seq":` and `"type":"` cannot occur inside a
 * JSON string (their quotes would be escaped), so a match is a member name.
 */
bool gw_room_dedupe_peek(const char *payload, size_t len, gw_room_dedupe_head_t *out);

/**
 * A payload arrived on room_id's channel (borrowed). True when it is a room message at
 * or below the seq the room has delivered here: it is counted in delivery_seconds, as
 * the full path would have, and needs nothing else. False: hand it to
 * gw_registry_on_channel_message.
 */
bool gw_room_dedupe_drop_stale(gw_t *gw, const char *room_id, const char *payload, size_t len);

#endif
