/*
 * admission.h - what a new socket must pass after its token was verified at the upgrade
 * and before any of its frames is acted on (both checks need Redis or MongoDB, which
 * the upgrade filter cannot wait for without blocking the loop):
 *   - the token's user still exists (chat_user_load, the rule REST applies to every
 *     call): a deleted account's token opens nothing (close 4001 "account_deleted");
 *   - MAX_SOCKETS_PER_USER across every gateway (user_sockets.h): over it, close 1008
 *     "too_many_connections".
 *   - the token was not revoked by a logout (token_denylist.h): close 4001
 *     "token_revoked".
 * Frames that arrive meanwhile wait in a small bounded stash (more closes 1008). With
 * Redis and MongoDB both unreachable the socket is admitted (the signed token is the
 * proof), not counted. Every GW_ADMISSION_HEARTBEAT_MS this gateway refreshes its
 * per-user socket counts in Redis so that they expire if it dies.
 *
 * Threads: loop thread; the jobs' run() on read workers.
 */
#ifndef GW_ADMISSION_H
#define GW_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>

#include "admission_stash.h"
#include "gateway.h"

typedef struct gw_admission gw_admission_t;

gw_admission_t *gw_admission_create(gw_t *gw);
void gw_admission_destroy(gw_admission_t *adm);
/** Starts checks for sockets that wait (after the worker queue was full): main.c's tick. */
void gw_admission_pump(gw_t *gw);

/** A socket was upgraded: start its checks (gw_session_open). */
void gw_admission_begin(gw_session_t *s);
/** A socket closed: give its place back (gw_session_closed). */
void gw_admission_end(gw_session_t *s);
/** A frame of s (session.h's frame event): kept in the stash until s is admitted (and
 *  once the stash holds GW_ADMISSION_STASH_PAUSE frames the socket is not read until
 *  then), dispatched after. -1 when the stash is full. */
int gw_admission_on_frame(gw_session_t *s, const char *data, size_t len);

/** The session renewed its token (auth frame): checks the new one against the denylist
 *  and closes the socket if it was revoked. */
void gw_admission_check_token(gw_session_t *s);

#endif
