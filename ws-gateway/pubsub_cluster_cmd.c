/*
 * pubsub_cluster_cmd.c - commands in the gateway's Redis Cluster mode: each goes to the
 * command connection of the master serving its key (pubsub_cluster_route.h says which
 * argument is the key: argv[1], or the first key of EVALSHA), with a private copy of
 * its arguments so that a -MOVED (map patched, refresh asked) or -ASK (ASKING first)
 * reply is followed to the right node, at most CL__MAX_HOPS times; the caller's callback
 * runs exactly once, with the final reply or NULL when a connection was lost.
 *
 * Threads: loop thread only. Relies on: pubsub_cluster_internal.h, redis_cluster.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pubsub_cluster_internal.h"

#define CL__MAX_HOPS 3 /* redirects followed for one command */

typedef struct cl_cmd {
    gw_pubsub_cluster_t *cl;
    redisCallbackFn *fn;
    void *privdata;
    int argc;
    int hops;
    const char **argv; /* argv, lens and the bytes, in this one allocation */
    size_t *lens;
} cl_cmd_t;

static void cl__on_cmd_reply(redisAsyncContext *ac, void *r, void *privdata);

static bool cl__send(gw_cnode_t *n, cl_cmd_t *c, bool asking)
{
    const char *ask[1] = {"ASKING"};

    if (n == NULL || n->cmd == NULL) {
        return false;
    }
    if (asking && !gw_rconn_send(n->cmd, NULL, NULL, 1, ask, NULL)) {
        return false;
    }
    return gw_rconn_send(n->cmd, cl__on_cmd_reply, c, c->argc, c->argv, c->lens);
}

static void cl__on_cmd_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    cl_cmd_t *c = privdata;
    gw_pubsub_cluster_t *cl = c->cl;
    redisReply *reply = r;
    chat_redis_redirect_t rd;
    gw_cluster_err_t kind = gw_cluster_classify_error(reply, &rd);

    (void)ac;
    if (!cl->closing && (kind == GW_CLUSTER_ERR_MOVED || kind == GW_CLUSTER_ERR_ASK) &&
        c->hops < CL__MAX_HOPS) {
        char addr[GW_CLUSTER_ADDR_LEN];
        gw_cluster_addr(rd.host, rd.port, cl->ps->host, addr, sizeof(addr));
        if (kind == GW_CLUSTER_ERR_MOVED) {
            if (cl->map != NULL) {
                chat_redis_cluster_map_apply_moved(cl->map, &rd);
            }
            gw_cluster_want_refresh(cl, "MOVED");
        }
        c->hops++;
        if (cl__send(gw_cluster_node_ensure(cl, addr), c, kind == GW_CLUSTER_ERR_ASK)) {
            return;
        }
    } else if (kind == GW_CLUSTER_ERR_DOWN && !cl->closing) {
        gw_cluster_want_refresh(cl, reply->str);
    }
    if (c->fn != NULL) {
        c->fn(NULL, reply, c->privdata);
    }
    free(c);
}

bool gw_pubsub_cluster_command(gw_pubsub_t *ps, redisCallbackFn *fn, void *privdata, int argc,
                               const char **argv, const size_t *argvlen)
{
    gw_pubsub_cluster_t *cl = ps->cluster;
    int k = chat_redis_cluster_key_index(argc, argv, argvlen);
    gw_cnode_t *n = NULL;
    size_t bytes = sizeof(cl_cmd_t) + (size_t)argc * (sizeof(char *) + sizeof(size_t));
    cl_cmd_t *c;
    char *p;

    if (cl == NULL || cl->closing || argc <= 0 || k == CHAT_REDIS_CLUSTER_BADCMD) {
        return false;
    }
    if (k >= 0) {
        n = gw_cluster_node_for_key(cl, argv[k], argvlen != NULL ? argvlen[k] : strlen(argv[k]));
    } else {
        for (size_t i = 0; i < cl->n_nodes && n == NULL; i++) {
            n = cl->nodes[i]->cmd_ready ? cl->nodes[i] : NULL;
        }
    }
    if (n == NULL || !n->cmd_ready) {
        return false; /* that key's master is down: as when the single Redis is */
    }
    for (int i = 0; i < argc; i++) {
        bytes += (argvlen != NULL ? argvlen[i] : strlen(argv[i])) + 1;
    }
    if ((c = malloc(bytes)) == NULL) {
        return false;
    }
    *c = (cl_cmd_t){cl, fn, privdata, argc, 0, NULL, NULL};
    c->argv = (const char **)(c + 1);
    c->lens = (size_t *)(c->argv + argc);
    p = (char *)(c->lens + argc);
    for (int i = 0; i < argc; i++) {
        c->lens[i] = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
        memcpy(p, argv[i], c->lens[i]);
        p[c->lens[i]] = '\0';
        c->argv[i] = p;
        p += c->lens[i] + 1;
    }
    if (!cl__send(n, c, false)) {
        free(c);
        return false;
    }
    return true;
}
