/*
 * pubsub_conn.c - one hiredis async connection of the pubsub module (the subscribe one
 * or the command one): connecting on the gateway's libuv loop with AUTH and SELECT,
 * noticing it is gone (connect failure, disconnect, or pubsub.c's health check killing
 * a connection that stopped answering), and reconnecting with exponential backoff. A
 * host name is looked up on libuv's threadpool (uv_getaddrinfo) before each connect, so
 * the loop never blocks in getaddrinfo and a name whose address changed (a container
 * restarted) is followed.
 * What a new subscribe connection subscribes is pubsub_channels.c's business.
 *
 * Threads: loop thread only. Relies on: hiredis 0.14 async on redis_uv.h (not
 * hiredis's adapters/libuv.h, which never reports a refused connect),
 * pubsub_internal.h; reports Redis coming back through the events table
 * (events.redis_up).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/log.h"
#include "pubsub_internal.h"
#include "redis_uv.h"

static void conn__on_retry_timer(uv_timer_t *t)
{
    gw_pubsub_conn_start(t->data);
}

static void conn__schedule_reconnect(gw_pubsub_conn_t *c)
{
    if (c->ps->closing) {
        return;
    }
    if (c->backoff_ms < GW_PUBSUB_BACKOFF_MIN_MS) {
        c->backoff_ms = GW_PUBSUB_BACKOFF_MIN_MS;
    }
    uv_timer_start(&c->retry_timer, conn__on_retry_timer, (uint64_t)c->backoff_ms, 0);
    c->backoff_ms *= 2;
    if (c->backoff_ms > GW_PUBSUB_BACKOFF_MAX_MS) {
        c->backoff_ms = GW_PUBSUB_BACKOFF_MAX_MS;
    }
}

/* The connection c had is gone (already freed or being freed by hiredis). */
static void conn__lost(gw_pubsub_conn_t *c, const char *why)
{
    gw_pubsub_t *ps = c->ps;

    c->ac = NULL;
    c->ready = false;
    c->ping_outstanding = false;
    if (!c->down_logged && !ps->closing) {
        chat_log_warn("redis connection lost", "conn_kind", c->name, "reason", why, "gateway",
                      ps->gw->cfg.gateway_id);
        c->down_logged = true;
    }
    if (c->is_sub) {
        gw_pubsub_channels_reset(ps);
    }
    conn__schedule_reconnect(c);
}

void gw_pubsub_conn_kill(gw_pubsub_conn_t *c, const char *why)
{
    redisAsyncContext *ac = c->ac;

    if (ac == NULL) {
        return;
    }
    c->ac = NULL; /* callbacks for ac now see a stale context and only free */
    redisAsyncFree(ac);
    conn__lost(c, why);
}

/* ------------------------------------------------------------------ callbacks */

static void conn__on_connect(const redisAsyncContext *ac, int status)
{
    gw_pubsub_conn_t *c = ac->data;

    if (c == NULL || c->ac != ac) {
        return;
    }
    if (status != REDIS_OK) {
        /* hiredis frees ac after this callback */
        conn__lost(c, ac->errstr[0] != '\0' ? ac->errstr : "connect failed");
    }
}

static void conn__on_disconnect(const redisAsyncContext *ac, int status)
{
    gw_pubsub_conn_t *c = ac->data;

    (void)status;
    if (c == NULL || c->ac != ac) {
        return;
    }
    conn__lost(c, ac->errstr[0] != '\0' ? ac->errstr : "disconnected");
}

/* A refused AUTH leaves the connection unusable (every later command answers NOAUTH);
 * the health checks keep reconnecting, and this says why. Never logs the password. */
static void conn__on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
    gw_pubsub_conn_t *c = privdata;
    redisReply *reply = r;

    if (c->ac != ac || reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return;
    }
    chat_log_error("redis refused AUTH (check the credentials in REDIS_URL)", "conn_kind", c->name,
                   "error", reply->str, "gateway", c->ps->gw->cfg.gateway_id);
}

void gw_pubsub_conn_on_pong(redisAsyncContext *ac, void *r, void *privdata)
{
    gw_pubsub_conn_t *c = privdata;
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
        c->backoff_ms = GW_PUBSUB_BACKOFF_MIN_MS;
        c->down_logged = false;
        chat_log_info("redis connected", "conn_kind", c->name, "gateway", ps->gw->cfg.gateway_id);
        gw_pubsub__flush_retry(ps);
        if (ps->events.redis_up != NULL) {
            ps->events.redis_up(ps->gw);
        }
    }
}

/* ------------------------------------------------------------------ connecting */

static void conn__connect(gw_pubsub_conn_t *c, const char *addr);

/* libuv's threadpool looked the host name up: connect to its first address. */
static void conn__on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    gw_pubsub_conn_t *c = req->data; /* NULL: the connection was shut down meanwhile */
    char addr[INET6_ADDRSTRLEN] = "";
    char why[160];

    if (c != NULL) {
        c->resolving = NULL;
    }
    if (status == 0 && res != NULL) {
        uv_ip_name(res->ai_addr, addr, sizeof(addr));
    }
    if (res != NULL) {
        uv_freeaddrinfo(res);
    }
    free(req);
    if (c == NULL || c->ps->closing) {
        return;
    }
    if (addr[0] == '\0') {
        snprintf(why, sizeof(why), "cannot resolve %s: %s", c->ps->host,
                 status < 0 ? uv_strerror(status) : "no address");
        conn__lost(c, why);
        return;
    }
    conn__connect(c, addr);
}

void gw_pubsub_conn_start(gw_pubsub_conn_t *c)
{
    gw_pubsub_t *ps = c->ps;
    struct in6_addr probe;
    struct addrinfo hints;

    if (ps->closing || c->ac != NULL || c->resolving != NULL) {
        return;
    }
    if (inet_pton(AF_INET, ps->host, &probe) == 1 || inet_pton(AF_INET6, ps->host, &probe) == 1) {
        conn__connect(c, ps->host);
        return;
    }
    /* a host name: hiredis would resolve it with a blocking getaddrinfo on this loop */
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->resolving = malloc(sizeof(*c->resolving));
    if (c->resolving == NULL) {
        conn__lost(c, "out of memory");
        return;
    }
    c->resolving->data = c;
    if (uv_getaddrinfo(&ps->gw->loop, c->resolving, conn__on_resolved, ps->host, NULL, &hints) !=
        0) {
        free(c->resolving);
        c->resolving = NULL;
        conn__lost(c, "cannot start resolving the host name");
    }
}

void gw_pubsub_conn_stop_resolving(gw_pubsub_conn_t *c)
{
    if (c->resolving != NULL) {
        c->resolving->data = NULL; /* its callback only frees it */
        (void)uv_cancel((uv_req_t *)c->resolving);
        c->resolving = NULL;
    }
}

static void conn__connect(gw_pubsub_conn_t *c, const char *addr)
{
    gw_pubsub_t *ps = c->ps;
    redisAsyncContext *ac;

    ac = redisAsyncConnect(addr, ps->port);
    if (ac == NULL) {
        conn__lost(c, "out of memory");
        return;
    }
    if (ac->err) {
        char why[128];
        snprintf(why, sizeof(why), "%s", ac->errstr);
        redisAsyncFree(ac);
        conn__lost(c, why);
        return;
    }
    ac->data = c;
    if (gw_redis_uv_attach(ac, &ps->gw->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        conn__lost(c, "libuv attach failed");
        return;
    }
    redisAsyncSetConnectCallback(ac, conn__on_connect);
    redisAsyncSetDisconnectCallback(ac, conn__on_disconnect);
    c->ac = ac;
    c->ready = false;
    c->connected_ms = chat_clock_monotonic_ms();

    /* commands queue until the socket connects; AUTH goes first, on every (re)connect */
    if (ps->password != NULL && ps->password[0] != '\0') {
        if (ps->username != NULL) {
            redisAsyncCommand(ac, conn__on_auth, c, "AUTH %s %s", ps->username, ps->password);
        } else {
            redisAsyncCommand(ac, conn__on_auth, c, "AUTH %s", ps->password);
        }
    }
    if (c->is_sub) {
        const char *argv[2] = {"SUBSCRIBE", ps->control_channel};

        ps->last_hb_ms = c->connected_ms;
        redisAsyncCommandArgv(ac, gw_pubsub_channels_on_reply, ps, 2, argv, NULL);
        gw_pubsub_channels_resubscribe(ps);
    } else {
        if (ps->db != 0) {
            redisAsyncCommand(ac, NULL, NULL, "SELECT %d", ps->db);
        }
        c->ping_outstanding = true;
        c->ping_sent_ms = c->connected_ms;
        redisAsyncCommand(ac, gw_pubsub_conn_on_pong, c, "PING");
    }
}
