/*
 * recent_frames.c - the ring of a room's last delivered frames, under the process-wide
 * byte budget (see the header).
 *
 * Threads: loop thread only (the owning room's).
 */
#include "recent_frames.h"

#include <stdlib.h>

/* Drops the oldest frame the ring holds. */
static void recent__drop_oldest(gw_recent_t *rc, gw_recent_budget_t *budget)
{
    uint32_t slot = (uint32_t)((uint64_t)(rc->newest - rc->n + 1) % rc->cap);

    if (rc->frames[slot] != NULL) {
        budget->used -= rc->frames[slot]->len;
        gw_frame_unref(rc->frames[slot]);
        rc->frames[slot] = NULL;
    }
    rc->n--;
}

void gw_recent_put(gw_recent_t *rc, uint32_t cap, int64_t seq, gw_frame_t *frame,
                   gw_recent_budget_t *budget)
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
    if (rc->n == rc->cap) {
        recent__drop_oldest(rc, budget); /* seq's slot: a full ring's oldest */
    }
    while (rc->n > 0 && budget->used + frame->len > budget->max) {
        recent__drop_oldest(rc, budget); /* this room gives way first */
    }
    rc->newest = seq;
    if (budget->used + frame->len > budget->max) {
        return; /* empty, and still no room: nothing kept (n stays 0) */
    }
    slot = (uint32_t)((uint64_t)seq % rc->cap);
    rc->frames[slot] = gw_frame_ref(frame);
    budget->used += frame->len;
    rc->n++;
}

gw_frame_t *gw_recent_get(const gw_recent_t *rc, int64_t last, int64_t seq)
{
    if (rc->frames == NULL || seq > last || seq <= last - (int64_t)rc->n) {
        return NULL;
    }
    return rc->frames[(uint64_t)seq % rc->cap];
}

void gw_recent_clear(gw_recent_t *rc, gw_recent_budget_t *budget)
{
    for (uint32_t i = 0; rc->frames != NULL && i < rc->cap; i++) {
        if (rc->frames[i] != NULL) {
            budget->used -= rc->frames[i]->len;
            gw_frame_unref(rc->frames[i]);
        }
    }
    free(rc->frames);
    rc->frames = NULL;
    rc->cap = rc->n = 0;
}
