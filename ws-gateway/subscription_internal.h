/*
 * subscription_internal.h - the subscription module's own type, shared by its files
 * (subscription.c, sub_replay.c, sub_retry.c). Other modules hold gw_sub_t pointers
 * and use subscription.h; the registry knows a subscription only by its entry
 * (room_registry.h: room, state, delivered seq).
 *
 * Threads: loop thread only.
 */
#ifndef GW_SUBSCRIPTION_INTERNAL_H
#define GW_SUBSCRIPTION_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "room_registry.h"
#include "subscription.h"

/** One session's subscription to one room. Owned by the session's list (s->subs). */
struct gw_sub {
    gw_session_t *session;
    gw_room_entry_t *entry; /* the registry's view of it: room once attached, state,
                               delivered seq (gw_registry_entry_*) */
    char room_id[CHAT_ID_LEN];
    bool checked;          /* membership confirmed for this request */
    bool dispatch_waiting; /* its job waits for the session's other checks to end */
    uint32_t gen;          /* bumped on restart: older job results are ignored */
    bool waiting_redis;    /* PENDING until the room's channel is subscribed */
    bool waiting_queue;    /* REPLAYING, paused until the session's queue drains */
    bool join;             /* the request changes membership (join frame / URL) */
    bool has_after;
    int64_t after;
    int64_t last_typing_ms;
    /* MongoDB unavailable or the workers busy: the request is retried, not dropped */
    bool in_retry;
    int retry_kind; /* what to send again (subscription.c's job kinds) */
    int retry_backoff_ms;
    int64_t retry_at_ms;
    struct gw_sub *retry_prev;
    struct gw_sub *retry_next;
};

#endif
