/*
 * history.c - reads of a room's messages (window first, MongoDB for what it does not
 * hold), the rebuild of a missing window, and the head hints writers share (see
 * history.h). Making new messages visible is history_commit.c.
 *
 * Threads: the thread that owns h->redis. Relies on msg_window.h (Redis),
 * messages_repo.h (MongoDB) and model.h (the JSON clients receive).
 */
#include "chat/history.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/clock.h"
#include "chat/keys.h"
#include "chat/log.h"
#include "chat/messages_repo.h"
#include "chat/model.h"
#include "chat/redis_lock.h"

#define HISTORY__FILL_LOCK_MS 15000 /* one reader rebuilds a window; others wait for it */
#define HISTORY__FILL_WAIT_MS 3000
#define HISTORY__POLL_MS 10
#define HISTORY__FILL_ROUNDS 4

/* The pool for reads of `messages`: each one a scan on FerretDB (chat_store_t.db_scan). */
static chat_db_t *history__scan_db(const chat_store_t *h)
{
    return h->db_scan != NULL ? h->db_scan : h->db;
}

static int64_t history__clamp(int64_t limit)
{
    if (limit < 1) {
        return 1;
    }
    return limit > CHAT_HISTORY_MAX_LIMIT ? CHAT_HISTORY_MAX_LIMIT : limit;
}

void chat_history_page_clear(chat_history_page_t *page)
{
    if (page == NULL) {
        return;
    }
    for (size_t i = 0; i < page->n; i++) {
        free(page->json[i]);
        free(page->idems != NULL ? page->idems[i] : NULL);
    }
    free(page->json);
    free(page->len);
    free(page->seqs);
    free(page->idems);
    memset(page, 0, sizeof(*page));
}

static chat_err_t history__alloc(chat_history_page_t *out, size_t n)
{
    out->json = calloc(n + 1, sizeof(*out->json));
    out->len = calloc(n + 1, sizeof(*out->len));
    out->seqs = calloc(n + 1, sizeof(*out->seqs));
    out->idems = calloc(n + 1, sizeof(*out->idems));
    return out->json != NULL && out->len != NULL && out->seqs != NULL && out->idems != NULL
        ? CHAT_OK
        : CHAT_ERR_NOMEM;
}

/* The JSON clients receive for each message of list, as a page (appended to out). */
static chat_err_t history__from_list(const chat_message_list_t *list, chat_history_page_t *out)
{
    chat_err_t rc = history__alloc(out, list->n);

    for (size_t i = 0; rc == CHAT_OK && i < list->n; i++) {
        json_t *j = chat_message_to_json(&list->items[i]);
        char *s = j != NULL ? chat_json_dumps(j) : NULL;

        json_decref(j);
        if (s == NULL) {
            rc = CHAT_ERR_NOMEM;
            break;
        }
        out->json[out->n] = s;
        out->len[out->n] = strlen(s);
        out->seqs[out->n] = list->items[i].seq;
        if (list->items[i].client_msg_id != NULL) {
            char idem[CHAT_KEY_LEN];
            if (chat_window_idem_key(list->items[i].user_id, list->items[i].client_msg_id, idem,
                                     sizeof(idem))) {
                out->idems[out->n] = strdup(idem);
            }
        }
        out->n++;
    }
    return rc;
}

chat_err_t chat_history_read_db(const chat_store_t *h, const char *room_id, int64_t from,
                                int64_t to, chat_history_page_t *out)
{
    chat_message_list_t list = {0};
    chat_err_t rc;

    out->from = from;
    out->to = to;
    out->source = CHAT_HISTORY_FROM_DB;
    if (to < from) {
        return CHAT_OK;
    }
    rc = chat_messages_range(history__scan_db(h), room_id, from, to, &list);
    if (rc == CHAT_OK) {
        rc = history__from_list(&list, out);
    }
    chat_message_list_clear(&list);
    return rc;
}

/* ------------------------------------------------------------------ window build */

/* Fills the window from list (ascending, the newest of the room) and top. Repeats for a
 * hole above top (messages stored meanwhile whose writers have not appended yet). */
static chat_err_t history__fill_from(const chat_store_t *h, const char *room_id,
                                     chat_message_list_t *list, int64_t top)
{
    chat_history_page_t page = {0};
    chat_window_state_t st;
    chat_window_items_t items;
    chat_err_t rc = history__from_list(list, &page);

    for (int round = 0; rc == CHAT_OK && round < HISTORY__FILL_ROUNDS; round++) {
        items.n = page.n;
        items.seqs = page.seqs;
        items.jsons = (const char *const *)page.json;
        items.lens = page.len;
        items.idems = (const char *const *)page.idems;
        rc = chat_window_fill(h->redis, room_id, h->window, top, &items, &st);
        if (rc != CHAT_OK || st.ready) {
            break;
        }
        /* seqs hi + 1 .. pending - 1 are stored but not appended yet: read them */
        chat_history_page_clear(&page);
        top = st.pending - 1;
        if (st.pending - st.hi - 1 > CHAT_HISTORY_MAX_LIMIT) {
            top = st.hi + CHAT_HISTORY_MAX_LIMIT;
        }
        rc = chat_history_read_db(h, room_id, st.hi + 1, top, &page);
        if (rc == CHAT_OK && (page.n == 0 || page.seqs[page.n - 1] != top)) {
            rc = CHAT_ERR_UNAVAILABLE; /* not visible yet: the next reader tries again */
        }
    }
    chat_history_page_clear(&page);
    return rc;
}

/* Builds the room's window from MongoDB unless another process is doing it, in which
 * case waits for theirs. CHAT_OK when it is ready afterwards; *busy when another builder
 * still holds it after HISTORY__FILL_WAIT_MS (MongoDB is slow: the caller must not add a
 * scan of its own to the pile, see chat_history_read). */
typedef struct history__wait {
    const chat_store_t *h;
    const char *meta;
} history__wait_t;

/* chat_redis_lock_done_fn: the room's window is built for this Redis run. */
static chat_err_t history__window_ready(void *arg, bool *ready)
{
    history__wait_t *w = arg;
    const char *run = chat_redis_run_id(w->h->redis);
    redisReply *reply =
        run != NULL ? chat_redis_command(w->h->redis, "HGET %s run", w->meta) : NULL;

    if (reply == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    *ready = reply->type == REDIS_REPLY_STRING && strcmp(reply->str, run) == 0;
    freeReplyObject(reply);
    return CHAT_OK;
}

/* Fills the window from list (the room's newest messages, ascending) after checking that
 * they run without a hole (seqs run 1..head without holes, message_append.h). */
static chat_err_t history__fill_checked(const chat_store_t *h, const char *room_id,
                                        chat_message_list_t *list)
{
    int64_t top = list->n > 0 ? list->items[list->n - 1].seq : 0;

    for (size_t i = 1; i < list->n; i++) {
        if (list->items[i].seq != list->items[i - 1].seq + 1) {
            chat_log_error("stored seqs of a room have a hole", "room", room_id);
            return CHAT_ERR_INTERNAL;
        }
    }
    return history__fill_from(h, room_id, list, top);
}

static bool history__lock_keys(const char *room_id, char *fill, char *meta)
{
    return chat_key_tagged(room_id, "fill", fill, CHAT_KEY_LEN) != NULL &&
        chat_key_tagged(room_id, "meta", meta, CHAT_KEY_LEN) != NULL;
}

static chat_err_t history__build(const chat_store_t *h, const char *room_id, bool *busy)
{
    char key[CHAT_KEY_LEN];
    char meta[CHAT_KEY_LEN];
    chat_redis_lock_t lock;
    chat_message_list_t list = {0};
    chat_err_t rc;

    if (!history__lock_keys(room_id, key, meta)) {
        return CHAT_ERR_INVALID;
    }
    rc = chat_redis_lock_take(h->redis, &lock, key, HISTORY__FILL_LOCK_MS);
    if (rc != CHAT_OK) {
        return rc;
    }
    if (!lock.held) {
        history__wait_t w = {h, meta};
        bool ready = false;
        rc = chat_redis_lock_wait(h->redis, key, HISTORY__FILL_WAIT_MS, HISTORY__POLL_MS, false,
                                  history__window_ready, &w, &ready);
        if (rc != CHAT_OK || ready) {
            return rc;
        }
        *busy = true;
        return CHAT_ERR_UNAVAILABLE;
    }
    rc = chat_messages_newest(history__scan_db(h), room_id, h->window, &list);
    if (rc == CHAT_OK) {
        rc = history__fill_checked(h, room_id, &list);
    }
    chat_message_list_clear(&list);
    chat_redis_lock_release(h->redis, &lock);
    return rc;
}

chat_err_t chat_history_build_from(const chat_store_t *h, const char *room_id,
                                   chat_message_list_t *newest, bool *built)
{
    char key[CHAT_KEY_LEN];
    char meta[CHAT_KEY_LEN];
    chat_redis_lock_t lock;
    history__wait_t w = {h, meta};
    bool ready = false;
    chat_err_t rc;

    *built = false;
    if (h->redis == NULL || !history__lock_keys(room_id, key, meta)) {
        return CHAT_ERR_INVALID;
    }
    rc = chat_redis_lock_take(h->redis, &lock, key, HISTORY__FILL_LOCK_MS);
    if (rc != CHAT_OK || !lock.held) {
        return rc; /* another process builds it from a read of its own */
    }
    rc = history__window_ready(&w, &ready);
    if (rc == CHAT_OK && !ready) {
        rc = history__fill_checked(h, room_id, newest);
        *built = rc == CHAT_OK;
    }
    chat_redis_lock_release(h->redis, &lock);
    return rc;
}

/* ------------------------------------------------------------------ reads */

static chat_err_t history__copy_window(const chat_window_page_t *w, chat_history_page_t *out)
{
    chat_err_t rc = history__alloc(out, w->n);

    for (size_t i = 0; rc == CHAT_OK && i < w->n; i++) {
        out->json[i] = strndup(w->json[i], w->len[i]);
        if (out->json[i] == NULL) {
            rc = CHAT_ERR_NOMEM;
            break;
        }
        out->len[i] = w->len[i];
        out->seqs[i] = w->from + (int64_t)i; /* the window answers whole ranges */
        out->n++;
    }
    out->source = CHAT_HISTORY_FROM_WINDOW;
    return rc;
}

/* From the window: CHAT_OK with out filled, or CHAT_ERR_UNAVAILABLE to fall back. */
static chat_err_t history__from_window(const chat_store_t *h, const char *room_id,
                                       chat_window_mode_t mode, int64_t arg, int64_t limit,
                                       chat_history_page_t *out, bool *busy)
{
    chat_window_page_t w;
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;

    for (int attempt = 0; attempt < 2; attempt++) {
        rc = chat_window_read(h->redis, room_id, mode, arg, limit, &w);
        if (rc != CHAT_OK) {
            return rc;
        }
        if (w.answer != CHAT_WINDOW_NOT_READY) {
            break;
        }
        chat_window_page_clear(&w);
        if (attempt == 1 || (rc = history__build(h, room_id, busy)) != CHAT_OK) {
            return rc == CHAT_OK ? CHAT_ERR_UNAVAILABLE : rc;
        }
    }
    out->total = w.hi;
    out->from = w.from;
    out->to = w.to;
    if (w.answer == CHAT_WINDOW_ANSWERED) {
        rc = history__copy_window(&w, out);
    } else {
        rc = chat_history_read_db(h, room_id, w.from, w.to, out); /* older than the window */
    }
    chat_window_page_clear(&w);
    return rc;
}

chat_err_t chat_history_read(const chat_store_t *h, const char *room_id, chat_window_mode_t mode,
                             int64_t arg, int64_t limit, chat_history_page_t *out)
{
    int64_t last = 0;
    int64_t from = 0;
    int64_t to = 0;
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;
    bool busy = false;

    memset(out, 0, sizeof(*out));
    if (room_id == NULL || strlen(room_id) != CHAT_ID_LEN - 1) {
        return CHAT_ERR_NOT_FOUND;
    }
    limit = history__clamp(limit);
    if (h->redis != NULL) {
        rc = history__from_window(h, room_id, mode, arg, limit, out, &busy);
        if (rc == CHAT_OK || rc == CHAT_ERR_NOMEM || rc == CHAT_ERR_INVALID) {
            return rc;
        }
        chat_history_page_clear(out);
        if (busy) {
            /* another process has been rebuilding this window from MongoDB for seconds:
             * MongoDB is the bottleneck, and a scan of our own would only deepen the
             * queue (on FerretDB every read decodes the collection). Retry later. */
            return CHAT_ERR_UNAVAILABLE;
        }
    }
    /* Redis is down (or the window could not be built): MongoDB alone */
    rc = chat_messages_last_seq(history__scan_db(h), room_id, &last);
    if (rc != CHAT_OK) {
        return rc;
    }
    out->total = last;
    chat_window_range(mode, arg, limit, last, &from, &to);
    return chat_history_read_db(h, room_id, from, to, out);
}

chat_err_t chat_history_head(const chat_store_t *h, const char *room_id, int64_t *out)
{
    chat_history_page_t page;
    chat_err_t rc = chat_history_read(h, room_id, CHAT_WINDOW_AFTER, INT64_MAX / 2, 1, &page);

    *out = page.total;
    chat_history_page_clear(&page);
    return rc;
}

static int64_t history__hint_get(void *store, const char *room_id)
{
    const chat_store_t *h = store;
    char meta[CHAT_KEY_LEN];
    redisReply *reply = NULL;
    int64_t head = 0;

    if (h->redis == NULL || chat_key_tagged(room_id, "meta", meta, sizeof(meta)) == NULL) {
        return 0;
    }
    reply = chat_redis_command(h->redis, "HGET %s head", meta);
    if (reply != NULL && reply->type == REDIS_REPLY_STRING) {
        head = strtoll(reply->str, NULL, 10);
    }
    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return head > 0 ? head : 0;
}

/* Raises the room's recorded head; true when some writer holds the room's turn. */
static bool history__hint_stored(void *store, const char *room_id, int64_t seq)
{
    const chat_store_t *h = store;
    char meta[CHAT_KEY_LEN];
    char turn[CHAT_KEY_LEN];
    char num[24];
    const char *argv[3] = {meta, turn, num};
    redisReply *reply = NULL;
    bool contended = false;

    if (h->redis == NULL || chat_key_tagged(room_id, "meta", meta, sizeof(meta)) == NULL ||
        chat_key_tagged(room_id, "turn", turn, sizeof(turn)) == NULL) {
        return false;
    }
    snprintf(num, sizeof(num), "%" PRId64, seq);
    reply = chat_redis_eval(h->redis, CHAT_SCRIPT_HEAD_MAX, 2, 3, argv, NULL);
    if (reply != NULL) {
        contended = reply->type == REDIS_REPLY_INTEGER && reply->integer == 2;
        freeReplyObject(reply);
    }
    return contended;
}

chat_head_hints_t chat_history_hints(const chat_store_t *s)
{
    chat_head_hints_t hints = {history__hint_get, history__hint_stored, (void *)s, s->redis};

    return hints;
}
