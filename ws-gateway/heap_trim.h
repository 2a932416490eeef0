/*
 * heap_trim.h - when a gateway gives freed heap back to the system (malloc_trim): once
 * the memory it holds for sockets, watched rooms, their cached frames and the presence
 * statuses it remembers (an estimate from their counts, with the per-item costs measured
 * in docs/BENCHMARKS.md) has fallen to half of its peak, by at least GW_TRIM_MIN_BYTES,
 * it trims once and starts a new peak. Without it, a gateway keeps the RSS of its
 * busiest moment after a mass close or after many rooms lost their last watcher. Pure:
 * the decision only; main.c's tick calls malloc_trim.
 *
 * Threads: loop thread.
 */
#ifndef GW_HEAP_TRIM_H
#define GW_HEAP_TRIM_H

#include <stdbool.h>
#include <stddef.h>

#define GW_TRIM_SOCKET_BYTES 4096 /* 3.4 KB per idle socket, measured */
#define GW_TRIM_ROOM_BYTES 1024   /* ~1.1 KB per watched room without frames, measured */
#define GW_TRIM_PRESENCE_BYTES 80 /* a remembered presence status: node and buckets */
/* a mass close of 1,000 idle sockets, or ~4 MB of rooms and cached frames */
#define GW_TRIM_MIN_BYTES (1000 * (size_t)GW_TRIM_SOCKET_BYTES)
/* glibc raises its trim threshold to twice the largest mmapped block freed (up to 64 MB),
 * and malloc_trim gives back a worker thread's arena's free pages inside it but not the
 * free memory at its top: a gateway fixes the threshold at this (main.c, mallopt; an
 * operator's GLIBC_TUNABLES naming a threshold wins). Measured, 50 rooms' 12 MB of frames
 * released: RSS back to 108.6-109.8 % of before in 5 runs, 108-121 % without (12 runs). */
#define GW_TRIM_THRESHOLD_BYTES (128 * 1024)

typedef struct gw_heap_trim {
    size_t high; /* the most held since the last trim */
} gw_heap_trim_t;

/** The bytes held for sockets open, rooms known, presence statuses remembered and
 *  cached_bytes of recent frames. */
size_t gw_heap_trim_estimate(size_t sockets, size_t rooms, size_t presence_seen,
                             size_t cached_bytes);
/** Notes held (an estimate) and says whether to trim now (then held is the new peak). */
bool gw_heap_trim_due(gw_heap_trim_t *t, size_t held);

#endif
