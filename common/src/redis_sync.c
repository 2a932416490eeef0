/*
 * redis_sync.c - the blocking hiredis client of rest-fcgi: lazy connection with a short
 * connect/command timeout, AUTH and SELECT from the URL, and "down" (NULL replies)
 * instead of hanging when Redis is gone. After a failure it tries again at most once
 * per second, so a dead Redis costs each request one fast failure, not a timeout.
 *
 * Threads: a chat_redis_t is used only by the thread that owns it (the FastCGI request
 * loop; each gateway worker thread has its own); the gateway's event loop uses hiredis
 * async instead.
 * In cluster mode (chat_redis_create's cluster flag) every call is handed to
 * redis_sync_cluster.c, which routes it by key slot; the node handling below is shared.
 * Relies on hiredis 0.14 (redisConnectWithTimeout, redisSetTimeout, redisvFormatCommand).
 */
#include "chat/redis_sync.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "chat/clock.h"
#include "chat/redact.h"
#include "chat/redis_cluster.h"
#include "chat/redis_scripts.h"
#include "redis_sync_internal.h"

#define REDIS__RETRY_INTERVAL_MS 1000

struct chat_redis {
    char *host;
    char *username; /* NULL unless the URL names an ACL user */
    char *password; /* NULL when none */
    int port;
    int db;
    int timeout_ms;
    redisContext *ctx;             /* NULL while disconnected */
    int64_t last_attempt_ms;       /* monotonic time of the last connection attempt */
    bool attempted;                /* the last attempt failed: wait before the next */
    char run_id[41];               /* the server's run_id for this connection ("" = unknown) */
    int queued;                    /* pipelined commands whose replies are not read yet */
    bool server_closed;            /* the last failure was the server closing the connection */
    redis_sync_cluster_t *cluster; /* cluster mode: every call goes there; else NULL */
};

chat_redis_t *chat_redis_create(const char *url, bool cluster, int timeout_ms, char *errbuf,
                                size_t errlen)
{
    chat_redis_t *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen, "out of memory");
        }
        return NULL;
    }
    if (chat_redis_url_parse_auth(url, &r->host, &r->port, &r->username, &r->password, &r->db) !=
        0) {
        if (errbuf != NULL) {
            char shown[256];

            snprintf(errbuf, errlen,
                     "REDIS_URL: expected redis://[[user]:password@]host[:port][/db], got \"%s\"",
                     chat_redact_url(url, shown, sizeof(shown)));
        }
        free(r);
        return NULL;
    }
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    if (cluster) {
        redis_sync__auth_t auth = {r->username, r->password, 0, r->timeout_ms};
        if (r->db != 0) {
            if (errbuf != NULL) {
                snprintf(errbuf, errlen,
                         "REDIS_URL: a Redis Cluster has database 0 only, "
                         "got /%d with REDIS_CLUSTER=1",
                         r->db);
            }
            chat_redis_destroy(r);
            return NULL;
        }
        r->cluster = redis_sync_cluster__create(r->host, r->port, &auth);
        if (r->cluster == NULL) {
            if (errbuf != NULL) {
                snprintf(errbuf, errlen, "out of memory");
            }
            chat_redis_destroy(r);
            return NULL;
        }
    }
    return r;
}

static void redis__disconnect(chat_redis_t *r)
{
    if (r->ctx != NULL) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    r->run_id[0] = '\0';
    r->queued = 0;
}

void chat_redis_destroy(chat_redis_t *r)
{
    if (r == NULL) {
        return;
    }
    redis__disconnect(r);
    redis_sync_cluster__destroy(r->cluster);
    free(r->host);
    free(r->username);
    free(r->password);
    free(r);
}

/* Makes sure r->ctx is usable, connecting if allowed now. */
static bool redis__ensure(chat_redis_t *r)
{
    int64_t now = chat_clock_monotonic_ms();
    redis_sync__auth_t auth = {r->username, r->password, r->db, r->timeout_ms};

    if (r->ctx != NULL && r->queued == 0 && redis_sync__closed_by_server(r->ctx)) {
        redis__disconnect(r); /* a restart while we were idle: reconnect below */
    }
    if (r->ctx != NULL) {
        return true;
    }
    if (r->attempted && now - r->last_attempt_ms < REDIS__RETRY_INTERVAL_MS) {
        return false;
    }
    r->attempted = true;
    r->last_attempt_ms = now;
    r->ctx = redis_sync__connect(r->host, r->port, &auth, true, r->run_id);
    if (r->ctx == NULL) {
        redis__disconnect(r);
        return false;
    }
    r->attempted = false; /* the pause between attempts is for failed ones only */
    return true;
}

/* After a command: a NULL reply means the connection is unusable (I/O error, timeout,
 * protocol error); drop it so the next call reconnects. server_closed tells whether the
 * server had closed it (EOF, reset, broken pipe: a restart while we were idle), in which
 * case the command never ran and may be sent again on a new connection; a timeout may
 * have left it running, so it is not. */
static redisReply *redis__checked(chat_redis_t *r, void *reply)
{
    r->server_closed = false;
    if (reply == NULL || r->ctx->err != 0) {
        r->server_closed = redis_sync__server_closed(r->ctx);
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        redis__disconnect(r);
        return NULL;
    }
    return reply;
}

/* A blocking call while pipelined replies wait would read theirs: not allowed. */
static bool redis__usable(chat_redis_t *r)
{
    return r != NULL && r->queued == 0 && redis__ensure(r);
}

/* Cluster mode: the command formatted as hiredis would send it, parsed back into argv
 * to find its key (the printf-style callers stay as they are). */
static redisReply *redis__cluster_vcommand(chat_redis_t *r, const char *fmt, va_list ap)
{
    char *cmd = NULL;
    const char **argv = NULL;
    size_t *lens = NULL;
    int argc = 0;
    int n = redisvFormatCommand(&cmd, fmt, ap);
    redisReply *reply = NULL;

    if (n > 0 && chat_redis_cluster_parse_command(cmd, (size_t)n, &argc, &argv, &lens) == CHAT_OK) {
        reply = redis_sync_cluster__command(r->cluster, argc, argv, lens, -1);
    }
    free(argv);
    free(lens);
    free(cmd); /* redisFreeCommand is newer than hiredis 0.14; it is a plain malloc */
    return reply;
}

redisReply *chat_redis_command(chat_redis_t *r, const char *fmt, ...)
{
    va_list ap;
    redisReply *reply = NULL;

    if (r != NULL && r->cluster != NULL) {
        va_start(ap, fmt);
        reply = redis__cluster_vcommand(r, fmt, ap);
        va_end(ap);
        return reply;
    }
    /* a second try only on a new connection after the server closed the old one */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!redis__usable(r)) {
            return NULL;
        }
        va_start(ap, fmt);
        reply = redis__checked(r, redisvCommand(r->ctx, fmt, ap));
        va_end(ap);
        if (reply != NULL || !r->server_closed) {
            break;
        }
    }
    return reply;
}

redisReply *chat_redis_command_argv(chat_redis_t *r, int argc, const char **argv,
                                    const size_t *argvlen)
{
    redisReply *reply = NULL;

    if (r != NULL && r->cluster != NULL) {
        return redis_sync_cluster__command(r->cluster, argc, argv, argvlen, -1);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!redis__usable(r)) {
            return NULL;
        }
        reply = redis__checked(r, redisCommandArgv(r->ctx, argc, argv, argvlen));
        if (reply != NULL || !r->server_closed) {
            break;
        }
    }
    return reply;
}

const char *chat_redis_run_id(chat_redis_t *r)
{
    if (r != NULL && r->cluster != NULL) {
        return redis_sync_cluster__run_id(r->cluster);
    }
    if (r == NULL || !redis__ensure(r) || r->run_id[0] == '\0') {
        return NULL;
    }
    return r->run_id;
}

/* NOSCRIPT: the server lost its scripts (SCRIPT FLUSH); reconnecting loads them again. */
static redisReply *redis__check_noscript(chat_redis_t *r, redisReply *reply)
{
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(reply);
        redis__disconnect(r);
        return NULL;
    }
    return reply;
}

redisReply *chat_redis_eval(chat_redis_t *r, chat_script_id_t id, int numkeys, int argc,
                            const char **argv, const size_t *argvlen)
{
    const char **a = NULL;
    size_t *l = NULL;
    char num[16];
    char sent_run[sizeof(r->run_id)];
    redisReply *reply = NULL;
    int n;

    if (r != NULL && r->cluster != NULL) {
        n = redis_sync__evalsha_argv(id, numkeys, argc, argv, argvlen, &a, &l, num);
        reply = n < 0 ? NULL : redis_sync_cluster__command(r->cluster, n, a, l, 3 + numkeys);
        free(a);
        free(l);
        return reply;
    }
    /* Again on a new connection after NOSCRIPT, or after the server had closed the old
     * one (a restart: the command never ran). The scripts take the run_id the caller
     * built its data under as an argument; on a new server that argument is swapped for
     * the new run_id, so the script judges the data as of the server it runs on. */
    for (int attempt = 0; attempt < 2 && reply == NULL; attempt++) {
        if (!redis__usable(r)) {
            return NULL;
        }
        n = redis_sync__evalsha_argv(id, numkeys, argc, argv, argvlen, &a, &l, num);
        if (n < 0) {
            return NULL;
        }
        if (attempt > 0 && sent_run[0] != '\0' && strcmp(sent_run, r->run_id) != 0) {
            for (int i = 3 + numkeys; i < n; i++) {
                if (l[i] == strlen(sent_run) && memcmp(a[i], sent_run, l[i]) == 0) {
                    a[i] = r->run_id;
                    l[i] = strlen(r->run_id);
                }
            }
        }
        snprintf(sent_run, sizeof(sent_run), "%s", attempt == 0 ? r->run_id : "");
        reply = redis__checked(r, redisCommandArgv(r->ctx, n, a, l));
        free(a);
        free(l);
        if (reply == NULL && !r->server_closed) {
            return NULL; /* a timeout: it may still run, never send it twice */
        }
        reply = redis__check_noscript(r, reply);
    }
    return reply;
}

chat_err_t chat_redis_append_argv(chat_redis_t *r, int argc, const char **argv,
                                  const size_t *argvlen)
{
    if (r != NULL && r->cluster != NULL) {
        return redis_sync_cluster__append(r->cluster, argc, argv, argvlen, -1);
    }
    if (r == NULL || !redis__ensure(r)) {
        return CHAT_ERR_UNAVAILABLE;
    }
    if (redisAppendCommandArgv(r->ctx, argc, argv, argvlen) != REDIS_OK) {
        redis__disconnect(r);
        return CHAT_ERR_UNAVAILABLE;
    }
    r->queued++;
    return CHAT_OK;
}

chat_err_t chat_redis_append_eval(chat_redis_t *r, chat_script_id_t id, int numkeys, int argc,
                                  const char **argv, const size_t *argvlen)
{
    const char **a = NULL;
    size_t *l = NULL;
    char num[16];
    chat_err_t rc;
    int n;

    if (r == NULL || (r->cluster == NULL && !redis__ensure(r))) {
        return CHAT_ERR_UNAVAILABLE;
    }
    n = redis_sync__evalsha_argv(id, numkeys, argc, argv, argvlen, &a, &l, num);
    if (n < 0) {
        return CHAT_ERR_NOMEM;
    }
    rc = r->cluster != NULL ? redis_sync_cluster__append(r->cluster, n, a, l, 3 + numkeys)
                            : chat_redis_append_argv(r, n, a, l);
    free(a);
    free(l);
    return rc;
}

redisReply *chat_redis_next_reply(chat_redis_t *r)
{
    void *reply = NULL;

    if (r != NULL && r->cluster != NULL) {
        return redis_sync_cluster__next_reply(r->cluster);
    }
    if (r == NULL || r->ctx == NULL || r->queued <= 0) {
        return NULL;
    }
    if (redisGetReply(r->ctx, &reply) != REDIS_OK || reply == NULL) {
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        redis__disconnect(r); /* also forgets the other queued replies */
        return NULL;
    }
    r->queued--;
    if (((redisReply *)reply)->type == REDIS_REPLY_ERROR &&
        strncmp(((redisReply *)reply)->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(reply);
        redis__disconnect(r);
        return NULL;
    }
    return reply;
}

void chat_redis_discard_replies(chat_redis_t *r)
{
    if (r != NULL && r->cluster != NULL) {
        redis_sync_cluster__discard(r->cluster);
        return;
    }
    while (r != NULL && r->ctx != NULL && r->queued > 0) {
        redisReply *reply = chat_redis_next_reply(r);
        if (reply != NULL) {
            freeReplyObject(reply);
        }
    }
}

chat_err_t chat_redis_publish(chat_redis_t *r, const char *channel, const char *payload, size_t len)
{
    /* a cluster shards pub/sub: SPUBLISH reaches the SSUBSCRIBErs of the channel's slot */
    const char *argv[3] = {r != NULL && r->cluster != NULL ? "SPUBLISH" : "PUBLISH", channel,
                           payload};
    size_t lens[3] = {strlen(argv[0]), strlen(channel), len};
    redisReply *reply = chat_redis_command_argv(r, 3, argv, lens);
    chat_err_t rc =
        reply != NULL && reply->type == REDIS_REPLY_INTEGER ? CHAT_OK : CHAT_ERR_UNAVAILABLE;

    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return rc;
}

bool chat_redis_is_cluster(const chat_redis_t *r)
{
    return r != NULL && r->cluster != NULL;
}

chat_err_t chat_redis_ping(chat_redis_t *r)
{
    if (r != NULL && r->cluster != NULL) {
        return redis_sync_cluster__ping(r->cluster);
    }
    redisReply *reply = chat_redis_command(r, "PING");
    chat_err_t rc =
        reply != NULL && reply->type == REDIS_REPLY_STATUS ? CHAT_OK : CHAT_ERR_UNAVAILABLE;

    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return rc;
}
