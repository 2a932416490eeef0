/*
 * test_rooms_repo.c - rooms_repo and the rooms side of the read model (room_cache.h,
 * member_cache.h, membership.h) against a real MongoDB/FerretDB (CHAT_TEST_MONGO_URI)
 * and Redis (CHAT_TEST_REDIS_URL): create/find, the visible-rooms listing (also with
 * Redis down) and race-safe DM rooms. Member changes are test_rooms_repo_members.c.
 * Each test uses its own database, dropped at the end.
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

static void test_create_and_find(void **state)
{
    chat_store_t *st = *state;
    chat_db_t *db = st->db;
    chat_room_t r = {0};
    chat_room_t found = {0};

    create_ok(st, "general", false, ALICE, &r);
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
    assert_int_equal(found.n_members, 0); /* the document only: members are the read model's */
    chat_room_clear(&found);
    assert_int_equal(load_full(st, r.id, &found), CHAT_OK);
    assert_int_equal(found.n_members, 1);
    assert_int_equal(found.member_count, 1);
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
    chat_store_t *st = *state;
    chat_room_t r = {0};
    chat_room_list_t list = {0};
    int64_t total = -1;
    bool changed = false;
    char name[16];

    /* p0 (public), s1 (private, alice), p2, s3 (private, bob), p4: created in that order */
    for (int i = 0; i < 5; i++) {
        bool priv = i % 2 == 1;

        snprintf(name, sizeof(name), "%c%d", priv ? 's' : 'p', i);
        create_ok(st, name, priv, i == 3 ? BOB : ALICE, &r);
        chat_room_clear(&r);
        usleep(3000); /* distinct created_at */
    }

    assert_int_equal(chat_rooms_visible(st, ALICE, 0, 50, &list, &total), CHAT_OK);
    assert_int_equal(total, 4);
    assert_int_equal(list.n, 4);
    assert_string_equal(list.items[0].name, "p4"); /* newest first */
    assert_string_equal(list.items[1].name, "p2");
    assert_string_equal(list.items[2].name, "s1");
    assert_string_equal(list.items[3].name, "p0");
    /* every room of the page comes with its members, oldest first */
    assert_int_equal(add_member(st, list.items[0].id, CAROL, &changed, NULL), CHAT_OK);
    assert_int_equal(add_member(st, list.items[0].id, BOB, &changed, NULL), CHAT_OK);
    chat_room_list_clear(&list);
    assert_int_equal(chat_rooms_visible(st, ALICE, 0, 50, &list, &total), CHAT_OK);
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

    assert_int_equal(chat_rooms_visible(st, BOB, 1, 2, &list, &total), CHAT_OK);
    assert_int_equal(total, 4);
    assert_int_equal(list.n, 2);
    assert_string_equal(list.items[0].name, "s3");
    assert_string_equal(list.items[1].name, "p2");
    chat_room_list_clear(&list);

    /* a stranger sees public rooms only; so does an anonymous or malformed id */
    assert_int_equal(chat_rooms_visible(st, CAROL, 0, 50, &list, &total), CHAT_OK);
    assert_int_equal(total, 3);
    assert_int_equal(list.n, 3);
    chat_room_list_clear(&list);
    assert_int_equal(chat_rooms_visible(st, NULL, 0, 50, &list, &total), CHAT_OK);
    assert_int_equal(total, 3);
    chat_room_list_clear(&list);

    /* joining a private room makes it visible */
    assert_int_equal(chat_rooms_visible(st, BOB, 0, 50, &list, &total), CHAT_OK);
    assert_int_equal(total, 4);
    assert_string_equal(list.items[1].name, "s3");
    assert_int_equal(add_member(st, list.items[1].id, CAROL, &changed, NULL), CHAT_OK);
    chat_room_list_clear(&list);
    assert_int_equal(chat_rooms_visible(st, CAROL, 0, 50, &list, &total), CHAT_OK);
    assert_int_equal(total, 4);
    assert_int_equal(list.n, 4);
    assert_string_equal(list.items[1].name, "s3");
    assert_int_equal(list.items[1].n_members, 2);
    assert_string_equal(list.items[1].members[0], BOB);
    assert_string_equal(list.items[1].members[1], CAROL);
    chat_room_list_clear(&list);

    /* past the end */
    assert_int_equal(chat_rooms_visible(st, ALICE, 10, 50, &list, &total), CHAT_OK);
    assert_int_equal(list.n, 0);
    assert_int_equal(total, 4);
    chat_room_list_clear(&list);
}

static void test_dm_get_or_create(void **state)
{
    chat_store_t *st = *state;
    chat_db_t *db = st->db;
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
    assert_int_equal(is_member_of(st, other.id, BOB, &is_member), CHAT_OK);
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
    chat_store_t *st = *state;
    chat_db_t *db = st->db;
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_find, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_list_visible, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_dm_get_or_create, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_dm_race_makes_one_room, store_setup, store_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
