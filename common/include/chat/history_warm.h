/*
 * history_warm.h - every room's history window built from few reads of `messages`, for
 * a Redis that has none (a first start, a restart without persistence, a flush). Without
 * it each room's first look (a subscribe, a history page) builds that room's window
 * from its own read, and on FerretDB each of those reads is a scan of the whole
 * collection: N rooms cost N scans, here one (or a few). Each read is gathered into each
 * room's newest window as it streams (window_gather.h), so what is held in memory is
 * bounded by the windows (max_messages as planned, ~0.3 KB a message: the
 * decoded message and its strings), not by the collection. When every room with messages
 * needs a window and their windows fit, one read of every message; else the rooms that
 * need one (their heads from room_heads say how much each window holds) go in passes of
 * at most max_messages, each a read of its rooms' messages (`room_id $in`: on FerretDB
 * still a scan, applied in Go), at most max_passes, the rest left to their first looks.
 * A collection whose rooms' heads sum to more than max_read is not read at all. A room
 * whose window is ready or being built by another process is left as it is. A warm-up
 * that finished (the windows built, or rooms left to the per-room builds as too many, or
 * fewer than two rooms with messages found without a ready window when max_rooms asks
 * to look first: readers rebuild windows on their own, a gateway's resubscribe every
 * room it holds) marks the Redis run (chat:rooms:windows:warmed = its run id), so the
 * next caller for the same run, on any process, reads nothing; a flush or a restart of
 * Redis clears the mark, which is how a process notices that Redis lost the read model
 * (chat_history_warm_done).
 *
 * Threads: blocking; the thread that owns h->redis (the gateway's background worker).
 */
#ifndef CHAT_HISTORY_WARM_H
#define CHAT_HISTORY_WARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/error.h"
#include "chat/store.h"

typedef struct chat_history_warm {
    size_t max_messages;  /* in: messages a read's windows hold, as planned from the
                             heads (a read refuses more than twice that) */
    size_t max_passes;    /* in: reads of `messages` at most (0: as many as it takes) */
    size_t max_read;      /* in: more stored than this (the heads' sum): nothing is read
                             (0: no bound) */
    size_t max_rooms;     /* in: look first at the windows of the rooms with messages
                             (room_heads), up to this many rooms (0: do not look; more
                             rooms: read as if none were ready) */
    size_t rooms;         /* out: rooms with messages looked at */
    size_t rooms_missing; /* out: of them without a window ready for this Redis run */
    bool few_missing;     /* out: fewer than 2: nothing read, each builds its own */
    int64_t stored;       /* out: the sum of the rooms' heads (a lower bound) */
    size_t read;          /* out: messages read */
    size_t passes;        /* out: reads of `messages` */
    size_t held_max;      /* out: the most messages one read held (its memory: ~275 B
                             each) */
    size_t rooms_built;   /* out: windows this call built */
    size_t rooms_left;    /* out: rooms left to their first look (ready, busy, failed) */
    bool too_many;        /* out: stored > max_read, or rooms left because their windows
                             did not fit in max_passes passes of max_messages */
    bool another_warms;   /* out: another process holds the warm-up's lock */
    bool already;         /* out: warmed already for this Redis run */
    bool lock_lost;       /* out: its lock expired mid-way (another process may warm):
                             stopped, the run not marked */
} chat_history_warm_t;

/** *done when a warm-up finished for the Redis run the store is connected to (one GET);
 *  CHAT_ERR_UNAVAILABLE without Redis. */
chat_err_t chat_history_warm_done(const chat_store_t *h, bool *done);

/** *busy while a process holds the warm-up's lock (it is warming now: one EXISTS);
 *  CHAT_ERR_UNAVAILABLE without Redis. */
chat_err_t chat_history_warm_busy(const chat_store_t *h, bool *busy);

/** Builds every room's window (see above). CHAT_OK also when it was too big or another
 *  process warms; an error when Redis or MongoDB failed. */
chat_err_t chat_history_warm_all(const chat_store_t *h, chat_history_warm_t *w);

#endif
