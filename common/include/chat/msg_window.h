/*
 * msg_window.h - a room's history window in Redis: the last HISTORY_WINDOW messages of
 * the room as the exact JSON clients receive, in a sorted set by seq, with a meta hash
 * {run, lo, hi, head} (keys.h). The window answers a range only when it holds every seq
 * of it (it holds [lo, hi] without a hole, and hi is the room's head as far as anything
 * acknowledged goes), so a read never needs the database while it lasts:
 *
 *   - writers append after the durable insert (WIN_APPEND, which also PUBLISHes the
 *     message on the room's channel, in the same script): hi advances only through
 *     consecutive seqs, so a seq stored by another writer that has not appended yet
 *     leaves the later ones "pending" above hi until it arrives;
 *   - a writer acknowledges a message only once hi has reached its seq (history.h waits,
 *     then repairs the hole from the database if its writer died), so every acknowledged
 *     message is inside [lo, hi] while the window is ready;
 *   - a resend index {"<user>:<client_msg_id>" -> seq} (chat:{<room>}:cmids) covers the
 *     window's messages, so a resend is recognised before any insert;
 *   - a missing window (first use, FLUSHALL, eviction) or one built under another Redis
 *     run_id (restart, failover: recent writes may be lost) is "not ready" and is rebuilt
 *     from the database (WIN_FILL), which merges what writers appended meanwhile.
 *
 * Pure Redis calls on a chat_redis_t (rest-fcgi's request thread, gateway workers): no
 * database access here; history.h combines both. Blocking; the thread owning r.
 */
#ifndef CHAT_MSG_WINDOW_H
#define CHAT_MSG_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/error.h"
#include "chat/redis_sync.h"

/** Messages of one room to add to its window, ascending seqs (borrowed). idems[i] is the
 *  resend index key of a message sent with a client_msg_id ("<user>:<client_msg_id>",
 *  chat_window_idem_key), NULL or "" otherwise; idems may be NULL (none). */
typedef struct chat_window_items {
    size_t n;
    const int64_t *seqs;
    const char *const *jsons;
    const size_t *lens;
    const char *const *idems;
} chat_window_items_t;

/** The resend index key of (user, client_msg_id) into buf; false when it does not fit. */
bool chat_window_idem_key(const char *user_id, const char *client_msg_id, char *buf, size_t len);

/**
 * Queues WIN_IDEM on r's pipeline: the stored copy of user_id's message client_msg_id in
 * room_id while the window holds it (the cheap answer to "is this a resend?", before
 * any insert). Decode the reply with chat_window_parse_idem.
 */
chat_err_t chat_window_queue_idem(chat_redis_t *r, const char *room_id, const char *user_id,
                                  const char *client_msg_id);
/** The stored copy's JSON (new malloc'd string) or NULL (none, or no answer). */
char *chat_window_parse_idem(const redisReply *reply);

/** What a window looks like after an append or fill. */
typedef struct chat_window_state {
    bool ready;      /* built under the current run_id */
    int64_t lo;      /* fill only: lowest seq held */
    int64_t hi;      /* every seq in [lo, hi] is held (ready only) */
    int64_t head;    /* append only: highest seq any writer appended */
    int64_t pending; /* fill only, not ready: the lowest seq held above a hole at hi + 1 */
} chat_window_state_t;

/**
 * Queues WIN_APPEND for one room on r's pipeline (read the reply with
 * chat_redis_next_reply, decode with chat_window_parse_append). publish also PUBLISHes
 * each JSON on the room's channel. CHAT_ERR_UNAVAILABLE when Redis is down.
 */
chat_err_t chat_window_queue_append(chat_redis_t *r, const char *room_id, int64_t window_size,
                                    bool publish, const chat_window_items_t *items);
/** Decodes a WIN_APPEND reply; CHAT_ERR_UNAVAILABLE for NULL or an error reply. */
chat_err_t chat_window_parse_append(const redisReply *reply, chat_window_state_t *out);

/**
 * WIN_FILL: stores what the database holds (items: ascending, contiguous, ending at top,
 * the room's highest stored seq when read, 0 for an empty room) and marks the window
 * ready unless a seq above hi is held with a hole below it: then out->ready is false and
 * out->hi / out->pending bound the hole to read and fill again.
 */
chat_err_t chat_window_fill(chat_redis_t *r, const char *room_id, int64_t window_size, int64_t top,
                            const chat_window_items_t *items, chat_window_state_t *out);

typedef enum chat_window_mode {
    CHAT_WINDOW_LATEST = 0, /* arg = offset back from the newest */
    CHAT_WINDOW_BEFORE,     /* arg = seq: the newest limit below it */
    CHAT_WINDOW_AFTER       /* arg = seq: the oldest limit above it */
} chat_window_mode_t;

typedef enum chat_window_answer {
    CHAT_WINDOW_NOT_READY = 0, /* no usable window: build it (history.h) */
    CHAT_WINDOW_ANSWERED = 1,  /* json[] holds every seq of [from, to] */
    CHAT_WINDOW_OUTSIDE = 2    /* ready, but [from, to] starts below lo: read the database */
} chat_window_answer_t;

/** A range read from the window; json[i] / len[i] point into reply (owned). */
typedef struct chat_window_page {
    chat_window_answer_t answer;
    int64_t lo, hi;   /* the window's bounds; hi is the room's head */
    int64_t from, to; /* the seqs the request covers (to < from: none) */
    size_t n;
    const char **json;
    size_t *len;
    redisReply *reply;
} chat_window_page_t;

/** WIN_READ: the range of mode/arg/limit in one atomic read. CHAT_ERR_UNAVAILABLE when
 *  Redis is down. out must be cleared with chat_window_page_clear. */
chat_err_t chat_window_read(chat_redis_t *r, const char *room_id, chat_window_mode_t mode,
                            int64_t arg, int64_t limit, chat_window_page_t *out);
void chat_window_page_clear(chat_window_page_t *page);

/** The pure range arithmetic WIN_READ does (for callers answering from the database with
 *  the same rules): [*from, *to] for mode/arg/limit when the head is hi. */
void chat_window_range(chat_window_mode_t mode, int64_t arg, int64_t limit, int64_t hi,
                       int64_t *from, int64_t *to);

#endif
