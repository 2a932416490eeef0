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
#include "chat/rooms_repo.h"

#define HISTORY_WARM__LOCK_MS 300000   /* a warm-up that takes longer loses its lock */
#define HISTORY_WARM__PROBE_ROUND 1024 /* windows' marks asked per pipelined round */
#define HISTORY_WARM__HEADS_MAX 200000 /* rooms' heads summed when max_rooms is 0 */

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

/* How many rooms have no window ready for this Redis run (run): one read of the rooms'
 * ids, then their windows' marks in pipelined rounds. A window a reader rebuilt on its
 * own since the loss (a gateway's resubscribe backfills every room it holds) counts as
 * ready. A room without messages has no window either, and counts as missing. */
static chat_err_t history_warm__count_missing(const chat_store_t *h, chat_db_t *db, const char *run,
                                              chat_history_warm_t *w)
{
    bson_oid_t *oids = NULL;
    size_t n = 0;
    chat_err_t rc = chat_rooms_all_ids(db, w->max_rooms + 1, &oids, &n);

    w->rooms = n;
    w->rooms_missing = 0;
    if (rc != CHAT_OK || n > w->max_rooms) {
        free(oids);
        w->rooms_missing = n; /* too many to ask: as if none were ready */
        return rc;
    }
    for (size_t first = 0; rc == CHAT_OK && first < n; first += HISTORY_WARM__PROBE_ROUND) {
        size_t end = first + HISTORY_WARM__PROBE_ROUND < n ? first + HISTORY_WARM__PROBE_ROUND : n;
        size_t queued = first;

        for (; queued < end; queued++) {
            char id[CHAT_ID_LEN];
            char meta[CHAT_KEY_LEN];
            const char *argv[3] = {"HGET", meta, "run"};
            bson_oid_to_string(&oids[queued], id);
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
    free(oids);
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
    if (w->max_rooms > 0) {
        /* readers may have rebuilt most windows on their own since Redis lost them (in
         * the chaos runs every room's, before the look came): one read of everything
         * then builds nothing. A single missing window costs its first reader one read
         * of its own, no more than this one would. */
        rc = history_warm__count_missing(h, db, run, w);
        if (rc != CHAT_OK) {
            return rc;
        }
        if (w->rooms_missing < 2) {
            w->few_missing = true;
            history_warm__mark(h, run);
            return CHAT_OK;
        }
    }
    /* the rooms' heads only rule a collection out: they are a lower bound (written
     * behind), so the read below is bounded by itself too. Not the collection's
     * estimated count: on FerretDB/SQLite that decoded every message (600 ms at 11,494,
     * measured on a chaos run's data), and it lagged (it said 0 for 75 messages). */
    rc = chat_messages_heads_total(db, w->max_rooms > 0 ? w->max_rooms : HISTORY_WARM__HEADS_MAX,
                                   &w->stored, NULL);
    if (rc != CHAT_OK) {
        return rc;
    }
    if (w->stored > 0 && (uint64_t)w->stored > (uint64_t)w->max_messages) {
        w->too_many = true;
        history_warm__mark(h, run); /* looked at: the next caller does not count again */
        return CHAT_OK;
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
