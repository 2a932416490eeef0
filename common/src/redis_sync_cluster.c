/*
 * redis_sync_cluster.c - cluster mode of the blocking Redis client (redis_sync.h with
 * REDIS_CLUSTER=1): the slot map from CLUSTER SLOTS (loaded on first use and after a
 * redirect or a failure), one connection per master (opened by the map load only, so the
 * cluster run id - the XOR of the masters' run_ids - always describes the connections in
 * use), routing by the first key's slot, MOVED / ASK / TRYAGAIN / CLUSTERDOWN /
 * dead-master handling, and the swap of stale run ids in script arguments. Contracts in
 * redis_sync_internal.h and redis_sync_cluster.h.
 *
 * Everything is bounded: at most CLUSTER__MAX_NODES connections, CLUSTER__MAX_ATTEMPTS
 * tries per call, all within the client's timeout (a retry starts only before it runs
 * out); a timed-out command is never sent twice (it may have run).
 *
 * Threads: the thread that owns the chat_redis_t (as redis_sync.c); no globals.
 * Pipelining lives in redis_sync_cluster_pipe.c.
 * Relies on: redis_cluster.h (slots, redirects, map), redis_sync_node.c, hiredis 0.14.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/clock.h"
#include "chat/redis_cluster.h"
#include "redis_sync_cluster.h"
#include "redis_sync_internal.h"

static void cluster__sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    if (ms > 0) {
        nanosleep(&ts, NULL);
    }
}

void redis_sync_cluster__disconnect(cluster__node_t *n)
{
    if (n->ctx != NULL) {
        redisFree(n->ctx);
        n->ctx = NULL;
    }
    n->run_id[0] = '\0';
    n->queued = 0;
}

redis_sync_cluster_t *redis_sync_cluster__create(const char *seed_host, int seed_port,
                                                 const redis_sync__auth_t *auth)
{
    redis_sync_cluster_t *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    snprintf(c->seed_host, sizeof(c->seed_host), "%s", seed_host);
    c->seed_port = seed_port;
    c->timeout_ms = auth->timeout_ms;
    c->username = auth->username != NULL ? strdup(auth->username) : NULL;
    c->password = auth->password != NULL ? strdup(auth->password) : NULL;
    if ((auth->username != NULL && c->username == NULL) ||
        (auth->password != NULL && c->password == NULL)) {
        redis_sync_cluster__destroy(c);
        return NULL;
    }
    return c;
}

void redis_sync_cluster__destroy(redis_sync_cluster_t *c)
{
    if (c == NULL) {
        return;
    }
    redis_sync_cluster__pending_clear(c);
    free(c->pend);
    for (int i = 0; i < c->n_nodes; i++) {
        redis_sync_cluster__disconnect(&c->nodes[i]);
    }
    chat_redis_cluster_map_destroy(c->map);
    free(c->username);
    free(c->password);
    free(c);
}

/* Index of host:port in c->nodes ("" = the seed's host), added if new; -1 when full. */
static int cluster__node(redis_sync_cluster_t *c, const char *host, int port)
{
    const char *h = host[0] != '\0' ? host : c->seed_host;

    for (int i = 0; i < c->n_nodes; i++) {
        if (c->nodes[i].port == port && strcmp(c->nodes[i].host, h) == 0) {
            return i;
        }
    }
    if (c->n_nodes == CLUSTER__MAX_NODES) {
        return -1;
    }
    memset(&c->nodes[c->n_nodes], 0, sizeof(c->nodes[0]));
    snprintf(c->nodes[c->n_nodes].host, sizeof(c->nodes[0].host), "%s", h);
    c->nodes[c->n_nodes].port = port;
    return c->n_nodes++;
}

bool redis_sync_cluster__ensure(redis_sync_cluster_t *c, int i, bool connect)
{
    cluster__node_t *n = &c->nodes[i];
    redis_sync__auth_t auth = {c->username, c->password, 0, c->timeout_ms};

    if (n->ctx != NULL && n->queued == 0 && redis_sync__closed_by_server(n->ctx)) {
        redis_sync_cluster__disconnect(n);
        c->stale = true; /* a master restarted or died: its slots may have moved */
    }
    if (n->ctx == NULL && connect) {
        n->ctx = redis_sync__connect(n->host, n->port, &auth, false, n->run_id);
    }
    return n->ctx != NULL;
}

/* XOR of 40-hex-digit run ids, as 40 lowercase hex digits. False if one is not. */
static bool cluster__xor_run(char *acc, const char *run)
{
    static const char hex[] = "0123456789abcdef";

    if (strlen(run) != REDIS_SYNC__RUN_ID_LEN - 1) {
        return false;
    }
    for (int i = 0; i < REDIS_SYNC__RUN_ID_LEN - 1; i++) {
        const char *a = strchr(hex, acc[i] | 0x20);
        const char *b = strchr(hex, run[i] | 0x20);
        if (a == NULL || b == NULL || acc[i] == '\0' || run[i] == '\0') {
            return false;
        }
        acc[i] = hex[(a - hex) ^ (b - hex)];
    }
    return true;
}

/* Makes run the cluster run id, remembering the one it replaces. */
static void cluster__set_run(redis_sync_cluster_t *c, const char *run)
{
    if (c->run_id[0] != '\0' && strcmp(c->run_id, run) != 0) {
        snprintf(c->past_runs[c->next_past], sizeof(c->past_runs[0]), "%s", c->run_id);
        c->next_past = (c->next_past + 1) % CLUSTER__PAST_RUNS;
    }
    snprintf(c->run_id, sizeof(c->run_id), "%s", run);
}

bool redis_sync_cluster__fix_run(redis_sync_cluster_t *c, int argc, const char **argv, size_t *lens,
                                 int run_from)
{
    /* A script's data is judged by the run id it is given (the read model stores it with
     * what it builds): an argument naming an id this client handed out before the current
     * one is swapped for the current one, so the script judges the data by the masters
     * it runs on now (a promoted replica may lack writes), as redis_sync.c does after a
     * reconnect. Unknown current id (a master unreachable): send nothing. */
    for (int i = run_from < 0 ? argc : run_from; i < argc; i++) {
        for (int k = 0; k < CLUSTER__PAST_RUNS; k++) {
            size_t n = strlen(c->past_runs[k]);
            if (n > 0 && lens[i] == n && memcmp(argv[i], c->past_runs[k], n) == 0 &&
                strcmp(c->past_runs[k], c->run_id) != 0) {
                if (c->run_id[0] == '\0') {
                    return false;
                }
                argv[i] = c->run_id;
                lens[i] = strlen(c->run_id);
            }
        }
    }
    return true;
}

/* CLUSTER SLOTS from the first node that answers: connected ones, then the seed, then the
 * others. New map or NULL. */
static chat_redis_cluster_map_t *cluster__read_map(redis_sync_cluster_t *c)
{
    chat_redis_cluster_map_t *map = NULL;
    int seed = cluster__node(c, c->seed_host, c->seed_port);
    int order[CLUSTER__MAX_NODES + 1];
    int n = 0;

    for (int i = 0; i < c->n_nodes; i++) {
        if (c->nodes[i].ctx != NULL && c->nodes[i].queued == 0) {
            order[n++] = i;
        }
    }
    if (seed >= 0) {
        order[n++] = seed;
    }
    for (int i = 0; i < c->n_nodes; i++) {
        if (c->nodes[i].ctx == NULL && i != seed) {
            order[n++] = i;
        }
    }
    for (int k = 0; k < n && map == NULL; k++) {
        redisReply *reply = NULL;
        if (!redis_sync_cluster__ensure(c, order[k], true)) {
            continue;
        }
        reply = redisCommand(c->nodes[order[k]].ctx, "CLUSTER SLOTS");
        if (reply == NULL) {
            redis_sync_cluster__disconnect(&c->nodes[order[k]]);
            continue;
        }
        if (chat_redis_cluster_map_create(reply, &map) != CHAT_OK ||
            chat_redis_cluster_map_node_count(map) == 0) {
            chat_redis_cluster_map_destroy(map);
            map = NULL;
        }
        freeReplyObject(reply);
    }
    return map;
}

/* Loads the slot map, drops connections to nodes that are no longer masters, connects
 * every master and recomputes the run id (unknown unless all answer). Not while replies
 * are pending. At most one failed load per CLUSTER__REFRESH_GAP_MS. True when the map is
 * complete and every master answered. */
bool redis_sync_cluster__load(redis_sync_cluster_t *c)
{
    int64_t now = chat_clock_monotonic_ms();
    chat_redis_cluster_map_t *map = NULL;
    char run[REDIS_SYNC__RUN_ID_LEN];
    bool all = true;
    int kept = 0;

    if (c->n_pend > 0 || (c->load_failed && now - c->last_load_ms < CLUSTER__REFRESH_GAP_MS)) {
        return false;
    }
    c->last_load_ms = now;
    map = cluster__read_map(c);
    if (map == NULL) {
        c->load_failed = true;
        cluster__set_run(c, "");
        return false;
    }
    chat_redis_cluster_map_destroy(c->map);
    c->map = map;
    /* keep the masters' entries (and their connections), in front */
    for (int i = 0; i < c->n_nodes; i++) {
        bool master = false;
        for (size_t m = 0; m < chat_redis_cluster_map_node_count(map) && !master; m++) {
            const chat_redis_cluster_node_t *mn = chat_redis_cluster_map_node(map, m);
            const char *h = mn->host[0] != '\0' ? mn->host : c->seed_host;
            master = mn->port == c->nodes[i].port && strcmp(h, c->nodes[i].host) == 0;
        }
        if (master) {
            c->nodes[kept++] = c->nodes[i];
        } else {
            redis_sync_cluster__disconnect(&c->nodes[i]);
        }
    }
    c->n_nodes = kept;
    memset(run, '0', sizeof(run) - 1);
    run[sizeof(run) - 1] = '\0';
    for (size_t m = 0; m < chat_redis_cluster_map_node_count(map); m++) {
        const chat_redis_cluster_node_t *mn = chat_redis_cluster_map_node(map, m);
        int i = cluster__node(c, mn->host, mn->port);
        all = all && i >= 0 && redis_sync_cluster__ensure(c, i, true) &&
            cluster__xor_run(run, c->nodes[i].run_id);
    }
    all = all && chat_redis_cluster_map_covers_all(map);
    cluster__set_run(c, all ? run : "");
    c->stale = !all;
    c->load_failed = !all;
    return all;
}

/* The node serving slot (any master when slot < 0), -1 if none is known. */
int redis_sync_cluster__route(redis_sync_cluster_t *c, int slot)
{
    const chat_redis_cluster_node_t *mn = NULL;

    if (slot >= 0) {
        mn = chat_redis_cluster_map_lookup_slot(c->map, (unsigned int)slot);
    } else {
        for (int i = 0; i < c->n_nodes; i++) {
            if (c->nodes[i].ctx != NULL) {
                return i; /* already connected: cheapest */
            }
        }
        mn = chat_redis_cluster_map_node(c->map, 0);
    }
    return mn != NULL ? cluster__node(c, mn->host, mn->port) : -1;
}

/* What to do with an error reply: 0 return it; 1 retry (state updated). */
static int cluster__on_error(redis_sync_cluster_t *c, int node, const redisReply *reply,
                             int *ask_node, bool *backoff)
{
    chat_redis_redirect_t rd;

    if (chat_redis_cluster_parse_redirect(reply->str, reply->len, &rd) == CHAT_OK) {
        if (rd.host[0] == '\0') {
            snprintf(rd.host, sizeof(rd.host), "%s", c->nodes[node].host);
        }
        if (rd.kind == CHAT_REDIS_REDIRECT_ASK) {
            *ask_node = cluster__node(c, rd.host, rd.port);
            return *ask_node >= 0;
        }
        (void)chat_redis_cluster_map_apply_moved(c->map, &rd);
        c->stale = true; /* one slot moved: others likely did (failover, resharding) */
        return 1;
    }
    if (chat_redis_cluster_transient_error(reply->str, reply->len)) {
        c->stale = true;
        *backoff = true;
        return 1;
    }
    if (reply->len >= 8 && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        if (!redis_sync__load_scripts(c->nodes[node].ctx)) {
            redis_sync_cluster__disconnect(&c->nodes[node]);
        }
        return 1;
    }
    return 0;
}

/* The command loop of redis_sync_cluster__command; sent_run is the run id the caller
 * built run_from's arguments with ("" = none). argv is modified (run swap). */
redisReply *redis_sync_cluster__run(redis_sync_cluster_t *c, int argc, const char **argv,
                                    size_t *lens, int run_from)
{
    int ki = chat_redis_cluster_key_index(argc, argv, lens);
    int slot = ki >= 0 ? (int)chat_redis_cluster_key_slot(argv[ki], lens[ki]) : -1;
    int64_t deadline = chat_clock_monotonic_ms() + c->timeout_ms;
    int ask_node = -1;
    bool backoff = false;

    if (ki == CHAT_REDIS_CLUSTER_BADCMD) {
        return NULL;
    }
    for (int attempt = 0; attempt < CLUSTER__MAX_ATTEMPTS; attempt++) {
        redisReply *reply = NULL;
        bool loaded = false;
        int node = -1;

        if (attempt > 0) {
            int64_t left = deadline - chat_clock_monotonic_ms();
            if (left <= 0) {
                break;
            }
            if (backoff) {
                int64_t pause = (int64_t)CLUSTER__BACKOFF_MS << (attempt < 4 ? attempt - 1 : 3);
                cluster__sleep_ms(pause < left ? pause : left);
            }
        }
        backoff = false;
        if ((c->map == NULL || c->stale) && ask_node < 0) {
            (void)redis_sync_cluster__load(c); /* renumbers the nodes: not while asking one */
            loaded = true;
        }
        if (!redis_sync_cluster__fix_run(c, argc, argv, lens, run_from)) {
            return NULL; /* it names a run id, and the current one is unknown: down */
        }
        node =
            ask_node >= 0 ? ask_node : (c->map != NULL ? redis_sync_cluster__route(c, slot) : -1);
        if (node < 0 || !redis_sync_cluster__ensure(c, node, ask_node >= 0)) {
            /* masters are connected by a map load only: one more try after a load, then
             * down at once (a dead master stays dead for seconds: fail fast, as one dead
             * Redis does) */
            c->stale = true;
            if (loaded) {
                return NULL;
            }
            ask_node = -1;
            continue;
        }
        if (ask_node >= 0) {
            redisReply *ok = redisCommand(c->nodes[node].ctx, "ASKING");
            if (ok != NULL) {
                freeReplyObject(ok);
            }
        }
        reply = redisCommandArgv(c->nodes[node].ctx, argc, argv, lens);
        if (reply == NULL || c->nodes[node].ctx->err != 0) {
            bool closed = redis_sync__server_closed(c->nodes[node].ctx);
            if (reply != NULL) {
                freeReplyObject(reply);
            }
            redis_sync_cluster__disconnect(&c->nodes[node]);
            c->stale = true;
            if (!closed) {
                return NULL; /* a timeout: it may still run, never send it twice */
            }
            ask_node = -1;
            continue; /* closed: it never ran; the next attempt reloads the map */
        }
        if (reply->type == REDIS_REPLY_ERROR) {
            bool was_ask = ask_node >= 0;
            ask_node = -1;
            if (cluster__on_error(c, node, reply, &ask_node, &backoff) == 1 &&
                !(was_ask && ask_node >= 0)) {
                freeReplyObject(reply);
                continue;
            }
        }
        return reply;
    }
    return NULL;
}

redisReply *redis_sync_cluster__command(redis_sync_cluster_t *c, int argc, const char **argv,
                                        const size_t *argvlen, int run_from)
{
    const char **a = NULL;
    size_t *l = NULL;
    redisReply *reply = NULL;

    if (c == NULL || c->n_pend > 0 || argc < 1) {
        return NULL;
    }
    a = malloc((size_t)argc * sizeof(*a));
    l = malloc((size_t)argc * sizeof(*l));
    if (a != NULL && l != NULL) {
        for (int i = 0; i < argc; i++) {
            a[i] = argv[i];
            l[i] = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
        }
        reply = redis_sync_cluster__run(c, argc, a, l, run_from);
    }
    free(a);
    free(l);
    return reply;
}

const char *redis_sync_cluster__run_id(redis_sync_cluster_t *c)
{
    if (c == NULL) {
        return NULL;
    }
    if (c->n_pend == 0) {
        for (int i = 0; i < c->n_nodes; i++) {
            if (c->nodes[i].ctx != NULL && redis_sync__closed_by_server(c->nodes[i].ctx)) {
                redis_sync_cluster__disconnect(&c->nodes[i]); /* a master went away: reload */
                c->stale = true;
            }
        }
        if (c->map == NULL || c->stale) {
            (void)redis_sync_cluster__load(c);
        }
    }
    return c->run_id[0] != '\0' ? c->run_id : NULL;
}

chat_err_t redis_sync_cluster__ping(redis_sync_cluster_t *c)
{
    if (redis_sync_cluster__run_id(c) == NULL) {
        return CHAT_ERR_UNAVAILABLE; /* a master is unreachable (or the map incomplete) */
    }
    for (int i = 0; i < c->n_nodes; i++) {
        redisReply *reply = NULL;
        bool ok = false;
        if (c->nodes[i].ctx == NULL) {
            continue; /* not a master any more (ASK target) */
        }
        reply = redisCommand(c->nodes[i].ctx, "PING");
        ok = reply != NULL && reply->type == REDIS_REPLY_STATUS;
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        if (!ok) {
            redis_sync_cluster__disconnect(&c->nodes[i]);
            c->stale = true;
            return CHAT_ERR_UNAVAILABLE;
        }
    }
    return CHAT_OK;
}
