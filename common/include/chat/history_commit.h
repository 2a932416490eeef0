/*
 * history_commit.h - making newly stored messages visible (the writers' half of
 * history.h). Writers call chat_history_commit after the durable insert: it appends to
 * each room's window and PUBLISHes in the same script, and returns only when the room's
 * window shows the new seqs (or has no window to keep right), so acknowledging
 * afterwards can never show a reader a history without an acknowledged message. A hole
 * left by a writer that died between its insert and its append is repaired from MongoDB.
 *
 * Blocking; the thread that owns the chat_redis_t (REST request thread, gateway worker).
 */
#ifndef CHAT_HISTORY_COMMIT_H
#define CHAT_HISTORY_COMMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/error.h"
#include "chat/msg_window.h"
#include "chat/store.h"

/** Messages of one room stored by the caller, to make visible. */
typedef struct chat_history_commit {
    const char *room_id;
    chat_window_items_t items; /* ascending seqs, borrowed */
    chat_err_t result;         /* CHAT_OK: visible, acknowledge; CHAT_ERR_UNAVAILABLE:
                                  Redis is down, keep them and commit again later */
} chat_history_commit_t;

/**
 * Appends each room's messages to its window (one pipelined round trip for all rooms;
 * publish also PUBLISHes them), then waits up to wait_ms for rooms whose window shows a
 * hole below the new seqs (another writer's append in flight) and repairs what is still
 * missing from MongoDB. Sets rooms[i].result.
 */
void chat_history_commit(const chat_store_t *h, chat_history_commit_t *rooms, size_t n,
                         bool publish, int wait_ms);

#endif
