/*
 * user_logins.c - every user's logins as one cached set (see user_logins.h).
 *
 * Threads: the thread owning the store. Relies on cached_set.h, users_list.h.
 */
#include "chat/user_logins.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/grow.h"
#include "chat/users_list.h"
#include "chat/validate.h"

void chat_cset_user_logins(chat_cset_t *out)
{
    snprintf(out->key, sizeof(out->key), "%s", CHAT_KEY_USER_LOGINS);
    snprintf(out->meta, sizeof(out->meta), "%s", CHAT_KEY_USER_LOGINS_META);
}

/* "u:<username lower-cased>" or "e:<email lower-cased>" into buf; false when too long. */
static bool logins__member(char kind, const char *login, char *buf, size_t len)
{
    if (login == NULL || strlen(login) + 3 > len || strlen(login) >= CHAT_KEY_LEN - 16) {
        return false;
    }
    buf[0] = kind;
    buf[1] = ':';
    chat_ascii_lower(login, buf + 2, len - 2);
    return true;
}

chat_err_t chat_user_logins_check(const chat_store_t *s, const char *login, chat_cset_answer_t *out)
{
    char member[CHAT_KEY_LEN];
    chat_cset_t set;

    *out = CHAT_CSET_NOT_BUILT;
    if (s->redis == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    if (!logins__member(login != NULL && strchr(login, '@') != NULL ? 'e' : 'u', login, member,
                        sizeof(member))) {
        return CHAT_OK; /* not built: the caller asks MongoDB */
    }
    chat_cset_user_logins(&set);
    return chat_cset_check(s->redis, &set, member, out);
}

chat_err_t chat_user_logins_check_two(const chat_store_t *s, const char *username,
                                      const char *email, chat_cset_answer_t out[2])
{
    char member[2][CHAT_KEY_LEN];
    chat_cset_t set;
    chat_err_t rc = CHAT_OK;

    out[0] = out[1] = CHAT_CSET_NOT_BUILT;
    if (s->redis == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    if (!logins__member('u', username, member[0], sizeof(member[0])) ||
        !logins__member('e', email, member[1], sizeof(member[1]))) {
        return CHAT_OK;
    }
    chat_cset_user_logins(&set);
    for (int i = 0; i < 2 && rc == CHAT_OK; i++) {
        rc = chat_cset_queue_check(s->redis, &set, member[i]);
    }
    for (int i = 0; i < 2 && rc == CHAT_OK; i++) {
        redisReply *reply = chat_redis_next_reply(s->redis);
        rc = reply != NULL ? chat_cset_parse_check(reply, &out[i]) : CHAT_ERR_UNAVAILABLE;
        if (reply != NULL) {
            freeReplyObject(reply);
        }
    }
    chat_redis_discard_replies(s->redis);
    if (rc != CHAT_OK) {
        out[0] = out[1] = CHAT_CSET_NOT_BUILT;
    }
    return rc;
}

void chat_user_logins_change(const chat_store_t *s, const chat_user_t *u, bool add)
{
    char member[CHAT_KEY_LEN];
    chat_cset_t set;

    if (s->redis == NULL) {
        return;
    }
    chat_cset_user_logins(&set);
    if (logins__member('u', u->username, member, sizeof(member))) {
        (void)chat_cset_change(s->redis, &set, add, 0, member);
    }
    if (logins__member('e', u->email, member, sizeof(member))) {
        (void)chat_cset_change(s->redis, &set, add, 0, member);
    }
}

/* ------------------------------------------------------------------ from a scan */

static void logins__push(chat_user_logins_scan_t *scan, char kind, const char *login)
{
    char member[CHAT_KEY_LEN];
    char **grown;

    if (scan->failed || !logins__member(kind, login, member, sizeof(member))) {
        return;
    }
    grown = chat_grow(scan->members, scan->n, &scan->cap, sizeof(*scan->members), 512);
    if (grown == NULL || (grown[scan->n] = strdup(member)) == NULL) {
        scan->members = grown != NULL ? grown : scan->members;
        scan->failed = true;
        return;
    }
    scan->members = grown;
    scan->n++;
}

void chat_user_logins_scan_begin(const chat_store_t *s, chat_user_logins_scan_t *scan)
{
    chat_cset_t set;
    bool built = true;

    memset(scan, 0, sizeof(*scan));
    chat_cset_user_logins(&set);
    scan->wanted = s->redis != NULL &&
        chat_cset_build_prepare(s->redis, &set, &built, scan->ver) == CHAT_OK && !built;
}

void chat_user_logins_scan_add(chat_user_logins_scan_t *scan, const chat_user_t *u)
{
    if (scan->wanted) {
        logins__push(scan, 'u', u->username);
        logins__push(scan, 'e', u->email);
    }
}

/* The scan's members as set entries (malloc'd, NULL when out of memory). */
static chat_cset_entry_t *logins__entries(const chat_user_logins_scan_t *scan)
{
    chat_cset_entry_t *entries = calloc(scan->n + 1, sizeof(*entries));

    for (size_t i = 0; entries != NULL && i < scan->n; i++) {
        entries[i].score = 0;
        entries[i].member = scan->members[i];
        entries[i].len = strlen(scan->members[i]);
    }
    return entries;
}

static void logins__scan_free(chat_user_logins_scan_t *scan)
{
    for (size_t i = 0; i < scan->n; i++) {
        free(scan->members[i]);
    }
    free(scan->members);
    scan->members = NULL;
    scan->n = scan->cap = 0;
}

void chat_user_logins_scan_end(const chat_store_t *s, chat_user_logins_scan_t *scan)
{
    chat_cset_entry_t *entries = NULL;
    chat_cset_t set;
    bool stored = false;

    if (scan->wanted && !scan->failed && (entries = logins__entries(scan)) != NULL) {
        chat_cset_user_logins(&set);
        (void)chat_cset_build_store(s->redis, &set, scan->ver, entries, scan->n, &stored);
    }
    free(entries);
    logins__scan_free(scan);
}

/* ------------------------------------------------------------------ alone */

typedef struct logins__load {
    const chat_store_t *s;
    chat_user_logins_scan_t scan;
} logins__load_t;

static void logins__each(const chat_user_t *u, void *arg)
{
    chat_user_logins_scan_t *scan = arg;

    logins__push(scan, 'u', u->username);
    logins__push(scan, 'e', u->email);
}

static chat_err_t logins__loader(void *arg, chat_cset_entry_t **entries, size_t *n, void **owned)
{
    logins__load_t *l = arg;
    chat_user_name_t *names = NULL;
    size_t count = 0;
    chat_err_t rc;

    logins__scan_free(&l->scan);
    l->scan.failed = false;
    rc = chat_users_names_each(l->s->db, &names, &count, logins__each, &l->scan);
    free(names);
    if (rc == CHAT_OK && (l->scan.failed || (*entries = logins__entries(&l->scan)) == NULL)) {
        rc = CHAT_ERR_NOMEM;
    }
    *n = rc == CHAT_OK ? l->scan.n : 0;
    *owned = NULL; /* the strings stay in l->scan until the build returns */
    return rc;
}

static void logins__release(chat_cset_entry_t *entries, size_t n, void *owned)
{
    (void)n;
    (void)owned;
    free(entries);
}

chat_err_t chat_user_logins_build(const chat_store_t *s)
{
    logins__load_t l = {s, {0}};
    chat_cset_t set;
    chat_err_t rc;

    if (s->redis == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    chat_cset_user_logins(&set);
    rc = chat_cset_build(s->redis, &set, logins__loader, logins__release, &l);
    logins__scan_free(&l.scan);
    return rc;
}
