/*
 * test_users_list.c - users_list against a real MongoDB/FerretDB (CHAT_TEST_MONGO_URI):
 * prefix search (case-insensitive, sorted, regex characters literal, limited), every
 * user's lower-cased name and id, and the sample of the newest password hashes. Each
 * test uses its own database, dropped at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/db.h"
#include "chat/users_list.h"
#include "chat/users_repo.h"

#include "db_fixture.h"

/* ---- helpers ---- */

/* Registers name (email u<i>@example.com, hash "$2b$<i>$..."); its id into id if given. */
static void add_user(chat_db_t *db, const char *name, size_t i, char *id)
{
    char email[64];
    char hash[64];
    chat_user_t u = {0};

    snprintf(email, sizeof(email), "u%zu@example.com", i);
    snprintf(hash, sizeof(hash), "$2b$%02zu$abcdefghijklmnopqrstuu", i);
    assert_int_equal(chat_users_create(db, name, email, hash, &u, NULL), CHAT_OK);
    if (id != NULL) {
        memcpy(id, u.id, CHAT_ID_LEN);
    }
    chat_user_clear(&u);
}

static void note_hash(const char *hash, void *arg)
{
    char *seen = arg;

    strncat(seen, hash + 4, 3); /* "<i>$" of "$2b$<i>$..." */
}

/* ---- tests ---- */

static void test_search_prefix(void **state)
{
    chat_db_t *db = *state;
    static const char *names[] = {"al.x", "alxx", "Alberto", "alice", "bob", "al*"};
    chat_user_t *found = NULL;
    size_t n = 99;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        add_user(db, names[i], i, NULL);
    }

    assert_int_equal(chat_users_search(db, "AL", 50, &found, &n), CHAT_OK);
    assert_int_equal(n, 5);
    /* sorted by username, case-insensitively */
    assert_string_equal(found[0].username, "al*");
    assert_string_equal(found[1].username, "al.x");
    assert_string_equal(found[2].username, "Alberto");
    assert_string_equal(found[3].username, "alice");
    assert_string_equal(found[4].username, "alxx");
    assert_null(found[0].password_hash);
    chat_users_free_array(found, n);

    /* regex metacharacters are literal */
    assert_int_equal(chat_users_search(db, "al.", 50, &found, &n), CHAT_OK);
    assert_int_equal(n, 1);
    assert_string_equal(found[0].username, "al.x");
    chat_users_free_array(found, n);
    assert_int_equal(chat_users_search(db, "al*", 50, &found, &n), CHAT_OK);
    assert_int_equal(n, 1);
    chat_users_free_array(found, n);
    assert_int_equal(chat_users_search(db, "(", 50, &found, &n), CHAT_OK);
    assert_int_equal(n, 0);
    assert_null(found);

    /* limit */
    assert_int_equal(chat_users_search(db, "a", 2, &found, &n), CHAT_OK);
    assert_int_equal(n, 2);
    chat_users_free_array(found, n);
    assert_int_equal(chat_users_search(db, "", 1000, &found, &n), CHAT_OK);
    assert_int_equal(n, 6);
    chat_users_free_array(found, n);

    assert_int_equal(chat_users_search(db, "zzz", 10, &found, &n), CHAT_OK);
    assert_int_equal(n, 0);
    assert_null(found);
    chat_users_free_array(NULL, 0);
}

/* Every user's lower-cased name with its id; the newest hashes, newest first. */
static void test_names_and_recent_hashes(void **state)
{
    chat_db_t *db = *state;
    static const char *names[] = {"Zoe", "adam", "Mia"};
    static const char *lower[] = {"zoe", "adam", "mia"};
    char ids[3][CHAT_ID_LEN];
    chat_user_name_t *all = NULL;
    size_t n = 99;
    char seen[32] = "";

    assert_int_equal(chat_users_names(db, &all, &n), CHAT_OK);
    assert_int_equal(n, 0);
    assert_null(all);
    assert_int_equal(chat_users_recent_hashes(db, 5, note_hash, seen), CHAT_OK);
    assert_string_equal(seen, "");

    for (size_t i = 0; i < 3; i++) {
        add_user(db, names[i], i, ids[i]);
    }
    assert_int_equal(chat_users_names(db, &all, &n), CHAT_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        size_t k = 0;
        while (k < n && strcmp(all[k].id, ids[i]) != 0) {
            k++;
        }
        assert_true(k < n);
        assert_string_equal(all[k].username_lc, lower[i]);
    }
    free(all);

    assert_int_equal(chat_users_recent_hashes(db, 2, note_hash, seen), CHAT_OK);
    assert_string_equal(seen, "02$01$"); /* the two newest, newest first */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_search_prefix, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_names_and_recent_hashes, db_setup, db_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
