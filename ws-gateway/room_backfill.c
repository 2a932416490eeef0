/*
 * room_backfill.c - gap backfill jobs of the room registry (see the header).
 *
 * Threads: loop thread, except backfill__run (a reader worker: the store and the job
 * only). Relies on: store_worker.h (reader jobs), history_page.h, member_audit.h (the
 * watchers' membership), room_registry_internal.h (offering the page to the room).
 */
#include "room_backfill.h"

#include <stdlib.h>

#include "chat/log.h"
#include "gateway_metrics.h"
#include "history_page.h"
#include "chat/member_cache.h"
#include "room_registry_internal.h"
#include "store_worker.h"

#define BACKFILL__RETRY_MS 1000

typedef struct backfill_job {
    gw_job_t job;
    char room_id[CHAT_ID_LEN];
    int64_t after;
    gw_history_page_t page;
    /* the room's watchers, checked again before anything is delivered to them (an event
     * lost with the connection that the gap comes from may have been a removal) */
    char (*users)[CHAT_ID_LEN];
    bool *gone;
    size_t n_users;
    uint64_t live_before; /* gw_registry_live_mark when the users were listed */
} backfill_job_t;

static void backfill__free(backfill_job_t *b)
{
    gw_history_page_clear(&b->page);
    free(b->users);
    free(b->gone);
    free(b);
}

void gw_backfill_check_users(const chat_store_t *st, const char *room_id,
                             const char (*users)[CHAT_ID_LEN], size_t n, bool *gone)
{
    chat_member_query_t *q = calloc(n + 1, sizeof(*q));

    for (size_t i = 0; i < n; i++) {
        gone[i] = false;
    }
    if (q == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        q[i].room_id = room_id;
        q[i].user_id = users[i];
    }
    chat_member_check_many(st, q, n);
    for (size_t i = 0; i < n; i++) {
        gone[i] = q[i].err == CHAT_OK && !q[i].is_member;
    }
    free(q);
}

static void backfill__run(gw_job_t *job, gw_store_worker_t *w)
{
    backfill_job_t *b = (backfill_job_t *)job;

    gw_backfill_check_users(gw_store_worker_store(w), b->room_id,
                            (const char(*)[CHAT_ID_LEN])b->users, b->n_users, b->gone);
    gw_history_page_fetch(gw_store_worker_store(w), b->room_id, b->after, &b->page);
}

static void backfill__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    backfill_job_t *b = (backfill_job_t *)job;
    gw_registry_t *reg = gw->registry;
    gw_room_t *room =
        (!cancelled && !gw->stopping && reg != NULL) ? gw_registry_find(reg, b->room_id) : NULL;

    if (room == NULL) {
        goto cleanup;
    }
    room->backfill_in_flight = false;
    for (size_t i = 0; i < b->n_users; i++) {
        if (b->gone[i]) {
            gw_registry_take_away(reg, b->room_id, b->users[i], b->live_before);
        }
    }
    if (b->page.err != CHAT_OK) {
        chat_log_warn("gap backfill failed", "room", b->room_id, "error",
                      chat_strerror(b->page.err));
        gw_registry_gap_clear(reg, room);
        gw_registry_gap_schedule(reg, room, BACKFILL__RETRY_MS);
        goto cleanup;
    }
    for (size_t i = 0; i < b->page.n; i++) {
        gw_registry_offer_room(reg, room, b->page.seqs[i], b->page.frames[i]);
    }
    /* Page on until the room has everything the store had when this page was read. */
    if (gw_reorder_page_more(room->last, b->page.n, b->page.head) || room->backfill_again) {
        room->backfill_again = false;
        gw_backfill_start(gw, room);
    } else {
        room->order.overflow = false;
        gw_registry_gap_clear(reg, room);
        if (room->order.n > 0) {
            /* still a hole (its message was not visible yet): look again shortly */
            gw_registry_gap_schedule(reg, room, gw->lim.gap_wait_ms);
        }
    }

cleanup:
    backfill__free(b);
}

void gw_backfill_start(gw_t *gw, gw_room_t *room)
{
    gw_registry_t *reg = gw->registry;
    backfill_job_t *b;
    bool all_live;

    if (!room->seq_known || gw->stopping) {
        return;
    }
    if (room->backfill_in_flight) {
        room->backfill_again = true;
        gw_registry_gap_clear(reg, room);
        return;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return;
    }
    b->job.run = backfill__run;
    b->job.done = backfill__done;
    snprintf(b->room_id, sizeof(b->room_id), "%s", room->id);
    b->users = calloc(room->n_entries + 1, sizeof(*b->users));
    b->gone = calloc(room->n_entries + 1, sizeof(*b->gone));
    if (b->users == NULL || b->gone == NULL) {
        backfill__free(b);
        return;
    }
    b->n_users = gw_registry_live_watchers(room, b->users, &all_live);
    b->live_before = gw_registry_live_mark(reg);
    b->after = room->last;
    if (gw_store_workers_submit_read(gw->workers, &b->job) != 0) {
        backfill__free(b);
        gw_registry_gap_clear(reg, room);
        gw_registry_gap_schedule(reg, room, BACKFILL__RETRY_MS);
        return;
    }
    room->backfill_in_flight = true;
    chat_counter_add(&gw->metrics->backfills, 1);
    gw_registry_gap_clear(reg, room);
}
