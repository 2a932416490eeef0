/*
 * user_sockets.h - how many sockets a user holds across every gateway, so that
 * MAX_SOCKETS_PER_USER counts all of them (SPEC §6): a hash per user in Redis
 * (chat:{<user>}:sockets) of gateway id -> count with an expiry each gateway refreshes
 * (CHAT_USER_SOCKETS_TTL_MS), so the sockets of a gateway that died stop counting on
 * their own. One script (user_sockets.lua) per change, atomic.
 *
 * Blocking; the thread owning the chat_redis_t (gateway workers).
 */
#ifndef CHAT_USER_SOCKETS_H
#define CHAT_USER_SOCKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/error.h"
#include "chat/jwt.h"
#include "chat/redis_sync.h"

#define CHAT_USER_SOCKETS_TTL_MS 30000

/** One more socket of user_id on gateway_id, unless that makes more than max (0: no
 *  limit) across all gateways: *admitted. CHAT_ERR_UNAVAILABLE when Redis does not
 *  answer (the caller decides; nothing was counted). */
chat_err_t chat_user_sockets_open(chat_redis_t *r, const char *user_id, const char *gateway_id,
                                  int max, bool *admitted);

/** One socket fewer (best effort). */
chat_err_t chat_user_sockets_close(chat_redis_t *r, const char *user_id, const char *gateway_id);

/** Refreshes this gateway's counts of users[0..n) (counts[i] sockets each; 0 drops the
 *  entry), pipelined: the heartbeat that keeps them from expiring. */
chat_err_t chat_user_sockets_refresh(chat_redis_t *r, const char *gateway_id,
                                     const char (*users)[CHAT_ID_LEN], const uint32_t *counts,
                                     size_t n);

#endif
