/*
 * health.c - GET /health. A prober thread pings MongoDB and Redis once a second (each
 * ping bounded by its client's timeout) and publishes the outcome in atomics; the
 * handler only reads them, so /health never waits on a query, however slow the
 * databases are: 200 {status: "ok", mongo: "ok", redis: "ok"} when both answered a ping
 * at its last try and within the last few seconds, else 503 with the failing one "down"
 * (readiness: a load balancer stops sending traffic here while a dependency is away).
 *
 * Threads: rest_health runs on the process's only request thread (FastCGI accept loop);
 * health__main on the prober thread, which owns its own Redis client and borrows clients
 * from the thread-safe MongoDB pool. They share only the atomics in rest_health_t.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "chat/clock.h"
#include "chat/log.h"

#include "handlers.h"

#define HEALTH__PROBE_MS 1000
#define HEALTH__REDIS_TIMEOUT_MS 1000

struct rest_health {
    chat_db_t *db;
    chat_redis_t *redis; /* the prober's own */
    pthread_t thread;
    bool started;
    atomic_bool stop;
    atomic_int_fast64_t mongo_ok_ms; /* monotonic time of the last good ping (0: never) */
    atomic_int_fast64_t redis_ok_ms;
    atomic_bool mongo_failed; /* the last ping failed */
    atomic_bool redis_failed;
};

/** Pure: the health document (new reference) and its status for the two dependencies. */
json_t *rest_health_doc(bool mongo_ok, bool redis_ok, int *status);

json_t *rest_health_doc(bool mongo_ok, bool redis_ok, int *status)
{
    bool ok = mongo_ok && redis_ok;

    *status = ok ? 200 : 503;
    return json_pack("{s:s, s:s, s:s}", "status", ok ? "ok" : "degraded", "mongo",
                     mongo_ok ? "ok" : "down", "redis", redis_ok ? "ok" : "down");
}

static void *health__main(void *arg)
{
    rest_health_t *h = arg;

    while (!atomic_load(&h->stop)) {
        int64_t t0 = chat_clock_monotonic_ms();
        struct timespec ts;

        bool mongo_ok = chat_db_ping(h->db) == CHAT_OK;
        bool redis_ok = chat_redis_ping(h->redis) == CHAT_OK;

        if (mongo_ok) {
            atomic_store(&h->mongo_ok_ms, chat_clock_monotonic_ms());
        }
        if (redis_ok) {
            atomic_store(&h->redis_ok_ms, chat_clock_monotonic_ms());
        }
        atomic_store(&h->mongo_failed, !mongo_ok);
        atomic_store(&h->redis_failed, !redis_ok);
        for (int64_t waited = chat_clock_monotonic_ms() - t0;
             waited < HEALTH__PROBE_MS && !atomic_load(&h->stop); waited += 50) {
            ts.tv_sec = 0;
            ts.tv_nsec = 50 * 1000000L;
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
    }
    return NULL;
}

rest_health_t *rest_health_start(chat_db_t *db, const char *redis_url, bool redis_cluster)
{
    rest_health_t *h = calloc(1, sizeof(*h));
    char err[256];

    if (h == NULL) {
        return NULL;
    }
    h->db = db;
    atomic_init(&h->stop, false);
    atomic_init(&h->mongo_ok_ms, 0);
    atomic_init(&h->redis_ok_ms, 0);
    atomic_init(&h->mongo_failed, false);
    atomic_init(&h->redis_failed, false);
    h->redis =
        chat_redis_create(redis_url, redis_cluster, HEALTH__REDIS_TIMEOUT_MS, err, sizeof(err));
    if (h->redis == NULL || pthread_create(&h->thread, NULL, health__main, h) != 0) {
        chat_log_error("cannot start the health prober", "error",
                       h->redis == NULL ? err : "thread");
        chat_redis_destroy(h->redis);
        free(h);
        return NULL;
    }
    h->started = true;
    return h;
}

void rest_health_stop(rest_health_t *h)
{
    if (h == NULL) {
        return;
    }
    atomic_store(&h->stop, true);
    if (h->started) {
        pthread_join(h->thread, NULL);
    }
    chat_redis_destroy(h->redis);
    free(h);
}

/* A dependency counts as up while its last good ping is this recent. */
#define HEALTH__STALE_MS (3 * HEALTH__PROBE_MS)

void rest_health_state(const rest_health_t *h, bool *mongo_up, bool *redis_up)
{
    int64_t now = chat_clock_monotonic_ms();
    int64_t mongo = h != NULL ? atomic_load(&h->mongo_ok_ms) : 0;
    int64_t redis = h != NULL ? atomic_load(&h->redis_ok_ms) : 0;

    *mongo_up = mongo > 0 && now - mongo <= HEALTH__STALE_MS && !atomic_load(&h->mongo_failed);
    *redis_up = redis > 0 && now - redis <= HEALTH__STALE_MS && !atomic_load(&h->redis_failed);
}

void rest_health(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    bool mongo_up;
    bool redis_up;
    int status = 503;
    json_t *doc;

    (void)req;
    rest_health_state(ctx->health, &mongo_up, &redis_up);
    doc = rest_health_doc(mongo_up, redis_up, &status);
    rest_response_json(resp, status, doc);
}
