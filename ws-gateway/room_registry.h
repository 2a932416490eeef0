/*
 * room_registry.h - rooms watched by this gateway's sessions: for each room, its local
 * subscribers (gw_room_entry_t, one per subscription), the last seq delivered live, and a bounded reorder buffer.
 * Every room message, whether this gateway stored it or it came over Redis, enters
 * through gw_registry_offer(): seq <= last is a duplicate and is dropped, last+1 is
 * delivered (one shared frame to every live subscriber) and its buffered successors
 * follow, anything later waits in the buffer; if the gap is not filled within
 * lim.gap_wait_ms the missing range is read from MongoDB on a worker (gap backfill),
 * which is also how rooms catch up after a Redis outage.
 *
 * Threads: loop thread only (the backfill job's run() is on a worker).
 */
#ifndef GW_ROOM_REGISTRY_H
#define GW_ROOM_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/jwt.h"
#include "gateway.h"
#include "history_page.h"
#include "shared_frame.h"

typedef struct gw_room gw_room_t; /* opaque: room_registry_internal.h */
/** One subscription as its room lists it (opaque): its session, its room once attached,
 *  its state and the highest seq it was sent. The subscription module (subscription.h)
 *  holds one per subscription and changes it only through the gw_registry_entry_*
 *  functions; the registry reads it on every delivery. */
typedef struct gw_room_entry gw_room_entry_t;

typedef enum gw_sub_state {
    GW_SUB_PENDING = 0, /* membership being checked (not attached to its room yet), then
                           the room's last seq */
    GW_SUB_REPLAYING,   /* stored messages after `after` being sent page by page */
    GW_SUB_LIVE         /* receives live room messages */
} gw_sub_state_t;

/**
 * What the registry reports to the layers above it (subscriptions, presence): a table
 * main.c registers, so the registry never calls them. Every entry is set.
 */
typedef struct gw_registry_events {
    /** A live subscription of a removed member must go (it had the member_removed frame). */
    void (*sub_removed)(gw_session_t *s, gw_sub_t *sub);
    /** A subscription still being set up must check the membership again. */
    void (*sub_recheck)(gw_session_t *s, gw_sub_t *sub);
    /** The room's channel is subscribed (again): waiting subscriptions go on. */
    void (*channel_ready)(gw_t *gw, gw_room_t *room);
    /** The registry's 1 s timer: subscription retries that are due. */
    void (*tick)(gw_t *gw);
    /** A presence event for user_id arrived on room_id's channel (frame borrowed). */
    void (*presence)(gw_t *gw, const char *room_id, const char *user_id, bool online,
                     gw_frame_t *frame);
} gw_registry_events_t;

gw_registry_t *gw_registry_create(gw_t *gw);
/** Registers the events table (copied); call right after gw_registry_create. */
void gw_registry_set_events(gw_registry_t *reg, const gw_registry_events_t *events);
void gw_registry_destroy(gw_registry_t *reg);

/** The room, or NULL. */
gw_room_t *gw_registry_find(gw_registry_t *reg, const char *room_id);
/** The distinct users with a LIVE subscription to room into out (watchers slots);
 *  how many. *all_live is false when some subscription is not LIVE yet (its own
 *  membership check decides it). */
size_t gw_registry_live_watchers(const gw_room_t *room, char (*out)[CHAT_ID_LEN], bool *all_live);
/** The mark of the last subscription that went LIVE: taken before a membership read,
 *  it tells gw_registry_take_away which subscriptions that read was about. */
uint64_t gw_registry_live_mark(const gw_registry_t *reg);
/** The bytes all rooms' recent-frame caches hold (WS_ROOM_CACHE_BYTES at most). */
size_t gw_registry_cached_bytes(const gw_registry_t *reg);
/** How many rooms are known (watched or lingering), and each of them in turn. fn must
 *  not attach or detach subscriptions. */
size_t gw_registry_room_count(const gw_registry_t *reg);
void gw_registry_each_room(gw_registry_t *reg, void (*fn)(gw_room_t *room, void *arg), void *arg);
/** A new entry for owner (PENDING, not attached); NULL when out of memory. The registry
 *  hands owner back in its events. */
gw_room_entry_t *gw_registry_entry_create(gw_session_t *session, gw_sub_t *owner);
/** Detaches and frees e. Accepts NULL. */
void gw_registry_entry_destroy(gw_registry_t *reg, gw_room_entry_t *e);
/** Adds e to room_id's subscribers (creating the room and its channel subscription). */
int gw_registry_attach(gw_registry_t *reg, gw_room_entry_t *e, const char *room_id);
/** Removes e from its room; an empty room lingers a few seconds, then is dropped. */
void gw_registry_detach(gw_registry_t *reg, gw_room_entry_t *e);
/** e's room, or NULL while it is not attached. */
gw_room_t *gw_registry_entry_room(const gw_room_entry_t *e);
gw_sub_state_t gw_registry_entry_state(const gw_room_entry_t *e);
/** Going LIVE takes a new live mark (gw_registry_live_mark): member audits that read
 *  before it do not take the room away. */
void gw_registry_entry_set_state(gw_registry_t *reg, gw_room_entry_t *e, gw_sub_state_t state);
/** The highest seq queued to the entry's session for its room. */
int64_t gw_registry_entry_delivered(const gw_room_entry_t *e);
void gw_registry_entry_set_delivered(gw_room_entry_t *e, int64_t seq);

/** The room's id. */
const char *gw_registry_room_id(const gw_room_t *room);
/** True, with *last its last seq delivered live, once that seq is known. */
bool gw_registry_room_last(const gw_room_t *room, int64_t *last);
/** How many subscriptions the room lists, and the owner of the i-th (i < that count). */
uint32_t gw_registry_room_watchers(const gw_room_t *room);
gw_sub_t *gw_registry_room_sub(const gw_room_t *room, uint32_t i);
/** Sets the room's starting seq (first subscriber) and releases buffered successors. */
void gw_registry_set_initial_seq(gw_registry_t *reg, gw_room_t *room, int64_t last);
/** Highest seq of room_id seen here (delivered or buffered); 0 when unknown. A hint
 *  for appends: always a stored seq. */
int64_t gw_registry_seen_seq(gw_registry_t *reg, const char *room_id);
/** The frame of seq (borrowed) while the room still holds it among its last
 *  WS_ROOM_CACHE delivered messages, else NULL: resumes a few seconds behind are served
 *  from memory instead of a MongoDB query. */
gw_frame_t *gw_registry_recent(const gw_room_t *room, int64_t seq);
/** True when the room's channel is subscribed, or Redis is down (nothing to wait for). */
bool gw_registry_channel_ready(gw_registry_t *reg, const gw_room_t *room);

/** A room message with its seq (frame borrowed). */
void gw_registry_offer(gw_registry_t *reg, const char *room_id, int64_t seq, gw_frame_t *frame);
/** Ephemeral event (typing, member events) to live subscribers, skipping exclude_user's
 *  sessions when not NULL. */
void gw_registry_deliver_event(gw_registry_t *reg, const char *room_id, gw_frame_t *frame,
                               const char *exclude_user);
/** Presence event to subscribers, once per session per status change. */
void gw_registry_deliver_presence(gw_registry_t *reg, const char *room_id, gw_frame_t *frame,
                                  const char *user_id, bool online);
/** A membership read that started after live_before found user_id outside room_id:
 *  member_removed to the room's live watchers, then the user's subscriptions that were
 *  LIVE by then are dropped. Subscriptions still being set up, or LIVE since, are left to
 *  their own membership check (a join in flight is not undone by a read that came before
 *  it). Returns how many were dropped. */
size_t gw_registry_take_away(gw_registry_t *reg, const char *room_id, const char *user_id,
                             uint64_t live_before);
/** Drops every local subscription of user_id to room_id (member removed / left). */
void gw_registry_remove_user(gw_registry_t *reg, const char *room_id, const char *user_id);

/** pubsub: the room's channel subscription is confirmed (first time or after reconnect). */
void gw_registry_on_channel_ready(gw_registry_t *reg, const char *room_id);
/** pubsub: a payload arrived on chat:room:<room_id>. */
void gw_registry_on_channel_message(gw_registry_t *reg, const char *room_id, const char *payload,
                                    size_t len);

#endif
