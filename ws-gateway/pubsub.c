/*
 * pubsub.c - Redis for the gateway: a subscribe-mode connection (room and user channels
 * plus this gateway's control channel chat:gw:<id>) and a command connection, both
 * hiredis async on the gateway's libuv loop. This file creates and frees the module and
 * keeps both connections honest: every second the command connection is PINGed and
 * publishes a heartbeat on the control channel, which the subscribe connection must
 * see; a connection that stops answering is killed and reconnected
 * (pubsub_conn.c). Channels live in pubsub_channels.c, PUBLISH and its retry queue in
 * pubsub_publish.c. With REDIS_CLUSTER=1 the two connections are not used: cluster
 * mode (pubsub_cluster*.c) keeps a pair per master, and this file's health timer drives
 * it every GW_PUBSUB_CLUSTER_TICK_MS.
 *
 * Threads: loop thread only. Relies on: hiredis 0.14 async, pubsub_internal.h.
 */
#include "pubsub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/log.h"
#include "chat/redact.h"
#include "chat/redis_sync.h"
#include "pubsub_cluster.h"
#include "pubsub_internal.h"

#define PS__HEALTH_MS 500
#define PS__PING_EVERY_MS 1000

static void ps__on_health(uv_timer_t *t)
{
    gw_pubsub_t *ps = t->data;
    int64_t now = chat_clock_monotonic_ms();
    int timeout = ps->gw->lim.redis_timeout_ms;

    atomic_store(&ps->gw->redis_up, gw_pubsub_up(ps)); /* for the workers */
    if (ps->cluster != NULL) {
        gw_pubsub_cluster_tick(ps);
        return;
    }

    if (ps->cmd.ac != NULL) {
        if (ps->cmd.ping_outstanding) {
            if (now - ps->cmd.ping_sent_ms > timeout) {
                gw_pubsub_conn_kill(&ps->cmd, "no reply to PING");
            }
        } else if (now - ps->last_ping_ms >= PS__PING_EVERY_MS) {
            ps->last_ping_ms = now;
            ps->cmd.ping_outstanding = true;
            ps->cmd.ping_sent_ms = now;
            if (redisAsyncCommand(ps->cmd.ac, gw_pubsub_conn_on_pong, &ps->cmd, "PING") !=
                REDIS_OK) {
                gw_pubsub_conn_kill(&ps->cmd, "cannot send PING");
            }
        }
    }
    if (gw_pubsub_up(ps)) {
        gw_pubsub__flush_retry(ps);
        redisAsyncCommand(ps->cmd.ac, NULL, NULL, "PUBLISH %s hb", ps->control_channel);
        if (ps->sub.ac != NULL && now - ps->last_hb_ms > 3 * (int64_t)timeout) {
            gw_pubsub_conn_kill(&ps->sub, "no heartbeat on the subscribe connection");
        }
    }
}

/* ------------------------------------------------------------------ public */

gw_pubsub_t *gw_pubsub_create(gw_t *gw)
{
    gw_pubsub_t *ps = calloc(1, sizeof(*ps));

    if (ps == NULL) {
        return NULL;
    }
    ps->gw = gw;
    gw_held_init(&ps->retry, GW_PUBSUB_RETRY_MAX);
    if (chat_redis_url_parse_auth(gw->cfg.redis_url, &ps->host, &ps->port, &ps->username,
                                  &ps->password, &ps->db) != 0) {
        char shown[256];

        chat_log_error("REDIS_URL is malformed", "url",
                       chat_redact_url(gw->cfg.redis_url, shown, sizeof(shown)));
        free(ps->host);
        free(ps->username);
        free(ps->password);
        free(ps);
        return NULL;
    }
    ps->chans = chat_hmap_create(256);
    if (ps->chans == NULL) {
        free(ps->host);
        free(ps->username);
        free(ps->password);
        free(ps);
        return NULL;
    }
    snprintf(ps->control_channel, sizeof(ps->control_channel), "chat:gw:%s", gw->cfg.gateway_id);
    ps->sub.ps = ps;
    ps->sub.name = "sub";
    ps->sub.is_sub = true;
    ps->cmd.ps = ps;
    ps->cmd.name = "cmd";
    uv_timer_init(&gw->loop, &ps->sub.retry_timer);
    ps->sub.retry_timer.data = &ps->sub;
    uv_timer_init(&gw->loop, &ps->cmd.retry_timer);
    ps->cmd.retry_timer.data = &ps->cmd;
    uv_timer_init(&gw->loop, &ps->health_timer);
    ps->health_timer.data = ps;
    ps->open_handles = 3;
    if (gw->cfg.redis_cluster) {
        /* one seed; per-master connections come with the slot map (pubsub_cluster.c) */
        if (gw_pubsub_cluster_create(ps) != 0) {
            gw_pubsub_destroy(ps);
            return NULL;
        }
        uv_timer_start(&ps->health_timer, ps__on_health, GW_PUBSUB_CLUSTER_TICK_MS,
                       GW_PUBSUB_CLUSTER_TICK_MS);
        return ps;
    }
    uv_timer_start(&ps->health_timer, ps__on_health, PS__HEALTH_MS, PS__HEALTH_MS);
    gw_pubsub_conn_start(&ps->cmd);
    gw_pubsub_conn_start(&ps->sub);
    return ps;
}

static void ps__on_handle_closed(uv_handle_t *h)
{
    gw_pubsub_t *ps = h->data;

    if (--ps->open_handles == 0) {
        free(ps);
    }
}

void gw_pubsub_set_events(gw_pubsub_t *ps, const gw_pubsub_events_t *events)
{
    if (ps != NULL && events != NULL) {
        ps->events = *events;
    }
}

void gw_pubsub_destroy(gw_pubsub_t *ps)
{
    if (ps == NULL) {
        return;
    }
    ps->closing = true;
    gw_pubsub_cluster_destroy(ps);
    gw_pubsub_conn_stop_resolving(&ps->cmd);
    gw_pubsub_conn_stop_resolving(&ps->sub);
    gw_pubsub_conn_kill(&ps->cmd, "shutdown");
    gw_pubsub_conn_kill(&ps->sub, "shutdown");
    gw_pubsub__drop_retry(ps);
    gw_pubsub_channels_free(ps);
    free(ps->host);
    free(ps->username);
    free(ps->password);
    ps->host = ps->username = ps->password = NULL;
    uv_timer_stop(&ps->health_timer);
    uv_timer_stop(&ps->sub.retry_timer);
    uv_timer_stop(&ps->cmd.retry_timer);
    ps->sub.retry_timer.data = ps;
    ps->cmd.retry_timer.data = ps;
    uv_close((uv_handle_t *)&ps->health_timer, ps__on_handle_closed);
    uv_close((uv_handle_t *)&ps->sub.retry_timer, ps__on_handle_closed);
    uv_close((uv_handle_t *)&ps->cmd.retry_timer, ps__on_handle_closed);
}

bool gw_pubsub_up(const gw_pubsub_t *ps)
{
    if (ps != NULL && ps->cluster != NULL) {
        return !ps->closing && gw_pubsub_cluster_up(ps);
    }
    if (ps == NULL || ps->closing || ps->cmd.ac == NULL || !ps->cmd.ready) {
        return false;
    }
    /* a PING unanswered for a while means Redis stalls: do not wait on it */
    return !(ps->cmd.ping_outstanding && chat_clock_monotonic_ms() - ps->cmd.ping_sent_ms > 500);
}
