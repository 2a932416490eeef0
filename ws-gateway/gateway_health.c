/*
 * gateway_health.c - readiness and liveness of the gateway (see gateway_health.h).
 *
 * Threads: loop thread; health__ping_run on a read worker (it only pings MongoDB).
 */
#include "gateway_health.h"

#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/db.h"
#include "pubsub.h"
#include "store_worker.h"
#include "upgrade_auth.h"

#define HEALTH__PING_EVERY_MS 1000
#define HEALTH__MONGO_STALE_MS 3000

struct gw_health {
    gw_t *gw;
    uv_timer_t timer;
    bool ping_in_flight;
    bool closing;
    bool timer_closed;
    bool ever_ok;
    int64_t mongo_ok_ms; /* monotonic: the last ping MongoDB answered */
    bool last_ping_failed;
};

typedef struct health__ping_job {
    gw_job_t job;
    gw_health_t *health;
    chat_err_t err;
} health__ping_job_t;

static void health__maybe_free(gw_health_t *h)
{
    if (h->closing && h->timer_closed && !h->ping_in_flight) {
        free(h);
    }
}

static void health__ping_run(gw_job_t *job, gw_store_worker_t *w)
{
    ((health__ping_job_t *)job)->err = chat_db_ping(gw_store_worker_db(w));
}

static void health__ping_done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    health__ping_job_t *j = (health__ping_job_t *)job;
    gw_health_t *h = j->health;

    (void)gw;
    h->ping_in_flight = false;
    if (!cancelled) {
        h->last_ping_failed = j->err != CHAT_OK;
        if (j->err == CHAT_OK) {
            h->mongo_ok_ms = chat_clock_monotonic_ms();
            h->ever_ok = true;
        }
    }
    free(j);
    health__maybe_free(h);
}

static void health__on_timer(uv_timer_t *t)
{
    gw_health_t *h = t->data;
    health__ping_job_t *j;

    if (h->closing || h->ping_in_flight) {
        return; /* a ping still waiting counts as no answer once it is stale */
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return;
    }
    j->job.run = health__ping_run;
    j->job.done = health__ping_done;
    j->health = h;
    if (gw_store_workers_submit_read(h->gw->workers, &j->job) != 0) {
        free(j);
        return;
    }
    h->ping_in_flight = true;
}

gw_health_t *gw_health_create(gw_t *gw)
{
    gw_health_t *h = calloc(1, sizeof(*h));

    if (h == NULL) {
        return NULL;
    }
    h->gw = gw;
    uv_timer_init(&gw->loop, &h->timer);
    h->timer.data = h;
    uv_timer_start(&h->timer, health__on_timer, 0, HEALTH__PING_EVERY_MS);
    return h;
}

static void health__on_timer_closed(uv_handle_t *handle)
{
    gw_health_t *h = handle->data;

    h->timer_closed = true;
    health__maybe_free(h);
}

void gw_health_destroy(gw_health_t *h)
{
    if (h == NULL) {
        return;
    }
    h->closing = true;
    uv_timer_stop(&h->timer);
    uv_close((uv_handle_t *)&h->timer, health__on_timer_closed);
}

bool gw_health_mongo_up(const gw_health_t *h)
{
    return h != NULL && h->ever_ok && !h->last_ping_failed &&
        chat_clock_monotonic_ms() - h->mongo_ok_ms <= HEALTH__MONGO_STALE_MS;
}

int gw_health_respond(gw_t *gw, struct lws *wsi, const char *path)
{
    bool redis_up;
    bool mongo_up;
    bool ready;

    if (strcmp(path, "/livez") == 0) {
        return gw_upgrade_auth_respond_json(
            wsi, 200, json_pack("{s:s, s:s}", "status", "ok", "gateway", gw->cfg.gateway_id));
    }
    if (strcmp(path, "/health") != 0) {
        return -1;
    }
    redis_up = gw_pubsub_up(gw->pubsub);
    mongo_up = gw_health_mongo_up(gw->health);
    ready = redis_up && mongo_up && !gw->draining;
    return gw_upgrade_auth_respond_json(
        wsi, ready ? 200 : 503,
        json_pack("{s:s, s:s, s:s, s:s, s:I}", "status",
                  gw->draining ? "draining"
                      : ready  ? "ok"
                               : "degraded",
                  "redis", redis_up ? "ok" : "down", "mongo", mongo_up ? "ok" : "down", "gateway",
                  gw->cfg.gateway_id, "connections", (json_int_t)gw->n_sessions));
}
