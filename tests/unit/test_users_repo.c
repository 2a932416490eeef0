/*
 * test_users_repo.c - users_repo against a real MongoDB/FerretDB (CHAT_TEST_MONGO_URI):
 * case-insensitive uniqueness with the clashing field named, lookups, profile updates
 * and last_seen taken from last_seen_log. Reads of many users are test_users_list.c. Each test uses its own
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
#include "chat/last_seen_log.h"
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

/* last_seen comes from last_seen_log (the gateways' batches) and from users.last_seen
 * (written before the log existed): every read of a user takes the later one. */
static void test_reads_take_last_seen_from_the_log(void **state)
{
    chat_db_t *db = *state;
    chat_user_t u = {0};
    chat_user_t after = {0};
    chat_user_t *arr = NULL;
    size_t n = 0;
    char ids[2][CHAT_ID_LEN];
    bson_oid_t oid;
    bson_t *doc;

    create_ok(db, "dave", "dave@example.com", &u);
    memcpy(ids[0], u.id, CHAT_ID_LEN);
    chat_user_clear(&u);
    /* an old user document with its own last_seen, later than the log's first time */
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, ids[1]);
    doc = BCON_NEW("_id", BCON_OID(&oid), "username", "erin", "username_lc", "erin", "email",
                   "erin@example.com", "email_lc", "erin@example.com", "password_hash", HASH,
                   "created_at", BCON_DATE_TIME(1000), "last_seen", BCON_DATE_TIME(5000));
    assert_int_equal(chat_db_insert(db, "users", doc), CHAT_OK);
    bson_destroy(doc);

    assert_int_equal(chat_last_seen_log_append(db, (const char(*)[CHAT_ID_LEN])ids, 2, 3000),
                     CHAT_OK);
    assert_int_equal(chat_users_find_by_id(db, ids[0], &u), CHAT_OK);
    assert_int_equal(u.last_seen_ms, 3000);
    chat_user_clear(&u);
    assert_int_equal(chat_users_find_by_id(db, ids[1], &u), CHAT_OK);
    assert_int_equal(u.last_seen_ms, 5000); /* the document's own is later */
    chat_user_clear(&u);

    assert_int_equal(chat_last_seen_log_append(db, (const char(*)[CHAT_ID_LEN])ids, 2, 7000),
                     CHAT_OK);
    assert_int_equal(chat_users_find_by_login(db, "ERIN@example.com", &u), CHAT_OK);
    assert_int_equal(u.last_seen_ms, 7000);
    assert_non_null(u.password_hash);
    chat_user_clear(&u);
    assert_int_equal(chat_users_update_profile(db, ids[0], "Dave", NULL, &after), CHAT_OK);
    assert_int_equal(after.last_seen_ms, 7000);
    chat_user_clear(&after);
    assert_int_equal(chat_users_search(db, "", 10, &arr, &n), CHAT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(arr[0].last_seen_ms, 7000);
    assert_int_equal(arr[1].last_seen_ms, 7000);
    chat_users_free_array(arr, n);
    assert_int_equal(
        chat_users_find_by_ids(db, (const char(*)[CHAT_ID_LEN])ids, 2, false, &arr, &n), CHAT_OK);
    assert_int_equal(n, 2);
    assert_int_equal(arr[0].last_seen_ms, 7000);
    assert_int_equal(arr[1].last_seen_ms, 7000);
    chat_users_free_array(arr, n);
}

static void seen_each(const chat_user_t *u, void *arg)
{
    int64_t *sum = arg;

    *sum += u->last_seen_ms;
}

/* The scan that warms the read model reads the log once and applies it to every user. */
static void test_the_scan_takes_last_seen_from_the_log(void **state)
{
    chat_db_t *db = *state;
    chat_user_t u = {0};
    chat_user_name_t *names = NULL;
    size_t n = 0;
    int64_t sum = 0;
    char ids[3][CHAT_ID_LEN];

    for (int i = 0; i < 3; i++) {
        char name[16];
        char email[32];
        snprintf(name, sizeof(name), "scan%d", i);
        snprintf(email, sizeof(email), "scan%d@example.com", i);
        create_ok(db, name, email, &u);
        memcpy(ids[i], u.id, CHAT_ID_LEN);
        chat_user_clear(&u);
    }
    assert_int_equal(chat_last_seen_log_append(db, (const char(*)[CHAT_ID_LEN])ids, 2, 100),
                     CHAT_OK);
    assert_int_equal(chat_last_seen_log_append(db, (const char(*)[CHAT_ID_LEN])(ids + 1), 2, 1000),
                     CHAT_OK);
    assert_int_equal(chat_users_names_each(db, &names, &n, seen_each, &sum), CHAT_OK);
    assert_int_equal(n, 3);
    assert_int_equal(sum, 100 + 1000 + 1000);
    free(names);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_and_find, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_not_found, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_conflicts_name_the_field, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_update_profile, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_reads_take_last_seen_from_the_log, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_the_scan_takes_last_seen_from_the_log, db_setup,
                                        db_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
