/*
 * message_store.c - the writer worker's half of the message pipeline: a batch of queued
 * messages is checked for membership and its resends are answered from the room windows
 * (one pipelined Redis round trip), the rest is stored with one insert_many (group
 * commit), and everything stored is committed to the windows and published (one
 * pipelined round trip). Results go into each request; message_pipeline.c acts on them
 * on the loop.
 *
 * Threads: a writer worker (touches only its jobs and the worker's own store and
 * hints). Relies on: member_cache.h, room_cache.h, message_append.h, history.h,
 * store_worker.h, message_decide.h.
 */
#include "message_pipeline_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/history.h"
#include "chat/log.h"
#include "chat/member_cache.h"
#include "chat/message_append.h"
#include "chat/room_cache.h"
#include "gateway_metrics.h"
#include "message_decide.h"

#define STORE__COMMIT_WAIT_MS 100 /* a hole below our seqs: another writer's append */
#define STORE__SLOW_BATCH_MS 500  /* a batch this slow is logged with its phases */

/* The ack of a stored message (its JSON as clients receive it). */
static gw_frame_t *append__ack_frame(const msg_req_t *r, json_t *msg)
{
    json_t *ack = json_pack("{s:s, s:o, s:O, s:O, s:O, s:s}", "type", "ack", "client_msg_id",
                            r->client_msg_id != NULL ? json_string(r->client_msg_id) : json_null(),
                            "id", json_object_get(msg, "id"), "seq", json_object_get(msg, "seq"),
                            "timestamp", json_object_get(msg, "timestamp"), "room_id", r->room_id);
    gw_frame_t *f = ack != NULL ? gw_frame_from_json(ack) : NULL;

    json_decref(ack);
    return f;
}

/* A resend the room's window recognised (the reply to chat_window_queue_idem): its
 * stored copy answers it, with no insert. */
static void append__take_resend(msg_req_t *r, redisReply *reply)
{
    char *json = chat_window_parse_idem(reply);
    json_t *msg = json != NULL ? json_loads(json, 0, NULL) : NULL;

    if (msg != NULL && json_is_integer(json_object_get(msg, "seq"))) {
        r->ack_frame = append__ack_frame(r, msg);
        if (r->ack_frame != NULL) {
            r->stored = r->duplicate = r->committed = true; /* it is in the window */
            r->seq = json_integer_value(json_object_get(msg, "seq"));
        }
    }
    json_decref(msg);
    free(json);
}

/* Step 1: membership of what is not stored yet, and the resends the rooms' windows
 * recognise, in one pipelined round trip (the unique indexes catch the resends the
 * windows do not know). While Redis is down a live subscription vouches for its session
 * (membership changes need Redis, so none can have happened since it was checked);
 * others ask MongoDB. A resend answers only a member. */
static void append__check_members(const chat_store_t *st, msg_req_t **reqs, size_t n)
{
    chat_member_query_t *q = calloc(n + 1, sizeof(*q));
    msg_req_t **asked = calloc(n + 1, sizeof(*asked));
    msg_req_t **resends = calloc(n + 1, sizeof(*resends));
    redisReply **replies = calloc(n + 1, sizeof(*replies));
    bool redis_up = st->redis != NULL && chat_redis_run_id(st->redis) != NULL;
    size_t k = 0;
    size_t queued;
    size_t n_resends = 0;

    if (q == NULL || asked == NULL || resends == NULL || replies == NULL) {
        for (size_t i = 0; i < n; i++) {
            reqs[i]->err = CHAT_ERR_NOMEM;
        }
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        msg_req_t *r = reqs[i];
        if (r->err != CHAT_OK || r->stored) {
            continue;
        }
        if (!redis_up && r->trusted_member) {
            r->is_member = true;
            continue;
        }
        q[k].room_id = r->room_id;
        q[k].user_id = r->user_id;
        asked[k++] = r;
    }
    queued = chat_member_check_queue(st, q, k);
    for (size_t i = 0; st->redis != NULL && queued == k && i < n; i++) {
        msg_req_t *r = reqs[i];
        if (r->err != CHAT_OK || r->stored || r->client_msg_id == NULL ||
            chat_window_queue_idem(st->redis, r->room_id, r->user_id, r->client_msg_id) !=
                CHAT_OK) {
            continue;
        }
        resends[n_resends++] = r;
    }
    chat_member_check_collect(st, q, queued);
    for (size_t i = 0; i < n_resends; i++) {
        replies[i] = chat_redis_next_reply(st->redis);
    }
    chat_member_check_resolve(st, q, k);
    for (size_t i = 0; i < k; i++) {
        asked[i]->err = q[i].err;
        asked[i]->is_member = q[i].is_member;
        if (q[i].err == CHAT_OK && !q[i].is_member) {
            /* a refusal only: whether a private room exists is not told to outsiders */
            chat_room_t room = {0};
            chat_err_t rc = chat_room_load(st, asked[i]->room_id, &room);
            asked[i]->room_hidden = rc == CHAT_ERR_NOT_FOUND || (rc == CHAT_OK && room.is_private);
            chat_room_clear(&room);
        }
    }
    for (size_t i = 0; i < n_resends; i++) {
        if (resends[i]->err == CHAT_OK && resends[i]->is_member) {
            append__take_resend(resends[i], replies[i]);
        }
    }

cleanup:
    for (size_t i = 0; replies != NULL && i < n_resends; i++) {
        if (replies[i] != NULL) {
            freeReplyObject(replies[i]);
        }
    }
    free(q);
    free(asked);
    free(resends);
    free(replies);
}

/* Step 2b: one insert_many for every member's message. */
static void append__store(gw_store_worker_t *w, const chat_store_t *st, msg_req_t **reqs, size_t n)
{
    chat_append_t *items = calloc(n + 1, sizeof(*items));
    chat_message_t *ins = calloc(n + 1, sizeof(*ins));
    msg_req_t **which = calloc(n + 1, sizeof(*which));
    chat_head_hints_t hints;
    size_t k = 0;

    if (items == NULL || ins == NULL || which == NULL) {
        for (size_t i = 0; i < n; i++) {
            reqs[i]->err = reqs[i]->stored ? CHAT_OK : CHAT_ERR_NOMEM;
        }
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        msg_req_t *r = reqs[i];
        int64_t *mine = NULL;
        if (r->err != CHAT_OK || r->stored || !r->is_member) {
            continue;
        }
        snprintf(ins[k].room_id, sizeof(ins[k].room_id), "%s", r->room_id);
        snprintf(ins[k].user_id, sizeof(ins[k].user_id), "%s", r->user_id);
        ins[k].username = r->username;
        ins[k].content = r->content;
        ins[k].client_msg_id = r->client_msg_id;
        ins[k].type = CHAT_MSG_TEXT;
        items[k].in = &ins[k];
        /* Start from the newest seq anyone here has seen: with writers on several
         * gateways the worker's own hint is stale, and every stale try is a refused
         * insert. Both are stored seqs, so the hint never runs ahead of the collection. */
        mine = gw_store_worker_seq_hint(w, r->room_id);
        items[k].hint = mine != NULL && *mine > r->seen_seq ? *mine : r->seen_seq;
        which[k++] = r;
    }
    hints = chat_history_hints(st);
    /* room_heads is written behind (a second late) while Redis shares every writer's head;
     * without Redis it is all the other writers have, so it is raised with each batch */
    if (k > 0 &&
        chat_messages_append_many(gw_store_worker_db(w), items, k, st->redis == NULL,
                                  st->redis != NULL ? &hints : NULL) != CHAT_OK) {
        for (size_t i = 0; i < k; i++) {
            items[i].err = CHAT_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < k; i++) {
        msg_req_t *r = which[i];
        json_t *j = NULL;
        r->err = items[i].err;
        if (r->err != CHAT_OK) {
            chat_message_clear(&items[i].out);
            continue;
        }
        r->stored = true;
        r->duplicate = items[i].duplicate;
        r->seq = items[i].out.seq;
        if (!r->duplicate) {
            int64_t *mine = gw_store_worker_seq_hint(w, r->room_id);
            if (mine != NULL && r->seq > *mine) {
                *mine = r->seq;
            }
            gw_store_worker_note_head(w, r->room_id, r->seq);
        }
        j = chat_message_to_json(&items[i].out);
        r->json = j != NULL ? chat_json_dumps(j) : NULL;
        r->json_len = r->json != NULL ? strlen(r->json) : 0;
        if (r->json != NULL && j != NULL) {
            r->ack_frame = append__ack_frame(r, j);
            r->msg_frame = gw_frame_new(r->json, r->json_len);
        }
        if (r->ack_frame == NULL || r->msg_frame == NULL) {
            r->err = CHAT_ERR_NOMEM; /* stored, but no ack: the client's resend gets it */
        }
        json_decref(j);
        chat_message_clear(&items[i].out);
    }

cleanup:
    free(items);
    free(ins);
    free(which);
}

static int append__by_room_seq(const void *a, const void *b)
{
    const msg_req_t *x = *(msg_req_t *const *)a;
    const msg_req_t *y = *(msg_req_t *const *)b;
    int c = strcmp(x->room_id, y->room_id);

    if (c != 0) {
        return c;
    }
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Step 3: make every stored message visible (window + PUBLISH), one pipelined round trip
 * for all rooms of the batch. Duplicates go in too: their first writer may have died
 * before committing them (the window keeps one copy per seq; subscribers drop repeats). */
static void append__commit(const chat_store_t *st, msg_req_t **reqs, size_t n)
{
    msg_req_t **todo = calloc(n + 1, sizeof(*todo));
    chat_history_commit_t *rooms = calloc(n + 1, sizeof(*rooms));
    int64_t *seqs = calloc(n + 1, sizeof(*seqs));
    const char **jsons = calloc(n + 1, sizeof(*jsons));
    size_t *lens = calloc(n + 1, sizeof(*lens));
    char(*idems)[CHAT_KEY_LEN] = calloc(n + 1, sizeof(*idems));
    const char **idem_ptrs = calloc(n + 1, sizeof(*idem_ptrs));
    size_t k = 0;
    size_t n_rooms = 0;

    if (todo == NULL || rooms == NULL || seqs == NULL || jsons == NULL || lens == NULL ||
        idems == NULL || idem_ptrs == NULL) {
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if (reqs[i]->err == CHAT_OK && reqs[i]->stored && !reqs[i]->committed) {
            todo[k++] = reqs[i];
        }
    }
    qsort(todo, k, sizeof(*todo), append__by_room_seq);
    for (size_t i = 0; i < k; i++) {
        seqs[i] = todo[i]->seq;
        jsons[i] = todo[i]->json;
        lens[i] = todo[i]->json_len;
        if (todo[i]->client_msg_id != NULL &&
            chat_window_idem_key(todo[i]->user_id, todo[i]->client_msg_id, idems[i],
                                 sizeof(idems[i]))) {
            idem_ptrs[i] = idems[i];
        }
        if (i > 0 && strcmp(todo[i]->room_id, todo[i - 1]->room_id) == 0) {
            rooms[n_rooms - 1].items.n++; /* the window keeps one copy of a repeated seq */
            continue;
        }
        rooms[n_rooms].room_id = todo[i]->room_id;
        rooms[n_rooms].items.seqs = &seqs[i];
        rooms[n_rooms].items.jsons = &jsons[i];
        rooms[n_rooms].items.lens = &lens[i];
        rooms[n_rooms].items.idems = &idem_ptrs[i];
        rooms[n_rooms].items.n = 1;
        n_rooms++;
    }
    chat_history_commit(st, rooms, n_rooms, true, STORE__COMMIT_WAIT_MS);
    for (size_t i = 0, r = 0; i < k; i++) {
        while (r + 1 < n_rooms && strcmp(rooms[r].room_id, todo[i]->room_id) != 0) {
            r++;
        }
        todo[i]->committed = n_rooms > 0 && rooms[r].result == CHAT_OK;
    }

cleanup:
    free(todo);
    free(rooms);
    free(seqs);
    free(jsons);
    free(lens);
    free(idems);
    free(idem_ptrs);
}

void gw_message_store_run_batch(gw_job_t **jobs, size_t n, gw_store_worker_t *w)
{
    chat_store_t local = *gw_store_worker_store(w);
    const chat_store_t *st = &local;
    msg_req_t **reqs = (msg_req_t **)jobs;
    gw_metrics_t *m = n > 0 ? reqs[0]->gw->metrics : NULL;
    int64_t t0 = chat_clock_monotonic_us(); /* microseconds: the phase histograms */
    int64_t t1;
    int64_t t2;
    int64_t t3;
    size_t shed = 0;

    if (n > 0 && !atomic_load(&reqs[0]->gw->redis_up)) {
        local.redis = NULL; /* the loop sees Redis down: do not wait on its timeouts */
    }
    for (size_t i = 0; i < n; i++) {
        msg_req_t *r = reqs[i];
        chat_hist_observe(&m->phase_seconds[GW_PHASE_QUEUED], (double)(t0 - r->queued_us) / 1e6);
        if (gw_msg_decide_shed(r->stored, r->queued_ms, t0 / 1000)) {
            /* shed load: the sender has most likely given up and resent this already */
            r->err = CHAT_ERR_UNAVAILABLE;
            shed++;
        }
    }
    append__check_members(st, reqs, n);
    t1 = chat_clock_monotonic_us();
    append__store(w, st, reqs, n);
    t2 = chat_clock_monotonic_us();
    append__commit(st, reqs, n);
    t3 = chat_clock_monotonic_us();
    for (size_t i = 0; i < n; i++) {
        reqs[i]->ran_us = t3;
    }
    if (n > 0) { /* per batch: one round trip (or insert_many) serves all its messages */
        chat_hist_observe(&m->store_seconds, (double)(t2 - t1) / 1e6);
        chat_hist_observe(&m->phase_seconds[GW_PHASE_MEMBERS], (double)(t1 - t0) / 1e6);
        chat_hist_observe(&m->phase_seconds[GW_PHASE_INSERT], (double)(t2 - t1) / 1e6);
        chat_hist_observe(&m->phase_seconds[GW_PHASE_COMMIT], (double)(t3 - t2) / 1e6);
    }
    if (t3 - t0 >= STORE__SLOW_BATCH_MS * 1000 || shed > 0) {
        char b[5][24];
        snprintf(b[0], sizeof(b[0]), "%zu", n);
        snprintf(b[1], sizeof(b[1]), "%lld", (long long)(t1 - t0) / 1000);
        snprintf(b[2], sizeof(b[2]), "%lld", (long long)(t2 - t1) / 1000);
        snprintf(b[3], sizeof(b[3]), "%lld", (long long)(t3 - t2) / 1000);
        snprintf(b[4], sizeof(b[4]), "%zu", shed);
        chat_log_warn("slow write batch", "messages", b[0], "members_ms", b[1], "store_ms", b[2],
                      "commit_ms", b[3], "shed", b[4]);
    }
}

void gw_message_store_run(gw_job_t *job, gw_store_worker_t *w)
{
    gw_message_store_run_batch(&job, 1, w);
}
