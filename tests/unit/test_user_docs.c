/*
 * test_user_docs.c - users' cached documents under their versions (user_docs.h,
 * common/lua/user_doc.lua) against a real Redis and MongoDB/FerretDB: a read of MongoDB
 * that a change overtook is not stored (put with the version read before it, fill where
 * a change is remembered), documents do not expire, last_seen is written into a cached
 * document without creating one, a deleted user reads as gone, a document stored under
 * another Redis run (a restart, a failover) is read again, and the warm-up's read
 * of `users` (chat_user_ids_build) leaves every user's document and logins cached, so
 * that loads and logins after it answer from Redis.
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

#include "chat/db.h"
#include "chat/redis_sync.h"
#include "chat/user_cache.h"
#include "chat/user_docs.h"
#include "chat/user_ids.h"
#include "chat/users_repo.h"

#include "db_fixture.h"

#define ID_A "0123456789abcdef01234567"
#define NOBODY "0123456789abcdef0123456e"

static chat_user_t user_named(const char *id, const char *name, const char *display)
{
    chat_user_t u = {0};

    snprintf(u.id, sizeof(u.id), "%s", id);
    u.username = strdup(name);
    u.email = strdup("a@example.com");
    u.display_name = display != NULL ? strdup(display) : NULL;
    u.password_hash = strdup("$2b$04$abcdefghijklmnopqrstuu");
    u.created_at_ms = 1000;
    return u;
}

/* The cached display name of id ("" none, NULL not cached). */
static char *cached_display(const chat_store_t *s, const char *id, chat_user_doc_state_t *state)
{
    chat_user_t out = {0};
    char ver[CHAT_USER_VER_LEN];
    char *name = NULL;

    *state = chat_user_doc_get(s, id, false, &out, ver);
    if (*state == CHAT_USER_DOC_HIT) {
        name = strdup(out.display_name != NULL ? out.display_name : "");
    }
    chat_user_clear(&out);
    return name;
}

static void test_a_read_overtaken_by_a_change_is_not_stored(void **state)
{
    const chat_store_t *s = *state;
    chat_user_t old = user_named(ID_A, "ann", "Old");
    chat_user_t fresh = user_named(ID_A, "ann", "New");
    chat_user_t out = {0};
    char ver[CHAT_USER_VER_LEN];
    char ver2[CHAT_USER_VER_LEN];
    chat_user_doc_state_t st;
    char *name;

    /* a reader misses (no version yet), a writer changes the user, the reader's put of
     * what it read before the change is refused */
    assert_int_equal(chat_user_doc_get(s, ID_A, true, &out, ver), CHAT_USER_DOC_MISS);
    assert_string_equal(ver, "");
    chat_user_doc_drop(s, ID_A);
    chat_user_doc_put(s, &old, ver);
    assert_null(cached_display(s, ID_A, &st));
    assert_int_equal(st, CHAT_USER_DOC_MISS);
    /* a reader that read after the change stores it; a fill never overwrites it */
    assert_int_equal(chat_user_doc_get(s, ID_A, true, &out, ver2), CHAT_USER_DOC_MISS);
    assert_string_not_equal(ver2, "");
    chat_user_doc_put(s, &fresh, ver2);
    chat_user_doc_fill(s, &old);
    name = cached_display(s, ID_A, &st);
    assert_int_equal(st, CHAT_USER_DOC_HIT);
    assert_string_equal(name, "New");
    free(name);
    /* with the hash asked for, the cached document carries it */
    assert_int_equal(chat_user_doc_get(s, ID_A, true, &out, ver), CHAT_USER_DOC_HIT);
    assert_string_equal(out.password_hash, old.password_hash);
    chat_user_clear(&out);
    chat_user_clear(&old);
    chat_user_clear(&fresh);
}

static void test_fill_only_where_nothing_changed(void **state)
{
    const chat_store_t *s = *state;
    chat_user_t u = user_named(ID_A, "ann", "Scan");
    chat_user_doc_state_t st;
    char *name;
    redisReply *ttl;

    chat_user_doc_drop(s, ID_A); /* a change during the scan */
    chat_user_doc_fill(s, &u);
    assert_null(cached_display(s, ID_A, &st));
    assert_int_equal(st, CHAT_USER_DOC_MISS);
    ttl = chat_redis_command(s->redis, "DEL chat:{%s}:user:ver", ID_A); /* no change known */
    freeReplyObject(ttl);
    chat_user_doc_fill(s, &u);
    name = cached_display(s, ID_A, &st);
    assert_string_equal(name, "Scan");
    free(name);
    /* kept: no expiry on the document */
    ttl = chat_redis_command(s->redis, "TTL chat:{%s}:user", ID_A);
    assert_int_equal(ttl->integer, -1);
    freeReplyObject(ttl);
    chat_user_clear(&u);
}

static void test_a_document_of_another_run_is_read_again(void **state)
{
    const chat_store_t *s = *state;
    chat_user_t u = user_named(ID_A, "ann", "Before");
    chat_user_t fresh = user_named(ID_A, "ann", "After");
    chat_user_doc_state_t st;
    redisReply *r;
    char *name;

    chat_user_doc_set(s, &u);
    /* as if a restart or a failover had carried it over from another Redis run (which
     * may have lost a change): readers ignore it, a scan replaces it */
    r = chat_redis_command(s->redis, "HSET chat:{%s}:user run 0000", ID_A);
    freeReplyObject(r);
    assert_null(cached_display(s, ID_A, &st));
    assert_int_equal(st, CHAT_USER_DOC_MISS);
    chat_user_doc_fill(s, &fresh);
    name = cached_display(s, ID_A, &st);
    assert_string_equal(name, "After");
    free(name);
    chat_user_clear(&u);
    chat_user_clear(&fresh);
}

static void test_last_seen_and_gone(void **state)
{
    const chat_store_t *s = *state;
    chat_user_t u = user_named(ID_A, "ann", NULL);
    const char ids[2][CHAT_ID_LEN] = {ID_A, "0123456789abcdef0123456f"};
    chat_user_t out = {0};
    char ver[CHAT_USER_VER_LEN];
    redisReply *r;

    chat_user_doc_set(s, &u);
    chat_user_docs_seen(s, ids, 2, 123456);
    assert_int_equal(chat_user_doc_get(s, ID_A, false, &out, ver), CHAT_USER_DOC_HIT);
    assert_int_equal(out.last_seen_ms, 123456);
    assert_string_equal(out.username, "ann");
    chat_user_clear(&out);
    /* a user without a cached document gets none from last_seen alone */
    r = chat_redis_command(s->redis, "EXISTS chat:{%s}:user", ids[1]);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    chat_user_doc_gone(s, ID_A, 30, true);
    assert_int_equal(chat_user_doc_get(s, ID_A, false, &out, ver), CHAT_USER_DOC_GONE);
    /* a lookup of an id nobody has is remembered too, without a version key (unknown ids
     * must not leave an hour-long key each) */
    assert_int_equal(chat_user_load(s, NOBODY, false, &out), CHAT_ERR_NOT_FOUND);
    assert_int_equal(chat_user_doc_get(s, NOBODY, false, &out, ver), CHAT_USER_DOC_GONE);
    r = chat_redis_command(s->redis, "EXISTS chat:{%s}:user:ver", NOBODY);
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    chat_user_clear(&u);
}

static void test_the_warm_up_caches_every_document(void **state)
{
    const chat_store_t *s = *state;
    char ids[3][CHAT_ID_LEN];
    chat_user_t out = {0};
    chat_user_doc_state_t st;
    char ver[CHAT_USER_VER_LEN];
    bool was_cold = false;
    bson_t everyone = BSON_INITIALIZER;
    int64_t deleted = 0;

    test_add_user(s->db, "wendy", ids[0]);
    test_add_user(s->db, "Xavier", ids[1]);
    test_add_user(s->db, "yusuf", ids[2]);
    assert_int_equal(chat_user_ids_build(s, &was_cold), CHAT_OK);
    assert_true(was_cold);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(chat_user_doc_get(s, ids[i], true, &out, ver), CHAT_USER_DOC_HIT);
        assert_non_null(out.password_hash);
        chat_user_clear(&out);
        memset(&out, 0, sizeof(out));
    }
    /* the logins too: with every user deleted behind the cache's back (MongoDB would now
     * answer "no such user"), Xavier still logs in by email and by name from Redis */
    assert_int_equal(chat_db_delete(s->db, "users", &everyone, true, &deleted), CHAT_OK);
    assert_int_equal(deleted, 3);
    assert_int_equal(chat_user_find_login(s, "XAVIER@example.com", &out), CHAT_OK);
    assert_string_equal(out.id, ids[1]);
    chat_user_clear(&out);
    assert_int_equal(chat_user_find_login(s, "xavier", &out), CHAT_OK);
    assert_string_equal(out.id, ids[1]);
    chat_user_clear(&out);
    assert_int_equal(chat_user_load(s, ids[2], false, &out), CHAT_OK);
    assert_string_equal(out.username, "yusuf");
    chat_user_clear(&out);
    bson_destroy(&everyone);
    (void)st;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_read_overtaken_by_a_change_is_not_stored,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_fill_only_where_nothing_changed, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_a_document_of_another_run_is_read_again, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_last_seen_and_gone, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_the_warm_up_caches_every_document, store_setup,
                                        store_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
