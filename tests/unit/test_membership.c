/*
 * test_membership.c - join / leave / remove against a real MongoDB/FerretDB
 * (CHAT_TEST_MONGO_URI) and Redis (CHAT_TEST_REDIS_URL): room rules, exactly one system
 * message per real change (also under concurrent joins), that message's text, type,
 * author and seq, the undo of the member change when the message cannot be stored, and
 * the refusal of every change while Redis is down. The read model's side is
 * test_membership_read_model.c. Each test uses its own database.
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
#include "chat/messages_repo.h"
#include "chat/room_cache.h"
#include "chat/rooms_repo.h"

#include "chat/redis_sync.h"

#include "db_fixture.h"

/* ---- helpers ---- */

#define ALICE "660000000000000000000001"
#define BOB "660000000000000000000002"
#define CAROL "660000000000000000000003"

static int64_t last_seq(chat_db_t *db, const char *room_id)
{
    int64_t seq = -1;

    assert_int_equal(chat_messages_last_seq(db, room_id, &seq), CHAT_OK);
    return seq;
}

/* ---- tests ---- */

static void test_join_public_room(void **state)
{
    chat_store_t *st = *state;
    chat_db_t *db = st->db;
    chat_room_t r = {0};
    chat_room_t after = {0};
    chat_message_t sys = {0};
    bool changed = false;

    assert_int_equal(chat_rooms_create(db, "lobby", "", false, ALICE, &r), CHAT_OK);

    assert_int_equal(chat_membership_join(st, r.id, BOB, "bob", false, &after, &sys, &changed),
                     CHAT_OK);
    assert_true(changed);
    assert_int_equal(after.n_members, 2);
    assert_true(chat_room_has_member(&after, BOB));
    assert_string_equal(sys.content, "bob joined the room");
    assert_int_equal(sys.type, CHAT_MSG_SYSTEM);
    assert_string_equal(sys.user_id, BOB);
    assert_string_equal(sys.username, "bob");
    assert_string_equal(sys.room_id, r.id);
    assert_int_equal(sys.seq, 1);
    assert_null(sys.client_msg_id);
    chat_room_clear(&after);
    chat_message_clear(&sys);

    /* joining again changes nothing and posts nothing */
    assert_int_equal(chat_membership_join(st, r.id, BOB, "bob", false, &after, &sys, &changed),
                     CHAT_OK);
    assert_false(changed);
    assert_int_equal(after.n_members, 2);
    assert_null(sys.content);
    assert_int_equal(last_seq(db, r.id), 1);
    chat_room_clear(&after);

    /* the owner is already a member */
    assert_int_equal(chat_membership_join(st, r.id, ALICE, "alice", false, NULL, NULL, &changed),
                     CHAT_OK);
    assert_false(changed);

    /* an id in any other spelling than lower-case hex is refused (SPEC §5) */
    assert_int_equal(chat_membership_join(st, r.id, "660000000000000000000ABC", "x", false, NULL,
                                          NULL, &changed),
                     CHAT_ERR_INVALID);
    assert_false(changed);

    assert_int_equal(chat_membership_join(st, "650000000000000000000009", BOB, "bob", false, &after,
                                          &sys, &changed),
                     CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_membership_join(st, "bad", BOB, "bob", false, &after, &sys, &changed),
                     CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_membership_join(st, r.id, "bad", "bob", false, &after, &sys, &changed),
                     CHAT_ERR_INVALID);
    chat_room_clear(&r);
}

static void test_private_room_is_invite_only(void **state)
{
    chat_store_t *st = *state;
    chat_db_t *db = st->db;
    chat_room_t r = {0};
    chat_room_t after = {0};
    chat_room_t dm = {0};
    chat_message_t sys = {0};
    bool changed = true;
    bool created = false;

    assert_int_equal(chat_rooms_create(db, "secret", "", true, ALICE, &r), CHAT_OK);
    assert_int_equal(chat_membership_join(st, r.id, BOB, "bob", false, &after, &sys, &changed),
                     CHAT_ERR_FORBIDDEN);
    assert_false(changed);
    assert_int_equal(last_seq(db, r.id), 0);

    assert_int_equal(chat_membership_join(st, r.id, BOB, "bob", true, &after, &sys, &changed),
                     CHAT_OK);
    assert_true(changed);
    assert_string_equal(sys.content, "bob joined the room");
    chat_room_clear(&after);
    chat_message_clear(&sys);

    /* a member "joining" again is a no-op, not a refusal */
    assert_int_equal(chat_membership_join(st, r.id, BOB, "bob", false, &after, &sys, &changed),
                     CHAT_OK);
    assert_false(changed);
    chat_room_clear(&after);

    /* a DM never takes a third person */
    assert_int_equal(chat_rooms_get_or_create_dm(db, ALICE, BOB, &dm, &created), CHAT_OK);
    assert_int_equal(chat_membership_join(st, dm.id, CAROL, "carol", true, &after, &sys, &changed),
                     CHAT_ERR_FORBIDDEN);
    chat_room_clear(&dm);
    chat_room_clear(&r);
}

static void test_leave_and_remove(void **state)
{
    chat_store_t *st = *state;
    chat_db_t *db = st->db;
    chat_room_t r = {0};
    chat_room_t after = {0};
    chat_room_t dm = {0};
    chat_message_t sys = {0};
    bool changed = false;
    bool created = false;

    assert_int_equal(chat_rooms_create(db, "club", "", false, ALICE, &r), CHAT_OK);
    assert_int_equal(chat_membership_join(st, r.id, BOB, "bob", false, NULL, NULL, &changed),
                     CHAT_OK);
    assert_int_equal(chat_membership_join(st, r.id, CAROL, "carol", false, NULL, NULL, &changed),
                     CHAT_OK);

    assert_int_equal(chat_membership_leave(st, r.id, BOB, "bob", false, &after, &sys, &changed),
                     CHAT_OK);
    assert_true(changed);
    assert_false(chat_room_has_member(&after, BOB));
    assert_int_equal(after.n_members, 2);
    assert_string_equal(sys.content, "bob left the room");
    assert_int_equal(sys.type, CHAT_MSG_SYSTEM);
    assert_string_equal(sys.user_id, BOB);
    assert_int_equal(sys.seq, 3);
    chat_room_clear(&after);
    chat_message_clear(&sys);

    /* not a member: OK, nothing changes */
    assert_int_equal(chat_membership_leave(st, r.id, BOB, "bob", false, &after, &sys, &changed),
                     CHAT_OK);
    assert_false(changed);
    assert_null(sys.content);
    assert_int_equal(last_seq(db, r.id), 3);
    chat_room_clear(&after);

    assert_int_equal(chat_membership_leave(st, r.id, CAROL, "carol", true, &after, &sys, &changed),
                     CHAT_OK);
    assert_true(changed);
    assert_string_equal(sys.content, "carol was removed from the room");
    assert_string_equal(sys.username, "carol");
    chat_room_clear(&after);
    chat_message_clear(&sys);

    /* the owner stays */
    assert_int_equal(chat_membership_leave(st, r.id, ALICE, "alice", false, &after, &sys, &changed),
                     CHAT_ERR_FORBIDDEN);
    assert_int_equal(chat_membership_leave(st, r.id, ALICE, "alice", true, &after, &sys, &changed),
                     CHAT_ERR_FORBIDDEN);

    /* a DM has no exit */
    assert_int_equal(chat_rooms_get_or_create_dm(db, ALICE, BOB, &dm, &created), CHAT_OK);
    assert_int_equal(
        chat_membership_leave(st, dm.id, ALICE, "alice", false, &after, &sys, &changed),
        CHAT_ERR_FORBIDDEN);
    chat_room_clear(&dm);

    assert_int_equal(chat_membership_leave(st, "650000000000000000000009", BOB, "bob", false,
                                           &after, &sys, &changed),
                     CHAT_ERR_NOT_FOUND);
    chat_room_clear(&r);
}

/* When the system message cannot be stored the member change is undone, so that a retry
 * makes it again and posts the message then. A username too large for a BSON document
 * (16 MiB) makes the message insert fail. */
static void test_failed_message_undoes_the_change(void **state)
{
    chat_store_t *st = *state;
    chat_db_t *db = st->db;
    chat_room_t r = {0};
    chat_room_t after = {0};
    chat_message_t sys = {0};
    bool changed = true;
    bool is_member = true;
    size_t huge_len = 17u * 1024u * 1024u;
    char *huge = malloc(huge_len + 1);

    assert_non_null(huge);
    memset(huge, 'x', huge_len);
    huge[huge_len] = '\0';
    assert_int_equal(chat_rooms_create(db, "undo", "", false, ALICE, &r), CHAT_OK);

    assert_int_not_equal(chat_membership_join(st, r.id, BOB, huge, false, &after, &sys, &changed),
                         CHAT_OK);
    assert_false(changed);
    assert_int_equal(chat_member_check(st, r.id, BOB, &is_member), CHAT_OK);
    assert_false(is_member);
    assert_int_equal(last_seq(db, r.id), 0);
    chat_room_clear(&after);
    chat_message_clear(&sys);

    /* the retry joins and posts */
    assert_int_equal(chat_membership_join(st, r.id, BOB, "bob", false, &after, &sys, &changed),
                     CHAT_OK);
    assert_true(changed);
    assert_int_equal(sys.seq, 1);
    chat_room_clear(&after);
    chat_message_clear(&sys);

    /* leaving: the member comes back when the message fails */
    assert_int_not_equal(chat_membership_leave(st, r.id, BOB, huge, false, &after, &sys, &changed),
                         CHAT_OK);
    assert_false(changed);
    assert_int_equal(chat_member_check(st, r.id, BOB, &is_member), CHAT_OK);
    assert_true(is_member);
    assert_int_equal(last_seq(db, r.id), 1);
    chat_room_clear(&after);
    chat_message_clear(&sys);
    assert_int_equal(chat_membership_leave(st, r.id, BOB, "bob", false, &after, &sys, &changed),
                     CHAT_OK);
    assert_true(changed);
    assert_int_equal(sys.seq, 2);
    chat_room_clear(&after);
    chat_message_clear(&sys);
    chat_room_clear(&r);
    free(huge);
}

/* ---- concurrent joins from threads with their own pools (like separate processes) ---- */

#define JOINERS 6

typedef struct join_arg {
    const char *dbname;
    int64_t window;
    const char *room_id;
    char user_id[CHAT_ID_LEN];
    char username[16];
    pthread_barrier_t *start;
    chat_err_t rc;
    bool changed;
    int64_t seq;
} join_arg_t;

static void *joiner(void *p)
{
    join_arg_t *arg = p;
    char errbuf[256];
    chat_message_t sys = {0};
    chat_store_t st = {0};

    st.db =
        chat_db_create(getenv("CHAT_TEST_MONGO_URI"), arg->dbname, 5000, errbuf, sizeof(errbuf));
    st.redis = chat_redis_create(getenv("CHAT_TEST_REDIS_URL"), false, 2000, NULL, 0);
    st.window = arg->window;
    arg->rc = CHAT_ERR_INTERNAL;
    if (st.db != NULL) {
        (void)chat_db_ping(st.db);
    }
    pthread_barrier_wait(arg->start);
    if (st.db != NULL && st.redis != NULL) {
        arg->rc = chat_membership_join(&st, arg->room_id, arg->user_id, arg->username, false, NULL,
                                       &sys, &arg->changed);
        arg->seq = sys.seq;
    }
    chat_message_clear(&sys);
    chat_redis_destroy(st.redis);
    chat_db_destroy(st.db);
    return NULL;
}

static void test_concurrent_joins(void **state)
{
    chat_store_t *st = *state;
    chat_db_t *db = st->db;
    chat_room_t r = {0};
    chat_room_t after = {0};
    pthread_t threads[JOINERS];
    join_arg_t args[JOINERS];
    pthread_barrier_t start;
    bool seen[JOINERS + 1] = {false};

    assert_int_equal(chat_rooms_create(db, "busy", "", false, ALICE, &r), CHAT_OK);
    assert_int_equal(pthread_barrier_init(&start, NULL, JOINERS), 0);
    memset(args, 0, sizeof(args));
    for (int i = 0; i < JOINERS; i++) {
        args[i].dbname = chat_db_name(db);
        args[i].window = st->window;
        args[i].room_id = r.id;
        snprintf(args[i].user_id, sizeof(args[i].user_id), "6700000000000000000000%02d", i);
        snprintf(args[i].username, sizeof(args[i].username), "user%d", i);
        args[i].start = &start;
        assert_int_equal(pthread_create(&threads[i], NULL, joiner, &args[i]), 0);
    }
    for (int i = 0; i < JOINERS; i++) {
        pthread_join(threads[i], NULL);
    }
    pthread_barrier_destroy(&start);

    /* every join counted once, each with its own system message and seq */
    for (int i = 0; i < JOINERS; i++) {
        assert_int_equal(args[i].rc, CHAT_OK);
        assert_true(args[i].changed);
        assert_true(args[i].seq >= 1 && args[i].seq <= JOINERS);
        assert_false(seen[args[i].seq]);
        seen[args[i].seq] = true;
    }
    assert_int_equal(last_seq(db, r.id), JOINERS);
    assert_int_equal(chat_room_load(st, r.id, &after), CHAT_OK);
    assert_int_equal(chat_room_load_members(st, &after), CHAT_OK);
    assert_int_equal(after.member_count, JOINERS + 1);
    for (int i = 0; i < JOINERS; i++) {
        bool is_member = false;
        assert_true(chat_room_has_member(&after, args[i].user_id));
        assert_int_equal(chat_member_check(st, r.id, args[i].user_id, &is_member), CHAT_OK);
        assert_true(is_member);
    }
    chat_room_clear(&after);
    chat_room_clear(&r);
}

/* Membership changes need Redis: while it is down they are refused and change nothing. */
static void test_changes_refused_while_redis_is_down(void **state)
{
    chat_store_t *st = *state;
    chat_store_t down = *st;
    chat_room_t r = {0};
    bool changed = true;
    bool is_member = true;

    down.redis = chat_redis_create("redis://127.0.0.1:1", false, 200, NULL, 0);
    assert_non_null(down.redis);
    assert_int_equal(chat_rooms_create(st->db, "no redis", "", false, ALICE, &r), CHAT_OK);
    assert_int_equal(chat_membership_join(&down, r.id, BOB, "bob", false, NULL, NULL, &changed),
                     CHAT_ERR_UNAVAILABLE);
    assert_false(changed);
    assert_int_equal(chat_member_check(st, r.id, BOB, &is_member), CHAT_OK);
    assert_false(is_member);
    assert_int_equal(last_seq(st->db, r.id), 0);
    assert_int_equal(chat_membership_join(st, r.id, BOB, "bob", false, NULL, NULL, &changed),
                     CHAT_OK);
    assert_int_equal(chat_membership_leave(&down, r.id, BOB, "bob", false, NULL, NULL, &changed),
                     CHAT_ERR_UNAVAILABLE);
    assert_int_equal(chat_member_check(st, r.id, BOB, &is_member), CHAT_OK);
    assert_true(is_member);
    chat_redis_destroy(down.redis);
    chat_room_clear(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_join_public_room, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_private_room_is_invite_only, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_leave_and_remove, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_failed_message_undoes_the_change, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_joins, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_changes_refused_while_redis_is_down, store_setup,
                                        store_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
