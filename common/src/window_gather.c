/*
 * window_gather.c - the newest messages of each room from an unordered read (see
 * window_gather.h): rooms in a dense array found through a map of their ids (hmap.h),
 * each room a min-heap by seq bounded by keep.
 *
 * Threads: the caller's.
 */
#include "chat/window_gather.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/grow.h"
#include "chat/hmap.h"

typedef struct gather__room {
    char id[CHAT_ID_LEN];
    chat_message_t *heap; /* min-heap by seq: heap[0] is the oldest held */
    size_t n;
    size_t cap;
} gather__room_t;

struct chat_window_gather {
    gather__room_t *rooms;
    size_t n_rooms;
    size_t cap_rooms;
    chat_hmap_t *index; /* room id -> its position + 1 (as a pointer) */
    bool closed;        /* only the rooms given at creation */
    size_t keep;
    size_t max_held;
    size_t held;
    size_t taken;
};

/* The room with that id, added when absent (NULL on OOM). */
static gather__room_t *gather__add(chat_window_gather_t *g, const char *id)
{
    uintptr_t at = (uintptr_t)chat_hmap_get(g->index, id);
    gather__room_t *grown;

    if (at != 0) {
        return &g->rooms[at - 1];
    }
    grown = chat_grow(g->rooms, g->n_rooms, &g->cap_rooms, sizeof(*grown), 16);
    if (grown == NULL) {
        return NULL;
    }
    g->rooms = grown;
    memset(&g->rooms[g->n_rooms], 0, sizeof(g->rooms[0]));
    snprintf(g->rooms[g->n_rooms].id, sizeof(g->rooms[0].id), "%s", id);
    if (chat_hmap_put(g->index, g->rooms[g->n_rooms].id, (void *)(uintptr_t)(g->n_rooms + 1)) !=
        0) {
        return NULL;
    }
    return &g->rooms[g->n_rooms++];
}

static gather__room_t *gather__find(const chat_window_gather_t *g, const char *id)
{
    uintptr_t at = (uintptr_t)chat_hmap_get(g->index, id);

    return at != 0 ? &g->rooms[at - 1] : NULL;
}

chat_window_gather_t *chat_window_gather_new(const char *const *only, size_t n_only, size_t keep,
                                             size_t max_held)
{
    chat_window_gather_t *g = calloc(1, sizeof(*g));

    if (g == NULL || (g->index = chat_hmap_create(n_only > 0 ? n_only : 64)) == NULL) {
        free(g);
        return NULL;
    }
    g->keep = keep > 0 ? keep : 1;
    g->max_held = max_held;
    g->closed = only != NULL;
    for (size_t i = 0; g->closed && i < n_only; i++) {
        if (gather__add(g, only[i]) == NULL) {
            chat_window_gather_free(g);
            return NULL;
        }
    }
    return g;
}

static void gather__sift_down(chat_message_t *heap, size_t n, size_t at)
{
    for (;;) {
        size_t least = at;
        size_t left = 2 * at + 1;
        size_t right = left + 1;
        chat_message_t tmp;

        if (left < n && heap[left].seq < heap[least].seq) {
            least = left;
        }
        if (right < n && heap[right].seq < heap[least].seq) {
            least = right;
        }
        if (least == at) {
            return;
        }
        tmp = heap[at];
        heap[at] = heap[least];
        heap[least] = tmp;
        at = least;
    }
}

static void gather__sift_up(chat_message_t *heap, size_t at)
{
    while (at > 0 && heap[(at - 1) / 2].seq > heap[at].seq) {
        chat_message_t tmp = heap[at];
        heap[at] = heap[(at - 1) / 2];
        heap[(at - 1) / 2] = tmp;
        at = (at - 1) / 2;
    }
}

chat_err_t chat_window_gather_take(chat_window_gather_t *g, chat_message_t *msg)
{
    gather__room_t *room;
    chat_message_t *grown;

    g->taken++;
    room = g->closed ? gather__find(g, msg->room_id) : gather__add(g, msg->room_id);
    if (room == NULL) {
        chat_message_clear(msg);
        return g->closed ? CHAT_OK : CHAT_ERR_NOMEM;
    }
    if (room->n == g->keep) { /* full: it replaces the oldest held if it is newer */
        if (msg->seq > room->heap[0].seq) {
            chat_message_clear(&room->heap[0]);
            room->heap[0] = *msg;
            gather__sift_down(room->heap, room->n, 0);
        } else {
            chat_message_clear(msg);
        }
        return CHAT_OK;
    }
    if (g->held >= g->max_held) {
        chat_message_clear(msg);
        return CHAT_ERR_CONFLICT;
    }
    grown = chat_grow(room->heap, room->n, &room->cap, sizeof(*grown), 8);
    if (grown == NULL) {
        chat_message_clear(msg);
        return CHAT_ERR_NOMEM;
    }
    room->heap = grown;
    room->heap[room->n] = *msg; /* moves its strings */
    gather__sift_up(room->heap, room->n++);
    g->held++;
    return CHAT_OK;
}

size_t chat_window_gather_held(const chat_window_gather_t *g)
{
    return g->held;
}

size_t chat_window_gather_taken(const chat_window_gather_t *g)
{
    return g->taken;
}

static int gather__by_seq(const void *a, const void *b)
{
    const chat_message_t *x = a;
    const chat_message_t *y = b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

chat_err_t chat_window_gather_each(chat_window_gather_t *g, chat_window_gather_each_fn fn,
                                   void *arg)
{
    for (size_t i = 0; i < g->n_rooms; i++) {
        gather__room_t *room = &g->rooms[i];
        chat_message_list_t newest = {room->heap, room->n};
        chat_err_t rc;

        if (room->n == 0) {
            continue;
        }
        qsort(room->heap, room->n, sizeof(*room->heap), gather__by_seq);
        rc = fn(room->id, &newest, arg);
        if (rc != CHAT_OK) {
            return rc;
        }
    }
    return CHAT_OK;
}

void chat_window_gather_free(chat_window_gather_t *g)
{
    if (g == NULL) {
        return;
    }
    for (size_t i = 0; i < g->n_rooms; i++) {
        for (size_t m = 0; m < g->rooms[i].n; m++) {
            chat_message_clear(&g->rooms[i].heap[m]);
        }
        free(g->rooms[i].heap);
    }
    free(g->rooms);
    chat_hmap_destroy(g->index);
    free(g);
}
