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

#include <stdbool.h>
#include <stddef.h>

#include "chat/store.h"
#include "gateway.h"
#include "room_registry.h"

/** Starts a backfill of room unless its last seq is unknown or the gateway stops; one
 *  already in flight is followed by another. On failure the room's gap timer retries. */
void gw_backfill_start(gw_t *gw, gw_room_t *room);

/** Worker thread: gone[i] = users[i] is no longer a member of room_id (answers that
 *  cannot be had leave gone[i] false: Redis and MongoDB both down changes nothing). The
 *  member audit (member_audit.h) asks the same before it takes a room away. */
void gw_backfill_check_users(const chat_store_t *st, const char *room_id,
                             const char (*users)[CHAT_ID_LEN], size_t n, bool *gone);

#endif
