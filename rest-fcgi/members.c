/*
 * members.c - the /api/rooms/{id}/members resource: a page of members with username,
 * presence and role (?limit&offset, SPEC §2); the owner adds and removes members
 * (private rooms are invite-only). Also the member_added / member_removed events on
 * chat:room:{<id>} that start or stop live delivery on the gateways (the system
 * message itself is published when membership.h commits it).
 *
 * Thread: the process's only thread (FastCGI accept loop). Relies on
 * chat/membership.h, chat/member_cache.h, chat/user_cache.h, chat/keys.h and
 * member_lookup.c (batched presence).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/keys.h"
#include "chat/log.h"
#include "chat/member_cache.h"
#include "chat/membership.h"
#include "chat/user_cache.h"
#include "chat/validate.h"

#include "handlers.h"
#include "limits.h"
#include "member_lookup.h"

#define MEMBERS__PAGE_DEFAULT 50
#define MEMBERS__PAGE_MAX 200

/**
 * Pure decision whether caller_id may add (adding) or remove target_id in room;
 * target_is_member says whether target_id belongs to it now.
 * CHAT_OK, or CHAT_ERR_FORBIDDEN / CHAT_ERR_NOT_FOUND with *why and *code set.
 */
chat_err_t rest_members_check_manage(const chat_room_t *room, const char *caller_id,
                                     const char *target_id, bool target_is_member, bool adding,
                                     const char **code, const char **why);

chat_err_t rest_members_check_manage(const chat_room_t *room, const char *caller_id,
                                     const char *target_id, bool target_is_member, bool adding,
                                     const char **code, const char **why)
{
    *code = NULL;
    *why = NULL;
    if (strcmp(room->creator_id, caller_id) != 0) {
        *code = "not_owner";
        *why = "only the room's owner can add or remove members";
        return CHAT_ERR_FORBIDDEN;
    }
    if (room->is_dm) {
        *code = "forbidden";
        *why = "a direct message always has exactly its two members";
        return CHAT_ERR_FORBIDDEN;
    }
    if (!adding && strcmp(room->creator_id, target_id) == 0) {
        *code = "forbidden";
        *why = "the owner cannot be removed from their room";
        return CHAT_ERR_FORBIDDEN;
    }
    if (!adding && !target_is_member) {
        *code = "not_found";
        *why = "that user is not a member of this room";
        return CHAT_ERR_NOT_FOUND;
    }
    return CHAT_OK;
}

static void members__publish(rest_ctx_t *ctx, const char *channel, json_t *frame)
{
    char *payload = frame != NULL ? chat_json_dumps(frame) : NULL;

    if (payload == NULL) {
        chat_log_error("cannot encode a room event", "channel", channel);
    } else if (chat_redis_publish(ctx->redis, channel, payload, strlen(payload)) != CHAT_OK) {
        chat_log_warn("publish failed (Redis down?)", "channel", channel);
    }
    free(payload);
    json_decref(frame);
}

void rest_members_publish_change(rest_ctx_t *ctx, const char *room_id, const char *user_id,
                                 bool added)
{
    char channel[CHAT_KEY_LEN];

    chat_key_room_channel(room_id, channel, sizeof(channel));
    members__publish(ctx, channel, chat_member_event_to_json(added, room_id, user_id));
}

void rest_members_list(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    chat_room_t room = {0};
    chat_member_page_t page = {0};
    char **names = NULL;
    bool *online = NULL;
    json_t *list = NULL;
    bool is_member = false;
    int64_t limit = MEMBERS__PAGE_DEFAULT;
    int64_t offset = 0;
    chat_err_t rc;

    if (!rest_query_int(req, "limit", MEMBERS__PAGE_DEFAULT, 1, MEMBERS__PAGE_MAX, &limit, resp) ||
        !rest_query_int(req, "offset", 0, 0, INT32_MAX, &offset, resp) ||
        !rest_rooms_load_visible(ctx, req, req->params[0], &room, &is_member, resp)) {
        goto cleanup;
    }
    rc = chat_member_page(&ctx->store, room.id, offset, limit, &page);
    if (rc == CHAT_OK) {
        rc = chat_user_names(&ctx->store, (const char(*)[CHAT_ID_LEN])page.ids, page.n, &names);
    }
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    online = calloc(page.n + 1, sizeof(*online));
    list = json_array();
    if (online == NULL || list == NULL) {
        rest_response_from_err(resp, CHAT_ERR_NOMEM, NULL);
        goto cleanup;
    }
    rest_lookup_online(ctx->redis, (const char(*)[CHAT_ID_LEN])page.ids, page.n, online);
    for (size_t i = 0; i < page.n; i++) {
        const char *id = page.ids[i];
        if (json_array_append_new(
                list,
                json_pack("{s:s, s:s, s:b, s:s}", "id", id, "username",
                          names[i] != NULL ? names[i] : "deleted user", "online", online[i], "role",
                          strcmp(id, room.creator_id) == 0 ? "owner" : "member")) != 0) {
            rest_response_from_err(resp, CHAT_ERR_NOMEM, NULL);
            goto cleanup;
        }
    }
    rest_response_json(resp, 200,
                       json_pack("{s:O, s:I, s:I, s:I}", "members", list, "total",
                                 (json_int_t)page.total, "offset", (json_int_t)offset, "limit",
                                 (json_int_t)limit));

cleanup:
    json_decref(list);
    free(online);
    chat_user_names_free(names, page.n);
    chat_member_page_clear(&page);
    chat_room_clear(&room);
}

void rest_members_add(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    json_t *body = rest_body_object(req, resp);
    const char *target_raw = NULL;
    char target_id[CHAT_ID_LEN];
    chat_room_t room = {0};
    chat_room_t after = {0};
    chat_user_t target = {0};
    chat_message_t sys = {0};
    const char *code = NULL;
    const char *why = NULL;
    bool changed = false;
    bool is_member = false;
    chat_err_t rc;

    if (body == NULL || !rest_json_string(body, "user_id", true, false, &target_raw, resp)) {
        goto cleanup;
    }
    if (!chat_validate_object_id(target_raw)) {
        rest_response_error(resp, 400, "validation_error",
                            "user_id: must be 24 lower-case hex digits");
        goto cleanup;
    }
    chat_ascii_lower(target_raw, target_id, sizeof(target_id));
    if (!rest_rooms_load_visible(ctx, req, req->params[0], &room, &is_member, resp)) {
        goto cleanup;
    }
    if (rest_members_check_manage(&room, req->user.id, target_id, false, true, &code, &why) !=
        CHAT_OK) {
        rest_response_error(resp, 403, code, why);
        goto cleanup;
    }
    rc = chat_user_load(&ctx->store, target_id, false, &target);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, rc == CHAT_ERR_NOT_FOUND ? "no such user" : NULL);
        goto cleanup;
    }
    if (!rest_limit_membership(ctx, req->user.id, resp)) {
        goto cleanup;
    }
    rc = chat_membership_join(&ctx->store, room.id, target.id, target.username, true, &after, &sys,
                              &changed);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    if (changed) {
        chat_log_info("member added", "room", room.id, "member", target.id, "user", req->user.id,
                      "req", req->request_id);
    }
    rest_response_json(resp, 200, chat_room_to_json(&after));

cleanup:
    chat_message_clear(&sys);
    chat_user_clear(&target);
    chat_room_clear(&after);
    chat_room_clear(&room);
    json_decref(body);
}

void rest_members_remove(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp)
{
    const char *target_id = req->params[1];
    chat_room_t room = {0};
    chat_room_t after = {0};
    chat_user_t target = {0};
    chat_message_t sys = {0};
    const char *code = NULL;
    const char *why = NULL;
    bool changed = false;
    bool is_member = false;
    bool target_is_member = false;
    chat_err_t rc;

    if (!rest_rooms_load_visible(ctx, req, req->params[0], &room, &is_member, resp)) {
        return;
    }
    rc = chat_member_check(&ctx->store, room.id, target_id, &target_is_member);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    rc = rest_members_check_manage(&room, req->user.id, target_id, target_is_member, false, &code,
                                   &why);
    if (rc != CHAT_OK) {
        rest_response_error(resp, rc == CHAT_ERR_NOT_FOUND ? 404 : 403, code, why);
        goto cleanup;
    }
    /* A deleted account can still be removed; its name is only for the system message. */
    rc = chat_user_load(&ctx->store, target_id, false, &target);
    if (rc != CHAT_OK && rc != CHAT_ERR_NOT_FOUND) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    if (!rest_limit_membership(ctx, req->user.id, resp)) {
        goto cleanup;
    }
    rc = chat_membership_leave(&ctx->store, room.id, target_id,
                               target.username != NULL ? target.username : "a deleted user", true,
                               &after, &sys, &changed);
    if (rc != CHAT_OK) {
        rest_response_from_err(resp, rc, NULL);
        goto cleanup;
    }
    if (!changed) {
        rest_response_error(resp, 404, "not_found", "that user is not a member of this room");
        goto cleanup;
    }
    chat_log_info("member removed", "room", room.id, "member", target_id, "user", req->user.id,
                  "req", req->request_id);
    rest_response_json(resp, 200, chat_room_to_json(&after));

cleanup:
    chat_message_clear(&sys);
    chat_user_clear(&target);
    chat_room_clear(&after);
    chat_room_clear(&room);
}
