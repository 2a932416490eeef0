/*
 * write_behind.h - the writes a request may leave until after its reply: a room's
 * room_heads raise and a leave's room_members delete, the slowest of a join's or a
 * leave's MongoDB writes on FerretDB. Neither loses anything when the process dies in
 * between:
 * - room_heads is only a lower bound of each room's stored seqs (message_append.c reads
 *   it after a refused insert and checks what it cannot explain against the messages),
 *   so the room's next writer takes the slower, certain path once;
 * - the leave is already durable in member_leaves (member_leaves_repo.h), which every
 *   read subtracts and whose sweep finishes orphans.
 * rest-fcgi notes them from its requests (store.h's hooks); a thread of its own writes
 * the heads at once, lets leaves gather for CHAT_WRITE_BEHIND_LEAVES_WAIT_MS (a large
 * room's for CHAT_MEMBER_LEAVE_SETTLE_MS: membership_leaves.h), and sweeps the leave
 * records every CHAT_WRITE_BEHIND_SWEEP_MS; the deletes and the sweep then wait for a
 * moment without requests (CHAT_WRITE_BEHIND_QUIET_MS, bounded).
 *
 * Threads: any thread may note; the writes run on the collector's own thread when it
 * was started with chat_write_behind_start, else on whichever thread calls
 * chat_write_behind_flush. What is noted is kept under a mutex.
 */
#ifndef CHAT_WRITE_BEHIND_H
#define CHAT_WRITE_BEHIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/member_leaves_repo.h"

/* Rooms noted between two flushes; a note beyond them is refused (write it inline). */
#define CHAT_WRITE_BEHIND_MAX 64
/* Leaves noted between two flushes; the collector's thread writes them at once when
 * full, and a note beyond them is refused (finish it inline). */
#define CHAT_WRITE_BEHIND_LEAVES_MAX 1024
/* How long the collector's thread lets leaves gather before it deletes their memberships
 * (one delete per room for all of them). */
#define CHAT_WRITE_BEHIND_LEAVES_WAIT_MS 1000
/* The leaves' deletes, the large rooms' settles and the sweep are FerretDB scans that
 * slow whichever request runs beside them on a small machine (measured: the 65th join
 * and leave of a room, docs/BENCHMARKS.md "Stop 30"): once due they wait until the
 * owner has served no request for CHAT_WRITE_BEHIND_QUIET_MS
 * (chat_write_behind_request_begin/end), at most CHAT_WRITE_BEHIND_QUIET_MAX_WAIT_MS.
 * room_heads raises never wait. */
#define CHAT_WRITE_BEHIND_QUIET_MS 250
#define CHAT_WRITE_BEHIND_QUIET_MAX_WAIT_MS 10000
/* How often the collector's thread sweeps the leave records. */
#define CHAT_WRITE_BEHIND_SWEEP_MS 30000
/* Leaves of rooms larger than this wait CHAT_MEMBER_LEAVE_SETTLE_MS instead, so that a
 * burst of them is settled together (membership_leaves.h); at most
 * CHAT_WRITE_BEHIND_SETTLE_MAX wait so. */
#define CHAT_WRITE_BEHIND_LARGE_ROOM 250
#define CHAT_WRITE_BEHIND_SETTLE_MAX 1024
/* How long after the first of them can be settled the collector lets a large room's
 * leaves gather: a burst then goes in one settle, not one leave at a time. */
#define CHAT_WRITE_BEHIND_SETTLE_GATHER_MS 5000

typedef struct chat_write_behind chat_write_behind_t;

/** A collector flushed by its owner (chat_write_behind_flush). NULL when out of memory. */
chat_write_behind_t *chat_write_behind_create(void);

/** A collector with a thread of its own that writes what is noted into db at once
 *  (one bulk write for everything noted meanwhile). NULL when it cannot start. */
chat_write_behind_t *chat_write_behind_start(chat_db_t *db);

/** Writes what is still noted, stops the thread (if any) and frees h. */
void chat_write_behind_destroy(chat_write_behind_t *h, chat_db_t *db);

/** Notes that room_id's head is at least seq. False (nothing noted) for a malformed id
 *  or when CHAT_WRITE_BEHIND_MAX other rooms are already waiting. */
bool chat_write_behind_note_head(chat_write_behind_t *h, const char *room_id, int64_t seq);

/** Notes a recorded leave whose membership is to be deleted: a large room's (by
 *  l->room_members) settled CHAT_MEMBER_LEAVE_SETTLE_MS + CHAT_WRITE_BEHIND_SETTLE_GATHER_MS
 *  after the oldest waiting, with every other one old enough by then; others finished after
 *  CHAT_WRITE_BEHIND_LEAVES_WAIT_MS; both at the owner's next quiet moment after that
 *  (CHAT_WRITE_BEHIND_QUIET_MS). False (nothing noted) when that wait is full (finish it
 *  inline). */
bool chat_write_behind_note_leave(chat_write_behind_t *h, const chat_member_leave_t *l);

/** The owner starts / has answered a request: while it serves them, the collector's
 *  thread keeps the work that can wait (CHAT_WRITE_BEHIND_QUIET_MS). An owner that never
 *  calls these (the gateway) is always quiet. Any thread. */
void chat_write_behind_request_begin(chat_write_behind_t *h);
void chat_write_behind_request_end(chat_write_behind_t *h);

/** Rooms and leaves noted and not yet written (being written counts). */
size_t chat_write_behind_pending(chat_write_behind_t *h);

/** Raises room_heads for every noted room (one bulk write), finishes (or settles, those
 *  old enough) every noted leave, and forgets them. */
void chat_write_behind_flush(chat_write_behind_t *h, chat_db_t *db);

#endif
