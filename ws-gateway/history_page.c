/*
 * history_page.c - a page of stored messages as ready-to-send frames (see header): the
 * JSON chat/history.h returns is the exact frame payload, copied once into a frame with
 * LWS_PRE headroom.
 *
 * Threads: worker threads (fetch); any owner (clear). Relies on: history.h.
 */
#include "history_page.h"

#include <stdlib.h>
#include <string.h>

#include "chat/history.h"
#include "chat/messages_repo.h"

void gw_history_page_fetch(const chat_store_t *s, const char *room_id, int64_t after_seq,
                           gw_history_page_t *page)
{
    chat_history_page_t h;

    page->err =
        chat_history_read(s, room_id, CHAT_WINDOW_AFTER, after_seq, CHAT_HISTORY_MAX_LIMIT, &h);
    if (page->err != CHAT_OK) {
        return;
    }
    page->head = h.total;
    page->from_window = h.source == CHAT_HISTORY_FROM_WINDOW;
    if (h.n > 0) {
        page->seqs = calloc(h.n, sizeof(*page->seqs));
        page->frames = calloc(h.n, sizeof(*page->frames));
        if (page->seqs == NULL || page->frames == NULL) {
            page->err = CHAT_ERR_NOMEM;
            goto cleanup;
        }
    }
    for (size_t i = 0; i < h.n; i++) {
        gw_frame_t *f = gw_frame_new(h.json[i], h.len[i]);
        if (f == NULL) {
            page->err = CHAT_ERR_NOMEM;
            goto cleanup;
        }
        page->seqs[page->n] = h.seqs[i];
        page->frames[page->n] = f;
        page->n++;
    }

cleanup:
    chat_history_page_clear(&h);
}

void gw_history_page_clear(gw_history_page_t *page)
{
    for (size_t i = 0; i < page->n; i++) {
        gw_frame_unref(page->frames[i]);
    }
    free(page->frames);
    free(page->seqs);
    memset(page, 0, sizeof(*page));
}
