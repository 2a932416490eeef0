/*
 * messages.c - GET /api/rooms/{id}/messages, the room history. Three forms:
 *   ?limit=50&offset=0   the page `offset` messages back from the newest (offset 0 = the
 *                        latest `limit`), returned oldest first;
 *   ?before_seq=N        the newest `limit` messages with seq < N (scrolling back);
 *   ?after_seq=N         the oldest `limit` messages with seq > N (catching up).
 * Cursor forms use the (room_id, seq) index, never a skip. Every answer is
 * {messages, total, offset, limit}, where offset is how many messages are newer than
 * the page (seqs run 1..total without holes, see chat/messages_repo.h).
 * Private rooms answer 404 to non-members (as rooms.c does).
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on
 * chat/messages_repo.h.
 */
#include <stdio.h>

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
bool rest_history_parse(const rest_request_t *req, rest_history_query_t *q,
                        rest_response_t *resp);

bool rest_history_parse(const rest_request_t *req, rest_history_query_t *q,
                        rest_response_t *resp)
{
    int64_t before = -1;
    int64_t after = -1;

    q->mode = REST_HISTORY_LATEST;
    q->seq = 0;
    if (!rest_query_int(req, "limit", MESSAGES__DEFAULT_LIMIT, 1, CHAT_HISTORY_MAX_LIMIT,
                        &q->limit, resp) ||
        !rest_query_int(req, "offset", 0, 0, INT64_MAX / 2, &q->offset, resp) ||
        !rest_query_int(req, "before_seq", -1, 0, INT64_MAX / 2, &before, resp) ||
        !rest_query_int(req, "after_seq", -1, 0, INT64_MAX / 2, &after, resp)) {
        return false;
    }
    if (before >= 0 && after >= 0) {
        rest_response_error(resp, 400, "validation_error",
                            "use either before_seq or after_seq, not both");
        return false;
    }
    if (before >= 0) {
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

void rest_messages_history(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    rest_history_query_t q;
    chat_room_t room = {0};
    chat_message_list_t list = {0};
    json_t *items = NULL;
    int64_t total = 0;
    int64_t offset;
    chat_err_t rc;

    if (!rest_history_parse(req, &q, resp) ||
        !rest_rooms_load_visible(ctx, req, req->params[0], &room, resp)) {
        return;
    }
    switch (q.mode) {
    case REST_HISTORY_LATEST:
        rc = chat_messages_page_latest(ctx->db, room.id, q.limit, q.offset, &list, &total);
        break;
    case REST_HISTORY_BEFORE:
        rc = chat_messages_last_seq(ctx->db, room.id, &total);
        if (rc == CHAT_OK) {
            rc = chat_messages_before(ctx->db, room.id, q.seq, q.limit, &list);
        }
        break;
    case REST_HISTORY_AFTER:
    default:
        rc = chat_messages_last_seq(ctx->db, room.id, &total);
        if (rc == CHAT_OK) {
            rc = chat_messages_after(ctx->db, room.id, q.seq, q.limit, &list);
        }
        break;
    }
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    offset = rest_history_offset(&q, total, list.n > 0 ? list.items[list.n - 1].seq : 0);
    items = json_array();
    for (size_t i = 0; items != NULL && i < list.n; i++) {
        if (json_array_append_new(items, chat_message_to_json(&list.items[i])) != 0) {
            json_decref(items);
            items = NULL;
        }
    }
    if (items == NULL) {
        rest_response_from_err(resp, CHAT_ERR_NOMEM, NULL);
        goto cleanup;
    }
    rest_response_json(resp, 200,
                       json_pack("{s:o, s:I, s:I, s:I}", "messages", items, "total",
                                 (json_int_t)total, "offset", (json_int_t)offset, "limit",
                                 (json_int_t)q.limit));

cleanup:
    chat_message_list_clear(&list);
    chat_room_clear(&room);
}
