/*
 * test_user_logins.c - the set of every user's logins (user_logins.h) against a real
 * Redis and MongoDB/FerretDB: built by the same read as the set of ids, or alone; a
 * registration adds, a deletion removes; a login nobody has is answered "not found"
 * without MongoDB, one the set lacks while it is not built is still asked of MongoDB.
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
#include "chat/db.h"
#include "chat/user_cache.h"
#include "chat/user_ids.h"
#include "chat/user_logins.h"
#include "chat/users_repo.h"

#include "db_fixture.h"

static chat_cset_answer_t known(const chat_store_t *s, const char *login)
{
    chat_cset_answer_t a = CHAT_CSET_NOT_BUILT;

    assert_int_equal(chat_user_logins_check(s, login, &a), CHAT_OK);
    return a;
}

static void test_built_with_the_ids_changed_by_registration_and_deletion(void **state)
{
    const chat_store_t *s = *state;
    char ann[CHAT_ID_LEN];
    chat_cset_answer_t two[2];
    chat_user_t u = {0};
    bool cold = false;

    test_add_user(s->db, "Ann", ann);
    assert_int_equal(known(s, "ann"), CHAT_CSET_NOT_BUILT);
    assert_int_equal(chat_user_ids_build(s, &cold), CHAT_OK);
    assert_int_equal(known(s, "ANN"), CHAT_CSET_PRESENT);
    assert_int_equal(known(s, "ann@EXAMPLE.com"), CHAT_CSET_PRESENT);
    assert_int_equal(known(s, "bob"), CHAT_CSET_ABSENT);
    assert_int_equal(known(s, "bob@example.com"), CHAT_CSET_ABSENT);
    /* the username and the email are told apart */
    assert_int_equal(chat_user_logins_check_two(s, "bob", "ann@example.com", two), CHAT_OK);
    assert_int_equal(two[0], CHAT_CSET_ABSENT);
    assert_int_equal(two[1], CHAT_CSET_PRESENT);
    /* a registration: MongoDB, then the read model */
    assert_int_equal(chat_users_create(s->db, "bob", "bob@example.com",
                                       "$2b$04$abcdefghijklmnopqrstuu", &u, NULL),
                     CHAT_OK);
    chat_user_cache_registered(s, &u);
    assert_int_equal(known(s, "Bob"), CHAT_CSET_PRESENT);
    assert_int_equal(known(s, "bob@example.com"), CHAT_CSET_PRESENT);
    /* a deletion frees both */
    assert_int_equal(chat_account_delete(s, u.id), CHAT_OK);
    assert_int_equal(known(s, "bob"), CHAT_CSET_ABSENT);
    assert_int_equal(known(s, "bob@example.com"), CHAT_CSET_ABSENT);
    chat_user_clear(&u);
}

static void test_an_unknown_login_costs_no_read_once_built(void **state)
{
    const chat_store_t *s = *state;
    char cyd[CHAT_ID_LEN];
    char dee[CHAT_ID_LEN];
    chat_user_t out = {0};
    redisReply *r;

    test_add_user(s->db, "cyd", cyd);
    /* not built: MongoDB answers, so a user the set would lack is still found */
    assert_int_equal(chat_user_find_login(s, "cyd@example.com", &out), CHAT_OK);
    chat_user_clear(&out);
    assert_int_equal(chat_user_logins_build(s), CHAT_OK);
    assert_int_equal(known(s, "cyd"), CHAT_CSET_PRESENT);
    /* a user added behind the set's back is not found once it is built: the answer came
     * from Redis, not from MongoDB (which has dee) */
    test_add_user(s->db, "dee", dee);
    assert_int_equal(chat_user_find_login(s, "dee@example.com", &out), CHAT_ERR_NOT_FOUND);
    /* and after Redis lost the set, MongoDB answers again */
    r = chat_redis_command(s->redis, "FLUSHDB");
    freeReplyObject(r);
    assert_int_equal(chat_user_find_login(s, "dee@example.com", &out), CHAT_OK);
    assert_string_equal(out.id, dee);
    chat_user_clear(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_built_with_the_ids_changed_by_registration_and_deletion, store_setup,
            store_teardown),
        cmocka_unit_test_setup_teardown(test_an_unknown_login_costs_no_read_once_built, store_setup,
                                        store_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
