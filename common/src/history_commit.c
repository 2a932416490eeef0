/*
 * history_commit.c - making newly stored messages visible: appends each room's new
 * messages to its Redis window (and PUBLISHes them) in one pipelined round trip, waits
 * briefly for another writer's append that the window shows missing below them, and
 * repairs what is still missing from MongoDB (see history_commit.h).
 *
 * Threads: the thread that owns h->redis (REST request thread, gateway store worker).
 * Relies on msg_window.h (the append script) and history.h (pages read from MongoDB).
 */
#include "chat/history_commit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/history.h"
#include "chat/keys.h"
#include "chat/log.h"
#include "chat/messages_repo.h"

static void history_commit__sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* hi of each pending room's window (-1: no longer ready: nothing to keep right). */
static chat_err_t history_commit__his(const chat_store_t *h, chat_history_commit_t *rooms,
                                      const size_t *idx, size_t n, int64_t *his)
{
    const char *run = chat_redis_run_id(h->redis);
    char runcopy[41];
    chat_err_t rc = CHAT_OK;

    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(runcopy, sizeof(runcopy), "%s", run);
    for (size_t i = 0; i < n && rc == CHAT_OK; i++) {
        char meta[CHAT_KEY_LEN];
        const char *argv[4] = {"HMGET", meta, "run", "hi"};
        chat_key_tagged(rooms[idx[i]].room_id, "meta", meta, sizeof(meta));
        rc = chat_redis_append_argv(h->redis, 4, argv, NULL);
    }
    for (size_t i = 0; i < n && rc == CHAT_OK; i++) {
        redisReply *reply = chat_redis_next_reply(h->redis);
        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
            rc = CHAT_ERR_UNAVAILABLE;
        } else if (reply->element[0]->type != REDIS_REPLY_STRING ||
                   strcmp(reply->element[0]->str, runcopy) != 0 ||
                   reply->element[1]->type != REDIS_REPLY_STRING) {
            his[i] = -1;
        } else {
            his[i] = strtoll(reply->element[1]->str, NULL, 10);
        }
        if (reply != NULL) {
            freeReplyObject(reply);
        }
    }
    chat_redis_discard_replies(h->redis);
    return rc;
}

/* A ready window stops below the room's new seqs (a writer died between its insert and
 * its append, or is slow): read hi + 1 .. the last new seq from MongoDB, a page at a
 * time, and append it (no PUBLISH: subscribers that miss a message fill the gap from the
 * window). The new seqs need not be contiguous: other writers' seqs sit between them. */
static void history_commit__repair(const chat_store_t *h, chat_history_commit_t *room, int64_t hi)
{
    int64_t last = room->items.seqs[room->items.n - 1];
    int64_t from = hi + 1;
    bool ok = true;

    while (ok && from <= last) {
        int64_t to =
            from + CHAT_HISTORY_MAX_LIMIT - 1 < last ? from + CHAT_HISTORY_MAX_LIMIT - 1 : last;
        chat_history_page_t page = {0};
        chat_window_items_t items;
        chat_window_state_t st;
        redisReply *reply = NULL;

        ok = chat_history_read_db(h, room->room_id, from, to, &page) == CHAT_OK &&
            page.n == (size_t)(to - from + 1);
        if (ok) {
            items.n = page.n;
            items.seqs = page.seqs;
            items.jsons = (const char *const *)page.json;
            items.lens = page.len;
            items.idems = (const char *const *)page.idems;
            if (chat_window_queue_append(h->redis, room->room_id, h->window, false, &items) ==
                CHAT_OK) {
                reply = chat_redis_next_reply(h->redis);
            }
            ok = chat_window_parse_append(reply, &st) == CHAT_OK;
            if (ok && (!st.ready || st.hi >= last)) {
                from = last + 1; /* done (or no window left to keep right) */
            } else if (ok) {
                from = st.hi + 1 > to ? st.hi + 1 : to + 1;
            }
        }
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        chat_history_page_clear(&page);
    }
    room->result = ok ? CHAT_OK : CHAT_ERR_UNAVAILABLE;
    if (ok) {
        chat_log_info("window hole repaired from MongoDB", "room", room->room_id);
    }
}

void chat_history_commit(const chat_store_t *h, chat_history_commit_t *rooms, size_t n,
                         bool publish, int wait_ms)
{
    size_t *pending = calloc(n + 1, sizeof(*pending));
    int64_t *his = calloc(n + 1, sizeof(*his));
    size_t n_pending = 0;
    size_t queued = 0;

    for (size_t i = 0; i < n; i++) {
        rooms[i].result = CHAT_ERR_UNAVAILABLE;
    }
    if (pending == NULL || his == NULL || h->redis == NULL) {
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if (chat_window_queue_append(h->redis, rooms[i].room_id, h->window, publish,
                                     &rooms[i].items) != CHAT_OK) {
            break;
        }
        queued++;
    }
    for (size_t i = 0; i < queued; i++) {
        redisReply *reply = chat_redis_next_reply(h->redis);
        chat_window_state_t st;
        chat_history_commit_t *room = &rooms[i];

        if (chat_window_parse_append(reply, &st) == CHAT_OK) {
            if (!st.ready || room->items.n == 0 || st.hi >= room->items.seqs[room->items.n - 1]) {
                room->result = CHAT_OK;
            } else {
                pending[n_pending++] = i;
            }
        }
        if (reply != NULL) {
            freeReplyObject(reply);
        }
    }
    chat_redis_discard_replies(h->redis);
    /* another writer's earlier seq is on its way: give it a moment, then repair */
    for (int waited = 0; n_pending > 0; waited += 2) {
        size_t still = 0;
        if (history_commit__his(h, rooms, pending, n_pending, his) != CHAT_OK) {
            goto cleanup;
        }
        for (size_t k = 0; k < n_pending; k++) {
            chat_history_commit_t *room = &rooms[pending[k]];
            if (his[k] < 0 || his[k] >= room->items.seqs[room->items.n - 1]) {
                room->result = CHAT_OK;
            } else if (waited >= wait_ms) {
                history_commit__repair(h, room, his[k]);
            } else {
                pending[still] = pending[k];
                his[still] = his[k];
                still++;
            }
        }
        n_pending = still;
        if (n_pending > 0) {
            history_commit__sleep_ms(2);
        }
    }

cleanup:
    free(pending);
    free(his);
}
