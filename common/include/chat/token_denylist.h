/*
 * token_denylist.h - server-side revocation of JWTs (SPEC §2 POST /api/auth/logout): a
 * revoked token's jti is kept in Redis under chat:revoked:<jti> (keys.h) until the token's
 * own exp, so the entry disappears exactly when the token would have stopped working
 * anyway. REST refuses a revoked token with 401 invalid_token; the gateway uses the same
 * check (and closes sockets that carry a revoked token with 4001).
 *
 * When Redis cannot answer, check reports CHAT_ERR_UNAVAILABLE and the caller decides;
 * REST lets the token through (fail-open, logged: see docs/OPERATIONS.md), since every
 * other REST answer also degrades rather than stops while Redis is down.
 *
 * Threads: the thread owning the Redis handle (blocking, short timeouts): the REST
 * request loop, a gateway worker - never the gateway's event loop.
 */
#ifndef CHAT_TOKEN_DENYLIST_H
#define CHAT_TOKEN_DENYLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/error.h"
#include "chat/redis_sync.h"

/**
 * Revokes the token jti until exp_sec: SET chat:revoked:<jti> with a TTL of exp_sec -
 * now_sec seconds. CHAT_OK (also when the token has already expired: nothing to keep),
 * CHAT_ERR_INVALID for an empty or over-long jti, CHAT_ERR_UNAVAILABLE when Redis is down.
 */
chat_err_t chat_token_denylist_revoke(chat_redis_t *redis, const char *jti, int64_t exp_sec,
                                      int64_t now_sec);

/**
 * Sets *revoked to whether jti was revoked. A jti of "" (a token issued before tokens
 * carried one) is never revoked. CHAT_OK, or CHAT_ERR_UNAVAILABLE when Redis cannot
 * answer (*revoked is then false).
 */
chat_err_t chat_token_denylist_check(chat_redis_t *redis, const char *jti, bool *revoked);

#endif
