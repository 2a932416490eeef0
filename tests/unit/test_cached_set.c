/*
 * test_cached_set.c - the rebuildable Redis sets (cached_set.h) against a real Redis
 * (CHAT_TEST_REDIS_URL): not built until a build, complete after it, changes applied
 * to a built set and ignored by an unbuilt one, a rebuild that raced with a removal
 * refused and read again (the removed member never comes back), a set of another Redis
 * run not trusted, pages and lexical ranges, and one database read for a set that many
 * ask for at once (the build lock). Single-threaded test process (a second connection
 * plays the concurrent writer), except the build lock test's second builder thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat/cached_set.h"
#include "db_fixture.h"

static void fresh_set(chat_cset_t *s, int n)
{
    char id[32];

    snprintf(id, sizeof(id), "%08x%016x", (unsigned)getpid(), (unsigned)(n + 0xc5e7));
    chat_cset_room_members(id, s);
}

/* The "database" a loader reads: members[i] with score i + 1. A hook may run inside the
 * load, after the version was read (a concurrent change). */
typedef struct fake_db {
    const char *members[8];
    size_t n;
    int loads;
    void (*during_load)(struct fake_db *db);
    chat_redis_t *other;
    const chat_cset_t *set;
} fake_db_t;

static chat_err_t fake_load(void *arg, chat_cset_entry_t **entries, size_t *n, void **owned)
{
    fake_db_t *db = arg;
    chat_cset_entry_t *e = calloc(db->n > 0 ? db->n : 1, sizeof(*e));

    assert_non_null(e);
    for (size_t i = 0; i < db->n; i++) {
        e[i].score = (double)(i + 1);
        e[i].member = db->members[i];
        e[i].len = strlen(db->members[i]);
    }
    *entries = e;
    *n = db->n;
    *owned = NULL;
    db->loads++;
    if (db->during_load != NULL) {
        db->during_load(db);
        db->during_load = NULL;
    }
    return CHAT_OK;
}

static void fake_free(chat_cset_entry_t *entries, size_t n, void *owned)
{
    (void)n;
    (void)owned;
    free(entries);
}

static chat_cset_answer_t check(chat_redis_t *r, const chat_cset_t *s, const char *member)
{
    chat_cset_answer_t a = CHAT_CSET_NOT_BUILT;

    assert_int_equal(chat_cset_check(r, s, member, &a), CHAT_OK);
    return a;
}

static void test_not_built_until_built(void **state)
{
    chat_redis_t *r = test_redis_connect();
    chat_cset_t s;
    fake_db_t db = {{"a", "b", "c"}, 3, 0, NULL, NULL, NULL};

    (void)state;
    fresh_set(&s, 1);
    assert_int_equal(check(r, &s, "a"), CHAT_CSET_NOT_BUILT);
    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    assert_int_equal(db.loads, 1);
    assert_int_equal(check(r, &s, "a"), CHAT_CSET_PRESENT);
    assert_int_equal(check(r, &s, "c"), CHAT_CSET_PRESENT);
    assert_int_equal(check(r, &s, "z"), CHAT_CSET_ABSENT);
    /* built: a second build reads nothing */
    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    assert_int_equal(db.loads, 1);
    chat_redis_destroy(r);
}

static void test_empty_set_is_built(void **state)
{
    chat_redis_t *r = test_redis_connect();
    chat_cset_t s;
    fake_db_t db = {{NULL}, 0, 0, NULL, NULL, NULL};

    (void)state;
    fresh_set(&s, 2);
    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    assert_int_equal(check(r, &s, "a"), CHAT_CSET_ABSENT);
    chat_redis_destroy(r);
}

static void test_changes(void **state)
{
    chat_redis_t *r = test_redis_connect();
    chat_cset_t s;
    chat_cset_t unbuilt;
    fake_db_t db = {{"a", "b"}, 2, 0, NULL, NULL, NULL};
    chat_cset_answer_t a = CHAT_CSET_ABSENT;

    (void)state;
    fresh_set(&s, 3);
    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    assert_int_equal(chat_cset_change(r, &s, true, 9.0, "d"), CHAT_OK);
    assert_int_equal(chat_cset_change(r, &s, false, 0.0, "a"), CHAT_OK);
    assert_int_equal(check(r, &s, "d"), CHAT_CSET_PRESENT);
    assert_int_equal(check(r, &s, "a"), CHAT_CSET_ABSENT);
    assert_int_equal(check(r, &s, "b"), CHAT_CSET_PRESENT);

    /* pipelined check */
    assert_int_equal(chat_cset_queue_check(r, &s, "d"), CHAT_OK);
    redisReply *reply = chat_redis_next_reply(r);
    assert_int_equal(chat_cset_parse_check(reply, &a), CHAT_OK);
    freeReplyObject(reply);
    assert_int_equal(a, CHAT_CSET_PRESENT);

    /* a set that is not built is left alone: its rebuild reads the database */
    fresh_set(&unbuilt, 4);
    assert_int_equal(chat_cset_change(r, &unbuilt, true, 1.0, "x"), CHAT_OK);
    assert_int_equal(check(r, &unbuilt, "x"), CHAT_CSET_NOT_BUILT);
    chat_redis_destroy(r);
}

/* The concurrent writer: removes "b" from the database and then from the set, between
 * the builder's version read and its store. */
static void remove_b(fake_db_t *db)
{
    db->members[1] = db->members[2];
    db->n = 2;
    assert_int_equal(chat_cset_change(db->other, db->set, false, 0.0, "b"), CHAT_OK);
}

static void test_rebuild_racing_with_a_removal_is_refused(void **state)
{
    chat_redis_t *r = test_redis_connect();
    chat_redis_t *other = test_redis_connect();
    chat_cset_t s;
    fake_db_t db = {{"a", "b", "c"}, 3, 0, remove_b, other, NULL};

    (void)state;
    fresh_set(&s, 5);
    db.set = &s;
    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    assert_int_equal(db.loads, 2); /* the first read was refused, then read again */
    assert_int_equal(check(r, &s, "b"), CHAT_CSET_ABSENT);
    assert_int_equal(check(r, &s, "a"), CHAT_CSET_PRESENT);
    assert_int_equal(check(r, &s, "c"), CHAT_CSET_PRESENT);
    chat_redis_destroy(other);
    chat_redis_destroy(r);
}

static void test_other_run_or_flush_is_not_built(void **state)
{
    chat_redis_t *r = test_redis_connect();
    chat_cset_t s;
    fake_db_t db = {{"a"}, 1, 0, NULL, NULL, NULL};
    redisReply *reply = NULL;

    (void)state;
    fresh_set(&s, 6);
    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    reply = chat_redis_command(r, "HSET %s run other-run", s.meta);
    freeReplyObject(reply);
    assert_int_equal(check(r, &s, "a"), CHAT_CSET_NOT_BUILT);
    /* a change to a set of another run drops it rather than patching it */
    assert_int_equal(chat_cset_change(r, &s, true, 1.0, "q"), CHAT_OK);
    assert_int_equal(check(r, &s, "q"), CHAT_CSET_NOT_BUILT);
    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    assert_int_equal(check(r, &s, "a"), CHAT_CSET_PRESENT);
    assert_int_equal(check(r, &s, "q"), CHAT_CSET_ABSENT);

    reply = chat_redis_command(r, "DEL %s %s", s.key, s.meta);
    freeReplyObject(reply);
    assert_int_equal(check(r, &s, "a"), CHAT_CSET_NOT_BUILT);
    chat_redis_destroy(r);
}

/* Redis stores an empty set as its meta alone, so an evicting Redis could drop a set's
 * members and keep its meta: the meta counts the members, and a set that should hold
 * some but whose zset is gone reads as not built (and is rebuilt), while a set emptied
 * by its changes still reads as built and empty. */
static void test_an_evicted_set_is_not_built(void **state)
{
    chat_redis_t *r = test_redis_connect();
    chat_cset_t s;
    fake_db_t db = {{"a", "b"}, 2, 0, NULL, NULL, NULL};
    chat_cset_page_t page;
    redisReply *reply = NULL;

    (void)state;
    fresh_set(&s, 20);
    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    reply = chat_redis_command(r, "DEL %s", s.key); /* evicted, the meta kept */
    freeReplyObject(reply);
    assert_int_equal(chat_cset_page(r, &s, 0, 10, false, &page), CHAT_OK);
    assert_false(page.built);
    chat_cset_page_clear(&page);
    assert_int_equal(check(r, &s, "a"), CHAT_CSET_NOT_BUILT);
    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    assert_int_equal(db.loads, 2);
    assert_int_equal(check(r, &s, "a"), CHAT_CSET_PRESENT);
    /* a change to an evicted set leaves it unbuilt instead of holding that member alone */
    reply = chat_redis_command(r, "DEL %s", s.key);
    freeReplyObject(reply);
    assert_int_equal(chat_cset_change(r, &s, true, 5.0, "c"), CHAT_OK);
    assert_int_equal(check(r, &s, "c"), CHAT_CSET_NOT_BUILT);
    /* emptied by its changes: built and empty */
    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    assert_int_equal(chat_cset_change(r, &s, false, 0.0, "a"), CHAT_OK);
    assert_int_equal(chat_cset_change(r, &s, false, 0.0, "b"), CHAT_OK);
    assert_int_equal(check(r, &s, "a"), CHAT_CSET_ABSENT);
    assert_int_equal(chat_cset_page(r, &s, 0, 10, false, &page), CHAT_OK);
    assert_true(page.built);
    assert_int_equal(page.total, 0);
    chat_cset_page_clear(&page);
    chat_redis_destroy(r);
}

static void test_pages_and_lex(void **state)
{
    chat_redis_t *r = test_redis_connect();
    chat_cset_t s;
    fake_db_t db = {{"a", "b", "c", "d", "e"}, 5, 0, NULL, NULL, NULL};
    chat_cset_page_t page;

    (void)state;
    fresh_set(&s, 7);
    assert_int_equal(chat_cset_page(r, &s, 0, 2, false, &page), CHAT_OK);
    assert_false(page.built);
    chat_cset_page_clear(&page);

    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    assert_int_equal(chat_cset_page(r, &s, 1, 2, false, &page), CHAT_OK);
    assert_true(page.built);
    assert_int_equal(page.total, 5);
    assert_int_equal(page.n, 2);
    assert_string_equal(page.member[0], "b");
    assert_string_equal(page.member[1], "c");
    assert_true(page.score[0] == 2.0);
    chat_cset_page_clear(&page);

    assert_int_equal(chat_cset_page(r, &s, 0, 2, true, &page), CHAT_OK);
    assert_int_equal(page.n, 2);
    assert_string_equal(page.member[0], "e");
    assert_string_equal(page.member[1], "d");
    chat_cset_page_clear(&page);

    assert_int_equal(chat_cset_page(r, &s, 4, 10, false, &page), CHAT_OK);
    assert_int_equal(page.n, 1);
    assert_int_equal(page.total, 5);
    chat_cset_page_clear(&page);

    /* lexical range over a set whose members all score 0 (the usernames' shape) */
    chat_cset_t names;
    fake_db_t ndb = {{"alice\001id1", "albert\001id2", "bob\001id3"}, 3, 0, NULL, NULL, NULL};
    fresh_set(&names, 8);
    assert_int_equal(chat_cset_build(r, &names, fake_load, fake_free, &ndb), CHAT_OK);
    redisReply *reply =
        chat_redis_command(r, "ZADD %s 0 alice\001id1 0 albert\001id2 0 bob\001id3", names.key);
    freeReplyObject(reply);
    assert_int_equal(chat_cset_lex(r, &names, "[al", 3, "(am", 3, 10, &page), CHAT_OK);
    assert_int_equal(page.n, 2);
    assert_string_equal(page.member[0], "albert\001id2");
    assert_string_equal(page.member[1], "alice\001id1");
    chat_cset_page_clear(&page);
    chat_redis_destroy(r);
}

/* Another process's build: takes the build lock, reads "the database" for 300 ms,
 * stores. */
typedef struct slow_builder {
    const chat_cset_t *set;
    fake_db_t *db;
} slow_builder_t;

static void *slow_build(void *arg)
{
    slow_builder_t *b = arg;
    chat_redis_t *r = test_redis_connect();
    struct timespec ts = {0, 300 * 1000000L};
    bool built = true;
    bool stored = false;
    char ver[24];
    char lock[CHAT_KEY_LEN + 16];
    chat_cset_entry_t e = {1, "m1", 2};
    redisReply *reply;

    snprintf(lock, sizeof(lock), "%s:building", b->set->meta);
    reply = chat_redis_command(r, "SET %s 1 NX PX 15000", lock);
    freeReplyObject(reply);
    (void)chat_cset_build_prepare(r, b->set, &built, ver);
    nanosleep(&ts, NULL);
    (void)chat_cset_build_store(r, b->set, ver, &e, 1, &stored);
    reply = chat_redis_command(r, "DEL %s", lock);
    freeReplyObject(reply);
    chat_redis_destroy(r);
    return NULL;
}

/* chat_cset_nth_fn over fresh_set(base + i). */
static void nth_fresh(void *arg, size_t i, chat_cset_t *out)
{
    fresh_set(out, *(const int *)arg + (int)i);
}

/* The pipelined two steps over more sets than one pipeline carries (256): versions read
 * for all, only the sets not skipped stored, a set changed between the steps refused. */
static void test_many_sets_in_pipelines(void **state)
{
    enum { N = 300 };
    chat_redis_t *r = test_redis_connect();
    chat_redis_t *other = test_redis_connect();
    static bool built[N];
    static bool skip[N];
    static bool stored[N];
    static char ver[N][24];
    static size_t first[N];
    static size_t count[N];
    chat_cset_entry_t entries[N];
    char members[N][16];
    int base = 1000;
    chat_cset_t changed;
    chat_cset_answer_t member;

    (void)state;
    assert_int_equal(chat_cset_build_prepare_many(r, nth_fresh, &base, N, built, ver), CHAT_OK);
    for (size_t i = 0; i < N; i++) {
        assert_false(built[i]);
        assert_true(ver[i][0] != '\0'); /* a version was started for every set */
        snprintf(members[i], sizeof(members[i]), "m%zu", i);
        entries[i].member = members[i];
        entries[i].len = strlen(members[i]);
        entries[i].score = (double)i;
        first[i] = i; /* set i holds one member: "m<i>" */
        count[i] = 1;
        skip[i] = i % 2 == 1;
    }
    fresh_set(&changed, base + 280); /* a change lands between the two steps */
    assert_int_equal(chat_cset_change(other, &changed, true, 1.0, "late"), CHAT_OK);
    assert_int_equal(chat_cset_build_store_many(r, nth_fresh, &base, N, skip,
                                                (const char(*)[24])ver, entries, first, count,
                                                stored),
                     CHAT_OK);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(stored[i], i % 2 == 0 && i != 280);
    }
    assert_int_equal(chat_cset_build_prepare_many(r, nth_fresh, &base, N, built, ver), CHAT_OK);
    for (size_t i = 0; i < N; i++) {
        chat_cset_t s;
        assert_int_equal(built[i], i % 2 == 0 && i != 280);
        if (built[i]) {
            fresh_set(&s, base + (int)i);
            assert_int_equal(chat_cset_check(r, &s, members[i], &member), CHAT_OK);
            assert_int_equal(member, CHAT_CSET_PRESENT);
        }
    }
    chat_redis_destroy(r);
    chat_redis_destroy(other);
}

static void test_one_builder_at_a_time(void **state)
{
    chat_redis_t *r = test_redis_connect();
    chat_cset_t s;
    fake_db_t db = {.members = {"m1", "m2"}, .n = 2};
    slow_builder_t b = {&s, &db};
    struct timespec ts = {0, 50 * 1000000L};
    chat_cset_answer_t a = CHAT_CSET_NOT_BUILT;
    pthread_t t;

    (void)state;
    fresh_set(&s, 9);
    assert_int_equal(pthread_create(&t, NULL, slow_build, &b), 0);
    nanosleep(&ts, NULL); /* the other builder holds the lock now */
    /* this caller waits for the other's result instead of reading the database */
    assert_int_equal(chat_cset_build(r, &s, fake_load, fake_free, &db), CHAT_OK);
    assert_int_equal(db.loads, 0);
    assert_int_equal(chat_cset_check(r, &s, "m1", &a), CHAT_OK);
    assert_int_equal(a, CHAT_CSET_PRESENT);
    assert_int_equal(chat_cset_check(r, &s, "m2", &a), CHAT_OK);
    assert_int_equal(a, CHAT_CSET_ABSENT); /* the other builder's "database" had m1 only */
    pthread_join(t, NULL);
    chat_redis_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_built_until_built),
        cmocka_unit_test(test_empty_set_is_built),
        cmocka_unit_test(test_changes),
        cmocka_unit_test(test_rebuild_racing_with_a_removal_is_refused),
        cmocka_unit_test(test_other_run_or_flush_is_not_built),
        cmocka_unit_test(test_pages_and_lex),
        cmocka_unit_test(test_an_evicted_set_is_not_built),
        cmocka_unit_test(test_one_builder_at_a_time),
        cmocka_unit_test(test_many_sets_in_pipelines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
