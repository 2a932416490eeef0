/*
 * member_audit.h - membership that holds even when an event is lost (SPEC §5): a removed
 * member's sockets stop receiving the room within GW_AUDIT_MS on every gateway, whether
 * or not the member_removed event reached this gateway.
 *
 * Every GW_AUDIT_MS the gateway reads the membership epoch (member_cache.h: run and
 * version of the room's member set) of every room its sessions watch, in one pipelined
 * round trip on a read worker; for each room whose epoch changed since its watchers were
 * last checked (a join or removal anywhere, a Redis restart or flush) it checks each
 * watching user once, and takes the room away from those who are no longer members
 * (member_removed, then the subscription is dropped). A gap backfill checks the room's
 * watchers the same way before it delivers anything (gw_backfill_check_users).
 *
 * Threads: loop thread; the audit job's run() on a read worker.
 */
#ifndef GW_MEMBER_AUDIT_H
#define GW_MEMBER_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/jwt.h"
#include "chat/store.h"
#include "gateway.h"

#define GW_AUDIT_MS 2000

typedef struct gw_audit gw_audit_t;

gw_audit_t *gw_audit_create(gw_t *gw);
/** Stops the timer; frees once the timer is closed and no audit is in flight. */
void gw_audit_destroy(gw_audit_t *audit);

#endif
