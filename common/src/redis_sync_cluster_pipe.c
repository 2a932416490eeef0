/*
 * redis_sync_cluster_pipe.c - pipelines in cluster mode (chat_redis_append_argv /
 * next_reply / discard_replies with REDIS_CLUSTER=1): each queued command goes to the
 * master of its slot; at the first read every node's buffer is flushed and every reply
 * read back in queue order, so all connections are idle before a reply that was
 * redirected (MOVED, ASK, TRYAGAIN, CLUSTERDOWN, NOSCRIPT) is retried alone through the
 * blocking path. A broken connection drops the whole pipeline (the single-node contract).
 *
 * Threads: the thread that owns the chat_redis_t; no globals.
 * Relies on: redis_sync_cluster.c (routing, the command loop), hiredis 0.14.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_sync_cluster.h"

void redis_sync_cluster__pending_clear(redis_sync_cluster_t *c)
{
    for (int i = 0; i < c->n_pend; i++) {
        cluster__pending_t *p = &c->pend[i];
        if (p->reply != NULL) {
            freeReplyObject(p->reply);
        }
        for (int j = 0; j < p->argc; j++) {
            free(p->argv[j]);
        }
        free(p->argv);
        free(p->lens);
    }
    c->n_pend = 0;
    c->next = 0;
    c->collected = false;
}

/* Copies a command into p (own memory). False on NOMEM (p half-filled: clear frees it). */
static bool cluster__copy(cluster__pending_t *p, int argc, const char **argv, const size_t *argvlen)
{
    p->argv = calloc((size_t)argc, sizeof(*p->argv));
    p->lens = calloc((size_t)argc, sizeof(*p->lens));
    if (p->argv == NULL || p->lens == NULL) {
        return false;
    }
    for (int i = 0; i < argc; i++, p->argc++) {
        p->lens[i] = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
        p->argv[i] = malloc(p->lens[i] + 1);
        if (p->argv[i] == NULL) {
            return false;
        }
        memcpy(p->argv[i], argv[i], p->lens[i]);
        p->argv[i][p->lens[i]] = '\0';
    }
    return true;
}

/* Drops a pipeline whose connection broke: its replies are gone. */
static void cluster__pipeline_broken(redis_sync_cluster_t *c)
{
    for (int i = 0; i < c->n_nodes; i++) {
        if (c->nodes[i].queued > 0) {
            redis_sync_cluster__disconnect(&c->nodes[i]);
        }
    }
    redis_sync_cluster__pending_clear(c);
    c->stale = true;
}

chat_err_t redis_sync_cluster__append(redis_sync_cluster_t *c, int argc, const char **argv,
                                      const size_t *argvlen, int run_from)
{
    cluster__pending_t *p = NULL;
    const char **a = NULL;
    size_t *l = NULL;
    int ki = chat_redis_cluster_key_index(argc, argv, argvlen);
    int node = -1;
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;

    if (c == NULL || ki == CHAT_REDIS_CLUSTER_BADCMD || c->collected) {
        return CHAT_ERR_UNAVAILABLE; /* no appending once replies are being read */
    }
    a = malloc((size_t)argc * sizeof(*a));
    l = malloc((size_t)argc * sizeof(*l));
    if (a == NULL || l == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    for (int i = 0; i < argc; i++) {
        a[i] = argv[i];
        l[i] = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
    }
    if (c->map == NULL || c->stale) {
        (void)redis_sync_cluster__load(c); /* (refused while replies are pending) */
    }
    if (c->map != NULL && redis_sync_cluster__fix_run(c, argc, a, l, run_from)) {
        node = redis_sync_cluster__route(
            c, ki >= 0 ? (int)chat_redis_cluster_key_slot(a[ki], l[ki]) : -1);
    }
    if (node < 0 || !redis_sync_cluster__ensure(c, node, false)) {
        c->stale = true;
        goto cleanup;
    }
    if (c->n_pend == c->cap_pend) {
        int cap = c->cap_pend == 0 ? 16 : c->cap_pend * 2;
        cluster__pending_t *grown = realloc(c->pend, (size_t)cap * sizeof(*grown));
        if (grown == NULL) {
            rc = CHAT_ERR_NOMEM;
            goto cleanup;
        }
        c->pend = grown;
        c->cap_pend = cap;
    }
    p = &c->pend[c->n_pend];
    memset(p, 0, sizeof(*p));
    p->node = node;
    p->run_from = run_from;
    if (!cluster__copy(p, argc, a, l)) {
        for (int j = 0; j < p->argc; j++) {
            free(p->argv[j]);
        }
        free(p->argv);
        free(p->lens);
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    c->n_pend++;
    if (redisAppendCommandArgv(c->nodes[node].ctx, argc, a, l) != REDIS_OK) {
        cluster__pipeline_broken(c);
        goto cleanup;
    }
    c->nodes[node].queued++;
    rc = CHAT_OK;

cleanup:
    free(a);
    free(l);
    return rc;
}

/* Sends every node's queued commands, then reads every reply in queue order, so that all
 * connections are idle again before a redirected command is retried alone. */
static bool cluster__collect(redis_sync_cluster_t *c)
{
    for (int i = 0; i < c->n_nodes; i++) {
        int done = 0;
        while (c->nodes[i].ctx != NULL && c->nodes[i].queued > 0 && !done) {
            if (redisBufferWrite(c->nodes[i].ctx, &done) != REDIS_OK) {
                return false;
            }
        }
    }
    for (int k = 0; k < c->n_pend; k++) {
        cluster__node_t *n = &c->nodes[c->pend[k].node];
        void *reply = NULL;
        if (n->ctx == NULL || redisGetReply(n->ctx, &reply) != REDIS_OK || reply == NULL) {
            if (reply != NULL) {
                freeReplyObject(reply);
            }
            return false;
        }
        c->pend[k].reply = reply;
        n->queued--;
    }
    c->collected = true;
    return true;
}

/* An error reply a lone retry may turn into an answer. */
static bool cluster__retryable(const redisReply *reply)
{
    chat_redis_redirect_t rd;

    return chat_redis_cluster_parse_redirect(reply->str, reply->len, &rd) == CHAT_OK ||
        chat_redis_cluster_transient_error(reply->str, reply->len) ||
        (reply->len >= 8 && strncmp(reply->str, "NOSCRIPT", 8) == 0);
}

redisReply *redis_sync_cluster__next_reply(redis_sync_cluster_t *c)
{
    cluster__pending_t *p = NULL;
    redisReply *reply = NULL;

    if (c == NULL || c->next >= c->n_pend) {
        return NULL;
    }
    if (!c->collected && !cluster__collect(c)) {
        cluster__pipeline_broken(c);
        return NULL;
    }
    p = &c->pend[c->next++];
    reply = p->reply;
    p->reply = NULL;
    if (reply->type == REDIS_REPLY_ERROR && cluster__retryable(reply)) {
        /* every connection is idle now (all replies read): retry it alone, on a copy of
         * the vector (the retry may swap the run id argument for one it does not own) */
        const char **a = malloc((size_t)p->argc * sizeof(*a));
        size_t *l = malloc((size_t)p->argc * sizeof(*l));
        int n_pend = c->n_pend;

        freeReplyObject(reply);
        reply = NULL;
        if (a != NULL && l != NULL) {
            memcpy(a, p->argv, (size_t)p->argc * sizeof(*a));
            memcpy(l, p->lens, (size_t)p->argc * sizeof(*l));
            c->n_pend = 0; /* lets the blocking path (and a map reload) run */
            reply = redis_sync_cluster__run(c, p->argc, a, l, p->run_from);
            c->n_pend = n_pend;
        }
        free(a);
        free(l);
    }
    if (c->next >= c->n_pend) {
        redis_sync_cluster__pending_clear(c);
    }
    return reply;
}

void redis_sync_cluster__discard(redis_sync_cluster_t *c)
{
    if (c == NULL || c->n_pend == 0) {
        return;
    }
    if (!c->collected && !cluster__collect(c)) {
        cluster__pipeline_broken(c);
        return;
    }
    redis_sync_cluster__pending_clear(c);
}
