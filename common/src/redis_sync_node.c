/*
 * redis_sync_node.c - one blocking connection to one Redis node, shared by redis_sync.c
 * (single node) and redis_sync_cluster.c (one per master): connect with a timeout, AUTH,
 * SELECT, read the run_id (or the epoch a clean stop handed over), load the Lua scripts;
 * tell a closed connection from a timeout; build EVALSHA argument vectors. Contracts in
 * redis_sync_internal.h.
 *
 * Threads: whichever thread owns the chat_redis_t the context belongs to; no globals.
 * Relies on hiredis 0.14 (redisConnectWithTimeout, redisSetTimeout).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "chat/keys.h"
#include "chat/redis_scripts.h"
#include "redis_sync_internal.h"

/* Reads run_id from INFO server: it changes whenever Redis restarts or another node takes
 * over, which is how the read model (msg_window.h, cached_set.h) tells that a key it
 * built may have lost writes. */
static bool redis__read_run_id(redisContext *ctx, char *run_id)
{
    redisReply *reply = redisCommand(ctx, "INFO server");
    const char *p = NULL;
    bool ok = false;

    if (reply != NULL && reply->type == REDIS_REPLY_STRING &&
        (p = strstr(reply->str, "run_id:")) != NULL) {
        size_t n = strcspn(p + 7, "\r\n");
        if (n > 0 && n < REDIS_SYNC__RUN_ID_LEN) {
            memcpy(run_id, p + 7, n);
            run_id[n] = '\0';
            ok = true;
        }
    }
    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return ok;
}

/* A clean stop handed its data over (chat_redis_run_id): CHAT_KEY_REDIS_EPOCH holds
 * "<run_id> <epoch>", and run_id becomes the epoch when the first word is this server's
 * run_id. Anything else (no key, another run's, a reply that is not a string) leaves the
 * run_id: the read model is rebuilt, which is always safe. False on a failed round trip. */
static bool redis__follow_epoch(redisContext *ctx, char *run_id)
{
    redisReply *reply = redisCommand(ctx, "GET %s", CHAT_KEY_REDIS_EPOCH);
    size_t run_len = strlen(run_id);

    if (reply == NULL) {
        return false;
    }
    if (reply->type == REDIS_REPLY_STRING && reply->len > run_len + 1 &&
        reply->len - run_len - 1 < REDIS_SYNC__RUN_ID_LEN &&
        memcmp(reply->str, run_id, run_len) == 0 && reply->str[run_len] == ' ' &&
        strcspn(reply->str + run_len + 1, " \r\n") == reply->len - run_len - 1) {
        memcpy(run_id, reply->str + run_len + 1, reply->len - run_len - 1);
        run_id[reply->len - run_len - 1] = '\0';
    }
    freeReplyObject(reply);
    return true;
}

/* SCRIPT LOAD of every script, pipelined: afterwards EVALSHA works on this connection. */
bool redis_sync__load_scripts(redisContext *ctx)
{
    bool ok = true;

    for (int i = 0; i < CHAT_SCRIPT_COUNT; i++) {
        const chat_redis_script_t *s = chat_redis_script((chat_script_id_t)i);
        const char *argv[3] = {"SCRIPT", "LOAD", s->source};
        size_t lens[3] = {6, 4, s->len};
        if (redisAppendCommandArgv(ctx, 3, argv, lens) != REDIS_OK) {
            return false;
        }
    }
    for (int i = 0; i < CHAT_SCRIPT_COUNT; i++) {
        void *reply = NULL;
        if (redisGetReply(ctx, &reply) != REDIS_OK || reply == NULL) {
            return false;
        }
        if (((redisReply *)reply)->type != REDIS_REPLY_STRING) {
            ok = false;
        }
        freeReplyObject(reply);
    }
    return ok;
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
bool redis_sync__closed_by_server(redisContext *ctx)
{
    struct pollfd pfd = {.fd = ctx->fd, .events = POLLIN};

    return poll(&pfd, 1, 0) > 0 && (pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
}

redisContext *redis_sync__connect(const char *host, int port, const redis_sync__auth_t *auth,
                                  bool follow_epoch, char *run_id)
{
    struct timeval tv;
    redisContext *ctx = NULL;

    tv.tv_sec = auth->timeout_ms / 1000;
    tv.tv_usec = (auth->timeout_ms % 1000) * 1000;
    ctx = redisConnectWithTimeout(host, port, tv);
    if (ctx == NULL || ctx->err != 0 || redisSetTimeout(ctx, tv) != REDIS_OK) {
        goto fail;
    }
    if (auth->password != NULL) {
        redisReply *reply = auth->username != NULL
            ? redisCommand(ctx, "AUTH %s %s", auth->username, auth->password)
            : redisCommand(ctx, "AUTH %s", auth->password);
        if (!redis__ok(reply)) {
            goto fail;
        }
    }
    if (auth->db != 0 && !redis__ok(redisCommand(ctx, "SELECT %d", auth->db))) {
        goto fail;
    }
    if (!redis__read_run_id(ctx, run_id) || (follow_epoch && !redis__follow_epoch(ctx, run_id)) ||
        !redis_sync__load_scripts(ctx)) {
        goto fail;
    }
    return ctx;

fail:
    if (ctx != NULL) {
        redisFree(ctx);
    }
    run_id[0] = '\0';
    return NULL;
}

bool redis_sync__server_closed(const redisContext *ctx)
{
    int err = ctx->err;

    return err == REDIS_ERR_EOF || (err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
}

int redis_sync__evalsha_argv(chat_script_id_t id, int numkeys, int argc, const char **argv,
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
