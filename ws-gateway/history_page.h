/*
 * history_page.h - a page of stored messages as ready-to-send frames, read on a worker
 * thread through chat/history.h (the room's Redis window when it holds the range,
 * MongoDB otherwise) exactly as live room messages are sent. Used by gap backfill
 * (room_registry.c) and by subscribe replay (subscription.c); the page size is
 * CHAT_HISTORY_MAX_LIMIT, owned by history.h, and callers page on until their last seq
 * reaches the page's head.
 *
 * Threads: gw_history_page_fetch on a worker; the page then belongs to whoever holds the job.
 */
#ifndef GW_HISTORY_PAGE_H
#define GW_HISTORY_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/store.h"
#include "shared_frame.h"

/** A page of stored messages serialized on a worker (used by backfill and replay). */
typedef struct gw_page {
    chat_err_t err;
    size_t n;
    int64_t *seqs;
    gw_frame_t **frames;
    int64_t head;     /* the room's highest visible seq when read */
    bool from_window; /* answered by Redis, no database read */
} gw_history_page_t;

/** Worker thread: the messages after after_seq (at most CHAT_HISTORY_MAX_LIMIT) into page
 *  (zeroed). */
void gw_history_page_fetch(const chat_store_t *s, const char *room_id, int64_t after_seq,
                           gw_history_page_t *page);
/** Frees what the page holds (any thread that owns it). */
void gw_history_page_clear(gw_history_page_t *page);

#endif
