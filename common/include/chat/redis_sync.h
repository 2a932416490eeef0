/*
 * redis_sync.h - a blocking hiredis client for rest-fcgi and the gateway's worker
 * threads (never for the gateway's loop, which uses hiredis async). Connects lazily
 * with a short timeout, loads the Lua scripts (redis_scripts.h) on each connection,
 * reconnects after failures (at most one attempt per second), and reports "down"
 * instead of hanging. One per thread that uses it (rest-fcgi's request loop, each gateway worker);
 * not thread-safe.
 *
 * Cluster mode (REDIS_CLUSTER=1): the URL names one seed node of a Redis Cluster; the
 * client reads CLUSTER SLOTS, keeps one connection per master, sends each command to the
 * master of its first key's slot (keys share a slot through {hash tags}, keys.h), follows
 * MOVED/ASK and rides out a failover within its timeout. Same calls, same contracts.
 */
#ifndef CHAT_REDIS_SYNC_H
#define CHAT_REDIS_SYNC_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "chat/error.h"
#include "chat/redis_scripts.h"
#include "chat/redis_url.h" /* the URL it takes; its callers parse it too */

typedef struct chat_redis chat_redis_t;

/**
 * NULL on a malformed url, or a /db other than 0 with cluster (message in errbuf).
 * cluster: url names a seed node of a Redis Cluster (REDIS_CLUSTER=1). Does not connect
 * yet. timeout_ms bounds each connect and command, and in cluster mode also the retries
 * of one call across redirects and a failover.
 */
chat_redis_t *chat_redis_create(const char *url, bool cluster, int timeout_ms, char *errbuf,
                                size_t errlen);
void chat_redis_destroy(chat_redis_t *r); /* accepts NULL */

/**
 * Runs one command (redisCommand format). Returns a new reply the caller frees with
 * freeReplyObject, or NULL when Redis is down or the connection broke (it will be
 * re-established on a later call).
 */
redisReply *chat_redis_command(chat_redis_t *r, const char *fmt, ...);
redisReply *chat_redis_command_argv(chat_redis_t *r, int argc, const char **argv,
                                    const size_t *argvlen);

/** PUBLISH channel payload (SPUBLISH, sharded pub/sub, in cluster mode).
 *  CHAT_OK or CHAT_ERR_UNAVAILABLE. */
chat_err_t chat_redis_publish(chat_redis_t *r, const char *channel, const char *payload,
                              size_t len);

/** True in cluster mode (REDIS_CLUSTER=1): pub/sub is sharded there (SPUBLISH, also from
 *  Lua scripts, to subscribers that SSUBSCRIBE). */
bool chat_redis_is_cluster(const chat_redis_t *r);

/** PING round-trip (every master's, in cluster mode). CHAT_OK or CHAT_ERR_UNAVAILABLE. */
chat_err_t chat_redis_ping(chat_redis_t *r);

/**
 * The server's run_id (borrowed, valid until the next call on r), read when the
 * connection was made; NULL when Redis is down. It changes when Redis restarts or a
 * replica takes over, which may lose recent writes: the read model stores it with what
 * it builds and ignores what was built under another one. One exception, a clean stop
 * handed over: when CHAT_KEY_REDIS_EPOCH reads "<this server's run_id> <epoch>" (written
 * by deploy/stack.py before the restarted server listened, after the old one wrote its
 * epoch and shut down with everything on disk), the epoch - the run_id the data was
 * built under - is returned instead, so the read model outlives the restart.
 * Cluster mode: the XOR of every master's run_id (40 hex digits), read when the slot map
 * was last loaded; NULL unless every master answered. Any master restarting or a replica
 * taking over changes it (the client notices a dropped connection, a MOVED or a failed
 * call and reloads the map), so every cache is rebuilt after a failover anywhere: a
 * failover is rare, and a room's keys never need to know which master holds them.
 */
const char *chat_redis_run_id(chat_redis_t *r);

/**
 * EVALSHA of script id (loaded on every new connection) with numkeys keys first in
 * argv; argvlen may be NULL for C strings. New reply (an error reply is returned as
 * such), or NULL when Redis is down.
 */
redisReply *chat_redis_eval(chat_redis_t *r, chat_script_id_t id, int numkeys, int argc,
                            const char **argv, const size_t *argvlen);

/*
 * Pipelining: queue several commands, then read their replies in order with
 * chat_redis_next_reply (one per queued command). While replies are pending, the
 * blocking calls above refuse (return NULL) so that no reply is read by the wrong
 * caller; chat_redis_discard_replies drops the rest after an early exit.
 */
chat_err_t chat_redis_append_argv(chat_redis_t *r, int argc, const char **argv,
                                  const size_t *argvlen);
chat_err_t chat_redis_append_eval(chat_redis_t *r, chat_script_id_t id, int numkeys, int argc,
                                  const char **argv, const size_t *argvlen);
/** The next queued reply (new reference), or NULL when the connection broke (then every
 *  other queued reply is gone too). */
redisReply *chat_redis_next_reply(chat_redis_t *r);
void chat_redis_discard_replies(chat_redis_t *r);

#endif
