/*
 * history.h - the one place that answers "messages of a room" and that makes newly
 * stored messages visible, for REST and the gateway alike:
 *
 *   - reads come from the room's Redis window (msg_window.h) when it holds the range;
 *     a missing window is rebuilt from MongoDB once (one reader builds it, the others
 *     wait for it); pages older than the window, or everything while Redis is down,
 *     come from MongoDB by seq range;
 *   - writers call chat_history_commit (history_commit.h) after the durable insert; it
 *     returns only when the room's window shows the new seqs, so acknowledging
 *     afterwards can never show a reader a history without an acknowledged message.
 *
 * The page size of every read is owned here (CHAT_HISTORY_MAX_LIMIT, messages_repo.h).
 * Blocking; the thread that owns the chat_redis_t (REST request thread, gateway worker).
 */
#ifndef CHAT_HISTORY_H
#define CHAT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/history_commit.h" /* the writers' half, for the callers of this header */
#include "chat/message_append.h"
#include "chat/msg_window.h"
#include "chat/redis_sync.h"
#include "chat/store.h"

typedef enum chat_history_source {
    CHAT_HISTORY_FROM_WINDOW = 0,
    CHAT_HISTORY_FROM_DB
} chat_history_source_t;

/** A page: json[i] (owned, as clients receive it) of seq seqs[i], ascending; idems[i]
 *  its resend index key, or NULL (set for pages read from MongoDB only). */
typedef struct chat_history_page {
    int64_t total;    /* the room's head: messages run 1..total */
    int64_t from, to; /* the seqs the request covered (to < from: none) */
    size_t n;
    char **json;
    size_t *len;
    int64_t *seqs;
    char **idems;
    chat_history_source_t source;
} chat_history_page_t;

/**
 * The page of mode/arg/limit (limit clamped to 1..CHAT_HISTORY_MAX_LIMIT).
 * CHAT_ERR_NOT_FOUND for a malformed room id; CHAT_ERR_UNAVAILABLE when neither Redis
 * nor MongoDB can answer. out must be cleared with chat_history_page_clear.
 */
chat_err_t chat_history_read(const chat_store_t *h, const char *room_id, chat_window_mode_t mode,
                             int64_t arg, int64_t limit, chat_history_page_t *out);
void chat_history_page_clear(chat_history_page_t *page);

/** The room's head (highest visible seq), building the window when it is missing. */
chat_err_t chat_history_head(const chat_store_t *h, const char *room_id, int64_t *out);

/** The chat_head_hints_t (message_append.h) of a store: the head field of each room's
 *  window meta in Redis. */
chat_head_hints_t chat_history_hints(const chat_store_t *s);

/**
 * The stored messages of seqs [from, to] from MongoDB alone (to - from <
 * CHAT_HISTORY_MAX_LIMIT; to < from: none) into out, which holds no messages yet (its
 * total is kept), with idems set; out->source is CHAT_HISTORY_FROM_DB. For fallbacks and
 * window repairs; clear out with chat_history_page_clear even on failure.
 */
chat_err_t chat_history_read_db(const chat_store_t *h, const char *room_id, int64_t from,
                                int64_t to, chat_history_page_t *out);

/**
 * Builds room_id's window from newest (its newest stored messages, ascending, read by
 * the caller: history_warm.h reads every room's at once) unless the window is ready for
 * this Redis run or another process is building it (the room's fill lock is held);
 * messages stored after newest was read are taken from the window or MongoDB as in any
 * rebuild. *built says whether this call built it. CHAT_ERR_INTERNAL when newest has a
 * hole; CHAT_ERR_INVALID without Redis.
 */
chat_err_t chat_history_build_from(const chat_store_t *h, const char *room_id,
                                   chat_message_list_t *newest, bool *built);

#endif
