/*
 * history_warm.c - every room's window from one read of `messages` (see header): the
 * collection read once (chat_messages_each), sorted by room and seq, and each room's
 * newest HISTORY_WINDOW handed to chat_history_build_from, which takes the room's fill
 * lock and merges what writers appended meanwhile as any rebuild does.
 *
 * Threads: the thread that owns h->redis.
 */
#include "chat/history_warm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/grow.h"
#include "chat/history.h"
#include "chat/keys.h"
#include "chat/messages_repo.h"
#include "chat/redis_lock.h"
#include "chat/redis_sync.h"

#define HISTORY_WARM__LOCK_MS 300000   /* a warm-up that takes longer loses its lock */
#define HISTORY_WARM__PROBE_ROUND 1024 /* windows' marks asked per pipelined round */
#define HISTORY_WARM__HEADS_MAX 200000 /* rooms' heads read when max_rooms is 0 */

typedef struct history_warm__read {
    chat_message_t *items;
    size_t n;
    size_t cap;
} history_warm__read_t;

static chat_err_t history_warm__take(chat_message_t *msg, void *arg)
{
    history_warm__read_t *r = arg;
    chat_message_t *grown = chat_grow(r->items, r->n, &r->cap, sizeof(*grown), 1024);

    if (grown == NULL) {
        chat_message_clear(msg);
        return CHAT_ERR_NOMEM;
    }
    r->items = grown;
    r->items[r->n++] = *msg; /* moves its strings */
    return CHAT_OK;
}

static int history_warm__by_room_seq(const void *a, const void *b)
{
    const chat_message_t *x = a;
    const chat_message_t *y = b;
    int c = strcmp(x->room_id, y->room_id);

    if (c != 0) {
        return c;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Each room's newest h->window messages of r (sorted) to its window. */
static chat_err_t history_warm__build(const chat_store_t *h, history_warm__read_t *r,
                                      chat_history_warm_t *w)
{
    size_t first = 0;
    size_t keep = h->window > 0 ? (size_t)h->window : 1;

    while (first < r->n) {
        size_t end = first + 1;
        chat_message_list_t newest;
        bool built = false;
        chat_err_t rc;

        while (end < r->n && strcmp(r->items[end].room_id, r->items[first].room_id) == 0) {
            end++;
        }
        newest.n = end - first < keep ? end - first : keep;
        newest.items = &r->items[end - newest.n];
        rc = chat_history_build_from(h, r->items[first].room_id, &newest, &built);
        if (rc == CHAT_ERR_UNAVAILABLE) {
            return rc; /* Redis went: the rooms' first looks build theirs */
        }
        if (built) {
            w->rooms_built++;
        } else {
            w->rooms_left++;
        }
        first = end;
    }
    return CHAT_OK;
}

/* How many of the rooms with messages (heads, from room_heads) have no window ready for
 * this Redis run (run): their windows' marks in pipelined rounds. A window a reader
 * rebuilt on its own since the loss (a gateway's resubscribe backfills every room it
 * holds) counts as ready; a room without messages has no window and is not asked about.
 * More rooms than max_rooms: as if none were ready. */
static chat_err_t history_warm__count_missing(const chat_store_t *h, const char *run,
                                              const chat_room_heads_t *heads,
                                              chat_history_warm_t *w)
{
    chat_err_t rc = CHAT_OK;

    w->rooms = heads->n;
    w->rooms_missing = 0;
    if (heads->read > w->max_rooms) {
        w->rooms_missing = heads->n;
        return CHAT_OK;
    }
    for (size_t first = 0; rc == CHAT_OK && first < heads->n; first += HISTORY_WARM__PROBE_ROUND) {
        size_t end = first + HISTORY_WARM__PROBE_ROUND < heads->n
            ? first + HISTORY_WARM__PROBE_ROUND
            : heads->n;
        size_t queued = first;

        for (; queued < end; queued++) {
            char id[CHAT_ID_LEN];
            char meta[CHAT_KEY_LEN];
            const char *argv[3] = {"HGET", meta, "run"};
            bson_oid_to_string(&heads->rooms[queued], id);
            if (chat_key_tagged(id, "meta", meta, sizeof(meta)) == NULL ||
                chat_redis_append_argv(h->redis, 3, argv, NULL) != CHAT_OK) {
                rc = CHAT_ERR_UNAVAILABLE;
                break;
            }
        }
        for (size_t i = first; i < queued; i++) {
            redisReply *reply = chat_redis_next_reply(h->redis);
            if (reply == NULL) {
                rc = CHAT_ERR_UNAVAILABLE;
                chat_redis_discard_replies(h->redis);
                break;
            }
            w->rooms_missing +=
                !(reply->type == REDIS_REPLY_STRING && strcmp(reply->str, run) == 0);
            freeReplyObject(reply);
        }
    }
    return rc;
}

/* *done when a warm-up finished for this Redis run. */
static chat_err_t history_warm__done_for(const chat_store_t *h, const char *run, bool *done)
{
    redisReply *reply = chat_redis_command(h->redis, "GET %s", CHAT_KEY_WINDOWS_WARMED);

    if (reply == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    *done = reply->type == REDIS_REPLY_STRING && strcmp(reply->str, run) == 0;
    freeReplyObject(reply);
    return CHAT_OK;
}

/* Marks the run the windows were built for: a Redis that restarted meanwhile has another
 * run id, so the mark does not vouch for it and the next caller warms again. */
static void history_warm__mark(const chat_store_t *h, const char *run)
{
    redisReply *reply = chat_redis_command(h->redis, "SET %s %s", CHAT_KEY_WINDOWS_WARMED, run);

    if (reply != NULL) {
        freeReplyObject(reply); /* best effort: without the mark the next one reads again */
    }
}

/* Whether to read `messages` at all: *go_on unless the rooms' heads say too many are
 * stored (their sum: a lower bound, heads being written behind, so the read is bounded
 * by itself too; not the collection's estimated count, which on FerretDB/SQLite decoded
 * every message, 600 ms at 11,494, and lagged: it said 0 for 75) or, when w->max_rooms
 * asks, fewer than two rooms with messages lack a ready window (readers rebuilt the
 * others on their own since Redis lost them — in the long chaos runs every room's,
 * before the look came — and the last one's first reader reads as much as this would).
 * Either way the run is marked: looked at. */
static chat_err_t history_warm__worth_it(const chat_store_t *h, chat_db_t *db, const char *run,
                                         chat_history_warm_t *w, bool *go_on)
{
    chat_room_heads_t heads;
    chat_err_t rc = chat_messages_heads_all(
        db, w->max_rooms > 0 ? w->max_rooms : HISTORY_WARM__HEADS_MAX, &heads);

    *go_on = false;
    if (rc != CHAT_OK) {
        return rc;
    }
    w->stored = heads.total;
    if (w->max_rooms > 0) {
        rc = history_warm__count_missing(h, run, &heads, w);
        w->few_missing = rc == CHAT_OK && w->rooms_missing < 2;
    }
    if (rc == CHAT_OK && !w->few_missing) {
        w->too_many = w->stored > 0 && (uint64_t)w->stored > (uint64_t)w->max_messages;
    }
    chat_room_heads_clear(&heads);
    if (rc == CHAT_OK && (w->few_missing || w->too_many)) {
        history_warm__mark(h, run); /* the next caller does not look again */
    }
    *go_on = rc == CHAT_OK && !w->few_missing && !w->too_many;
    return rc;
}

chat_err_t chat_history_warm_done(const chat_store_t *h, bool *done)
{
    const char *current = h->redis != NULL ? chat_redis_run_id(h->redis) : NULL;
    char run[64];

    *done = false;
    if (current == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(run, sizeof(run), "%s", current);
    return history_warm__done_for(h, run, done);
}

chat_err_t chat_history_warm_all(const chat_store_t *h, chat_history_warm_t *w)
{
    chat_db_t *db = h->db_scan != NULL ? h->db_scan : h->db;
    history_warm__read_t r = {0};
    chat_redis_lock_t lock;
    const char *current = h->redis != NULL ? chat_redis_run_id(h->redis) : NULL;
    char run[64]; /* a copy: the client's own changes if Redis restarts meanwhile */
    bool go_on = false;
    chat_err_t rc;

    w->stored = 0;
    w->read = w->rooms_built = w->rooms_left = 0;
    w->rooms = w->rooms_missing = 0;
    w->too_many = w->another_warms = w->already = w->few_missing = false;
    if (current == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(run, sizeof(run), "%s", current);
    rc = history_warm__done_for(h, run, &w->already);
    if (rc != CHAT_OK || w->already) {
        return rc;
    }
    rc = history_warm__worth_it(h, db, run, w, &go_on);
    if (rc != CHAT_OK || !go_on) {
        return rc;
    }
    rc = chat_redis_lock_take(h->redis, &lock, CHAT_KEY_WINDOWS_WARMING, HISTORY_WARM__LOCK_MS);
    if (rc != CHAT_OK) {
        return rc;
    }
    if (!lock.held) {
        w->another_warms = true;
        return CHAT_OK;
    }
    /* one more than the bound: a collection that grew past it since the count is left
     * to the per-room builds too */
    rc = chat_messages_each(db, w->max_messages + 1, history_warm__take, &r);
    w->read = r.n;
    if (rc == CHAT_OK && r.n > w->max_messages) {
        w->too_many = true;
    } else if (rc == CHAT_OK && r.n > 0) {
        qsort(r.items, r.n, sizeof(*r.items), history_warm__by_room_seq);
        rc = history_warm__build(h, &r, w);
    }
    if (rc == CHAT_OK) {
        history_warm__mark(h, run); /* built, or left to the per-room builds (too many) */
    }
    chat_redis_lock_release(h->redis, &lock);
    for (size_t i = 0; i < r.n; i++) {
        chat_message_clear(&r.items[i]);
    }
    free(r.items);
    return rc;
}
