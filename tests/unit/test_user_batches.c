/*
 * test_user_batches.c - the admission batch reads against a real MongoDB/FerretDB and
 * Redis: chat_user_exist_many (cached users, unknown and malformed ids, the misses
 * cached afterwards; users answered from the set of all ids without MongoDB, those it
 * lacks asked of MongoDB), the set of all ids (user_ids.h: built once, changed, lost),
 * the username set built from the same read as the set of ids,
 * chat_user_rooms_build_many (each user's room set built from one query, exactly the
 * rooms they are in, a set changed meanwhile left alone) and chat_user_rooms_build_all
 * (everybody's sets from one read, its limits).
 *
 * Threads: the cmocka main thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/account.h"
#include "chat/cached_set.h"
#include "chat/room_members_repo.h"
#include "chat/db.h"
#include "chat/user_cache.h"
#include "chat/user_exists.h"
#include "chat/user_ids.h"
#include "chat/user_rooms_batch.h"
#include "chat/users_repo.h"

#include "db_fixture.h"

static chat_cset_answer_t in_rooms_of(const chat_store_t *s, const char *user, const char *room)
{
    chat_cset_t set;

    chat_cset_user_rooms(user, &set);
    return test_cset_has(s, &set, room);
}

static void test_exist_many(void **state)
{
    const chat_store_t *s = *state;
    char ids[5][CHAT_ID_LEN];
    chat_user_existence_t out[5];

    test_add_user(s->db, "ann", ids[0]);
    test_add_user(s->db, "bob", ids[1]);
    snprintf(ids[2], CHAT_ID_LEN, "%s", "0123456789abcdef01234567"); /* nobody */
    snprintf(ids[3], CHAT_ID_LEN, "%s", "not-an-id");
    memcpy(ids[4], ids[0], CHAT_ID_LEN);      /* twice in one batch */
    for (int round = 0; round < 2; round++) { /* MongoDB first, then from the cache */
        chat_user_exist_many(s, (const char(*)[CHAT_ID_LEN])ids, 5, out, NULL);
        assert_int_equal(out[0], CHAT_USER_EXISTS);
        assert_int_equal(out[1], CHAT_USER_EXISTS);
        assert_int_equal(out[2], CHAT_USER_GONE);
        assert_int_equal(out[3], CHAT_USER_GONE);
        assert_int_equal(out[4], CHAT_USER_EXISTS);
    }
}

static void test_rooms_build_many(void **state)
{
    const chat_store_t *s = *state;
    char users[3][CHAT_ID_LEN];
    char rooms[2][CHAT_ID_LEN];
    bson_oid_t u_oid[2];
    bson_oid_t r_oid[2];
    chat_cset_t set;

    test_add_user(s->db, "cat", users[0]);
    test_add_user(s->db, "dan", users[1]);
    memcpy(users[2], users[0], CHAT_ID_LEN);
    for (int i = 0; i < 2; i++) {
        bson_oid_init(&r_oid[i], NULL);
        bson_oid_to_string(&r_oid[i], rooms[i]);
        assert_true(chat_db_oid_from_hex(users[i], &u_oid[i]));
    }
    /* cat in both rooms, dan in the second */
    assert_int_equal(chat_members_insert(s->db, &r_oid[0], &u_oid[0], "member", 1), CHAT_OK);
    assert_int_equal(chat_members_insert(s->db, &r_oid[1], &u_oid[0], "member", 1), CHAT_OK);
    assert_int_equal(chat_members_insert(s->db, &r_oid[1], &u_oid[1], "member", 1), CHAT_OK);
    assert_int_equal(in_rooms_of(s, users[0], rooms[0]), CHAT_CSET_NOT_BUILT);

    chat_user_rooms_build_many(s, (const char(*)[CHAT_ID_LEN])users, 3);
    assert_int_equal(in_rooms_of(s, users[0], rooms[0]), CHAT_CSET_PRESENT);
    assert_int_equal(in_rooms_of(s, users[0], rooms[1]), CHAT_CSET_PRESENT);
    assert_int_equal(in_rooms_of(s, users[1], rooms[0]), CHAT_CSET_ABSENT);
    assert_int_equal(in_rooms_of(s, users[1], rooms[1]), CHAT_CSET_PRESENT);

    /* a set changed between its version read and the store is not stored: the same
     * protocol, driven by hand, refuses the stale read */
    {
        bool built = true;
        bool stored = true;
        char ver[24];
        chat_cset_entry_t none = {0};
        chat_cset_user_rooms(users[1], &set);
        assert_int_equal(chat_cset_change(s->redis, &set, false, 0, rooms[1]), CHAT_OK);
        /* dan's set is still built: nothing to prepare */
        assert_int_equal(chat_cset_build_prepare(s->redis, &set, &built, ver), CHAT_OK);
        assert_true(built);
        chat_cset_t fresh;
        char other[CHAT_ID_LEN];
        test_add_user(s->db, "eve", other);
        chat_cset_user_rooms(other, &fresh);
        assert_int_equal(chat_cset_build_prepare(s->redis, &fresh, &built, ver), CHAT_OK);
        assert_false(built);
        assert_int_equal(chat_cset_change(s->redis, &fresh, true, 1, rooms[0]), CHAT_OK);
        assert_int_equal(chat_cset_build_store(s->redis, &fresh, ver, &none, 0, &stored), CHAT_OK);
        assert_false(stored);
    }
}

static void delete_user_row(const chat_store_t *s, const char *id)
{
    bson_oid_t oid;
    bson_t filter = BSON_INITIALIZER;
    int64_t deleted = 0;

    assert_true(chat_db_oid_from_hex(id, &oid));
    BSON_APPEND_OID(&filter, "_id", &oid);
    assert_int_equal(chat_db_delete(s->db, "users", &filter, false, &deleted), CHAT_OK);
    assert_int_equal(deleted, 1);
    bson_destroy(&filter);
}

static void test_user_ids_set(void **state)
{
    const chat_store_t *s = *state;
    char ids[3][CHAT_ID_LEN];
    chat_cset_answer_t a[3];
    bool built_now = false;
    redisReply *r;

    test_add_user(s->db, "fay", ids[0]);
    test_add_user(s->db, "gus", ids[1]);
    snprintf(ids[2], CHAT_ID_LEN, "%s", "0123456789abcdef01234567"); /* nobody */
    /* not built: built by the call (one read of users), then answered */
    assert_int_equal(chat_user_ids_check_many(s, (const char(*)[CHAT_ID_LEN])ids, 3, a, &built_now),
                     CHAT_OK);
    assert_true(built_now);
    assert_int_equal(a[0], CHAT_CSET_PRESENT);
    assert_int_equal(a[1], CHAT_CSET_PRESENT);
    assert_int_equal(a[2], CHAT_CSET_ABSENT);
    /* built: answered as is */
    assert_int_equal(chat_user_ids_check_many(s, (const char(*)[CHAT_ID_LEN])ids, 3, a, &built_now),
                     CHAT_OK);
    assert_false(built_now);
    /* changes: a deletion takes one out, a registration puts one in */
    chat_user_ids_change(s, ids[0], false);
    chat_user_ids_change(s, ids[2], true);
    assert_int_equal(chat_user_ids_check_many(s, (const char(*)[CHAT_ID_LEN])ids, 3, a, NULL),
                     CHAT_OK);
    assert_int_equal(a[0], CHAT_CSET_ABSENT);
    assert_int_equal(a[1], CHAT_CSET_PRESENT);
    assert_int_equal(a[2], CHAT_CSET_PRESENT);
    /* lost with Redis (FLUSHDB): read again from the database */
    r = chat_redis_command(s->redis, "FLUSHDB");
    assert_non_null(r);
    freeReplyObject(r);
    assert_int_equal(chat_user_ids_check_many(s, (const char(*)[CHAT_ID_LEN])ids, 3, a, &built_now),
                     CHAT_OK);
    assert_true(built_now);
    assert_int_equal(a[0], CHAT_CSET_PRESENT);
    assert_int_equal(a[2], CHAT_CSET_ABSENT);
}

static void test_the_ids_read_builds_the_usernames_too(void **state)
{
    const chat_store_t *s = *state;
    char id[CHAT_ID_LEN];
    char ver[24];
    chat_cset_t names;
    chat_user_t *found = NULL;
    size_t n = 0;
    bool built = true;
    bool cold = false;

    test_add_user(s->db, "Quin", id);
    chat_cset_user_names(&names);
    assert_int_equal(chat_cset_build_prepare(s->redis, &names, &built, ver), CHAT_OK);
    assert_false(built);
    /* the warm-up's build of the ids set stores the usernames from the same read */
    assert_int_equal(chat_user_ids_build(s, &cold), CHAT_OK);
    assert_true(cold);
    assert_int_equal(chat_cset_build_prepare(s->redis, &names, &built, ver), CHAT_OK);
    assert_true(built);
    assert_int_equal(chat_user_search(s, "qu", 10, &found, &n), CHAT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(found[0].id, id);
    assert_string_equal(found[0].username, "Quin");
    for (size_t i = 0; i < n; i++) {
        chat_user_clear(&found[i]);
    }
    free(found);
}

static void test_exist_many_from_the_set_of_ids(void **state)
{
    const chat_store_t *s = *state;
    char ids[2][CHAT_ID_LEN];
    chat_user_existence_t out[2];
    chat_cset_answer_t a[2];
    bool cold = false;

    test_add_user(s->db, "hal", ids[0]);
    assert_int_equal(chat_user_ids_check_many(s, (const char(*)[CHAT_ID_LEN])ids, 1, a, NULL),
                     CHAT_OK); /* builds the set */
    /* the user's row is gone but the set still has the id: the answer came from the set,
     * not from MongoDB (an account deletion takes the id out of the set first) */
    delete_user_row(s, ids[0]);
    chat_user_exist_many(s, (const char(*)[CHAT_ID_LEN])ids, 1, out, &cold);
    assert_int_equal(out[0], CHAT_USER_EXISTS);
    assert_false(cold);
    /* a user the set lacks (a change Redis lost) is asked of MongoDB: still admitted */
    test_add_user(s->db, "ida", ids[1]);
    chat_user_ids_change(s, ids[1], false);
    chat_user_cache_drop(s, ids[1]);
    chat_user_exist_many(s, (const char(*)[CHAT_ID_LEN])ids + 1, 1, out, &cold);
    assert_int_equal(out[0], CHAT_USER_EXISTS);
    /* an account deletion takes the id out of the set: once the 30 s "gone" mark has
     * expired (dropped here), the set must still not admit it */
    {
        char del[1][CHAT_ID_LEN];
        test_add_user(s->db, "ivy", del[0]);
        chat_user_ids_change(s, del[0], true); /* as its registration does */
        chat_user_exist_many(s, (const char(*)[CHAT_ID_LEN])del, 1, out, NULL);
        assert_int_equal(out[0], CHAT_USER_EXISTS);
        assert_int_equal(chat_account_delete(s, del[0]), CHAT_OK);
        chat_user_cache_drop(s, del[0]);
        chat_user_exist_many(s, (const char(*)[CHAT_ID_LEN])del, 1, out, NULL);
        assert_int_equal(out[0], CHAT_USER_GONE);
        assert_int_equal(chat_user_ids_check_many(s, (const char(*)[CHAT_ID_LEN])del, 1, a, NULL),
                         CHAT_OK);
        assert_int_equal(a[0], CHAT_CSET_ABSENT);
    }
    /* a fresh Redis: reported cold */
    {
        redisReply *r = chat_redis_command(s->redis, "FLUSHDB");
        assert_non_null(r);
        freeReplyObject(r);
    }
    chat_user_exist_many(s, (const char(*)[CHAT_ID_LEN])ids, 2, out, &cold);
    assert_true(cold);
    assert_int_equal(out[0], CHAT_USER_GONE); /* its row was deleted above */
    assert_int_equal(out[1], CHAT_USER_EXISTS);
}

static void test_rooms_build_all(void **state)
{
    const chat_store_t *s = *state;
    char users[3][CHAT_ID_LEN];
    char rooms[2][CHAT_ID_LEN];
    bson_oid_t u_oid[3];
    bson_oid_t r_oid[2];
    chat_cset_answer_t a[3];
    chat_read_model_warm_t warm = {
        .max_users = 100, .max_pairs = 100, .user_sets = 99, .another_warms = true};

    test_add_user(s->db, "jo", users[0]);
    test_add_user(s->db, "kim", users[1]);
    test_add_user(s->db, "lou", users[2]); /* in no room */
    for (int i = 0; i < 3; i++) {
        assert_true(chat_db_oid_from_hex(users[i], &u_oid[i]));
    }
    for (int i = 0; i < 2; i++) {
        bson_oid_init(&r_oid[i], NULL);
        bson_oid_to_string(&r_oid[i], rooms[i]);
    }
    assert_int_equal(chat_members_insert(s->db, &r_oid[0], &u_oid[0], "member", 1), CHAT_OK);
    assert_int_equal(chat_members_insert(s->db, &r_oid[1], &u_oid[0], "member", 1), CHAT_OK);
    assert_int_equal(chat_members_insert(s->db, &r_oid[1], &u_oid[1], "member", 1), CHAT_OK);
    /* without the set of ids there is nobody to warm */
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_ERR_CONFLICT);
    assert_int_equal(warm.user_sets, 0);
    assert_int_equal(chat_user_ids_check_many(s, (const char(*)[CHAT_ID_LEN])users, 3, a, NULL),
                     CHAT_OK);
    /* over either limit: nothing stored */
    warm.max_users = 2;
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_ERR_CONFLICT);
    warm.max_users = 100;
    warm.max_pairs = 2;
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_ERR_CONFLICT);
    warm.max_pairs = 100;
    assert_int_equal(in_rooms_of(s, users[0], rooms[0]), CHAT_CSET_NOT_BUILT);
    /* everybody's sets from one read, the user in no room included (an empty set) */
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_OK);
    assert_int_equal(warm.user_sets, 3);
    assert_int_equal(in_rooms_of(s, users[0], rooms[0]), CHAT_CSET_PRESENT);
    assert_int_equal(in_rooms_of(s, users[0], rooms[1]), CHAT_CSET_PRESENT);
    assert_int_equal(in_rooms_of(s, users[1], rooms[0]), CHAT_CSET_ABSENT);
    assert_int_equal(in_rooms_of(s, users[1], rooms[1]), CHAT_CSET_PRESENT);
    assert_int_equal(in_rooms_of(s, users[2], rooms[1]), CHAT_CSET_ABSENT);
    assert_false(warm.another_warms);
    /* already built: nothing to do */
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_OK);
    assert_int_equal(warm.user_sets, 0);
    /* another process warms (its lock, 300 ms): this one waits for it instead of reading
     * room_members itself, and leaves the sets to it */
    {
        chat_cset_t set;
        redisReply *r = chat_redis_command(s->redis, "SET chat:users:rooms:warming 1 PX 300");
        assert_non_null(r);
        freeReplyObject(r);
        chat_cset_user_rooms(users[0], &set);
        r = chat_redis_command(s->redis, "DEL %s %s", set.key, set.meta);
        assert_non_null(r);
        freeReplyObject(r);
    }
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_OK);
    assert_true(warm.another_warms);
    assert_int_equal(warm.user_sets, 0);
    assert_int_equal(in_rooms_of(s, users[0], rooms[0]), CHAT_CSET_NOT_BUILT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exist_many, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_rooms_build_many, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_user_ids_set, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_the_ids_read_builds_the_usernames_too, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_exist_many_from_the_set_of_ids, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_rooms_build_all, store_setup, store_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
