/*
 * limits.h - the REST rate limits of SPEC §5/§6 on top of chat_ratelimit_check (Redis
 * token buckets shared by every chat-api process, with this process's local buckets as
 * the fallback while Redis is down). Each function returns true when allowed, else
 * fills a 429 rate_limited answer with Retry-After and returns false. A configured rate
 * of 0 turns that limit off.
 * Thread: the process's only thread (FastCGI accept loop).
 */
#ifndef REST_LIMITS_H
#define REST_LIMITS_H

#include <stdbool.h>

#include "handlers.h"

/** Registrations per client IP: RATE_REGISTER_PER_HOUR (burst = the hourly number). */
bool rest_limit_register(rest_ctx_t *ctx, const rest_request_t *req, rest_response_t *resp);

/** Logins per client IP: RATE_LOGIN_PER_MIN (burst = the per-minute number). */
bool rest_limit_login_ip(rest_ctx_t *ctx, const rest_request_t *req, rest_response_t *resp);

/** Logins per account (email, case-insensitive): RATE_LOGIN_PER_MIN. */
bool rest_limit_login_account(rest_ctx_t *ctx, const char *email, rest_response_t *resp);

/** Room creations per user: RATE_ROOM_CREATE_PER_MIN. */
bool rest_limit_room_create(rest_ctx_t *ctx, const char *user_id, rest_response_t *resp);
/** A membership change (join, leave, add, remove) by user_id: RATE_MEMBERSHIP_PER_MIN,
 *  shared with the gateways' join/leave frames. */
bool rest_limit_membership(rest_ctx_t *ctx, const char *user_id, rest_response_t *resp);

/** Every other authenticated call per user: RATE_API_PER_SEC, burst 2x the rate. */
bool rest_limit_api(rest_ctx_t *ctx, const char *user_id, rest_response_t *resp);

/** A per-minute / per-hour count as the (rate per second, burst) of a token bucket. */
void rest_limit_bucket(double count, double period_sec, double *rate, double *burst);

#endif
