/*
 * test_gw_cluster_route.c - the pure decisions of the gateway's Redis Cluster mode
 * (ws-gateway/pubsub_cluster_route.c): what a reply or push read on a node connection
 * is (smessage, ssubscribe, a pushed sunsubscribe, pong in both forms, other pub/sub
 * arrays, plain replies), what an error means (MOVED, ASK, CLUSTERDOWN / TRYAGAIN, the
 * command's own), which argument routes a command (EVALSHA's first key), which master
 * owns a channel and which channels move when a failover changes the map, the masters
 * and candidate addresses a CLUSTER SLOTS reply names, and the map fingerprint that
 * decides whether a map change is logged. Replies are parsed by hiredis's own reader
 * from RESP as Redis 7 sends it. No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../../ws-gateway/pubsub_cluster_route.c"

static redisReply *resp(const char *text)
{
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;

    assert_non_null(reader);
    assert_int_equal(redisReaderFeed(reader, text, strlen(text)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(reader);
    return reply;
}

#define NODE(port) "*3\r\n$9\r\n127.0.0.1\r\n:" port "\r\n$2\r\nid\r\n"
/* 3 masters 7000..7002 with replicas 7003..7005 */
static const char BEFORE[] =
    "*3\r\n"
    "*4\r\n:0\r\n:5460\r\n" NODE("7000") NODE("7003") "*4\r\n:5461\r\n:10922\r\n" NODE("7001")
        NODE("7004") "*4\r\n:10923\r\n:16383\r\n" NODE("7002") NODE("7005");
/* 7001 failed: its replica 7004 serves 5461..10922, and has no replica yet */
static const char AFTER[] =
    "*3\r\n"
    "*4\r\n:0\r\n:5460\r\n" NODE("7000") NODE("7003") "*3\r\n:5461\r\n:10922\r\n" NODE(
        "7004") "*4\r\n:10923\r\n:16383\r\n" NODE("7002") NODE("7005");

static chat_redis_cluster_map_t *map_of(const char *text)
{
    redisReply *r = resp(text);
    chat_redis_cluster_map_t *map = NULL;

    assert_int_equal(chat_redis_cluster_map_create(r, &map), CHAT_OK);
    freeReplyObject(r);
    return map;
}

static void test_classify_pushes(void **state)
{
    const char *ch = NULL;
    const redisReply *payload = NULL;
    redisReply *r;

    (void)state;
    r = resp("*3\r\n$8\r\nsmessage\r\n$13\r\nchat:room:{a}\r\n$5\r\nhello\r\n");
    assert_int_equal(gw_cluster_classify(r, &ch, &payload), GW_CLUSTER_SMESSAGE);
    assert_string_equal(ch, "chat:room:{a}");
    assert_string_equal(payload->str, "hello");
    freeReplyObject(r);

    r = resp("*3\r\n$10\r\nssubscribe\r\n$13\r\nchat:room:{a}\r\n:1\r\n");
    assert_int_equal(gw_cluster_classify(r, &ch, NULL), GW_CLUSTER_SSUBSCRIBE);
    assert_string_equal(ch, "chat:room:{a}");
    freeReplyObject(r);

    /* what Redis pushes, unasked, when the channel's slot moved (failover) */
    r = resp("*3\r\n$12\r\nsunsubscribe\r\n$13\r\nchat:room:{b}\r\n:0\r\n");
    assert_int_equal(gw_cluster_classify(r, &ch, NULL), GW_CLUSTER_SUNSUBSCRIBE);
    assert_string_equal(ch, "chat:room:{b}");
    freeReplyObject(r);

    r = resp("*2\r\n$4\r\npong\r\n$0\r\n\r\n"); /* PING in subscribed mode */
    assert_int_equal(gw_cluster_classify(r, NULL, NULL), GW_CLUSTER_PONG);
    freeReplyObject(r);
    r = resp("+PONG\r\n"); /* PING before any subscription */
    assert_int_equal(gw_cluster_classify(r, NULL, NULL), GW_CLUSTER_PONG);
    freeReplyObject(r);

    r = resp("*3\r\n$7\r\nmessage\r\n$1\r\nx\r\n$1\r\ny\r\n");
    assert_int_equal(gw_cluster_classify(r, NULL, NULL), GW_CLUSTER_OTHER_PUSH);
    freeReplyObject(r);

    r = resp("+OK\r\n");
    assert_int_equal(gw_cluster_classify(r, NULL, NULL), GW_CLUSTER_REPLY);
    freeReplyObject(r);
    r = resp("-MOVED 3999 127.0.0.1:7001\r\n");
    assert_int_equal(gw_cluster_classify(r, NULL, NULL), GW_CLUSTER_REPLY);
    freeReplyObject(r);
    r = resp("*2\r\n:1\r\n:2\r\n"); /* an ordinary array reply */
    assert_int_equal(gw_cluster_classify(r, NULL, NULL), GW_CLUSTER_REPLY);
    freeReplyObject(r);
    assert_int_equal(gw_cluster_classify(NULL, NULL, NULL), GW_CLUSTER_REPLY);
}

static void test_classify_errors(void **state)
{
    chat_redis_redirect_t rd;
    redisReply *r;

    (void)state;
    r = resp("-MOVED 3999 127.0.0.1:7001\r\n");
    assert_int_equal(gw_cluster_classify_error(r, &rd), GW_CLUSTER_ERR_MOVED);
    assert_int_equal(rd.slot, 3999);
    assert_int_equal(rd.port, 7001);
    freeReplyObject(r);
    r = resp("-ASK 3999 127.0.0.1:7002\r\n");
    assert_int_equal(gw_cluster_classify_error(r, &rd), GW_CLUSTER_ERR_ASK);
    assert_int_equal(rd.port, 7002);
    freeReplyObject(r);
    r = resp("-CLUSTERDOWN The cluster is down\r\n");
    assert_int_equal(gw_cluster_classify_error(r, NULL), GW_CLUSTER_ERR_DOWN);
    freeReplyObject(r);
    r = resp("-TRYAGAIN Multiple keys request during rehashing of slot\r\n");
    assert_int_equal(gw_cluster_classify_error(r, NULL), GW_CLUSTER_ERR_DOWN);
    freeReplyObject(r);
    r = resp("-NOSCRIPT No matching script\r\n");
    assert_int_equal(gw_cluster_classify_error(r, NULL), GW_CLUSTER_ERR_OTHER);
    freeReplyObject(r);
    r = resp(":1\r\n");
    assert_int_equal(gw_cluster_classify_error(r, NULL), GW_CLUSTER_ERR_NONE);
    freeReplyObject(r);
}

static void test_command_key(void **state)
{
    const char *zadd[] = {"ZADD", "chat:presence:{u1}", "1", "gw0"};
    const char *evalsha[] = {"EVALSHA", "abc", "1", "chat:rl:{u1}:msg", "5", "10"};
    const char *eval0[] = {"EVAL", "return 1", "0"};
    const char *spublish[] = {"SPUBLISH", "chat:room:{r}", "x"};
    const char *ping[] = {"PING"};
    const char *slots[] = {"CLUSTER", "SLOTS"};

    /* the commands the gateway sends are routed by common/'s key rule */
    (void)state;
    assert_int_equal(chat_redis_cluster_key_index(4, zadd, NULL), 1);
    assert_int_equal(chat_redis_cluster_key_index(6, evalsha, NULL), 3);
    assert_int_equal(chat_redis_cluster_key_index(3, eval0, NULL), CHAT_REDIS_CLUSTER_KEYLESS);
    assert_int_equal(chat_redis_cluster_key_index(3, spublish, NULL), 1);
    assert_int_equal(chat_redis_cluster_key_index(1, ping, NULL), CHAT_REDIS_CLUSTER_KEYLESS);
    assert_int_equal(chat_redis_cluster_key_index(2, slots, NULL), CHAT_REDIS_CLUSTER_KEYLESS);
}

/* A room id whose channel's slot lies in [lo, hi]. */
static void room_in(unsigned lo, unsigned hi, char *channel, size_t len)
{
    for (int i = 0; i < 100000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "r%d", i);
        snprintf(channel, len, "chat:room:{%s}", id);
        unsigned s = chat_redis_cluster_key_slot(channel, strlen(channel));
        if (s >= lo && s <= hi) {
            return;
        }
    }
    fail();
}

static void test_owner_and_moves(void **state)
{
    chat_redis_cluster_map_t *before = map_of(BEFORE);
    chat_redis_cluster_map_t *after = map_of(AFTER);
    char in_a[64], in_b[64], in_c[64];
    char o1[GW_CLUSTER_ADDR_LEN], o2[GW_CLUSTER_ADDR_LEN];

    (void)state;
    room_in(0, 5460, in_a, sizeof(in_a));
    room_in(5461, 10922, in_b, sizeof(in_b));
    room_in(10923, 16383, in_c, sizeof(in_c));

    assert_true(gw_cluster_owner(before, "h", in_a, strlen(in_a), o1, sizeof(o1)));
    assert_string_equal(o1, "127.0.0.1:7000");
    assert_true(gw_cluster_owner(before, "h", in_b, strlen(in_b), o1, sizeof(o1)));
    assert_string_equal(o1, "127.0.0.1:7001");
    /* the failover moves exactly the channels of the failed master */
    assert_true(gw_cluster_owner(after, "h", in_b, strlen(in_b), o2, sizeof(o2)));
    assert_string_equal(o2, "127.0.0.1:7004");
    assert_true(gw_cluster_must_move(o1, o2));
    assert_true(gw_cluster_owner(before, "h", in_a, strlen(in_a), o1, sizeof(o1)));
    assert_true(gw_cluster_owner(after, "h", in_a, strlen(in_a), o2, sizeof(o2)));
    assert_false(gw_cluster_must_move(o1, o2));
    assert_true(gw_cluster_owner(before, "h", in_c, strlen(in_c), o1, sizeof(o1)));
    assert_true(gw_cluster_owner(after, "h", in_c, strlen(in_c), o2, sizeof(o2)));
    assert_false(gw_cluster_must_move(o1, o2));
    /* not subscribed anywhere: nothing to move (only to subscribe) */
    assert_false(gw_cluster_must_move("", o2));
    /* nobody serves the slot any more: leave the old owner */
    assert_true(gw_cluster_must_move(o1, ""));
    assert_false(gw_cluster_owner(NULL, "h", in_a, strlen(in_a), o1, sizeof(o1)));
    assert_string_equal(o1, "");

    /* a changed assignment changes the fingerprint; the same one does not */
    chat_redis_cluster_map_t *again = map_of(BEFORE);
    assert_int_equal(gw_cluster_map_fingerprint(before, "h"),
                     gw_cluster_map_fingerprint(again, "h"));
    assert_int_not_equal(gw_cluster_map_fingerprint(before, "h"),
                         gw_cluster_map_fingerprint(after, "h"));
    chat_redis_cluster_map_destroy(again);
    chat_redis_cluster_map_destroy(before);
    chat_redis_cluster_map_destroy(after);
}

static void test_masters_and_candidates(void **state)
{
    chat_redis_cluster_map_t *after = map_of(AFTER);
    char addrs[8][GW_CLUSTER_ADDR_LEN];
    size_t n = 0;
    redisReply *r;

    (void)state;
    assert_int_equal(gw_cluster_map_masters(after, "h", addrs, 8), 3);
    assert_string_equal(addrs[0], "127.0.0.1:7000");
    assert_string_equal(addrs[1], "127.0.0.1:7004");
    assert_string_equal(addrs[2], "127.0.0.1:7002");
    assert_int_equal(gw_cluster_map_masters(after, "h", addrs, 2), 2); /* bounded */
    chat_redis_cluster_map_destroy(after);

    /* candidates: masters and replicas, no duplicates, bounded */
    r = resp(BEFORE);
    snprintf(addrs[0], GW_CLUSTER_ADDR_LEN, "127.0.0.1:7001"); /* the seed, known */
    n = 1;
    assert_int_equal(gw_cluster_collect_addrs(r, "h", addrs, 8, &n), 5);
    assert_int_equal(n, 6);
    assert_string_equal(addrs[1], "127.0.0.1:7000");
    assert_string_equal(addrs[2], "127.0.0.1:7003");
    n = 0;
    assert_int_equal(gw_cluster_collect_addrs(r, "h", addrs, 2, &n), 2);
    freeReplyObject(r);
    /* an empty host (the node does not know its address) is the seed's host */
    r = resp("*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$0\r\n\r\n:7000\r\n");
    n = 0;
    assert_int_equal(gw_cluster_collect_addrs(r, "seed.local", addrs, 8, &n), 1);
    assert_string_equal(addrs[0], "seed.local:7000");
    freeReplyObject(r);
}

static void test_heartbeat_channel(void **state)
{
    chat_redis_cluster_map_t *before = map_of(BEFORE);
    chat_redis_cluster_map_t *after = map_of(AFTER);
    const char *nodes[] = {"127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"};
    char hb[128], owner[GW_CLUSTER_ADDR_LEN];

    (void)state;
    /* each master gets a channel of its own slots, so its own connections carry it */
    for (int i = 0; i < 3; i++) {
        assert_true(gw_cluster_hb_channel(before, "h", "gw0", nodes[i], hb, sizeof(hb)));
        assert_non_null(strstr(hb, "chat:gw:gw0:{hb"));
        assert_true(gw_cluster_owner(before, "h", hb, strlen(hb), owner, sizeof(owner)));
        assert_string_equal(owner, nodes[i]);
    }
    /* the failed master serves nothing in the new map; the promoted replica does */
    assert_false(gw_cluster_hb_channel(after, "h", "gw0", nodes[1], hb, sizeof(hb)));
    assert_string_equal(hb, "");
    assert_true(gw_cluster_hb_channel(after, "h", "gw0", "127.0.0.1:7004", hb, sizeof(hb)));
    chat_redis_cluster_map_destroy(before);
    chat_redis_cluster_map_destroy(after);
}

static void test_split_addr(void **state)
{
    char host[64];
    int port = 0;

    (void)state;
    assert_true(gw_cluster_split_addr("127.0.0.1:7000", host, sizeof(host), &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 7000);
    assert_true(gw_cluster_split_addr("::1:7001", host, sizeof(host), &port));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7001);
    assert_false(gw_cluster_split_addr("nohost", host, sizeof(host), &port));
    assert_false(gw_cluster_split_addr(":7000", host, sizeof(host), &port));
    assert_false(gw_cluster_split_addr("h:0", host, sizeof(host), &port));
    assert_false(gw_cluster_split_addr("h:70000", host, sizeof(host), &port));
    assert_false(gw_cluster_split_addr("h:12x", host, sizeof(host), &port));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_pushes),
        cmocka_unit_test(test_classify_errors),
        cmocka_unit_test(test_command_key),
        cmocka_unit_test(test_owner_and_moves),
        cmocka_unit_test(test_masters_and_candidates),
        cmocka_unit_test(test_split_addr),
        cmocka_unit_test(test_heartbeat_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
