/*
 * slow_consumer.c - the send queue bound and the slow-consumer decision (see the
 * header).
 *
 * Threads: any.
 */
#include "slow_consumer.h"

bool gw_slow_over(const gw_limits_t *lim, uint32_t q_len, size_t q_bytes)
{
    return q_len > lim->queue_max_frames || q_bytes > lim->queue_max_bytes;
}

gw_slow_verdict_t gw_slow_check(const gw_limits_t *lim, uint32_t q_len, size_t q_bytes,
                                int64_t now_ms, int64_t *over_since_ms)
{
    /* a burst a reading client drains within the grace is fine; a client that stays
     * over the bound, or passes GW_QUEUE_HARD_FACTOR times it, is cut off */
    if (*over_since_ms == 0) {
        *over_since_ms = now_ms;
    }
    if (now_ms - *over_since_ms > lim->slow_grace_ms ||
        q_len > lim->queue_max_frames * GW_QUEUE_HARD_FACTOR ||
        q_bytes > lim->queue_max_bytes * GW_QUEUE_HARD_FACTOR) {
        return GW_SLOW_CUT;
    }
    return GW_SLOW_KEEP;
}

void gw_slow_on_written(const gw_limits_t *lim, uint32_t q_len, size_t q_bytes,
                        int64_t *over_since_ms)
{
    if (*over_since_ms != 0 && !gw_slow_over(lim, q_len, q_bytes)) {
        *over_since_ms = 0; /* drained back under the bound in time */
    }
}

bool gw_slow_replay_fits(const gw_limits_t *lim, uint32_t q_len, size_t q_bytes, size_t bytes)
{
    return q_len + 1 <= lim->queue_max_frames / 2 && q_bytes + bytes <= lim->queue_max_bytes / 2;
}

bool gw_slow_replay_resumes(const gw_limits_t *lim, uint32_t q_len, size_t q_bytes)
{
    return q_len <= lim->queue_max_frames / 4 && q_bytes <= lim->queue_max_bytes / 4;
}
