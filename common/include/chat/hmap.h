/*
 * hmap.h - a small string-keyed hash map (separate chaining): the gateway's tables
 * (sessions by connection id, rooms by id, users by id) and the rooms a warm-up gathers
 * (window_gather.c). Keys are copied; values are borrowed pointers the caller owns. Not
 * thread-safe: every map belongs to one thread (the gateway's loop, or one worker).
 */
#ifndef CHAT_HMAP_H
#define CHAT_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct chat_hmap chat_hmap_t;
typedef struct chat_hmap_node chat_hmap_node_t;

/** Iterator; the current entry may be removed while iterating. */
typedef struct chat_hmap_iter {
    const chat_hmap_t *map;
    size_t bucket;
    chat_hmap_node_t *next;
} chat_hmap_iter_t;

/** New empty map, or NULL on OOM. */
chat_hmap_t *chat_hmap_create(size_t initial_buckets);
/** Frees the map and its keys, never the values. Accepts NULL. */
void chat_hmap_destroy(chat_hmap_t *m);
/** Removes every entry, handing each value to free_value (unless it is NULL); the map
 *  stays usable. Accepts NULL. */
void chat_hmap_clear(chat_hmap_t *m, void (*free_value)(void *));

/** Borrowed value for key, or NULL. */
void *chat_hmap_get(const chat_hmap_t *m, const char *key);
/** Inserts or replaces (key is copied). 0, or -1 on OOM. */
int chat_hmap_put(chat_hmap_t *m, const char *key, void *value);
/** Removes key; returns its value (the caller still owns it) or NULL. */
void *chat_hmap_remove(chat_hmap_t *m, const char *key);
size_t chat_hmap_size(const chat_hmap_t *m);

void chat_hmap_iter_init(chat_hmap_iter_t *it, const chat_hmap_t *m);
/** Next entry: 1 with *key (borrowed, valid until removed) and *value, or 0 at the end. */
int chat_hmap_next(chat_hmap_iter_t *it, const char **key, void **value);

#endif
