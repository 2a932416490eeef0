/*
 * frame_handlers.c - client frame parsing and validation, then dispatch to the
 * pipeline (message), subscriptions (join/leave/subscribe), or a direct answer.
 *
 * Threads: loop thread. Relies on: validate.h, jwt.h (auth renewal, cheap CPU work),
 * message_pipeline.h, subscription.h, pubsub.h / room_registry.h (typing relay).
 */
#include "frame_handlers.h"

#include <string.h>

#include "chat/clock.h"
#include "chat/jwt.h"
#include "chat/log.h"
#include "chat/validate.h"
#include "message_pipeline.h"
#include "pubsub.h"
#include "room_registry.h"
#include "session.h"
#include "subscription.h"

#define FRAMES__TYPING_MIN_INTERVAL_MS 300

typedef void (*frames__handler_fn)(gw_session_t *s, json_t *root);

/* ------------------------------------------------------------------ field helpers */

/* room_id of the frame, or NULL after sending the error. */
static const char *frames__room_id(gw_session_t *s, json_t *root, const char *client_msg_id)
{
    json_t *v = json_object_get(root, "room_id");
    const char *room_id = json_string_value(v);

    if (room_id == NULL) {
        gw_session_send_error(s, "invalid_message", "room_id (string) is required", NULL,
                              client_msg_id, NULL);
        return NULL;
    }
    if (!chat_validate_object_id(room_id)) {
        gw_session_send_error(s, "invalid_message", "room_id is not a valid id", NULL,
                              client_msg_id, NULL);
        return NULL;
    }
    return room_id;
}

/* Optional after_seq: 0 absent, 1 present (in *out), -1 invalid (error sent). */
static int frames__after_seq(gw_session_t *s, json_t *root, const char *room_id, int64_t *out)
{
    json_t *v = json_object_get(root, "after_seq");

    if (v == NULL || json_is_null(v)) {
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        gw_session_send_error(s, "invalid_message", "after_seq must be a non-negative integer",
                              room_id, NULL, NULL);
        return -1;
    }
    *out = json_integer_value(v);
    return 1;
}

/* ------------------------------------------------------------------ handlers */

static void frames__message(gw_session_t *s, json_t *root)
{
    json_t *cm = json_object_get(root, "client_msg_id");
    json_t *content = json_object_get(root, "content");
    const char *client_msg_id = NULL;
    const char *room_id;
    const char *why;

    if (cm != NULL && !json_is_null(cm)) {
        client_msg_id = json_string_value(cm);
        if (client_msg_id == NULL ||
            (why = chat_validate_client_msg_id(client_msg_id)) != NULL) {
            gw_session_send_error(s, "invalid_message",
                                  client_msg_id == NULL ? "client_msg_id must be a string" : why,
                                  json_string_value(json_object_get(root, "room_id")), NULL,
                                  NULL);
            return;
        }
    }
    room_id = frames__room_id(s, root, client_msg_id);
    if (room_id == NULL) {
        return;
    }
    if (!json_is_string(content)) {
        gw_session_send_error(s, "invalid_message", "content (string) is required", room_id,
                              client_msg_id, NULL);
        return;
    }
    why = chat_validate_content(json_string_value(content), json_string_length(content));
    if (why != NULL) {
        gw_session_send_error(s, "invalid_message", why, room_id, client_msg_id, NULL);
        return;
    }
    gw_message_submit(s, room_id, json_string_value(content), json_string_length(content),
                      client_msg_id);
}

static void frames__subscribe_or_join(gw_session_t *s, json_t *root, bool join)
{
    const char *room_id = frames__room_id(s, root, NULL);
    int64_t after = 0;
    int has_after;

    if (room_id == NULL) {
        return;
    }
    has_after = frames__after_seq(s, root, room_id, &after);
    if (has_after < 0) {
        return;
    }
    gw_subscription_request(s, room_id, join, has_after == 1, after);
}

static void frames__subscribe(gw_session_t *s, json_t *root)
{
    frames__subscribe_or_join(s, root, false);
}

static void frames__join(gw_session_t *s, json_t *root)
{
    frames__subscribe_or_join(s, root, true);
}

static void frames__leave(gw_session_t *s, json_t *root)
{
    const char *room_id = frames__room_id(s, root, NULL);

    if (room_id != NULL) {
        gw_subscription_leave(s, room_id);
    }
}

static void frames__unsubscribe(gw_session_t *s, json_t *root)
{
    const char *room_id = frames__room_id(s, root, NULL);

    if (room_id != NULL) {
        gw_subscription_unsubscribe(s, room_id);
    }
}

static void frames__typing(gw_session_t *s, json_t *root)
{
    const char *room_id = frames__room_id(s, root, NULL);
    gw_sub_t *sub;
    int64_t now = chat_clock_monotonic_ms();
    json_t *ev;
    gw_frame_t *f;

    if (room_id == NULL) {
        return;
    }
    sub = gw_session_find_sub(s, room_id);
    if (sub == NULL || sub->state == GW_SUB_PENDING) {
        gw_session_send_error(s, "not_subscribed", "subscribe to the room first", room_id, NULL,
                              NULL);
        return;
    }
    if (now - sub->last_typing_ms < FRAMES__TYPING_MIN_INTERVAL_MS) {
        return; /* typing is a hint: extra ones are dropped silently */
    }
    sub->last_typing_ms = now;
    ev = json_pack("{s:s, s:s, s:s, s:s}", "type", "typing", "room_id", room_id, "user_id",
                   s->user_id, "username", s->username);
    f = ev != NULL ? gw_frame_from_json(ev) : NULL;
    json_decref(ev);
    if (f == NULL) {
        return;
    }
    /* through Redis every gateway (this one included) relays it; without Redis only
     * this gateway's watchers can get it */
    if (!gw_pubsub_publish_room(s->gw->pubsub, room_id, f, false)) {
        gw_registry_deliver_event(s->gw->registry, room_id, f, s->user_id);
    }
    gw_frame_unref(f);
}

static void frames__ping(gw_session_t *s, json_t *root)
{
    (void)root;
    gw_session_send_json(s, json_pack("{s:s}", "type", "pong"));
}

static void frames__auth(gw_session_t *s, json_t *root)
{
    const char *token = json_string_value(json_object_get(root, "token"));
    chat_jwt_claims_t claims;
    chat_err_t err;

    if (token == NULL) {
        gw_session_send_error(s, "invalid_message", "token (string) is required", NULL, NULL,
                              NULL);
        return;
    }
    err = chat_jwt_verify(s->gw->cfg.jwt_secret, s->gw->cfg.jwt_issuer, token,
                          chat_clock_now_ms() / 1000, &claims);
    if (err == CHAT_ERR_TOKEN_EXPIRED) {
        gw_session_send_error(s, "token_expired", "the token has expired", NULL, NULL, NULL);
        return;
    }
    if (err != CHAT_OK) {
        gw_session_send_error(s, "invalid_token", "the token is not valid", NULL, NULL, NULL);
        return;
    }
    if (strcmp(claims.sub, s->user_id) != 0) {
        gw_session_send_error(s, "forbidden", "the token belongs to another user", NULL, NULL,
                              NULL);
        return;
    }
    s->token_exp = claims.exp;
    gw_session_send_json(s, json_pack("{s:s, s:I}", "type", "auth_ok", "exp",
                                      (json_int_t)claims.exp));
}

static const struct {
    const char *type;
    frames__handler_fn fn;
} frames__table[] = {
    {"message", frames__message},         {"join", frames__join},
    {"leave", frames__leave},             {"subscribe", frames__subscribe},
    {"unsubscribe", frames__unsubscribe}, {"typing", frames__typing},
    {"ping", frames__ping},               {"auth", frames__auth},
};

void gw_frames_handle(gw_session_t *s, const char *data, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, 0, &jerr);
    const char *type;

    if (root == NULL || !json_is_object(root)) {
        gw_session_send_error(s, "invalid_json", "a frame must be one JSON object", NULL, NULL,
                              NULL);
        gw_session_note_refusal(s);
        json_decref(root);
        return;
    }
    type = json_string_value(json_object_get(root, "type"));
    if (type == NULL) {
        gw_session_send_error(s, "invalid_message", "type (string) is required", NULL, NULL,
                              NULL);
        gw_session_note_refusal(s);
        json_decref(root);
        return;
    }
    for (size_t i = 0; i < sizeof(frames__table) / sizeof(frames__table[0]); i++) {
        if (strcmp(type, frames__table[i].type) == 0) {
            frames__table[i].fn(s, root);
            json_decref(root);
            return;
        }
    }
    gw_session_send_error(s, "unknown_type", "unknown frame type", NULL, NULL,
                          json_pack("{s:s}", "frame_type", type));
    gw_session_note_refusal(s);
    json_decref(root);
}
