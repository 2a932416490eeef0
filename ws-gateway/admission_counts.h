/*
 * admission_counts.h - this gateway's share of each user's socket count across all
 * gateways (common/user_sockets.h: a Redis hash per user, one field per gateway, that
 * expires unless refreshed, so a killed gateway's sockets free their places). Counted
 * here as sockets are admitted and closed; the decrements go to Redis in batches (a mass
 * close is a few jobs, not one per socket), and every GW_ADMISSION_HEARTBEAT_MS the
 * whole share is written again. Beside it, the sockets each user has open on this
 * gateway from the upgrade on (admitted or still being checked), which the upgrade
 * refuses over MAX_SOCKETS_PER_USER with a 429 before admission's cluster-wide check.
 *
 * Threads: loop thread; the jobs' run functions on read workers.
 */
#ifndef GW_ADMISSION_COUNTS_H
#define GW_ADMISSION_COUNTS_H

#include "gateway.h"

#define GW_ADMISSION_HEARTBEAT_MS 10000

/** Creates the counts and sets gw->admission_counts; tick(gw) runs with every heartbeat
 *  (admission pumps its waiting sockets there). */
gw_admission_counts_t *gw_admission_counts_create(gw_t *gw, void (*tick)(gw_t *gw));
/** Stops the heartbeat and clears gw->admission_counts; frees once its timer is closed.
 *  Accepts NULL. */
void gw_admission_counts_destroy(gw_admission_counts_t *c);

/** One more socket of user_id counted in Redis (admission did the increment). Accepts
 *  NULL (shutting down). */
void gw_admission_counts_add(gw_admission_counts_t *c, const char *user_id);
/** One socket of user_id fewer: here at once, in Redis with the next batch (best effort:
 *  the heartbeat corrects it). */
void gw_admission_counts_remove(gw_t *gw, const char *user_id);

/** A socket of user_id was upgraded here / closed (the session's open and closed
 *  events); open_here is how many are open now. All accept NULL (shutting down: 0). */
void gw_admission_counts_opened(gw_admission_counts_t *c, const char *user_id);
void gw_admission_counts_closed(gw_admission_counts_t *c, const char *user_id);
uint32_t gw_admission_counts_open_here(const gw_admission_counts_t *c, const char *user_id);

#endif
