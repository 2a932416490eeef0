/*
 * frame_parse.c - JSON parsing and per-type field checks of client frames
 * (frame_parse.h), kept free of session state so that it can be fuzzed on its own.
 * The error codes, messages and their order are the gateway's protocol (SPEC §3).
 *
 * Threads: any (pure); the gateway calls it on the loop thread. Relies on jansson
 * and chat/validate.h.
 */
#include "frame_parse.h"

#include <string.h>

#include "chat/validate.h"

/* Fills cmd->err (static strings or strings borrowed from cmd->root); returns false. */
static bool parse__fail(gw_frame_cmd_t *cmd, const char *code, const char *message,
                        const char *room_id, const char *client_msg_id, bool refusal)
{
    cmd->err.code = code;
    cmd->err.message = message;
    cmd->err.room_id = room_id;
    cmd->err.client_msg_id = client_msg_id;
    cmd->err.refusal = refusal;
    return false;
}

/* room_id of the frame into cmd->room_id; false with the error filled in. */
static bool parse__room_id(gw_frame_cmd_t *cmd, const char *client_msg_id)
{
    const char *room_id = json_string_value(json_object_get(cmd->root, "room_id"));

    if (room_id == NULL) {
        return parse__fail(cmd, "invalid_message", "room_id (string) is required", NULL,
                           client_msg_id, false);
    }
    if (!chat_validate_object_id(room_id)) {
        return parse__fail(cmd, "invalid_message", "room_id must be 24 lower-case hex digits", NULL,
                           client_msg_id, false);
    }
    cmd->room_id = room_id;
    return true;
}

static bool parse__message(gw_frame_cmd_t *cmd)
{
    json_t *cm = json_object_get(cmd->root, "client_msg_id");
    json_t *content = json_object_get(cmd->root, "content");
    const char *why = NULL;

    if (cm != NULL && !json_is_null(cm)) {
        cmd->client_msg_id = json_string_value(cm);
        if (cmd->client_msg_id == NULL ||
            (why = chat_validate_client_msg_id(cmd->client_msg_id)) != NULL) {
            return parse__fail(cmd, "invalid_message",
                               cmd->client_msg_id == NULL ? "client_msg_id must be a string" : why,
                               json_string_value(json_object_get(cmd->root, "room_id")), NULL,
                               false);
        }
    }
    if (!parse__room_id(cmd, cmd->client_msg_id)) {
        return false;
    }
    if (!json_is_string(content)) {
        return parse__fail(cmd, "invalid_message", "content (string) is required", cmd->room_id,
                           cmd->client_msg_id, false);
    }
    why = chat_validate_content(json_string_value(content), json_string_length(content));
    if (why != NULL) {
        return parse__fail(cmd, "invalid_message", why, cmd->room_id, cmd->client_msg_id, false);
    }
    cmd->content = json_string_value(content);
    cmd->content_len = json_string_length(content);
    return true;
}

/* join / subscribe: room_id, then the optional after_seq. */
static bool parse__subscribe(gw_frame_cmd_t *cmd)
{
    json_t *v;

    if (!parse__room_id(cmd, NULL)) {
        return false;
    }
    v = json_object_get(cmd->root, "after_seq");
    if (v == NULL || json_is_null(v)) {
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return parse__fail(cmd, "invalid_message", "after_seq must be a non-negative integer",
                           cmd->room_id, NULL, false);
    }
    cmd->has_after = true;
    cmd->after_seq = json_integer_value(v);
    return true;
}

static bool parse__room_only(gw_frame_cmd_t *cmd)
{
    return parse__room_id(cmd, NULL);
}

static bool parse__nothing(gw_frame_cmd_t *cmd)
{
    (void)cmd;
    return true;
}

static bool parse__auth(gw_frame_cmd_t *cmd)
{
    cmd->token = json_string_value(json_object_get(cmd->root, "token"));
    if (cmd->token == NULL) {
        return parse__fail(cmd, "invalid_message", "token (string) is required", NULL, NULL, false);
    }
    return true;
}

static const struct {
    const char *type;
    gw_cmd_kind_t kind;
    bool (*parse)(gw_frame_cmd_t *cmd);
} parse__table[] = {
    {"message", GW_CMD_MESSAGE, parse__message},
    {"join", GW_CMD_JOIN, parse__subscribe},
    {"leave", GW_CMD_LEAVE, parse__room_only},
    {"subscribe", GW_CMD_SUBSCRIBE, parse__subscribe},
    {"unsubscribe", GW_CMD_UNSUBSCRIBE, parse__room_only},
    {"typing", GW_CMD_TYPING, parse__room_only},
    {"ping", GW_CMD_PING, parse__nothing},
    {"auth", GW_CMD_AUTH, parse__auth},
};

bool gw_frame_parse(const char *data, size_t len, gw_frame_cmd_t *cmd)
{
    json_error_t jerr;
    const char *type;

    memset(cmd, 0, sizeof(*cmd));
    cmd->root = json_loadb(data, len, 0, &jerr);
    if (cmd->root == NULL || !json_is_object(cmd->root)) {
        return parse__fail(cmd, "invalid_json", "a frame must be one JSON object", NULL, NULL,
                           true);
    }
    type = json_string_value(json_object_get(cmd->root, "type"));
    if (type == NULL) {
        return parse__fail(cmd, "invalid_message", "type (string) is required", NULL, NULL, true);
    }
    for (size_t i = 0; i < sizeof(parse__table) / sizeof(parse__table[0]); i++) {
        if (strcmp(type, parse__table[i].type) == 0) {
            cmd->kind = parse__table[i].kind;
            return parse__table[i].parse(cmd);
        }
    }
    cmd->err.frame_type = type;
    return parse__fail(cmd, "unknown_type", "unknown frame type", NULL, NULL, true);
}

void gw_frame_cmd_clear(gw_frame_cmd_t *cmd)
{
    if (cmd == NULL) {
        return;
    }
    json_decref(cmd->root);
    memset(cmd, 0, sizeof(*cmd));
}
