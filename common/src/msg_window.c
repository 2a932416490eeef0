/*
 * msg_window.c - the history window's Redis calls (see msg_window.h): argument
 * building for WIN_APPEND / WIN_FILL / WIN_READ (common/lua/) and decoding of their
 * replies.
 *
 * Threads: the thread that owns the chat_redis_t (rest-fcgi request loop, a gateway
 * worker). Relies on redis_sync.h (EVALSHA, pipelining, run_id) and keys.h.
 */
#include "chat/msg_window.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/keys.h"

#define WINDOW__FIXED_ARGS 6 /* three keys, run id, size, channel or top */

typedef struct window__argv {
    const char **argv;
    size_t *lens;
    char (*nums)[24];
    int argc;
    char win[CHAT_KEY_LEN];
    char meta[CHAT_KEY_LEN];
    char cmids[CHAT_KEY_LEN];
    char extra[CHAT_KEY_LEN]; /* channel or top */
    char size[24];
} window__argv_t;

bool chat_window_idem_key(const char *user_id, const char *client_msg_id, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s:%s", user_id, client_msg_id);

    return n > 0 && (size_t)n < len;
}

static void window__argv_free(window__argv_t *a)
{
    free(a->argv);
    free(a->lens);
    free(a->nums);
}

/* keys, run, size, extra, then seq/json/idem triples. */
static chat_err_t window__argv_build(window__argv_t *a, const char *room_id, const char *run,
                                     int64_t size, const char *extra,
                                     const chat_window_items_t *items)
{
    size_t n = items != NULL ? items->n : 0;
    size_t total = WINDOW__FIXED_ARGS + 3 * n;

    memset(a, 0, sizeof(*a));
    if (chat_key_tagged(room_id, "win", a->win, sizeof(a->win)) == NULL ||
        chat_key_tagged(room_id, "meta", a->meta, sizeof(a->meta)) == NULL ||
        chat_key_tagged(room_id, "cmids", a->cmids, sizeof(a->cmids)) == NULL) {
        return CHAT_ERR_INVALID;
    }
    snprintf(a->extra, sizeof(a->extra), "%s", extra);
    snprintf(a->size, sizeof(a->size), "%" PRId64, size > 0 ? size : 1);
    a->argv = calloc(total, sizeof(*a->argv));
    a->lens = calloc(total, sizeof(*a->lens));
    a->nums = calloc(n + 1, sizeof(*a->nums));
    if (a->argv == NULL || a->lens == NULL || a->nums == NULL) {
        window__argv_free(a);
        return CHAT_ERR_NOMEM;
    }
    a->argv[0] = a->win;
    a->argv[1] = a->meta;
    a->argv[2] = a->cmids;
    a->argv[3] = run;
    a->argv[4] = a->size;
    a->argv[5] = a->extra;
    for (int i = 0; i < WINDOW__FIXED_ARGS; i++) {
        a->lens[i] = strlen(a->argv[i]);
    }
    for (size_t i = 0; i < n; i++) {
        const char *idem = items->idems != NULL && items->idems[i] != NULL ? items->idems[i] : "";
        size_t at = WINDOW__FIXED_ARGS + 3 * i;
        snprintf(a->nums[i], sizeof(a->nums[i]), "%" PRId64, items->seqs[i]);
        a->argv[at] = a->nums[i];
        a->lens[at] = strlen(a->nums[i]);
        a->argv[at + 1] = items->jsons[i];
        a->lens[at + 1] = items->lens[i];
        a->argv[at + 2] = idem;
        a->lens[at + 2] = strlen(idem);
    }
    a->argc = (int)total;
    return CHAT_OK;
}

static bool window__int_at(const redisReply *reply, size_t i, int64_t *out)
{
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || i >= reply->elements ||
        reply->element[i]->type != REDIS_REPLY_INTEGER) {
        return false;
    }
    *out = reply->element[i]->integer;
    return true;
}

chat_err_t chat_window_queue_append(chat_redis_t *r, const char *room_id, int64_t window_size,
                                    bool publish, const chat_window_items_t *items)
{
    char channel[CHAT_KEY_LEN] = "";
    const char *run = chat_redis_run_id(r);
    window__argv_t a;
    chat_err_t rc;

    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    /* a cluster's subscribers SSUBSCRIBE: the script then SPUBLISHes ('!' prefix) */
    if (publish &&
        chat_key_room_channel(room_id, channel + chat_redis_is_cluster(r), sizeof(channel) - 1) ==
            NULL) {
        return CHAT_ERR_INVALID;
    }
    if (publish && chat_redis_is_cluster(r)) {
        channel[0] = '!';
    }
    rc = window__argv_build(&a, room_id, run, window_size, channel, items);
    if (rc == CHAT_OK) {
        rc = chat_redis_append_eval(r, CHAT_SCRIPT_WIN_APPEND, 3, a.argc, a.argv, a.lens);
        window__argv_free(&a);
    }
    return rc;
}

chat_err_t chat_window_parse_append(const redisReply *reply, chat_window_state_t *out)
{
    int64_t ready = 0;

    memset(out, 0, sizeof(*out));
    if (!window__int_at(reply, 0, &ready) || !window__int_at(reply, 1, &out->hi) ||
        !window__int_at(reply, 2, &out->head)) {
        return CHAT_ERR_UNAVAILABLE;
    }
    out->ready = ready == 1;
    return CHAT_OK;
}

chat_err_t chat_window_fill(chat_redis_t *r, const char *room_id, int64_t window_size, int64_t top,
                            const chat_window_items_t *items, chat_window_state_t *out)
{
    const char *run = chat_redis_run_id(r);
    char topbuf[24];
    redisReply *reply = NULL;
    window__argv_t a;
    int64_t state = 0;
    chat_err_t rc;

    memset(out, 0, sizeof(*out));
    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(topbuf, sizeof(topbuf), "%" PRId64, top);
    rc = window__argv_build(&a, room_id, run, window_size, topbuf, items);
    if (rc != CHAT_OK) {
        return rc;
    }
    reply = chat_redis_eval(r, CHAT_SCRIPT_WIN_FILL, 3, a.argc, a.argv, a.lens);
    window__argv_free(&a);
    if (!window__int_at(reply, 0, &state)) {
        rc = CHAT_ERR_UNAVAILABLE;
    } else if (state == 1) {
        out->ready = true;
        if (!window__int_at(reply, 1, &out->lo) || !window__int_at(reply, 2, &out->hi)) {
            rc = CHAT_ERR_UNAVAILABLE;
        }
    } else if (!window__int_at(reply, 1, &out->hi) || !window__int_at(reply, 2, &out->pending)) {
        rc = CHAT_ERR_UNAVAILABLE;
    }
    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return rc;
}

void chat_window_range(chat_window_mode_t mode, int64_t arg, int64_t limit, int64_t hi,
                       int64_t *from, int64_t *to)
{
    switch (mode) {
    case CHAT_WINDOW_LATEST:
        *to = hi - arg;
        *from = *to - limit + 1;
        break;
    case CHAT_WINDOW_BEFORE:
        *to = arg - 1 < hi ? arg - 1 : hi;
        *from = *to - limit + 1;
        break;
    case CHAT_WINDOW_AFTER:
    default:
        *from = arg + 1;
        *to = arg + limit < hi ? arg + limit : hi;
        break;
    }
    if (*from < 1) {
        *from = 1;
    }
}

chat_err_t chat_window_read(chat_redis_t *r, const char *room_id, chat_window_mode_t mode,
                            int64_t arg, int64_t limit, chat_window_page_t *out)
{
    static const char *const modes[] = {"latest", "before", "after"};
    const char *run = chat_redis_run_id(r);
    char win[CHAT_KEY_LEN];
    char meta[CHAT_KEY_LEN];
    char argbuf[24];
    char limbuf[24];
    const char *argv[6];
    redisReply *reply = NULL;
    int64_t answer = 0;

    memset(out, 0, sizeof(*out));
    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    if (chat_key_tagged(room_id, "win", win, sizeof(win)) == NULL ||
        chat_key_tagged(room_id, "meta", meta, sizeof(meta)) == NULL || mode > CHAT_WINDOW_AFTER) {
        return CHAT_ERR_INVALID;
    }
    snprintf(argbuf, sizeof(argbuf), "%" PRId64, arg);
    snprintf(limbuf, sizeof(limbuf), "%" PRId64, limit);
    argv[0] = win;
    argv[1] = meta;
    argv[2] = run;
    argv[3] = modes[mode];
    argv[4] = argbuf;
    argv[5] = limbuf;
    reply = chat_redis_eval(r, CHAT_SCRIPT_WIN_READ, 2, 6, argv, NULL);
    if (!window__int_at(reply, 0, &answer) || !window__int_at(reply, 1, &out->lo) ||
        !window__int_at(reply, 2, &out->hi) || !window__int_at(reply, 3, &out->from) ||
        !window__int_at(reply, 4, &out->to)) {
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        return CHAT_ERR_UNAVAILABLE;
    }
    out->answer = (chat_window_answer_t)answer;
    out->reply = reply;
    if (out->answer != CHAT_WINDOW_ANSWERED || reply->elements <= 5) {
        return CHAT_OK;
    }
    out->n = reply->elements - 5;
    out->json = calloc(out->n, sizeof(*out->json));
    out->len = calloc(out->n, sizeof(*out->len));
    if (out->json == NULL || out->len == NULL) {
        chat_window_page_clear(out);
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < out->n; i++) {
        const redisReply *e = reply->element[5 + i];
        if (e->type != REDIS_REPLY_STRING) {
            chat_window_page_clear(out);
            return CHAT_ERR_UNAVAILABLE;
        }
        out->json[i] = e->str;
        out->len[i] = e->len;
    }
    return CHAT_OK;
}

void chat_window_page_clear(chat_window_page_t *page)
{
    if (page == NULL) {
        return;
    }
    free(page->json);
    free(page->len);
    if (page->reply != NULL) {
        freeReplyObject(page->reply);
    }
    memset(page, 0, sizeof(*page));
}

chat_err_t chat_window_queue_idem(chat_redis_t *r, const char *room_id, const char *user_id,
                                  const char *client_msg_id)
{
    char win[CHAT_KEY_LEN];
    char cmids[CHAT_KEY_LEN];
    char idem[CHAT_KEY_LEN];
    const char *argv[5] = {win, cmids, idem, user_id, client_msg_id};

    if (chat_key_tagged(room_id, "win", win, sizeof(win)) == NULL ||
        chat_key_tagged(room_id, "cmids", cmids, sizeof(cmids)) == NULL ||
        !chat_window_idem_key(user_id, client_msg_id, idem, sizeof(idem))) {
        return CHAT_ERR_INVALID;
    }
    return chat_redis_append_eval(r, CHAT_SCRIPT_WIN_IDEM, 2, 5, argv, NULL);
}

char *chat_window_parse_idem(const redisReply *reply)
{
    if (reply == NULL || reply->type != REDIS_REPLY_STRING) {
        return NULL;
    }
    return strndup(reply->str, reply->len);
}
