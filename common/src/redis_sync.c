/*
 * redis_sync.c - the blocking hiredis client of rest-fcgi: lazy connection with a short
 * connect/command timeout, AUTH and SELECT from the URL, and "down" (NULL replies)
 * instead of hanging when Redis is gone. After a failure it tries again at most once
 * per second, so a dead Redis costs each request one fast failure, not a timeout.
 *
 * Threads: a chat_redis_t is used only by the thread that owns it (the FastCGI request
 * loop; each gateway worker thread has its own); the gateway's event loop uses hiredis
 * async instead.
 * Relies on hiredis 0.14 (redisConnectWithTimeout, redisSetTimeout).
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
#include "chat/redis_scripts.h"

#define REDIS__RETRY_INTERVAL_MS 1000

struct chat_redis {
    char *host;
    char *username; /* NULL unless the URL names an ACL user */
    char *password; /* NULL when none */
    int port;
    int db;
    int timeout_ms;
    redisContext *ctx;       /* NULL while disconnected */
    int64_t last_attempt_ms; /* monotonic time of the last connection attempt */
    bool attempted;          /* the last attempt failed: wait before the next */
    char run_id[41];         /* the server's run_id for this connection ("" = unknown) */
    int queued;              /* pipelined commands whose replies are not read yet */
    bool server_closed;      /* the last failure was the server closing the connection */
};

chat_redis_t *chat_redis_create(const char *url, int timeout_ms, char *errbuf, size_t errlen)
{
    chat_redis_t *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen, "out of memory");
        }
        return NULL;
    }
    if (chat_redis_url_parse_auth(url, &r->host, &r->port, &r->username, &r->password,
                                  &r->db) != 0) {
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

/* Reads run_id from INFO server: it changes whenever Redis restarts or another node takes
 * over, which is how the read model (msg_window.h, cached_set.h) tells that a key it
 * built may have lost writes. */
static bool redis__read_run_id(chat_redis_t *r)
{
    redisReply *reply = redisCommand(r->ctx, "INFO server");
    const char *p = NULL;
    bool ok = false;

    if (reply != NULL && reply->type == REDIS_REPLY_STRING &&
        (p = strstr(reply->str, "run_id:")) != NULL) {
        size_t n = strcspn(p + 7, "\r\n");
        if (n > 0 && n < sizeof(r->run_id)) {
            memcpy(r->run_id, p + 7, n);
            r->run_id[n] = '\0';
            ok = true;
        }
    }
    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return ok;
}

/* SCRIPT LOAD of every script, pipelined: afterwards EVALSHA works on this connection. */
static bool redis__load_scripts(chat_redis_t *r)
{
    bool ok = true;

    for (int i = 0; i < CHAT_SCRIPT_COUNT; i++) {
        const chat_redis_script_t *s = chat_redis_script((chat_script_id_t)i);
        const char *argv[3] = {"SCRIPT", "LOAD", s->source};
        size_t lens[3] = {6, 4, s->len};
        if (redisAppendCommandArgv(r->ctx, 3, argv, lens) != REDIS_OK) {
            return false;
        }
    }
    for (int i = 0; i < CHAT_SCRIPT_COUNT; i++) {
        void *reply = NULL;
        if (redisGetReply(r->ctx, &reply) != REDIS_OK || reply == NULL) {
            return false;
        }
        if (((redisReply *)reply)->type != REDIS_REPLY_STRING) {
            ok = false;
        }
        freeReplyObject(reply);
    }
    return ok;
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

/* With no reply outstanding, a readable socket means the server closed it (EOF) or
 * broke it: one poll(2), no round trip. */
static bool redis__closed_by_server(chat_redis_t *r)
{
    struct pollfd pfd = {.fd = r->ctx->fd, .events = POLLIN};

    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

/* Makes sure r->ctx is usable, connecting if allowed now. */
static bool redis__ensure(chat_redis_t *r)
{
    struct timeval tv;
    int64_t now = chat_clock_monotonic_ms();

    if (r->ctx != NULL && r->queued == 0 && redis__closed_by_server(r)) {
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
    if (!redis__read_run_id(r) || !redis__load_scripts(r)) {
        goto fail;
    }
    r->attempted = false; /* the pause between attempts is for failed ones only */
    return true;

fail:
    redis__disconnect(r);
    return false;
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
        int err = r->ctx->err;
        r->server_closed = err == REDIS_ERR_EOF ||
                           (err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
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

redisReply *chat_redis_command(chat_redis_t *r, const char *fmt, ...)
{
    va_list ap;
    redisReply *reply = NULL;

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
    if (r == NULL || !redis__ensure(r) || r->run_id[0] == '\0') {
        return NULL;
    }
    return r->run_id;
}

/* Builds EVALSHA sha numkeys argv... into a new array (caller frees both). */
static int redis__evalsha_argv(chat_script_id_t id, int numkeys, int argc, const char **argv,
                               const size_t *argvlen, const char ***out, size_t **out_lens,
                               char numbuf[16])
{
    const chat_redis_script_t *s = chat_redis_script(id);
    const char **a = NULL;
    size_t *l = NULL;

    if (s == NULL || s->sha[0] == '\0' || argc < 0 || numkeys < 0 || numkeys > argc) {
        return -1;
    }
    a = malloc((size_t)(argc + 3) * sizeof(*a));
    l = malloc((size_t)(argc + 3) * sizeof(*l));
    if (a == NULL || l == NULL) {
        free(a);
        free(l);
        return -1;
    }
    snprintf(numbuf, 16, "%d", numkeys);
    a[0] = "EVALSHA";
    l[0] = 7;
    a[1] = s->sha;
    l[1] = 40;
    a[2] = numbuf;
    l[2] = strlen(numbuf);
    for (int i = 0; i < argc; i++) {
        a[3 + i] = argv[i];
        l[3 + i] = argvlen != NULL ? argvlen[i] : strlen(argv[i]);
    }
    *out = a;
    *out_lens = l;
    return argc + 3;
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

    /* Again on a new connection after NOSCRIPT, or after the server had closed the old
     * one (a restart: the command never ran). The scripts take the run_id the caller
     * built its data under as an argument; on a new server that argument is swapped for
     * the new run_id, so the script judges the data as of the server it runs on. */
    for (int attempt = 0; attempt < 2 && reply == NULL; attempt++) {
        if (!redis__usable(r)) {
            return NULL;
        }
        n = redis__evalsha_argv(id, numkeys, argc, argv, argvlen, &a, &l, num);
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

    if (r == NULL || !redis__ensure(r)) {
        return CHAT_ERR_UNAVAILABLE;
    }
    n = redis__evalsha_argv(id, numkeys, argc, argv, argvlen, &a, &l, num);
    if (n < 0) {
        return CHAT_ERR_NOMEM;
    }
    rc = chat_redis_append_argv(r, n, a, l);
    free(a);
    free(l);
    return rc;
}

redisReply *chat_redis_next_reply(chat_redis_t *r)
{
    void *reply = NULL;

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
    while (r != NULL && r->ctx != NULL && r->queued > 0) {
        redisReply *reply = chat_redis_next_reply(r);
        if (reply != NULL) {
            freeReplyObject(reply);
        }
    }
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
