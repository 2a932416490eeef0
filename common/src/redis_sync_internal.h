/*
 * redis_sync_internal.h - what redis_sync.c (the public blocking client, one node) and
 * redis_sync_cluster.c (its Redis Cluster mode) share: connecting one node the same way
 * (timeout, AUTH, SELECT, run_id, SCRIPT LOAD), the EVALSHA argument vector, and the
 * cluster client's interface. Not a public header: nothing outside these two files uses it.
 *
 * Threads: the thread that owns the chat_redis_t (see redis_sync.h); no globals.
 */
#ifndef CHAT_REDIS_SYNC_INTERNAL_H
#define CHAT_REDIS_SYNC_INTERNAL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "chat/error.h"
#include "chat/redis_scripts.h"

#define REDIS_SYNC__RUN_ID_LEN 41 /* 40 hex digits + NUL */

/** How to reach a node (all borrowed). username/password NULL when none; db 0 = none. */
typedef struct redis_sync__auth {
    const char *username;
    const char *password;
    int db;
    int timeout_ms;
} redis_sync__auth_t;

/**
 * Connects host:port with auth's timeout (connect and commands), sends AUTH and SELECT,
 * reads the server's run_id into run_id (REDIS_SYNC__RUN_ID_LEN bytes) - or, with
 * follow_epoch, the epoch a clean stop handed to this run (chat_redis_run_id) - and loads
 * every Lua script. A new context the caller frees with redisFree, or NULL on any failure.
 */
redisContext *redis_sync__connect(const char *host, int port, const redis_sync__auth_t *auth,
                                  bool follow_epoch, char *run_id);

/** SCRIPT LOAD of every script on ctx (pipelined). False on any failure. */
bool redis_sync__load_scripts(redisContext *ctx);

/** With no reply outstanding on ctx: true when the server closed or broke it. */
bool redis_sync__closed_by_server(redisContext *ctx);

/** True when ctx's last error means the server closed the connection (the command that
 *  failed never ran and may be sent again); false for a timeout or a protocol error. */
bool redis_sync__server_closed(const redisContext *ctx);

/**
 * Builds "EVALSHA sha numkeys argv..." into new arrays *out / *out_lens (caller frees
 * both; strings borrowed from argv, the script table and numbuf). argc + 3, or -1.
 */
int redis_sync__evalsha_argv(chat_script_id_t id, int numkeys, int argc, const char **argv,
                             const size_t *argvlen, const char ***out, size_t **out_lens,
                             char numbuf[16]);

/* ------------------------------------------------- cluster mode (redis_sync_cluster.c) */

typedef struct redis_sync_cluster redis_sync_cluster_t;

/** A client of the cluster that seed_host:seed_port belongs to (copied). Does not connect
 *  yet. NULL on NOMEM. */
redis_sync_cluster_t *redis_sync_cluster__create(const char *seed_host, int seed_port,
                                                 const redis_sync__auth_t *auth);
void redis_sync_cluster__destroy(redis_sync_cluster_t *c); /* accepts NULL */

/**
 * Runs one command on the master owning its first key's slot (any master when keyless),
 * following MOVED / ASK and riding out TRYAGAIN / CLUSTERDOWN / a dead master within the
 * timeout. run_from >= 0: arguments from that index on that equal the cluster run id of
 * the first attempt are replaced by the current one on a retry after it changed (the Lua
 * scripts then judge the data by the nodes they run on, as redis_sync.c does on a
 * reconnect). New reply, or NULL when the cluster is down (or replies are pending).
 */
redisReply *redis_sync_cluster__command(redis_sync_cluster_t *c, int argc, const char **argv,
                                        const size_t *argvlen, int run_from);

/** The cluster run id (see chat_redis_run_id): borrowed, NULL when unknown/down. */
const char *redis_sync_cluster__run_id(redis_sync_cluster_t *c);

/** PING every master. CHAT_OK or CHAT_ERR_UNAVAILABLE. */
chat_err_t redis_sync_cluster__ping(redis_sync_cluster_t *c);

/** Pipelining, same contract as chat_redis_append_argv / next_reply / discard_replies;
 *  run_from as in redis_sync_cluster__command, for the lone retry of a redirected one. */
chat_err_t redis_sync_cluster__append(redis_sync_cluster_t *c, int argc, const char **argv,
                                      const size_t *argvlen, int run_from);
redisReply *redis_sync_cluster__next_reply(redis_sync_cluster_t *c);
void redis_sync_cluster__discard(redis_sync_cluster_t *c);

#endif
