/*
 * heads_later.h - room_heads raised behind the reply instead of before it. room_heads is
 * only a lower bound of each room's stored seqs (message_append.c reads it after a
 * refused insert, and checks anything it cannot explain against the messages
 * themselves), so a write that the caller answers first and records a moment later
 * loses nothing when the process dies in between: the next writer of that room takes
 * the slower, certain path once. rest-fcgi keeps the room_heads update (the slowest of a
 * join's or a leave's MongoDB writes on FerretDB) out of its requests this way: the
 * request notes the head, a thread of its own writes it. A leave's room_members delete
 * (a scan on FerretDB) goes the same way: the leave is durable in member_leaves before
 * the reply (member_leaves_repo.h), the collector deletes the membership after it (its
 * thread lets leaves gather for CHAT_HEADS_LATER_LEAVES_WAIT_MS), and its thread sweeps
 * the leave records every CHAT_HEADS_LATER_SWEEP_MS.
 *
 * Threads: any thread may note; the flush runs on the collector's own thread when it
 * was started with chat_heads_later_start, else on whichever thread calls
 * chat_heads_later_flush. The pairs are kept under a mutex.
 */
#ifndef CHAT_HEADS_LATER_H
#define CHAT_HEADS_LATER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/member_leaves_repo.h"

/* Rooms noted between two flushes; a note beyond them is refused (write it inline). */
#define CHAT_HEADS_LATER_MAX 64
/* How long the collector's thread lets leaves gather before it deletes their memberships
 * (one delete per room for all of them). */
#define CHAT_HEADS_LATER_LEAVES_WAIT_MS 1000
/* How often the collector's thread sweeps the leave records. */
#define CHAT_HEADS_LATER_SWEEP_MS 30000

typedef struct chat_heads_later chat_heads_later_t;

/** A collector flushed by its owner (chat_heads_later_flush). NULL when out of memory. */
chat_heads_later_t *chat_heads_later_create(void);

/** A collector with a thread of its own that writes what is noted into db at once
 *  (one bulk write for everything noted meanwhile). NULL when it cannot start. */
chat_heads_later_t *chat_heads_later_start(chat_db_t *db);

/** Writes what is still noted, stops the thread (if any) and frees h. */
void chat_heads_later_destroy(chat_heads_later_t *h, chat_db_t *db);

/** Notes that room_id's head is at least seq. False (nothing noted) for a malformed id
 *  or when CHAT_HEADS_LATER_MAX other rooms are already waiting. */
bool chat_heads_later_note(chat_heads_later_t *h, const char *room_id, int64_t seq);

/** Notes a recorded leave whose membership is to be deleted. False (nothing noted) when
 *  CHAT_HEADS_LATER_MAX leaves are already waiting (finish it inline). */
bool chat_heads_later_note_leave(chat_heads_later_t *h, const chat_member_leave_t *l);

/** Rooms and leaves noted and not yet written (being written counts). */
size_t chat_heads_later_pending(chat_heads_later_t *h);

/** Raises room_heads for every noted room (one bulk write), finishes the noted leaves,
 *  and forgets them. */
void chat_heads_later_flush(chat_heads_later_t *h, chat_db_t *db);

#endif
