/*
 * limits.c - glue between the REST endpoints and chat_ratelimit_check: bucket keys
 * (chat_key_ratelimit scopes "register_ip", "login_ip", "login_acct", "room_create",
 * "api"), rates from the configuration, and the 429 answer.
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on chat/ratelimit.h
 * (Redis bucket, local fallback) and chat/keys.h.
 */
#include "limits.h"

#include <stdint.h>
#include <stdio.h>

#include "chat/hash.h"
#include "chat/keys.h"
#include "chat/membership.h"
#include "chat/validate.h"

void rest_limit_bucket(double count, double period_sec, double *rate, double *burst)
{
    if (!(count > 0) || !(period_sec > 0)) {
        *rate = 0;
        *burst = 0;
        return;
    }
    *rate = count / period_sec;
    *burst = count < 1 ? 1 : count;
}

static bool limits__take(rest_ctx_t *ctx, const char *scope, const char *subject, double rate,
                         double burst, rest_response_t *resp)
{
    char key[CHAT_KEY_LEN];
    int64_t retry_ms = 0;

    if (!(rate > 0)) {
        return true;
    }
    chat_key_ratelimit(scope, subject[0] != '\0' ? subject : "unknown", key, sizeof(key));
    if (chat_ratelimit_check(ctx->redis, ctx->limiter, key, rate, burst, &retry_ms)) {
        return true;
    }
    rest_response_rate_limited(resp, retry_ms);
    return false;
}

bool rest_limit_register(rest_ctx_t *ctx, const rest_request_t *req, rest_response_t *resp)
{
    double rate;
    double burst;

    rest_limit_bucket(ctx->cfg->rate_register_per_hour, 3600.0, &rate, &burst);
    return limits__take(ctx, "register_ip", req->remote_addr, rate, burst, resp);
}

bool rest_limit_login_ip(rest_ctx_t *ctx, const rest_request_t *req, rest_response_t *resp)
{
    double rate;
    double burst;

    rest_limit_bucket(ctx->cfg->rate_login_per_min, 60.0, &rate, &burst);
    return limits__take(ctx, "login_ip", req->remote_addr, rate, burst, resp);
}

/* Emails can be long and contain anything: the bucket is keyed by a 64-bit FNV-1a hash
 * of the lower-cased address, which keeps keys short and the address out of Redis. */
bool rest_limit_login_account(rest_ctx_t *ctx, const char *email, rest_response_t *resp)
{
    uint64_t h = CHAT_HASH_FNV1A64_BASIS;
    char subject[17];
    double rate;
    double burst;

    for (const char *p = email; p != NULL && *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 'A' && c <= 'Z') {
            c = (unsigned char)(c - 'A' + 'a');
        }
        h = chat_hash_fnv1a64_update(h, &c, 1);
    }
    snprintf(subject, sizeof(subject), "%016llx", (unsigned long long)h);
    rest_limit_bucket(ctx->cfg->rate_login_per_min, 60.0, &rate, &burst);
    return limits__take(ctx, "login_acct", subject, rate, burst, resp);
}

bool rest_limit_room_create(rest_ctx_t *ctx, const char *user_id, rest_response_t *resp)
{
    double rate;
    double burst;

    rest_limit_bucket(ctx->cfg->rate_room_create_per_min, 60.0, &rate, &burst);
    return limits__take(ctx, "room_create", user_id, rate, burst, resp);
}

bool rest_limit_membership(rest_ctx_t *ctx, const char *user_id, rest_response_t *resp)
{
    int64_t retry_ms = 0;

    if (chat_membership_charge(&ctx->store, user_id, ctx->cfg->rate_membership_per_min,
                               &retry_ms) == CHAT_OK) {
        return true;
    }
    rest_response_rate_limited(resp, retry_ms);
    return false;
}

bool rest_limit_api(rest_ctx_t *ctx, const char *user_id, rest_response_t *resp)
{
    double rate = ctx->cfg->rate_api_per_sec;

    return limits__take(ctx, "api", user_id, rate, 2.0 * rate < 1 ? 1 : 2.0 * rate, resp);
}
