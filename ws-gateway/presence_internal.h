/*
 * presence_internal.h - the state shared by the two files of the presence module:
 * presence_tracker.c (local bookkeeping: sockets per user, the debounce, the remote users
 * watchers were told are online, announcements) and presence_redis.c (this gateway's
 * entries in chat:presence:<uid> and the reads that tell whether a user is online
 * anywhere). Not for other modules: they use presence_tracker.h.
 *
 * Threads: loop thread only.
 */
#ifndef GW_PRESENCE_INTERNAL_H
#define GW_PRESENCE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/jwt.h"
#include "presence_tracker.h"

/* A user with sockets here (or whose last one closed within the debounce). */
typedef struct gw_presence_user {
    char id[CHAT_ID_LEN];
    uint32_t n_sockets;
    int64_t offline_at_ms; /* debounce deadline once n_sockets is 0 */
} gw_presence_user_t;

/* A user this gateway's watchers were told is online. */
typedef struct gw_presence_remote {
    char (*rooms)[CHAT_ID_LEN]; /* rooms the user's "online" came through */
    size_t n;
    size_t cap;
    int64_t check_at_ms; /* wall clock: when the user's latest entry expires */
    bool check_in_flight;
} gw_presence_remote_t;

struct gw_presence {
    gw_t *gw;
    chat_hmap_t *local;  /* user id -> gw_presence_user_t* */
    chat_hmap_t *remote; /* user id -> gw_presence_remote_t*: told "online", may need a sweep */
    uv_timer_t tick;
    uv_timer_t heartbeat;
    uv_timer_t sweep;
    int open_handles;
    /* users gone offline whose last_seen is written by the next batch (tick) */
    char (*seen_ids)[CHAT_ID_LEN];
    size_t n_seen;
    size_t cap_seen;
    bool seen_in_flight;
    uint64_t seen_batches;   /* batches submitted (every PRESENCE__SEEN_FOLD_EVERY folds) */
    int64_t seen_flushed_ms; /* monotonic: the last batch's start (0: none yet) */
};

/* presence_tracker.c */
/** Reads user_id's rooms on a worker, then tells each of them online / offline. */
void gw_presence__announce(gw_presence_t *pt, const char *user_id, bool online);
/** Tells this gateway's watchers that user_id went offline (no Redis needed). */
void gw_presence__offline_locally(gw_presence_t *pt, const char *user_id);

/* presence_redis.c */
/** ZADDs this gateway's entry for user_id, expiring CHAT_PRESENCE_TTL_MS after now_ms,
 *  and trims the expired ones. */
void gw_presence_redis_zadd(gw_presence_t *pt, const char *user_id, int64_t now_ms);
/** ZREMs this gateway's entry for user_id. */
void gw_presence_redis_zrem(gw_presence_t *pt, const char *user_id);
/** ZCOUNTs user_id's live entries; none (and no socket here by then) announces offline. */
void gw_presence_redis_check_gone(gw_presence_t *pt, const char *user_id);
/** Refreshes the entries of every local user (heartbeat, Redis back). */
void gw_presence_redis_refresh_all(gw_presence_t *pt);
/** Reads again the remote users whose latest entry has expired: gone everywhere ->
 *  offline for the local watchers. */
void gw_presence_redis_sweep(gw_presence_t *pt);

#endif
