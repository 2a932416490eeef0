/*
 * deadline_set.h - named items each waiting for a deadline (monotonic ms): the room
 * registry's "rooms with a gap backfill due" and "empty rooms lingering before they are
 * dropped". Scheduling an item already waiting keeps the earlier deadline; the due ones
 * are listed, not removed, so that an action that cannot run yet leaves them due for
 * the next tick. Pure: no clock of its own (the caller passes now), no uv.
 *
 * Threads: the owner's only (the loop thread in the gateway).
 */
#ifndef GW_DEADLINE_SET_H
#define GW_DEADLINE_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_deadline_set gw_deadline_set_t;

/** New empty set, or NULL on OOM. */
gw_deadline_set_t *gw_deadline_create(size_t initial_buckets);
/** Frees the set, never the items. Accepts NULL. */
void gw_deadline_destroy(gw_deadline_set_t *ds);

/** key's item (borrowed) is due at `at`, or at its current deadline when that is
 *  earlier. 0, or -1 on OOM (then nothing is scheduled for a new key). */
int gw_deadline_schedule(gw_deadline_set_t *ds, const char *key, void *item, int64_t at);
/** Forgets key (nothing when it is not waiting). */
void gw_deadline_cancel(gw_deadline_set_t *ds, const char *key);
/** True while key waits. */
bool gw_deadline_has(const gw_deadline_set_t *ds, const char *key);
/** key's deadline, or 0 when it is not waiting. */
int64_t gw_deadline_at(const gw_deadline_set_t *ds, const char *key);
size_t gw_deadline_size(const gw_deadline_set_t *ds);

/** The items due at now (deadline <= now) in a new array (caller frees) of *n items;
 *  NULL with *n = 0 when none is due or on OOM. The items stay scheduled. */
void **gw_deadline_due(const gw_deadline_set_t *ds, int64_t now, size_t *n);

#endif
