/*
 * test_membership_read_model.c - the read model kept in step with join / leave / remove
 * (membership.h, member_cache.h, cached_set.h) against a real MongoDB/FerretDB
 * (CHAT_TEST_MONGO_URI) and Redis (CHAT_TEST_REDIS_URL): a removed member fails the check
 * the moment the removal returns, member epochs move with every change, and a rebuild
 * that races a removal and a Redis flush never stores the removed member. Each test uses
 * its own database.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chat/cached_set.h"
#include "chat/db.h"
#include "chat/member_cache.h"
#include "chat/membership.h"
#include "chat/redis_sync.h"
#include "chat/room_cache.h"
#include "chat/rooms_repo.h"

#include "db_fixture.h"

#define ALICE "660000000000000000000001"
#define BOB "660000000000000000000002"

/* ---- tests ---- */

/* The read model follows every change at once: a removed member fails the check the
 * moment the removal returns, an added one passes, and the counts agree. */
static void test_cache_follows_changes(void **state)
{
    chat_store_t *st = *state;
    chat_room_t r = {0};
    chat_room_t after = {0};
    bool changed = false;
    bool is_member = false;

    assert_int_equal(chat_rooms_create(st->db, "cached", "", true, ALICE, &r), CHAT_OK);
    chat_membership_room_created(st, &r, (const char(*)[CHAT_ID_LEN])r.members, r.n_members);
    /* build the set first, so that the changes below must update it, not just miss it */
    assert_int_equal(chat_member_check(st, r.id, BOB, &is_member), CHAT_OK);
    assert_false(is_member);
    assert_int_equal(chat_membership_join(st, r.id, BOB, "bob", true, &after, NULL, &changed),
                     CHAT_OK);
    assert_int_equal(after.member_count, 2);
    chat_room_clear(&after);
    assert_int_equal(chat_member_check(st, r.id, BOB, &is_member), CHAT_OK);
    assert_true(is_member);
    assert_int_equal(chat_membership_leave(st, r.id, BOB, "bob", true, &after, NULL, &changed),
                     CHAT_OK);
    assert_true(changed);
    assert_int_equal(after.member_count, 1);
    chat_room_clear(&after);
    assert_int_equal(chat_member_check(st, r.id, BOB, &is_member), CHAT_OK);
    assert_false(is_member);
    chat_room_clear(&r);
}

/* The membership epoch moves with every change and with a flush, and reads "" for a
 * set that is not built (gateways check their watchers again whenever it moves). */
static void test_epochs_move_with_changes(void **state)
{
    chat_store_t *st = *state;
    chat_room_t r = {0};
    bool changed = false;
    bool is_member = false;
    char e0[1][CHAT_MEMBER_EPOCH_LEN];
    char e1[1][CHAT_MEMBER_EPOCH_LEN];
    const char *ids[1];
    redisReply *reply;

    assert_int_equal(chat_rooms_create(st->db, "epochs", "", false, ALICE, &r), CHAT_OK);
    ids[0] = r.id;
    assert_int_equal(chat_member_epochs(st, ids, 1, e0), CHAT_OK);
    assert_string_equal(e0[0], "");                                          /* not built yet */
    assert_int_equal(chat_member_check(st, r.id, BOB, &is_member), CHAT_OK); /* builds it */
    assert_int_equal(chat_member_epochs(st, ids, 1, e0), CHAT_OK);
    assert_string_not_equal(e0[0], "");
    assert_int_equal(chat_member_epochs(st, ids, 1, e1), CHAT_OK);
    assert_string_equal(e0[0], e1[0]); /* nothing changed */
    assert_int_equal(chat_membership_join(st, r.id, BOB, "bob", false, NULL, NULL, &changed),
                     CHAT_OK);
    assert_int_equal(chat_member_epochs(st, ids, 1, e1), CHAT_OK);
    assert_string_not_equal(e0[0], e1[0]);
    assert_int_equal(chat_membership_leave(st, r.id, BOB, "bob", false, NULL, NULL, &changed),
                     CHAT_OK);
    assert_int_equal(chat_member_epochs(st, ids, 1, e0), CHAT_OK);
    assert_string_not_equal(e0[0], e1[0]);
    reply = chat_redis_command(st->redis, "FLUSHDB");
    assert_non_null(reply);
    freeReplyObject(reply);
    assert_int_equal(chat_member_epochs(st, ids, 1, e1), CHAT_OK);
    assert_string_equal(e1[0], "");
    /* rebuilt with no change since: still a new epoch (the flush may have hidden one) */
    assert_int_equal(chat_member_check(st, r.id, BOB, &is_member), CHAT_OK);
    assert_int_equal(chat_member_epochs(st, ids, 1, e1), CHAT_OK);
    assert_string_not_equal(e1[0], "");
    assert_string_not_equal(e0[0], e1[0]);
    chat_room_clear(&r);
}

/* The database as test_rebuild_racing_a_removal_and_a_flush's rebuild sees it: its first
 * read ran before Bob's removal and still finds him; before that rebuild stores what it
 * read, the removal reaches the set and Redis is flushed. Later reads find nobody. */
typedef struct flush_race {
    chat_redis_t *redis;
    chat_cset_t set;
    int loads;
} flush_race_t;

static chat_err_t flush_race_load(void *arg, chat_cset_entry_t **entries, size_t *n, void **owned)
{
    flush_race_t *fr = arg;
    redisReply *reply;

    *entries = NULL;
    *n = 0;
    *owned = NULL;
    if (fr->loads++ > 0) {
        return CHAT_OK;
    }
    *entries = malloc(sizeof(**entries));
    assert_non_null(*entries);
    (*entries)[0] = (chat_cset_entry_t){.score = 1.0, .member = BOB, .len = strlen(BOB)};
    *n = 1;
    assert_int_equal(chat_cset_change(fr->redis, &fr->set, false, 0, BOB), CHAT_OK);
    reply = chat_redis_command(fr->redis, "FLUSHDB");
    assert_non_null(reply);
    freeReplyObject(reply);
    return CHAT_OK;
}

static void flush_race_free(chat_cset_entry_t *entries, size_t n, void *owned)
{
    (void)n;
    (void)owned;
    free(entries);
}

/* A rebuild that read the database before a removal must not store the removed member,
 * even when Redis is flushed (FLUSHALL in the chaos suite) between the removal and the
 * rebuild's store: the flush takes the version the removal moved, and a version that
 * came back as the one read before the database would let the stale read in. */
static void test_rebuild_racing_a_removal_and_a_flush(void **state)
{
    chat_store_t *st = *state;
    flush_race_t fr = {.redis = st->redis};
    chat_cset_answer_t answer = CHAT_CSET_PRESENT;
    redisReply *reply = chat_redis_command(st->redis, "FLUSHDB");

    assert_non_null(reply);
    freeReplyObject(reply);
    chat_cset_room_members("670000000000000000000001", &fr.set);
    /* a set that never changed (or was flushed): no version yet */
    assert_int_equal(chat_cset_build(st->redis, &fr.set, flush_race_load, flush_race_free, &fr),
                     CHAT_OK);
    assert_int_equal(chat_cset_check(st->redis, &fr.set, BOB, &answer), CHAT_OK);
    assert_int_equal(answer, CHAT_CSET_ABSENT);
    assert_int_equal(fr.loads, 2); /* the stale read was refused and read again */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cache_follows_changes, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_epochs_move_with_changes, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_racing_a_removal_and_a_flush, store_setup,
                                        store_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
