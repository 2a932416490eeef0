/*
 * deadline_set.c - items by name with a deadline each (see the header), on hmap.c.
 *
 * Threads: the owner's only.
 */
#include "deadline_set.h"

#include <stdlib.h>

#include "chat/hmap.h"

typedef struct deadline__entry {
    void *item;
    int64_t at;
} deadline__entry_t;

struct gw_deadline_set {
    chat_hmap_t *map; /* key -> deadline__entry_t* (owned) */
};

gw_deadline_set_t *gw_deadline_create(size_t initial_buckets)
{
    gw_deadline_set_t *ds = calloc(1, sizeof(*ds));

    if (ds == NULL) {
        return NULL;
    }
    ds->map = chat_hmap_create(initial_buckets);
    if (ds->map == NULL) {
        free(ds);
        return NULL;
    }
    return ds;
}

void gw_deadline_destroy(gw_deadline_set_t *ds)
{
    if (ds == NULL) {
        return;
    }
    chat_hmap_clear(ds->map, free);
    chat_hmap_destroy(ds->map);
    free(ds);
}

int gw_deadline_schedule(gw_deadline_set_t *ds, const char *key, void *item, int64_t at)
{
    deadline__entry_t *e = chat_hmap_get(ds->map, key);

    if (e != NULL) {
        e->item = item;
        if (at < e->at) {
            e->at = at;
        }
        return 0;
    }
    e = malloc(sizeof(*e));
    if (e == NULL || chat_hmap_put(ds->map, key, e) != 0) {
        free(e);
        return -1;
    }
    e->item = item;
    e->at = at;
    return 0;
}

void gw_deadline_cancel(gw_deadline_set_t *ds, const char *key)
{
    free(chat_hmap_remove(ds->map, key));
}

bool gw_deadline_has(const gw_deadline_set_t *ds, const char *key)
{
    return chat_hmap_get(ds->map, key) != NULL;
}

int64_t gw_deadline_at(const gw_deadline_set_t *ds, const char *key)
{
    const deadline__entry_t *e = chat_hmap_get(ds->map, key);

    return e != NULL ? e->at : 0;
}

size_t gw_deadline_size(const gw_deadline_set_t *ds)
{
    return ds != NULL ? chat_hmap_size(ds->map) : 0;
}

void **gw_deadline_due(const gw_deadline_set_t *ds, int64_t now, size_t *n)
{
    size_t cap = chat_hmap_size(ds->map);
    void **due = NULL;
    chat_hmap_iter_t it;
    void *v;

    *n = 0;
    if (cap == 0 || (due = malloc(cap * sizeof(*due))) == NULL) {
        return NULL;
    }
    chat_hmap_iter_init(&it, ds->map);
    while (chat_hmap_next(&it, NULL, &v) && *n < cap) {
        const deadline__entry_t *e = v;
        if (e->at <= now) {
            due[(*n)++] = e->item;
        }
    }
    if (*n == 0) {
        free(due);
        return NULL;
    }
    return due;
}
