/*
 * message_append.h - storing messages. Every message of a room gets the next seq by
 * insert-first under the unique (room_id, seq) index: try head + 1; a duplicate-key
 * refusal means another writer took it, so learn the head again and retry. A seq exists
 * only once its message is stored, so seqs run 1..head without holes, across any number
 * of processes.
 *
 * Idempotency: idem_key = "<user>:<room>:<client_msg_id>" (SPEC §4.3: the same id in
 * another room is another message), or the message's own id when it has none, is
 * unique; a message with a client_msg_id gets an _id hashed from its idem_key, so a
 * resend is refused on _id and the earlier copy, found by _id, is the answer. Copies
 * stored under the earlier key format ("<user>:<client_msg_id>") are recognised through
 * the room's window (history.h) while they are among its last HISTORY_WINDOW messages.
 *
 * Group commit: chat_messages_append_many stores a batch (any rooms) with one ordered
 * insert_many per attempt; a refusal stops the batch at that document, which is
 * resolved (resend, lost race, hash clash) before the rest is tried again with its seqs
 * re-allocated, so a room's messages keep their order and no seq is skipped.
 *
 * Blocking; any thread that may block (see db.h).
 */
#ifndef CHAT_MESSAGE_APPEND_H
#define CHAT_MESSAGE_APPEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/message_idem.h" /* chat_messages_idem_key, for the callers of this header */
#include "chat/model.h"
#include "chat/redis_sync.h"

/** One message of a batch: in is borrowed (room_id, user_id, username, content, type,
 *  client_msg_id); the rest are results. */
typedef struct chat_append {
    const chat_message_t *in;
    int64_t hint; /* the caller's best known head of the room (0 = unknown) */
    chat_err_t err;
    bool duplicate;     /* out is the earlier copy; nothing new was stored */
    chat_message_t out; /* stored message (caller clears) */
} chat_append_t;

/**
 * A cheap, shared record of each room's head (the Redis window's head field): get
 * answers a lower bound (0 when unknown), asked after a refusal before anything slower;
 * stored raises it right after an insert, so that other writers learn the new head
 * within a round trip instead of after this writer's whole batch.
 */
typedef struct chat_head_hints {
    int64_t (*get)(void *arg, const char *room_id);
    /* true when the room is contended: some writer holds its turn (append_turns.h) */
    bool (*stored)(void *arg, const char *room_id, int64_t seq);
    void *arg;
    /* the writer's own Redis client for turns at contended rooms (append_turns.h); NULL:
     * none taken or waited for */
    chat_redis_t *turns;
} chat_head_hints_t;

/**
 * Stores items[0..n) in order. Per-item outcome in err/duplicate/out; the return value
 * is CHAT_OK unless the batch itself could not run (CHAT_ERR_NOMEM). update_heads raises
 * room_heads for the rooms written (one bulk write); a caller that batches many writes
 * may instead call chat_messages_heads_advance itself now and then. hints (may be
 * NULL) are read after a refusal and raised after each insert (see chat_head_hints_t).
 */
chat_err_t chat_messages_append_many(chat_db_t *db, chat_append_t *items, size_t n,
                                     bool update_heads, const chat_head_hints_t *hints);

/**
 * One message (a batch of one, heads updated). When (user, room, client_msg_id) was
 * stored before, out is that earlier message and *duplicate = true. seq_hint, if not
 * NULL, is a caller-owned cache of the room's last known seq (0 = unknown); updated.
 */
chat_err_t chat_messages_append(chat_db_t *db, const chat_message_t *in, int64_t *seq_hint,
                                chat_message_t *out, bool *duplicate);

#endif
