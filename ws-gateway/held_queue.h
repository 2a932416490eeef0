/*
 * held_queue.h - an intrusive FIFO with a hard bound: full, it gives up its oldest entry
 * to make room, so memory stays bounded however long its consumer is away. Pure: no
 * allocation, no clock, no lock. Its users:
 *   - the messages stored while Redis was away, held in arrival order until Redis takes
 *     their commit (window + PUBLISH) and their acks can go (message_pipeline.c; a
 *     message given up is stored, its sender's resend is answered from the stored copy);
 *   - the room messages waiting to be published again (pubsub_publish.c; one given up is
 *     filled from MongoDB by the other gateways' gap backfill);
 *   - a store worker's jobs and the pool's finished ones (worker_job.h), which never let
 *     it fill: a full worker refuses the job instead.
 *
 * Threads: its owner's (the loop thread; a store worker's queue under that worker's
 * mutex).
 */
#ifndef GW_HELD_QUEUE_H
#define GW_HELD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

/** Embedded in each held item; the queue links items through it. */
typedef struct gw_held_link {
    struct gw_held_link *next;
} gw_held_link_t;

typedef struct gw_held {
    gw_held_link_t *head; /* oldest */
    gw_held_link_t *tail;
    size_t len;
    size_t max; /* bound on len (at least 1) */
} gw_held_t;

/** An empty queue of at most max items. */
void gw_held_init(gw_held_t *q, size_t max);
/** Appends item. When the queue was full its oldest item is taken out first and
 *  returned (the caller answers and frees it); else NULL. */
gw_held_link_t *gw_held_push(gw_held_t *q, gw_held_link_t *item);
/** Takes the oldest item out, or NULL when empty. */
gw_held_link_t *gw_held_pop(gw_held_t *q);
/** Takes every item out: the oldest first, linked through next, NULL-terminated. */
gw_held_link_t *gw_held_take_all(gw_held_t *q);

#endif
