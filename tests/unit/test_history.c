/*
 * test_history.c - chat_history_read / chat_history_commit (history.h) on a real
 * MongoDB stand-in and Redis (db_fixture.h store fixture, window 50): pages inside the
 * window come from Redis, pages older than it or straddling its edge from MongoDB, with
 * the same seqs and `total` either way; a flushed Redis is rebuilt on the next read; a
 * committed message is visible in the window at once; without Redis everything comes
 * from MongoDB. Single-threaded test process.
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

#include "chat/history.h"
#include "chat/message_append.h"
#include "chat/messages_repo.h"
#include "chat/model.h"
#include "chat/redis_sync.h"
#include "chat/store.h"
#include "db_fixture.h"

#define ROOM "5f0000000000000000000a01"
#define USER "5f0000000000000000000b01"

static void store_n(chat_store_t *s, int n)
{
    int64_t hint = 0;

    for (int i = 0; i < n; i++) {
        char content[32];
        chat_message_t in;
        chat_message_t out;
        bool dup = false;

        memset(&in, 0, sizeof(in));
        memset(&out, 0, sizeof(out));
        snprintf(in.room_id, sizeof(in.room_id), "%s", ROOM);
        snprintf(in.user_id, sizeof(in.user_id), "%s", USER);
        snprintf(content, sizeof(content), "m%d", i + 1);
        in.username = "alice";
        in.content = content;
        in.type = CHAT_MSG_TEXT;
        assert_int_equal(chat_messages_append(s->db, &in, &hint, &out, &dup), CHAT_OK);
        assert_false(dup);
        chat_message_clear(&out);
    }
}

/* Reads and checks: n messages of seqs from..to ascending, total, and the source. */
static void expect_page(const chat_store_t *s, chat_window_mode_t mode, int64_t arg, int64_t limit,
                        int64_t from, int64_t to, int64_t total, chat_history_source_t source)
{
    chat_history_page_t page;
    char want[32];

    memset(&page, 0, sizeof(page));
    assert_int_equal(chat_history_read(s, ROOM, mode, arg, limit, &page), CHAT_OK);
    assert_int_equal(page.total, total);
    assert_int_equal(page.n, (size_t)(to - from + 1));
    for (size_t i = 0; i < page.n; i++) {
        assert_int_equal(page.seqs[i], from + (int64_t)i);
        snprintf(want, sizeof(want), "\"seq\":%lld", (long long)(from + (int64_t)i));
        assert_non_null(strstr(page.json[i], want));
    }
    assert_int_equal(page.source, source);
    chat_history_page_clear(&page);
}

static void test_window_and_database_pages_agree(void **state)
{
    chat_store_t *s = *state;

    store_n(s, 120);
    /* first read builds the window (newest 50: 71..120) */
    chat_history_page_t page;
    memset(&page, 0, sizeof(page));
    assert_int_equal(chat_history_read(s, ROOM, CHAT_WINDOW_LATEST, 0, 20, &page), CHAT_OK);
    assert_int_equal(page.total, 120);
    assert_int_equal(page.n, 20);
    assert_int_equal(page.seqs[0], 101);
    chat_history_page_clear(&page);

    expect_page(s, CHAT_WINDOW_LATEST, 0, 20, 101, 120, 120, CHAT_HISTORY_FROM_WINDOW);
    expect_page(s, CHAT_WINDOW_LATEST, 30, 20, 71, 90, 120, CHAT_HISTORY_FROM_WINDOW);
    expect_page(s, CHAT_WINDOW_BEFORE, 90, 10, 80, 89, 120, CHAT_HISTORY_FROM_WINDOW);
    expect_page(s, CHAT_WINDOW_AFTER, 100, 500, 101, 120, 120, CHAT_HISTORY_FROM_WINDOW);
    /* older than the window, and across its edge: MongoDB, same seqs */
    expect_page(s, CHAT_WINDOW_LATEST, 60, 20, 41, 60, 120, CHAT_HISTORY_FROM_DB);
    expect_page(s, CHAT_WINDOW_BEFORE, 75, 10, 65, 74, 120, CHAT_HISTORY_FROM_DB);
    expect_page(s, CHAT_WINDOW_AFTER, 0, 500, 1, 120, 120, CHAT_HISTORY_FROM_DB);
}

static void test_flush_rebuilds(void **state)
{
    chat_store_t *s = *state;
    redisReply *reply = NULL;

    store_n(s, 60);
    expect_page(s, CHAT_WINDOW_LATEST, 0, 10, 51, 60, 60, CHAT_HISTORY_FROM_WINDOW);
    reply = chat_redis_command(s->redis, "FLUSHALL");
    assert_non_null(reply);
    freeReplyObject(reply);
    /* the read after the flush answers the same page (rebuilding on the way) */
    chat_history_page_t page;
    memset(&page, 0, sizeof(page));
    assert_int_equal(chat_history_read(s, ROOM, CHAT_WINDOW_LATEST, 0, 10, &page), CHAT_OK);
    assert_int_equal(page.total, 60);
    assert_int_equal(page.n, 10);
    assert_int_equal(page.seqs[9], 60);
    chat_history_page_clear(&page);
    expect_page(s, CHAT_WINDOW_LATEST, 0, 10, 51, 60, 60, CHAT_HISTORY_FROM_WINDOW);
}

static void test_commit_makes_visible(void **state)
{
    chat_store_t *s = *state;
    chat_message_t in;
    chat_message_t out;
    bool dup = false;
    int64_t hint = 0;
    int64_t head = 0;
    char *json = NULL;
    size_t len = 0;
    const char *jsons[1];
    int64_t seqs[1];

    store_n(s, 5);
    assert_int_equal(chat_history_head(s, ROOM, &head), CHAT_OK); /* builds the window */
    assert_int_equal(head, 5);

    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    snprintf(in.room_id, sizeof(in.room_id), "%s", ROOM);
    snprintf(in.user_id, sizeof(in.user_id), "%s", USER);
    in.username = "alice";
    in.content = "committed";
    in.type = CHAT_MSG_TEXT;
    in.client_msg_id = "c-1";
    assert_int_equal(chat_messages_append(s->db, &in, &hint, &out, &dup), CHAT_OK);
    assert_int_equal(out.seq, 6);
    json_t *j = chat_message_to_json(&out);
    json = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    len = strlen(json);
    jsons[0] = json;
    seqs[0] = out.seq;
    char idem[128];
    assert_true(chat_window_idem_key(USER, "c-1", idem, sizeof(idem)));
    const char *idems[1] = {idem};
    chat_history_commit_t c = {ROOM, {1, seqs, jsons, &len, idems}, CHAT_ERR_INTERNAL};
    chat_history_commit(s, &c, 1, false, 500);
    assert_int_equal(c.result, CHAT_OK);
    expect_page(s, CHAT_WINDOW_LATEST, 0, 3, 4, 6, 6, CHAT_HISTORY_FROM_WINDOW);
    free(json);
    chat_message_clear(&out);
}

static void test_without_redis_reads_mongodb(void **state)
{
    chat_store_t *s = *state;
    chat_store_t mongo_only = *s;

    store_n(s, 30);
    mongo_only.redis = NULL;
    expect_page(&mongo_only, CHAT_WINDOW_LATEST, 0, 10, 21, 30, 30, CHAT_HISTORY_FROM_DB);
    expect_page(&mongo_only, CHAT_WINDOW_BEFORE, 5, 10, 1, 4, 30, CHAT_HISTORY_FROM_DB);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_window_and_database_pages_agree, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(test_flush_rebuilds, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_commit_makes_visible, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_without_redis_reads_mongodb, store_setup,
                                        store_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
