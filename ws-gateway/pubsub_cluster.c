/*
 * pubsub_cluster.c - the nodes of the gateway's Redis Cluster mode: a subscriber and a
 * command connection per master (pubsub_rconn.c, hand-driven: hiredis 0.14's async
 * layer cannot carry SSUBSCRIBE), their health (PING every second on both, a connection
 * that does not answer within lim.redis_timeout_ms is replaced), reconnects with
 * backoff, the slot map (CLUSTER SLOTS asked of a live master, or of the seed / any node
 * the last map named, never blocking) and its refreshes, and commands routed to the
 * master of their key with MOVED / ASK followed. Channels: pubsub_cluster_chans.c.
 *
 * Threads: loop thread only. Relies on: pubsub_cluster_internal.h, redis_cluster.h;
 * reports Redis coming back through the events table (events.redis_up).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/log.h"
#include "pubsub_cluster_internal.h"

#define CL__PING_EVERY_MS 1000
#define CL__REFRESH_MIN_MS 200    /* between two asked-for refreshes */
#define CL__REFRESH_DOWN_MS 500   /* while some master does not answer */
#define CL__REFRESH_IDLE_MS 10000 /* when all is well */
#define CL__RECONCILE_MS 1000

static int64_t cl__timeout(const gw_pubsub_cluster_t *cl)
{
    return cl->ps->gw->lim.redis_timeout_ms;
}

/* ------------------------------------------------------------------ nodes */

gw_cnode_t *gw_cluster_node_by_id(gw_pubsub_cluster_t *cl, uint32_t id)
{
    for (size_t i = 0; id != 0 && i < cl->n_nodes; i++) {
        if (cl->nodes[i]->id == id) {
            return cl->nodes[i];
        }
    }
    return NULL;
}

gw_cnode_t *gw_cluster_node_by_addr(gw_pubsub_cluster_t *cl, const char *addr)
{
    for (size_t i = 0; i < cl->n_nodes; i++) {
        if (strcmp(cl->nodes[i]->addr, addr) == 0) {
            return cl->nodes[i];
        }
    }
    return NULL;
}

gw_cnode_t *gw_cluster_node_for_key(gw_pubsub_cluster_t *cl, const char *key, size_t key_len)
{
    char addr[GW_CLUSTER_ADDR_LEN];

    if (!gw_cluster_owner(cl->map, cl->ps->host, key, key_len, addr, sizeof(addr))) {
        return NULL;
    }
    return gw_cluster_node_by_addr(cl, addr);
}

void gw_cluster_want_refresh(gw_pubsub_cluster_t *cl, const char *why)
{
    if (!cl->refresh_wanted) {
        chat_log_debug("redis cluster map refresh wanted", "reason", why);
    }
    cl->refresh_wanted = true;
}

/* A refused AUTH is said once per connection, as in single-node mode (pubsub_conn.c);
 * the connection's next commands then fail and its node is replaced. */
static void cluster__on_auth(redisAsyncContext *ac, void *r, void *privdata)
{
    redisReply *reply = r;
    gw_pubsub_cluster_t *cl = privdata;

    (void)ac;
    if (reply == NULL || reply->type != REDIS_REPLY_ERROR || cl->closing) {
        return;
    }
    chat_log_error("redis refused AUTH (check the credentials in REDIS_URL)", "conn_kind",
                   "cluster", "error", reply->str, "gateway", cl->ps->gw->cfg.gateway_id);
}

/* Sends AUTH when REDIS_URL has a password (never logged). */
void gw_cluster_auth(gw_pubsub_cluster_t *cl, gw_rconn_t *c)
{
    gw_pubsub_t *ps = cl->ps;
    const char *argv[3] = {"AUTH", NULL, NULL};
    int argc = 2;

    if (ps->password == NULL || ps->password[0] == '\0') {
        return;
    }
    if (ps->username != NULL) {
        argv[1] = ps->username;
        argv[2] = ps->password;
        argc = 3;
    } else {
        argv[1] = ps->password;
    }
    gw_rconn_send(c, cluster__on_auth, cl, argc, argv, NULL);
}

/* One of n's connections is gone (already closed). */
static void cnode__dropped(gw_cnode_t *n, bool sub, const char *why)
{
    gw_pubsub_cluster_t *cl = n->cl;
    size_t chans = 0;
    char nchans[32];

    if (sub) {
        n->sub = NULL;
        n->sub_ready = false;
        n->sub_ping_out = false;
        chans = gw_cluster_chans_node_lost(cl, n->id);
    } else {
        n->cmd = NULL;
        n->cmd_ready = false;
        n->cmd_ping_out = false;
    }
    if (cl->closing) {
        return;
    }
    if (!n->down_logged) {
        snprintf(nchans, sizeof(nchans), "%zu", chans);
        chat_log_warn("redis connection lost", "conn_kind", sub ? "sub" : "cmd", "node", n->addr,
                      "reason", why, "channels_to_resubscribe", nchans, "gateway",
                      cl->ps->gw->cfg.gateway_id);
        n->down_logged = true;
    }
    if (n->backoff_ms < GW_PUBSUB_BACKOFF_MIN_MS) {
        n->backoff_ms = GW_PUBSUB_BACKOFF_MIN_MS;
    }
    n->retry_at_ms = chat_clock_monotonic_ms() + n->backoff_ms;
    n->backoff_ms =
        n->backoff_ms * 2 > GW_PUBSUB_BACKOFF_MAX_MS ? GW_PUBSUB_BACKOFF_MAX_MS : n->backoff_ms * 2;
    gw_cluster_want_refresh(cl, "connection lost");
}

static void cnode__kill(gw_cnode_t *n, bool sub, const char *why)
{
    gw_rconn_t *c = sub ? n->sub : n->cmd;

    if (c != NULL) {
        gw_rconn_close(c); /* pending callbacks see NULL now */
        cnode__dropped(n, sub, why);
    }
}

static void cnode__on_sub_lost(gw_rconn_t *c, const char *why, void *arg)
{
    (void)c;
    cnode__dropped(arg, true, why);
}

static void cnode__on_cmd_lost(gw_rconn_t *c, const char *why, void *arg)
{
    (void)c;
    cnode__dropped(arg, false, why);
}

static void cnode__on_sub_push(gw_rconn_t *c, redisReply *reply, void *arg)
{
    gw_cnode_t *n = arg;

    if (n->sub == c) {
        gw_cluster_chans_on_push(n, reply);
    }
}

/* Both connections answer: the next loss is logged again, and backs off from the start. */
static void cnode__ready(gw_cnode_t *n)
{
    if (n->sub_ready && n->cmd_ready) {
        n->down_logged = false;
        n->backoff_ms = GW_PUBSUB_BACKOFF_MIN_MS;
    }
}

static void cnode__on_cmd_pong(redisAsyncContext *ac, void *r, void *privdata)
{
    gw_cnode_t *n = privdata;
    redisReply *reply = r;

    (void)ac;
    if (reply == NULL) {
        return; /* the connection is gone; cnode__dropped did the rest */
    }
    n->cmd_ping_out = false;
    if (reply->type == REDIS_REPLY_ERROR) {
        chat_log_error("redis refused PING", "node", n->addr, "error", reply->str);
        return;
    }
    if (!n->cmd_ready) {
        n->cmd_ready = true;
        n->last_hb_ms = chat_clock_monotonic_ms(); /* heartbeats start flowing now */
        chat_log_info("redis connected", "conn_kind", "cmd", "node", n->addr, "gateway",
                      n->cl->ps->gw->cfg.gateway_id);
        cnode__ready(n);
    }
}

void gw_cluster_node_sub_pong(gw_cnode_t *n)
{
    n->sub_ping_out = false;
    if (!n->sub_ready) {
        const char *argv[2] = {"SSUBSCRIBE", n->hb_channel};

        n->sub_ready = true;
        n->cl->reconcile = true;
        n->last_hb_ms = chat_clock_monotonic_ms();
        if (n->hb_channel[0] != '\0') {
            gw_rconn_send(n->sub, NULL, NULL, 2, argv, NULL);
        }
        chat_log_info("redis connected", "conn_kind", "sub", "node", n->addr, "gateway",
                      n->cl->ps->gw->cfg.gateway_id);
        cnode__ready(n);
    }
}

static void cnode__connect(gw_cnode_t *n, bool sub)
{
    gw_pubsub_cluster_t *cl = n->cl;
    char why[128];
    const char *ping[1] = {"PING"};
    gw_rconn_t *c;

    c = gw_rconn_create(&cl->ps->gw->loop, n->host, n->port, sub, sub ? cnode__on_sub_push : NULL,
                        sub ? cnode__on_sub_lost : cnode__on_cmd_lost, n, why, sizeof(why));
    if (c == NULL) {
        n->retry_at_ms = chat_clock_monotonic_ms() + GW_PUBSUB_BACKOFF_MAX_MS;
        chat_log_warn("redis connect failed", "node", n->addr, "reason", why);
        return;
    }
    gw_cluster_auth(cl, c);
    if (sub) {
        n->sub = c;
        n->sub_ready = false;
        n->sub_ping_out = gw_rconn_send(c, NULL, NULL, 1, ping, NULL);
        n->sub_ping_ms = chat_clock_monotonic_ms();
    } else {
        n->cmd = c;
        n->cmd_ready = false;
        n->cmd_ping_out = gw_rconn_send(c, cnode__on_cmd_pong, n, 1, ping, NULL);
        n->cmd_ping_ms = chat_clock_monotonic_ms();
    }
}

void gw_cluster_node_set_hb(gw_cnode_t *n)
{
    gw_pubsub_cluster_t *cl = n->cl;
    char hb[CHAT_KEY_LEN];
    const char *argv[2] = {"SSUBSCRIBE", hb};

    gw_cluster_hb_channel(cl->map, cl->ps->host, cl->ps->gw->cfg.gateway_id, n->addr, hb,
                          sizeof(hb));
    if (strcmp(hb, n->hb_channel) == 0) {
        return;
    }
    if (n->sub_ready && n->hb_channel[0] != '\0') {
        const char *unsub[2] = {"SUNSUBSCRIBE", n->hb_channel};
        gw_rconn_send(n->sub, NULL, NULL, 2, unsub, NULL);
    }
    snprintf(n->hb_channel, sizeof(n->hb_channel), "%s", hb);
    n->last_hb_ms = chat_clock_monotonic_ms();
    if (n->sub_ready && hb[0] != '\0') {
        gw_rconn_send(n->sub, NULL, NULL, 2, argv, NULL);
    }
}

gw_cnode_t *gw_cluster_node_ensure(gw_pubsub_cluster_t *cl, const char *addr)
{
    gw_cnode_t *n = gw_cluster_node_by_addr(cl, addr);

    if (n != NULL) {
        return n;
    }
    if (cl->n_nodes >= GW_CLUSTER_MAX_NODES || (n = calloc(1, sizeof(*n))) == NULL) {
        return NULL;
    }
    if (!gw_cluster_split_addr(addr, n->host, sizeof(n->host), &n->port)) {
        free(n);
        return NULL;
    }
    n->cl = cl;
    n->id = ++cl->next_id;
    snprintf(n->addr, sizeof(n->addr), "%s", addr);
    n->backoff_ms = GW_PUBSUB_BACKOFF_MIN_MS;
    cl->nodes[cl->n_nodes++] = n;
    gw_cluster_node_set_hb(n);
    cnode__connect(n, false);
    cnode__connect(n, true);
    return n;
}

void gw_cluster_node_free(gw_pubsub_cluster_t *cl, size_t i)
{
    gw_cnode_t *n = cl->nodes[i];

    cl->nodes[i] = cl->nodes[--cl->n_nodes];
    gw_rconn_close(n->cmd); /* callbacks holding n run now, while n is alive */
    gw_rconn_close(n->sub);
    n->cmd = n->sub = NULL;
    gw_cluster_chans_node_lost(cl, n->id);
    free(n);
}

/* ------------------------------------------------------------------ health */

static void cl__node_tick(gw_pubsub_cluster_t *cl, gw_cnode_t *n, int64_t now)
{
    const char *ping[1] = {"PING"};
    int64_t timeout = cl__timeout(cl);

    if ((n->sub == NULL || n->cmd == NULL) && now >= n->retry_at_ms) {
        if (n->cmd == NULL) {
            cnode__connect(n, false);
        }
        if (n->sub == NULL) {
            cnode__connect(n, true);
        }
    }
    if (n->cmd != NULL && n->cmd_ping_out && now - n->cmd_ping_ms > timeout) {
        cnode__kill(n, false, "no reply to PING");
    }
    if (n->sub != NULL && n->sub_ping_out && now - n->sub_ping_ms > timeout) {
        cnode__kill(n, true, "no reply to PING on the subscriber connection");
    }
    if (n->sub != NULL && n->sub_ready && n->cmd_ready && n->hb_channel[0] != '\0' &&
        now - n->last_hb_ms > 3 * timeout) {
        cnode__kill(n, true, "no heartbeat on the subscribe connection");
    }
    if (now - n->last_ping_ms < CL__PING_EVERY_MS) {
        return;
    }
    n->last_ping_ms = now;
    if (n->cmd_ready && n->hb_channel[0] != '\0') {
        const char *hb[3] = {"SPUBLISH", n->hb_channel, "hb"};
        gw_rconn_send(n->cmd, NULL, NULL, 3, hb, NULL);
    }
    if (n->cmd != NULL && !n->cmd_ping_out) {
        n->cmd_ping_out = gw_rconn_send(n->cmd, cnode__on_cmd_pong, n, 1, ping, NULL);
        n->cmd_ping_ms = now;
    }
    if (n->sub != NULL && !n->sub_ping_out) {
        n->sub_ping_out = gw_rconn_send(n->sub, NULL, NULL, 1, ping, NULL);
        n->sub_ping_ms = now;
    }
}

bool gw_pubsub_cluster_up(const gw_pubsub_t *ps)
{
    const gw_pubsub_cluster_t *cl = ps->cluster;
    int64_t now = chat_clock_monotonic_ms();

    if (cl == NULL || cl->closing || cl->map == NULL || cl->n_nodes == 0 ||
        !chat_redis_cluster_map_covers_all(cl->map)) {
        return false;
    }
    for (size_t i = 0; i < cl->n_nodes; i++) {
        const gw_cnode_t *n = cl->nodes[i];
        if (!n->cmd_ready || (n->cmd_ping_out && now - n->cmd_ping_ms > 500)) {
            return false;
        }
    }
    return true;
}

void gw_pubsub_cluster_tick(gw_pubsub_t *ps)
{
    gw_pubsub_cluster_t *cl = ps->cluster;
    int64_t now = chat_clock_monotonic_ms();
    bool up;

    if (cl == NULL || cl->closing) {
        return;
    }
    for (size_t i = 0; i < cl->n_nodes; i++) {
        cl__node_tick(cl, cl->nodes[i], now);
    }
    up = gw_pubsub_cluster_up(ps);
    if (cl->refresh_inflight && now - cl->refresh_sent_ms > cl__timeout(cl)) {
        cl->refresh_inflight = false; /* a late answer is ignored (generation) */
        cl->refresh_gen++;
        cl->refresh_wanted = true;
    }
    if (!cl->refresh_inflight &&
        ((cl->refresh_wanted && now - cl->last_refresh_ms >= CL__REFRESH_MIN_MS) ||
         (!up && now - cl->last_refresh_ms >= CL__REFRESH_DOWN_MS) ||
         now - cl->last_refresh_ms >= CL__REFRESH_IDLE_MS)) {
        gw_cluster_refresh(cl, now);
    }
    if (cl->reconcile || now - cl->last_reconcile_ms >= CL__RECONCILE_MS) {
        gw_cluster_chans_reconcile(cl);
    }
    if (up && !cl->was_up) {
        chat_log_info("redis cluster up", "masters", "all answering", "gateway",
                      ps->gw->cfg.gateway_id);
        gw_pubsub__flush_retry(ps);
        if (ps->events.redis_up != NULL) {
            ps->events.redis_up(ps->gw);
        }
    } else if (!up && cl->was_up) {
        chat_log_warn("redis cluster degraded", "reason",
                      "a master does not answer or slots "
                      "are unserved",
                      "gateway", ps->gw->cfg.gateway_id);
    }
    cl->was_up = up;
}

/* ------------------------------------------------------------------ lifecycle */

int gw_pubsub_cluster_create(gw_pubsub_t *ps)
{
    gw_pubsub_cluster_t *cl = calloc(1, sizeof(*cl));
    char seed[GW_CLUSTER_ADDR_LEN];

    if (cl == NULL) {
        return -1;
    }
    cl->ps = ps;
    ps->cluster = cl;
    gw_cluster_addr(ps->host, ps->port, ps->host, seed, sizeof(seed));
    gw_cluster_add_cand(cl, seed);
    cl->refresh_wanted = true;
    chat_log_info("redis cluster mode", "seed", seed, "gateway", ps->gw->cfg.gateway_id);
    if (ps->db != 0) {
        chat_log_warn("REDIS_URL names a database, which a Redis Cluster does not have: "
                      "database 0 is used",
                      "gateway", ps->gw->cfg.gateway_id);
    }
    gw_cluster_refresh(cl, chat_clock_monotonic_ms());
    return 0;
}

void gw_pubsub_cluster_destroy(gw_pubsub_t *ps)
{
    gw_pubsub_cluster_t *cl = ps->cluster;

    if (cl == NULL) {
        return;
    }
    cl->closing = true;
    gw_rconn_close(cl->probe);
    cl->probe = NULL;
    while (cl->n_nodes > 0) {
        gw_cluster_node_free(cl, cl->n_nodes - 1);
    }
    chat_redis_cluster_map_destroy(cl->map);
    ps->cluster = NULL;
    free(cl);
}
