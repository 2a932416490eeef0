/*
 * redis_sync.h - a blocking hiredis client for rest-fcgi (never for the gateway's
 * loop, which uses hiredis async). Connects lazily with a short timeout, reconnects
 * after failures (at most one attempt per second), and reports "down" instead of
 * hanging. One per process; not thread-safe.
 */
#ifndef CHAT_REDIS_SYNC_H
#define CHAT_REDIS_SYNC_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "chat/error.h"

typedef struct chat_redis chat_redis_t;

/** Parses redis://[:password@]host[:port][/db]. Returns 0 or -1. host is malloc'd. */
int chat_redis_url_parse(const char *url, char **host, int *port, char **password, int *db);

/** NULL on a malformed url (message in errbuf). Does not connect yet. */
chat_redis_t *chat_redis_create(const char *url, int timeout_ms, char *errbuf, size_t errlen);
void chat_redis_destroy(chat_redis_t *r); /* accepts NULL */

/**
 * Runs one command (redisCommand format). Returns a new reply the caller frees with
 * freeReplyObject, or NULL when Redis is down or the connection broke (it will be
 * re-established on a later call).
 */
redisReply *chat_redis_command(chat_redis_t *r, const char *fmt, ...);
redisReply *chat_redis_command_argv(chat_redis_t *r, int argc, const char **argv,
                                    const size_t *argvlen);

/** PUBLISH channel payload. CHAT_OK or CHAT_ERR_UNAVAILABLE. */
chat_err_t chat_redis_publish(chat_redis_t *r, const char *channel, const char *payload,
                              size_t len);

/** PING round-trip. CHAT_OK or CHAT_ERR_UNAVAILABLE. */
chat_err_t chat_redis_ping(chat_redis_t *r);

#endif
