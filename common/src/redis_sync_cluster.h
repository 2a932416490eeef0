/*
 * redis_sync_cluster.h - internals shared by redis_sync_cluster.c (map, routing, the
 * command loop) and redis_sync_cluster_pipe.c (pipelines over several masters): the
 * client's struct and the helpers both use. Not a public header.
 *
 * Threads: the thread that owns the chat_redis_t; no globals.
 */
#ifndef CHAT_REDIS_SYNC_CLUSTER_H
#define CHAT_REDIS_SYNC_CLUSTER_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "chat/redis_cluster.h"
#include "redis_sync_internal.h"

#define CLUSTER__MAX_NODES 32       /* connections kept (masters, plus ASK targets) */
#define CLUSTER__MAX_ATTEMPTS 8     /* tries of one command (redirects, failover) */
#define CLUSTER__BACKOFF_MS 50      /* first pause before retrying a cluster that is down */
#define CLUSTER__REFRESH_GAP_MS 100 /* between two failed map loads */
#define CLUSTER__PAST_RUNS 4        /* earlier run ids still recognised in arguments */

typedef struct cluster__node {
    char host[CHAT_REDIS_CLUSTER_HOST_LEN];
    int port;
    redisContext *ctx; /* NULL while disconnected */
    char run_id[REDIS_SYNC__RUN_ID_LEN];
    int queued; /* pipelined replies not read yet */
} cluster__node_t;

typedef struct cluster__pending {
    int node;          /* where it was queued */
    redisReply *reply; /* read off the socket, not handed out yet */
    int argc;          /* own copy of the command, for a lone retry */
    char **argv;
    size_t *lens;
    int run_from;
} cluster__pending_t;

struct redis_sync_cluster {
    char seed_host[CHAT_REDIS_CLUSTER_HOST_LEN];
    int seed_port;
    char *username;
    char *password;
    int timeout_ms;
    chat_redis_cluster_map_t *map; /* NULL until the first load */
    bool stale;                    /* reload the map before routing again */
    bool load_failed;              /* the last load failed at last_load_ms */
    int64_t last_load_ms;
    cluster__node_t nodes[CLUSTER__MAX_NODES];
    int n_nodes;
    char run_id[REDIS_SYNC__RUN_ID_LEN]; /* "" = unknown */
    /* the ids run_id held before (a ring): arguments naming them are swapped */
    char past_runs[CLUSTER__PAST_RUNS][REDIS_SYNC__RUN_ID_LEN];
    int next_past;
    cluster__pending_t *pend;
    int n_pend; /* queued commands */
    int next;   /* the next one next_reply hands out */
    int cap_pend;
    bool collected; /* every queued reply has been read off the sockets */
};

/** Frees a connection; accepts a disconnected node. */
void redis_sync_cluster__disconnect(cluster__node_t *n);

/**
 * Node i usable: connected, and not closed by the server while idle (a closed one is
 * dropped and the map marked stale). Connects a disconnected node (AUTH, run_id,
 * scripts) only when connect is set: the map load does that for the masters, so that the
 * cluster run id always describes the connections commands use; ASK targets too.
 */
bool redis_sync_cluster__ensure(redis_sync_cluster_t *c, int i, bool connect);

/** Reloads the slot map and the run id; renumbers c->nodes. Never while replies are
 *  pending. True when the map is complete and every master answered. */
bool redis_sync_cluster__load(redis_sync_cluster_t *c);

/** Index of the node serving slot (any master when slot < 0), -1 if none is known. */
int redis_sync_cluster__route(redis_sync_cluster_t *c, int slot);

/** The command loop (redirects, retries, run id swap from run_from on); argv/lens are
 *  modified. New reply or NULL. */
redisReply *redis_sync_cluster__run(redis_sync_cluster_t *c, int argc, const char **argv,
                                    size_t *lens, int run_from);

/** Swaps arguments from run_from on that name an earlier run id for the current one (see
 *  the .c). False when one does and the current id is unknown; argv/lens modified. */
bool redis_sync_cluster__fix_run(redis_sync_cluster_t *c, int argc, const char **argv, size_t *lens,
                                 int run_from);

/** Frees every pending entry and its reply; the nodes' queued counts are untouched. */
void redis_sync_cluster__pending_clear(redis_sync_cluster_t *c);

#endif
