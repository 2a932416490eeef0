/*
 * test_gw_room_dedupe.c - the gateway's duplicate check on room channel messages
 * (ws-gateway/room_dedupe.c, included): the peek reads seq and timestamp from what
 * chat_message_to_json writes, says "not sure" for anything else, and never mistakes
 * text inside a string for a member; drop_stale drops only seqs the room has delivered.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../ws-gateway/room_dedupe.c"
#include "chat/model.h"

/* The registry, reduced to one room (room_registry.c is not linked here; the room type
 * is opaque outside it, so this stand-in completes it). */
struct gw_room {
    const char *id;
    bool seq_known;
    int64_t last;
};
static gw_room_t test_room = {.id = "r1"};

gw_room_t *gw_registry_find(gw_registry_t *reg, const char *room_id)
{
    (void)reg;
    return strcmp(room_id, test_room.id) == 0 ? &test_room : NULL;
}

bool gw_registry_room_last(const gw_room_t *room, int64_t *last)
{
    *last = room->last;
    return room->seq_known;
}

static char *message_json(int64_t seq, bool system, const char *content, const char *cmid)
{
    chat_message_t m = {0};
    json_t *j;
    char *s;

    snprintf(m.id, sizeof(m.id), "%s", "6650f1c2a1b2c3d4e5f60718");
    snprintf(m.room_id, sizeof(m.room_id), "%s", "r1");
    snprintf(m.user_id, sizeof(m.user_id), "%s", "6650f1c2a1b2c3d4e5f60002");
    m.username = "alice";
    m.content = (char *)content;
    m.client_msg_id = (char *)cmid;
    m.type = system ? CHAT_MSG_SYSTEM : CHAT_MSG_TEXT;
    m.timestamp_ms = INT64_C(1736937000123);
    m.seq = seq;
    j = chat_message_to_json(&m);
    s = chat_json_dumps(j);
    json_decref(j);
    return s;
}

static void test_peek_reads_what_we_write(void **state)
{
    static const int64_t seqs[] = {0, 1, 9, 10, 123456789, INT64_C(999999999999999999)};
    gw_room_dedupe_head_t h;

    (void)state;
    for (size_t i = 0; i < sizeof(seqs) / sizeof(seqs[0]); i++) {
        char *p = message_json(seqs[i], i % 2 == 1, "hello", i % 3 == 0 ? "c-1" : NULL);
        assert_true(gw_room_dedupe_peek(p, strlen(p), &h));
        assert_int_equal(h.seq, seqs[i]);
        assert_non_null(h.timestamp);
        assert_int_equal(h.timestamp_len, strlen("2025-01-15T10:30:00.123Z"));
        assert_memory_equal(h.timestamp, "2025-01-15T10:30:00.123Z", h.timestamp_len);
        free(p);
    }
}

static void test_peek_ignores_members_inside_strings(void **state)
{
    /* content and client_msg_id that spell members: escaped quotes never match */
    char *p =
        message_json(7, false, "\"seq\":1,\"type\":\"text\",\"timestamp\":\"x\"", "\"seq\":2}");
    gw_room_dedupe_head_t h;

    (void)state;
    assert_true(gw_room_dedupe_peek(p, strlen(p), &h));
    assert_int_equal(h.seq, 7);
    assert_memory_equal(h.timestamp, "2025-01-15T10:30:00.123Z", h.timestamp_len);
    free(p);
}

static void test_peek_is_unsure_of_anything_else(void **state)
{
    static const char *const unsure[] = {
        "{\"type\":\"typing\",\"room_id\":\"r1\",\"user_id\":\"u\",\"username\":\"a\"}",
        "{\"type\":\"presence\",\"user_id\":\"u\",\"status\":\"online\",\"seq\":3}",
        "{\"type\":\"member_removed\",\"room_id\":\"r1\",\"user_id\":\"u\"}",
        "{\"type\":\"text\",\"content\":\"a\"}",            /* no seq */
        "{\"type\":\"text\",\"seq\":\"5\"}",                /* not an integer */
        "{\"type\":\"text\",\"seq\":5.0}",                  /* a real */
        "{\"type\":\"text\",\"seq\":5e2}",                  /* exponent */
        "{\"type\":\"text\",\"seq\":-5}",                   /* negative */
        "{\"type\":\"text\",\"seq\":05}",                   /* not JSON */
        "{\"type\":\"text\",\"seq\":5",                     /* cut short */
        "{\"type\":\"text\",\"seq\":1234567890123456789}",  /* too many digits */
        "{\"type\":\"text\",\"seq\":99999999999999999999}", /* more than int64 */
        "{\"type\": \"text\", \"seq\": 5}",                 /* not compact */
        "{\"type\":\"texts\",\"seq\":5}",
        "",
    };
    gw_room_dedupe_head_t h;

    (void)state;
    for (size_t i = 0; i < sizeof(unsure) / sizeof(unsure[0]); i++) {
        assert_false(gw_room_dedupe_peek(unsure[i], strlen(unsure[i]), &h));
    }
    assert_false(gw_room_dedupe_peek(NULL, 0, &h));
    /* no timestamp: still a message, just nothing to observe */
    assert_true(gw_room_dedupe_peek("{\"type\":\"system\",\"seq\":4}", 25, &h));
    assert_int_equal(h.seq, 4);
    assert_null(h.timestamp);
}

static void test_drop_stale_only_below_the_delivered_seq(void **state)
{
    static gw_t gw;
    static gw_metrics_t metrics;
    char *p5 = message_json(5, false, "hi", NULL);
    char *p6 = message_json(6, false, "hi", NULL);
    const char *typing = "{\"type\":\"typing\",\"room_id\":\"r1\",\"user_id\":\"u\"}";

    (void)state;
    gw.metrics = &metrics;
    test_room.seq_known = false;
    test_room.last = 0;
    assert_false(gw_room_dedupe_drop_stale(&gw, "r1", p5, strlen(p5))); /* seq unknown */
    test_room.seq_known = true;
    test_room.last = 5;
    assert_true(gw_room_dedupe_drop_stale(&gw, "r1", p5, strlen(p5)));
    assert_int_equal(metrics.delivery_seconds.count, 1); /* counted as before */
    assert_false(gw_room_dedupe_drop_stale(&gw, "r1", p6, strlen(p6)));
    assert_false(gw_room_dedupe_drop_stale(&gw, "r2", p5, strlen(p5))); /* not watched */
    assert_false(gw_room_dedupe_drop_stale(&gw, "r1", typing, strlen(typing)));
    free(p5);
    free(p6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peek_reads_what_we_write),
        cmocka_unit_test(test_peek_ignores_members_inside_strings),
        cmocka_unit_test(test_peek_is_unsure_of_anything_else),
        cmocka_unit_test(test_drop_stale_only_below_the_delivered_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
