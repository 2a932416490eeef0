/*
 * room_backfill.h - gap backfill of one room: reads the stored messages after the
 * room's last delivered seq on a reader worker (the Redis window, else MongoDB) and
 * offers them to the room in order, page after page until the head the store had when
 * the page was read. It also checks the room's live watchers' membership again, since
 * an event lost with the connection that caused the gap may have been a removal. Runs
 * when a gap is not filled within lim.gap_wait_ms, when the buffer overflowed, and after
 * the room's channel is (re)subscribed.
 *
 * Threads: loop thread (the job's run() on a reader worker).
 */
#ifndef GW_ROOM_BACKFILL_H
#define GW_ROOM_BACKFILL_H

#include "gateway.h"
#include "room_registry.h"

/** Starts a backfill of room unless its last seq is unknown or the gateway stops; one
 *  already in flight is followed by another. On failure the room's gap timer retries. */
void gw_backfill_start(gw_t *gw, gw_room_t *room);

#endif
