/*
 * test_hash.c - hash.h: FNV-1a in 32 and 64 bits against the published test vectors,
 * incremental hashing equal to hashing at once, and a continued hash from another base
 * (as message_idem.c uses it). Pure; no services.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "chat/hash.h"

static void test_fnv1a32_vectors(void **state)
{
    (void)state;
    assert_int_equal(chat_hash_fnv1a32(""), 0x811c9dc5u);
    assert_int_equal(chat_hash_fnv1a32("a"), 0xe40c292cu);
    assert_int_equal(chat_hash_fnv1a32("foobar"), 0xbf9cf968u);
    assert_int_equal(chat_hash_fnv1a32_update(CHAT_HASH_FNV1A32_BASIS, "foobar", 3),
                     chat_hash_fnv1a32("foo"));
    assert_int_equal(chat_hash_fnv1a32_update(chat_hash_fnv1a32("foo"), "bar", 3),
                     chat_hash_fnv1a32("foobar"));
}

static void test_fnv1a64_vectors(void **state)
{
    uint64_t h = CHAT_HASH_FNV1A64_BASIS;

    (void)state;
    assert_true(chat_hash_fnv1a64("") == 0xcbf29ce484222325ull);
    assert_true(chat_hash_fnv1a64("a") == 0xaf63dc4c8601ec8cull);
    assert_true(chat_hash_fnv1a64("foobar") == 0x85944171f73967e8ull);
    for (const char *p = "foobar"; *p != '\0'; p++) {
        h = chat_hash_fnv1a64_update(h, p, 1); /* a byte at a time, as limits.c does */
    }
    assert_true(h == chat_hash_fnv1a64("foobar"));
    /* another base is another hash of the same bytes */
    assert_true(chat_hash_fnv1a64_update(0x84222325cbf29ce4ull, "foobar", 6) !=
                chat_hash_fnv1a64("foobar"));
    assert_true(chat_hash_fnv1a64_update(0x84222325cbf29ce4ull, "", 0) == 0x84222325cbf29ce4ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fnv1a32_vectors),
        cmocka_unit_test(test_fnv1a64_vectors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
