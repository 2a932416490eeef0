/*
 * history_page.c - a page of stored messages as ready-to-send frames (see header).
 *
 * Threads: worker threads (fetch); any owner (clear). Relies on: messages_repo.h, model.h.
 */
#include "history_page.h"

#include <stdlib.h>
#include <string.h>

#include "chat/messages_repo.h"
#include "chat/model.h"

void gw_page_fetch(chat_db_t *db, const char *room_id, int64_t after_seq, int limit,
                   gw_page_t *page)
{
    chat_message_list_t list = {0};

    page->err = chat_messages_after(db, room_id, after_seq, limit, &list);
    if (page->err != CHAT_OK) {
        return;
    }
    if (list.n > 0) {
        page->seqs = calloc(list.n, sizeof(*page->seqs));
        page->frames = calloc(list.n, sizeof(*page->frames));
        if (page->seqs == NULL || page->frames == NULL) {
            page->err = CHAT_ERR_NOMEM;
            goto cleanup;
        }
    }
    for (size_t i = 0; i < list.n; i++) {
        json_t *j = chat_message_to_json(&list.items[i]);
        gw_frame_t *f = j != NULL ? gw_frame_from_json(j) : NULL;
        json_decref(j);
        if (f == NULL) {
            page->err = CHAT_ERR_NOMEM;
            goto cleanup;
        }
        page->seqs[page->n] = list.items[i].seq;
        page->frames[page->n] = f;
        page->n++;
    }

cleanup:
    chat_message_list_clear(&list);
}

void gw_page_clear(gw_page_t *page)
{
    for (size_t i = 0; i < page->n; i++) {
        gw_frame_unref(page->frames[i]);
    }
    free(page->frames);
    free(page->seqs);
    memset(page, 0, sizeof(*page));
}
