/*
 * health.c - GET /health: pings MongoDB and Redis from this process and answers
 * 200 {status: "ok", mongo: "ok", redis: "ok"} or 503 with the failing one "down".
 * No authentication, no rate limit; each ping is bounded by its client's timeout
 * (MONGO_TIMEOUT_MS, the Redis connect/command timeout), so it answers within ~2 s.
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on chat/db.h and
 * chat/redis_sync.h.
 */
#include "handlers.h"

/** Pure: the health document (new reference) and its status for the two dependencies. */
json_t *rest_health_doc(bool mongo_ok, bool redis_ok, int *status);

json_t *rest_health_doc(bool mongo_ok, bool redis_ok, int *status)
{
    bool ok = mongo_ok && redis_ok;

    *status = ok ? 200 : 503;
    return json_pack("{s:s, s:s, s:s}", "status", ok ? "ok" : "degraded", "mongo",
                     mongo_ok ? "ok" : "down", "redis", redis_ok ? "ok" : "down");
}

void rest_health(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    bool mongo_ok = chat_db_ping(ctx->db) == CHAT_OK;
    bool redis_ok = chat_redis_ping(ctx->redis) == CHAT_OK;
    int status = 503;
    json_t *doc = rest_health_doc(mongo_ok, redis_ok, &status);

    (void)req;
    rest_response_json(resp, status, doc);
}
