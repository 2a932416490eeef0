/*
 * reorder_buffer.h - the in-order, exactly-once rule of one room, as a pure state
 * machine over a bounded buffer of out-of-order frames (no lws, uv or Redis calls):
 * a seq at or below the room's last is a duplicate and is dropped; last + 1 is
 * delivered and releases its buffered successors; anything later waits, sorted, in at
 * most `max` slots. When the buffer is full the highest seqs are the ones given up and
 * `overflow` is set: the room's gap backfill reads what was dropped. The caller (the
 * room registry) owns `last` and the gap timer; this module tells it when a gap is
 * still open (gw_reorder_waiting).
 *
 * Threads: loop thread only (each buffer belongs to one room of room_registry.c).
 */
#ifndef GW_REORDER_BUFFER_H
#define GW_REORDER_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared_frame.h"

typedef struct gw_buffered {
    int64_t seq;
    gw_frame_t *frame; /* one reference held by the buffer */
} gw_buffered_t;

typedef struct gw_reorder {
    gw_buffered_t *buf; /* out-of-order successors, ascending seq, no repeats */
    uint32_t n;
    size_t cap;
    uint32_t max;  /* bound on n */
    bool overflow; /* something was given up: keep backfilling until caught up */
} gw_reorder_t;

typedef enum gw_reorder_result {
    GW_REORDER_DUPLICATE = 0, /* seq <= last: dropped */
    GW_REORDER_DELIVERED,     /* seq == last + 1: delivered, successors drained */
    GW_REORDER_BUFFERED       /* a gap before it: kept (or given up: overflow) */
} gw_reorder_result_t;

/** Called for each seq that becomes the room's next in order (frame borrowed); *last is
 *  set to seq right after it returns. */
typedef void gw_reorder_deliver_fn(void *arg, int64_t seq, gw_frame_t *frame);

/** An empty buffer holding at most max frames. */
void gw_reorder_init(gw_reorder_t *rb, uint32_t max);
/** Drops every buffered frame and frees the storage (rb can be used again). */
void gw_reorder_clear(gw_reorder_t *rb);

/** Keeps seq (takes a reference to frame) until its turn; a seq already waiting is
 *  ignored. Used as is while the room's last is not known yet. */
void gw_reorder_insert(gw_reorder_t *rb, int64_t seq, gw_frame_t *frame);
/** The in-order rule for seq against *last (frame borrowed): see gw_reorder_result_t. */
gw_reorder_result_t gw_reorder_offer(gw_reorder_t *rb, int64_t *last, int64_t seq,
                                     gw_frame_t *frame, gw_reorder_deliver_fn *deliver, void *arg);
/** Delivers the buffered seqs that follow *last without a hole, drops those at or
 *  below it. */
void gw_reorder_drain(gw_reorder_t *rb, int64_t *last, gw_reorder_deliver_fn *deliver, void *arg);

/** True while a gap is open: frames wait for a missing seq, or some were given up. */
bool gw_reorder_waiting(const gw_reorder_t *rb);
/** The highest seq seen: the last buffered one when above last, else last. */
int64_t gw_reorder_highest(const gw_reorder_t *rb, int64_t last);
/** After a backfill page that ended at last (page_n messages read, head the room's
 *  highest seq when it was read): true when another page must follow. */
bool gw_reorder_page_more(int64_t last, size_t page_n, int64_t head);

#endif
