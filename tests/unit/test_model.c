/*
 * test_model.c - JSON codecs of the wire types: encoder shapes (null when unset,
 * RFC 3339 ms Z times, no password hash), round trips for user, room and message,
 * malformed input (missing field, wrong type, bad id, bad timestamp, non-object),
 * deep copy and the small helpers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chat/model.h"

#define ID1 "65a1b2c3d4e5f60718293a4b"
#define ID2 "65a1b2c3d4e5f60718293a4c"
#define ID3 "65a1b2c3d4e5f60718293a4d"
#define TS_MS INT64_C(1736937000123)
#define TS_TEXT "2025-01-15T10:30:00.123Z"

static json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);

    if (j == NULL)
        fail_msg("test JSON does not parse: %s: %s", err.text, text);
    return j;
}

static void make_user(chat_user_t *u)
{
    memset(u, 0, sizeof(*u));
    strcpy(u->id, ID1);
    u->username = strdup("alice");
    u->email = strdup("alice@example.com");
    u->password_hash = strdup("$2b$04$abcdefghijklmnopqrstuuK5Kk4hL3o4l9Q0Hq1u1Xc8bYgKc6e2m");
    u->created_at_ms = TS_MS;
}

static void make_room(chat_room_t *r)
{
    memset(r, 0, sizeof(*r));
    strcpy(r->id, ID1);
    r->name = strdup("general");
    r->description = strdup("talk <b>here</b> \"quoted\"");
    strcpy(r->creator_id, ID2);
    r->members = calloc(2, sizeof(*r->members));
    strcpy(r->members[0], ID2);
    strcpy(r->members[1], ID3);
    r->n_members = 2;
    r->is_private = true;
    r->created_at_ms = TS_MS;
}

static void make_message(chat_message_t *m)
{
    memset(m, 0, sizeof(*m));
    strcpy(m->id, ID1);
    strcpy(m->room_id, ID2);
    strcpy(m->user_id, ID3);
    m->username = strdup("bob");
    m->content = strdup("héllo\nwörld \xf0\x9f\x98\x80 <script>");
    m->client_msg_id = strdup("c-1");
    m->type = CHAT_MSG_TEXT;
    m->seq = 42;
    m->timestamp_ms = TS_MS;
}

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
        "{\"username\": \"a\"}",                                   /* missing id */
        "{\"id\": \"" ID1 "\"}",                                    /* missing username */
        "{\"id\": \"nothex\", \"username\": \"a\"}",                /* bad id */
        "{\"id\": 5, \"username\": \"a\"}",                         /* wrong type */
        "{\"id\": \"" ID1 "\", \"username\": 7}",
        "{\"id\": \"" ID1 "\", \"username\": \"a\", \"email\": 1}",
        "{\"id\": \"" ID1 "\", \"username\": \"a\", \"display_name\": []}",
        "{\"id\": \"" ID1 "\", \"username\": \"a\", \"created_at\": \"yesterday\"}",
        "{\"id\": \"" ID1 "\", \"username\": \"a\", \"created_at\": 1736937000}",
        "{\"id\": \"" ID1 "\", \"username\": \"a\\u0000b\"}",     /* embedded NUL */
        "{\"id\": \"" ID1 "0\", \"username\": \"a\"}",              /* 25 chars */
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
        {"id", NULL}, {"room_id", NULL}, {"user_id", NULL}, {"username", NULL},
        {"content", NULL}, {"seq", NULL}, {"timestamp", NULL},
        {"id", "\"123\""}, {"room_id", "\"" ID1 "x\""}, {"user_id", "\"zzzzzzzzzzzzzzzzzzzzzzzz\""},
        {"username", "null"}, {"content", "42"}, {"content", "[\"x\"]"},
        {"seq", "0"}, {"seq", "-3"}, {"seq", "1.5"}, {"seq", "\"7\""},
        {"timestamp", "\"2025-01-15\""}, {"timestamp", "1736937000123"},
        {"timestamp", "\"2025-01-15T10:30:00\""},
        {"type", "\"html\""}, {"type", "1"}, {"type", "null"},
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

static void test_message_copy(void **state)
{
    chat_message_t m;
    chat_message_t c;

    (void)state;
    make_message(&m);
    memset(&c, 0, sizeof(c));
    assert_int_equal(chat_message_copy(&c, &m), CHAT_OK);
    assert_ptr_not_equal(c.content, m.content);
    assert_ptr_not_equal(c.username, m.username);
    assert_string_equal(c.content, m.content);
    assert_string_equal(c.client_msg_id, m.client_msg_id);
    assert_string_equal(c.id, m.id);
    assert_int_equal(c.seq, m.seq);
    chat_message_clear(&m); /* the copy must survive the original */
    assert_string_equal(c.username, "bob");
    chat_message_clear(&c);
    assert_int_equal(chat_message_copy(NULL, &m), CHAT_ERR_INVALID);
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
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(e, "error"), "code")),
        "internal_error");
    json_decref(e);
    assert_null(chat_json_dumps(NULL));
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
        cmocka_unit_test(test_message_shape_and_round_trip),
        cmocka_unit_test(test_message_malformed),
        cmocka_unit_test(test_message_non_object_and_defaults),
        cmocka_unit_test(test_message_copy),
        cmocka_unit_test(test_lists_and_clears),
        cmocka_unit_test(test_dumps_and_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
