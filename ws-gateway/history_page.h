/*
 * history_page.h - stored messages read from MongoDB and serialized into shared frames
 * on a worker thread, exactly as live room messages are sent (chat_message_to_json).
 * Used by gap backfill (room_registry.c) and by subscribe replay (subscription.c).
 *
 * Threads: gw_page_fetch on a worker; the page then belongs to whoever holds the job.
 */
#ifndef GW_HISTORY_PAGE_H
#define GW_HISTORY_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "shared_frame.h"

/** A page of stored messages serialized on a worker (used by backfill and replay). */
typedef struct gw_page {
    chat_err_t err;
    size_t n;
    int64_t *seqs;
    gw_frame_t **frames;
} gw_page_t;

/** Worker thread: reads up to limit messages after after_seq into page (zeroed). */
void gw_page_fetch(chat_db_t *db, const char *room_id, int64_t after_seq, int limit,
                   gw_page_t *page);
/** Frees what the page holds (any thread that owns it). */
void gw_page_clear(gw_page_t *page);

#endif
