/*
 * append_turns.h - turns at a contended room's seqs between writers (gateways, their
 * writer threads, REST). Seqs are gap-free, so two writers of one room try the same next
 * seq and the unique index refuses one of them. Without turns the writer that keeps
 * losing is the one that learns of its refusal last: its retry starts while the winner's
 * next insert is already running, is refused again, and so on (a room of 10 senders on two
 * gateways: rounds of 8 refusals, 64 in a row gave up a batch of 64 as "service
 * unavailable"; docs/BENCHMARKS.md "Stop 35").
 *
 * A writer whose insert was refused takes the room's turn (a redis_lock.h lock on
 * chat:{room}:turn, CHAT_APPEND_TURN_TTL_MS); every writer, before an insert round, waits
 * while another writer holds the turn of a room in it (at most CHAT_APPEND_TURN_WAIT_MS)
 * and then starts from the head the holder recorded; the holder gives the turn back right
 * after its insert. Only a matter of speed: the unique index still decides every seq, and
 * a turn whose holder died ends with its ttl.
 *
 * Threads: any thread that may block, with its own chat_redis_t; what a thread saw
 * contended is its own (thread-local).
 */
#ifndef CHAT_APPEND_TURNS_H
#define CHAT_APPEND_TURNS_H

#include <stdbool.h>
#include <stddef.h>

#include <bson/bson.h>

#include "chat/error.h"
#include "chat/redis_lock.h"
#include "chat/redis_sync.h"

#define CHAT_APPEND_TURN_TTL_MS 200  /* a turn whose holder died ends after this */
#define CHAT_APPEND_TURN_WAIT_MS 200 /* a writer waits at most this for other writers' turns */
#define CHAT_APPEND_TURN_POLL_MS 1
/* A writer checks turns only in rooms it saw contended this recently (refused, or told
 * by the head hint that a turn is held): elsewhere an insert costs no extra round trip. */
#define CHAT_APPEND_TURN_RECENT_MS 2000
#define CHAT_APPEND_TURN_RECENT_ROOMS 32 /* remembered per thread, the oldest forgotten */

/** A short pause that grows with the attempt (at most ~2 ms) and is jittered by *seed,
 *  so racing writers whose refusal nothing explained spread out instead of colliding on
 *  the same seq again. */
void chat_append_backoff(int attempt, unsigned *seed);

/** This thread saw room contended: its inserts there check turns for a while. */
void chat_append_turns_note(const bson_oid_t *room);

/** Whether this thread saw room contended within CHAT_APPEND_TURN_RECENT_MS. */
bool chat_append_turns_recent(const bson_oid_t *room);

/** Takes room's turn into *turn unless this writer already holds it (turn->held) or
 *  another does (then turn->held stays false). CHAT_ERR_UNAVAILABLE without Redis. */
chat_err_t chat_append_turn_take(chat_redis_t *r, const bson_oid_t *room, chat_redis_lock_t *turn);

/** Gives turn back when this writer holds it. */
void chat_append_turn_give(chat_redis_t *r, chat_redis_lock_t *turn);

/**
 * Waits while another writer holds the turn of any of rooms[0..n) that is in mask (NULL:
 * all) and that this thread saw contended (chat_append_turns_recent; the others cost
 * nothing), polling every CHAT_APPEND_TURN_POLL_MS for at most CHAT_APPEND_TURN_WAIT_MS.
 * turns[i] is this writer's own turn of room i, held or not; before it waits it gives back
 * the turns it holds, so two writers never wait for each other. waited[i] tells which rooms
 * it waited for: their heads have moved. CHAT_OK (also when the wait ran out), or
 * CHAT_ERR_UNAVAILABLE when Redis did not answer (then nothing is waited for).
 */
chat_err_t chat_append_turns_wait(chat_redis_t *r, const bson_oid_t *rooms, const bool *mask,
                                  chat_redis_lock_t *turns, size_t n, bool *waited);

#endif
