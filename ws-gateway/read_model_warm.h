/*
 * read_model_warm.h - the gateway's looks at the read model in Redis. At start, a Redis
 * without it (fresh, flushed, or a first run) gets the set of all user ids and the
 * usernames (one read of users), everybody's room sets and every room's member set (one
 * read of room_members) and every room's history window (one read of messages,
 * history_warm.h) at once, instead of from the first sockets' admission, the first look
 * at each room and the first search; one gateway builds, the others wait for it. So does
 * a Redis whose set of ids REST rebuilt before the gateway looked (a flush while the
 * gateway was down): no mark of the windows' warm-up for this Redis run. When an
 * admission batch finds the read model cold mid-run, the room sets again, and then the
 * windows (at most once per Redis run across all processes). And every
 * GW_READ_MODEL_CHECK_MS a look at the mark the windows' warm-up leaves on the Redis run
 * (history_warm.h): one GET while it is there; when Redis restarted or was flushed and no
 * process has warmed since (two looks in a row found it missing, and no process holds
 * the warm-up's lock: one is warming now), everything the start
 * warms — whoever touched Redis first
 * (REST rebuilds the set of ids on its own), and whether or not new sockets arrive. Each
 * warm-up is counted (chat_gateway_read_model_warms_total{outcome}) and timed once the
 * sets and the windows are there.
 *
 * Threads: see each function.
 */
#ifndef GW_READ_MODEL_WARM_H
#define GW_READ_MODEL_WARM_H

#include "chat/store.h"
#include "gateway.h"
#include "gateway_metrics.h"

/** Loop thread: queues the start's look on the background worker. */
void gw_read_model_warm_at_start(gw_t *gw);

/* How often the loop looks at the read model's mark; after Redis or MongoDB failed a
 * look, the next one waits longer (the failure has its own logs). */
#define GW_READ_MODEL_CHECK_MS 2000
#define GW_READ_MODEL_RECHECK_MS 5000

/** Loop thread (the gateway's 1 s tick): queues the look at the mark on the background
 *  worker when it is due and none is queued. */
void gw_read_model_check(gw_t *gw);

/** Loop thread: an admission batch found the read model cold (its worker warmed the room
 *  sets): the look runs now and acts without waiting for a second one, so the windows
 *  follow (when a look is already queued, the one after it acts). */
void gw_read_model_found_cold(gw_t *gw);

/** A worker that found the read model cold: everybody's room sets now (metrics may be
 *  NULL; gateway_id and metrics outlive the workers). */
void gw_read_model_warm_everybody(const chat_store_t *st, const char *gateway_id,
                                  gw_metrics_t *metrics, const char *why);

#endif
