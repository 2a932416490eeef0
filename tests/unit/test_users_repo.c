/*
 * test_users_repo.c - users_repo against a real MongoDB/FerretDB (CHAT_TEST_MONGO_URI):
 * case-insensitive uniqueness with the clashing field named, lookups, profile updates
 * and last_seen. Reads of many users are test_users_list.c. Each test uses its own
 * database, dropped at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/db.h"
#include "chat/users_repo.h"

#include "db_fixture.h"

/* ---- helpers ---- */

#define HASH "$2b$12$abcdefghijklmnopqrstuuJ0qnH8Sx1m5cS3a3g6iR0zT5C1rF2.e"

static void create_ok(chat_db_t *db, const char *username, const char *email, chat_user_t *out)
{
    const char *field = "unset";

    assert_int_equal(chat_users_create(db, username, email, HASH, out, &field), CHAT_OK);
    assert_null(field);
}

/* ---- tests ---- */

static void test_create_and_find(void **state)
{
    chat_db_t *db = *state;
    chat_user_t u = {0};
    chat_user_t by_id = {0};
    chat_user_t by_email = {0};

    create_ok(db, "Alice", "Alice@Example.com", &u);
    assert_int_equal(strlen(u.id), 24);
    assert_string_equal(u.username, "Alice");
    assert_string_equal(u.email, "Alice@Example.com");
    assert_null(u.password_hash);
    assert_null(u.display_name);
    assert_null(u.avatar_url);
    assert_int_equal(u.last_seen_ms, 0);
    assert_true(u.created_at_ms > 1600000000000LL);

    assert_int_equal(chat_users_find_by_id(db, u.id, &by_id), CHAT_OK);
    assert_string_equal(by_id.id, u.id);
    assert_string_equal(by_id.username, "Alice");
    assert_null(by_id.password_hash); /* only the login lookup reads the hash */
    assert_int_equal(by_id.created_at_ms, u.created_at_ms);

    assert_int_equal(chat_users_find_by_login(db, "aLiCe@example.COM", &by_email), CHAT_OK);
    assert_string_equal(by_email.id, u.id);
    assert_string_equal(by_email.email, "Alice@Example.com"); /* stored as given */
    assert_string_equal(by_email.password_hash, HASH);
    chat_user_clear(&by_email);
    assert_int_equal(chat_users_find_by_login(db, "ALICE", &by_email), CHAT_OK);
    assert_string_equal(by_email.id, u.id);
    assert_string_equal(by_email.password_hash, HASH);

    chat_user_clear(&u);
    chat_user_clear(&by_id);
    chat_user_clear(&by_email);
}

static void test_not_found(void **state)
{
    chat_db_t *db = *state;
    chat_user_t u = {0};

    assert_int_equal(chat_users_find_by_id(db, "650000000000000000000001", &u), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_users_find_by_id(db, "not-an-id", &u), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_users_find_by_id(db, NULL, &u), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_users_find_by_login(db, "nobody@example.com", &u), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_users_touch_last_seen(db, "650000000000000000000001", 1),
                     CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_users_update_profile(db, "650000000000000000000001", "x", NULL, &u),
                     CHAT_ERR_NOT_FOUND);
    assert_null(u.username);
}

static void test_conflicts_name_the_field(void **state)
{
    chat_db_t *db = *state;
    chat_user_t u = {0};
    const char *field = NULL;

    create_ok(db, "bob", "bob@example.com", &u);
    chat_user_clear(&u);

    assert_int_equal(chat_users_create(db, "BOB", "other@example.com", HASH, &u, &field),
                     CHAT_ERR_CONFLICT);
    assert_non_null(field);
    assert_string_equal(field, "username");
    assert_null(u.username);

    field = NULL;
    assert_int_equal(chat_users_create(db, "bobby", "Bob@Example.COM", HASH, &u, &field),
                     CHAT_ERR_CONFLICT);
    assert_non_null(field);
    assert_string_equal(field, "email");

    /* conflict_field is optional */
    assert_int_equal(chat_users_create(db, "Bob", "x@example.com", HASH, NULL, NULL),
                     CHAT_ERR_CONFLICT);
    assert_int_equal(chat_users_create(db, NULL, "x@example.com", HASH, NULL, NULL),
                     CHAT_ERR_INVALID);
}

static void test_update_profile(void **state)
{
    chat_db_t *db = *state;
    chat_user_t u = {0};
    chat_user_t after = {0};

    create_ok(db, "carol", "carol@example.com", &u);

    assert_int_equal(
        chat_users_update_profile(db, u.id, "Carol C.", "https://x.test/a.png", &after), CHAT_OK);
    assert_string_equal(after.display_name, "Carol C.");
    assert_string_equal(after.avatar_url, "https://x.test/a.png");
    assert_null(after.password_hash);
    chat_user_clear(&after);

    /* NULL leaves a field alone */
    assert_int_equal(chat_users_update_profile(db, u.id, "Caro", NULL, &after), CHAT_OK);
    assert_string_equal(after.display_name, "Caro");
    assert_string_equal(after.avatar_url, "https://x.test/a.png");
    chat_user_clear(&after);

    /* "" clears it */
    assert_int_equal(chat_users_update_profile(db, u.id, NULL, "", &after), CHAT_OK);
    assert_string_equal(after.display_name, "Caro");
    assert_null(after.avatar_url);
    chat_user_clear(&after);

    assert_int_equal(chat_users_update_profile(db, u.id, "", "", &after), CHAT_OK);
    assert_null(after.display_name);
    assert_null(after.avatar_url);
    chat_user_clear(&after);

    /* nothing to change: reads the profile back */
    assert_int_equal(chat_users_update_profile(db, u.id, NULL, NULL, &after), CHAT_OK);
    assert_string_equal(after.username, "carol");
    chat_user_clear(&after);

    assert_int_equal(chat_users_update_profile(db, u.id, "Solo", NULL, NULL), CHAT_OK);
    assert_int_equal(chat_users_find_by_id(db, u.id, &after), CHAT_OK);
    assert_string_equal(after.display_name, "Solo");
    chat_user_clear(&after);
    chat_user_clear(&u);
}

static void test_touch_last_seen(void **state)
{
    chat_db_t *db = *state;
    chat_user_t u = {0};
    chat_user_t after = {0};

    create_ok(db, "dave", "dave@example.com", &u);
    assert_int_equal(chat_users_touch_last_seen(db, u.id, 1736937000123LL), CHAT_OK);
    assert_int_equal(chat_users_find_by_id(db, u.id, &after), CHAT_OK);
    assert_int_equal(after.last_seen_ms, 1736937000123LL);
    chat_user_clear(&after);
    chat_user_clear(&u);
    assert_int_equal(chat_users_touch_last_seen(db, "bad", 1), CHAT_ERR_NOT_FOUND);
}

/* The steps of a last_seen batch: on most databases the whole batch in commands of up to
 * CHAT_USERS_SEEN_CHUNK users; where every write waits for the lock a filtered write
 * holds (FerretDB on SQLite) one user per command, and none once the batch has had its
 * time, whatever is left. */
static void test_seen_steps(void **state)
{
    (void)state;
    assert_int_equal(chat_users_seen_step(false, 0, 0), 0);
    assert_int_equal(chat_users_seen_step(false, 5, 0), 5);
    assert_int_equal(chat_users_seen_step(false, 2500, 0), CHAT_USERS_SEEN_CHUNK);
    assert_int_equal(chat_users_seen_step(false, 2500, 60000), CHAT_USERS_SEEN_CHUNK);
    assert_int_equal(chat_users_seen_step(true, 0, 0), 0);
    assert_int_equal(chat_users_seen_step(true, 2500, 0), 1);
    assert_int_equal(chat_users_seen_step(true, 2500, CHAT_USERS_SEEN_LOCKED_BUDGET_MS - 1), 1);
    assert_int_equal(chat_users_seen_step(true, 2500, CHAT_USERS_SEEN_LOCKED_BUDGET_MS), 0);
}

/* A few users: one {_id} statement each; many: one {_id: {$in}} update. Both forms set
 * every valid id's last_seen and skip what is not an ObjectId. */
static void test_touch_last_seen_many(void **state)
{
    chat_db_t *db = *state;
    enum { MANY = 70 };
    char(*ids)[CHAT_ID_LEN] = calloc(MANY + 1, sizeof(*ids));
    chat_user_t u = {0};

    assert_non_null(ids);
    assert_true(chat_users_seen_by_id(1));
    assert_true(chat_users_seen_by_id(64));
    assert_false(chat_users_seen_by_id(MANY));
    for (int i = 0; i < MANY; i++) {
        char name[32];
        char email[64];
        snprintf(name, sizeof(name), "seen%d", i);
        snprintf(email, sizeof(email), "seen%d@example.com", i);
        create_ok(db, name, email, &u);
        memcpy(ids[i], u.id, CHAT_ID_LEN);
        chat_user_clear(&u);
    }
    snprintf(ids[MANY], CHAT_ID_LEN, "not-an-object-id");
    /* three users and a bad id: statements */
    memcpy(ids[3], ids[MANY], CHAT_ID_LEN);
    assert_int_equal(chat_users_touch_last_seen_many(db, (const char(*)[CHAT_ID_LEN])ids, 4, 1000),
                     CHAT_OK);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(chat_users_find_by_id(db, ids[i], &u), CHAT_OK);
        assert_int_equal(u.last_seen_ms, 1000);
        chat_user_clear(&u);
    }
    /* all of them (the bad id too): one $in */
    assert_int_equal(
        chat_users_touch_last_seen_many(db, (const char(*)[CHAT_ID_LEN])ids, MANY + 1, 2000),
        CHAT_OK);
    for (int i = 0; i < MANY; i++) {
        if (i == 3) {
            continue; /* its id was overwritten above */
        }
        assert_int_equal(chat_users_find_by_id(db, ids[i], &u), CHAT_OK);
        assert_int_equal(u.last_seen_ms, 2000);
        chat_user_clear(&u);
    }
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_find, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_not_found, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_name_the_field, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_update_profile, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_touch_last_seen, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_touch_last_seen_many, db_setup, db_teardown),
        cmocka_unit_test(test_seen_steps),
    };

    return DB_FIXTURE_RUN(tests);
}
