/*
 * dms.c - the /api/dms resource: POST {user_id} answers the one private two-member room
 * of the caller and that user, created on first use (chat_rooms_get_or_create_dm is
 * race-safe across processes). A new DM is announced with member_added for both users
 * on its room channel (gateways start delivering it) and with dm_created on both users'
 * live channels (user_events.h), so the other person's client shows it at once.
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on
 * chat/rooms_repo.h, chat/membership.h (read model of a new room), chat/user_cache.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "chat/log.h"
#include "chat/membership.h"
#include "chat/user_events.h"
#include "chat/room_cache.h"
#include "chat/rooms_repo.h"
#include "chat/user_cache.h"
#include "chat/validate.h"

#include "handlers.h"

/**
 * Pure check of a DM request: NULL when other_id may be messaged by caller_id, else the
 * reason (400: not an id; 403: the caller themself).
 */
const char *rest_dms_check(const char *caller_id, const char *other_id);

const char *rest_dms_check(const char *caller_id, const char *other_id)
{
    if (!chat_validate_object_id(other_id)) {
        return "user_id: must be 24 lower-case hex digits";
    }
    if (strcasecmp(caller_id, other_id) == 0) {
        return "user_id: you cannot open a direct message with yourself";
    }
    return NULL;
}

void rest_dms_open(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    json_t *body = rest_body_object(req, resp);
    const char *raw = NULL;
    const char *why = NULL;
    char other_id[CHAT_ID_LEN];
    chat_user_t other = {0};
    chat_room_t room = {0};
    bool created = false;
    chat_err_t rc;

    if (body == NULL || !rest_json_string(body, "user_id", true, false, &raw, resp)) {
        goto cleanup;
    }
    if ((why = rest_dms_check(req->user.id, raw)) != NULL) {
        /* a well-formed id that is the caller's own: allowed by the schema, refused by
         * the rules (403), not malformed (400) */
        bool self = chat_validate_object_id(raw);
        rest_response_error(resp, self ? 403 : 400, self ? "forbidden" : "validation_error", why);
        goto cleanup;
    }
    chat_ascii_lower(raw, other_id, sizeof(other_id));
    rc = chat_user_load(&ctx->store, other_id, false, &other);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, rc == CHAT_ERR_NOT_FOUND ? "no such user" : NULL);
        goto cleanup;
    }
    rc = chat_rooms_get_or_create_dm(ctx->db, req->user.id, other.id, &room, &created);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    if (created) {
        chat_membership_room_created(&ctx->store, &room, (const char(*)[CHAT_ID_LEN])room.members,
                                     room.n_members);
        chat_log_info("dm created", "room", room.id, "user", req->user.id, "member", other.id,
                      "req", req->request_id);
        rest_members_publish_change(ctx, room.id, req->user.id, true);
        rest_members_publish_change(ctx, room.id, other.id, true);
        chat_user_event_room(ctx->redis, other.id, &room, true);
        chat_user_event_room(ctx->redis, req->user.id, &room, true);
    } else if ((rc = chat_room_load_members(&ctx->store, &room)) != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    rest_response_json(resp, 200, chat_room_to_json(&room));

cleanup:
    chat_room_clear(&room);
    chat_user_clear(&other);
    json_decref(body);
}
