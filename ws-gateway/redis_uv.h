/*
 * redis_uv.h - hiredis async connections driven by the gateway's libuv loop: the job of
 * hiredis's own adapters/libuv.h, which in Debian's hiredis 0.14 drops every error libuv
 * reports (its poll callback returns when the status is not 0), so a refused connect is
 * never noticed and the connection hangs until pubsub.c's health check kills it (2 s
 * for the command connection, 6 s for the subscribe one, after every Redis restart).
 * Here an error is handed to hiredis as the readiness it waited for, and hiredis's own
 * read or write meets the error and fails the connection at once.
 *
 * Threads: loop thread only.
 */
#ifndef GW_REDIS_UV_H
#define GW_REDIS_UV_H

#include <hiredis/async.h>
#include <uv.h>

/** Drives ac on loop until hiredis frees it. REDIS_OK, or REDIS_ERR when ac is driven
 *  already or out of memory (the caller frees ac). */
int gw_redis_uv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
