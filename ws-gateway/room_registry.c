/*
 * room_registry.c - local rooms, in-order exactly-once delivery, gap backfill.
 *
 * Threads: loop thread, except backfill__run and gw_page_fetch (worker threads).
 * Relies on: pubsub.h (channel interest, PUBLISH), session.h (queueing frames),
 * subscription.h (subscribers waiting for their channel), presence_tracker.h.
 */
#include "room_registry.h"

#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/log.h"
#include "presence_tracker.h"
#include "pubsub.h"
#include "session.h"
#include "store_worker.h"
#include "subscription.h"

#define REGISTRY__TICK_MS 50
#define REGISTRY__LINGER_MS 5000
#define REGISTRY__BUFFER_MAX 1024
#define REGISTRY__RETRY_MS 1000
#define REGISTRY__PRESENCE_MAX_WATCHERS 256

struct gw_registry {
    gw_t *gw;
    gw_hmap_t *rooms;      /* room id -> gw_room_t* (owned) */
    gw_hmap_t *gap_rooms;  /* room id -> gw_room_t* with a scheduled backfill */
    gw_hmap_t *empty_rooms; /* room id -> gw_room_t* without subscribers */
    uv_timer_t timer;
    int64_t last_linger_check_ms;
};

typedef struct backfill_job {
    gw_job_t job;
    char room_id[CHAT_ID_LEN];
    int64_t after;
    int limit;
    gw_page_t page;
} backfill_job_t;

static void registry__start_backfill(gw_registry_t *reg, gw_room_t *room);

/* ------------------------------------------------------------------ rooms */

static void registry__room_free(gw_room_t *room)
{
    for (uint32_t i = 0; i < room->n_buf; i++) {
        gw_frame_unref(room->buf[i].frame);
    }
    for (uint32_t i = 0; room->recent != NULL && i < room->recent_cap; i++) {
        gw_frame_unref(room->recent[i]);
    }
    free(room->recent);
    free(room->buf);
    free(room->subs);
    free(room);
}

gw_room_t *gw_registry_find(gw_registry_t *reg, const char *room_id)
{
    return gw_hmap_get(reg->rooms, room_id);
}

static void registry__clear_gap(gw_registry_t *reg, gw_room_t *room)
{
    if (room->gap_deadline_ms != 0) {
        room->gap_deadline_ms = 0;
        gw_hmap_remove(reg->gap_rooms, room->id);
    }
}

static void registry__schedule_gap(gw_registry_t *reg, gw_room_t *room, int64_t delay_ms)
{
    int64_t at = chat_clock_monotonic_ms() + delay_ms;

    if (room->gap_deadline_ms == 0) {
        if (gw_hmap_put(reg->gap_rooms, room->id, room) != 0) {
            return;
        }
        room->gap_deadline_ms = at;
    } else if (at < room->gap_deadline_ms) {
        room->gap_deadline_ms = at;
    }
}

int gw_registry_attach(gw_registry_t *reg, gw_sub_t *sub, const char *room_id)
{
    gw_room_t *room = gw_hmap_get(reg->rooms, room_id);

    if (room == NULL) {
        room = calloc(1, sizeof(*room));
        if (room == NULL) {
            return -1;
        }
        snprintf(room->id, sizeof(room->id), "%s", room_id);
        if (gw_hmap_put(reg->rooms, room->id, room) != 0) {
            free(room);
            return -1;
        }
        gw_pubsub_want_room(reg->gw->pubsub, room->id, true);
    }
    if (room->n_subs == room->cap_subs) {
        uint32_t cap = room->cap_subs ? room->cap_subs * 2 : 4;
        gw_sub_t **subs = realloc(room->subs, cap * sizeof(*subs));
        if (subs == NULL) {
            return -1;
        }
        room->subs = subs;
        room->cap_subs = cap;
    }
    if (room->empty_since_ms != 0) {
        room->empty_since_ms = 0;
        gw_hmap_remove(reg->empty_rooms, room->id);
    }
    sub->room = room;
    sub->room_index = room->n_subs;
    room->subs[room->n_subs++] = sub;
    return 0;
}

void gw_registry_detach(gw_registry_t *reg, gw_sub_t *sub)
{
    gw_room_t *room = sub->room;
    uint32_t i;

    if (room == NULL) {
        return;
    }
    i = sub->room_index;
    room->subs[i] = room->subs[--room->n_subs];
    room->subs[i]->room_index = i;
    sub->room = NULL;
    if (room->n_subs == 0 && room->empty_since_ms == 0) {
        room->empty_since_ms = chat_clock_monotonic_ms();
        if (gw_hmap_put(reg->empty_rooms, room->id, room) != 0) {
            room->empty_since_ms = 0;
        }
    }
}

int64_t gw_registry_seen_seq(gw_registry_t *reg, const char *room_id)
{
    gw_room_t *room = gw_hmap_get(reg->rooms, room_id);

    if (room == NULL || !room->seq_known) {
        return 0;
    }
    return room->n_buf > 0 && room->buf[room->n_buf - 1].seq > room->last
               ? room->buf[room->n_buf - 1].seq
               : room->last;
}

bool gw_registry_channel_ready(gw_registry_t *reg, const gw_room_t *room)
{
    return gw_pubsub_room_active(reg->gw->pubsub, room->id) || !gw_pubsub_up(reg->gw->pubsub);
}

/* ------------------------------------------------------------------ ordering */

/* Keeps frame (seq == last + 1) among the room's recent ones, dropping the oldest. */
static void registry__remember(gw_registry_t *reg, gw_room_t *room, int64_t seq,
                               gw_frame_t *frame)
{
    uint32_t slot;

    if (room->recent == NULL) {
        if (reg->gw->lim.room_cache == 0) {
            return;
        }
        room->recent = calloc(reg->gw->lim.room_cache, sizeof(*room->recent));
        if (room->recent == NULL) {
            return; /* a resume then reads MongoDB, as without the cache */
        }
        room->recent_cap = reg->gw->lim.room_cache;
        room->recent_n = 0;
    }
    slot = (uint32_t)((uint64_t)seq % room->recent_cap);
    gw_frame_unref(room->recent[slot]);
    room->recent[slot] = gw_frame_ref(frame);
    if (room->recent_n < room->recent_cap) {
        room->recent_n++;
    }
}

gw_frame_t *gw_registry_recent(const gw_room_t *room, int64_t seq)
{
    if (room == NULL || room->recent == NULL || !room->seq_known || seq > room->last ||
        seq <= room->last - (int64_t)room->recent_n) {
        return NULL;
    }
    return room->recent[(uint64_t)seq % room->recent_cap];
}

/* Delivers seq == last + 1 to the live subscribers and makes it the room's last. */
static void registry__deliver(gw_registry_t *reg, gw_room_t *room, int64_t seq,
                              gw_frame_t *frame)
{
    for (uint32_t i = 0; i < room->n_subs; i++) {
        gw_sub_t *sub = room->subs[i];
        if (sub->state == GW_SUB_LIVE && seq > sub->delivered) {
            sub->delivered = seq;
            gw_session_send(sub->session, frame);
        }
    }
    registry__remember(reg, room, seq, frame);
    room->last = seq;
}

/* Delivers buffered successors of room->last that are now in order. */
static void registry__drain(gw_registry_t *reg, gw_room_t *room)
{
    uint32_t k = 0;

    while (k < room->n_buf && room->buf[k].seq <= room->last + 1) {
        if (room->buf[k].seq == room->last + 1) {
            registry__deliver(reg, room, room->buf[k].seq, room->buf[k].frame);
        }
        gw_frame_unref(room->buf[k].frame);
        k++;
    }
    if (k > 0) {
        memmove(room->buf, room->buf + k, (room->n_buf - k) * sizeof(*room->buf));
        room->n_buf -= k;
    }
    if (room->n_buf == 0 && !room->overflow) {
        registry__clear_gap(reg, room);
    } else if (room->gap_deadline_ms == 0 && room->seq_known) {
        registry__schedule_gap(reg, room, reg->gw->lim.gap_wait_ms);
    }
}

static void registry__buffer(gw_room_t *room, int64_t seq, gw_frame_t *frame)
{
    uint32_t lo = 0;
    uint32_t hi = room->n_buf;

    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (room->buf[mid].seq < seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < room->n_buf && room->buf[lo].seq == seq) {
        return; /* already waiting */
    }
    if (room->n_buf >= REGISTRY__BUFFER_MAX) {
        room->overflow = true; /* the backfill reads what is dropped here */
        if (lo >= room->n_buf) {
            return;
        }
        gw_frame_unref(room->buf[room->n_buf - 1].frame);
        room->n_buf--;
    }
    if (room->n_buf == room->cap_buf) {
        uint32_t cap = room->cap_buf ? room->cap_buf * 2 : 8;
        gw_buffered_t *b = realloc(room->buf, cap * sizeof(*b));
        if (b == NULL) {
            room->overflow = true;
            return;
        }
        room->buf = b;
        room->cap_buf = cap;
    }
    memmove(room->buf + lo + 1, room->buf + lo, (room->n_buf - lo) * sizeof(*room->buf));
    room->buf[lo].seq = seq;
    room->buf[lo].frame = gw_frame_ref(frame);
    room->n_buf++;
}

static void registry__offer_room(gw_registry_t *reg, gw_room_t *room, int64_t seq,
                                 gw_frame_t *frame)
{
    if (!room->seq_known) {
        registry__buffer(room, seq, frame);
        return;
    }
    if (seq <= room->last) {
        return; /* duplicate: already delivered */
    }
    if (seq == room->last + 1) {
        registry__deliver(reg, room, seq, frame);
        registry__drain(reg, room);
        return;
    }
    registry__buffer(room, seq, frame);
    if (room->gap_deadline_ms == 0) {
        registry__schedule_gap(reg, room, reg->gw->lim.gap_wait_ms);
    }
}

void gw_registry_offer(gw_registry_t *reg, const char *room_id, int64_t seq, gw_frame_t *frame)
{
    gw_room_t *room = gw_hmap_get(reg->rooms, room_id);

    if (room != NULL) {
        registry__offer_room(reg, room, seq, frame);
    }
}

void gw_registry_set_initial_seq(gw_registry_t *reg, gw_room_t *room, int64_t last)
{
    if (room->seq_known) {
        return;
    }
    room->seq_known = true;
    room->last = last;
    registry__drain(reg, room);
}

void gw_registry_publish_message(gw_registry_t *reg, const char *room_id, int64_t seq,
                                 gw_frame_t *frame)
{
    gw_pubsub_publish_room(reg->gw->pubsub, room_id, frame, true);
    /* local watchers get it now; the Redis echo is dropped as a duplicate */
    gw_registry_offer(reg, room_id, seq, frame);
}

/* ------------------------------------------------------------------ backfill */

static void backfill__run(gw_job_t *job, gw_worker_t *w)
{
    backfill_job_t *b = (backfill_job_t *)job;

    gw_page_fetch(gw_worker_db(w), b->room_id, b->after, b->limit, &b->page);
}

static void backfill__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    backfill_job_t *b = (backfill_job_t *)job;
    gw_registry_t *reg = gw->registry;
    gw_room_t *room = (!cancelled && !gw->stopping && reg != NULL)
                          ? gw_hmap_get(reg->rooms, b->room_id)
                          : NULL;

    if (room == NULL) {
        goto cleanup;
    }
    room->backfill_in_flight = false;
    if (b->page.err != CHAT_OK) {
        chat_log_warn("gap backfill failed", "room", b->room_id, "error",
                      chat_strerror(b->page.err));
        registry__clear_gap(reg, room);
        registry__schedule_gap(reg, room, REGISTRY__RETRY_MS);
        goto cleanup;
    }
    for (size_t i = 0; i < b->page.n; i++) {
        registry__offer_room(reg, room, b->page.seqs[i], b->page.frames[i]);
    }
    if (b->page.n >= (size_t)b->limit || room->backfill_again) {
        room->backfill_again = false;
        registry__start_backfill(reg, room);
    } else {
        room->overflow = false;
        registry__clear_gap(reg, room);
        if (room->n_buf > 0) {
            /* still a hole (its message was not visible yet): look again shortly */
            registry__schedule_gap(reg, room, gw->lim.gap_wait_ms);
        }
    }

cleanup:
    gw_page_clear(&b->page);
    free(b);
}

static void registry__start_backfill(gw_registry_t *reg, gw_room_t *room)
{
    backfill_job_t *b;

    if (!room->seq_known || reg->gw->stopping) {
        return;
    }
    if (room->backfill_in_flight) {
        room->backfill_again = true;
        registry__clear_gap(reg, room);
        return;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return;
    }
    b->job.run = backfill__run;
    b->job.done = backfill__done;
    snprintf(b->room_id, sizeof(b->room_id), "%s", room->id);
    b->after = room->last;
    b->limit = reg->gw->lim.backfill_page;
    if (gw_workers_submit_read(reg->gw->workers, &b->job) != 0) {
        free(b);
        registry__clear_gap(reg, room);
        registry__schedule_gap(reg, room, REGISTRY__RETRY_MS);
        return;
    }
    room->backfill_in_flight = true;
    registry__clear_gap(reg, room);
}

/* ------------------------------------------------------------------ events */

void gw_registry_deliver_event(gw_registry_t *reg, const char *room_id, gw_frame_t *frame,
                               const char *exclude_user)
{
    gw_room_t *room = gw_hmap_get(reg->rooms, room_id);

    if (room == NULL) {
        return;
    }
    for (uint32_t i = 0; i < room->n_subs; i++) {
        gw_sub_t *sub = room->subs[i];
        if (sub->state != GW_SUB_LIVE) {
            continue;
        }
        if (exclude_user != NULL && strcmp(sub->session->user_id, exclude_user) == 0) {
            continue;
        }
        gw_session_send(sub->session, frame);
    }
}

void gw_registry_deliver_presence(gw_registry_t *reg, const char *room_id, gw_frame_t *frame,
                                  const char *user_id, bool online)
{
    gw_room_t *room = gw_hmap_get(reg->rooms, room_id);

    /* Presence in very large rooms would be O(members^2) frames: clients read it from
     * the members list there instead. */
    if (room == NULL || room->n_subs > REGISTRY__PRESENCE_MAX_WATCHERS) {
        return;
    }
    for (uint32_t i = 0; i < room->n_subs; i++) {
        gw_sub_t *sub = room->subs[i];
        if (sub->state == GW_SUB_PENDING) {
            continue;
        }
        if (gw_session_presence_changed(sub->session, user_id, online)) {
            gw_session_send(sub->session, frame);
        }
    }
}

void gw_registry_remove_user(gw_registry_t *reg, const char *room_id, const char *user_id)
{
    gw_room_t *room = gw_hmap_get(reg->rooms, room_id);

    if (room == NULL) {
        return;
    }
    /* backwards: dropping a sub moves the last one into its slot */
    for (uint32_t i = room->n_subs; i-- > 0;) {
        gw_sub_t *sub = room->subs[i];
        if (strcmp(sub->session->user_id, user_id) == 0) {
            gw_subscription_drop(sub->session, sub);
        }
    }
}

void gw_registry_on_channel_ready(gw_registry_t *reg, const char *room_id)
{
    gw_room_t *room = gw_hmap_get(reg->rooms, room_id);

    if (room == NULL) {
        return;
    }
    /* whatever was published while the channel was not subscribed is in MongoDB */
    if (room->seq_known) {
        registry__start_backfill(reg, room);
    }
    gw_subscription_on_channel_ready(reg->gw, room);
}

void gw_registry_on_channel_message(gw_registry_t *reg, const char *room_id,
                                    const char *payload, size_t len)
{
    json_error_t jerr;
    json_t *root;
    const char *type;
    gw_frame_t *frame = NULL;

    if (gw_hmap_get(reg->rooms, room_id) == NULL) {
        return; /* nobody here watches it (an UNSUBSCRIBE is on its way) */
    }
    root = json_loadb(payload, len, 0, &jerr);
    if (root == NULL || !json_is_object(root)) {
        chat_log_warn("unparseable payload on room channel", "room", room_id);
        json_decref(root);
        return;
    }
    type = json_string_value(json_object_get(root, "type"));
    frame = gw_frame_new(payload, len);
    if (type == NULL || frame == NULL) {
        goto cleanup;
    }
    if (strcmp(type, "text") == 0 || strcmp(type, "system") == 0) {
        json_t *seq = json_object_get(root, "seq");
        if (json_is_integer(seq)) {
            gw_registry_offer(reg, room_id, json_integer_value(seq), frame);
        }
    } else if (strcmp(type, "typing") == 0) {
        gw_registry_deliver_event(reg, room_id, frame,
                                  json_string_value(json_object_get(root, "user_id")));
    } else if (strcmp(type, "presence") == 0) {
        const char *uid = json_string_value(json_object_get(root, "user_id"));
        const char *status = json_string_value(json_object_get(root, "status"));
        if (uid != NULL && status != NULL) {
            gw_presence_on_event(reg->gw->presence, room_id, uid,
                                 strcmp(status, "online") == 0, frame);
        }
    } else if (strcmp(type, "member_removed") == 0) {
        const char *uid = json_string_value(json_object_get(root, "user_id"));
        gw_registry_deliver_event(reg, room_id, frame, NULL);
        if (uid != NULL) {
            gw_registry_remove_user(reg, room_id, uid);
        }
    } else if (strcmp(type, "member_added") == 0) {
        gw_registry_deliver_event(reg, room_id, frame, NULL);
    }

cleanup:
    gw_frame_unref(frame);
    json_decref(root);
}

/* ------------------------------------------------------------------ timer */

static void registry__on_tick(uv_timer_t *t)
{
    gw_registry_t *reg = t->data;
    int64_t now = chat_clock_monotonic_ms();
    gw_hmap_iter_t it;
    void *v;

    gw_subscription_on_tick(reg->gw);
    if (gw_hmap_size(reg->gap_rooms) > 0) {
        /* collect first: starting a backfill edits gap_rooms */
        size_t n = 0;
        size_t cap = gw_hmap_size(reg->gap_rooms);
        gw_room_t **due = malloc(cap * sizeof(*due));
        if (due != NULL) {
            gw_hmap_iter_init(&it, reg->gap_rooms);
            while (gw_hmap_next(&it, NULL, &v) && n < cap) {
                gw_room_t *room = v;
                if (room->gap_deadline_ms != 0 && room->gap_deadline_ms <= now) {
                    due[n++] = room;
                }
            }
            for (size_t i = 0; i < n; i++) {
                registry__start_backfill(reg, due[i]);
            }
            free(due);
        }
    }
    if (now - reg->last_linger_check_ms < 1000) {
        return;
    }
    reg->last_linger_check_ms = now;
    gw_hmap_iter_init(&it, reg->empty_rooms);
    while (gw_hmap_next(&it, NULL, &v)) {
        gw_room_t *room = v;
        if (room->n_subs == 0 && now - room->empty_since_ms >= REGISTRY__LINGER_MS &&
            !room->backfill_in_flight) {
            gw_hmap_remove(reg->empty_rooms, room->id);
            registry__clear_gap(reg, room);
            gw_pubsub_want_room(reg->gw->pubsub, room->id, false);
            gw_hmap_remove(reg->rooms, room->id);
            registry__room_free(room);
        }
    }
}

gw_registry_t *gw_registry_create(gw_t *gw)
{
    gw_registry_t *reg = calloc(1, sizeof(*reg));

    if (reg == NULL) {
        return NULL;
    }
    reg->gw = gw;
    reg->rooms = gw_hmap_create(256);
    reg->gap_rooms = gw_hmap_create(16);
    reg->empty_rooms = gw_hmap_create(16);
    if (reg->rooms == NULL || reg->gap_rooms == NULL || reg->empty_rooms == NULL) {
        gw_hmap_destroy(reg->rooms);
        gw_hmap_destroy(reg->gap_rooms);
        gw_hmap_destroy(reg->empty_rooms);
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
    gw_hmap_iter_t it;
    void *v;

    if (reg == NULL) {
        return;
    }
    gw_hmap_iter_init(&it, reg->rooms);
    while (gw_hmap_next(&it, NULL, &v)) {
        registry__room_free(v);
    }
    gw_hmap_destroy(reg->rooms);
    gw_hmap_destroy(reg->gap_rooms);
    gw_hmap_destroy(reg->empty_rooms);
    uv_timer_stop(&reg->timer);
    uv_close((uv_handle_t *)&reg->timer, registry__on_closed);
}
