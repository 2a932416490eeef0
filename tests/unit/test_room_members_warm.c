/*
 * test_room_members_warm.c - the rooms' member sets warmed from the read model's one
 * read of room_members (room_members_warm.h, through chat_user_rooms_build_all) against
 * a real MongoDB/FerretDB and Redis: every room's set built with exactly its members,
 * oldest first with their join times, an empty room's set built empty, a set changed
 * after its version was read left unbuilt, nothing of the rooms' sets past max_rooms
 * or with max_rooms 0 (the users' sets still built), a first start with no rooms
 * and no memberships, and every room's document cached by the same read of rooms.
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

#include "chat/cached_set.h"
#include "chat/member_cache.h"
#include "chat/room_cache.h"
#include "chat/room_members_repo.h"
#include "chat/room_members_warm.h"
#include "chat/rooms_repo.h"
#include "chat/user_ids.h"
#include "chat/user_rooms_batch.h"
#include "chat/users_repo.h"

#include "db_fixture.h"

typedef struct fixture {
    char users[3][CHAT_ID_LEN];
    char rooms[3][CHAT_ID_LEN]; /* rooms[i] created by users[i]; rooms[2] emptied */
    int64_t created_ms[3];
} fixture_t;

static void add_member(const chat_store_t *s, const char *room, const char *user, int64_t at)
{
    bson_oid_t r;
    bson_oid_t u;

    assert_true(chat_db_oid_from_hex(room, &r));
    assert_true(chat_db_oid_from_hex(user, &u));
    assert_int_equal(chat_members_insert(s->db, &r, &u, "member", at), CHAT_OK);
}

/* Three users, each the creator (and so the first member) of a room; kim also joins
 * jo's room a second after it was created; lou's room is left empty. Then the set of
 * all ids is built, as a gateway's start leaves it. */
static void seed(const chat_store_t *s, fixture_t *f)
{
    const char *names[3] = {"jo", "kim", "lou"};
    chat_cset_answer_t a[3];
    bson_oid_t empty;

    for (int i = 0; i < 3; i++) {
        chat_room_t room = {0};
        test_add_user(s->db, names[i], f->users[i]);
        assert_int_equal(chat_rooms_create(s->db, names[i], "", false, f->users[i], &room),
                         CHAT_OK);
        memcpy(f->rooms[i], room.id, CHAT_ID_LEN);
        f->created_ms[i] = room.created_at_ms;
        chat_room_clear(&room);
    }
    add_member(s, f->rooms[0], f->users[1], f->created_ms[0] + 1000);
    assert_true(chat_db_oid_from_hex(f->rooms[2], &empty));
    assert_int_equal(chat_members_delete(s->db, &empty, NULL, NULL), CHAT_OK);
    assert_int_equal(chat_user_ids_check_many(s, (const char(*)[CHAT_ID_LEN])f->users, 3, a, NULL),
                     CHAT_OK);
}

static chat_cset_answer_t in_members_of(const chat_store_t *s, const char *room, const char *user)
{
    chat_cset_t set;

    chat_cset_room_members(room, &set);
    return test_cset_has(s, &set, user);
}

static void test_every_rooms_member_set_from_one_read(void **state)
{
    const chat_store_t *s = *state;
    chat_read_model_warm_t warm = {.max_users = 100, .max_pairs = 100, .max_rooms = 100};
    chat_member_page_t page = {0};
    fixture_t f;

    seed(s, &f);
    assert_int_equal(in_members_of(s, f.rooms[0], f.users[0]), CHAT_CSET_NOT_BUILT);
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_OK);
    assert_int_equal(warm.user_sets, 3);
    assert_int_equal(warm.room_sets, 3);
    assert_int_equal(in_members_of(s, f.rooms[0], f.users[0]), CHAT_CSET_PRESENT);
    assert_int_equal(in_members_of(s, f.rooms[0], f.users[1]), CHAT_CSET_PRESENT);
    assert_int_equal(in_members_of(s, f.rooms[0], f.users[2]), CHAT_CSET_ABSENT);
    assert_int_equal(in_members_of(s, f.rooms[1], f.users[0]), CHAT_CSET_ABSENT);
    assert_int_equal(in_members_of(s, f.rooms[1], f.users[1]), CHAT_CSET_PRESENT);
    assert_int_equal(in_members_of(s, f.rooms[2], f.users[0]), CHAT_CSET_ABSENT); /* built, empty */
    /* the page a REST call reads: oldest first, join times as stored */
    assert_int_equal(chat_member_page(s, f.rooms[0], 0, 10, &page), CHAT_OK);
    assert_int_equal(page.total, 2);
    assert_int_equal(page.n, 2);
    assert_string_equal(page.ids[0], f.users[0]);
    assert_string_equal(page.ids[1], f.users[1]);
    assert_int_equal(page.joined_ms[1], f.created_ms[0] + 1000);
    chat_member_page_clear(&page);
    /* built already: nothing stored again */
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_OK);
    assert_int_equal(warm.user_sets + warm.room_sets, 0);
}

static void test_a_set_changed_after_its_version_is_left_unbuilt(void **state)
{
    const chat_store_t *s = *state;
    chat_room_members_warm_t w;
    chat_member_pair_t *pairs = NULL;
    size_t n_pairs = 0;
    size_t built = 0;
    chat_cset_t set;
    fixture_t f;

    seed(s, &f);
    assert_int_equal(chat_room_members_warm_prepare(s, 100, &w), CHAT_OK);
    assert_int_equal(w.n, 3);
    assert_int_equal(w.unbuilt, 3);
    /* kim leaves room 0 between the versions and the read: the read still has kim, the
     * change bumped the version, so room 0's set must not be stored with kim in it */
    chat_cset_room_members(f.rooms[0], &set);
    assert_int_equal(chat_cset_change(s->redis, &set, false, 0, f.users[1]), CHAT_OK);
    assert_int_equal(chat_members_of_users(s->db, NULL, 0, 100, &pairs, &n_pairs), CHAT_OK);
    assert_int_equal(n_pairs, 3);
    assert_int_equal(chat_room_members_warm_store(s, &w, pairs, n_pairs, &built), CHAT_OK);
    assert_int_equal(built, 2);
    assert_int_equal(in_members_of(s, f.rooms[0], f.users[1]), CHAT_CSET_NOT_BUILT);
    assert_int_equal(in_members_of(s, f.rooms[1], f.users[1]), CHAT_CSET_PRESENT);
    free(pairs);
    chat_room_members_warm_clear(&w);
}

static void test_rooms_past_the_limit_are_left_to_their_readers(void **state)
{
    const chat_store_t *s = *state;
    chat_read_model_warm_t warm = {.max_users = 100, .max_pairs = 100, .max_rooms = 2};
    chat_room_members_warm_t w;
    fixture_t f;

    seed(s, &f);
    assert_int_equal(chat_room_members_warm_prepare(s, 2, &w), CHAT_ERR_CONFLICT);
    assert_int_equal(w.n, 0);
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_OK);
    assert_int_equal(warm.user_sets, 3); /* the users' sets all the same */
    assert_int_equal(warm.room_sets, 0);
    assert_int_equal(in_members_of(s, f.rooms[0], f.users[0]), CHAT_CSET_NOT_BUILT);
    /* and with the rooms' part switched off */
    warm.max_rooms = 0;
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_OK);
    assert_int_equal(warm.room_sets, 0);
    assert_int_equal(in_members_of(s, f.rooms[1], f.users[1]), CHAT_CSET_NOT_BUILT);
}

static void test_no_rooms_and_no_memberships(void **state)
{
    const chat_store_t *s = *state;
    chat_read_model_warm_t warm = {.max_users = 100, .max_pairs = 100, .max_rooms = 100};
    chat_room_members_warm_t w;
    size_t built = 99;
    char id[CHAT_ID_LEN];
    chat_cset_answer_t a;

    /* a first start: nobody, nothing (the arrays the database gives back are NULL) */
    assert_int_equal(chat_room_members_warm_prepare(s, 100, &w), CHAT_OK);
    assert_int_equal(w.n, 0);
    assert_int_equal(chat_room_members_warm_store(s, &w, NULL, 0, &built), CHAT_OK);
    assert_int_equal(built, 0);
    chat_room_members_warm_clear(&w);
    /* one user in no room: its empty set is built, there is no room to build */
    test_add_user(s->db, "solo", id);
    assert_int_equal(chat_user_ids_check_many(s, (const char(*)[CHAT_ID_LEN]) & id, 1, &a, NULL),
                     CHAT_OK);
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_OK);
    assert_int_equal(warm.user_sets, 1);
    assert_int_equal(warm.room_sets, 0);
}

/* The warm-up's read of rooms caches every room's document: a room's first look after it
 * reads no database (a document removed behind the cache's back is still answered). */
static void test_every_rooms_document_cached_by_the_same_read(void **state)
{
    const chat_store_t *s = *state;
    chat_read_model_warm_t warm = {.max_users = 100, .max_pairs = 100, .max_rooms = 100};
    chat_room_t room = {0};
    bson_oid_t oid;
    bson_t *doc;
    fixture_t f;

    seed(s, &f);
    assert_int_equal(chat_user_rooms_build_all(s, &warm), CHAT_OK);
    assert_true(chat_db_oid_from_hex(f.rooms[1], &oid));
    doc = BCON_NEW("_id", BCON_OID(&oid));
    assert_int_equal(chat_db_delete(s->db, "rooms", doc, false, NULL), CHAT_OK);
    bson_destroy(doc);
    assert_int_equal(chat_rooms_find(s->db, f.rooms[1], &room), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_room_load(s, f.rooms[1], &room), CHAT_OK);
    assert_string_equal(room.name, "kim");
    assert_string_equal(room.creator_id, f.users[1]);
    assert_false(room.is_private);
    assert_int_equal(room.created_at_ms, f.created_ms[1]);
    chat_room_clear(&room);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_every_rooms_member_set_from_one_read, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_a_set_changed_after_its_version_is_left_unbuilt,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_rooms_past_the_limit_are_left_to_their_readers,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_every_rooms_document_cached_by_the_same_read,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_no_rooms_and_no_memberships, store_setup,
                                        store_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
