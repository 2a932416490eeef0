/*
 * redis_sync.c - the blocking hiredis client of rest-fcgi: lazy connection with a short
 * connect/command timeout, AUTH and SELECT from the URL, and "down" (NULL replies)
 * instead of hanging when Redis is gone. After a failure it tries again at most once
 * per second, so a dead Redis costs each request one fast failure, not a timeout.
 *
 * Threads: one chat_redis_t per process, used only by the thread that owns it (the
 * FastCGI request loop); the gateway's event loop uses hiredis async instead.
 * Relies on hiredis 0.14 (redisConnectWithTimeout, redisSetTimeout).
 */
#include "chat/redis_sync.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "chat/clock.h"

#define REDIS__RETRY_INTERVAL_MS 1000
#define REDIS__DEFAULT_PORT 6379

struct chat_redis {
    char *host;
    char *username; /* NULL unless the URL names an ACL user */
    char *password; /* NULL when none */
    int port;
    int db;
    int timeout_ms;
    redisContext *ctx;       /* NULL while disconnected */
    int64_t last_attempt_ms; /* monotonic time of the last connection attempt */
    bool attempted;
};

/* Parses a decimal int in [min, max] from s[0..len). */
static bool redis__parse_int(const char *s, size_t len, int min, int max, int *out)
{
    long v = 0;

    if (len == 0 || len > 10) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max) {
        return false;
    }
    *out = (int)v;
    return true;
}

/* Percent-decoding is not supported: credentials with reserved characters must be
 * plain. redis://[[user]:password@]host[:port][/db] */
static int redis__parse(const char *url, char **host, char **username, char **password,
                        int *port, int *db)
{
    const char *p = NULL;
    const char *at = NULL;
    const char *slash = NULL;
    const char *hostend = NULL;
    const char *colon = NULL;
    const char *hs = NULL;

    *host = NULL;
    *username = NULL;
    *password = NULL;
    *port = REDIS__DEFAULT_PORT;
    *db = 0;
    if (url == NULL || strncmp(url, "redis://", 8) != 0) {
        return -1;
    }
    p = url + 8;
    slash = strchr(p, '/');
    at = memchr(p, '@', slash != NULL ? (size_t)(slash - p) : strlen(p));
    if (at != NULL) {
        const char *sep = memchr(p, ':', (size_t)(at - p));

        if (sep != NULL) {
            if (sep > p) {
                *username = strndup(p, (size_t)(sep - p));
                if (*username == NULL) {
                    goto fail;
                }
            }
            if (at > sep + 1) {
                *password = strndup(sep + 1, (size_t)(at - sep - 1));
                if (*password == NULL) {
                    goto fail;
                }
            }
        } else if (at > p) {
            *password = strndup(p, (size_t)(at - p)); /* redis://password@host */
            if (*password == NULL) {
                goto fail;
            }
        }
        p = at + 1;
    }
    hostend = slash != NULL ? slash : p + strlen(p);
    if (*p == '[') { /* [ipv6]:port */
        const char *close = memchr(p, ']', (size_t)(hostend - p));

        if (close == NULL || close == p + 1) {
            goto fail;
        }
        hs = p + 1;
        *host = strndup(hs, (size_t)(close - hs));
        colon = close + 1 < hostend && close[1] == ':' ? close + 1 : NULL;
        if (close + 1 < hostend && colon == NULL) {
            goto fail;
        }
    } else {
        colon = memchr(p, ':', (size_t)(hostend - p));
        if ((colon != NULL ? colon : hostend) == p) {
            goto fail;
        }
        *host = strndup(p, (size_t)((colon != NULL ? colon : hostend) - p));
    }
    if (*host == NULL) {
        goto fail;
    }
    if (colon != NULL &&
        !redis__parse_int(colon + 1, (size_t)(hostend - colon - 1), 1, 65535, port)) {
        goto fail;
    }
    if (slash != NULL && slash[1] != '\0' &&
        !redis__parse_int(slash + 1, strlen(slash + 1), 0, INT_MAX, db)) {
        goto fail;
    }
    return 0;

fail:
    free(*host);
    free(*username);
    free(*password);
    *host = NULL;
    *username = NULL;
    *password = NULL;
    return -1;
}

int chat_redis_url_parse(const char *url, char **host, int *port, char **password, int *db)
{
    char *username = NULL;
    char *pw = NULL;
    int rc = redis__parse(url, host, &username, &pw, port, db);

    free(username);
    if (password != NULL) {
        *password = pw;
    } else {
        free(pw);
    }
    return rc;
}

chat_redis_t *chat_redis_create(const char *url, int timeout_ms, char *errbuf, size_t errlen)
{
    chat_redis_t *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen, "out of memory");
        }
        return NULL;
    }
    if (redis__parse(url, &r->host, &r->username, &r->password, &r->port, &r->db) != 0) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen,
                     "REDIS_URL: expected redis://[:password@]host[:port][/db], got \"%s\"",
                     url != NULL ? url : "");
        }
        free(r);
        return NULL;
    }
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 1000;
    return r;
}

static void redis__disconnect(chat_redis_t *r)
{
    if (r->ctx != NULL) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}

void chat_redis_destroy(chat_redis_t *r)
{
    if (r == NULL) {
        return;
    }
    redis__disconnect(r);
    free(r->host);
    free(r->username);
    free(r->password);
    free(r);
}

/* True when reply is a successful answer to AUTH / SELECT. */
static bool redis__ok(redisReply *reply)
{
    bool ok = reply != NULL && reply->type != REDIS_REPLY_ERROR;

    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return ok;
}

/* Makes sure r->ctx is usable, connecting if allowed now. */
static bool redis__ensure(chat_redis_t *r)
{
    struct timeval tv;
    int64_t now = chat_clock_monotonic_ms();

    if (r->ctx != NULL) {
        return true;
    }
    if (r->attempted && now - r->last_attempt_ms < REDIS__RETRY_INTERVAL_MS) {
        return false;
    }
    r->attempted = true;
    r->last_attempt_ms = now;
    tv.tv_sec = r->timeout_ms / 1000;
    tv.tv_usec = (r->timeout_ms % 1000) * 1000;
    r->ctx = redisConnectWithTimeout(r->host, r->port, tv);
    if (r->ctx == NULL || r->ctx->err != 0 || redisSetTimeout(r->ctx, tv) != REDIS_OK) {
        goto fail;
    }
    if (r->password != NULL) {
        redisReply *reply = r->username != NULL
                                ? redisCommand(r->ctx, "AUTH %s %s", r->username, r->password)
                                : redisCommand(r->ctx, "AUTH %s", r->password);
        if (!redis__ok(reply)) {
            goto fail;
        }
    }
    if (r->db != 0 && !redis__ok(redisCommand(r->ctx, "SELECT %d", r->db))) {
        goto fail;
    }
    return true;

fail:
    redis__disconnect(r);
    return false;
}

/* After a command: a NULL reply means the connection is unusable (I/O error, timeout,
 * protocol error); drop it so the next call reconnects. */
static redisReply *redis__checked(chat_redis_t *r, void *reply)
{
    if (reply == NULL || r->ctx->err != 0) {
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        redis__disconnect(r);
        return NULL;
    }
    return reply;
}

redisReply *chat_redis_command(chat_redis_t *r, const char *fmt, ...)
{
    va_list ap;
    void *reply = NULL;

    if (r == NULL || !redis__ensure(r)) {
        return NULL;
    }
    va_start(ap, fmt);
    reply = redisvCommand(r->ctx, fmt, ap);
    va_end(ap);
    return redis__checked(r, reply);
}

redisReply *chat_redis_command_argv(chat_redis_t *r, int argc, const char **argv,
                                    const size_t *argvlen)
{
    void *reply = NULL;

    if (r == NULL || !redis__ensure(r)) {
        return NULL;
    }
    reply = redisCommandArgv(r->ctx, argc, argv, argvlen);
    return redis__checked(r, reply);
}

chat_err_t chat_redis_publish(chat_redis_t *r, const char *channel, const char *payload,
                              size_t len)
{
    redisReply *reply = chat_redis_command(r, "PUBLISH %s %b", channel, payload, len);
    chat_err_t rc = reply != NULL && reply->type == REDIS_REPLY_INTEGER ? CHAT_OK
                                                                        : CHAT_ERR_UNAVAILABLE;

    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return rc;
}

chat_err_t chat_redis_ping(chat_redis_t *r)
{
    redisReply *reply = chat_redis_command(r, "PING");
    chat_err_t rc = reply != NULL && reply->type == REDIS_REPLY_STATUS ? CHAT_OK
                                                                       : CHAT_ERR_UNAVAILABLE;

    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return rc;
}
