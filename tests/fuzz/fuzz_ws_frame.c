/*
 * fuzz_ws_frame.c - libFuzzer harness of the gateway's client frames: what
 * session.c does with one reassembled text frame (the strict UTF-8 check that closes
 * with 1007), then ws-gateway/frame_parse.c (JSON parsing and the field checks of every
 * frame type) and the JSON of the error frame it would answer with.
 * Checks, beyond ASan/UBSan: a parsed command's fields obey their rules; an error has
 * a code and a message that serialise as JSON.
 *
 * Thread: libFuzzer's (single-threaded); no network, no clock.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "chat/validate.h"
#include "../../ws-gateway/frame_parse.h"

/* The error frame gw_session_send_error would build (same fields, same packing). */
static void fuzz__error_frame(const gw_frame_error_t *e)
{
    json_t *extra = e->frame_type != NULL ? json_pack("{s:s}", "frame_type", e->frame_type) : NULL;
    json_t *f =
        json_pack("{s:s, s:s, s:s, s:s?, s:s?}", "type", "error", "code", e->code, "message",
                  e->message, "room_id", e->room_id, "client_msg_id", e->client_msg_id);
    char *text = NULL;

    FUZZ_CHECK(f != NULL);
    if (extra != NULL) {
        FUZZ_CHECK(json_object_update(f, extra) == 0);
    }
    text = json_dumps(f, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(chat_utf8_length(text, strlen(text)) >= 0);
    free(text);
    json_decref(extra);
    json_decref(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gw_frame_cmd_t cmd;

    /* session.c closes with 1007 before any parsing when the frame is not UTF-8 */
    if (chat_utf8_length((const char *)data, size) < 0) {
        return 0;
    }
    if (gw_frame_parse((const char *)data, size, &cmd)) {
        FUZZ_CHECK(cmd.root != NULL && json_is_object(cmd.root));
        switch (cmd.kind) {
        case GW_CMD_MESSAGE:
            FUZZ_CHECK(cmd.content != NULL);
            FUZZ_CHECK(chat_validate_content(cmd.content, cmd.content_len) == NULL);
            FUZZ_CHECK(cmd.client_msg_id == NULL ||
                       chat_validate_client_msg_id(cmd.client_msg_id) == NULL);
            /* fall through: a message names its room too */
        case GW_CMD_JOIN:
        case GW_CMD_LEAVE:
        case GW_CMD_SUBSCRIBE:
        case GW_CMD_UNSUBSCRIBE:
        case GW_CMD_TYPING:
            FUZZ_CHECK(cmd.room_id != NULL && chat_validate_object_id(cmd.room_id));
            FUZZ_CHECK(!cmd.has_after || cmd.after_seq >= 0);
            break;
        case GW_CMD_PING:
            break;
        case GW_CMD_AUTH:
            FUZZ_CHECK(cmd.token != NULL);
            break;
        default:
            FUZZ_CHECK(!"unknown command kind");
        }
    } else {
        FUZZ_CHECK(cmd.err.code != NULL && cmd.err.message != NULL);
        FUZZ_CHECK(cmd.err.room_id == NULL ||
                   chat_utf8_length(cmd.err.room_id, strlen(cmd.err.room_id)) >= 0);
        fuzz__error_frame(&cmd.err);
    }
    gw_frame_cmd_clear(&cmd);
    return 0;
}
