/*
 * room_registry.h - rooms watched by this gateway's sessions: for each room, its local
 * subscribers (gw_sub_t), the last seq delivered live, and a bounded reorder buffer.
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
#include "recent_frames.h"
#include "reorder_buffer.h"
#include "shared_frame.h"

typedef struct gw_room gw_room_t;

typedef enum gw_sub_state {
    GW_SUB_PENDING = 0, /* membership being checked (not attached to its room yet), then
                           the room's last seq */
    GW_SUB_REPLAYING,   /* stored messages after `after` being sent page by page */
    GW_SUB_LIVE         /* receives live room messages */
} gw_sub_state_t;

/** One session's subscription to one room. Owned by the session; listed by the room. */
typedef struct gw_sub {
    gw_session_t *session;
    gw_room_t *room; /* NULL until membership is checked: no SUBSCRIBE before */
    char room_id[CHAT_ID_LEN];
    bool checked;          /* membership confirmed for this request */
    bool dispatch_waiting; /* its job waits for the session's other checks to end */
    uint32_t room_index;   /* position in room->subs */
    gw_sub_state_t state;
    int64_t delivered; /* highest seq queued to this session for the room */
    uint32_t gen;      /* bumped on restart: older job results are ignored */
    bool job_in_flight;
    uint64_t live_mark; /* gw->next_live_mark when it went LIVE (0: never) */
    bool waiting_redis; /* PENDING until the room's channel is subscribed */
    bool waiting_queue; /* REPLAYING, paused until the session's queue drains */
    bool join;          /* the request changes membership (join frame / URL) */
    bool has_after;
    int64_t after;
    int64_t member_checked_ms; /* membership cache for sends */
    int64_t last_typing_ms;
    /* MongoDB unavailable or the workers busy: the request is retried, not dropped */
    bool in_retry;
    int retry_kind; /* what to send again (subscription.c's job kinds) */
    int retry_backoff_ms;
    int64_t retry_at_ms;
    struct gw_sub *retry_prev;
    struct gw_sub *retry_next;
} gw_sub_t;

struct gw_room {
    char id[CHAT_ID_LEN];
    gw_sub_t **subs;
    uint32_t n_subs;
    uint32_t cap_subs;
    bool seq_known;     /* last is meaningful (set from MongoDB on first subscribe) */
    int64_t last;       /* highest seq delivered live, in order */
    gw_reorder_t order; /* out-of-order successors (reorder_buffer.h) */
    bool backfill_in_flight;
    bool backfill_again;
    gw_recent_t recent; /* the last delivered frames (recent_frames.h) */
};

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
/** The distinct users with a LIVE subscription to room into out (room->n_subs slots);
 *  how many. *all_live is false when some subscription is not LIVE yet (its own
 *  membership check decides it). */
size_t gw_registry_live_watchers(const gw_room_t *room, char (*out)[CHAT_ID_LEN], bool *all_live);
/** The mark of the last subscription that went LIVE: taken before a membership read,
 *  it tells gw_registry_take_away which subscriptions that read was about. */
uint64_t gw_registry_live_mark(const gw_registry_t *reg);
/** How many rooms are known (watched or lingering), and each of them in turn. fn must
 *  not attach or detach subscriptions. */
size_t gw_registry_room_count(const gw_registry_t *reg);
void gw_registry_each_room(gw_registry_t *reg, void (*fn)(gw_room_t *room, void *arg), void *arg);
/** Adds sub to room_id's subscribers (creating the room and its channel subscription). */
int gw_registry_attach(gw_registry_t *reg, gw_sub_t *sub, const char *room_id);
/** Removes sub from its room; an empty room lingers a few seconds, then is dropped. */
void gw_registry_detach(gw_registry_t *reg, gw_sub_t *sub);
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
 *  sends event (member_removed) to the room's live watchers and drops the user's
 *  subscriptions that were LIVE by then. Subscriptions still being set up, or LIVE
 *  since, are left to their own membership check (a join in flight is not undone by a
 *  read that came before it). Returns how many were dropped. */
size_t gw_registry_take_away(gw_registry_t *reg, const char *room_id, const char *user_id,
                             uint64_t live_before, gw_frame_t *event);
/** Drops every local subscription of user_id to room_id (member removed / left). */
void gw_registry_remove_user(gw_registry_t *reg, const char *room_id, const char *user_id);

/** pubsub: the room's channel subscription is confirmed (first time or after reconnect). */
void gw_registry_on_channel_ready(gw_registry_t *reg, const char *room_id);
/** pubsub: a payload arrived on chat:room:<room_id>. */
void gw_registry_on_channel_message(gw_registry_t *reg, const char *room_id, const char *payload,
                                    size_t len);

#endif
