/*
 * heads_flusher.h - room_heads raised behind the gateway's writers. A writer notes the
 * head each insert reached; a thread of its own writes every room noted since its last
 * round ($max, one bulk write per GW_HEADS_PER_COMMAND rooms) at most every
 * GW_HEADS_FLUSH_MS. The writers never wait for it: on FerretDB each raise costs ~3 ms
 * (one transaction each), and when the writers ran the rounds themselves a round held the
 * acks queued behind it (ack p99 ~100 ms at 1,000 msg/s, docs/BENCHMARKS.md "Stop 35").
 *
 * room_heads is only a lower bound of each room's stored seqs (message_append.c checks what
 * it cannot explain against the messages), so a head noted and not yet written, or one
 * refused because GW_HEADS_MAX rooms wait, costs at most a refused insert and a repair.
 *
 * Threads: gw_heads_flusher_note from any thread (a mutex guards what is noted); the
 * writes run on the flusher's own thread, and at gw_heads_flusher_stop on the caller's.
 */
#ifndef GW_HEADS_FLUSHER_H
#define GW_HEADS_FLUSHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"

#define GW_HEADS_FLUSH_MS 1000   /* a room's head is written at most this often */
#define GW_HEADS_PER_COMMAND 64  /* rooms per bulk write */
#define GW_HEADS_MAX (64 * 1024) /* rooms noted between two rounds */

typedef struct gw_heads_flusher gw_heads_flusher_t;

/** Starts the flusher's thread writing into db every every_ms (0: GW_HEADS_FLUSH_MS),
 *  with at most max_rooms noted between rounds (0: GW_HEADS_MAX). NULL when it cannot
 *  start. */
gw_heads_flusher_t *gw_heads_flusher_start(chat_db_t *db, int every_ms, size_t max_rooms);

/** Notes that room_id's head is at least seq. False (nothing noted) for a malformed id,
 *  when max_rooms other rooms wait, or out of memory: the head stays a lower bound. */
bool gw_heads_flusher_note(gw_heads_flusher_t *f, const char *room_id, int64_t seq);

/** Rooms noted and not yet written (being written counts). */
size_t gw_heads_flusher_pending(gw_heads_flusher_t *f);

/** Stops the thread, writes what is still noted, frees f. NULL is a no-op. */
void gw_heads_flusher_stop(gw_heads_flusher_t *f);

#endif
