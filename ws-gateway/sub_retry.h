/*
 * sub_retry.h - the subscriptions waiting to send their request again: MongoDB was
 * unavailable or the workers were saturated, so the request is retried with backoff
 * (SUB_RETRY_MIN_MS doubling to SUB_RETRY_MAX_MS) instead of being dropped, and
 * subscriptions recover on their own. An intrusive list through gw_sub_t, headed at
 * gw->sub_retry_head.
 *
 * Threads: loop thread only.
 */
#ifndef GW_SUB_RETRY_H
#define GW_SUB_RETRY_H

#include <stdint.h>

#include "gateway.h"

/** Puts sub (its job no longer in flight) on the list to send kind again after its
 *  next backoff; already listed: moved, with the longer backoff. */
void gw_sub_retry_schedule(gw_t *gw, gw_sub_t *sub, int kind);
/** Takes sub off the list (no-op when it is not on it). Its backoff is kept. */
void gw_sub_retry_unlink(gw_t *gw, gw_sub_t *sub);
/** Takes every sub whose time has come (now_ms, monotonic) off the list and calls
 *  fn(sub, kind) for each; fn may schedule it again. */
void gw_sub_retry_run_due(gw_t *gw, int64_t now_ms, void (*fn)(gw_sub_t *sub, int kind));

#endif
