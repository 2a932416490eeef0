/*
 * pubsub.c - Redis for the gateway: a subscribe-mode connection (room channels plus
 * this gateway's control channel chat:gw:<id>) and a command connection, both hiredis
 * async on the gateway's libuv loop. Health: the command connection is PINGed every
 * second and also publishes a heartbeat on the control channel, which the subscribe
 * connection must see; a connection that stops answering is freed and reconnected
 * with exponential backoff. Channel state is tracked per room so that a SUBSCRIBE is
 * never sent while an UNSUBSCRIBE of the same channel is in flight (hiredis 0.14
 * keys its callbacks by channel name). PUBLISH and its retry queue live in
 * pubsub_publish.c.
 *
 * Threads: loop thread only. Relies on: hiredis 0.14 async + adapters/libuv.h,
 * room_registry.h (channel callbacks), presence_tracker.h (Redis came back).
 */
#include "pubsub.h"

#include <hiredis/adapters/libuv.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/keys.h"
#include "chat/log.h"
#include "chat/redis_sync.h"
#include "presence_tracker.h"
#include "pubsub_internal.h"
#include "room_registry.h"

#define PS__BACKOFF_MIN_MS 100
#define PS__BACKOFF_MAX_MS 3000
#define PS__SUB_BATCH 128
#define PS__HEALTH_MS 500
#define PS__PING_EVERY_MS 1000

static void ps__connect(ps_conn_t *c);
static void ps__subscribe_batch(gw_pubsub_t *ps, const char **rooms, size_t n);

/* ------------------------------------------------------------------ helpers */

static void ps__on_retry_timer(uv_timer_t *t)
{
    ps__connect(t->data);
}

static void ps__schedule_reconnect(ps_conn_t *c)
{
    if (c->ps->closing) {
        return;
    }
    if (c->backoff_ms < PS__BACKOFF_MIN_MS) {
        c->backoff_ms = PS__BACKOFF_MIN_MS;
    }
    uv_timer_start(&c->retry_timer, ps__on_retry_timer, (uint64_t)c->backoff_ms, 0);
    c->backoff_ms *= 2;
    if (c->backoff_ms > PS__BACKOFF_MAX_MS) {
        c->backoff_ms = PS__BACKOFF_MAX_MS;
    }
}

/* The connection c had is gone (already freed or being freed by hiredis). */
static void ps__lost(ps_conn_t *c, const char *why)
{
    gw_pubsub_t *ps = c->ps;

    c->ac = NULL;
    c->ready = false;
    c->ping_outstanding = false;
    if (!c->down_logged && !ps->closing) {
        chat_log_warn("redis connection lost", "conn_kind", c->name, "reason", why,
                      "gateway", ps->gw->cfg.gateway_id);
        c->down_logged = true;
    }
    if (c->is_sub) {
        gw_hmap_iter_t it;
        const char *key;
        void *v;
        gw_hmap_iter_init(&it, ps->chans);
        while (gw_hmap_next(&it, &key, &v)) {
            ps_chan_t *ch = v;
            if (!ch->want) {
                gw_hmap_remove(ps->chans, key);
                free(ch);
            } else {
                ch->state = CH_NONE;
            }
        }
    }
    ps__schedule_reconnect(c);
}

/* Frees a live connection that stopped answering; its callbacks see NULL replies. */
static void ps__force_reconnect(ps_conn_t *c, const char *why)
{
    redisAsyncContext *ac = c->ac;

    if (ac == NULL) {
        return;
    }
    c->ac = NULL; /* callbacks for ac now see a stale context and only free */
    redisAsyncFree(ac);
    ps__lost(c, why);
}

/* ------------------------------------------------------------------ callbacks */

static void ps__on_connect(const redisAsyncContext *ac, int status)
{
    ps_conn_t *c = ac->data;

    if (c == NULL || c->ac != ac) {
        return;
    }
    if (status != REDIS_OK) {
        /* hiredis frees ac after this callback */
        ps__lost(c, ac->errstr[0] != '\0' ? ac->errstr : "connect failed");
    }
}

static void ps__on_disconnect(const redisAsyncContext *ac, int status)
{
    ps_conn_t *c = ac->data;

    (void)status;
    if (c == NULL || c->ac != ac) {
        return;
    }
    ps__lost(c, ac->errstr[0] != '\0' ? ac->errstr : "disconnected");
}

static void ps__on_pong(redisAsyncContext *ac, void *r, void *privdata)
{
    ps_conn_t *c = privdata;
    redisReply *reply = r;
    gw_pubsub_t *ps = c->ps;

    if (c->ac != ac || reply == NULL) {
        return;
    }
    c->ping_outstanding = false;
    if (reply->type == REDIS_REPLY_ERROR) {
        chat_log_error("redis refused PING", "error", reply->str);
        return;
    }
    if (!c->ready) {
        c->ready = true;
        c->backoff_ms = PS__BACKOFF_MIN_MS;
        c->down_logged = false;
        chat_log_info("redis connected", "conn_kind", c->name, "gateway",
                      ps->gw->cfg.gateway_id);
        gw_pubsub__flush_retry(ps);
        gw_presence_on_redis_up(ps->gw->presence);
    }
}

static void ps__on_sub_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    gw_pubsub_t *ps = privdata;
    redisReply *reply = r;
    const char *kind;
    const char *chname;
    size_t plen = strlen(CHAT_ROOM_CHANNEL_PREFIX);

    if (reply == NULL || ps->sub.ac != ac || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements < 3 || reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        return;
    }
    kind = reply->element[0]->str;
    chname = reply->element[1]->str;

    if (strcmp(kind, "message") == 0) {
        if (strcmp(chname, ps->control_channel) == 0) {
            ps->last_hb_ms = chat_clock_monotonic_ms();
        } else if (strncmp(chname, CHAT_ROOM_CHANNEL_PREFIX, plen) == 0 &&
                   reply->element[2]->type == REDIS_REPLY_STRING) {
            gw_registry_on_channel_message(ps->gw->registry, chname + plen,
                                           reply->element[2]->str, reply->element[2]->len);
        }
        return;
    }
    if (strcmp(chname, ps->control_channel) == 0) {
        if (strcmp(kind, "subscribe") == 0 && !ps->sub.ready) {
            ps->sub.ready = true;
            ps->sub.backoff_ms = PS__BACKOFF_MIN_MS;
            ps->sub.down_logged = false;
            ps->last_hb_ms = chat_clock_monotonic_ms();
            chat_log_info("redis connected", "conn_kind", "sub", "gateway",
                          ps->gw->cfg.gateway_id);
        }
        return;
    }
    if (strncmp(chname, CHAT_ROOM_CHANNEL_PREFIX, plen) != 0) {
        return;
    }
    {
        char room_id[CHAT_ID_LEN];
        ps_chan_t *ch;
        snprintf(room_id, sizeof(room_id), "%s", chname + plen);
        ch = gw_hmap_get(ps->chans, room_id);
        if (ch == NULL) {
            return;
        }
        if (strcmp(kind, "subscribe") == 0) {
            ch->state = CH_ACTIVE;
            if (!ch->want) {
                const char *argv[2] = {"UNSUBSCRIBE", chname};
                if (redisAsyncCommandArgv(ac, ps__on_sub_reply, ps, 2, argv, NULL) == REDIS_OK) {
                    ch->state = CH_UNSUB_SENT;
                }
            } else {
                gw_registry_on_channel_ready(ps->gw->registry, room_id);
            }
        } else if (strcmp(kind, "unsubscribe") == 0) {
            ch->state = CH_NONE;
            if (ch->want) {
                const char *one[1] = {room_id};
                ps__subscribe_batch(ps, one, 1);
            } else {
                gw_hmap_remove(ps->chans, room_id);
                free(ch);
            }
        }
    }
}

static void ps__subscribe_batch(gw_pubsub_t *ps, const char **rooms, size_t n)
{
    char (*channels)[CHAT_KEY_LEN] = NULL;
    const char **argv = NULL;

    if (n == 0 || ps->sub.ac == NULL) {
        return;
    }
    channels = malloc(n * sizeof(*channels));
    argv = malloc((n + 1) * sizeof(*argv));
    if (channels == NULL || argv == NULL) {
        goto cleanup;
    }
    argv[0] = "SUBSCRIBE";
    for (size_t i = 0; i < n; i++) {
        ps__channel_of(rooms[i], channels[i], sizeof(channels[i]));
        argv[i + 1] = channels[i];
    }
    if (redisAsyncCommandArgv(ps->sub.ac, ps__on_sub_reply, ps, (int)(n + 1), argv, NULL) ==
        REDIS_OK) {
        for (size_t i = 0; i < n; i++) {
            ps_chan_t *ch = gw_hmap_get(ps->chans, rooms[i]);
            if (ch != NULL) {
                ch->state = CH_SUB_SENT;
            }
        }
    }

cleanup:
    free(channels);
    free(argv);
}

/* ------------------------------------------------------------------ connecting */

static void ps__connect(ps_conn_t *c)
{
    gw_pubsub_t *ps = c->ps;
    redisAsyncContext *ac;

    if (ps->closing || c->ac != NULL) {
        return;
    }
    ac = redisAsyncConnect(ps->host, ps->port);
    if (ac == NULL) {
        ps__lost(c, "out of memory");
        return;
    }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        ps__lost(c, why);
        return;
    }
    ac->data = c;
    if (redisLibuvAttach(ac, &ps->gw->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        ps__lost(c, "libuv attach failed");
        return;
    }
    redisAsyncSetConnectCallback(ac, ps__on_connect);
    redisAsyncSetDisconnectCallback(ac, ps__on_disconnect);
    c->ac = ac;
    c->ready = false;
    c->connected_ms = chat_clock_monotonic_ms();

    /* commands queue until the socket connects */
    if (ps->password != NULL && ps->password[0] != '\0') {
        redisAsyncCommand(ac, NULL, NULL, "AUTH %s", ps->password);
    }
    if (c->is_sub) {
        const char *argv[2] = {"SUBSCRIBE", ps->control_channel};
        gw_hmap_iter_t it;
        const char *key;
        void *v;
        const char *batch[PS__SUB_BATCH];
        size_t n = 0;

        ps->last_hb_ms = c->connected_ms;
        redisAsyncCommandArgv(ac, ps__on_sub_reply, ps, 2, argv, NULL);
        gw_hmap_iter_init(&it, ps->chans);
        while (gw_hmap_next(&it, &key, &v)) {
            ps_chan_t *ch = v;
            if (!ch->want || ch->state != CH_NONE) {
                continue;
            }
            batch[n++] = key;
            if (n == PS__SUB_BATCH) {
                ps__subscribe_batch(ps, batch, n);
                n = 0;
            }
        }
        ps__subscribe_batch(ps, batch, n);
    } else {
        if (ps->db != 0) {
            redisAsyncCommand(ac, NULL, NULL, "SELECT %d", ps->db);
        }
        c->ping_outstanding = true;
        c->ping_sent_ms = c->connected_ms;
        redisAsyncCommand(ac, ps__on_pong, c, "PING");
    }
}

static void ps__on_health(uv_timer_t *t)
{
    gw_pubsub_t *ps = t->data;
    int64_t now = chat_clock_monotonic_ms();
    int timeout = ps->gw->lim.redis_timeout_ms;

    if (ps->cmd.ac != NULL) {
        if (ps->cmd.ping_outstanding) {
            if (now - ps->cmd.ping_sent_ms > timeout) {
                ps__force_reconnect(&ps->cmd, "no reply to PING");
            }
        } else if (now - ps->last_ping_ms >= PS__PING_EVERY_MS) {
            ps->last_ping_ms = now;
            ps->cmd.ping_outstanding = true;
            ps->cmd.ping_sent_ms = now;
            if (redisAsyncCommand(ps->cmd.ac, ps__on_pong, &ps->cmd, "PING") != REDIS_OK) {
                ps__force_reconnect(&ps->cmd, "cannot send PING");
            }
        }
    }
    if (gw_pubsub_up(ps)) {
        gw_pubsub__flush_retry(ps);
        redisAsyncCommand(ps->cmd.ac, NULL, NULL, "PUBLISH %s hb", ps->control_channel);
        if (ps->sub.ac != NULL && now - ps->last_hb_ms > 3 * (int64_t)timeout) {
            ps__force_reconnect(&ps->sub, "no heartbeat on the subscribe connection");
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
    if (chat_redis_url_parse(gw->cfg.redis_url, &ps->host, &ps->port, &ps->password,
                             &ps->db) != 0) {
        chat_log_error("REDIS_URL is malformed", "url", gw->cfg.redis_url);
        free(ps->host);
        free(ps->password);
        free(ps);
        return NULL;
    }
    ps->chans = gw_hmap_create(256);
    if (ps->chans == NULL) {
        free(ps->host);
        free(ps->password);
        free(ps);
        return NULL;
    }
    snprintf(ps->control_channel, sizeof(ps->control_channel), "chat:gw:%s",
             gw->cfg.gateway_id);
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
    uv_timer_start(&ps->health_timer, ps__on_health, PS__HEALTH_MS, PS__HEALTH_MS);
    ps__connect(&ps->cmd);
    ps__connect(&ps->sub);
    return ps;
}

static void ps__on_handle_closed(uv_handle_t *h)
{
    gw_pubsub_t *ps = h->data;

    if (--ps->open_handles == 0) {
        free(ps);
    }
}

void gw_pubsub_destroy(gw_pubsub_t *ps)
{
    gw_hmap_iter_t it;
    void *v;

    if (ps == NULL) {
        return;
    }
    ps->closing = true;
    ps__force_reconnect(&ps->cmd, "shutdown");
    ps__force_reconnect(&ps->sub, "shutdown");
    gw_pubsub__drop_retry(ps);
    gw_hmap_iter_init(&it, ps->chans);
    while (gw_hmap_next(&it, NULL, &v)) {
        free(v);
    }
    gw_hmap_destroy(ps->chans);
    ps->chans = NULL;
    free(ps->host);
    free(ps->password);
    ps->host = ps->password = NULL;
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
    if (ps == NULL || ps->closing || ps->cmd.ac == NULL || !ps->cmd.ready) {
        return false;
    }
    /* a PING unanswered for a while means Redis stalls: do not wait on it */
    return !(ps->cmd.ping_outstanding &&
             chat_clock_monotonic_ms() - ps->cmd.ping_sent_ms > 500);
}

void gw_pubsub_want_room(gw_pubsub_t *ps, const char *room_id, bool want)
{
    ps_chan_t *ch;

    if (ps == NULL || ps->closing) {
        return;
    }
    ch = gw_hmap_get(ps->chans, room_id);
    if (want) {
        if (ch == NULL) {
            ch = calloc(1, sizeof(*ch));
            if (ch == NULL || gw_hmap_put(ps->chans, room_id, ch) != 0) {
                free(ch);
                return;
            }
        }
        ch->want = true;
        if (ch->state == CH_NONE && ps->sub.ac != NULL) {
            const char *one[1] = {room_id};
            ps__subscribe_batch(ps, one, 1);
        }
        return;
    }
    if (ch == NULL) {
        return;
    }
    ch->want = false;
    if (ch->state == CH_ACTIVE && ps->sub.ac != NULL) {
        char channel[CHAT_KEY_LEN];
        const char *argv[2] = {"UNSUBSCRIBE", channel};
        ps__channel_of(room_id, channel, sizeof(channel));
        if (redisAsyncCommandArgv(ps->sub.ac, ps__on_sub_reply, ps, 2, argv, NULL) == REDIS_OK) {
            ch->state = CH_UNSUB_SENT;
        }
    } else if (ch->state == CH_NONE) {
        gw_hmap_remove(ps->chans, room_id);
        free(ch);
    }
}

bool gw_pubsub_room_active(const gw_pubsub_t *ps, const char *room_id)
{
    ps_chan_t *ch;

    if (ps == NULL || ps->sub.ac == NULL) {
        return false;
    }
    ch = gw_hmap_get(ps->chans, room_id);
    return ch != NULL && ch->state == CH_ACTIVE;
}
