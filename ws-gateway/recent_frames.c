/*
 * recent_frames.c - the ring of a room's last delivered frames (see the header).
 *
 * Threads: loop thread only (the owning room's).
 */
#include "recent_frames.h"

#include <stdlib.h>

void gw_recent_put(gw_recent_t *rc, uint32_t cap, int64_t seq, gw_frame_t *frame)
{
    uint32_t slot;

    if (rc->frames == NULL) {
        if (cap == 0) {
            return;
        }
        rc->frames = calloc(cap, sizeof(*rc->frames));
        if (rc->frames == NULL) {
            return; /* a resume then reads the store, as without the cache */
        }
        rc->cap = cap;
        rc->n = 0;
    }
    slot = (uint32_t)((uint64_t)seq % rc->cap);
    gw_frame_unref(rc->frames[slot]);
    rc->frames[slot] = gw_frame_ref(frame);
    if (rc->n < rc->cap) {
        rc->n++;
    }
}

gw_frame_t *gw_recent_get(const gw_recent_t *rc, int64_t last, int64_t seq)
{
    if (rc->frames == NULL || seq > last || seq <= last - (int64_t)rc->n) {
        return NULL;
    }
    return rc->frames[(uint64_t)seq % rc->cap];
}

void gw_recent_clear(gw_recent_t *rc)
{
    for (uint32_t i = 0; rc->frames != NULL && i < rc->cap; i++) {
        gw_frame_unref(rc->frames[i]);
    }
    free(rc->frames);
    rc->frames = NULL;
    rc->cap = rc->n = 0;
}
