/*
 * redis_uv.c - hiredis async connections on the gateway's libuv loop (see redis_uv.h):
 * hiredis's event hooks (ev.addRead ... ev.cleanup) start and stop one uv_poll_t per
 * connection; the poll callback hands hiredis the readiness, or, when libuv reports an
 * error (it stops the poll then), the readiness hiredis was waiting for, so that its own
 * read or write meets the error (a refused connect: getsockopt(SO_ERROR)).
 *
 * Threads: loop thread only. Relies on hiredis 0.14's redisAsyncContext.ev hooks.
 */
#include "redis_uv.h"

#include <stdlib.h>

typedef struct redis_uv {
    redisAsyncContext *ac; /* NULL once hiredis let go (cleanup) */
    uv_poll_t poll;
    int wanted; /* UV_READABLE | UV_WRITABLE that hiredis asked for */
} redis_uv_t;

static void redis_uv__on_poll(uv_poll_t *poll, int status, int events)
{
    redis_uv_t *r = poll->data;
    int ready = status < 0 ? r->wanted : events; /* an error: what hiredis waited for */

    if (r->ac != NULL && (ready & UV_READABLE)) {
        redisAsyncHandleRead(r->ac);
    }
    if (r->ac != NULL && (ready & UV_WRITABLE)) {
        redisAsyncHandleWrite(r->ac);
    }
}

static void redis_uv__want(redis_uv_t *r, int wanted)
{
    r->wanted = wanted;
    if (wanted != 0) {
        uv_poll_start(&r->poll, wanted, redis_uv__on_poll);
    } else {
        uv_poll_stop(&r->poll);
    }
}

static void redis_uv__add_read(void *data)
{
    redis_uv_t *r = data;

    redis_uv__want(r, r->wanted | UV_READABLE);
}

static void redis_uv__del_read(void *data)
{
    redis_uv_t *r = data;

    redis_uv__want(r, r->wanted & ~UV_READABLE);
}

static void redis_uv__add_write(void *data)
{
    redis_uv_t *r = data;

    redis_uv__want(r, r->wanted | UV_WRITABLE);
}

static void redis_uv__del_write(void *data)
{
    redis_uv_t *r = data;

    redis_uv__want(r, r->wanted & ~UV_WRITABLE);
}

static void redis_uv__on_closed(uv_handle_t *handle)
{
    free(handle->data);
}

/* hiredis frees the context: stop watching and free r once libuv has closed the poll. */
static void redis_uv__cleanup(void *data)
{
    redis_uv_t *r = data;

    r->ac = NULL;
    uv_close((uv_handle_t *)&r->poll, redis_uv__on_closed);
}

int gw_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    redis_uv_t *r = NULL;

    if (ac->ev.data != NULL) {
        return REDIS_ERR;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return REDIS_ERR;
    }
    if (uv_poll_init_socket(loop, &r->poll, ac->c.fd) != 0) {
        free(r);
        return REDIS_ERR;
    }
    r->ac = ac;
    r->poll.data = r;
    ac->ev.data = r;
    ac->ev.addRead = redis_uv__add_read;
    ac->ev.delRead = redis_uv__del_read;
    ac->ev.addWrite = redis_uv__add_write;
    ac->ev.delWrite = redis_uv__del_write;
    ac->ev.cleanup = redis_uv__cleanup;
    return REDIS_OK;
}
