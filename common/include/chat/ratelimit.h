/*
 * ratelimit.h - token-bucket rate limits shared by every process through Redis (one
 * Lua script, atomic, using Redis's own clock), with a per-process fallback bucket
 * table used while Redis is down. rest-fcgi uses chat_ratelimit_check(); the gateway
 * sends CHAT_RATELIMIT_LUA with hiredis async and decodes with
 * chat_ratelimit_parse_reply(). The local limiter is not thread-safe: one per thread.
 */
#ifndef CHAT_RATELIMIT_H
#define CHAT_RATELIMIT_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/redis_scripts.h"
#include "chat/redis_sync.h"

/**
 * EVAL script: KEYS[1] = bucket key; ARGV[1] = rate (tokens/s, float), ARGV[2] = burst,
 * ARGV[3] = cost. Returns {allowed (1|0), retry_after_ms}.
 */
#define CHAT_RATELIMIT_LUA (chat_redis_script(CHAT_SCRIPT_RATELIMIT)->source)

/** Decodes the script's reply. Returns 0, or -1 for an unexpected reply. */
int chat_ratelimit_parse_reply(const redisReply *reply, bool *allowed, int64_t *retry_after_ms);

typedef struct chat_local_limiter chat_local_limiter_t;

/** A bounded table of buckets (capacity entries; the stalest is evicted when full). */
chat_local_limiter_t *chat_local_limiter_create(size_t capacity);
void chat_local_limiter_destroy(chat_local_limiter_t *l); /* accepts NULL */

/** Takes one token from key's bucket at now_ms. True if allowed; else *retry_after_ms. */
bool chat_local_limiter_take(chat_local_limiter_t *l, const char *key, double rate_per_sec,
                             double burst, int64_t now_ms, int64_t *retry_after_ms);

/**
 * Takes one token from the shared bucket key (a chat_key_ratelimit name). rate_per_sec
 * <= 0 means the limit is off (always allowed). Falls back to local (may be NULL: then
 * allowed) when Redis is down. *retry_after_ms is set when refused.
 */
bool chat_ratelimit_check(chat_redis_t *redis, chat_local_limiter_t *local, const char *key,
                          double rate_per_sec, double burst, int64_t *retry_after_ms);

#endif
