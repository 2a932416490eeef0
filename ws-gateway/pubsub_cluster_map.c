/*
 * pubsub_cluster_map.c - the slot map of the gateway's Redis Cluster mode: CLUSTER SLOTS
 * asked (async) of a master whose command connection answers, or, when none does, of a
 * short-lived probe connection to the seed or any node (master or replica) an earlier
 * map named, in turn; a late answer is ignored by generation. A new map gets every
 * master a node (pubsub_cluster.c), drops the nodes that serve nothing now (a master
 * that failed over), moves the channels to their owners (pubsub_cluster_chans.c) and,
 * when the assignment changed, logs one line saying so.
 *
 * Threads: loop thread only. Relies on: pubsub_cluster_internal.h, redis_cluster.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/log.h"
#include "pubsub_cluster_internal.h"

void gw_cluster_add_cand(gw_pubsub_cluster_t *cl, const char *addr)
{
    for (size_t i = 0; i < cl->n_cands; i++) {
        if (strcmp(cl->cands[i], addr) == 0) {
            return;
        }
    }
    if (cl->n_cands < GW_CLUSTER_MAX_CANDS) {
        snprintf(cl->cands[cl->n_cands++], GW_CLUSTER_ADDR_LEN, "%s", addr);
    }
}

/* A new map: nodes for its masters, none for the others, channels to their owners. */
static void cl__apply_map(gw_pubsub_cluster_t *cl, chat_redis_cluster_map_t *map)
{
    unsigned long fp = gw_cluster_map_fingerprint(map, cl->ps->host);
    bool changed = fp != cl->map_fp;
    size_t moved;
    size_t n_masters;
    char masters[GW_CLUSTER_MAX_NODES][GW_CLUSTER_ADDR_LEN];
    char list[512] = "";

    chat_redis_cluster_map_destroy(cl->map);
    cl->map = map;
    cl->map_fp = fp;
    /* masters: every slot owner gets a node; nodes that own nothing go */
    n_masters = gw_cluster_map_masters(map, cl->ps->host, masters, GW_CLUSTER_MAX_NODES);
    for (size_t i = cl->n_nodes; i-- > 0;) {
        bool owns = false;
        for (size_t m = 0; m < n_masters && !owns; m++) {
            owns = strcmp(masters[m], cl->nodes[i]->addr) == 0;
        }
        if (!owns) {
            chat_log_warn("redis cluster node no longer serves slots", "node", cl->nodes[i]->addr,
                          "gateway", cl->ps->gw->cfg.gateway_id);
            gw_cluster_node_free(cl, i);
        }
    }
    for (size_t m = 0; m < n_masters; m++) {
        gw_cnode_t *n = gw_cluster_node_ensure(cl, masters[m]);
        if (n != NULL) {
            gw_cluster_node_set_hb(n); /* its slots may have changed */
        }
    }
    moved = gw_cluster_chans_reconcile(cl);
    if (changed) {
        cl->unsub_logged = false;
        for (size_t i = 0; i < cl->n_nodes; i++) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof(list) - used, "%s%s", i ? "," : "", cl->nodes[i]->addr);
        }
        char nmoved[32];
        snprintf(nmoved, sizeof(nmoved), "%zu", moved);
        chat_log_info("redis cluster map changed", "masters", list, "covers_all",
                      chat_redis_cluster_map_covers_all(map) ? "yes" : "no", "channels_moved",
                      nmoved, "gateway", cl->ps->gw->cfg.gateway_id);
    }
}

typedef struct cl_refresh {
    gw_pubsub_cluster_t *cl;
    uint32_t gen;
    bool on_probe;
} cl_refresh_t;

static void cl__on_slots(redisAsyncContext *ac, void *r, void *privdata)
{
    cl_refresh_t *q = privdata;
    gw_pubsub_cluster_t *cl = q->cl;
    redisReply *reply = r;
    chat_redis_cluster_map_t *map = NULL;

    (void)ac;
    if (cl->closing || q->gen != cl->refresh_gen) {
        free(q);
        return;
    }
    cl->refresh_inflight = false;
    if (q->on_probe) {
        gw_rconn_close(cl->probe);
        cl->probe = NULL;
    }
    free(q);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
        chat_redis_cluster_map_create(reply, &map) != CHAT_OK ||
        chat_redis_cluster_map_node_count(map) == 0) {
        chat_redis_cluster_map_destroy(map);
        cl->refresh_wanted = true;
        if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
            chat_log_warn("redis refused CLUSTER SLOTS", "error", reply->str);
        }
        return;
    }
    gw_cluster_collect_addrs(reply, cl->ps->host, cl->cands, GW_CLUSTER_MAX_CANDS, &cl->n_cands);
    cl__apply_map(cl, map);
}

static void cl__on_probe_lost(gw_rconn_t *c, const char *why, void *arg)
{
    gw_pubsub_cluster_t *cl = arg;

    if (cl->probe == c) {
        cl->probe = NULL;
        chat_log_debug("redis cluster seed did not answer", "reason", why);
    }
}

void gw_cluster_refresh(gw_pubsub_cluster_t *cl, int64_t now)
{
    const char *argv[2] = {"CLUSTER", "SLOTS"};
    cl_refresh_t *q = calloc(1, sizeof(*q));

    if (q == NULL) {
        return;
    }
    q->cl = cl;
    q->gen = ++cl->refresh_gen;
    cl->refresh_wanted = false;
    cl->last_refresh_ms = now;
    cl->refresh_sent_ms = now;
    cl->refresh_inflight = true;
    /* an earlier probe is of no more use (its late answer is dropped by generation) */
    gw_rconn_close(cl->probe);
    cl->probe = NULL;
    for (size_t k = 0; k < cl->n_nodes; k++) {
        gw_cnode_t *n = cl->nodes[(cl->refresh_gen + k) % cl->n_nodes];
        if (n->cmd_ready && !n->cmd_ping_out &&
            gw_rconn_send(n->cmd, cl__on_slots, q, 2, argv, NULL)) {
            return;
        }
    }
    /* no master answers: ask the seed or a node an earlier map named */
    if (cl->n_cands > 0) {
        char host[CHAT_REDIS_CLUSTER_HOST_LEN];
        int port = 0;
        const char *addr = cl->cands[cl->cand_next++ % cl->n_cands];
        if (gw_cluster_split_addr(addr, host, sizeof(host), &port)) {
            cl->probe = gw_rconn_create(&cl->ps->gw->loop, host, port, false, NULL,
                                        cl__on_probe_lost, cl, NULL, 0);
        }
    }
    if (cl->probe == NULL) {
        cl->refresh_inflight = false;
        cl->refresh_wanted = true;
        free(q);
        return;
    }
    q->on_probe = true;
    gw_cluster_auth(cl, cl->probe);
    if (!gw_rconn_send(cl->probe, cl__on_slots, q, 2, argv, NULL)) {
        gw_rconn_close(cl->probe);
        cl->probe = NULL;
        cl->refresh_inflight = false;
        cl->refresh_wanted = true; /* try again on the next tick */
        free(q);
    }
}
