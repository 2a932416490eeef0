/*
 * member_cache.c - membership through the Redis read model with MongoDB behind it (see
 * member_cache.h): the loaders that rebuild chat:{<room>}:members and
 * chat:{<user>}:rooms from room_members, and the checks and pages on top.
 *
 * Threads: the thread owning the store. Relies on cached_set.h and room_members_repo.h.
 */
#include "chat/member_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/cached_set.h"
#include "chat/log.h"
#include "chat/room_members_repo.h"

typedef struct member__load {
    const chat_store_t *s;
    bson_oid_t oid;
} member__load_t;

static void member__release(chat_cset_entry_t *entries, size_t n, void *owned)
{
    (void)n;
    free(entries);
    free(owned);
}

/* chat:{<room>}:members from room_members: member = user id, score = joined_at. */
static chat_err_t member__load_room(void *arg, chat_cset_entry_t **entries, size_t *n, void **owned)
{
    member__load_t *l = arg;
    chat_member_row_t *rows = NULL;
    chat_cset_entry_t *e = NULL;
    size_t count = 0;
    chat_err_t rc = chat_members_of_room(l->s->db, &l->oid, &rows, &count);

    if (rc != CHAT_OK) {
        return rc;
    }
    e = calloc(count + 1, sizeof(*e));
    if (e == NULL) {
        free(rows);
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        e[i].score = (double)rows[i].joined_at_ms;
        e[i].member = rows[i].user_id;
        e[i].len = strlen(rows[i].user_id);
    }
    *entries = e;
    *n = count;
    *owned = rows;
    return CHAT_OK;
}

double chat_member_room_score(const char *room_id)
{
    bson_oid_t oid;

    return chat_db_oid_from_hex(room_id, &oid) ? (double)bson_oid_get_time_t(&oid) : 0.0;
}

/* chat:{<user>}:rooms from room_members: member = room id, score = its creation second. */
static chat_err_t member__load_user(void *arg, chat_cset_entry_t **entries, size_t *n, void **owned)
{
    member__load_t *l = arg;
    bson_oid_t *oids = NULL;
    chat_cset_entry_t *e = NULL;
    char(*ids)[CHAT_ID_LEN] = NULL;
    size_t count = 0;
    chat_err_t rc = chat_members_room_oids(l->s->db, &l->oid, &oids, &count);

    if (rc != CHAT_OK) {
        return rc;
    }
    e = calloc(count + 1, sizeof(*e));
    ids = calloc(count + 1, sizeof(*ids));
    if (e == NULL || ids == NULL) {
        free(oids);
        free(e);
        free(ids);
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        bson_oid_to_string(&oids[i], ids[i]);
        e[i].score = (double)bson_oid_get_time_t(&oids[i]);
        e[i].member = ids[i];
        e[i].len = CHAT_ID_LEN - 1;
    }
    free(oids);
    *entries = e;
    *n = count;
    *owned = ids;
    return CHAT_OK;
}

/* Builds the room's member set when it is not built. */
static chat_err_t member__build_room(const chat_store_t *s, const char *room_id)
{
    member__load_t l = {.s = s};
    chat_cset_t set;

    if (!chat_db_oid_from_hex(room_id, &l.oid)) {
        return CHAT_ERR_NOT_FOUND;
    }
    chat_cset_room_members(room_id, &set);
    return chat_cset_build(s->redis, &set, member__load_room, member__release, &l);
}

static chat_err_t member__db_check(const chat_store_t *s, const char *room_id, const char *user_id,
                                   bool *is_member)
{
    bson_oid_t room;
    bson_oid_t user;

    *is_member = false;
    if (!chat_db_oid_from_hex(room_id, &room) || !chat_db_oid_from_hex(user_id, &user)) {
        return CHAT_OK;
    }
    return chat_members_contains(s->db, &room, &user, is_member);
}

chat_err_t chat_member_check(const chat_store_t *s, const char *room_id, const char *user_id,
                             bool *is_member)
{
    chat_member_query_t q = {.room_id = room_id, .user_id = user_id};

    chat_member_check_many(s, &q, 1);
    *is_member = q.is_member;
    return q.err;
}

bool chat_member_surely_outside(const chat_store_t *s, const char *room_id, const char *user_id,
                                bool *public_room)
{
    chat_cset_t set;
    chat_cset_answer_t answer;

    if (s->redis == NULL) {
        return false;
    }
    chat_cset_user_rooms(user_id, &set);
    if (chat_cset_check(s->redis, &set, room_id, &answer) != CHAT_OK ||
        answer != CHAT_CSET_ABSENT) {
        return false;
    }
    chat_cset_public_rooms(&set);
    if (chat_cset_check(s->redis, &set, room_id, &answer) != CHAT_OK ||
        answer == CHAT_CSET_NOT_BUILT) {
        return false;
    }
    *public_room = answer == CHAT_CSET_PRESENT;
    return true;
}

size_t chat_member_check_queue(const chat_store_t *s, chat_member_query_t *q, size_t n)
{
    size_t queued = 0;

    for (size_t i = 0; i < n; i++) {
        q[i].is_member = false;
        q[i].err = CHAT_ERR_UNAVAILABLE;
    }
    for (size_t i = 0; s->redis != NULL && i < n; i++) {
        chat_cset_t set;
        chat_cset_room_members(q[i].room_id, &set);
        if (chat_cset_queue_check(s->redis, &set, q[i].user_id) != CHAT_OK) {
            break;
        }
        queued++;
    }
    return queued;
}

void chat_member_check_collect(const chat_store_t *s, chat_member_query_t *q, size_t queued)
{
    for (size_t i = 0; i < queued; i++) {
        redisReply *reply = chat_redis_next_reply(s->redis);
        chat_cset_answer_t answer;
        if (chat_cset_parse_check(reply, &answer) == CHAT_OK && answer != CHAT_CSET_NOT_BUILT) {
            q[i].is_member = answer == CHAT_CSET_PRESENT;
            q[i].err = CHAT_OK;
        }
        if (reply != NULL) {
            freeReplyObject(reply);
        }
    }
}

void chat_member_check_resolve(const chat_store_t *s, chat_member_query_t *q, size_t n)
{
    chat_redis_discard_replies(s->redis);
    for (size_t i = 0; i < n; i++) {
        chat_cset_t set;
        chat_cset_answer_t answer;
        if (q[i].err == CHAT_OK) {
            continue;
        }
        /* not built (rebuild, then ask again) or Redis down (the database alone) */
        chat_cset_room_members(q[i].room_id, &set);
        if (s->redis != NULL && member__build_room(s, q[i].room_id) == CHAT_OK &&
            chat_cset_check(s->redis, &set, q[i].user_id, &answer) == CHAT_OK &&
            answer != CHAT_CSET_NOT_BUILT) {
            q[i].is_member = answer == CHAT_CSET_PRESENT;
            q[i].err = CHAT_OK;
            continue;
        }
        q[i].err = member__db_check(s, q[i].room_id, q[i].user_id, &q[i].is_member);
    }
}

void chat_member_check_many(const chat_store_t *s, chat_member_query_t *q, size_t n)
{
    size_t queued = chat_member_check_queue(s, q, n);

    chat_member_check_collect(s, q, queued);
    chat_member_check_resolve(s, q, n);
}

void chat_member_page_clear(chat_member_page_t *page)
{
    if (page != NULL) {
        free(page->ids);
        free(page->joined_ms);
        memset(page, 0, sizeof(*page));
    }
}

static int member__row_cmp(const void *a, const void *b)
{
    const chat_member_row_t *x = a;
    const chat_member_row_t *y = b;

    if (x->joined_at_ms != y->joined_at_ms) {
        return x->joined_at_ms < y->joined_at_ms ? -1 : 1;
    }
    return strcmp(x->user_id, y->user_id);
}

/* Redis down: the page from the whole member list. */
static chat_err_t member__db_page(const chat_store_t *s, const char *room_id, int64_t offset,
                                  int64_t limit, chat_member_page_t *out)
{
    chat_member_row_t *rows = NULL;
    size_t count = 0;
    bson_oid_t oid;
    chat_err_t rc;

    if (!chat_db_oid_from_hex(room_id, &oid)) {
        return CHAT_ERR_NOT_FOUND;
    }
    rc = chat_members_of_room(s->db, &oid, &rows, &count);
    if (rc != CHAT_OK) {
        return rc;
    }
    qsort(rows, count, sizeof(*rows), member__row_cmp);
    out->total = (int64_t)count;
    out->ids = calloc((size_t)limit + 1, sizeof(*out->ids));
    out->joined_ms = calloc((size_t)limit + 1, sizeof(*out->joined_ms));
    if (out->ids == NULL || out->joined_ms == NULL) {
        free(rows);
        chat_member_page_clear(out);
        return CHAT_ERR_NOMEM;
    }
    for (int64_t i = offset; i < (int64_t)count && (int64_t)out->n < limit; i++) {
        memcpy(out->ids[out->n], rows[i].user_id, CHAT_ID_LEN);
        out->joined_ms[out->n] = rows[i].joined_at_ms;
        out->n++;
    }
    free(rows);
    return CHAT_OK;
}

chat_err_t chat_member_page(const chat_store_t *s, const char *room_id, int64_t offset,
                            int64_t limit, chat_member_page_t *out)
{
    chat_cset_t set;
    chat_cset_page_t page;
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;

    memset(out, 0, sizeof(*out));
    offset = offset < 0 ? 0 : offset;
    limit = limit < 0 ? 0 : limit;
    chat_cset_room_members(room_id, &set);
    for (int attempt = 0; s->redis != NULL && attempt < 2; attempt++) {
        rc = chat_cset_page(s->redis, &set, offset, limit, false, &page);
        if (rc != CHAT_OK) {
            break;
        }
        if (page.built) {
            break;
        }
        chat_cset_page_clear(&page);
        rc = member__build_room(s, room_id);
        if (rc != CHAT_OK) {
            break;
        }
        rc = CHAT_ERR_UNAVAILABLE;
    }
    if (rc != CHAT_OK || !page.built) {
        if (rc == CHAT_OK) {
            chat_cset_page_clear(&page);
        }
        return rc == CHAT_ERR_NOMEM ? rc : member__db_page(s, room_id, offset, limit, out);
    }
    return chat_member_page_from_set(&page, out);
}

chat_err_t chat_member_page_from_set(chat_cset_page_t *page, chat_member_page_t *out)
{
    memset(out, 0, sizeof(*out));
    out->total = page->total;
    out->ids = calloc(page->n + 1, sizeof(*out->ids));
    out->joined_ms = calloc(page->n + 1, sizeof(*out->joined_ms));
    for (size_t i = 0; out->ids != NULL && out->joined_ms != NULL && i < page->n; i++) {
        if (page->len[i] == CHAT_ID_LEN - 1) {
            memcpy(out->ids[out->n], page->member[i], CHAT_ID_LEN - 1);
            out->ids[out->n][CHAT_ID_LEN - 1] = '\0';
            out->joined_ms[out->n] = (int64_t)page->score[i];
            out->n++;
        }
    }
    chat_cset_page_clear(page);
    if (out->ids == NULL || out->joined_ms == NULL) {
        chat_member_page_clear(out);
        return CHAT_ERR_NOMEM;
    }
    return CHAT_OK;
}

chat_err_t chat_member_rooms_of(const chat_store_t *s, const char *user_id,
                                char (**ids)[CHAT_ID_LEN], size_t *n)
{
    member__load_t l = {.s = s};
    chat_cset_t set;
    chat_cset_page_t page;
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;

    *ids = NULL;
    *n = 0;
    if (!chat_db_oid_from_hex(user_id, &l.oid)) {
        return CHAT_OK;
    }
    chat_cset_user_rooms(user_id, &set);
    if (s->redis != NULL) {
        rc = chat_cset_page(s->redis, &set, 0, CHAT_MEMBER_ROOMS_MAX, true, &page);
        if (rc == CHAT_OK && !page.built) {
            chat_cset_page_clear(&page);
            rc = chat_cset_build(s->redis, &set, member__load_user, member__release, &l);
            if (rc == CHAT_OK) {
                rc = chat_cset_page(s->redis, &set, 0, CHAT_MEMBER_ROOMS_MAX, true, &page);
                if (rc == CHAT_OK && !page.built) {
                    chat_cset_page_clear(&page);
                    rc = CHAT_ERR_UNAVAILABLE;
                }
            }
        }
    }
    if (rc == CHAT_OK) {
        *ids = calloc(page.n + 1, sizeof(**ids));
        if (*ids == NULL) {
            chat_cset_page_clear(&page);
            return CHAT_ERR_NOMEM;
        }
        for (size_t i = 0; i < page.n; i++) {
            if (page.len[i] == CHAT_ID_LEN - 1) {
                memcpy((*ids)[*n], page.member[i], CHAT_ID_LEN - 1);
                (*ids)[*n][CHAT_ID_LEN - 1] = '\0';
                (*n)++;
            }
        }
        chat_cset_page_clear(&page);
        return CHAT_OK;
    }
    if (rc == CHAT_ERR_NOMEM) {
        return rc;
    }
    {
        chat_cset_entry_t *entries = NULL;
        void *owned = NULL;
        size_t count = 0;
        rc = member__load_user(&l, &entries, &count, &owned);
        if (rc != CHAT_OK) {
            return rc;
        }
        *ids = calloc(count + 1, sizeof(**ids));
        if (*ids == NULL) {
            member__release(entries, count, owned);
            return CHAT_ERR_NOMEM;
        }
        for (size_t i = 0; i < count; i++) {
            memcpy((*ids)[i], entries[i].member, CHAT_ID_LEN);
        }
        *n = count;
        member__release(entries, count, owned);
    }
    return CHAT_OK;
}

chat_err_t chat_member_epochs(const chat_store_t *s, const char *const *room_ids, size_t n,
                              char (*out)[CHAT_MEMBER_EPOCH_LEN])
{
    const char *run = s->redis != NULL ? chat_redis_run_id(s->redis) : NULL;
    char runcopy[48];
    size_t queued = 0;
    chat_err_t rc = CHAT_OK;

    for (size_t i = 0; i < n; i++) {
        out[i][0] = '\0';
    }
    if (run == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(runcopy, sizeof(runcopy), "%s", run); /* run points into the handle */
    for (size_t i = 0; i < n; i++) {
        chat_cset_t set;
        const char *argv[5] = {"HMGET", set.meta, "run", "built", "ver"};
        chat_cset_room_members(room_ids[i], &set);
        if (chat_redis_append_argv(s->redis, 5, argv, NULL) != CHAT_OK) {
            rc = CHAT_ERR_UNAVAILABLE;
            break;
        }
        queued++;
    }
    for (size_t i = 0; i < queued; i++) {
        redisReply *reply = chat_redis_next_reply(s->redis);
        if (reply == NULL) {
            rc = CHAT_ERR_UNAVAILABLE;
            chat_redis_discard_replies(s->redis);
            break;
        }
        if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 &&
            reply->element[0]->type == REDIS_REPLY_STRING &&
            strcmp(reply->element[0]->str, runcopy) == 0) {
            /* a set nobody changed since it was built has no version yet */
            const redisReply *built = reply->element[1];
            const redisReply *ver = reply->element[2];
            snprintf(out[i], CHAT_MEMBER_EPOCH_LEN, "%.40s:%.20s:%.20s", runcopy,
                     built->type == REDIS_REPLY_STRING ? built->str : "",
                     ver->type == REDIS_REPLY_STRING ? ver->str : "0");
        }
        freeReplyObject(reply);
    }
    return rc;
}

chat_err_t chat_member_cache_change(const chat_store_t *s, const char *room_id, const char *user_id,
                                    bool added, int64_t joined_ms)
{
    chat_cset_t members;
    chat_cset_t rooms;
    chat_err_t rc;

    if (s->redis == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    chat_cset_room_members(room_id, &members);
    chat_cset_user_rooms(user_id, &rooms);
    rc = chat_cset_change(s->redis, &members, added, (double)joined_ms, user_id);
    if (rc == CHAT_OK) {
        rc = chat_cset_change(s->redis, &rooms, added, chat_member_room_score(room_id), room_id);
    }
    if (rc != CHAT_OK) {
        chat_log_warn("membership cache not updated (Redis down?)", "room", room_id, "user",
                      user_id, "added", added ? "true" : "false");
    }
    return rc;
}

/* The loader of a new user's room list: nothing, by definition. */
static chat_err_t member__load_nothing(void *arg, chat_cset_entry_t **entries, size_t *n,
                                       void **owned)
{
    (void)arg;
    *entries = NULL;
    *n = 0;
    *owned = NULL;
    return CHAT_OK;
}

static void member__release_nothing(chat_cset_entry_t *entries, size_t n, void *owned)
{
    (void)entries;
    (void)n;
    (void)owned;
}

void chat_member_cache_new_user(const chat_store_t *s, const char *user_id)
{
    chat_cset_t rooms;

    if (s->redis == NULL) {
        return;
    }
    chat_cset_user_rooms(user_id, &rooms);
    (void)chat_cset_build(s->redis, &rooms, member__load_nothing, member__release_nothing, NULL);
}
