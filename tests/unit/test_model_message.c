/*
 * test_model_message.c - the JSON codec of the message wire type: encoder shape and
 * round trip, malformed input (missing field, wrong type, bad id, bad timestamp),
 * non-object input and defaults. User and room are test_model.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chat/model.h"

#include "model_fixture.h"

/* ------------------------------------------------------------------ message */

static void test_message_shape_and_round_trip(void **state)
{
    chat_message_t m;
    chat_message_t back;
    json_t *j = NULL;

    (void)state;
    make_message(&m);
    j = chat_message_to_json(&m);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "text");
    assert_string_equal(json_string_value(json_object_get(j, "timestamp")), TS_TEXT);
    assert_int_equal(json_integer_value(json_object_get(j, "seq")), 42);
    assert_string_equal(json_string_value(json_object_get(j, "client_msg_id")), "c-1");
    assert_string_equal(json_string_value(json_object_get(j, "content")), m.content);

    assert_int_equal(chat_message_from_json(j, &back), CHAT_OK);
    assert_string_equal(back.id, ID1);
    assert_string_equal(back.room_id, ID2);
    assert_string_equal(back.user_id, ID3);
    assert_string_equal(back.username, "bob");
    assert_string_equal(back.content, m.content);
    assert_string_equal(back.client_msg_id, "c-1");
    assert_int_equal(back.type, CHAT_MSG_TEXT);
    assert_int_equal(back.seq, 42);
    assert_int_equal(back.timestamp_ms, TS_MS);
    json_decref(j);
    chat_message_clear(&back);

    /* system message without client_msg_id: field omitted, type kept */
    free(m.client_msg_id);
    m.client_msg_id = NULL;
    m.type = CHAT_MSG_SYSTEM;
    j = chat_message_to_json(&m);
    assert_null(json_object_get(j, "client_msg_id"));
    assert_string_equal(json_string_value(json_object_get(j, "type")), "system");
    assert_int_equal(chat_message_from_json(j, &back), CHAT_OK);
    assert_int_equal(back.type, CHAT_MSG_SYSTEM);
    assert_null(back.client_msg_id);
    json_decref(j);
    chat_message_clear(&back);
    chat_message_clear(&m);
}

static void test_message_malformed(void **state)
{
    static const char *const fields[][2] = {
        {"id", NULL},
        {"room_id", NULL},
        {"user_id", NULL},
        {"username", NULL},
        {"content", NULL},
        {"seq", NULL},
        {"timestamp", NULL},
        {"id", "\"123\""},
        {"room_id", "\"" ID1 "x\""},
        {"user_id", "\"zzzzzzzzzzzzzzzzzzzzzzzz\""},
        {"username", "null"},
        {"content", "42"},
        {"content", "[\"x\"]"},
        {"seq", "0"},
        {"seq", "-3"},
        {"seq", "1.5"},
        {"seq", "\"7\""},
        {"timestamp", "\"2025-01-15\""},
        {"timestamp", "1736937000123"},
        {"timestamp", "\"2025-01-15T10:30:00\""},
        {"type", "\"html\""},
        {"type", "1"},
        {"type", "null"},
        {"client_msg_id", "5"},
    };
    chat_message_t m;

    (void)state;
    make_message(&m);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_t *j = chat_message_to_json(&m);
        chat_message_t out;

        if (fields[i][1] == NULL) {
            json_object_del(j, fields[i][0]);
        } else {
            json_t *v = json_loads(fields[i][1], JSON_DECODE_ANY, NULL);

            assert_non_null(v);
            json_object_set_new(j, fields[i][0], v);
        }
        if (chat_message_from_json(j, &out) != CHAT_ERR_INVALID)
            fail_msg("accepted %s = %s", fields[i][0], fields[i][1] ? fields[i][1] : "(absent)");
        assert_null(out.username);
        assert_null(out.content);
        json_decref(j);
    }
    chat_message_clear(&m);
}

static void test_message_non_object_and_defaults(void **state)
{
    chat_message_t out;
    json_t *j = parse("[]");

    (void)state;
    assert_int_equal(chat_message_from_json(j, &out), CHAT_ERR_INVALID);
    json_decref(j);
    assert_int_equal(chat_message_from_json(NULL, &out), CHAT_ERR_INVALID);

    /* no type means text; client_msg_id null is absent; unknown fields ignored */
    j = parse("{\"id\":\"" ID1 "\",\"room_id\":\"" ID2 "\",\"user_id\":\"" ID3 "\","
              "\"username\":\"u\",\"content\":\"c\",\"seq\":1,"
              "\"timestamp\":\"2025-01-15T10:30:00Z\",\"client_msg_id\":null,\"zzz\":[1]}");
    assert_int_equal(chat_message_from_json(j, &out), CHAT_OK);
    assert_int_equal(out.type, CHAT_MSG_TEXT);
    assert_null(out.client_msg_id);
    assert_int_equal(out.seq, 1);
    assert_int_equal(out.timestamp_ms, INT64_C(1736937000000));
    chat_message_clear(&out);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_shape_and_round_trip),
        cmocka_unit_test(test_message_malformed),
        cmocka_unit_test(test_message_non_object_and_defaults),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
