/*
 * slow_consumer.h - the bound of a session's send queue and what happens to a client
 * that does not keep up (the policy session.h states), as pure functions of the queue's
 * size, the limits and the time:
 *   - a queue may go over lim.queue_max_frames / queue_max_bytes for a burst (a batch of
 *     messages is delivered at once); the time it went over is remembered;
 *   - still over lim.slow_grace_ms later, or past GW_QUEUE_HARD_FACTOR times either
 *     bound at any time, the session is cut (4008 slow_consumer);
 *   - back at or under both bounds, the clock restarts;
 *   - replay (subscribe after_seq) only queues a page while the queue is under half the
 *     bounds, and a paused replay resumes once it drained to a quarter.
 *
 * Threads: any (the gateway calls them on the loop thread, from session.c).
 */
#ifndef GW_SLOW_CONSUMER_H
#define GW_SLOW_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway.h"

#define GW_QUEUE_HARD_FACTOR 4

typedef enum gw_slow_verdict {
    GW_SLOW_KEEP = 0, /* queue the frame */
    GW_SLOW_CUT       /* close the session as a slow consumer */
} gw_slow_verdict_t;

/** True when a queue of q_len frames / q_bytes is over either bound. */
bool gw_slow_over(const gw_limits_t *lim, uint32_t q_len, size_t q_bytes);
/** The queue would hold q_len frames / q_bytes with the new frame, over a bound (see
 *  gw_slow_over): starts *over_since_ms at now_ms if not started, and says whether the
 *  session keeps going. */
gw_slow_verdict_t gw_slow_check(const gw_limits_t *lim, uint32_t q_len, size_t q_bytes,
                                int64_t now_ms, int64_t *over_since_ms);
/** After a frame was written: the queue back under its bounds resets *over_since_ms. */
void gw_slow_on_written(const gw_limits_t *lim, uint32_t q_len, size_t q_bytes,
                        int64_t *over_since_ms);
/** True when a replay page of `bytes` more may be queued (under half the bounds). */
bool gw_slow_replay_fits(const gw_limits_t *lim, uint32_t q_len, size_t q_bytes, size_t bytes);
/** True when a replay paused for the queue may go on (drained to a quarter). */
bool gw_slow_replay_resumes(const gw_limits_t *lim, uint32_t q_len, size_t q_bytes);

#endif
