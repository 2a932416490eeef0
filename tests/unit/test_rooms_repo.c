/*
 * test_rooms_repo.c - rooms_repo against a real MongoDB/FerretDB (CHAT_TEST_MONGO_URI):
 * create/find, the visible-rooms listing, exact member changes (also when threads with
 * their own pools race, as separate processes do), membership checks, the stored
 * document shapes and race-safe DM rooms. Each test uses its own database, dropped at
 * the end.
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
#include "chat/rooms_repo.h"

#include "db_fixture.h"

/* ---- helpers ---- */

#define ALICE "660000000000000000000001"
#define BOB "660000000000000000000002"
#define CAROL "660000000000000000000003"
#define MISSING_ROOM "650000000000000000000009"

static void create_ok(chat_db_t *db, const char *name, bool is_private, const char *creator,
                      chat_room_t *out)
{
    assert_int_equal(chat_rooms_create(db, name, "about it", is_private, creator, out), CHAT_OK);
}

static int64_t count_rooms(chat_db_t *db, const char *coll_name, const bson_t *filter)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, chat_db_name(db), coll_name);
    bson_error_t err;
    int64_t n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err);

    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    return n;
}

/* ---- tests ---- */

static void test_create_and_find(void **state)
{
    chat_db_t *db = *state;
    chat_room_t r = {0};
    chat_room_t found = {0};

    create_ok(db, "general", false, ALICE, &r);
    assert_int_equal(strlen(r.id), 24);
    assert_string_equal(r.name, "general");
    assert_string_equal(r.description, "about it");
    assert_string_equal(r.creator_id, ALICE);
    assert_int_equal(r.n_members, 1);
    assert_string_equal(r.members[0], ALICE);
    assert_false(r.is_private);
    assert_false(r.is_dm);
    assert_true(r.created_at_ms > 1600000000000LL);

    assert_int_equal(chat_rooms_find(db, r.id, &found), CHAT_OK);
    assert_string_equal(found.id, r.id);
    assert_string_equal(found.name, "general");
    assert_int_equal(found.n_members, 1);
    assert_int_equal(found.created_at_ms, r.created_at_ms);
    chat_room_clear(&found);

    /* a NULL description is stored as "" */
    assert_int_equal(chat_rooms_create(db, "quiet", NULL, true, BOB, &found), CHAT_OK);
    assert_string_equal(found.description, "");
    assert_true(found.is_private);
    chat_room_clear(&found);

    assert_int_equal(chat_rooms_find(db, MISSING_ROOM, &found), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_rooms_find(db, "zzz", &found), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_rooms_create(db, "x", "", false, "nope", &found), CHAT_ERR_INVALID);
    chat_room_clear(&r);
}

static void test_list_visible(void **state)
{
    chat_db_t *db = *state;
    chat_room_t r = {0};
    chat_room_list_t list = {0};
    int64_t total = -1;
    bool changed = false;
    char name[16];

    /* p0 (public), s1 (private, alice), p2, s3 (private, bob), p4: created in that order */
    for (int i = 0; i < 5; i++) {
        bool priv = i % 2 == 1;

        snprintf(name, sizeof(name), "%c%d", priv ? 's' : 'p', i);
        create_ok(db, name, priv, i == 3 ? BOB : ALICE, &r);
        chat_room_clear(&r);
        usleep(3000); /* distinct created_at */
    }

    assert_int_equal(chat_rooms_list_visible(db, ALICE, 50, 0, &list, &total), CHAT_OK);
    assert_int_equal(total, 4);
    assert_int_equal(list.n, 4);
    assert_string_equal(list.items[0].name, "p4"); /* newest first */
    assert_string_equal(list.items[1].name, "p2");
    assert_string_equal(list.items[2].name, "s1");
    assert_string_equal(list.items[3].name, "p0");
    /* every room of the page comes with its members, oldest first */
    assert_int_equal(chat_rooms_add_member(db, list.items[0].id, CAROL, &changed, NULL), CHAT_OK);
    assert_int_equal(chat_rooms_add_member(db, list.items[0].id, BOB, &changed, NULL), CHAT_OK);
    chat_room_list_clear(&list);
    assert_int_equal(chat_rooms_list_visible(db, ALICE, 50, 0, &list, &total), CHAT_OK);
    assert_int_equal(list.n, 4);
    assert_int_equal(list.items[0].n_members, 3);
    assert_string_equal(list.items[0].members[0], ALICE);
    assert_string_equal(list.items[0].members[1], CAROL);
    assert_string_equal(list.items[0].members[2], BOB);
    for (size_t i = 1; i < list.n; i++) {
        assert_int_equal(list.items[i].n_members, 1);
        assert_string_equal(list.items[i].members[0], ALICE);
    }
    chat_room_list_clear(&list);

    assert_int_equal(chat_rooms_list_visible(db, BOB, 2, 1, &list, &total), CHAT_OK);
    assert_int_equal(total, 4);
    assert_int_equal(list.n, 2);
    assert_string_equal(list.items[0].name, "s3");
    assert_string_equal(list.items[1].name, "p2");
    chat_room_list_clear(&list);

    /* a stranger sees public rooms only; so does an anonymous or malformed id */
    assert_int_equal(chat_rooms_list_visible(db, CAROL, 50, 0, &list, &total), CHAT_OK);
    assert_int_equal(total, 3);
    assert_int_equal(list.n, 3);
    chat_room_list_clear(&list);
    assert_int_equal(chat_rooms_list_visible(db, NULL, 50, 0, &list, &total), CHAT_OK);
    assert_int_equal(total, 3);
    chat_room_list_clear(&list);

    /* joining a private room makes it visible */
    assert_int_equal(chat_rooms_list_visible(db, BOB, 50, 0, &list, &total), CHAT_OK);
    assert_int_equal(total, 4);
    assert_string_equal(list.items[1].name, "s3");
    assert_int_equal(chat_rooms_add_member(db, list.items[1].id, CAROL, &changed, NULL),
                     CHAT_OK);
    chat_room_list_clear(&list);
    assert_int_equal(chat_rooms_list_visible(db, CAROL, 50, 0, &list, &total), CHAT_OK);
    assert_int_equal(total, 4);
    assert_int_equal(list.n, 4);
    assert_string_equal(list.items[1].name, "s3");
    assert_int_equal(list.items[1].n_members, 2);
    assert_string_equal(list.items[1].members[0], BOB);
    assert_string_equal(list.items[1].members[1], CAROL);
    chat_room_list_clear(&list);

    /* past the end */
    assert_int_equal(chat_rooms_list_visible(db, ALICE, 50, 10, &list, &total), CHAT_OK);
    assert_int_equal(list.n, 0);
    assert_int_equal(total, 4);
    chat_room_list_clear(&list);
}

static void test_add_and_remove_member(void **state)
{
    chat_db_t *db = *state;
    chat_room_t r = {0};
    chat_room_t after = {0};
    bool changed = false;
    bool is_member = true;

    create_ok(db, "team", false, ALICE, &r);

    assert_int_equal(chat_rooms_is_member(db, r.id, BOB, &is_member), CHAT_OK);
    assert_false(is_member);
    assert_int_equal(chat_rooms_add_member(db, r.id, BOB, &changed, &after), CHAT_OK);
    assert_true(changed);
    assert_int_equal(after.n_members, 2);
    assert_string_equal(after.members[1], BOB);
    chat_room_clear(&after);
    assert_int_equal(chat_rooms_is_member(db, r.id, BOB, &is_member), CHAT_OK);
    assert_true(is_member);

    /* again: no change, the room as it is */
    assert_int_equal(chat_rooms_add_member(db, r.id, BOB, &changed, &after), CHAT_OK);
    assert_false(changed);
    assert_int_equal(after.n_members, 2);
    chat_room_clear(&after);

    assert_int_equal(chat_rooms_remove_member(db, r.id, BOB, &changed, &after), CHAT_OK);
    assert_true(changed);
    assert_int_equal(after.n_members, 1);
    assert_string_equal(after.members[0], ALICE);
    chat_room_clear(&after);
    assert_int_equal(chat_rooms_remove_member(db, r.id, BOB, &changed, NULL), CHAT_OK);
    assert_false(changed);
    assert_int_equal(chat_rooms_is_member(db, r.id, BOB, &is_member), CHAT_OK);
    assert_false(is_member);

    /* unknown rooms */
    assert_int_equal(chat_rooms_add_member(db, MISSING_ROOM, BOB, &changed, &after),
                     CHAT_ERR_NOT_FOUND);
    assert_false(changed);
    assert_int_equal(chat_rooms_remove_member(db, "bad", BOB, &changed, &after),
                     CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_rooms_is_member(db, MISSING_ROOM, BOB, &is_member),
                     CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_rooms_is_member(db, "bad", BOB, &is_member), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_rooms_add_member(db, r.id, "bad", &changed, &after), CHAT_ERR_INVALID);
    chat_room_clear(&r);
}

static void test_ids_for_member(void **state)
{
    chat_db_t *db = *state;
    chat_room_t a = {0};
    chat_room_t b = {0};
    chat_room_t c = {0};
    char (*ids)[CHAT_ID_LEN] = NULL;
    size_t n = 99;
    bool changed = false;

    create_ok(db, "a", false, ALICE, &a);
    create_ok(db, "b", true, BOB, &b);
    create_ok(db, "c", false, BOB, &c);
    assert_int_equal(chat_rooms_add_member(db, b.id, ALICE, &changed, NULL), CHAT_OK);

    assert_int_equal(chat_rooms_ids_for_member(db, ALICE, &ids, &n), CHAT_OK);
    assert_int_equal(n, 2);
    assert_true((strcmp(ids[0], a.id) == 0 && strcmp(ids[1], b.id) == 0) ||
                (strcmp(ids[0], b.id) == 0 && strcmp(ids[1], a.id) == 0));
    free(ids);

    assert_int_equal(chat_rooms_ids_for_member(db, CAROL, &ids, &n), CHAT_OK);
    assert_int_equal(n, 0);
    free(ids);
    chat_room_clear(&a);
    chat_room_clear(&b);
    chat_room_clear(&c);
}

static void test_dm_get_or_create(void **state)
{
    chat_db_t *db = *state;
    chat_room_t first = {0};
    chat_room_t again = {0};
    chat_room_t other = {0};
    bool created = false;
    bool is_member = false;

    assert_int_equal(chat_rooms_get_or_create_dm(db, BOB, ALICE, &first, &created), CHAT_OK);
    assert_true(created);
    assert_true(first.is_private);
    assert_true(first.is_dm);
    assert_int_equal(first.n_members, 2);
    assert_string_equal(first.creator_id, BOB);

    assert_int_equal(chat_rooms_get_or_create_dm(db, ALICE, BOB, &again, &created), CHAT_OK);
    assert_false(created);
    assert_string_equal(again.id, first.id);

    assert_int_equal(chat_rooms_get_or_create_dm(db, ALICE, CAROL, &other, &created), CHAT_OK);
    assert_true(created);
    assert_string_not_equal(other.id, first.id);
    assert_int_equal(chat_rooms_is_member(db, other.id, BOB, &is_member), CHAT_OK);
    assert_false(is_member);

    chat_room_clear(&again);
    assert_int_equal(chat_rooms_get_or_create_dm(db, ALICE, ALICE, &again, &created),
                     CHAT_ERR_INVALID);
    assert_int_equal(chat_rooms_get_or_create_dm(db, ALICE, "bad", &again, &created),
                     CHAT_ERR_INVALID);
    chat_room_clear(&first);
    chat_room_clear(&other);
}

#define DM_RACERS 4

typedef struct dm_arg {
    chat_db_t *db;
    int index;
    chat_err_t rc;
    bool created;
    char id[CHAT_ID_LEN];
} dm_arg_t;

static void *dm_racer(void *p)
{
    dm_arg_t *arg = p;
    chat_room_t room = {0};

    /* half the racers name the pair the other way round */
    arg->rc = arg->index % 2 == 0
                  ? chat_rooms_get_or_create_dm(arg->db, ALICE, BOB, &room, &arg->created)
                  : chat_rooms_get_or_create_dm(arg->db, BOB, ALICE, &room, &arg->created);
    snprintf(arg->id, sizeof(arg->id), "%s", room.id);
    chat_room_clear(&room);
    return NULL;
}

static void test_dm_race_makes_one_room(void **state)
{
    chat_db_t *db = *state;
    pthread_t threads[DM_RACERS];
    dm_arg_t args[DM_RACERS];
    int created = 0;
    bson_t *dm_filter = BCON_NEW("is_dm", BCON_BOOL(true));
    bson_t *all = bson_new();

    for (int i = 0; i < DM_RACERS; i++) {
        args[i] = (dm_arg_t){.db = db, .index = i};
        assert_int_equal(pthread_create(&threads[i], NULL, dm_racer, &args[i]), 0);
    }
    for (int i = 0; i < DM_RACERS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(args[i].rc, CHAT_OK);
        assert_string_equal(args[i].id, args[0].id);
        created += args[i].created ? 1 : 0;
    }
    assert_int_equal(created, 1);
    /* the losers removed the rooms they made */
    assert_int_equal(count_rooms(db, "rooms", dm_filter), 1);
    assert_int_equal(count_rooms(db, "dm_pairs", all), 1);
    bson_destroy(dm_filter);
    bson_destroy(all);
}

/* The stored shape: no members array in rooms; one room_members document per member
 * with the role the REST layer reports (creator = owner). */
static void test_member_documents(void **state)
{
    chat_db_t *db = *state;
    chat_room_t r = {0};
    chat_room_t dm = {0};
    bool changed = false;
    bool created = false;
    bson_oid_t rid;
    bson_oid_t alice;
    bson_oid_t bob;
    bson_t *has_array = BCON_NEW("members", "{", "$exists", BCON_BOOL(true), "}");
    bson_t *filter = NULL;

    create_ok(db, "shape", false, ALICE, &r);
    assert_int_equal(chat_rooms_add_member(db, r.id, BOB, &changed, NULL), CHAT_OK);
    assert_int_equal(chat_rooms_get_or_create_dm(db, ALICE, BOB, &dm, &created), CHAT_OK);
    assert_int_equal(count_rooms(db, "rooms", has_array), 0);

    bson_oid_init_from_string(&rid, r.id);
    bson_oid_init_from_string(&alice, ALICE);
    bson_oid_init_from_string(&bob, BOB);
    filter = BCON_NEW("room_id", BCON_OID(&rid), "user_id", BCON_OID(&alice), "role",
                      BCON_UTF8("owner"), "joined_at", "{", "$type", BCON_UTF8("date"), "}");
    assert_int_equal(count_rooms(db, "room_members", filter), 1);
    bson_destroy(filter);
    filter = BCON_NEW("room_id", BCON_OID(&rid), "user_id", BCON_OID(&bob), "role",
                      BCON_UTF8("member"));
    assert_int_equal(count_rooms(db, "room_members", filter), 1);
    bson_destroy(filter);

    /* the DM: its creator (user_a) is the owner, the other a member */
    bson_oid_init_from_string(&rid, dm.id);
    filter = BCON_NEW("room_id", BCON_OID(&rid), "user_id", BCON_OID(&alice), "role",
                      BCON_UTF8("owner"));
    assert_int_equal(count_rooms(db, "room_members", filter), 1);
    bson_destroy(filter);
    filter = BCON_NEW("room_id", BCON_OID(&rid), "user_id", BCON_OID(&bob), "role",
                      BCON_UTF8("member"));
    assert_int_equal(count_rooms(db, "room_members", filter), 1);
    bson_destroy(filter);
    assert_int_equal(dm.n_members, 2);
    assert_string_equal(dm.members[0], ALICE);
    assert_string_equal(dm.members[1], BOB);
    chat_room_clear(&dm);
    assert_int_equal(chat_rooms_find(db, r.id, &dm), CHAT_OK);
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
    chat_db_t *db = chat_db_create(getenv("CHAT_TEST_MONGO_URI"), arg->dbname, 5000, errbuf,
                                   sizeof(errbuf));

    arg->rc = CHAT_ERR_INTERNAL;
    if (db != NULL) {
        (void)chat_db_ping(db); /* connect before the start line */
    }
    pthread_barrier_wait(arg->start);
    if (db != NULL) {
        arg->rc = arg->add ? chat_rooms_add_member(db, arg->room_id, arg->user_id, &arg->changed,
                                                   NULL)
                           : chat_rooms_remove_member(db, arg->room_id, arg->user_id,
                                                      &arg->changed, NULL);
    }
    chat_db_destroy(db);
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
    chat_db_t *db = *state;
    chat_room_t r = {0};
    chat_room_t after = {0};
    member_arg_t args[MEMBER_RACERS];
    bool is_member = false;

    create_ok(db, "busy", false, ALICE, &r);
    memset(args, 0, sizeof(args));
    for (int i = 0; i < MEMBER_RACERS; i++) {
        snprintf(args[i].user_id, sizeof(args[i].user_id), "6700000000000000000000%02d", i);
    }
    assert_int_equal(race_members(db, r.id, args, true), MEMBER_RACERS);

    assert_int_equal(chat_rooms_find(db, r.id, &after), CHAT_OK);
    assert_int_equal(after.n_members, MEMBER_RACERS + 1);
    assert_string_equal(after.members[0], ALICE);
    for (int i = 0; i < MEMBER_RACERS; i++) {
        assert_true(chat_room_has_member(&after, args[i].user_id));
        assert_int_equal(chat_rooms_is_member(db, r.id, args[i].user_id, &is_member), CHAT_OK);
        assert_true(is_member);
    }
    chat_room_clear(&after);

    /* and all leave at once: every one of them removed exactly once */
    assert_int_equal(race_members(db, r.id, args, false), MEMBER_RACERS);
    assert_int_equal(chat_rooms_find(db, r.id, &after), CHAT_OK);
    assert_int_equal(after.n_members, 1);
    assert_string_equal(after.members[0], ALICE);
    chat_room_clear(&after);
    chat_room_clear(&r);
}

static void test_concurrent_adds_of_one_user(void **state)
{
    chat_db_t *db = *state;
    chat_room_t r = {0};
    chat_room_t after = {0};
    member_arg_t args[MEMBER_RACERS];

    create_ok(db, "busy", false, ALICE, &r);
    memset(args, 0, sizeof(args));
    for (int i = 0; i < MEMBER_RACERS; i++) {
        snprintf(args[i].user_id, sizeof(args[i].user_id), "%s", BOB);
    }
    assert_int_equal(race_members(db, r.id, args, true), 1);
    assert_int_equal(chat_rooms_find(db, r.id, &after), CHAT_OK);
    assert_int_equal(after.n_members, 2);
    assert_string_equal(after.members[1], BOB);
    chat_room_clear(&after);

    /* removing the same user from 8 threads: exactly one removes */
    assert_int_equal(race_members(db, r.id, args, false), 1);
    assert_int_equal(chat_rooms_find(db, r.id, &after), CHAT_OK);
    assert_int_equal(after.n_members, 1);
    chat_room_clear(&after);
    chat_room_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_find, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_list_visible, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_add_and_remove_member, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_ids_for_member, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_dm_get_or_create, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_dm_race_makes_one_room, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_member_documents, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_adds_of_different_users, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_adds_of_one_user, db_setup, db_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
