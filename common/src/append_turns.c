/*
 * append_turns.c - turns at a contended room's seqs (see append_turns.h): a redis_lock.h
 * lock per room, the wait for other writers' turns as one pipelined GET per room per poll,
 * and the jittered pause after a refusal nothing explained.
 *
 * Threads: any thread that may block, with its own chat_redis_t; the recently contended
 * rooms are per thread.
 */
#include "chat/append_turns.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/clock.h"
#include "chat/keys.h"
#include "chat/model.h"

void chat_append_backoff(int attempt, unsigned *seed)
{
    long max_us = 100L * (attempt < 20 ? attempt : 20);
    struct timespec ts = {0, 0};

    *seed = *seed * 1103515245u + 12345u;
    ts.tv_nsec = (long)((*seed >> 8) % (unsigned long)(max_us + 1)) * 1000L;
    nanosleep(&ts, NULL);
}

/* The rooms this thread saw contended, and until when it checks their turns. */
static _Thread_local struct {
    bson_oid_t room;
    int64_t until_ms;
} turns__recent[CHAT_APPEND_TURN_RECENT_ROOMS];

void chat_append_turns_note(const bson_oid_t *room)
{
    int64_t now = chat_clock_monotonic_ms();
    size_t at = 0;

    for (size_t i = 0; i < CHAT_APPEND_TURN_RECENT_ROOMS; i++) {
        if (bson_oid_equal(&turns__recent[i].room, room)) {
            at = i;
            break;
        }
        if (turns__recent[i].until_ms < turns__recent[at].until_ms) {
            at = i; /* the oldest, or a free slot (0) */
        }
    }
    bson_oid_copy(room, &turns__recent[at].room);
    turns__recent[at].until_ms = now + CHAT_APPEND_TURN_RECENT_MS;
}

bool chat_append_turns_recent(const bson_oid_t *room)
{
    int64_t now = chat_clock_monotonic_ms();

    for (size_t i = 0; i < CHAT_APPEND_TURN_RECENT_ROOMS; i++) {
        if (turns__recent[i].until_ms > now && bson_oid_equal(&turns__recent[i].room, room)) {
            return true;
        }
    }
    return false;
}

chat_err_t chat_append_turn_take(chat_redis_t *r, const bson_oid_t *room, chat_redis_lock_t *turn)
{
    char hex[CHAT_ID_LEN];
    char key[CHAT_KEY_LEN];

    if (turn->held) {
        return CHAT_OK;
    }
    bson_oid_to_string(room, hex);
    if (r == NULL || chat_key_tagged(hex, "turn", key, sizeof(key)) == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    return chat_redis_lock_take(r, turn, key, CHAT_APPEND_TURN_TTL_MS);
}

void chat_append_turn_give(chat_redis_t *r, chat_redis_lock_t *turn)
{
    if (r != NULL) {
        chat_redis_lock_release(r, turn);
    }
}

/* One look at the turns of the rooms in look[0..n): foreign[i] when another writer holds
 * room i's. Returns how many do, or -1 when Redis did not answer. */
static long turns__look(chat_redis_t *r, const bson_oid_t *rooms, const bool *look,
                        const chat_redis_lock_t *turns, size_t n, bool *foreign)
{
    size_t queued = 0;
    size_t answered = 0;
    long count = 0;
    bool failed = false;

    for (size_t i = 0; i < n && !failed; i++) {
        char hex[CHAT_ID_LEN];
        char key[CHAT_KEY_LEN];
        const char *argv[2] = {"GET", key};
        if (look[i]) {
            bson_oid_to_string(&rooms[i], hex);
            failed = chat_key_tagged(hex, "turn", key, sizeof(key)) == NULL ||
                chat_redis_append_argv(r, 2, argv, NULL) != CHAT_OK;
            queued += !failed;
        }
    }
    for (size_t i = 0; i < n && answered < queued; i++) {
        redisReply *reply = look[i] ? chat_redis_next_reply(r) : NULL;
        if (!look[i]) {
            continue;
        }
        answered++;
        failed = failed || reply == NULL || reply->type == REDIS_REPLY_ERROR;
        foreign[i] = reply != NULL && reply->type == REDIS_REPLY_STRING &&
            !(turns[i].held && strcmp(reply->str, turns[i].token) == 0);
        count += foreign[i];
        if (reply != NULL) {
            freeReplyObject(reply);
        }
    }
    if (failed) {
        chat_redis_discard_replies(r);
        return -1;
    }
    return count;
}

chat_err_t chat_append_turns_wait(chat_redis_t *r, const bson_oid_t *rooms, const bool *mask,
                                  chat_redis_lock_t *turns, size_t n, bool *waited)
{
    bool *look = calloc(2 * n + 2, sizeof(*look));
    bool *foreign = look != NULL ? look + n + 1 : NULL;
    int64_t t0 = chat_clock_monotonic_ms();
    chat_err_t rc = CHAT_OK;
    bool gave = false;
    bool any = false;

    memset(waited, 0, n * sizeof(*waited));
    if (r == NULL || look == NULL) {
        free(look);
        return r == NULL ? CHAT_ERR_UNAVAILABLE : CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        look[i] = (mask == NULL || mask[i]) && chat_append_turns_recent(&rooms[i]);
        any = any || look[i];
    }
    for (; any;) {
        long busy = turns__look(r, rooms, look, turns, n, foreign);
        if (busy < 0) {
            rc = CHAT_ERR_UNAVAILABLE;
            break;
        }
        if (busy == 0 || chat_clock_monotonic_ms() - t0 >= CHAT_APPEND_TURN_WAIT_MS) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            waited[i] = waited[i] || foreign[i];
            if (!gave) {
                chat_append_turn_give(r, &turns[i]); /* never hold one while waiting */
            }
        }
        gave = true;
        nanosleep(&(struct timespec){0, CHAT_APPEND_TURN_POLL_MS * 1000000L}, NULL);
    }
    free(look);
    return rc;
}
