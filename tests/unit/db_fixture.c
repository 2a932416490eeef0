/*
 * db_fixture.c - see db_fixture.h. Linked into every unit test executable; runs on the
 * test's main thread.
 */
#include "db_fixture.h"

#include <stdarg.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat/db.h"
#include "chat/membership.h"
#include "chat/messages_repo.h"
#include "chat/redis_sync.h"
#include "chat/store.h"
#include "chat/users_repo.h"

static int db_fixture_counter;

int db_setup(void **state)
{
    char name[64];
    char errbuf[256];
    chat_db_t *db = NULL;

    snprintf(name, sizeof(name), "t_%d_%d", (int)getpid(), ++db_fixture_counter);
    db = chat_db_create(getenv("CHAT_TEST_MONGO_URI"), name, 5000, errbuf, sizeof(errbuf));
    if (db == NULL) {
        fprintf(stderr, "chat_db_create: %s\n", errbuf);
        return -1;
    }
    if (chat_db_ensure_indexes(db) != CHAT_OK) {
        fprintf(stderr, "chat_db_ensure_indexes failed (is the server up?)\n");
        chat_db_destroy(db);
        return -1;
    }
    *state = db;
    return 0;
}

int db_teardown(void **state)
{
    chat_db_t *db = *state;
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_database_t *database = mongoc_client_get_database(client, chat_db_name(db));
    bson_error_t err;

    if (!mongoc_database_drop_with_opts(database, NULL, &err)) {
        fprintf(stderr, "drop %s: %s\n", chat_db_name(db), err.message);
    }
    mongoc_database_destroy(database);
    chat_db_push(db, client);
    chat_db_destroy(db);
    return 0;
}

int store_setup(void **state)
{
    chat_store_t *s = calloc(1, sizeof(*s));
    void *db = NULL;
    redisReply *reply = NULL;
    char errbuf[256];

    if (s == NULL || db_setup(&db) != 0) {
        free(s);
        return -1;
    }
    s->db = db;
    s->window = 50;
    s->redis =
        chat_redis_create(getenv("CHAT_TEST_REDIS_URL"), false, 2000, errbuf, sizeof(errbuf));
    if (s->redis == NULL) {
        fprintf(stderr, "CHAT_TEST_REDIS_URL: %s\n", errbuf);
        db_teardown(&db);
        free(s);
        return -1;
    }
    reply = chat_redis_command(s->redis, "FLUSHDB");
    if (reply == NULL) {
        fprintf(stderr, "Redis on CHAT_TEST_REDIS_URL does not answer\n");
    } else {
        freeReplyObject(reply);
    }
    *state = s;
    return reply == NULL ? -1 : 0;
}

int store_teardown(void **state)
{
    chat_store_t *s = *state;
    void *db = s->db;

    chat_redis_destroy(s->redis);
    db_teardown(&db);
    free(s);
    return 0;
}

int db_fixture_run_group(const char *name, const struct CMUnitTest *tests, size_t n)
{
    const char *uri = getenv("CHAT_TEST_MONGO_URI");
    int failed;

    if (uri == NULL || uri[0] == '\0') {
        fprintf(stderr,
                "FAIL: CHAT_TEST_MONGO_URI is not set. These tests need a MongoDB or "
                "FerretDB (make test starts one), e.g. "
                "CHAT_TEST_MONGO_URI=mongodb://127.0.0.1:27017/\n");
        return 1;
    }
    chat_db_global_init();
    failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
    chat_db_global_cleanup();
    return failed;
}

chat_redis_t *test_redis_connect(void)
{
    char errbuf[256];
    chat_redis_t *r =
        chat_redis_create(getenv("CHAT_TEST_REDIS_URL"), false, 1000, errbuf, sizeof(errbuf));

    assert_non_null(r);
    assert_int_equal(chat_redis_ping(r), CHAT_OK);
    return r;
}

/* Documents of coll matching {room_id: room[, user_id: user]}, counted in MongoDB. */
int64_t test_room_head(chat_db_t *db, const char *room_id)
{
    bson_oid_t oid;
    int64_t head = -1;
    bool found = false;

    assert_true(chat_db_oid_from_hex(room_id, &oid));
    assert_int_equal(chat_messages_head(db, &oid, &head, &found), CHAT_OK);
    return found ? head : 0;
}

int64_t test_count_docs(chat_db_t *db, const char *coll, const char *room, const char *user)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *c = mongoc_client_get_collection(client, chat_db_name(db), coll);
    bson_t filter = BSON_INITIALIZER;
    bson_oid_t oid;
    bson_error_t err;
    int64_t n;

    bson_oid_init_from_string(&oid, room);
    BSON_APPEND_OID(&filter, "room_id", &oid);
    if (user != NULL) {
        bson_oid_init_from_string(&oid, user);
        BSON_APPEND_OID(&filter, "user_id", &oid);
    }
    n = mongoc_collection_count_documents(c, &filter, NULL, NULL, NULL, &err);
    bson_destroy(&filter);
    mongoc_collection_destroy(c);
    chat_db_push(db, client);
    assert_true(n >= 0);
    return n;
}

void test_add_user(chat_db_t *db, const char *name, char id[CHAT_ID_LEN])
{
    char email[64];
    chat_user_t u = {0};

    snprintf(email, sizeof(email), "%s@example.com", name);
    assert_int_equal(chat_users_create(db, name, email, "$2b$04$abcdefghijklmnopqrstuu", &u, NULL),
                     CHAT_OK);
    memcpy(id, u.id, CHAT_ID_LEN);
    chat_user_clear(&u);
}

chat_cset_answer_t test_cset_has(const chat_store_t *s, const chat_cset_t *set, const char *member)
{
    chat_cset_answer_t a = CHAT_CSET_NOT_BUILT;

    assert_int_equal(chat_cset_check(s->redis, set, member, &a), CHAT_OK);
    return a;
}

void test_join(chat_store_t *st, const char *room, const char *user, bool *changed)
{
    chat_room_t after = {0};

    assert_int_equal(chat_membership_join(st, room, user, "u", false, &after, NULL, changed),
                     CHAT_OK);
    chat_room_clear(&after);
}

void test_leave(chat_store_t *st, const char *room, const char *user, bool *changed)
{
    chat_room_t after = {0};

    assert_int_equal(chat_membership_leave(st, room, user, "u", false, &after, NULL, changed),
                     CHAT_OK);
    chat_room_clear(&after);
}
