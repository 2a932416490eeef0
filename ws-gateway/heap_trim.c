/*
 * heap_trim.c - when to give freed heap back to the system (see heap_trim.h).
 *
 * Threads: loop thread.
 */
#include "heap_trim.h"

size_t gw_heap_trim_estimate(size_t sockets, size_t rooms, size_t presence_seen,
                             size_t cached_bytes)
{
    return sockets * GW_TRIM_SOCKET_BYTES + rooms * GW_TRIM_ROOM_BYTES +
        presence_seen * GW_TRIM_PRESENCE_BYTES + cached_bytes;
}

bool gw_heap_trim_due(gw_heap_trim_t *t, size_t held)
{
    if (held > t->high) {
        t->high = held;
        return false;
    }
    if (t->high - held >= GW_TRIM_MIN_BYTES && held <= t->high / 2) {
        t->high = held;
        return true;
    }
    return false;
}
