/*
 * held_queue.c - the bounded FIFO of messages waiting for Redis (see the header).
 *
 * Threads: loop thread only.
 */
#include "held_queue.h"

void gw_held_init(gw_held_t *q, size_t max)
{
    q->head = q->tail = NULL;
    q->len = 0;
    q->max = max > 0 ? max : 1;
}

gw_held_link_t *gw_held_pop(gw_held_t *q)
{
    gw_held_link_t *old = q->head;

    if (old == NULL) {
        return NULL;
    }
    q->head = old->next;
    if (q->head == NULL) {
        q->tail = NULL;
    }
    q->len--;
    old->next = NULL;
    return old;
}

gw_held_link_t *gw_held_push(gw_held_t *q, gw_held_link_t *item)
{
    gw_held_link_t *evicted = q->len >= q->max ? gw_held_pop(q) : NULL;

    item->next = NULL;
    if (q->tail != NULL) {
        q->tail->next = item;
    } else {
        q->head = item;
    }
    q->tail = item;
    q->len++;
    return evicted;
}

gw_held_link_t *gw_held_take_all(gw_held_t *q)
{
    gw_held_link_t *list = q->head;

    q->head = q->tail = NULL;
    q->len = 0;
    return list;
}
