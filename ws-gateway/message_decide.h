/*
 * message_decide.h - the pure decisions of the message pipeline (message_pipeline.c),
 * kept apart so that tests/unit can drive them without a socket, Redis or MongoDB:
 *   - what a finished store job tells its sender (ack, hold for Redis, or which error);
 *   - when a queued message is shed instead of stored (the sender gave up long ago);
 *   - the rate-limit script call: EVALSHA with the script's SHA1 (only the key and the
 *     arguments travel), or EVAL with its source when Redis answers NOSCRIPT (it lost
 *     its script cache: restart, SCRIPT FLUSH, failover); EVAL also caches it again.
 *
 * Threads: any (the gateway calls them on the loop thread and on writer workers).
 */
#ifndef GW_MESSAGE_DECIDE_H
#define GW_MESSAGE_DECIDE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdint.h>

#include "chat/error.h"
#include "chat/keys.h"

#define GW_MSG_MAX_QUEUE_WAIT_MS 10000 /* older appends fail fast (overload) */

typedef enum gw_msg_outcome {
    GW_MSG_ACK = 0,   /* stored and committed: ack, then local delivery */
    GW_MSG_HOLD,      /* stored, Redis away: deliver here, the ack waits */
    GW_MSG_NOT_FOUND, /* not a member of a private (or no) room: "no such room" */
    GW_MSG_NOT_MEMBER,
    GW_MSG_INVALID,    /* the store refused the message itself */
    GW_MSG_UNAVAILABLE /* not stored: retryable error */
} gw_msg_outcome_t;

/** What a store job's results (err, stored, is_member, room_hidden, committed) mean to
 *  its sender. */
gw_msg_outcome_t gw_msg_decide_outcome(chat_err_t err, bool stored, bool is_member,
                                       bool room_hidden, bool committed);
/** True when a job not stored yet waited too long in the queue (now - queued_ms over
 *  GW_MSG_MAX_QUEUE_WAIT_MS): it is answered "unavailable" instead of stored. */
bool gw_msg_decide_shed(bool stored, int64_t queued_ms, int64_t now_ms);

/** A rate-limit script call: argv[0..argc) point into this struct and the script. */
typedef struct gw_msg_limit_call {
    const char *argv[7];
    int argc;
    char key[CHAT_KEY_LEN];
    char rate[32];
    char burst[32];
} gw_msg_limit_call_t;

/** Fills c with the call taking one token from user_id's message bucket: EVALSHA when
 *  by_sha and the script's SHA1 is known, else EVAL with the source. */
void gw_msg_decide_limit_call(gw_msg_limit_call_t *c, const char *user_id, double rate,
                              double burst, bool by_sha);
/** True when reply is Redis's NOSCRIPT error (EVALSHA of a script it does not have). */
bool gw_msg_decide_noscript(const redisReply *reply);

#endif
