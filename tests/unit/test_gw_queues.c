/*
 * test_gw_queues.c - the gateway's bounds and the decisions around them, without a
 * socket or a server: the held list of messages waiting for Redis (bounded, oldest
 * given up), a session's send-queue bound and the slow-consumer policy (grace, hard
 * factor, reset, replay pacing), the message pipeline's decisions (what a stored job
 * tells its sender, shedding, the rate-limit call by EVALSHA / EVAL and NOSCRIPT), and
 * the decoding of room channel payloads, and when freed heap goes back to the system.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ws-gateway/channel_event.c"
#include "../../ws-gateway/heap_trim.c"
#include "../../ws-gateway/held_queue.c"
#include "../../ws-gateway/message_decide.c"
#include "../../ws-gateway/slow_consumer.c"
#include "chat/ratelimit.h"

typedef struct item {
    int id;
    gw_held_link_t link;
} item_t;

static int id_of(gw_held_link_t *l)
{
    return ((item_t *)((char *)l - offsetof(item_t, link)))->id;
}

static void test_held_queue(void **state)
{
    gw_held_t q;
    item_t it[6];
    gw_held_link_t *l;
    int want = 3;

    (void)state;
    for (int i = 0; i < 6; i++) {
        it[i].id = i;
    }
    gw_held_init(&q, 3);
    assert_null(gw_held_pop(&q));
    assert_null(gw_held_take_all(&q));
    assert_null(gw_held_push(&q, &it[0].link));
    assert_null(gw_held_push(&q, &it[1].link));
    assert_null(gw_held_push(&q, &it[2].link));
    assert_int_equal(q.len, 3);
    /* full: each push gives up the oldest */
    l = gw_held_push(&q, &it[3].link);
    assert_int_equal(id_of(l), 0);
    assert_null(l->next);
    assert_int_equal(id_of(gw_held_push(&q, &it[4].link)), 1);
    assert_int_equal(q.len, 3);
    assert_int_equal(id_of(gw_held_pop(&q)), 2);
    assert_int_equal(q.len, 2);
    assert_null(gw_held_push(&q, &it[5].link));
    /* everything out, oldest first */
    l = gw_held_take_all(&q);
    assert_int_equal(q.len, 0);
    assert_null(q.head);
    assert_null(q.tail);
    for (; l != NULL; l = l->next) {
        assert_int_equal(id_of(l), want++);
    }
    assert_int_equal(want, 6);
    /* usable again after take_all; a bound of 0 still holds one */
    gw_held_init(&q, 0);
    assert_null(gw_held_push(&q, &it[0].link));
    assert_int_equal(id_of(gw_held_push(&q, &it[1].link)), 0);
    assert_int_equal(id_of(gw_held_pop(&q)), 1);
    assert_null(gw_held_pop(&q));
}

static gw_limits_t limits(void)
{
    gw_limits_t lim;

    memset(&lim, 0, sizeof(lim));
    lim.queue_max_frames = 10;
    lim.queue_max_bytes = 1000;
    lim.slow_grace_ms = 2000;
    return lim;
}

static void test_slow_consumer(void **state)
{
    gw_limits_t lim = limits();
    int64_t since = 0;

    (void)state;
    assert_false(gw_slow_over(&lim, 10, 1000));
    assert_true(gw_slow_over(&lim, 11, 0));
    assert_true(gw_slow_over(&lim, 1, 1001));
    /* a burst over the bound: kept, and the clock starts */
    assert_int_equal(gw_slow_check(&lim, 11, 500, 5000, &since), GW_SLOW_KEEP);
    assert_int_equal(since, 5000);
    assert_int_equal(gw_slow_check(&lim, 30, 500, 7000, &since), GW_SLOW_KEEP);
    assert_int_equal(since, 5000); /* not restarted while over */
    /* still over past the grace: cut */
    assert_int_equal(gw_slow_check(&lim, 12, 500, 7001, &since), GW_SLOW_CUT);
    /* drained under the bound: the clock restarts */
    gw_slow_on_written(&lim, 11, 500, &since);
    assert_int_equal(since, 5000);
    gw_slow_on_written(&lim, 10, 1000, &since);
    assert_int_equal(since, 0);
    assert_int_equal(gw_slow_check(&lim, 11, 0, 9000, &since), GW_SLOW_KEEP);
    assert_int_equal(since, 9000);
    /* past GW_QUEUE_HARD_FACTOR times a bound: cut at once, grace or not */
    since = 0;
    assert_int_equal(gw_slow_check(&lim, 40, 0, 1, &since), GW_SLOW_KEEP);
    since = 0;
    assert_int_equal(gw_slow_check(&lim, 41, 0, 1, &since), GW_SLOW_CUT);
    since = 0;
    assert_int_equal(gw_slow_check(&lim, 1, 4000, 1, &since), GW_SLOW_KEEP);
    since = 0;
    assert_int_equal(gw_slow_check(&lim, 1, 4001, 1, &since), GW_SLOW_CUT);
    /* replay queues a page only under half the bounds, resumes at a quarter */
    assert_true(gw_slow_replay_fits(&lim, 4, 0, 500));
    assert_false(gw_slow_replay_fits(&lim, 5, 0, 10));
    assert_false(gw_slow_replay_fits(&lim, 0, 400, 101));
    assert_true(gw_slow_replay_resumes(&lim, 2, 250));
    assert_false(gw_slow_replay_resumes(&lim, 3, 0));
    assert_false(gw_slow_replay_resumes(&lim, 0, 251));
}

static void test_outcome_and_shed(void **state)
{
    (void)state;
    /* err, stored, is_member, room_hidden, committed */
    assert_int_equal(gw_msg_decide_outcome(CHAT_OK, true, true, false, true), GW_MSG_ACK);
    assert_int_equal(gw_msg_decide_outcome(CHAT_OK, true, true, false, false), GW_MSG_HOLD);
    assert_int_equal(gw_msg_decide_outcome(CHAT_OK, false, false, true, false), GW_MSG_NOT_FOUND);
    assert_int_equal(gw_msg_decide_outcome(CHAT_OK, false, false, false, false), GW_MSG_NOT_MEMBER);
    assert_int_equal(gw_msg_decide_outcome(CHAT_ERR_INVALID, false, true, false, false),
                     GW_MSG_INVALID);
    assert_int_equal(gw_msg_decide_outcome(CHAT_ERR_UNAVAILABLE, false, true, false, false),
                     GW_MSG_UNAVAILABLE);
    /* stored but no ack frame (out of memory): never acked, the resend gets it */
    assert_int_equal(gw_msg_decide_outcome(CHAT_ERR_NOMEM, true, true, false, true),
                     GW_MSG_UNAVAILABLE);
    /* a membership answer that failed is not a refusal */
    assert_int_equal(gw_msg_decide_outcome(CHAT_ERR_UNAVAILABLE, false, false, true, false),
                     GW_MSG_UNAVAILABLE);

    assert_false(gw_msg_decide_shed(false, 1000, 1000 + GW_MSG_MAX_QUEUE_WAIT_MS));
    assert_true(gw_msg_decide_shed(false, 1000, 1001 + GW_MSG_MAX_QUEUE_WAIT_MS));
    assert_false(gw_msg_decide_shed(true, 0, 1000000)); /* stored: only its commit waits */
}

static void test_limit_call(void **state)
{
    const chat_redis_script_t *script = chat_redis_script(CHAT_SCRIPT_RATELIMIT);
    gw_msg_limit_call_t c;
    char key[CHAT_KEY_LEN];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    char hex[41];

    (void)state;
    chat_key_ratelimit("msg", "0123456789abcdef01234567", key, sizeof(key));
    gw_msg_decide_limit_call(&c, "0123456789abcdef01234567", 2.5, 10, true);
    assert_int_equal(c.argc, 7);
    assert_string_equal(c.argv[0], "EVALSHA");
    /* the SHA1 of the very source EVAL would send */
    assert_int_equal(
        EVP_Digest(script->source, strlen(script->source), digest, &dlen, EVP_sha1(), NULL), 1);
    for (unsigned int i = 0; i < dlen; i++) {
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    }
    assert_string_equal(c.argv[1], hex);
    assert_string_equal(c.argv[2], "1");
    assert_string_equal(c.argv[3], key);
    assert_string_equal(c.argv[4], "2.5");
    assert_string_equal(c.argv[5], "10");
    assert_string_equal(c.argv[6], "1");
    /* after NOSCRIPT: the source itself */
    gw_msg_decide_limit_call(&c, "0123456789abcdef01234567", 0.2, 3, false);
    assert_string_equal(c.argv[0], "EVAL");
    assert_ptr_equal(c.argv[1], CHAT_RATELIMIT_LUA);
    assert_string_equal(c.argv[3], key);
    assert_string_equal(c.argv[4], "0.2");
    assert_string_equal(c.argv[5], "3");
}

static void test_noscript(void **state)
{
    char noscript[] = "NOSCRIPT No matching script. Please use EVAL.";
    char other[] = "ERR wrong number of arguments";
    redisReply r;

    (void)state;
    memset(&r, 0, sizeof(r));
    assert_false(gw_msg_decide_noscript(NULL));
    r.type = REDIS_REPLY_ERROR;
    r.str = noscript;
    r.len = strlen(noscript);
    assert_true(gw_msg_decide_noscript(&r));
    r.str = other;
    r.len = strlen(other);
    assert_false(gw_msg_decide_noscript(&r));
    r.type = REDIS_REPLY_STATUS; /* only an error reply means it */
    r.str = noscript;
    assert_false(gw_msg_decide_noscript(&r));
    r.type = REDIS_REPLY_ERROR;
    r.str = NULL;
    assert_false(gw_msg_decide_noscript(&r));
}

static gw_chan_kind_t kind_of(const char *json, gw_chan_event_t *ev)
{
    assert_int_equal(gw_chan_event_parse(json, strlen(json), ev), 0);
    return ev->kind;
}

static void test_channel_event(void **state)
{
    gw_chan_event_t ev;
    const char *msg = "{\"type\":\"text\",\"seq\":42,\"user_id\":\"u1\","
                      "\"timestamp\":\"2026-01-02T03:04:05.678Z\"}";

    (void)state;
    assert_int_equal(kind_of(msg, &ev), GW_CHAN_MESSAGE);
    assert_true(ev.has_seq);
    assert_int_equal(ev.seq, 42);
    assert_true(ev.has_stored_ms);
    assert_int_equal(ev.stored_ms, 1767323045678LL);
    assert_string_equal(ev.user_id, "u1");
    gw_chan_event_clear(&ev);
    assert_null(ev.root);

    assert_int_equal(kind_of("{\"type\":\"system\",\"seq\":\"7\"}", &ev), GW_CHAN_MESSAGE);
    assert_false(ev.has_seq); /* a seq that is not an integer is not ordered */
    assert_false(ev.has_stored_ms);
    gw_chan_event_clear(&ev);

    assert_int_equal(kind_of("{\"type\":\"typing\",\"user_id\":\"u2\"}", &ev), GW_CHAN_TYPING);
    assert_string_equal(ev.user_id, "u2");
    gw_chan_event_clear(&ev);

    assert_int_equal(
        kind_of("{\"type\":\"presence\",\"user_id\":\"u3\",\"status\":\"online\"}", &ev),
        GW_CHAN_PRESENCE);
    assert_true(gw_chan_event_online(&ev));
    gw_chan_event_clear(&ev);
    assert_int_equal(
        kind_of("{\"type\":\"presence\",\"user_id\":\"u3\",\"status\":\"offline\"}", &ev),
        GW_CHAN_PRESENCE);
    assert_false(gw_chan_event_online(&ev));
    gw_chan_event_clear(&ev);
    assert_int_equal(kind_of("{\"type\":\"presence\",\"user_id\":\"u3\"}", &ev), GW_CHAN_PRESENCE);
    assert_null(ev.status);
    assert_false(gw_chan_event_online(&ev));
    gw_chan_event_clear(&ev);

    assert_int_equal(kind_of("{\"type\":\"member_removed\",\"user_id\":\"u4\"}", &ev),
                     GW_CHAN_MEMBER_REMOVED);
    assert_string_equal(ev.user_id, "u4");
    gw_chan_event_clear(&ev);
    assert_int_equal(kind_of("{\"type\":\"member_added\"}", &ev), GW_CHAN_MEMBER_ADDED);
    assert_null(ev.user_id);
    gw_chan_event_clear(&ev);
    assert_int_equal(kind_of("{\"type\":\"room_added\"}", &ev), GW_CHAN_OTHER);
    gw_chan_event_clear(&ev);
    assert_int_equal(kind_of("{\"seq\":3}", &ev), GW_CHAN_OTHER);
    assert_false(ev.has_seq);
    gw_chan_event_clear(&ev);

    assert_int_equal(gw_chan_event_parse("[1,2]", 5, &ev), -1);
    assert_null(ev.root);
    assert_int_equal(gw_chan_event_parse("{\"type\":", 8, &ev), -1);
    assert_null(ev.root);
    /* only len bytes count */
    assert_int_equal(gw_chan_event_parse("{\"type\":\"typing\"}garbage", 17, &ev), 0);
    assert_int_equal(ev.kind, GW_CHAN_TYPING);
    gw_chan_event_clear(&ev);
}

/* malloc_trim once what is held fell to half of its peak by at least the minimum:
 * sockets, rooms, presence statuses and cached frames alike; each trim starts a new peak. */
static void test_heap_trim(void **state)
{
    gw_heap_trim_t t = {0};
    size_t peak = gw_heap_trim_estimate(3000, 0, 0, 0);

    (void)state;
    assert_int_equal(gw_heap_trim_estimate(2, 3, 7, 5),
                     2 * GW_TRIM_SOCKET_BYTES + 3 * GW_TRIM_ROOM_BYTES +
                         7 * GW_TRIM_PRESENCE_BYTES + 5);
    assert_false(gw_heap_trim_due(&t, peak));
    assert_false(gw_heap_trim_due(&t, gw_heap_trim_estimate(2000, 0, 0, 0))); /* not half */
    assert_true(gw_heap_trim_due(&t, gw_heap_trim_estimate(1500, 0, 0, 0)));
    assert_false(gw_heap_trim_due(&t, gw_heap_trim_estimate(1500, 0, 0, 0))); /* once */
    assert_false(gw_heap_trim_due(&t, gw_heap_trim_estimate(700, 0, 0, 0)));  /* half, < min */
    /* a small gateway's churn never trims: under the minimum */
    t.high = 0;
    assert_false(gw_heap_trim_due(&t, gw_heap_trim_estimate(900, 0, 0, 0)));
    assert_false(gw_heap_trim_due(&t, 0));
    /* rooms and their frames count as well: 16 MB of frames let go */
    t.high = 0;
    assert_false(gw_heap_trim_due(&t, gw_heap_trim_estimate(1, 500, 0, 16u << 20)));
    assert_true(gw_heap_trim_due(&t, gw_heap_trim_estimate(1, 0, 0, 0)));
    assert_int_equal(t.high, gw_heap_trim_estimate(1, 0, 0, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_held_queue),       cmocka_unit_test(test_slow_consumer),
        cmocka_unit_test(test_outcome_and_shed), cmocka_unit_test(test_limit_call),
        cmocka_unit_test(test_noscript),         cmocka_unit_test(test_channel_event),
        cmocka_unit_test(test_heap_trim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
