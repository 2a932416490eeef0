/*
 * test_rooms_repo_members.c - a room's members through rooms_repo and the read model
 * (membership.h, member_cache.h) against a real MongoDB/FerretDB (CHAT_TEST_MONGO_URI)
 * and Redis (CHAT_TEST_REDIS_URL): exact member changes (also when threads with their
 * own stores race, as separate processes do), membership checks, a user's rooms and the
 * stored document shapes. Each test uses its own database, dropped at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/db.h"
#include "chat/member_cache.h"
#include "chat/membership.h"
#include "chat/redis_sync.h"
#include "chat/room_cache.h"
#include "chat/rooms_repo.h"

#include "db_fixture.h"
#include "rooms_fixture.h"

/* ---- tests ---- */

static void test_add_and_remove_member(void **state)
{
    chat_store_t *st = *state;
    chat_room_t r = {0};
    chat_room_t after = {0};
    bool changed = false;
    bool is_member = true;

    create_ok(st, "team", false, ALICE, &r);

    assert_int_equal(is_member_of(st, r.id, BOB, &is_member), CHAT_OK);
    assert_false(is_member);
    assert_int_equal(add_member(st, r.id, BOB, &changed, &after), CHAT_OK);
    assert_true(changed);
    assert_int_equal(after.n_members, 2);
    assert_string_equal(after.members[1], BOB);
    chat_room_clear(&after);
    assert_int_equal(is_member_of(st, r.id, BOB, &is_member), CHAT_OK);
    assert_true(is_member);

    /* again: no change, the room as it is */
    assert_int_equal(add_member(st, r.id, BOB, &changed, &after), CHAT_OK);
    assert_false(changed);
    assert_int_equal(after.n_members, 2);
    chat_room_clear(&after);

    assert_int_equal(remove_member(st, r.id, BOB, &changed, &after), CHAT_OK);
    assert_true(changed);
    assert_int_equal(after.n_members, 1);
    assert_string_equal(after.members[0], ALICE);
    chat_room_clear(&after);
    assert_int_equal(remove_member(st, r.id, BOB, &changed, NULL), CHAT_OK);
    assert_false(changed);
    assert_int_equal(is_member_of(st, r.id, BOB, &is_member), CHAT_OK);
    assert_false(is_member);

    /* unknown rooms */
    assert_int_equal(add_member(st, MISSING_ROOM, BOB, &changed, &after), CHAT_ERR_NOT_FOUND);
    assert_false(changed);
    assert_int_equal(remove_member(st, "bad", BOB, &changed, &after), CHAT_ERR_NOT_FOUND);
    assert_int_equal(is_member_of(st, MISSING_ROOM, BOB, &is_member), CHAT_ERR_NOT_FOUND);
    assert_int_equal(is_member_of(st, "bad", BOB, &is_member), CHAT_ERR_NOT_FOUND);
    assert_int_equal(add_member(st, r.id, "bad", &changed, &after), CHAT_ERR_INVALID);
    chat_room_clear(&r);
}

static void test_ids_for_member(void **state)
{
    chat_store_t *st = *state;
    chat_room_t a = {0};
    chat_room_t b = {0};
    chat_room_t c = {0};
    char(*ids)[CHAT_ID_LEN] = NULL;
    size_t n = 99;
    bool changed = false;

    create_ok(st, "a", false, ALICE, &a);
    create_ok(st, "b", true, BOB, &b);
    create_ok(st, "c", false, BOB, &c);
    assert_int_equal(add_member(st, b.id, ALICE, &changed, NULL), CHAT_OK);

    assert_int_equal(chat_member_rooms_of(st, ALICE, &ids, &n), CHAT_OK);
    assert_int_equal(n, 2);
    assert_true((strcmp(ids[0], a.id) == 0 && strcmp(ids[1], b.id) == 0) ||
                (strcmp(ids[0], b.id) == 0 && strcmp(ids[1], a.id) == 0));
    free(ids);

    assert_int_equal(chat_member_rooms_of(st, CAROL, &ids, &n), CHAT_OK);
    assert_int_equal(n, 0);
    free(ids);
    chat_room_clear(&a);
    chat_room_clear(&b);
    chat_room_clear(&c);
}

/* The stored shape: no members array in rooms; one room_members document per member
 * with the role the REST layer reports (creator = owner). */
static void test_member_documents(void **state)
{
    chat_store_t *st = *state;
    chat_db_t *db = st->db;
    chat_room_t r = {0};
    chat_room_t dm = {0};
    bool changed = false;
    bool created = false;
    bson_oid_t rid;
    bson_oid_t alice;
    bson_oid_t bob;
    bson_t *has_array = BCON_NEW("members", "{", "$exists", BCON_BOOL(true), "}");
    bson_t *filter = NULL;

    create_ok(st, "shape", false, ALICE, &r);
    assert_int_equal(add_member(st, r.id, BOB, &changed, NULL), CHAT_OK);
    assert_int_equal(chat_rooms_get_or_create_dm(db, ALICE, BOB, &dm, &created), CHAT_OK);
    assert_int_equal(count_rooms(db, "rooms", has_array), 0);

    bson_oid_init_from_string(&rid, r.id);
    bson_oid_init_from_string(&alice, ALICE);
    bson_oid_init_from_string(&bob, BOB);
    filter = BCON_NEW("room_id", BCON_OID(&rid), "user_id", BCON_OID(&alice), "role",
                      BCON_UTF8("owner"), "joined_at", "{", "$type", BCON_UTF8("date"), "}");
    assert_int_equal(count_rooms(db, "room_members", filter), 1);
    bson_destroy(filter);
    filter =
        BCON_NEW("room_id", BCON_OID(&rid), "user_id", BCON_OID(&bob), "role", BCON_UTF8("member"));
    assert_int_equal(count_rooms(db, "room_members", filter), 1);
    bson_destroy(filter);

    /* the DM: its creator (user_a) is the owner, the other a member */
    bson_oid_init_from_string(&rid, dm.id);
    filter = BCON_NEW("room_id", BCON_OID(&rid), "user_id", BCON_OID(&alice), "role",
                      BCON_UTF8("owner"));
    assert_int_equal(count_rooms(db, "room_members", filter), 1);
    bson_destroy(filter);
    filter =
        BCON_NEW("room_id", BCON_OID(&rid), "user_id", BCON_OID(&bob), "role", BCON_UTF8("member"));
    assert_int_equal(count_rooms(db, "room_members", filter), 1);
    bson_destroy(filter);
    assert_int_equal(dm.n_members, 2);
    assert_string_equal(dm.members[0], ALICE);
    assert_string_equal(dm.members[1], BOB);
    chat_room_clear(&dm);
    assert_int_equal(load_full(st, r.id, &dm), CHAT_OK);
    assert_int_equal(dm.n_members, 2);
    assert_string_equal(dm.members[0], ALICE);
    assert_string_equal(dm.members[1], BOB);

    chat_room_clear(&dm);
    chat_room_clear(&r);
    bson_destroy(has_array);
}

/* ---- concurrent member changes: each thread has its own pool, like separate processes ---- */

#define MEMBER_RACERS 8

typedef struct member_arg {
    const char *dbname;
    const char *room_id;
    char user_id[CHAT_ID_LEN];
    bool add;
    pthread_barrier_t *start;
    chat_err_t rc;
    bool changed;
} member_arg_t;

static void *member_racer(void *p)
{
    member_arg_t *arg = p;
    char errbuf[256];
    chat_store_t st = {.window = 50};

    st.db =
        chat_db_create(getenv("CHAT_TEST_MONGO_URI"), arg->dbname, 5000, errbuf, sizeof(errbuf));
    st.redis = chat_redis_create(getenv("CHAT_TEST_REDIS_URL"), false, 2000, NULL, 0);
    arg->rc = CHAT_ERR_INTERNAL;
    if (st.db != NULL) {
        (void)chat_db_ping(st.db); /* connect before the start line */
        (void)chat_redis_run_id(st.redis);
    }
    pthread_barrier_wait(arg->start);
    if (st.db != NULL) {
        arg->rc = arg->add ? add_member(&st, arg->room_id, arg->user_id, &arg->changed, NULL)
                           : remove_member(&st, arg->room_id, arg->user_id, &arg->changed, NULL);
    }
    chat_redis_destroy(st.redis);
    chat_db_destroy(st.db);
    return NULL;
}

/* Runs MEMBER_RACERS racers at once; returns how many reported changed. */
static int race_members(chat_db_t *db, const char *room_id, member_arg_t *args, bool add)
{
    pthread_t threads[MEMBER_RACERS];
    pthread_barrier_t start;
    int changed = 0;

    assert_int_equal(pthread_barrier_init(&start, NULL, MEMBER_RACERS), 0);
    for (int i = 0; i < MEMBER_RACERS; i++) {
        args[i].dbname = chat_db_name(db);
        args[i].room_id = room_id;
        args[i].add = add;
        args[i].start = &start;
        args[i].changed = false;
        assert_int_equal(pthread_create(&threads[i], NULL, member_racer, &args[i]), 0);
    }
    for (int i = 0; i < MEMBER_RACERS; i++) {
        pthread_join(threads[i], NULL);
    }
    pthread_barrier_destroy(&start);
    for (int i = 0; i < MEMBER_RACERS; i++) {
        assert_int_equal(args[i].rc, CHAT_OK);
        changed += args[i].changed ? 1 : 0;
    }
    return changed;
}

static void test_concurrent_adds_of_different_users(void **state)
{
    chat_store_t *st = *state;
    chat_db_t *db = st->db;
    chat_room_t r = {0};
    chat_room_t after = {0};
    member_arg_t args[MEMBER_RACERS];
    bool is_member = false;

    create_ok(st, "busy", false, ALICE, &r);
    memset(args, 0, sizeof(args));
    for (int i = 0; i < MEMBER_RACERS; i++) {
        snprintf(args[i].user_id, sizeof(args[i].user_id), "6700000000000000000000%02d", i);
    }
    assert_int_equal(race_members(db, r.id, args, true), MEMBER_RACERS);

    assert_int_equal(load_full(st, r.id, &after), CHAT_OK);
    assert_int_equal(after.n_members, MEMBER_RACERS + 1);
    assert_string_equal(after.members[0], ALICE);
    for (int i = 0; i < MEMBER_RACERS; i++) {
        assert_true(chat_room_has_member(&after, args[i].user_id));
        assert_int_equal(is_member_of(st, r.id, args[i].user_id, &is_member), CHAT_OK);
        assert_true(is_member);
    }
    chat_room_clear(&after);

    /* and all leave at once: every one of them removed exactly once */
    assert_int_equal(race_members(db, r.id, args, false), MEMBER_RACERS);
    assert_int_equal(load_full(st, r.id, &after), CHAT_OK);
    assert_int_equal(after.n_members, 1);
    assert_string_equal(after.members[0], ALICE);
    chat_room_clear(&after);
    chat_room_clear(&r);
}

static void test_concurrent_adds_of_one_user(void **state)
{
    chat_store_t *st = *state;
    chat_db_t *db = st->db;
    chat_room_t r = {0};
    chat_room_t after = {0};
    member_arg_t args[MEMBER_RACERS];

    create_ok(st, "busy", false, ALICE, &r);
    memset(args, 0, sizeof(args));
    for (int i = 0; i < MEMBER_RACERS; i++) {
        snprintf(args[i].user_id, sizeof(args[i].user_id), "%s", BOB);
    }
    assert_int_equal(race_members(db, r.id, args, true), 1);
    assert_int_equal(load_full(st, r.id, &after), CHAT_OK);
    assert_int_equal(after.n_members, 2);
    assert_string_equal(after.members[1], BOB);
    chat_room_clear(&after);

    /* removing the same user from 8 threads: exactly one removes */
    assert_int_equal(race_members(db, r.id, args, false), 1);
    assert_int_equal(load_full(st, r.id, &after), CHAT_OK);
    assert_int_equal(after.n_members, 1);
    chat_room_clear(&after);
    chat_room_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_and_remove_member, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_ids_for_member, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_member_documents, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_adds_of_different_users, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_adds_of_one_user, store_setup,
                                        store_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
