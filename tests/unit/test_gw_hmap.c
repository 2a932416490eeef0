/*
 * test_gw_hmap.c - the string-keyed hash map (common/src/hmap.c): put, get,
 * replace, remove, iteration (also removing the current entry), growth through many
 * doublings (its FNV-1a is test_hash.c's); and distinct_ids.c, which
 * dedupes a room's watchers linearly or through a map.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/src/hmap.c" /* its buckets are looked at */
#include "../../ws-gateway/distinct_ids.c"

#define MANY 5000

static void test_put_get_remove(void **state)
{
    chat_hmap_t *m = chat_hmap_create(0);
    int a;
    int b;
    int c;

    (void)state;
    assert_non_null(m);
    assert_int_equal(chat_hmap_size(m), 0);
    assert_null(chat_hmap_get(m, "a"));
    assert_int_equal(chat_hmap_put(m, "a", &a), 0);
    assert_int_equal(chat_hmap_put(m, "b", &b), 0);
    assert_ptr_equal(chat_hmap_get(m, "a"), &a);
    assert_ptr_equal(chat_hmap_get(m, "b"), &b);
    assert_int_equal(chat_hmap_size(m), 2);
    /* replace keeps one entry */
    assert_int_equal(chat_hmap_put(m, "a", &c), 0);
    assert_ptr_equal(chat_hmap_get(m, "a"), &c);
    assert_int_equal(chat_hmap_size(m), 2);
    /* keys are copied, and matched whole */
    {
        char key[8] = "b";
        chat_hmap_put(m, key, &b);
        key[0] = 'x';
        assert_ptr_equal(chat_hmap_get(m, "b"), &b);
        assert_null(chat_hmap_get(m, "x"));
        assert_null(chat_hmap_get(m, "bb"));
        assert_null(chat_hmap_get(m, ""));
    }
    assert_ptr_equal(chat_hmap_remove(m, "a"), &c);
    assert_null(chat_hmap_get(m, "a"));
    assert_null(chat_hmap_remove(m, "a"));
    assert_null(chat_hmap_remove(m, "never"));
    assert_int_equal(chat_hmap_size(m), 1);
    chat_hmap_destroy(m);
    chat_hmap_destroy(NULL);
    assert_int_equal(chat_hmap_size(NULL), 0);
}

static void test_grow_and_iterate(void **state)
{
    chat_hmap_t *m = chat_hmap_create(1);
    static int vals[MANY];
    static char seen[MANY];
    chat_hmap_iter_t it;
    const char *key;
    void *v;
    size_t n = 0;

    (void)state;
    assert_int_equal(m->n_buckets, 8);
    for (int i = 0; i < MANY; i++) {
        char k[16];
        snprintf(k, sizeof(k), "room-%d", i);
        vals[i] = i;
        assert_int_equal(chat_hmap_put(m, k, &vals[i]), 0);
    }
    assert_int_equal(chat_hmap_size(m), MANY);
    assert_true(m->n_buckets >= MANY); /* grew at load factor 1 */
    for (int i = 0; i < MANY; i++) {
        char k[16];
        snprintf(k, sizeof(k), "room-%d", i);
        assert_ptr_equal(chat_hmap_get(m, k), &vals[i]);
    }
    /* every entry exactly once, each with its own value */
    chat_hmap_iter_init(&it, m);
    while (chat_hmap_next(&it, &key, &v)) {
        int i = *(int *)v;
        char k[16];
        snprintf(k, sizeof(k), "room-%d", i);
        assert_string_equal(key, k);
        assert_int_equal(seen[i], 0);
        seen[i] = 1;
        n++;
    }
    assert_int_equal(n, MANY);
    /* removing the current entry while iterating: every even key goes */
    chat_hmap_iter_init(&it, m);
    while (chat_hmap_next(&it, &key, &v)) {
        if (*(int *)v % 2 == 0) {
            assert_ptr_equal(chat_hmap_remove(m, key), v);
        }
    }
    assert_int_equal(chat_hmap_size(m), MANY / 2);
    n = 0;
    chat_hmap_iter_init(&it, m);
    while (chat_hmap_next(&it, NULL, &v)) {
        assert_int_equal(*(int *)v % 2, 1);
        n++;
    }
    assert_int_equal(n, MANY / 2);
    assert_null(chat_hmap_get(m, "room-0"));
    assert_ptr_equal(chat_hmap_get(m, "room-1"), &vals[1]);
    chat_hmap_destroy(m);

    /* an empty map and no map iterate to nothing */
    m = chat_hmap_create(4);
    chat_hmap_iter_init(&it, m);
    assert_int_equal(chat_hmap_next(&it, &key, &v), 0);
    chat_hmap_destroy(m);
    chat_hmap_iter_init(&it, NULL);
    assert_int_equal(chat_hmap_next(&it, &key, &v), 0);
}

static void distinct_of(const char **ids, size_t n, char (*out)[CHAT_ID_LEN], size_t *got,
                        size_t *fresh)
{
    gw_distinct_t d;

    gw_distinct_init(&d, out, n);
    *fresh = 0;
    for (size_t i = 0; i < n; i++) {
        *fresh += gw_distinct_add(&d, ids[i]);
    }
    *got = gw_distinct_done(&d);
    assert_null(d.seen);
}

static void test_distinct_ids(void **state)
{
    const char *few[] = {"u1", "u2", "u1", "u3", "u2"};
    const char *many[100];
    char names[100][8];
    char out[100][CHAT_ID_LEN];
    size_t got;
    size_t fresh;

    (void)state;
    distinct_of(few, 5, out, &got, &fresh);
    assert_int_equal(got, 3);
    assert_int_equal(fresh, 3);
    assert_string_equal(out[0], "u1");
    assert_string_equal(out[1], "u2");
    assert_string_equal(out[2], "u3");
    /* past GW_DISTINCT_MAP_AT: through the map, same answer, first-seen order */
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof(names[i]), "u%d", i % 40);
        many[i] = names[i];
    }
    {
        gw_distinct_t d;
        gw_distinct_init(&d, out, 100);
        assert_non_null(d.seen);
        gw_distinct_done(&d);
    }
    distinct_of(many, 100, out, &got, &fresh);
    assert_int_equal(got, 40);
    assert_int_equal(fresh, 40);
    for (int i = 0; i < 40; i++) {
        char k[8];
        snprintf(k, sizeof(k), "u%d", i);
        assert_string_equal(out[i], k);
    }
    /* an id too long is cut, never overflows its slot */
    {
        char longid[64];
        const char *one[] = {longid};
        memset(longid, 'x', sizeof(longid) - 1);
        longid[sizeof(longid) - 1] = '\0';
        distinct_of(one, 1, out, &got, &fresh);
        assert_int_equal(strlen(out[0]), CHAT_ID_LEN - 1);
    }
}

static int freed;

static void count_free(void *v)
{
    freed++;
    free(v);
}

/* clear hands every value to its free function, empties the map and leaves it usable */
static void test_clear(void **state)
{
    chat_hmap_t *m = chat_hmap_create(2);
    chat_hmap_iter_t it;
    void *v;
    char key[16];

    (void)state;
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(chat_hmap_put(m, key, malloc(8)), 0);
    }
    freed = 0;
    chat_hmap_clear(m, count_free);
    assert_int_equal(freed, 50);
    assert_int_equal(chat_hmap_size(m), 0);
    assert_null(chat_hmap_get(m, "k7"));
    chat_hmap_iter_init(&it, m);
    assert_int_equal(chat_hmap_next(&it, NULL, &v), 0);
    assert_int_equal(chat_hmap_put(m, "k7", &freed), 0); /* still usable */
    assert_ptr_equal(chat_hmap_get(m, "k7"), &freed);
    chat_hmap_clear(m, NULL); /* values the caller keeps */
    assert_int_equal(chat_hmap_size(m), 0);
    chat_hmap_destroy(m);
    chat_hmap_clear(NULL, count_free);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_remove),
        cmocka_unit_test(test_grow_and_iterate),
        cmocka_unit_test(test_clear),
        cmocka_unit_test(test_distinct_ids),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
