/*
 * room_registry.c - local rooms, in-order exactly-once delivery, gap backfill.
 *
 * Threads: loop thread only. Relies on: reorder_buffer.h and recent_frames.h (the pure
 * ordering state of a room), deadline_set.h (gap and linger timers), room_backfill.h
 * (gap backfill jobs), pubsub.h (channel interest), session.h (queueing frames). What
 * the layers above must hear goes through the events table main.c registers.
 */
#include "room_registry.h"

#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/log.h"
#include "chat/model.h"
#include "channel_event.h"
#include "deadline_set.h"
#include "distinct_ids.h"
#include "gateway_metrics.h"
#include "pubsub.h"
#include "room_backfill.h"
#include "room_registry_internal.h"
#include "session.h"

#define REGISTRY__TICK_MS 50
#define REGISTRY__PRESENCE_MAX_WATCHERS 256

/* ------------------------------------------------------------------ rooms */

static void registry__room_free(gw_registry_t *reg, gw_room_t *room)
{
    gw_reorder_clear(&room->order);
    gw_recent_clear(&room->recent, &reg->recent_budget);
    free(room->entries);
    free(room);
}

size_t gw_registry_live_watchers(const gw_room_t *room, char (*out)[CHAT_ID_LEN], bool *all_live)
{
    gw_distinct_t users;

    *all_live = true;
    gw_distinct_init(&users, out, room->n_entries);
    for (uint32_t i = 0; i < room->n_entries; i++) {
        const gw_room_entry_t *e = room->entries[i];
        if (e->state != GW_SUB_LIVE) {
            *all_live = false; /* its own membership check is still ahead or in flight */
            continue;
        }
        gw_distinct_add(&users, gw_session_user_id(e->session));
    }
    return gw_distinct_done(&users);
}

uint64_t gw_registry_live_mark(const gw_registry_t *reg)
{
    return reg->gw->next_live_mark;
}

size_t gw_registry_room_count(const gw_registry_t *reg)
{
    return chat_hmap_size(reg->rooms);
}

size_t gw_registry_cached_bytes(const gw_registry_t *reg)
{
    return reg->recent_budget.used;
}

void gw_registry_each_room(gw_registry_t *reg, void (*fn)(gw_room_t *room, void *arg), void *arg)
{
    chat_hmap_iter_t it;
    void *v;

    chat_hmap_iter_init(&it, reg->rooms);
    while (chat_hmap_next(&it, NULL, &v)) {
        fn(v, arg);
    }
}

gw_room_t *gw_registry_find(gw_registry_t *reg, const char *room_id)
{
    return chat_hmap_get(reg->rooms, room_id);
}

void gw_registry_gap_clear(gw_registry_t *reg, gw_room_t *room)
{
    gw_deadline_cancel(reg->gaps, room->id);
}

void gw_registry_gap_schedule(gw_registry_t *reg, gw_room_t *room, int64_t delay_ms)
{
    gw_deadline_schedule(reg->gaps, room->id, room, chat_clock_monotonic_ms() + delay_ms);
}

int64_t gw_registry_seen_seq(gw_registry_t *reg, const char *room_id)
{
    gw_room_t *room = chat_hmap_get(reg->rooms, room_id);

    if (room == NULL || !room->seq_known) {
        return 0;
    }
    return gw_reorder_highest(&room->order, room->last);
}

bool gw_registry_channel_ready(gw_registry_t *reg, const gw_room_t *room)
{
    return gw_pubsub_room_active(reg->gw->pubsub, room->id) || !gw_pubsub_up(reg->gw->pubsub);
}

/* ------------------------------------------------------------------ ordering */

gw_frame_t *gw_registry_recent(const gw_room_t *room, int64_t seq)
{
    if (room == NULL || !room->seq_known) {
        return NULL;
    }
    return gw_recent_get(&room->recent, room->last, seq);
}

typedef struct registry__ctx {
    gw_registry_t *reg;
    gw_room_t *room;
} registry__ctx_t;

/* gw_reorder_deliver_fn: seq is the room's next; its live subscribers get it. */
static void registry__deliver(void *arg, int64_t seq, gw_frame_t *frame)
{
    registry__ctx_t *c = arg;
    gw_room_t *room = c->room;
    gw_metrics_t *m = c->reg->gw->metrics;
    int64_t t0 = room->n_entries > 0 ? chat_clock_monotonic_us() : 0;

    for (uint32_t i = 0; i < room->n_entries; i++) {
        gw_room_entry_t *e = room->entries[i];
        if (e->state == GW_SUB_LIVE && seq > e->delivered) {
            e->delivered = seq;
            if (gw_session_send(e->session, frame)) {
                chat_counter_add(&m->deliveries, 1);
            }
        }
    }
    if (t0 != 0) {
        chat_hist_observe(&m->fanout_seconds, (double)(chat_clock_monotonic_us() - t0) / 1e6);
    }
    gw_recent_put(&room->recent, c->reg->gw->lim.room_cache, seq, frame, &c->reg->recent_budget);
}

/* A gap still open gets a backfill after lim.gap_wait_ms unless one is due already. */
static void registry__update_gap(gw_registry_t *reg, gw_room_t *room)
{
    if (!gw_reorder_waiting(&room->order)) {
        gw_registry_gap_clear(reg, room);
    } else if (!gw_deadline_has(reg->gaps, room->id)) {
        gw_registry_gap_schedule(reg, room, reg->gw->lim.gap_wait_ms);
    }
}

void gw_registry_offer_room(gw_registry_t *reg, gw_room_t *room, int64_t seq, gw_frame_t *frame)
{
    registry__ctx_t c = {reg, room};

    if (!room->seq_known) {
        gw_reorder_insert(&room->order, seq, frame); /* until the first subscriber's read */
        return;
    }
    if (gw_reorder_offer(&room->order, &room->last, seq, frame, registry__deliver, &c) !=
        GW_REORDER_DUPLICATE) {
        registry__update_gap(reg, room);
    }
}

void gw_registry_offer(gw_registry_t *reg, const char *room_id, int64_t seq, gw_frame_t *frame)
{
    gw_room_t *room = chat_hmap_get(reg->rooms, room_id);

    if (room != NULL) {
        gw_registry_offer_room(reg, room, seq, frame);
    }
}

void gw_registry_set_initial_seq(gw_registry_t *reg, gw_room_t *room, int64_t last)
{
    registry__ctx_t c = {reg, room};

    if (room->seq_known) {
        return;
    }
    room->seq_known = true;
    room->last = last;
    gw_reorder_drain(&room->order, &room->last, registry__deliver, &c);
    registry__update_gap(reg, room);
}

/* ------------------------------------------------------------------ events */

void gw_registry_deliver_event(gw_registry_t *reg, const char *room_id, gw_frame_t *frame,
                               const char *exclude_user)
{
    gw_room_t *room = chat_hmap_get(reg->rooms, room_id);

    if (room == NULL) {
        return;
    }
    for (uint32_t i = 0; i < room->n_entries; i++) {
        gw_room_entry_t *e = room->entries[i];
        if (e->state == GW_SUB_LIVE &&
            (exclude_user == NULL || strcmp(gw_session_user_id(e->session), exclude_user) != 0)) {
            gw_session_send(e->session, frame);
        }
    }
}

void gw_registry_deliver_presence(gw_registry_t *reg, const char *room_id, gw_frame_t *frame,
                                  const char *user_id, bool online)
{
    gw_room_t *room = chat_hmap_get(reg->rooms, room_id);

    /* Presence in very large rooms would be O(members^2) frames: clients read it from
     * the members list there instead. */
    if (room == NULL || room->n_entries > REGISTRY__PRESENCE_MAX_WATCHERS) {
        return;
    }
    for (uint32_t i = 0; i < room->n_entries; i++) {
        gw_room_entry_t *e = room->entries[i];
        if (e->state == GW_SUB_PENDING) {
            continue;
        }
        if (gw_session_presence_changed(e->session, user_id, online)) {
            gw_session_send(e->session, frame);
        }
    }
}

void gw_registry_remove_user(gw_registry_t *reg, const char *room_id, const char *user_id)
{
    gw_room_t *room = chat_hmap_get(reg->rooms, room_id);

    if (room == NULL) {
        return;
    }
    /* backwards: dropping a sub moves the last one into its slot */
    for (uint32_t i = room->n_entries; i-- > 0;) {
        gw_room_entry_t *e = room->entries[i];
        if (strcmp(gw_session_user_id(e->session), user_id) != 0) {
            continue;
        }
        if (e->state == GW_SUB_LIVE) {
            reg->events.sub_removed(e->session, e->owner); /* it had the member_removed frame */
        } else {
            /* still being set up, maybe by a join after this removal: check it again
             * (it goes live if the user is a member now, else it is refused) */
            reg->events.sub_recheck(e->session, e->owner);
        }
    }
}

/* sub was LIVE before a membership read that started at live_before found user_id out */
static bool registry__taken(const gw_room_entry_t *e, const char *user_id, uint64_t live_before)
{
    return e->state == GW_SUB_LIVE && e->live_mark <= live_before &&
        strcmp(gw_session_user_id(e->session), user_id) == 0;
}

size_t gw_registry_take_away(gw_registry_t *reg, const char *room_id, const char *user_id,
                             uint64_t live_before)
{
    gw_room_t *room = chat_hmap_get(reg->rooms, room_id);
    size_t n = 0;
    json_t *ev;
    gw_frame_t *f;

    for (uint32_t i = 0; room != NULL && i < room->n_entries; i++) {
        n += registry__taken(room->entries[i], user_id, live_before);
    }
    if (n == 0) {
        return 0;
    }
    ev = chat_member_event_to_json(false, room_id, user_id);
    f = ev != NULL ? gw_frame_from_json(ev) : NULL;
    json_decref(ev);
    if (f != NULL) {
        gw_registry_deliver_event(reg, room_id, f, NULL);
        gw_frame_unref(f);
    }
    /* backwards: dropping a sub moves the last one into its slot */
    for (uint32_t i = room->n_entries; i-- > 0;) {
        if (registry__taken(room->entries[i], user_id, live_before)) {
            reg->events.sub_removed(room->entries[i]->session, room->entries[i]->owner);
        }
    }
    chat_log_info("membership re-checked: room taken away", "gateway", reg->gw->cfg.gateway_id,
                  "room", room_id, "user", user_id);
    return n;
}

void gw_registry_on_channel_ready(gw_registry_t *reg, const char *room_id)
{
    gw_room_t *room = chat_hmap_get(reg->rooms, room_id);

    if (room == NULL) {
        return;
    }
    /* whatever was published while the channel was not subscribed is in MongoDB */
    if (room->seq_known) {
        gw_backfill_start(reg->gw, room);
    }
    reg->events.channel_ready(reg->gw, room);
}

void gw_registry_on_channel_message(gw_registry_t *reg, const char *room_id, const char *payload,
                                    size_t len)
{
    gw_chan_event_t ev;
    gw_frame_t *frame = NULL;

    if (chat_hmap_get(reg->rooms, room_id) == NULL) {
        return; /* nobody here watches it (an UNSUBSCRIBE is on its way) */
    }
    if (gw_chan_event_parse(payload, len, &ev) != 0) {
        chat_log_warn("unparseable payload on room channel", "room", room_id);
        return;
    }
    frame = gw_frame_new(payload, len);
    if (frame == NULL) {
        goto cleanup;
    }
    if (ev.kind == GW_CHAN_MESSAGE) {
        if (ev.has_stored_ms) {
            chat_hist_observe(&reg->gw->metrics->delivery_seconds,
                              (double)(chat_clock_now_ms() - ev.stored_ms) / 1000.0);
        }
        if (ev.has_seq) {
            gw_registry_offer(reg, room_id, ev.seq, frame);
        }
    } else if (ev.kind == GW_CHAN_TYPING) {
        gw_registry_deliver_event(reg, room_id, frame, ev.user_id);
    } else if (ev.kind == GW_CHAN_PRESENCE && ev.user_id != NULL && ev.status != NULL) {
        reg->events.presence(reg->gw, room_id, ev.user_id, gw_chan_event_online(&ev), frame);
    } else if (ev.kind == GW_CHAN_MEMBER_REMOVED || ev.kind == GW_CHAN_MEMBER_ADDED) {
        gw_registry_deliver_event(reg, room_id, frame, NULL);
        if (ev.kind == GW_CHAN_MEMBER_REMOVED && ev.user_id != NULL) {
            gw_registry_remove_user(reg, room_id, ev.user_id);
        }
    }

cleanup:
    gw_frame_unref(frame);
    gw_chan_event_clear(&ev);
}

/* ------------------------------------------------------------------ timer */

static void registry__on_tick(uv_timer_t *t)
{
    gw_registry_t *reg = t->data;
    int64_t now = chat_clock_monotonic_ms();
    void **due;
    size_t n = 0;

    reg->events.tick(reg->gw);
    /* collect first: starting a backfill edits the gap set */
    due = gw_deadline_due(reg->gaps, now, &n);
    for (size_t i = 0; i < n; i++) {
        gw_backfill_start(reg->gw, due[i]);
    }
    free(due);
    if (now - reg->last_linger_check_ms < 1000) {
        return;
    }
    reg->last_linger_check_ms = now;
    due = gw_deadline_due(reg->lingering, now, &n);
    for (size_t i = 0; i < n; i++) {
        gw_room_t *room = due[i];
        if (room->n_entries == 0 && !room->backfill_in_flight) {
            gw_deadline_cancel(reg->lingering, room->id);
            gw_registry_gap_clear(reg, room);
            gw_pubsub_want_room(reg->gw->pubsub, room->id, false);
            chat_hmap_remove(reg->rooms, room->id);
            registry__room_free(reg, room);
        }
    }
    free(due);
}

void gw_registry_set_events(gw_registry_t *reg, const gw_registry_events_t *events)
{
    if (reg != NULL && events != NULL) {
        reg->events = *events;
    }
}

gw_registry_t *gw_registry_create(gw_t *gw)
{
    gw_registry_t *reg = calloc(1, sizeof(*reg));

    if (reg == NULL) {
        return NULL;
    }
    reg->gw = gw;
    reg->recent_budget.max = gw->lim.room_cache_bytes;
    reg->rooms = chat_hmap_create(256);
    reg->gaps = gw_deadline_create(16);
    reg->lingering = gw_deadline_create(16);
    if (reg->rooms == NULL || reg->gaps == NULL || reg->lingering == NULL) {
        chat_hmap_destroy(reg->rooms);
        gw_deadline_destroy(reg->gaps);
        gw_deadline_destroy(reg->lingering);
        free(reg);
        return NULL;
    }
    uv_timer_init(&gw->loop, &reg->timer);
    reg->timer.data = reg;
    uv_timer_start(&reg->timer, registry__on_tick, REGISTRY__TICK_MS, REGISTRY__TICK_MS);
    return reg;
}

static void registry__on_closed(uv_handle_t *h)
{
    free(h->data);
}

void gw_registry_destroy(gw_registry_t *reg)
{
    chat_hmap_iter_t it;
    void *v;

    if (reg == NULL) {
        return;
    }
    chat_hmap_iter_init(&it, reg->rooms);
    while (chat_hmap_next(&it, NULL, &v)) {
        registry__room_free(reg, v);
    }
    chat_hmap_destroy(reg->rooms);
    gw_deadline_destroy(reg->gaps);
    gw_deadline_destroy(reg->lingering);
    uv_timer_stop(&reg->timer);
    uv_close((uv_handle_t *)&reg->timer, registry__on_closed);
}
