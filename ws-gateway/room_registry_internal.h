/*
 * room_registry_internal.h - the room registry's own types and what room_registry.c
 * lends to the other files of the module (room_entry.c: entries and attaching;
 * room_backfill.c: offering a backfilled message to a room and the room's gap timer).
 * Not for other modules: they use room_registry.h, where these types are opaque.
 *
 * Threads: loop thread only.
 */
#ifndef GW_ROOM_REGISTRY_INTERNAL_H
#define GW_ROOM_REGISTRY_INTERNAL_H

#include <stdint.h>

#include "deadline_set.h"
#include "recent_frames.h"
#include "reorder_buffer.h"
#include "room_registry.h"

#define GW_REGISTRY_LINGER_MS 5000  /* an empty room is kept this long, then dropped */
#define GW_REGISTRY_BUFFER_MAX 1024 /* a room's reorder buffer, in messages */

struct gw_registry {
    gw_t *gw;
    chat_hmap_t *rooms;           /* room id -> gw_room_t* (owned) */
    gw_deadline_set_t *gaps;      /* rooms with a backfill due */
    gw_deadline_set_t *lingering; /* rooms without subscribers, dropped when due */
    uv_timer_t timer;
    int64_t last_linger_check_ms;
    gw_registry_events_t events;      /* main.c's: what the layers above hear */
    gw_recent_budget_t recent_budget; /* all rooms' recent frames (WS_ROOM_CACHE_BYTES) */
};

struct gw_room_entry {
    gw_sub_t *owner; /* handed back in the events */
    gw_session_t *session;
    gw_room_t *room;     /* NULL until attached */
    uint32_t room_index; /* position in room->entries */
    gw_sub_state_t state;
    int64_t delivered;  /* highest seq queued to the session for the room */
    uint64_t live_mark; /* gw->next_live_mark when it went LIVE (0: never) */
};

struct gw_room {
    char id[CHAT_ID_LEN];
    gw_room_entry_t **entries;
    uint32_t n_entries;
    size_t cap_entries;
    bool seq_known;     /* last is meaningful (set from MongoDB on first subscribe) */
    int64_t last;       /* highest seq delivered live, in order */
    gw_reorder_t order; /* out-of-order successors (reorder_buffer.h) */
    bool backfill_in_flight;
    bool backfill_again;
    gw_recent_t recent; /* the last delivered frames (recent_frames.h) */
};

/** The in-order rule for one message of room (frame borrowed); schedules or clears the
 *  room's gap timer as the reorder buffer says. */
void gw_registry_offer_room(gw_registry_t *reg, gw_room_t *room, int64_t seq, gw_frame_t *frame);
/** No backfill is due for room any more. */
void gw_registry_gap_clear(gw_registry_t *reg, gw_room_t *room);
/** A backfill of room is due in delay_ms (or earlier, when one is due sooner). */
void gw_registry_gap_schedule(gw_registry_t *reg, gw_room_t *room, int64_t delay_ms);

#endif
