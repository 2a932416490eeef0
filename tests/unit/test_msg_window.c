/*
 * test_msg_window.c - the room history window (msg_window.h) against a real Redis
 * (CHAT_TEST_REDIS_URL): the pure range arithmetic, a window built by WIN_FILL and read
 * by WIN_READ (answered, outside, not ready), appends that advance hi only through
 * consecutive seqs and trim to the window size, the resend index, a window that reads
 * as not ready once its meta is lost or was built under another Redis run, and two
 * clients of one server under two ids (a handed-over epoch and the run_id) that reset
 * each other's windows instead of reading one that misses the other's append.
 * Single-threaded test process.
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

#include "chat/keys.h"
#include "chat/msg_window.h"
#include "db_fixture.h"

#define MAXN 32

/* A room id unique to this process and call (24 hex). */
static void fresh_room(char *buf, size_t len, int n)
{
    snprintf(buf, len, "%08x%016x", (unsigned)getpid(), (unsigned)(n + 0x5100));
}

/* Items for seqs [from, to]: JSON {"seq":N,"user_id":"u","client_msg_id":"cN"} with the
 * resend key "u:cN" when with_idem. */
typedef struct items_buf {
    int64_t seqs[MAXN];
    char text[MAXN][96];
    const char *jsons[MAXN];
    size_t lens[MAXN];
    char idem_text[MAXN][32];
    const char *idems[MAXN];
    chat_window_items_t items;
} items_buf_t;

static void make_items(items_buf_t *b, int64_t from, int64_t to, bool with_idem)
{
    size_t n = 0;

    memset(b, 0, sizeof(*b));
    for (int64_t s = from; s <= to; s++, n++) {
        b->seqs[n] = s;
        snprintf(b->text[n], sizeof(b->text[n]),
                 "{\"seq\":%lld,\"user_id\":\"u\",\"client_msg_id\":\"c%lld\"}", (long long)s,
                 (long long)s);
        b->jsons[n] = b->text[n];
        b->lens[n] = strlen(b->text[n]);
        snprintf(b->idem_text[n], sizeof(b->idem_text[n]), "u:c%lld", (long long)s);
        b->idems[n] = with_idem ? b->idem_text[n] : "";
    }
    b->items.n = n;
    b->items.seqs = b->seqs;
    b->items.jsons = b->jsons;
    b->items.lens = b->lens;
    b->items.idems = b->idems;
}

static void append(chat_redis_t *r, const char *room, int64_t size, int64_t from, int64_t to,
                   chat_window_state_t *st)
{
    items_buf_t b;
    redisReply *reply = NULL;

    make_items(&b, from, to, true);
    assert_int_equal(chat_window_queue_append(r, room, size, false, &b.items), CHAT_OK);
    reply = chat_redis_next_reply(r);
    assert_int_equal(chat_window_parse_append(reply, st), CHAT_OK);
    freeReplyObject(reply);
}

/* Reads mode/arg/limit and checks the answer and, when answered, the seqs from..to. */
static void expect_read(chat_redis_t *r, const char *room, chat_window_mode_t mode, int64_t arg,
                        int64_t limit, chat_window_answer_t answer, int64_t from, int64_t to)
{
    chat_window_page_t page;
    char want[96];

    assert_int_equal(chat_window_read(r, room, mode, arg, limit, &page), CHAT_OK);
    assert_int_equal(page.answer, answer);
    if (answer == CHAT_WINDOW_ANSWERED) {
        assert_int_equal(page.from, from);
        assert_int_equal(page.to, to);
        assert_int_equal(page.n, (size_t)(to >= from ? to - from + 1 : 0));
        for (size_t i = 0; i < page.n; i++) {
            snprintf(want, sizeof(want), "{\"seq\":%lld,", (long long)(from + (int64_t)i));
            assert_true(strncmp(page.json[i], want, strlen(want)) == 0);
            assert_int_equal(page.len[i], strlen(page.json[i]));
        }
    }
    chat_window_page_clear(&page);
}

static void test_range_arithmetic(void **state)
{
    int64_t from = 0;
    int64_t to = 0;

    (void)state;
    chat_window_range(CHAT_WINDOW_LATEST, 0, 50, 1000, &from, &to);
    assert_int_equal(from, 951);
    assert_int_equal(to, 1000);
    chat_window_range(CHAT_WINDOW_LATEST, 200, 50, 1000, &from, &to);
    assert_int_equal(from, 751);
    assert_int_equal(to, 800);
    chat_window_range(CHAT_WINDOW_LATEST, 0, 50, 10, &from, &to); /* clamped at seq 1 */
    assert_int_equal(from, 1);
    assert_int_equal(to, 10);
    chat_window_range(CHAT_WINDOW_BEFORE, 700, 50, 1000, &from, &to);
    assert_int_equal(from, 650);
    assert_int_equal(to, 699);
    chat_window_range(CHAT_WINDOW_BEFORE, 5000, 10, 1000, &from, &to); /* cursor past head */
    assert_int_equal(from, 991);
    assert_int_equal(to, 1000);
    chat_window_range(CHAT_WINDOW_AFTER, 990, 50, 1000, &from, &to); /* stops at head */
    assert_int_equal(from, 991);
    assert_int_equal(to, 1000);
    chat_window_range(CHAT_WINDOW_AFTER, 1000, 50, 1000, &from, &to); /* nothing newer */
    assert_true(to < from);
}

static void test_idem_key(void **state)
{
    char buf[16];

    (void)state;
    assert_true(chat_window_idem_key("u1", "c1", buf, sizeof(buf)));
    assert_string_equal(buf, "u1:c1");
    assert_false(chat_window_idem_key("a-long-user-id", "a-long-client-id", buf, sizeof(buf)));
}

static void test_fill_then_read(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char room[32];
    items_buf_t b;
    chat_window_state_t st;

    (void)state;
    fresh_room(room, sizeof(room), 1);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 5, CHAT_WINDOW_NOT_READY, 0, 0);

    make_items(&b, 6, 10, false); /* the database's newest 5 of a room whose head is 10 */
    assert_int_equal(chat_window_fill(r, room, 5, 10, &b.items, &st), CHAT_OK);
    assert_true(st.ready);
    assert_int_equal(st.lo, 6);
    assert_int_equal(st.hi, 10);

    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 3, CHAT_WINDOW_ANSWERED, 8, 10);
    expect_read(r, room, CHAT_WINDOW_LATEST, 2, 3, CHAT_WINDOW_ANSWERED, 6, 8);
    expect_read(r, room, CHAT_WINDOW_LATEST, 4, 3, CHAT_WINDOW_OUTSIDE, 0, 0); /* 4..6 */
    expect_read(r, room, CHAT_WINDOW_BEFORE, 8, 2, CHAT_WINDOW_ANSWERED, 6, 7);
    expect_read(r, room, CHAT_WINDOW_BEFORE, 6, 2, CHAT_WINDOW_OUTSIDE, 0, 0);
    expect_read(r, room, CHAT_WINDOW_AFTER, 8, 10, CHAT_WINDOW_ANSWERED, 9, 10);
    expect_read(r, room, CHAT_WINDOW_AFTER, 10, 10, CHAT_WINDOW_ANSWERED, 11, 10); /* empty */

    /* a second fill of a ready window changes nothing */
    make_items(&b, 1, 3, false);
    assert_int_equal(chat_window_fill(r, room, 5, 3, &b.items, &st), CHAT_OK);
    assert_true(st.ready);
    assert_int_equal(st.lo, 6);
    assert_int_equal(st.hi, 10);
    chat_redis_destroy(r);
}

static void test_empty_room_fill(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char room[32];
    chat_window_state_t st;
    chat_window_items_t none = {0, NULL, NULL, NULL, NULL};

    (void)state;
    fresh_room(room, sizeof(room), 2);
    assert_int_equal(chat_window_fill(r, room, 5, 0, &none, &st), CHAT_OK);
    assert_true(st.ready);
    assert_int_equal(st.hi, 0);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 50, CHAT_WINDOW_ANSWERED, 1, 0);
    append(r, room, 5, 1, 1, &st);
    assert_true(st.ready);
    assert_int_equal(st.hi, 1);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 50, CHAT_WINDOW_ANSWERED, 1, 1);
    chat_redis_destroy(r);
}

static void test_append_advances_through_consecutive_seqs_and_trims(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char room[32];
    items_buf_t b;
    chat_window_state_t st;

    (void)state;
    fresh_room(room, sizeof(room), 3);
    make_items(&b, 6, 10, false);
    assert_int_equal(chat_window_fill(r, room, 5, 10, &b.items, &st), CHAT_OK);

    append(r, room, 5, 11, 11, &st);
    assert_true(st.ready);
    assert_int_equal(st.hi, 11);
    assert_int_equal(st.head, 11);
    /* trimmed to 5: 7..11 */
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 5, CHAT_WINDOW_ANSWERED, 7, 11);
    expect_read(r, room, CHAT_WINDOW_BEFORE, 7, 1, CHAT_WINDOW_OUTSIDE, 0, 0);

    /* 13 before 12 (another writer's append in flight): hi stays, head moves */
    append(r, room, 5, 13, 13, &st);
    assert_true(st.ready);
    assert_int_equal(st.hi, 11);
    assert_int_equal(st.head, 13);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 2, CHAT_WINDOW_ANSWERED, 10, 11);

    append(r, room, 5, 12, 12, &st);
    assert_int_equal(st.hi, 13);
    assert_int_equal(st.head, 13);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 5, CHAT_WINDOW_ANSWERED, 9, 13);

    /* a batch of several at once */
    append(r, room, 5, 14, 20, &st);
    assert_int_equal(st.hi, 20);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 10, CHAT_WINDOW_OUTSIDE, 0, 0);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 5, CHAT_WINDOW_ANSWERED, 16, 20);
    chat_redis_destroy(r);
}

static void test_resend_index(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char room[32];
    items_buf_t b;
    chat_window_state_t st;
    redisReply *reply = NULL;
    char *json = NULL;

    (void)state;
    fresh_room(room, sizeof(room), 4);
    make_items(&b, 1, 2, true);
    assert_int_equal(chat_window_fill(r, room, 3, 2, &b.items, &st), CHAT_OK);

    assert_int_equal(chat_window_queue_idem(r, room, "u", "c2"), CHAT_OK);
    reply = chat_redis_next_reply(r);
    json = chat_window_parse_idem(reply);
    freeReplyObject(reply);
    assert_non_null(json);
    assert_true(strncmp(json, "{\"seq\":2,", 9) == 0);
    free(json);

    /* another user with the same client_msg_id is not a resend */
    assert_int_equal(chat_window_queue_idem(r, room, "v", "c2"), CHAT_OK);
    reply = chat_redis_next_reply(r);
    assert_null(chat_window_parse_idem(reply));
    freeReplyObject(reply);

    /* once trimmed out of the window, the index forgets it */
    append(r, room, 3, 3, 5, &st);
    assert_int_equal(chat_window_queue_idem(r, room, "u", "c1"), CHAT_OK);
    reply = chat_redis_next_reply(r);
    assert_null(chat_window_parse_idem(reply));
    freeReplyObject(reply);
    assert_int_equal(chat_window_queue_idem(r, room, "u", "c5"), CHAT_OK);
    reply = chat_redis_next_reply(r);
    json = chat_window_parse_idem(reply);
    freeReplyObject(reply);
    assert_non_null(json);
    free(json);
    chat_redis_destroy(r);
}

static void test_lost_meta_or_other_run_is_not_ready(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char room[32];
    char meta[CHAT_KEY_LEN];
    items_buf_t b;
    chat_window_state_t st;
    redisReply *reply = NULL;

    (void)state;
    fresh_room(room, sizeof(room), 5);
    chat_key_tagged(room, "meta", meta, sizeof(meta));
    make_items(&b, 1, 4, false);
    assert_int_equal(chat_window_fill(r, room, 10, 4, &b.items, &st), CHAT_OK);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 4, CHAT_WINDOW_ANSWERED, 1, 4);

    /* built under another run (a restart that may have lost writes): not trusted */
    reply = chat_redis_command(r, "HSET %s run other-run", meta);
    freeReplyObject(reply);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 4, CHAT_WINDOW_NOT_READY, 0, 0);
    /* an append then keeps only the head, and the window stays not ready */
    append(r, room, 10, 5, 5, &st);
    assert_false(st.ready);
    assert_int_equal(st.head, 5);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 4, CHAT_WINDOW_NOT_READY, 0, 0);
    /* a fill rebuilds it, keeping what the append added */
    make_items(&b, 1, 4, false);
    assert_int_equal(chat_window_fill(r, room, 10, 4, &b.items, &st), CHAT_OK);
    assert_true(st.ready);
    assert_int_equal(st.hi, 5);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 5, CHAT_WINDOW_ANSWERED, 1, 5);

    /* meta gone (FLUSHALL, eviction): not ready */
    reply = chat_redis_command(r, "DEL %s", meta);
    freeReplyObject(reply);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 4, CHAT_WINDOW_NOT_READY, 0, 0);
    chat_redis_destroy(r);
}

static void test_fill_with_hole_above_is_not_ready(void **state)
{
    chat_redis_t *r = test_redis_connect();
    char room[32];
    items_buf_t b;
    chat_window_state_t st;

    (void)state;
    fresh_room(room, sizeof(room), 6);
    append(r, room, 10, 7, 7, &st); /* a writer appended 7 before any window existed */
    assert_false(st.ready);
    make_items(&b, 1, 5, false); /* the database said the head is 5: 6 is missing */
    assert_int_equal(chat_window_fill(r, room, 10, 5, &b.items, &st), CHAT_OK);
    assert_false(st.ready);
    assert_int_equal(st.hi, 5);
    assert_int_equal(st.pending, 7);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 3, CHAT_WINDOW_NOT_READY, 0, 0);
    make_items(&b, 1, 7, false); /* read again up to the pending seq */
    assert_int_equal(chat_window_fill(r, room, 10, 7, &b.items, &st), CHAT_OK);
    assert_true(st.ready);
    assert_int_equal(st.hi, 7);
    expect_read(r, room, CHAT_WINDOW_LATEST, 0, 3, CHAT_WINDOW_ANSWERED, 5, 7);
    chat_redis_destroy(r);
}

/* Two ids on one server: a client that connected before a clean stop's handover was
 * taken (or after a FLUSHALL deleted the epoch) stamps with the run_id, the others with
 * the epoch. Each resets a window the other built, so neither answers from a window
 * that misses the other's append: rebuilds, never a stale page. */
static void test_two_ids_on_one_server_never_answer_stale(void **state)
{
    chat_redis_t *plain = test_redis_connect();
    chat_redis_t *handed = NULL;
    char run[64];
    char room[32];
    items_buf_t b;
    chat_window_state_t st;
    redisReply *reply = NULL;

    (void)state;
    snprintf(run, sizeof(run), "%s", chat_redis_run_id(plain));
    reply = chat_redis_command(plain, "SET %s %s%s", CHAT_KEY_REDIS_EPOCH, run,
                               " 0123456789abcdef0123456789abcdef01234567");
    freeReplyObject(reply);
    handed = test_redis_connect();
    reply = chat_redis_command(plain, "DEL %s", CHAT_KEY_REDIS_EPOCH);
    freeReplyObject(reply);
    assert_string_equal(chat_redis_run_id(handed), "0123456789abcdef0123456789abcdef01234567");

    fresh_room(room, sizeof(room), 7);
    make_items(&b, 1, 4, false);
    assert_int_equal(chat_window_fill(handed, room, 10, 4, &b.items, &st), CHAT_OK);
    expect_read(handed, room, CHAT_WINDOW_LATEST, 0, 10, CHAT_WINDOW_ANSWERED, 1, 4);
    expect_read(plain, room, CHAT_WINDOW_LATEST, 0, 10, CHAT_WINDOW_NOT_READY, 0, 0);
    /* the run_id's client appends 5: the epoch's window is reset, not left at 1..4 */
    append(plain, room, 10, 5, 5, &st);
    assert_false(st.ready);
    expect_read(handed, room, CHAT_WINDOW_LATEST, 0, 10, CHAT_WINDOW_NOT_READY, 0, 0);
    /* and the other way round */
    make_items(&b, 1, 5, false);
    assert_int_equal(chat_window_fill(plain, room, 10, 5, &b.items, &st), CHAT_OK);
    expect_read(plain, room, CHAT_WINDOW_LATEST, 0, 10, CHAT_WINDOW_ANSWERED, 1, 5);
    append(handed, room, 10, 6, 6, &st);
    assert_false(st.ready);
    expect_read(plain, room, CHAT_WINDOW_LATEST, 0, 10, CHAT_WINDOW_NOT_READY, 0, 0);
    chat_redis_destroy(handed);
    chat_redis_destroy(plain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_arithmetic),
        cmocka_unit_test(test_idem_key),
        cmocka_unit_test(test_fill_then_read),
        cmocka_unit_test(test_empty_room_fill),
        cmocka_unit_test(test_append_advances_through_consecutive_seqs_and_trims),
        cmocka_unit_test(test_resend_index),
        cmocka_unit_test(test_lost_meta_or_other_run_is_not_ready),
        cmocka_unit_test(test_fill_with_hole_above_is_not_ready),
        cmocka_unit_test(test_two_ids_on_one_server_never_answer_stale),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
