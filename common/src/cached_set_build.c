/*
 * cached_set_build.c - the two steps of building cached sets from one database read (see
 * cached_set.h), for one set or many: the versions read (or started) before the database
 * is read, then the loaded sets stored unless a change came meanwhile (SET_REBUILD).
 * Many sets go through Redis pipelined, CSET_BUILD__PIPE at a time, so the read model's
 * warm-up of every user's room set costs a few round trips per batch of sets instead of
 * two or three per set.
 *
 * Threads: the thread that owns the chat_redis_t. Relies on redis_sync.h (pipelining,
 * EVALSHA), clock.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/cached_set.h"
#include "chat/clock.h"

#define CSET_BUILD__PIPE 256

/* chat_cset_nth_fn over one set. */
static void cset_build__single(void *arg, size_t i, chat_cset_t *out)
{
    (void)i;
    *out = *(const chat_cset_t *)arg;
}

static chat_err_t cset_build__append(chat_redis_t *r, chat_err_t rc, int argc, const char **argv)
{
    return rc != CHAT_OK ? rc : chat_redis_append_argv(r, argc, argv, NULL);
}

/* A set that is not built and has no version gets one before a rebuild reads the
 * database: a base of the current time in microseconds (SET_CHANGE starts from the same
 * base). A version that a flush or a restart took away therefore never comes back with a
 * value a rebuild read before it: without this, a rebuild that read "no version", then
 * the database, could store a member removed meanwhile if Redis was flushed before it
 * stored (the removal's bumps were flushed too, and "no version" matched again). One
 * HSETNX + HGET per set without a version, pipelined. */
static chat_err_t cset_build__init_vers(chat_redis_t *r, chat_cset_nth_fn nth, void *arg,
                                        const size_t *which, size_t n, char (*ver)[24])
{
    chat_cset_t *sets = calloc(CSET_BUILD__PIPE, sizeof(*sets));
    char base[24];
    chat_err_t rc = sets != NULL ? CHAT_OK : CHAT_ERR_NOMEM;

    snprintf(base, sizeof(base), "%lld", (long long)chat_clock_now_ms() * 1000LL);
    for (size_t at = 0; rc == CHAT_OK && at < n; at += CSET_BUILD__PIPE) {
        size_t m = n - at < CSET_BUILD__PIPE ? n - at : CSET_BUILD__PIPE;
        for (size_t i = 0; i < m; i++) {
            const char *setnx[] = {"HSETNX", sets[i].meta, "ver", base};
            const char *get[] = {"HGET", sets[i].meta, "ver"};
            nth(arg, which[at + i], &sets[i]);
            rc = cset_build__append(r, rc, 4, setnx);
            rc = cset_build__append(r, rc, 3, get);
        }
        for (size_t i = 0; rc == CHAT_OK && i < 2 * m; i++) {
            redisReply *reply = chat_redis_next_reply(r);
            if (reply == NULL) {
                rc = CHAT_ERR_UNAVAILABLE; /* the connection broke: no replies left */
                break;
            }
            if (i % 2 == 1 && reply->type == REDIS_REPLY_STRING) {
                snprintf(ver[which[at + i / 2]], 24, "%s", reply->str);
            } else if (i % 2 == 1) {
                rc = CHAT_ERR_UNAVAILABLE;
            }
            freeReplyObject(reply);
        }
    }
    chat_redis_discard_replies(r);
    free(sets);
    return rc;
}

chat_err_t chat_cset_build_prepare_many(chat_redis_t *r, chat_cset_nth_fn nth, void *arg, size_t n,
                                        bool *built, char (*ver)[24])
{
    const char *run = chat_redis_run_id(r);
    char runcopy[41];
    chat_cset_t *sets = NULL;
    size_t *no_ver = NULL;
    size_t n_no_ver = 0;
    chat_err_t rc = CHAT_OK;

    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(runcopy, sizeof(runcopy), "%s", run); /* run points into r: copy first */
    sets = calloc(CSET_BUILD__PIPE, sizeof(*sets));
    no_ver = calloc(n + 1, sizeof(*no_ver));
    if (sets == NULL || no_ver == NULL) {
        rc = CHAT_ERR_NOMEM;
    }
    for (size_t at = 0; rc == CHAT_OK && at < n; at += CSET_BUILD__PIPE) {
        size_t m = n - at < CSET_BUILD__PIPE ? n - at : CSET_BUILD__PIPE;
        for (size_t i = 0; i < m; i++) {
            const char *argv[] = {"HMGET", sets[i].meta, "run", "ver"};
            nth(arg, at + i, &sets[i]);
            rc = cset_build__append(r, rc, 4, argv);
        }
        for (size_t i = 0; rc == CHAT_OK && i < m; i++) {
            size_t k = at + i;
            redisReply *reply = chat_redis_next_reply(r);
            built[k] = false;
            ver[k][0] = '\0';
            if (reply == NULL) {
                rc = CHAT_ERR_UNAVAILABLE;
                break;
            }
            if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
                const redisReply *e0 = reply->element[0];
                const redisReply *e1 = reply->element[1];
                built[k] = e0->type == REDIS_REPLY_STRING && strcmp(e0->str, runcopy) == 0;
                if (e1->type == REDIS_REPLY_STRING) {
                    snprintf(ver[k], 24, "%s", e1->str);
                }
                if (!built[k] && ver[k][0] == '\0') {
                    no_ver[n_no_ver++] = k;
                }
            } else {
                rc = CHAT_ERR_UNAVAILABLE;
            }
            freeReplyObject(reply);
        }
        chat_redis_discard_replies(r);
    }
    free(sets);
    if (rc == CHAT_OK && n_no_ver > 0) {
        rc = cset_build__init_vers(r, nth, arg, no_ver, n_no_ver, ver);
    }
    free(no_ver);
    return rc;
}

/* Queues SET_REBUILD of s with entries (scores formatted into scratch, n + 1 slots). */
static chat_err_t cset_build__append_rebuild(chat_redis_t *r, const chat_cset_t *s, const char *run,
                                             const char *ver, const chat_cset_entry_t *entries,
                                             size_t n)
{
    size_t argc = 4 + 2 * n;
    const char **argv = calloc(argc, sizeof(*argv));
    size_t *lens = calloc(argc, sizeof(*lens));
    char(*scores)[32] = calloc(n + 1, sizeof(*scores));
    chat_err_t rc = CHAT_ERR_NOMEM;

    if (argv != NULL && lens != NULL && scores != NULL) {
        argv[0] = s->key;
        argv[1] = s->meta;
        argv[2] = run;
        argv[3] = ver;
        for (size_t i = 0; i < 4; i++) {
            lens[i] = strlen(argv[i]);
        }
        for (size_t i = 0; i < n; i++) {
            snprintf(scores[i], sizeof(scores[i]), "%.17g", entries[i].score);
            argv[4 + 2 * i] = scores[i];
            lens[4 + 2 * i] = strlen(scores[i]);
            argv[5 + 2 * i] = entries[i].member;
            lens[5 + 2 * i] = entries[i].len;
        }
        rc = chat_redis_append_eval(r, CHAT_SCRIPT_SET_REBUILD, 2, (int)argc, argv, lens);
    }
    free(argv);
    free(lens);
    free(scores);
    return rc;
}

chat_err_t chat_cset_build_store_many(chat_redis_t *r, chat_cset_nth_fn nth, void *arg, size_t n,
                                      const bool *skip, const char (*ver)[24],
                                      const chat_cset_entry_t *entries, const size_t *first,
                                      const size_t *count, bool *stored)
{
    const char *run = chat_redis_run_id(r);
    char runcopy[41];
    chat_err_t rc = CHAT_OK;

    for (size_t i = 0; i < n; i++) {
        stored[i] = false;
    }
    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(runcopy, sizeof(runcopy), "%s", run);
    for (size_t at = 0; rc == CHAT_OK && at < n; at += CSET_BUILD__PIPE) {
        size_t m = n - at < CSET_BUILD__PIPE ? n - at : CSET_BUILD__PIPE;
        for (size_t i = at; rc == CHAT_OK && i < at + m; i++) {
            chat_cset_t s;
            if (skip != NULL && skip[i]) {
                continue;
            }
            nth(arg, i, &s);
            rc = cset_build__append_rebuild(r, &s, runcopy, ver[i], entries + first[i], count[i]);
        }
        for (size_t i = at; rc == CHAT_OK && i < at + m; i++) {
            redisReply *reply;
            if (skip != NULL && skip[i]) {
                continue;
            }
            if ((reply = chat_redis_next_reply(r)) == NULL) {
                rc = CHAT_ERR_UNAVAILABLE;
                break;
            }
            /* SET_REBUILD: 1 stored, 2 already built, 0 refused (a change came) */
            if (reply->type == REDIS_REPLY_INTEGER) {
                stored[i] = reply->integer != 0;
            } else {
                rc = CHAT_ERR_UNAVAILABLE;
            }
            freeReplyObject(reply);
        }
        chat_redis_discard_replies(r);
    }
    return rc;
}

chat_err_t chat_cset_build_prepare(chat_redis_t *r, const chat_cset_t *s, bool *built, char ver[24])
{
    return chat_cset_build_prepare_many(r, cset_build__single, (void *)s, 1, built,
                                        (char(*)[24])ver);
}

chat_err_t chat_cset_build_store(chat_redis_t *r, const chat_cset_t *s, const char *ver,
                                 const chat_cset_entry_t *entries, size_t n, bool *stored)
{
    size_t first = 0;

    return chat_cset_build_store_many(r, cset_build__single, (void *)s, 1, NULL,
                                      (const char(*)[24])ver, entries, &first, &n, stored);
}
