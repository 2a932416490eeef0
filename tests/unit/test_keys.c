/*
 * test_keys.c - Redis key names: the documented layout, and truncation that yields
 * NULL and "" instead of a shortened (aliasing) name.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "chat/keys.h"

#define ID "65a1b2c3d4e5f60718293a4b"

static void test_layout(void **state)
{
    char buf[CHAT_KEY_LEN];

    (void)state;
    assert_ptr_equal(chat_key_room_channel(ID, buf, sizeof(buf)), buf);
    assert_string_equal(buf, "chat:room:{" ID "}"); /* a hash tag: one slot with its keys */
    assert_int_equal(strncmp(buf, CHAT_ROOM_CHANNEL_PREFIX, strlen(CHAT_ROOM_CHANNEL_PREFIX)), 0);
    assert_ptr_equal(chat_key_presence(ID, buf, sizeof(buf)), buf);
    assert_string_equal(buf, "chat:presence:" ID);
    assert_ptr_equal(chat_key_ratelimit("login_ip", "10.0.0.1", buf, sizeof(buf)), buf);
    assert_string_equal(buf, "chat:rl:login_ip:10.0.0.1");
    assert_ptr_equal(chat_key_tagged(ID, "win", buf, sizeof(buf)), buf);
    assert_string_equal(buf, "chat:{" ID "}:win");
    assert_ptr_equal(chat_key_login("bob@example.com", buf, sizeof(buf)), buf);
    assert_string_equal(buf, "chat:login:bob@example.com");
    assert_null(chat_key_tagged(NULL, "win", buf, sizeof(buf)));
}

static void test_channel_ids(void **state)
{
    char buf[CHAT_KEY_LEN];
    char id[25];

    (void)state;
    assert_ptr_equal(chat_key_user_channel(ID, buf, sizeof(buf)), buf);
    assert_string_equal(buf, "chat:user:{" ID "}");
    assert_true(chat_key_channel_id(buf, CHAT_USER_CHANNEL_PREFIX, CHAT_USER_CHANNEL_SUFFIX, id));
    assert_string_equal(id, ID);
    assert_false(chat_key_channel_id(buf, CHAT_ROOM_CHANNEL_PREFIX, CHAT_ROOM_CHANNEL_SUFFIX, id));
    chat_key_room_channel(ID, buf, sizeof(buf));
    assert_true(chat_key_channel_id(buf, CHAT_ROOM_CHANNEL_PREFIX, CHAT_ROOM_CHANNEL_SUFFIX, id));
    assert_false(chat_key_channel_id("chat:room:{abc}", CHAT_ROOM_CHANNEL_PREFIX,
                                     CHAT_ROOM_CHANNEL_SUFFIX, id));
    assert_false(chat_key_channel_id("chat:room:{" ID "}x", CHAT_ROOM_CHANNEL_PREFIX,
                                     CHAT_ROOM_CHANNEL_SUFFIX, id));
    assert_false(chat_key_channel_id(NULL, CHAT_ROOM_CHANNEL_PREFIX, CHAT_ROOM_CHANNEL_SUFFIX, id));
}

static void test_truncation(void **state)
{
    char small[16];
    char exact[sizeof("chat:room:{" ID "}")];

    (void)state;
    memset(small, 'x', sizeof(small));
    assert_null(chat_key_room_channel(ID, small, sizeof(small)));
    assert_string_equal(small, "");
    assert_null(chat_key_presence(ID, small, sizeof(small)));
    assert_string_equal(small, "");
    assert_null(chat_key_ratelimit("msg", ID, small, sizeof(small)));
    assert_string_equal(small, "");
    /* exactly fits, and one byte less does not */
    assert_non_null(chat_key_room_channel(ID, exact, sizeof(exact)));
    assert_string_equal(exact, "chat:room:{" ID "}");
    assert_null(chat_key_room_channel(ID, exact, sizeof(exact) - 1));
    assert_null(chat_key_room_channel(ID, NULL, 0));
    assert_null(chat_key_room_channel(ID, exact, 0));
}

static void test_null_parts(void **state)
{
    char buf[CHAT_KEY_LEN];

    (void)state;
    assert_null(chat_key_room_channel(NULL, buf, sizeof(buf)));
    assert_string_equal(buf, "");
    assert_null(chat_key_presence(NULL, buf, sizeof(buf)));
    assert_null(chat_key_ratelimit("msg", NULL, buf, sizeof(buf)));
    assert_null(chat_key_ratelimit(NULL, "x", buf, sizeof(buf)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_channel_ids),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_null_parts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
