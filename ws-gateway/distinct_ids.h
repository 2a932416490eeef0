/*
 * distinct_ids.h - collects ids once each into a caller's array, in first-seen order:
 * the distinct users watching a room (a user with several sockets counts once). A few
 * ids are compared one by one; past GW_DISTINCT_MAP_AT expected ids a hash map keeps it
 * O(n) (and on OOM it falls back to comparing). Pure: memory only.
 *
 * Threads: the caller's (the loop thread in the gateway).
 */
#ifndef GW_DISTINCT_IDS_H
#define GW_DISTINCT_IDS_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/jwt.h"
#include "chat/hmap.h"

#define GW_DISTINCT_MAP_AT 32

typedef struct gw_distinct {
    char (*out)[CHAT_ID_LEN]; /* borrowed: room for every id that may be added */
    size_t n;                 /* distinct ids in out */
    chat_hmap_t *seen;        /* NULL: linear comparison */
} gw_distinct_t;

/** Starts collecting into out, which has room for `expected` ids. */
void gw_distinct_init(gw_distinct_t *d, char (*out)[CHAT_ID_LEN], size_t expected);
/** Adds id unless already there (ids longer than CHAT_ID_LEN - 1 are cut). True when
 *  new. */
bool gw_distinct_add(gw_distinct_t *d, const char *id);
/** Frees the helper's memory; returns how many distinct ids out holds. */
size_t gw_distinct_done(gw_distinct_t *d);

#endif
