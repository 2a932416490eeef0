/*
 * pubsub_rconn.h - one Redis connection the gateway drives itself, for cluster mode: a
 * non-blocking hiredis redisContext (its reader and output buffer only) on a uv_poll_t
 * of the gateway's loop. Why not redisAsyncContext: hiredis 0.14's async layer knows
 * only SUBSCRIBE / PSUBSCRIBE / UNSUBSCRIBE; an SSUBSCRIBE's confirmations and every
 * later "smessage" / pushed "sunsubscribe" (Redis sends one when a slot moves) find no
 * callback and hiredis aborts. Here nothing is matched implicitly:
 *   - a subscriber connection (sub=true) keeps no callback queue at all: every reply or
 *     push read goes to on_push, which classifies it (pubsub_cluster_route.h); commands
 *     are sent without callbacks. So no push can ever be "unexpected".
 *   - a command connection (sub=false) keeps a bounded FIFO of callbacks: each reply
 *     pops one (Redis answers in order, and no push arrives outside subscribed mode).
 * Lost connections call every pending callback once with a NULL reply, then on_lost.
 *
 * Threads: loop thread only. Relies on: hiredis 0.14 (redisConnectNonBlock,
 * redisAppendCommandArgv, redisBufferWrite/Read, redisReaderGetReply), libuv.
 */
#ifndef GW_PUBSUB_RCONN_H
#define GW_PUBSUB_RCONN_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define GW_RCONN_MAX_PENDING 20000   /* commands awaiting a reply on one connection */
#define GW_RCONN_MAX_OUT (16u << 20) /* bytes waiting to be written */

typedef struct gw_rconn gw_rconn_t;

/** A reply or push (borrowed; freed after the call) read on a subscriber connection. */
typedef void gw_rconn_push_fn(gw_rconn_t *c, redisReply *reply, void *arg);
/** The connection failed or closed (why: borrowed text). c is closed already: do not
 *  use it again. Not called for gw_rconn_close(). */
typedef void gw_rconn_lost_fn(gw_rconn_t *c, const char *why, void *arg);

/**
 * Starts connecting to host:port on loop. Commands may be sent at once (written when the
 * socket connects). NULL on immediate failure (then why[0..why_len), when non-NULL,
 * says it).
 */
gw_rconn_t *gw_rconn_create(uv_loop_t *loop, const char *host, int port, bool sub,
                            gw_rconn_push_fn *on_push, gw_rconn_lost_fn *on_lost, void *arg,
                            char *why, size_t why_len);

/**
 * Appends a command. On a command connection fn (may be NULL) runs exactly once, with
 * the reply (borrowed) or NULL when the connection is lost or closed, and ac NULL. On a
 * subscriber connection fn must be NULL (replies go to on_push). False (fn not called)
 * when the connection is closed, the queue is full or out of memory.
 */
bool gw_rconn_send(gw_rconn_t *c, redisCallbackFn *fn, void *privdata, int argc, const char **argv,
                   const size_t *argvlen);

/** Closes (pending callbacks see NULL replies, at once; on_lost is not called); the
 *  memory goes when libuv has closed the handle. Accepts NULL. Safe inside callbacks. */
void gw_rconn_close(gw_rconn_t *c);

/** Commands awaiting a reply (command connections). */
size_t gw_rconn_pending(const gw_rconn_t *c);

#endif
