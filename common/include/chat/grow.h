/*
 * grow.h - room for one more item in a growing array: the one "double the capacity"
 * that every append in common/, rest-fcgi/ and ws-gateway/ goes through, and its
 * variant for ring buffers (a session's send queue, a Redis connection's callbacks).
 *
 * Threads: any (no shared state).
 */
#ifndef CHAT_GROW_H
#define CHAT_GROW_H

#include <stddef.h>

/**
 * Room for one more item in an array of size-byte items with n in use and *cap
 * allocated: items itself while n < *cap, else the array doubled (first items when
 * empty) with *cap updated. NULL on OOM or overflow, items then untouched and still the
 * caller's.
 */
void *chat_grow(void *items, size_t n, size_t *cap, size_t size, size_t first);

/**
 * The same for a ring of n items starting at *head: items itself while n < *cap, else a
 * new array of double the capacity (first when empty) holding the n items in order from
 * index 0 (*head becomes 0, *cap the new capacity; the old array is freed). NULL on OOM
 * or overflow, the ring then untouched.
 */
void *chat_ring_grow(void *items, size_t *head, size_t n, size_t *cap, size_t size, size_t first);

#endif
