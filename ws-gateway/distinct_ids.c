/*
 * distinct_ids.c - ids collected once each (see the header).
 *
 * Threads: the caller's.
 */
#include "distinct_ids.h"

#include <stdio.h>
#include <string.h>

void gw_distinct_init(gw_distinct_t *d, char (*out)[CHAT_ID_LEN], size_t expected)
{
    d->out = out;
    d->n = 0;
    d->seen = expected > GW_DISTINCT_MAP_AT ? chat_hmap_create(expected * 2) : NULL;
}

bool gw_distinct_add(gw_distinct_t *d, const char *id)
{
    char key[CHAT_ID_LEN];
    bool seen = false;

    snprintf(key, sizeof(key), "%s", id);
    if (d->seen != NULL) {
        seen = chat_hmap_get(d->seen, key) != NULL;
    } else {
        for (size_t k = 0; k < d->n && !seen; k++) {
            seen = strcmp(d->out[k], key) == 0;
        }
    }
    if (seen) {
        return false;
    }
    memcpy(d->out[d->n], key, CHAT_ID_LEN);
    if (d->seen != NULL && chat_hmap_put(d->seen, d->out[d->n], d->out[d->n]) != 0) {
        chat_hmap_destroy(d->seen); /* out of memory: the slow way from here */
        d->seen = NULL;
    }
    d->n++;
    return true;
}

size_t gw_distinct_done(gw_distinct_t *d)
{
    chat_hmap_destroy(d->seen);
    d->seen = NULL;
    return d->n;
}
