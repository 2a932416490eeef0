/*
 * room_registry_internal.h - what room_registry.c lends to room_backfill.c: offering a
 * backfilled message to a room and the room's gap timer. Not for other modules: they
 * use room_registry.h.
 *
 * Threads: loop thread only.
 */
#ifndef GW_ROOM_REGISTRY_INTERNAL_H
#define GW_ROOM_REGISTRY_INTERNAL_H

#include <stdint.h>

#include "room_registry.h"

/** The in-order rule for one message of room (frame borrowed); schedules or clears the
 *  room's gap timer as the reorder buffer says. */
void gw_registry_offer_room(gw_registry_t *reg, gw_room_t *room, int64_t seq, gw_frame_t *frame);
/** No backfill is due for room any more. */
void gw_registry_gap_clear(gw_registry_t *reg, gw_room_t *room);
/** A backfill of room is due in delay_ms (or earlier, when one is due sooner). */
void gw_registry_gap_schedule(gw_registry_t *reg, gw_room_t *room, int64_t delay_ms);

#endif
