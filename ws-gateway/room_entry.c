/*
 * room_entry.c - a subscription as the room registry lists it (see room_registry.h):
 * creating and freeing entries, attaching them to rooms and detaching them, their state
 * and delivered seq, and what the rest of the gateway may read of a room.
 *
 * Threads: loop thread only. Relies on: room_registry_internal.h (the registry's types),
 * pubsub.h (a new room's channel is wanted), deadline_set.h (empty rooms linger).
 */
#include <stdio.h>
#include <stdlib.h>

#include "chat/clock.h"
#include "chat/grow.h"
#include "pubsub.h"
#include "room_registry_internal.h"

gw_room_entry_t *gw_registry_entry_create(gw_session_t *session, gw_sub_t *owner)
{
    gw_room_entry_t *e = calloc(1, sizeof(*e));

    if (e != NULL) {
        e->owner = owner;
        e->session = session;
        e->state = GW_SUB_PENDING;
    }
    return e;
}

void gw_registry_entry_destroy(gw_registry_t *reg, gw_room_entry_t *e)
{
    if (e != NULL) {
        gw_registry_detach(reg, e);
        free(e);
    }
}

int gw_registry_attach(gw_registry_t *reg, gw_room_entry_t *e, const char *room_id)
{
    gw_room_t *room = chat_hmap_get(reg->rooms, room_id);

    if (room == NULL) {
        room = calloc(1, sizeof(*room));
        if (room == NULL) {
            return -1;
        }
        snprintf(room->id, sizeof(room->id), "%s", room_id);
        gw_reorder_init(&room->order, GW_REGISTRY_BUFFER_MAX);
        if (chat_hmap_put(reg->rooms, room->id, room) != 0) {
            free(room);
            return -1;
        }
        gw_pubsub_want_room(reg->gw->pubsub, room->id, true);
    }
    {
        gw_room_entry_t **entries =
            chat_grow(room->entries, room->n_entries, &room->cap_entries, sizeof(*entries), 4);
        if (entries == NULL) {
            return -1;
        }
        room->entries = entries;
    }
    gw_deadline_cancel(reg->lingering, room->id);
    e->room = room;
    e->room_index = room->n_entries;
    room->entries[room->n_entries++] = e;
    return 0;
}

void gw_registry_detach(gw_registry_t *reg, gw_room_entry_t *e)
{
    gw_room_t *room = e->room;
    uint32_t i;

    if (room == NULL) {
        return;
    }
    i = e->room_index;
    room->entries[i] = room->entries[--room->n_entries];
    room->entries[i]->room_index = i;
    e->room = NULL;
    if (room->n_entries == 0 && !gw_deadline_has(reg->lingering, room->id)) {
        gw_deadline_schedule(reg->lingering, room->id, room,
                             chat_clock_monotonic_ms() + GW_REGISTRY_LINGER_MS);
    }
}

gw_room_t *gw_registry_entry_room(const gw_room_entry_t *e)
{
    return e->room;
}

gw_sub_state_t gw_registry_entry_state(const gw_room_entry_t *e)
{
    return e->state;
}

void gw_registry_entry_set_state(gw_registry_t *reg, gw_room_entry_t *e, gw_sub_state_t state)
{
    if (state == GW_SUB_LIVE && e->state != GW_SUB_LIVE) {
        e->live_mark = ++reg->gw->next_live_mark; /* member audits read after this */
    }
    e->state = state;
}

int64_t gw_registry_entry_delivered(const gw_room_entry_t *e)
{
    return e->delivered;
}

void gw_registry_entry_set_delivered(gw_room_entry_t *e, int64_t seq)
{
    e->delivered = seq;
}

/* ------------------------------------------------------------------ rooms */

const char *gw_registry_room_id(const gw_room_t *room)
{
    return room->id;
}

bool gw_registry_room_last(const gw_room_t *room, int64_t *last)
{
    *last = room->last;
    return room->seq_known;
}

uint32_t gw_registry_room_watchers(const gw_room_t *room)
{
    return room->n_entries;
}

gw_sub_t *gw_registry_room_sub(const gw_room_t *room, uint32_t i)
{
    return room->entries[i]->owner;
}
