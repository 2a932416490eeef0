/*
 * rooms.c - the /api/rooms resource: create (rate limited per user), list (public rooms
 * plus the caller's private ones, limit/offset pages), get, join and leave. Join and
 * leave go through chat/membership.h (member list + stored system message) and then
 * publish to the gateways (rest_members_publish_change in members.c).
 *
 * A private room is invisible to non-members: every access answers 404, exactly as for
 * a room that does not exist, so ids of private rooms cannot be probed.
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on
 * chat/rooms_repo.h, chat/membership.h, chat/validate.h and limits.h.
 */
#include <stdio.h>
#include <string.h>

#include "chat/log.h"
#include "chat/member_cache.h"
#include "chat/membership.h"
#include "chat/room_cache.h"
#include "chat/rooms_repo.h"
#include "chat/validate.h"

#include "handlers.h"
#include "limits.h"

#define ROOMS__LIST_DEFAULT 50
#define ROOMS__LIST_MAX 200

/** Pure check of a new room's fields; NULL when valid, else a message naming the field. */
const char *rest_rooms_check_create(const char *name, const char *description, char *msg,
                                    size_t msglen);

const char *rest_rooms_check_create(const char *name, const char *description, char *msg,
                                    size_t msglen)
{
    const char *why;

    if ((why = chat_validate_room_name(name)) != NULL) {
        snprintf(msg, msglen, "name: %s", why);
        return msg;
    }
    if ((why = chat_validate_description(description)) != NULL) {
        snprintf(msg, msglen, "description: %s", why);
        return msg;
    }
    return NULL;
}

bool rest_room_visible(const chat_room_t *room, bool is_member)
{
    return !room->is_private || is_member;
}

bool rest_rooms_load_visible(rest_ctx_t *ctx, const rest_request_t *req, const char *room_id,
                             chat_room_t *room, bool *is_member, rest_response_t *resp)
{
    chat_err_t rc = chat_room_load(&ctx->store, room_id, room);

    *is_member = false;
    if (rc == CHAT_OK) {
        rc = chat_member_check(&ctx->store, room->id, req->user.id, is_member);
    }
    if (rc == CHAT_OK && !rest_room_visible(room, *is_member)) {
        rc = CHAT_ERR_NOT_FOUND;
    }
    if (rc != CHAT_OK) {
        chat_room_clear(room);
        memset(room, 0, sizeof(*room));
        rest_response_from_err(resp, rc, rc == CHAT_ERR_NOT_FOUND ? "no such room" : NULL);
        return false;
    }
    return true;
}

void rest_rooms_create(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    json_t *body = rest_body_object(req, resp);
    const char *name = NULL;
    const char *description = NULL;
    bool is_private = false;
    chat_room_t room = {0};
    char msg[200];
    chat_err_t rc;

    if (body == NULL || !rest_json_string(body, "name", true, false, &name, resp) ||
        !rest_json_string(body, "description", false, true, &description, resp) ||
        !rest_json_bool(body, "is_private", false, &is_private, resp)) {
        goto cleanup;
    }
    if (description == NULL) {
        description = "";
    }
    if (rest_rooms_check_create(name, description, msg, sizeof(msg)) != NULL) {
        rest_response_error(resp, 400, "validation_error", msg);
        goto cleanup;
    }
    if (!rest_limit_room_create(ctx, req->user.id, resp)) {
        goto cleanup;
    }
    rc = chat_rooms_create(ctx->db, name, description, is_private, req->user.id, &room);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    chat_membership_room_created(&ctx->store, &room, (const char(*)[CHAT_ID_LEN])room.members,
                                 room.n_members);
    chat_log_info("room created", "room", room.id, "user", req->user.id, "req", req->request_id);
    rest_response_json(resp, 201, chat_room_to_json(&room));

cleanup:
    chat_room_clear(&room);
    json_decref(body);
}

void rest_rooms_list(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    int64_t limit = ROOMS__LIST_DEFAULT;
    int64_t offset = 0;
    int64_t total = 0;
    chat_room_list_t list = {0};
    json_t *rooms = NULL;
    chat_err_t rc;

    if (!rest_query_int(req, "limit", ROOMS__LIST_DEFAULT, 1, ROOMS__LIST_MAX, &limit, resp) ||
        !rest_query_int(req, "offset", 0, 0, INT32_MAX, &offset, resp)) {
        return;
    }
    rc = chat_rooms_visible(&ctx->store, req->user.id, offset, limit, &list, &total);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        return;
    }
    rooms = json_array();
    for (size_t i = 0; rooms != NULL && i < list.n; i++) {
        if (json_array_append_new(rooms, chat_room_to_json(&list.items[i])) != 0) {
            json_decref(rooms);
            rooms = NULL;
        }
    }
    if (rooms == NULL) {
        rest_response_from_err(resp, CHAT_ERR_NOMEM, NULL);
    } else {
        rest_response_json(resp, 200,
                           json_pack("{s:o, s:I, s:I, s:I}", "rooms", rooms, "total",
                                     (json_int_t)total, "offset", (json_int_t)offset, "limit",
                                     (json_int_t)limit));
    }
    chat_room_list_clear(&list);
}

void rest_rooms_get(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    chat_room_t room = {0};
    bool is_member = false;
    chat_err_t rc;

    if (!rest_rooms_load_visible(ctx, req, req->params[0], &room, &is_member, resp)) {
        return;
    }
    rc = chat_room_load_members(&ctx->store, &room);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
    } else {
        rest_response_json(resp, 200, chat_room_to_json(&room));
    }
    chat_room_clear(&room);
}

/* 200 with the room as it is (a join or leave that changes nothing). */
static void rooms__answer_room(rest_ctx_t *ctx, chat_room_t *room, rest_response_t *resp)
{
    chat_err_t rc = chat_room_load_members(&ctx->store, room);

    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
    } else {
        rest_response_json(resp, 200, chat_room_to_json(room));
    }
}

void rest_rooms_join(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    chat_room_t room = {0};
    chat_room_t after = {0};
    chat_message_t sys = {0};
    bool changed = false;
    bool is_member = false;
    chat_err_t rc;

    if (!rest_rooms_load_visible(ctx, req, req->params[0], &room, &is_member, resp)) {
        return;
    }
    if (is_member) {
        rooms__answer_room(ctx, &room, resp); /* already in: no-op */
        goto cleanup;
    }
    if (!rest_limit_membership(ctx, req->user.id, resp)) {
        goto cleanup;
    }
    rc = chat_membership_join(&ctx->store, room.id, req->user.id, req->user.username, false, &after,
                              &sys, &changed);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc,
                               rc == CHAT_ERR_FORBIDDEN ? "this room is invite-only" : NULL);
        goto cleanup;
    }
    rest_response_json(resp, 200, chat_room_to_json(&after));

cleanup:
    chat_message_clear(&sys);
    chat_room_clear(&after);
    chat_room_clear(&room);
}

void rest_rooms_leave(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    chat_room_t room = {0};
    chat_room_t after = {0};
    chat_message_t sys = {0};
    bool changed = false;
    bool is_member = false;
    chat_err_t rc;

    if (!rest_rooms_load_visible(ctx, req, req->params[0], &room, &is_member, resp)) {
        return;
    }
    if (!is_member) {
        rooms__answer_room(ctx, &room, resp); /* not in: no-op */
        goto cleanup;
    }
    if (room.is_dm || strcmp(room.creator_id, req->user.id) == 0) {
        rest_response_error(resp, 403, room.is_dm ? "forbidden" : "owner_cannot_leave",
                            room.is_dm ? "a direct message cannot be left"
                                       : "the owner cannot leave their own room");
        goto cleanup;
    }
    if (!rest_limit_membership(ctx, req->user.id, resp)) {
        goto cleanup;
    }
    rc = chat_membership_leave(&ctx->store, room.id, req->user.id, req->user.username, false,
                               &after, &sys, &changed);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    rest_response_json(resp, 200, chat_room_to_json(&after));

cleanup:
    chat_message_clear(&sys);
    chat_room_clear(&after);
    chat_room_clear(&room);
}
