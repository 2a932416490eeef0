/*
 * room_cache.c - rooms through the Redis read model (see room_cache.h): the info hash,
 * the public list (a cached_set.h set rebuilt from the rooms collection) and the merge
 * of public and private rooms for GET /api/rooms.
 *
 * Threads: the thread owning the store. Relies on rooms_repo.h, member_cache.h,
 * cached_set.h.
 */
#include "chat/room_cache.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/cached_set.h"
#include "chat/keys.h"
#include "chat/member_cache.h"
#include "chat/rooms_repo.h"

/* ------------------------------------------------------------------ one room */

void chat_room_cache_put(const chat_store_t *s, const chat_room_t *r, bool queue)
{
    char key[CHAT_KEY_LEN];
    char created[24];
    const char *argv[16];

    if (s->redis == NULL || chat_key_tagged(r->id, "info", key, sizeof(key)) == NULL) {
        return;
    }
    snprintf(created, sizeof(created), "%" PRId64, r->created_at_ms);
    argv[0] = "HSET";
    argv[1] = key;
    argv[2] = "name";
    argv[3] = r->name != NULL ? r->name : "";
    argv[4] = "description";
    argv[5] = r->description != NULL ? r->description : "";
    argv[6] = "creator_id";
    argv[7] = r->creator_id;
    argv[8] = "is_private";
    argv[9] = r->is_private ? "1" : "0";
    argv[10] = "is_dm";
    argv[11] = r->is_dm ? "1" : "0";
    argv[12] = "created_at";
    argv[13] = created;
    if (queue) {
        (void)chat_redis_append_argv(s->redis, 14, argv, NULL);
    } else {
        freeReplyObject(chat_redis_command_argv(s->redis, 14, argv, NULL)); /* NULL: a no-op */
    }
}

/* From an HGETALL reply of the info hash; false when it is not a complete one. */
static bool room__from_hash(const redisReply *reply, const char *room_id, chat_room_t *out)
{
    bool have_name = false;
    bool have_creator = false;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
        return false;
    }
    snprintf(out->id, sizeof(out->id), "%s", room_id);
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const char *k = reply->element[i]->str;
        const redisReply *v = reply->element[i + 1];
        if (k == NULL || v->type != REDIS_REPLY_STRING) {
            continue;
        }
        if (strcmp(k, "name") == 0) {
            free(out->name);
            out->name = strndup(v->str, v->len);
            have_name = out->name != NULL;
        } else if (strcmp(k, "description") == 0) {
            free(out->description);
            out->description = strndup(v->str, v->len);
        } else if (strcmp(k, "creator_id") == 0 && v->len == CHAT_ID_LEN - 1) {
            memcpy(out->creator_id, v->str, CHAT_ID_LEN);
            have_creator = true;
        } else if (strcmp(k, "is_private") == 0) {
            out->is_private = v->str[0] == '1';
        } else if (strcmp(k, "is_dm") == 0) {
            out->is_dm = v->str[0] == '1';
        } else if (strcmp(k, "created_at") == 0) {
            out->created_at_ms = strtoll(v->str, NULL, 10);
        }
    }
    if (!have_name || !have_creator || out->description == NULL) {
        chat_room_clear(out);
        memset(out, 0, sizeof(*out));
        return false;
    }
    return true;
}

/* A room Redis did not have: MongoDB's document, cached for the next reader. */
static chat_err_t room__load_db(const chat_store_t *s, const char *room_id, chat_room_t *out)
{
    chat_err_t rc;

    memset(out, 0, sizeof(*out));
    if ((rc = chat_rooms_find(s->db, room_id, out)) == CHAT_OK) {
        chat_room_cache_put(s, out, false);
    }
    return rc;
}

chat_err_t chat_room_load(const chat_store_t *s, const char *room_id, chat_room_t *out)
{
    char key[CHAT_KEY_LEN];

    memset(out, 0, sizeof(*out));
    if (room_id == NULL || strlen(room_id) != CHAT_ID_LEN - 1 ||
        chat_key_tagged(room_id, "info", key, sizeof(key)) == NULL) {
        return CHAT_ERR_NOT_FOUND;
    }
    if (s->redis != NULL) {
        redisReply *reply = chat_redis_command(s->redis, "HGETALL %s", key);
        bool hit = room__from_hash(reply, room_id, out);
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        if (hit) {
            return CHAT_OK;
        }
    }
    return room__load_db(s, room_id, out);
}

chat_err_t chat_room_load_members(const chat_store_t *s, chat_room_t *room)
{
    chat_member_page_t page;
    chat_err_t rc = chat_member_page(s, room->id, 0, CHAT_ROOM_MEMBERS_SHOWN, &page);

    if (rc != CHAT_OK) {
        return rc;
    }
    free(room->members);
    room->members = page.ids; /* moves */
    room->n_members = page.n;
    room->member_count = page.total;
    page.ids = NULL;
    chat_member_page_clear(&page);
    return CHAT_OK;
}

void chat_room_cache_created(const chat_store_t *s, const chat_room_t *room)
{
    chat_room_cache_put(s, room, false);
    if (s->redis != NULL && !room->is_private) {
        chat_cset_t set;
        chat_cset_public_rooms(&set);
        (void)chat_cset_change(s->redis, &set, true, chat_member_room_score(room->id), room->id);
    }
}

/* ------------------------------------------------------------------ lists */

/* One candidate of the merged list: a room id and its score (creation second). */
typedef struct room__entry {
    char id[CHAT_ID_LEN];
    double score;
} room__entry_t;

/* Newest first; equal seconds by id, larger (later) first, as ZREVRANGE orders them. */
static int room__entry_cmp(const void *a, const void *b)
{
    const room__entry_t *x = a;
    const room__entry_t *y = b;

    if (x->score != y->score) {
        return x->score > y->score ? -1 : 1;
    }
    return -strcmp(x->id, y->id);
}

static void room__free_entries(chat_cset_entry_t *entries, size_t n, void *owned)
{
    (void)n;
    free(entries);
    free(owned);
}

static chat_err_t room__load_public(void *arg, chat_cset_entry_t **entries, size_t *n, void **owned)
{
    const chat_store_t *s = arg;
    bson_oid_t *oids = NULL;
    char(*ids)[CHAT_ID_LEN] = NULL;
    size_t count = 0;
    chat_err_t rc = chat_rooms_public_ids(s->db, &oids, &count);

    if (rc != CHAT_OK) {
        return rc;
    }
    *entries = calloc(count + 1, sizeof(**entries));
    ids = calloc(count + 1, sizeof(*ids));
    if (*entries == NULL || ids == NULL) {
        free(*entries);
        free(ids);
        free(oids);
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        bson_oid_to_string(&oids[i], ids[i]);
        (*entries)[i].score = (double)bson_oid_get_time_t(&oids[i]);
        (*entries)[i].member = ids[i];
        (*entries)[i].len = CHAT_ID_LEN - 1;
    }
    free(oids);
    *n = count;
    *owned = ids;
    return CHAT_OK;
}

/* The first `want` public rooms (newest first) and how many there are. */
static chat_err_t room__public_head(const chat_store_t *s, int64_t want, room__entry_t **out,
                                    size_t *n, int64_t *total)
{
    chat_cset_t set;
    chat_cset_page_t page = {0};
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;

    *out = NULL;
    *n = 0;
    *total = 0;
    chat_cset_public_rooms(&set);
    if (s->redis != NULL) {
        rc = chat_cset_page(s->redis, &set, 0, want, true, &page);
        if (rc == CHAT_OK && !page.built) {
            chat_cset_page_clear(&page);
            rc = chat_cset_build(s->redis, &set, room__load_public, room__free_entries, (void *)s);
            if (rc == CHAT_OK) {
                rc = chat_cset_page(s->redis, &set, 0, want, true, &page);
                rc = rc == CHAT_OK && !page.built ? CHAT_ERR_UNAVAILABLE : rc;
            }
        }
    }
    if (rc == CHAT_OK) {
        *out = calloc(page.n + 1, sizeof(**out));
        if (*out == NULL) {
            chat_cset_page_clear(&page);
            return CHAT_ERR_NOMEM;
        }
        for (size_t i = 0; i < page.n; i++) {
            snprintf((*out)[i].id, CHAT_ID_LEN, "%.*s", (int)page.len[i], page.member[i]);
            (*out)[i].score = page.score[i];
        }
        *n = page.n;
        *total = page.total;
        chat_cset_page_clear(&page);
        return CHAT_OK;
    }
    chat_cset_page_clear(&page);
    if (rc == CHAT_ERR_NOMEM) {
        return rc;
    }
    { /* Redis down: the whole list from MongoDB */
        chat_cset_entry_t *entries = NULL;
        void *owned = NULL;
        size_t count = 0;
        rc = room__load_public((void *)s, &entries, &count, &owned);
        if (rc != CHAT_OK) {
            return rc;
        }
        *out = calloc(count + 1, sizeof(**out));
        if (*out == NULL) {
            room__free_entries(entries, count, owned);
            return CHAT_ERR_NOMEM;
        }
        for (size_t i = 0; i < count; i++) {
            memcpy((*out)[i].id, entries[i].member, CHAT_ID_LEN);
            (*out)[i].score = entries[i].score;
        }
        room__free_entries(entries, count, owned);
        qsort(*out, count, sizeof(**out), room__entry_cmp);
        *n = count < (size_t)want ? count : (size_t)want;
        *total = (int64_t)count;
    }
    return CHAT_OK;
}

/* The private rooms user_id belongs to, newest first. */
static chat_err_t room__private_of(const chat_store_t *s, const char *user_id, room__entry_t **out,
                                   size_t *n)
{
    char(*ids)[CHAT_ID_LEN] = NULL;
    size_t count = 0;
    chat_err_t rc = chat_member_rooms_of(s, user_id, &ids, &count);

    *out = NULL;
    *n = 0;
    if (rc != CHAT_OK) {
        return rc;
    }
    *out = calloc(count + 1, sizeof(**out));
    if (*out == NULL) {
        free(ids);
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < count && rc == CHAT_OK; i++) {
        chat_room_t room;
        rc = chat_room_load(s, ids[i], &room);
        if (rc == CHAT_OK && room.is_private) {
            memcpy((*out)[*n].id, ids[i], CHAT_ID_LEN);
            (*out)[*n].score = chat_member_room_score(ids[i]);
            (*n)++;
        }
        chat_room_clear(&room);
        if (rc == CHAT_ERR_NOT_FOUND) {
            rc = CHAT_OK; /* a membership of a room that is gone: skip it */
        }
    }
    free(ids);
    if (rc != CHAT_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
        return rc;
    }
    qsort(*out, *n, sizeof(**out), room__entry_cmp);
    return CHAT_OK;
}

/* 1 of room__load_page: the cached documents of picked[0..n) into items[0..n), one
 * pipelined round trip; cached[k] says which were there (the others: MongoDB). */
static void room__docs_cached(const chat_store_t *s, const room__entry_t *picked, size_t n,
                              chat_room_t *items, bool *cached)
{
    char key[CHAT_KEY_LEN];
    size_t queued = 0;

    while (s->redis != NULL && queued < n &&
           chat_key_tagged(picked[queued].id, "info", key, sizeof(key)) != NULL &&
           chat_redis_append_argv(s->redis, 2, (const char *[]){"HGETALL", key}, NULL) == CHAT_OK) {
        queued++;
    }
    for (size_t k = 0; k < queued; k++) {
        redisReply *reply = chat_redis_next_reply(s->redis);
        if (reply == NULL) {
            break; /* the connection broke */
        }
        cached[k] = room__from_hash(reply, picked[k].id, &items[k]);
        freeReplyObject(reply);
    }
    if (s->redis != NULL) {
        chat_redis_discard_replies(s->redis);
    }
}

/* 2 of room__load_page: the first members of the rooms items[k] with present[k], their
 * member sets' pages in one pipelined round trip; a set not built (or Redis down) is
 * read through chat_room_load_members alone, which builds it. */
static chat_err_t room__members_many(const chat_store_t *s, chat_room_t *items, const bool *present,
                                     size_t n)
{
    chat_cset_page_t *pages = calloc(n + 1, sizeof(*pages));
    bool *paged = calloc(n + 1, sizeof(*paged));
    size_t queued = 0;
    chat_err_t rc = CHAT_OK;

    for (size_t k = 0; pages != NULL && paged != NULL && s->redis != NULL && k < n; k++) {
        chat_cset_t set;
        chat_cset_room_members(items[k].id, &set);
        if (present[k] &&
            chat_cset_queue_page(s->redis, &set, 0, CHAT_ROOM_MEMBERS_SHOWN, false) == CHAT_OK) {
            paged[k] = true;
            queued++;
        }
    }
    for (size_t k = 0; queued > 0 && k < n; k++) {
        if (paged[k]) {
            paged[k] = chat_cset_parse_page(chat_redis_next_reply(s->redis), &pages[k]) == CHAT_OK;
            paged[k] = paged[k] && pages[k].built;
        }
    }
    if (s->redis != NULL) {
        chat_redis_discard_replies(s->redis);
    }
    for (size_t k = 0; k < n && rc == CHAT_OK; k++) {
        chat_member_page_t page;
        if (!present[k]) {
            continue;
        }
        if (paged == NULL || !paged[k]) {
            rc = chat_room_load_members(s, &items[k]);
            continue;
        }
        rc = chat_member_page_from_set(&pages[k], &page);
        if (rc == CHAT_OK) {
            free(items[k].members);
            items[k].members = page.ids; /* moves */
            items[k].n_members = page.n;
            items[k].member_count = page.total;
            page.ids = NULL;
            chat_member_page_clear(&page);
        }
    }
    for (size_t k = 0; pages != NULL && k < n; k++) {
        chat_cset_page_clear(&pages[k]);
    }
    free(pages);
    free(paged);
    return pages == NULL ? CHAT_ERR_NOMEM : rc;
}

/* The documents and first members of the rooms picked[0..n) into out->items (in that
 * order; a room that no longer exists is left out): two pipelined round trips for the
 * page; what Redis cannot answer (a room not cached, a member set not built, Redis
 * down) goes to MongoDB room by room. */
static chat_err_t room__load_page(const chat_store_t *s, const room__entry_t *picked, size_t n,
                                  chat_room_list_t *out)
{
    bool *present = calloc(n + 1, sizeof(*present));
    chat_err_t rc = present == NULL ? CHAT_ERR_NOMEM : CHAT_OK;
    size_t kept = 0;

    out->n = n; /* every item is cleared on failure, zeroed or filled */
    if (rc == CHAT_OK) {
        room__docs_cached(s, picked, n, out->items, present);
    }
    for (size_t k = 0; rc == CHAT_OK && k < n; k++) {
        if (!present[k]) {
            /* not cached (or Redis did not answer): no second HGETALL for it */
            rc = room__load_db(s, picked[k].id, &out->items[k]);
            present[k] = rc == CHAT_OK;
            rc = rc == CHAT_ERR_NOT_FOUND ? CHAT_OK : rc;
        }
    }
    if (rc == CHAT_OK) {
        rc = room__members_many(s, out->items, present, n);
    }
    for (size_t k = 0; rc == CHAT_OK && k < n; k++) {
        if (present[k]) {
            out->items[kept++] = out->items[k]; /* moves; the gone ones hold nothing */
        }
    }
    if (rc == CHAT_OK) {
        out->n = kept;
    }
    free(present);
    return rc;
}

chat_err_t chat_rooms_visible(const chat_store_t *s, const char *user_id, int64_t offset,
                              int64_t limit, chat_room_list_t *out, int64_t *total)
{
    room__entry_t *pub = NULL;
    room__entry_t *priv = NULL;
    room__entry_t *picked = NULL;
    size_t n_picked = 0;
    size_t n_pub = 0;
    size_t n_priv = 0;
    size_t i = 0;
    size_t j = 0;
    int64_t pub_total = 0;
    int64_t skipped = 0;
    chat_err_t rc;

    out->items = NULL;
    out->n = 0;
    *total = 0;
    offset = offset < 0 ? 0 : offset;
    rc = room__public_head(s, offset + limit, &pub, &n_pub, &pub_total);
    if (rc == CHAT_OK) {
        rc = room__private_of(s, user_id, &priv, &n_priv);
    }
    if (rc == CHAT_OK) {
        out->items = calloc((size_t)limit + 1, sizeof(*out->items));
        rc = out->items == NULL ? CHAT_ERR_NOMEM : CHAT_OK;
    }
    if (rc == CHAT_OK) {
        picked = calloc((size_t)limit + 1, sizeof(*picked));
        rc = picked == NULL ? CHAT_ERR_NOMEM : CHAT_OK;
    }
    while (rc == CHAT_OK && (int64_t)n_picked < limit && (i < n_pub || j < n_priv)) {
        const room__entry_t *next = NULL;
        if (j >= n_priv || (i < n_pub && room__entry_cmp(&pub[i], &priv[j]) <= 0)) {
            next = &pub[i++];
        } else {
            next = &priv[j++];
        }
        if (skipped < offset) {
            skipped++;
            continue;
        }
        picked[n_picked++] = *next;
    }
    if (rc == CHAT_OK) {
        rc = room__load_page(s, picked, n_picked, out);
    }
    free(picked);
    if (rc != CHAT_OK) {
        chat_room_list_clear(out);
    } else {
        *total = pub_total + (int64_t)n_priv;
    }
    free(pub);
    free(priv);
    return rc;
}
