/*
 * messages.c - GET /api/rooms/{id}/messages, the room history. Three forms:
 *   ?limit=50&offset=0   the page `offset` messages back from the newest (offset 0 = the
 *                        latest `limit`), returned oldest first;
 *   ?before_seq=N        the newest `limit` messages with seq < N (scrolling back);
 *   ?after_seq=N         the oldest `limit` messages with seq > N (catching up);
 *   ?after_seq=N&before_seq=M  the same, only those with seq < M (a range).
 * Seqs run 1..total without holes (chat/message_append.h), so every form is a seq range:
 * chat/history.h answers it from the room's Redis window when the window holds it (no
 * database read at all), from MongoDB by seq range otherwise, never with a skip. Every
 * answer is {messages, total, offset, limit}: total is the room's head, offset how many
 * messages are newer than the page. The messages are the stored JSON, concatenated as
 * they are. Private rooms answer 404 to non-members (as rooms.c does).
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on chat/history.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/history.h"
#include "chat/messages_repo.h"

#include "handlers.h"

#define MESSAGES__DEFAULT_LIMIT 50

typedef enum rest_history_mode {
    REST_HISTORY_LATEST = 0,
    REST_HISTORY_BEFORE,
    REST_HISTORY_AFTER
} rest_history_mode_t;

typedef struct rest_history_query {
    rest_history_mode_t mode;
    int64_t limit;
    int64_t offset; /* REST_HISTORY_LATEST only */
    int64_t seq;    /* the cursor of BEFORE / AFTER */
    int64_t until;  /* AFTER with before_seq too: only seqs below this; 0 = no bound */
} rest_history_query_t;

/**
 * Pure: the offset (messages newer than the page) of a cursor page. newest_seq is the
 * highest seq in the page, 0 when the page is empty.
 */
int64_t rest_history_offset(const rest_history_query_t *q, int64_t total, int64_t newest_seq);

int64_t rest_history_offset(const rest_history_query_t *q, int64_t total, int64_t newest_seq)
{
    int64_t top;

    if (q->mode == REST_HISTORY_LATEST) {
        return q->offset;
    }
    if (newest_seq > 0) {
        top = newest_seq;
    } else if (q->mode == REST_HISTORY_BEFORE) {
        top = q->seq - 1; /* nothing below the cursor: the page sits just under it */
    } else if (q->until > 0) {
        top = q->until - 1; /* an empty range: the page sits just under its end */
    } else {
        top = total; /* nothing after the cursor: caught up */
    }
    if (top > total) {
        top = total;
    }
    if (top < 0) {
        top = 0;
    }
    return total - top;
}

/** Parses the query string into *q; false with a 400 in resp. */
bool rest_history_parse(const rest_request_t *req, rest_history_query_t *q, rest_response_t *resp);

bool rest_history_parse(const rest_request_t *req, rest_history_query_t *q, rest_response_t *resp)
{
    int64_t before = -1;
    int64_t after = -1;

    q->mode = REST_HISTORY_LATEST;
    q->seq = 0;
    q->until = 0;
    if (!rest_query_int(req, "limit", MESSAGES__DEFAULT_LIMIT, 1, CHAT_HISTORY_MAX_LIMIT, &q->limit,
                        resp) ||
        !rest_query_int(req, "offset", 0, 0, INT64_MAX / 2, &q->offset, resp) ||
        !rest_query_int(req, "before_seq", -1, 0, INT64_MAX / 2, &before, resp) ||
        !rest_query_int(req, "after_seq", -1, 0, INT64_MAX / 2, &after, resp)) {
        return false;
    }
    if (before >= 0 && after >= 0) {
        /* both: the oldest `limit` messages strictly between the two cursors */
        q->mode = REST_HISTORY_AFTER;
        q->seq = after;
        q->until = before > 0 ? before : 1; /* seq < 0 holds nothing */
        q->offset = 0;
    } else if (before >= 0) {
        q->mode = REST_HISTORY_BEFORE;
        q->seq = before;
        q->offset = 0;
    } else if (after >= 0) {
        q->mode = REST_HISTORY_AFTER;
        q->seq = after;
        q->offset = 0;
    }
    return true;
}

/* {"messages":[<json>,...],"total":T,"offset":O,"limit":L}: the stored JSON copied
 * as it is, no parse. New malloc'd string or NULL. */
static char *messages__body(const chat_history_page_t *page, size_t shown, int64_t offset,
                            int64_t limit, size_t *len_out)
{
    size_t cap = 96;
    size_t len = 0;
    char *out = NULL;
    int n;

    for (size_t i = 0; i < shown; i++) {
        cap += page->len[i] + 1;
    }
    out = malloc(cap);
    if (out == NULL) {
        return NULL;
    }
    memcpy(out, "{\"messages\":[", 13);
    len = 13;
    for (size_t i = 0; i < shown; i++) {
        if (i > 0) {
            out[len++] = ',';
        }
        memcpy(out + len, page->json[i], page->len[i]);
        len += page->len[i];
    }
    n = snprintf(out + len, cap - len,
                 "],\"total\":%" PRId64 ",\"offset\":%" PRId64 ",\"limit\":%" PRId64 "}",
                 page->total, offset, limit);
    if (n < 0 || (size_t)n >= cap - len) {
        free(out);
        return NULL;
    }
    *len_out = len + (size_t)n;
    return out;
}

void rest_messages_history(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    static const chat_window_mode_t modes[] = {CHAT_WINDOW_LATEST, CHAT_WINDOW_BEFORE,
                                               CHAT_WINDOW_AFTER};
    rest_history_query_t q;
    chat_room_t room = {0};
    chat_history_page_t page = {0};
    bool is_member = false;
    char *body = NULL;
    size_t body_len = 0;
    int64_t offset;
    size_t shown;
    chat_err_t rc;

    if (!rest_history_parse(req, &q, resp) ||
        !rest_rooms_load_visible(ctx, req, req->params[0], &room, &is_member, resp)) {
        return;
    }
    rc = chat_history_read(&ctx->store, room.id, modes[q.mode],
                           q.mode == REST_HISTORY_LATEST ? q.offset : q.seq, q.limit, &page);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    shown = page.n; /* oldest first: a range's end cuts the tail */
    while (q.until > 0 && shown > 0 && page.seqs[shown - 1] >= q.until) {
        shown--;
    }
    offset = rest_history_offset(&q, page.total, shown > 0 ? page.seqs[shown - 1] : 0);
    body = messages__body(&page, shown, offset, q.limit, &body_len);
    if (body == NULL) {
        rest_response_from_err(resp, CHAT_ERR_NOMEM, NULL);
        goto cleanup;
    }
    rest_response_raw_json(resp, 200, body, body_len); /* takes body */

cleanup:
    chat_history_page_clear(&page);
    chat_room_clear(&room);
}
