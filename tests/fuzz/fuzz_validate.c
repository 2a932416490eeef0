/*
 * fuzz_validate.c - libFuzzer harness of the input rules (common/src/validate.c) and
 * the JSON decoders of the wire types (common/src/model.c) that read what the servers
 * share through Redis (messages of the hot window, cached rooms and users).
 * The first input byte picks the target; the rest is the value:
 *   0: every validator on the value as a C string, the UTF-8 decoder on the raw
 *      bytes, the content rule, ascii lower-casing;
 *   1: the value as JSON through chat_{message,room,user}_from_json, and whatever
 *      decodes is encoded again and must decode to the same struct.
 * Checks, beyond ASan/UBSan: validators agree with the UTF-8 decoder; round trips hold.
 *
 * Thread: libFuzzer's (single-threaded).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "chat/model.h"
#include "chat/validate.h"

static bool fuzz__str_eq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void fuzz__validators(const uint8_t *data, size_t size)
{
    char *s = strndup((const char *)data, size);
    size_t n = 0;
    long chars = chat_utf8_length((const char *)data, size);
    char lower[64];

    FUZZ_CHECK(s != NULL);
    n = strlen(s);
    FUZZ_CHECK(chars >= -1 && chars <= (long)size);
    if (chat_validate_content((const char *)data, size) == NULL) {
        FUZZ_CHECK(chars >= 1 && chars <= CHAT_CONTENT_MAX_CHARS);
    }
    (void)chat_validate_username(s);
    (void)chat_validate_email(s);
    (void)chat_validate_password(s);
    (void)chat_validate_client_msg_id(s);
    if (chat_validate_room_name(s) == NULL || chat_validate_display_name(s) == NULL ||
        chat_validate_description(s) == NULL) {
        FUZZ_CHECK(chat_utf8_length(s, n) >= 0);
    }
    (void)chat_validate_avatar_url(s);
    if (chat_validate_object_id(s)) {
        FUZZ_CHECK(n == CHAT_ID_LEN - 1);
    }
    chat_ascii_lower(s, lower, sizeof(lower));
    FUZZ_CHECK(strlen(lower) < sizeof(lower));
    free(s);
}

static void fuzz__message(const json_t *j)
{
    chat_message_t a;
    chat_message_t b;
    json_t *again = NULL;

    if (chat_message_from_json(j, &a) != CHAT_OK) {
        return;
    }
    again = chat_message_to_json(&a);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(chat_message_from_json(again, &b) == CHAT_OK);
    FUZZ_CHECK(strcmp(a.id, b.id) == 0 && strcmp(a.room_id, b.room_id) == 0 &&
               strcmp(a.user_id, b.user_id) == 0 && fuzz__str_eq(a.username, b.username) &&
               fuzz__str_eq(a.content, b.content) &&
               fuzz__str_eq(a.client_msg_id, b.client_msg_id) && a.type == b.type &&
               a.seq == b.seq && a.timestamp_ms == b.timestamp_ms);
    json_decref(again);
    chat_message_clear(&a);
    chat_message_clear(&b);
}

static void fuzz__room(const json_t *j)
{
    chat_room_t a;
    chat_room_t b;
    json_t *again = NULL;

    if (chat_room_from_json(j, &a) != CHAT_OK) {
        return;
    }
    again = chat_room_to_json(&a);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(chat_room_from_json(again, &b) == CHAT_OK);
    FUZZ_CHECK(strcmp(a.id, b.id) == 0 && fuzz__str_eq(a.name, b.name) &&
               fuzz__str_eq(a.description, b.description) &&
               strcmp(a.creator_id, b.creator_id) == 0 && a.n_members == b.n_members &&
               a.is_private == b.is_private && a.is_dm == b.is_dm &&
               a.created_at_ms == b.created_at_ms);
    for (size_t i = 0; i < a.n_members; i++) {
        FUZZ_CHECK(strcmp(a.members[i], b.members[i]) == 0);
    }
    json_decref(again);
    chat_room_clear(&a);
    chat_room_clear(&b);
}

static void fuzz__user(const json_t *j)
{
    chat_user_t a;
    chat_user_t b;
    json_t *again = NULL;

    if (chat_user_from_json(j, &a) != CHAT_OK) {
        return;
    }
    again = chat_user_to_json_private(&a);
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(chat_user_from_json(again, &b) == CHAT_OK);
    FUZZ_CHECK(strcmp(a.id, b.id) == 0 && fuzz__str_eq(a.username, b.username) &&
               a.created_at_ms == b.created_at_ms);
    json_decref(again);
    again = chat_user_to_json_public(&a, true);
    FUZZ_CHECK(again != NULL);
    json_decref(again);
    chat_user_clear(&a);
    chat_user_clear(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = NULL;

    if (size < 1) {
        return 0;
    }
    if (data[0] % 2 == 0) {
        fuzz__validators(data + 1, size - 1);
        return 0;
    }
    j = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    if (j != NULL) {
        fuzz__message(j);
        fuzz__room(j);
        fuzz__user(j);
        json_decref(j);
    }
    return 0;
}
