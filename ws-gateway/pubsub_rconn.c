/*
 * pubsub_rconn.c - a Redis connection driven by hand on the gateway's loop: a
 * non-blocking redisContext polled with uv_poll_t; replies dispatched to a FIFO of
 * callbacks (command connections) or to one push handler (subscriber connections).
 * Why this instead of hiredis's async layer: see pubsub_rconn.h.
 *
 * Threads: loop thread only. Relies on: hiredis 0.14 sync primitives used
 * non-blocking, libuv's uv_poll_t (the fd stays open until the handle is closed).
 */
#include "pubsub_rconn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "chat/grow.h"

typedef struct rconn_cb {
    redisCallbackFn *fn;
    void *privdata;
} rconn_cb_t;

struct gw_rconn {
    redisContext *ctx;
    uv_poll_t poll;
    bool sub;
    bool connected;
    bool closed; /* no more callbacks; the handle is closing */
    int events;  /* what the poll watches now */
    gw_rconn_push_fn *on_push;
    gw_rconn_lost_fn *on_lost;
    void *arg;
    rconn_cb_t *cbs; /* ring of pending callbacks (command connections) */
    size_t cb_cap;
    size_t cb_head;
    size_t cb_len;
};

static void rconn__on_poll(uv_poll_t *h, int status, int events);

static void rconn__on_closed(uv_handle_t *h)
{
    gw_rconn_t *c = h->data;

    redisFree(c->ctx); /* closes the fd, now that libuv no longer polls it */
    free(c->cbs);
    free(c);
}

/* Every pending callback once with NULL, oldest first. */
static void rconn__fail_pending(gw_rconn_t *c)
{
    while (c->cb_len > 0) {
        rconn_cb_t cb = c->cbs[c->cb_head];
        c->cb_head = (c->cb_head + 1) % c->cb_cap;
        c->cb_len--;
        if (cb.fn != NULL) {
            cb.fn(NULL, NULL, cb.privdata);
        }
    }
}

void gw_rconn_close(gw_rconn_t *c)
{
    if (c == NULL || c->closed) {
        return;
    }
    c->closed = true;
    uv_poll_stop(&c->poll);
    uv_close((uv_handle_t *)&c->poll, rconn__on_closed);
    rconn__fail_pending(c);
}

static void rconn__lost(gw_rconn_t *c, const char *why)
{
    char text[128];

    if (c->closed) {
        return;
    }
    snprintf(text, sizeof(text), "%s", why);
    gw_rconn_close(c);
    if (c->on_lost != NULL) {
        c->on_lost(c, text, c->arg);
    }
}

static void rconn__watch(gw_rconn_t *c)
{
    int want = UV_READABLE;

    if (c->closed) {
        return;
    }
    if (!c->connected || sdslen(c->ctx->obuf) > 0) {
        want |= UV_WRITABLE;
    }
    if (want != c->events) {
        c->events = want;
        uv_poll_start(&c->poll, want, rconn__on_poll);
    }
}

static void rconn__dispatch(gw_rconn_t *c)
{
    void *reply = NULL;

    while (!c->closed) {
        if (redisReaderGetReply(c->ctx->reader, &reply) != REDIS_OK) {
            rconn__lost(c, "protocol error");
            return;
        }
        if (reply == NULL) {
            return;
        }
        if (c->sub) {
            if (c->on_push != NULL) {
                c->on_push(c, reply, c->arg);
            }
        } else if (c->cb_len > 0) {
            rconn_cb_t cb = c->cbs[c->cb_head];
            c->cb_head = (c->cb_head + 1) % c->cb_cap;
            c->cb_len--;
            if (cb.fn != NULL) {
                cb.fn(NULL, reply, cb.privdata);
            }
        } else if (c->on_push != NULL) {
            c->on_push(c, reply, c->arg); /* nobody asked: let the owner see it */
        }
        freeReplyObject(reply);
        reply = NULL;
    }
}

static void rconn__on_poll(uv_poll_t *h, int status, int events)
{
    gw_rconn_t *c = h->data;

    if (c->closed) {
        return;
    }
    if (status < 0) {
        rconn__lost(c, uv_strerror(status));
        return;
    }
    if (!c->connected && (events & (UV_WRITABLE | UV_READABLE))) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->ctx->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
            err = errno;
        }
        if (err != 0) {
            rconn__lost(c, strerror(err));
            return;
        }
        c->connected = true;
        c->ctx->flags |= REDIS_CONNECTED;
    }
    if (events & UV_READABLE) {
        if (redisBufferRead(c->ctx) != REDIS_OK) {
            rconn__lost(c, c->ctx->errstr[0] != '\0' ? c->ctx->errstr : "read failed");
            return;
        }
        rconn__dispatch(c);
        if (c->closed) {
            return;
        }
    }
    if ((events & UV_WRITABLE) && sdslen(c->ctx->obuf) > 0) {
        int done = 0;
        if (redisBufferWrite(c->ctx, &done) != REDIS_OK) {
            rconn__lost(c, c->ctx->errstr[0] != '\0' ? c->ctx->errstr : "write failed");
            return;
        }
    }
    rconn__watch(c);
}

gw_rconn_t *gw_rconn_create(uv_loop_t *loop, const char *host, int port, bool sub,
                            gw_rconn_push_fn *on_push, gw_rconn_lost_fn *on_lost, void *arg,
                            char *why, size_t why_len)
{
    gw_rconn_t *c = calloc(1, sizeof(*c));

    if (why != NULL && why_len > 0) {
        snprintf(why, why_len, "out of memory");
    }
    if (c == NULL) {
        return NULL;
    }
    c->ctx = redisConnectNonBlock(host, port);
    if (c->ctx == NULL || c->ctx->err) {
        if (c->ctx != NULL && why != NULL && why_len > 0) {
            snprintf(why, why_len, "%s", c->ctx->errstr);
        }
        redisFree(c->ctx);
        free(c);
        return NULL;
    }
    if (uv_poll_init(loop, &c->poll, c->ctx->fd) != 0) {
        if (why != NULL && why_len > 0) {
            snprintf(why, why_len, "uv_poll_init failed");
        }
        redisFree(c->ctx);
        free(c);
        return NULL;
    }
    c->poll.data = c;
    c->sub = sub;
    c->on_push = on_push;
    c->on_lost = on_lost;
    c->arg = arg;
    c->events = UV_READABLE | UV_WRITABLE;
    uv_poll_start(&c->poll, c->events, rconn__on_poll);
    return c;
}

bool gw_rconn_send(gw_rconn_t *c, redisCallbackFn *fn, void *privdata, int argc, const char **argv,
                   const size_t *argvlen)
{
    if (c == NULL || c->closed || (c->sub && fn != NULL) ||
        sdslen(c->ctx->obuf) > GW_RCONN_MAX_OUT) {
        return false;
    }
    if (!c->sub) {
        if (c->cb_len >= GW_RCONN_MAX_PENDING) {
            return false;
        }
        rconn_cb_t *grown =
            chat_ring_grow(c->cbs, &c->cb_head, c->cb_len, &c->cb_cap, sizeof(*grown), 64);
        if (grown == NULL) {
            return false;
        }
        c->cbs = grown;
    }
    if (redisAppendCommandArgv(c->ctx, argc, argv, argvlen) != REDIS_OK) {
        return false;
    }
    if (!c->sub) {
        c->cbs[(c->cb_head + c->cb_len) % c->cb_cap] = (rconn_cb_t){fn, privdata};
        c->cb_len++;
    }
    rconn__watch(c);
    return true;
}

size_t gw_rconn_pending(const gw_rconn_t *c)
{
    return c == NULL ? 0 : c->cb_len;
}
