/*
 * db_fixture.h - the per-test database shared by the repository unit tests: a fresh
 * database on CHAT_TEST_MONGO_URI (started by `make test`) with the indexes created,
 * dropped again after the test, and the store fixture (that database plus a flushed
 * Redis on CHAT_TEST_REDIS_URL) for the read-model tests. cmocka setup/teardown; main
 * thread of each test.
 */
#ifndef CHAT_TEST_DB_FIXTURE_H
#define CHAT_TEST_DB_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/cached_set.h"
#include "chat/model.h"
#include "chat/store.h"

struct CMUnitTest;
struct chat_redis;

/** A Redis client on CHAT_TEST_REDIS_URL that answers PING (the test fails otherwise);
 *  nothing is flushed. The caller destroys it. */
struct chat_redis *test_redis_connect(void);

/** cmocka setup: *state = a chat_db_t on a new database "t_<pid>_<n>" with indexes. */
int db_setup(void **state);
/** cmocka teardown: drops that database and destroys the handle. */
int db_teardown(void **state);

/** cmocka setup: *state = a chat_store_t (malloc'd) on a new database (as db_setup) and
 *  a Redis client on CHAT_TEST_REDIS_URL whose database is flushed first; window 50. */
int store_setup(void **state);
/** cmocka teardown of store_setup. */
int store_teardown(void **state);

/** A test program's main(): fails at once (naming the variable) without
 *  CHAT_TEST_MONGO_URI, else runs the group between mongoc's global init and cleanup. */
/** room_id's head in room_heads (0 when it has none), asserted to be readable. */
int64_t test_room_head(chat_db_t *db, const char *room_id);

/* Documents of coll matching {room_id: room[, user_id: user]}, counted in MongoDB. */
int64_t test_count_docs(chat_db_t *db, const char *coll, const char *room, const char *user);

/** chat_membership_join / _leave of user in room as "u", asserted to succeed. */
void test_join(chat_store_t *st, const char *room, const char *user, bool *changed);
void test_leave(chat_store_t *st, const char *room, const char *user, bool *changed);

/** Registers user <name> (email <name>@example.com, a placeholder hash) in db; its id
 *  into id. */
void test_add_user(chat_db_t *db, const char *name, char id[CHAT_ID_LEN]);

/** member's answer in a cached set of s's Redis (the call must succeed). */
chat_cset_answer_t test_cset_has(const chat_store_t *s, const chat_cset_t *set, const char *member);

int db_fixture_run_group(const char *name, const struct CMUnitTest *tests, size_t n);
#define DB_FIXTURE_RUN(tests) \
    db_fixture_run_group(#tests, (tests), sizeof(tests) / sizeof((tests)[0]))

#endif
