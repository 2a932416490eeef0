/*
 * admission_counts.h - this gateway's share of each user's socket count across all
 * gateways (common/user_sockets.h: a Redis hash per user, one field per gateway, that
 * expires unless refreshed, so a killed gateway's sockets free their places). Counted
 * here as sockets are admitted and closed; the decrements go to Redis in batches (a mass
 * close is a few jobs, not one per socket), and every GW_ADMISSION_HEARTBEAT_MS the
 * whole share is written again.
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

#endif
