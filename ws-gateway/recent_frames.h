/*
 * recent_frames.h - a room's last delivered frames, kept so that a resume a few
 * seconds behind is served from memory instead of a Redis or MongoDB read: a ring of
 * `cap` frame references where seq s sits at s % cap. Seqs go in consecutively (the
 * room delivers in order), so the ring holds exactly the n seqs ending at the room's
 * last. All rooms' rings share one byte budget (WS_ROOM_CACHE_BYTES): a put that would
 * pass it drops the same room's oldest frames first, and keeps nothing when even that is
 * not enough, so the cache never holds more than the budget in all (a resume it cannot
 * serve reads the Redis window, as without the cache). Pure: memory and frame references
 * only.
 *
 * Threads: loop thread only (each ring belongs to one room of room_registry.c).
 */
#ifndef GW_RECENT_FRAMES_H
#define GW_RECENT_FRAMES_H

#include <stdint.h>

#include "shared_frame.h"

typedef struct gw_recent {
    gw_frame_t **frames; /* NULL until the first put */
    uint32_t cap;        /* WS_ROOM_CACHE once allocated */
    uint32_t n;          /* consecutive seqs held, ending at the room's last */
    int64_t newest;      /* the seq of the last put */
} gw_recent_t;

/** The bytes all rings of a process hold, and the most they may. */
typedef struct gw_recent_budget {
    size_t used;
    size_t max; /* WS_ROOM_CACHE_BYTES */
} gw_recent_budget_t;

/** Keeps frame (takes a reference) as seq, the successor of the previous put, dropping
 *  the oldest when full or when the budget would be passed. The ring is allocated with
 *  cap slots on first use; cap 0 (or no memory) keeps nothing, and resumes then read the
 *  store as without the cache. */
void gw_recent_put(gw_recent_t *rc, uint32_t cap, int64_t seq, gw_frame_t *frame,
                   gw_recent_budget_t *budget);
/** The frame of seq (borrowed) while it is among the held ones ending at last, else
 *  NULL. */
gw_frame_t *gw_recent_get(const gw_recent_t *rc, int64_t last, int64_t seq);
/** Drops every reference (given back to budget) and frees the ring. */
void gw_recent_clear(gw_recent_t *rc, gw_recent_budget_t *budget);

#endif
