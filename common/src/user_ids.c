/*
 * user_ids.c - the set of all user ids and the username set (see user_ids.h):
 * pipelined SET_CHECK lookups, rebuilds from chat_users_names_each (one read of `users`,
 * which also fills every user's cached document, user_docs.h, and the set of logins,
 * user_logins.h), changes through chat_cset_change.
 *
 * Threads: the thread owning the store. Relies on cached_set.h, users_list.h.
 */
#include "chat/user_ids.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/user_docs.h"
#include "chat/user_logins.h"
#include "chat/users_list.h"
#include "chat/validate.h"

static void ids__free(chat_cset_entry_t *entries, size_t n, void *owned)
{
    (void)n;
    free(entries);
    free(owned);
}

static chat_err_t names__entries(const chat_user_name_t *names, size_t count,
                                 chat_cset_entry_t **entries, void **owned);

/* The username set from the ids set's read, under the version read before it. */
static void ids__store_names(const chat_store_t *s, const chat_cset_t *set, const char *ver,
                             const chat_user_name_t *names, size_t count)
{
    chat_cset_entry_t *entries = NULL;
    void *owned = NULL;
    bool stored = false;

    if (names__entries(names, count, &entries, &owned) == CHAT_OK) {
        (void)chat_cset_build_store(s->redis, set, ver, entries, count, &stored);
    }
    free(entries);
    free(owned);
}

/* What the ids set's read of `users` also gives: every user's document and login keys
 * (user_docs.h), and the set of logins when it is not built (user_logins.h). */
typedef struct ids__scan {
    chat_user_docs_filler_t docs;
    chat_user_logins_scan_t logins;
} ids__scan_t;

static void ids__scan_doc(const chat_user_t *u, void *arg)
{
    ids__scan_t *scan = arg;

    chat_user_docs_fill_add(&scan->docs, u);
    chat_user_logins_scan_add(&scan->logins, u);
}

/* The ids set's loader; the username set, when it is not built either, comes from the
 * same read of `users` (its version read first, the cached_set.h protocol). */
static chat_err_t ids__load(void *arg, chat_cset_entry_t **entries, size_t *n, void **owned)
{
    const chat_store_t *s = arg;
    chat_user_name_t *names = NULL;
    size_t count = 0;
    chat_cset_t names_set;
    bool names_built = true;
    char names_ver[24];
    ids__scan_t scan = {.docs = {s, 0, 0, 0, false}};
    chat_err_t rc;

    chat_cset_user_names(&names_set);
    if (chat_cset_build_prepare(s->redis, &names_set, &names_built, names_ver) != CHAT_OK) {
        names_built = true; /* left to the first search */
    }
    chat_user_logins_scan_begin(s, &scan.logins);
    rc = chat_users_names_each(s->db, &names, &count, ids__scan_doc, &scan);
    (void)chat_user_docs_fill_finish(&scan.docs);
    if (rc == CHAT_OK) {
        chat_user_logins_scan_end(s, &scan.logins);
    } else {
        scan.logins.wanted = false; /* a failed read stores nothing */
        chat_user_logins_scan_end(s, &scan.logins);
        return rc;
    }
    if (!names_built) {
        ids__store_names(s, &names_set, names_ver, names, count);
    }
    *entries = calloc(count + 1, sizeof(**entries));
    if (*entries == NULL) {
        free(names);
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        (*entries)[i].score = 0;
        (*entries)[i].member = names[i].id; /* names stays alive as *owned */
        (*entries)[i].len = strlen(names[i].id);
    }
    *n = count;
    *owned = names;
    return CHAT_OK;
}

/* One pipelined round trip: out[i] for each id. */
static chat_err_t ids__ask(const chat_store_t *s, const chat_cset_t *set,
                           const char (*ids)[CHAT_ID_LEN], size_t n, chat_cset_answer_t *out,
                           bool *any_unbuilt)
{
    size_t queued = 0;
    chat_err_t rc = CHAT_OK;

    *any_unbuilt = false;
    for (size_t i = 0; i < n; i++) {
        out[i] = CHAT_CSET_NOT_BUILT;
    }
    for (size_t i = 0; i < n && rc == CHAT_OK; i++) {
        rc = chat_cset_queue_check(s->redis, set, ids[i]);
        queued += rc == CHAT_OK;
    }
    for (size_t i = 0; i < queued; i++) {
        redisReply *reply = chat_redis_next_reply(s->redis);
        if (reply == NULL || chat_cset_parse_check(reply, &out[i]) != CHAT_OK) {
            out[i] = CHAT_CSET_NOT_BUILT;
            rc = CHAT_ERR_UNAVAILABLE;
        }
        *any_unbuilt = *any_unbuilt || out[i] == CHAT_CSET_NOT_BUILT;
        if (reply != NULL) {
            freeReplyObject(reply);
        }
    }
    chat_redis_discard_replies(s->redis);
    return rc;
}

chat_err_t chat_user_ids_check_many(const chat_store_t *s, const char (*ids)[CHAT_ID_LEN], size_t n,
                                    chat_cset_answer_t *out, bool *built_now)
{
    chat_cset_t set;
    bool unbuilt = false;
    chat_err_t rc;

    if (built_now != NULL) {
        *built_now = false;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = CHAT_CSET_NOT_BUILT;
    }
    if (s->redis == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    if (n == 0) {
        return CHAT_OK;
    }
    chat_cset_user_ids(&set);
    rc = ids__ask(s, &set, ids, n, out, &unbuilt);
    if (rc != CHAT_OK || !unbuilt) {
        return rc;
    }
    rc = chat_cset_build(s->redis, &set, ids__load, ids__free, (void *)s);
    if (rc != CHAT_OK) {
        return rc;
    }
    if (built_now != NULL) {
        *built_now = true;
    }
    return ids__ask(s, &set, ids, n, out, &unbuilt);
}

chat_err_t chat_user_ids_build(const chat_store_t *s, bool *was_cold)
{
    chat_cset_t set;
    bool built = false;
    char ver[24];
    chat_err_t rc;

    if (was_cold != NULL) {
        *was_cold = false;
    }
    if (s->redis == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    chat_cset_user_ids(&set);
    rc = chat_cset_build_prepare(s->redis, &set, &built, ver);
    if (rc != CHAT_OK || built) {
        return rc;
    }
    if (was_cold != NULL) {
        *was_cold = true;
    }
    return chat_cset_build(s->redis, &set, ids__load, ids__free, (void *)s);
}

void chat_user_ids_change(const chat_store_t *s, const char *user_id, bool add)
{
    chat_cset_t set;

    if (s->redis == NULL || user_id == NULL) {
        return;
    }
    chat_cset_user_ids(&set);
    (void)chat_cset_change(s->redis, &set, add, 0, user_id);
}

/* ------------------------------------------------------------------ usernames */

size_t chat_user_name_member(const char *username, const char *id, char *buf, size_t len)
{
    char lc[CHAT_USERNAME_MAX + 1];
    int n;

    chat_ascii_lower(username, lc, sizeof(lc));
    n = snprintf(buf, len, "%s%c%s", lc, CHAT_USER_NAME_SEP, id);
    return n > 0 && (size_t)n < len ? (size_t)n : 0;
}

typedef struct names__buf {
    char member[CHAT_USERNAME_MAX + CHAT_ID_LEN + 2];
} names__buf_t;

/* The username set's entries for names[0..count): *entries and *owned malloc'd. */
static chat_err_t names__entries(const chat_user_name_t *names, size_t count,
                                 chat_cset_entry_t **entries, void **owned)
{
    names__buf_t *bufs = calloc(count + 1, sizeof(*bufs));

    *entries = calloc(count + 1, sizeof(**entries));
    if (*entries == NULL || bufs == NULL) {
        free(*entries);
        *entries = NULL;
        free(bufs);
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        (*entries)[i].score = 0;
        (*entries)[i].member = bufs[i].member;
        (*entries)[i].len = chat_user_name_member(names[i].username_lc, names[i].id, bufs[i].member,
                                                  sizeof(bufs[i].member));
    }
    *owned = bufs;
    return CHAT_OK;
}

static chat_err_t names__load(void *arg, chat_cset_entry_t **entries, size_t *n, void **owned)
{
    const chat_store_t *s = arg;
    chat_user_name_t *names = NULL;
    size_t count = 0;
    chat_err_t rc = chat_users_names(s->db, &names, &count);

    if (rc == CHAT_OK) {
        rc = names__entries(names, count, entries, owned);
        *n = count;
    }
    free(names);
    return rc;
}

chat_err_t chat_user_names_build(const chat_store_t *s)
{
    chat_cset_t names;

    if (s->redis == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    chat_cset_user_names(&names);
    return chat_cset_build(s->redis, &names, names__load, ids__free, (void *)s);
}
