/*
 * cached_set.c - rebuildable sorted sets in Redis (see cached_set.h): SET_CHECK,
 * SET_CHANGE and SET_PAGE (common/lua/) and the rebuild protocol around a caller's
 * database loader (its two steps, SET_REBUILD included, are cached_set_build.c's).
 *
 * Threads: the thread that owns the chat_redis_t. Relies on redis_sync.h and keys.h.
 */
#include "chat/cached_set.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/redis_lock.h"

#define CSET__BUILD_ATTEMPTS 4
/* One process reads the database for a set; the others wait for its result (a cold
 * read model asked by a reconnect storm must not run the same scan once per caller). */
#define CSET__BUILD_LOCK_MS 30000 /* waiters wait while it lasts: a dead holder costs this */
#define CSET__POLL_MS 20

static void cset__pair(const char *tag, const char *suffix, const char *meta_suffix,
                       chat_cset_t *out)
{
    chat_key_tagged(tag, suffix, out->key, sizeof(out->key));
    chat_key_tagged(tag, meta_suffix, out->meta, sizeof(out->meta));
}

void chat_cset_room_members(const char *room_id, chat_cset_t *out)
{
    cset__pair(room_id, "members", "mmeta", out);
}

void chat_cset_user_rooms(const char *user_id, chat_cset_t *out)
{
    cset__pair(user_id, "rooms", "rmeta", out);
}

void chat_cset_public_rooms(chat_cset_t *out)
{
    snprintf(out->key, sizeof(out->key), "%s", CHAT_KEY_PUBLIC_ROOMS);
    snprintf(out->meta, sizeof(out->meta), "%s", CHAT_KEY_PUBLIC_ROOMS_META);
}

void chat_cset_user_names(chat_cset_t *out)
{
    snprintf(out->key, sizeof(out->key), "%s", CHAT_KEY_USER_NAMES);
    snprintf(out->meta, sizeof(out->meta), "%s", CHAT_KEY_USER_NAMES_META);
}

void chat_cset_user_ids(chat_cset_t *out)
{
    snprintf(out->key, sizeof(out->key), "%s", CHAT_KEY_USER_IDS);
    snprintf(out->meta, sizeof(out->meta), "%s", CHAT_KEY_USER_IDS_META);
}

chat_err_t chat_cset_parse_check(const redisReply *reply, chat_cset_answer_t *out)
{
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER || reply->integer < -1 ||
        reply->integer > 1) {
        return CHAT_ERR_UNAVAILABLE;
    }
    *out = (chat_cset_answer_t)reply->integer;
    return CHAT_OK;
}

chat_err_t chat_cset_queue_check(chat_redis_t *r, const chat_cset_t *s, const char *member)
{
    const char *run = chat_redis_run_id(r);
    const char *argv[4] = {s->key, s->meta, run, member};

    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    return chat_redis_append_eval(r, CHAT_SCRIPT_SET_CHECK, 2, 4, argv, NULL);
}

chat_err_t chat_cset_check(chat_redis_t *r, const chat_cset_t *s, const char *member,
                           chat_cset_answer_t *out)
{
    const char *run = chat_redis_run_id(r);
    const char *argv[4] = {s->key, s->meta, run, member};
    redisReply *reply = NULL;
    chat_err_t rc;

    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    reply = chat_redis_eval(r, CHAT_SCRIPT_SET_CHECK, 2, 4, argv, NULL);
    rc = chat_cset_parse_check(reply, out);
    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return rc;
}

chat_err_t chat_cset_change(chat_redis_t *r, const chat_cset_t *s, bool add, double score,
                            const char *member)
{
    const char *run = chat_redis_run_id(r);
    char scorebuf[40];
    const char *argv[6];
    redisReply *reply = NULL;
    chat_err_t rc;

    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(scorebuf, sizeof(scorebuf), "%.17g", score);
    argv[0] = s->key;
    argv[1] = s->meta;
    argv[2] = run;
    argv[3] = add ? "add" : "rem";
    argv[4] = scorebuf;
    argv[5] = member;
    reply = chat_redis_eval(r, CHAT_SCRIPT_SET_CHANGE, 2, 6, argv, NULL);
    rc = reply != NULL && reply->type == REDIS_REPLY_INTEGER ? CHAT_OK : CHAT_ERR_UNAVAILABLE;
    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return rc;
}

typedef struct cset__wait {
    chat_redis_t *r;
    const chat_cset_t *s;
} cset__wait_t;

/* chat_redis_lock_done_fn: the set is built. */
static chat_err_t cset__built(void *arg, bool *built)
{
    cset__wait_t *w = arg;
    char ver[24];

    return chat_cset_build_prepare(w->r, w->s, built, ver);
}

chat_err_t chat_cset_build(chat_redis_t *r, const chat_cset_t *s, chat_cset_loader_fn load,
                           chat_cset_free_fn release, void *arg)
{
    chat_redis_lock_t lock = {0};
    char lock_key[CHAT_KEY_LEN + 16];
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;

    for (int attempt = 0; attempt < CSET__BUILD_ATTEMPTS; attempt++) {
        chat_cset_entry_t *entries = NULL;
        void *owned = NULL;
        size_t n = 0;
        bool built = false;
        char ver[24];
        bool stored = false;

        rc = chat_cset_build_prepare(r, s, &built, ver);
        if (rc != CHAT_OK || built) {
            break;
        }
        if (attempt == 0) {
            /* one builder at a time: the others wait while its lock lasts, then build it
             * here if it is still not there (a Redis that does not answer fails below) */
            snprintf(lock_key, sizeof(lock_key), "%s:building", s->meta);
            if (chat_redis_lock_take(r, &lock, lock_key, CSET__BUILD_LOCK_MS) == CHAT_OK &&
                !lock.held) {
                cset__wait_t w = {r, s};
                rc = chat_redis_lock_wait(r, lock_key, CSET__BUILD_LOCK_MS, CSET__POLL_MS, true,
                                          cset__built, &w, &built);
                if (rc == CHAT_OK && !built) {
                    rc = chat_cset_build_prepare(r, s, &built,
                                                 ver); /* the builder is gone: build it here */
                }
                if (rc != CHAT_OK || built) {
                    break;
                }
            }
        }
        rc = load(arg, &entries, &n, &owned);
        if (rc != CHAT_OK) {
            break;
        }
        rc = chat_cset_build_store(r, s, ver, entries, n, &stored);
        release(entries, n, owned);
        if (rc != CHAT_OK || stored) {
            break;
        }
        /* a change landed while the database was read: read it again */
        rc = CHAT_ERR_UNAVAILABLE;
    }
    chat_redis_lock_release(r, &lock);
    return rc;
}

chat_err_t chat_cset_queue_page(chat_redis_t *r, const chat_cset_t *s, int64_t offset,
                                int64_t limit, bool rev)
{
    const char *run = chat_redis_run_id(r);
    char offbuf[24];
    char limbuf[24];
    const char *argv[6];

    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(offbuf, sizeof(offbuf), "%" PRId64, offset < 0 ? 0 : offset);
    snprintf(limbuf, sizeof(limbuf), "%" PRId64, limit < 0 ? 0 : limit);
    argv[0] = s->key;
    argv[1] = s->meta;
    argv[2] = run;
    argv[3] = offbuf;
    argv[4] = limbuf;
    argv[5] = rev ? "1" : "0";
    return chat_redis_append_eval(r, CHAT_SCRIPT_SET_PAGE, 2, 6, argv, NULL);
}

chat_err_t chat_cset_parse_page(redisReply *reply, chat_cset_page_t *out)
{
    size_t pairs;

    memset(out, 0, sizeof(*out));
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_INTEGER || (reply->elements - 2) % 2 != 0) {
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        return CHAT_ERR_UNAVAILABLE;
    }
    out->reply = reply;
    out->built = reply->element[0]->integer == 1;
    out->total = reply->element[1]->integer;
    pairs = (reply->elements - 2) / 2;
    if (!out->built || pairs == 0) {
        return CHAT_OK;
    }
    out->member = calloc(pairs, sizeof(*out->member));
    out->len = calloc(pairs, sizeof(*out->len));
    out->score = calloc(pairs, sizeof(*out->score));
    if (out->member == NULL || out->len == NULL || out->score == NULL) {
        chat_cset_page_clear(out);
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < pairs; i++) {
        const redisReply *m = reply->element[2 + 2 * i];
        const redisReply *sc = reply->element[3 + 2 * i];
        if (m->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING) {
            chat_cset_page_clear(out);
            return CHAT_ERR_UNAVAILABLE;
        }
        out->member[i] = m->str;
        out->len[i] = m->len;
        out->score[i] = strtod(sc->str, NULL);
    }
    out->n = pairs;
    return CHAT_OK;
}

chat_err_t chat_cset_page(chat_redis_t *r, const chat_cset_t *s, int64_t offset, int64_t limit,
                          bool rev, chat_cset_page_t *out)
{
    chat_err_t rc = chat_cset_queue_page(r, s, offset, limit, rev);

    memset(out, 0, sizeof(*out));
    if (rc != CHAT_OK) {
        chat_redis_discard_replies(r);
        return rc;
    }
    return chat_cset_parse_page(chat_redis_next_reply(r), out);
}

void chat_cset_page_clear(chat_cset_page_t *page)
{
    if (page == NULL) {
        return;
    }
    free(page->member);
    free(page->len);
    free(page->score);
    if (page->reply != NULL) {
        freeReplyObject(page->reply);
    }
    memset(page, 0, sizeof(*page));
}

chat_err_t chat_cset_lex(chat_redis_t *r, const chat_cset_t *s, const char *min, size_t min_len,
                         const char *max, size_t max_len, int64_t limit, chat_cset_page_t *out)
{
    const char *run = chat_redis_run_id(r);
    char limbuf[24];
    const char *argv[6];
    size_t lens[6];
    redisReply *reply = NULL;

    memset(out, 0, sizeof(*out));
    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(limbuf, sizeof(limbuf), "%" PRId64, limit);
    argv[0] = s->key;
    argv[1] = s->meta;
    argv[2] = run;
    argv[3] = min;
    argv[4] = max;
    argv[5] = limbuf;
    for (int i = 0; i < 6; i++) {
        lens[i] = strlen(argv[i]);
    }
    lens[3] = min_len;
    lens[4] = max_len;
    reply = chat_redis_eval(r, CHAT_SCRIPT_SET_LEX, 2, 6, argv, lens);
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER) {
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        return CHAT_ERR_UNAVAILABLE;
    }
    out->reply = reply;
    out->built = reply->element[0]->integer == 1;
    if (!out->built || reply->elements == 1) {
        return CHAT_OK;
    }
    out->n = reply->elements - 1;
    out->member = calloc(out->n, sizeof(*out->member));
    out->len = calloc(out->n, sizeof(*out->len));
    out->score = calloc(out->n, sizeof(*out->score));
    if (out->member == NULL || out->len == NULL || out->score == NULL) {
        chat_cset_page_clear(out);
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < out->n; i++) {
        out->member[i] = reply->element[1 + i]->str;
        out->len[i] = reply->element[1 + i]->len;
    }
    out->total = (int64_t)out->n;
    return CHAT_OK;
}
