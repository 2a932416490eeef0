/*
 * hmap.h - a small string-keyed hash map (separate chaining) for the gateway's
 * tables: sessions by connection id, rooms by id, users by id. Keys are copied;
 * values are borrowed pointers the caller owns. Not thread-safe: every map in the
 * gateway belongs to the loop thread, or to one worker thread.
 */
#ifndef GW_HMAP_H
#define GW_HMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct gw_hmap gw_hmap_t;
typedef struct gw_hmap_node gw_hmap_node_t;

/** Iterator; the current entry may be removed while iterating. */
typedef struct gw_hmap_iter {
    const gw_hmap_t *map;
    size_t bucket;
    gw_hmap_node_t *next;
} gw_hmap_iter_t;

/** New empty map, or NULL on OOM. */
gw_hmap_t *gw_hmap_create(size_t initial_buckets);
/** Frees the map and its keys, never the values. Accepts NULL. */
void gw_hmap_destroy(gw_hmap_t *m);

/** Borrowed value for key, or NULL. */
void *gw_hmap_get(const gw_hmap_t *m, const char *key);
/** Inserts or replaces (key is copied). 0, or -1 on OOM. */
int gw_hmap_put(gw_hmap_t *m, const char *key, void *value);
/** Removes key; returns its value (the caller still owns it) or NULL. */
void *gw_hmap_remove(gw_hmap_t *m, const char *key);
size_t gw_hmap_size(const gw_hmap_t *m);

void gw_hmap_iter_init(gw_hmap_iter_t *it, const gw_hmap_t *m);
/** Next entry: 1 with *key (borrowed, valid until removed) and *value, or 0 at the end. */
int gw_hmap_next(gw_hmap_iter_t *it, const char **key, void **value);

/** FNV-1a of a NUL-terminated string (also used for worker affinity). */
uint32_t gw_hash_str(const char *s);

#endif
