/*
 * test_model.c - JSON codecs of the user and room wire types: encoder shapes (null when
 * unset, RFC 3339 ms Z times, no password hash), round trips, malformed input (missing
 * field, wrong type, bad id, bad timestamp), membership lookups and the small helpers
 * (list clears, dumps, error bodies). The message codec is test_model_message.c.
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

/* ------------------------------------------------------------------ user */

static void test_user_private_shape(void **state)
{
    chat_user_t u;
    json_t *j = NULL;

    (void)state;
    make_user(&u);
    j = chat_user_to_json_private(&u);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), ID1);
    assert_string_equal(json_string_value(json_object_get(j, "username")), "alice");
    assert_string_equal(json_string_value(json_object_get(j, "email")), "alice@example.com");
    assert_true(json_is_null(json_object_get(j, "display_name")));
    assert_true(json_is_null(json_object_get(j, "avatar_url")));
    assert_string_equal(json_string_value(json_object_get(j, "created_at")), TS_TEXT);
    assert_null(json_object_get(j, "password_hash"));
    assert_null(json_object_get(j, "password"));
    json_decref(j);

    free(u.display_name);
    u.display_name = strdup(""); /* "" is unset as well */
    j = chat_user_to_json_private(&u);
    assert_true(json_is_null(json_object_get(j, "display_name")));
    json_decref(j);
    chat_user_clear(&u);
}

static void test_user_public_shape(void **state)
{
    chat_user_t u;
    json_t *j = NULL;

    (void)state;
    make_user(&u);
    u.display_name = strdup("Alice A.");
    j = chat_user_to_json_public(&u, true);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "display_name")), "Alice A.");
    assert_true(json_is_null(json_object_get(j, "avatar_url")));
    assert_true(json_is_true(json_object_get(j, "online")));
    assert_true(json_is_null(json_object_get(j, "last_seen")));
    assert_null(json_object_get(j, "email"));
    assert_null(json_object_get(j, "password_hash"));
    json_decref(j);

    u.last_seen_ms = TS_MS;
    j = chat_user_to_json_public(&u, false);
    assert_true(json_is_false(json_object_get(j, "online")));
    assert_string_equal(json_string_value(json_object_get(j, "last_seen")), TS_TEXT);
    json_decref(j);
    chat_user_clear(&u);
}

static void test_user_round_trip(void **state)
{
    chat_user_t u;
    chat_user_t back;
    json_t *j = NULL;

    (void)state;
    make_user(&u);
    u.avatar_url = strdup("https://example.com/a.png");
    j = chat_user_to_json_private(&u);
    assert_int_equal(chat_user_from_json(j, &back), CHAT_OK);
    assert_string_equal(back.id, u.id);
    assert_string_equal(back.username, u.username);
    assert_string_equal(back.email, u.email);
    assert_null(back.display_name);
    assert_string_equal(back.avatar_url, u.avatar_url);
    assert_null(back.password_hash);
    assert_int_equal(back.created_at_ms, u.created_at_ms);
    json_decref(j);
    chat_user_clear(&back);

    u.last_seen_ms = TS_MS + 1000;
    j = chat_user_to_json_public(&u, true);
    assert_int_equal(chat_user_from_json(j, &back), CHAT_OK);
    assert_null(back.email);
    assert_int_equal(back.last_seen_ms, TS_MS + 1000);
    json_decref(j);
    chat_user_clear(&back);
    chat_user_clear(&u);
}

static void test_user_malformed(void **state)
{
    static const char *const bad[] = {
        "[]",
        "\"x\"",
        "null",
        "{\"username\": \"a\"}",                     /* missing id */
        "{\"id\": \"" ID1 "\"}",                     /* missing username */
        "{\"id\": \"nothex\", \"username\": \"a\"}", /* bad id */
        "{\"id\": 5, \"username\": \"a\"}",          /* wrong type */
        "{\"id\": \"" ID1 "\", \"username\": 7}",
        "{\"id\": \"" ID1 "\", \"username\": \"a\", \"email\": 1}",
        "{\"id\": \"" ID1 "\", \"username\": \"a\", \"display_name\": []}",
        "{\"id\": \"" ID1 "\", \"username\": \"a\", \"created_at\": \"yesterday\"}",
        "{\"id\": \"" ID1 "\", \"username\": \"a\", \"created_at\": 1736937000}",
        "{\"id\": \"" ID1 "\", \"username\": \"a\\u0000b\"}", /* embedded NUL */
        "{\"id\": \"" ID1 "0\", \"username\": \"a\"}",        /* 25 chars */
    };
    chat_user_t u;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

        assert_non_null(j);
        memset(&u, 0xAB, sizeof(u));
        if (chat_user_from_json(j, &u) != CHAT_ERR_INVALID)
            fail_msg("accepted %s", bad[i]);
        assert_null(u.username); /* left zeroed */
        assert_null(u.email);
        json_decref(j);
    }
    assert_int_equal(chat_user_from_json(NULL, &u), CHAT_ERR_INVALID);
}

static void test_user_ignores_unknown(void **state)
{
    json_t *j = parse("{\"id\": \"" ID1 "\", \"username\": \"a\", \"extra\": {\"x\": 1},"
                      " \"password_hash\": \"leak\", \"display_name\": null}");
    chat_user_t u;

    (void)state;
    assert_int_equal(chat_user_from_json(j, &u), CHAT_OK);
    assert_null(u.password_hash);
    assert_null(u.display_name);
    chat_user_clear(&u);
    json_decref(j);
}

/* ------------------------------------------------------------------ room */

static void test_room_shape_and_round_trip(void **state)
{
    chat_room_t r;
    chat_room_t back;
    json_t *j = NULL;
    json_t *members = NULL;

    (void)state;
    make_room(&r);
    j = chat_room_to_json(&r);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "general");
    assert_string_equal(json_string_value(json_object_get(j, "creator_id")), ID2);
    assert_true(json_is_true(json_object_get(j, "is_private")));
    assert_true(json_is_false(json_object_get(j, "is_dm")));
    assert_string_equal(json_string_value(json_object_get(j, "created_at")), TS_TEXT);
    members = json_object_get(j, "members");
    assert_int_equal(json_array_size(members), 2);
    assert_string_equal(json_string_value(json_array_get(members, 1)), ID3);

    assert_int_equal(chat_room_from_json(j, &back), CHAT_OK);
    assert_string_equal(back.id, r.id);
    assert_string_equal(back.name, r.name);
    assert_string_equal(back.description, r.description);
    assert_string_equal(back.creator_id, r.creator_id);
    assert_int_equal(back.n_members, 2);
    assert_string_equal(back.members[0], ID2);
    assert_string_equal(back.members[1], ID3);
    assert_true(back.is_private);
    assert_false(back.is_dm);
    assert_int_equal(back.created_at_ms, TS_MS);
    json_decref(j);
    chat_room_clear(&back);
    chat_room_clear(&r);
}

static void test_room_empty_members_and_description(void **state)
{
    chat_room_t r;
    chat_room_t back;
    json_t *j = NULL;

    (void)state;
    memset(&r, 0, sizeof(r));
    strcpy(r.id, ID1);
    strcpy(r.creator_id, ID2);
    r.name = strdup("x");
    r.is_dm = true;
    j = chat_room_to_json(&r);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "description")), "");
    assert_int_equal(json_array_size(json_object_get(j, "members")), 0);
    assert_int_equal(chat_room_from_json(j, &back), CHAT_OK);
    assert_int_equal(back.n_members, 0);
    assert_string_equal(back.description, "");
    assert_true(back.is_dm);
    json_decref(j);
    chat_room_clear(&back);
    chat_room_clear(&r);
}

static void test_room_malformed(void **state)
{
    /* a valid room with one field replaced: "%s" marks where the bad part goes */
    static const char *const bad[] = {
        "{\"id\":\"" ID1 "\",\"name\":\"n\",\"creator_id\":\"" ID2 "\",\"members\":[],"
        "\"is_private\":false}", /* missing created_at */
        "{\"id\":\"" ID1 "\",\"name\":\"n\",\"creator_id\":\"" ID2 "\",\"members\":[],"
        "\"created_at\":\"" TS_TEXT "\"}", /* missing is_private */
        "{\"id\":\"" ID1 "\",\"name\":\"n\",\"creator_id\":\"" ID2 "\",\"members\":\"x\","
        "\"is_private\":false,\"created_at\":\"" TS_TEXT "\"}",
        "{\"id\":\"" ID1 "\",\"name\":\"n\",\"creator_id\":\"" ID2 "\",\"members\":[\"bad\"],"
        "\"is_private\":false,\"created_at\":\"" TS_TEXT "\"}",
        "{\"id\":\"" ID1 "\",\"name\":\"n\",\"creator_id\":\"" ID2 "\",\"members\":[\"" ID3
        "\", 5],\"is_private\":false,\"created_at\":\"" TS_TEXT "\"}",
        "{\"id\":\"" ID1 "\",\"name\":\"n\",\"creator_id\":\"" ID2 "\",\"members\":[],"
        "\"is_private\":\"no\",\"created_at\":\"" TS_TEXT "\"}",
        "{\"id\":\"" ID1 "\",\"name\":\"n\",\"creator_id\":\"" ID2 "\",\"members\":[],"
        "\"is_private\":false,\"is_dm\":1,\"created_at\":\"" TS_TEXT "\"}",
        "{\"id\":\"" ID1 "\",\"name\":3,\"creator_id\":\"" ID2 "\",\"members\":[],"
        "\"is_private\":false,\"created_at\":\"" TS_TEXT "\"}",
        "{\"id\":\"" ID1 "\",\"name\":\"n\",\"creator_id\":\"zz\",\"members\":[],"
        "\"is_private\":false,\"created_at\":\"" TS_TEXT "\"}",
        "{\"id\":\"" ID1 "\",\"name\":\"n\",\"creator_id\":\"" ID2 "\",\"members\":[],"
        "\"is_private\":false,\"created_at\":\"2025-02-30T00:00:00Z\"}",
        "{\"id\":\"" ID1 "\",\"name\":\"n\",\"description\":false,\"creator_id\":\"" ID2
        "\",\"members\":[],\"is_private\":false,\"created_at\":\"" TS_TEXT "\"}",
        "[1,2]",
        "42",
    };
    chat_room_t r;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);

        assert_non_null(j);
        if (chat_room_from_json(j, &r) != CHAT_ERR_INVALID)
            fail_msg("accepted %s", bad[i]);
        assert_null(r.name);
        assert_null(r.members);
        assert_int_equal(r.n_members, 0);
        json_decref(j);
    }
}

static void test_room_has_member(void **state)
{
    chat_room_t r;

    (void)state;
    make_room(&r);
    assert_true(chat_room_has_member(&r, ID2));
    assert_true(chat_room_has_member(&r, ID3));
    assert_true(chat_room_has_member(&r, "65A1B2C3D4E5F60718293A4D"));
    assert_false(chat_room_has_member(&r, ID1));
    assert_false(chat_room_has_member(&r, NULL));
    assert_false(chat_room_has_member(NULL, ID1));
    chat_room_clear(&r);
    assert_false(chat_room_has_member(&r, ID2));
}

/* ------------------------------------------------------------------ misc */

static void test_lists_and_clears(void **state)
{
    chat_message_list_t ml = {NULL, 0};
    chat_room_list_t rl = {NULL, 0};
    chat_user_t u;
    chat_room_t r;
    chat_message_t m;

    (void)state;
    memset(&u, 0, sizeof(u));
    memset(&r, 0, sizeof(r));
    memset(&m, 0, sizeof(m));
    chat_user_clear(&u); /* zeroed structs and NULL are fine */
    chat_room_clear(&r);
    chat_message_clear(&m);
    chat_user_clear(NULL);
    chat_room_clear(NULL);
    chat_message_clear(NULL);
    chat_message_list_clear(NULL);
    chat_room_list_clear(NULL);
    chat_message_list_clear(&ml);
    chat_room_list_clear(&rl);

    ml.items = calloc(2, sizeof(*ml.items));
    ml.n = 2;
    make_message(&ml.items[0]);
    make_message(&ml.items[1]);
    chat_message_list_clear(&ml);
    assert_null(ml.items);
    assert_int_equal(ml.n, 0);

    rl.items = calloc(1, sizeof(*rl.items));
    rl.n = 1;
    make_room(&rl.items[0]);
    chat_room_list_clear(&rl);
    assert_null(rl.items);
}

static void test_dumps_and_error(void **state)
{
    json_t *e = chat_json_error("not_found", "no such room");
    char *s = chat_json_dumps(e);

    (void)state;
    assert_string_equal(s, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such room\"}}");
    free(s);
    json_decref(e);

    e = chat_json_error(NULL, "bad \xff utf8");
    assert_non_null(e);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "error"), "code")),
                        "internal_error");
    json_decref(e);
    assert_null(chat_json_dumps(NULL));
}

/* The one member event encoder (REST, the membership commit, user channels and the
 * gateway all send this shape). */
static void test_member_event_shape(void **state)
{
    json_t *added = chat_member_event_to_json(true, "r1", "u1");
    json_t *removed = chat_member_event_to_json(false, "r2", "u2");

    (void)state;
    assert_int_equal(json_object_size(added), 3);
    assert_string_equal(json_string_value(json_object_get(added, "type")), "member_added");
    assert_string_equal(json_string_value(json_object_get(added, "room_id")), "r1");
    assert_string_equal(json_string_value(json_object_get(added, "user_id")), "u1");
    assert_string_equal(json_string_value(json_object_get(removed, "type")), "member_removed");
    assert_string_equal(json_string_value(json_object_get(removed, "room_id")), "r2");
    assert_string_equal(json_string_value(json_object_get(removed, "user_id")), "u2");
    json_decref(added);
    json_decref(removed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_private_shape),
        cmocka_unit_test(test_user_public_shape),
        cmocka_unit_test(test_user_round_trip),
        cmocka_unit_test(test_user_malformed),
        cmocka_unit_test(test_user_ignores_unknown),
        cmocka_unit_test(test_room_shape_and_round_trip),
        cmocka_unit_test(test_room_empty_members_and_description),
        cmocka_unit_test(test_room_malformed),
        cmocka_unit_test(test_room_has_member),
        cmocka_unit_test(test_lists_and_clears),
        cmocka_unit_test(test_dumps_and_error),
        cmocka_unit_test(test_member_event_shape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
