/*
 * test_redis_cluster.c - Redis Cluster groundwork: CRC16 and key slots (expected values
 * are what a real redis-server 7.0 answered to CLUSTER KEYSLOT, hash-tag corner cases
 * included), MOVED/ASK parsing (good and malformed), and the slot map built from
 * CLUSTER SLOTS replies that hiredis's own reader parses from raw RESP as Redis 7 sends
 * it (node ids, replicas, the metadata element). No server needed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include <hiredis/hiredis.h>

#include "chat/redis_cluster.h"

#define SLOT(s) chat_redis_cluster_key_slot((s), sizeof(s) - 1)

/* A new reply parsed from RESP by hiredis's reader (freeReplyObject it). */
static redisReply *reply_from_resp(const char *resp)
{
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;

    assert_non_null(reader);
    assert_int_equal(redisReaderFeed(reader, resp, strlen(resp)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(reader);
    return reply;
}

static void test_crc16(void **state)
{
    (void)state;
    /* the XModem check value, also the one in Redis's own crc16.c test */
    assert_int_equal(chat_redis_cluster_crc16("123456789", 9), 0x31c3);
    assert_int_equal(chat_redis_cluster_crc16("", 0), 0);
}

static void test_key_slots_match_redis(void **state)
{
    (void)state;
    assert_int_equal(SLOT("foo"), 12182);
    assert_int_equal(SLOT("bar"), 5061);
    assert_int_equal(SLOT("hello"), 866);
    assert_int_equal(SLOT("123456789"), 12739);
    assert_int_equal(SLOT(""), 0);
    assert_int_equal(SLOT("chat:room:65a1b2c3d4e5f60718293a4b"), 1831);
}

static void test_hash_tags(void **state)
{
    (void)state;
    /* only the tag is hashed */
    assert_int_equal(SLOT("{user1000}.following"), 3443);
    assert_int_equal(SLOT("{user1000}.following"), SLOT("user1000"));
    assert_int_equal(SLOT("{chat:room:65a1b2c3d4e5f60718293a4b}:seq"), 1831);
    /* the first '{' and the first '}' after it */
    assert_int_equal(SLOT("foo{bar}{zap}"), 5061);
    assert_int_equal(SLOT("foo{{bar}}zap"), 4015);
    assert_int_equal(SLOT("foo{{bar}}zap"), SLOT("{bar"));
    assert_int_equal(SLOT("}{a}"), 15495);
    assert_int_equal(SLOT("a}b{c}"), 7365);
    assert_int_equal(SLOT("a}b{c}"), SLOT("c"));
    /* an empty tag, or a '{' with no '}', means the whole key */
    assert_int_equal(SLOT("foo{}{bar}"), 8363);
    assert_int_equal(SLOT("{}"), 15257);
    assert_int_equal(SLOT("{"), 4092);
    /* keys are binary: a NUL byte is just a byte */
    assert_int_equal(chat_redis_cluster_key_slot("a\0{b}", 5), 3300);
    assert_int_equal(chat_redis_cluster_key_slot("a\0{b}", 5), SLOT("b"));
    assert_int_equal(chat_redis_cluster_key_slot("a\0b", 3), 8383);
}

static void test_parse_redirects(void **state)
{
    chat_redis_redirect_t r;

    (void)state;
    assert_int_equal(chat_redis_cluster_parse_redirect("MOVED 3999 127.0.0.1:6381", 25, &r),
                     CHAT_OK);
    assert_int_equal(r.kind, CHAT_REDIS_REDIRECT_MOVED);
    assert_int_equal(r.slot, 3999);
    assert_string_equal(r.host, "127.0.0.1");
    assert_int_equal(r.port, 6381);

    const char *ask = "-ASK 16383 redis-2.internal:7000\r\n"; /* as on the wire */
    assert_int_equal(chat_redis_cluster_parse_redirect(ask, strlen(ask), &r), CHAT_OK);
    assert_int_equal(r.kind, CHAT_REDIS_REDIRECT_ASK);
    assert_int_equal(r.slot, 16383);
    assert_string_equal(r.host, "redis-2.internal");
    assert_int_equal(r.port, 7000);

    const char *v6 = "MOVED 0 ::1:30001";
    assert_int_equal(chat_redis_cluster_parse_redirect(v6, strlen(v6), &r), CHAT_OK);
    assert_int_equal(r.slot, 0);
    assert_string_equal(r.host, "::1");
    assert_int_equal(r.port, 30001);

    /* unknown endpoint: ":port" means the host we asked */
    const char *nohost = "MOVED 12 :6380";
    assert_int_equal(chat_redis_cluster_parse_redirect(nohost, strlen(nohost), &r), CHAT_OK);
    assert_string_equal(r.host, "");
    assert_int_equal(r.port, 6380);

    /* only len bytes count */
    assert_int_equal(chat_redis_cluster_parse_redirect("MOVED 5 h:1234junk", 14, &r), CHAT_OK);
    assert_int_equal(r.port, 1234);
}

static void test_parse_redirect_refusals(void **state)
{
    static const char *not_redirects[] = {"ERR unknown command 'FOO'",
                                          "MOVEDX 1 h:1",
                                          "MOVED",
                                          "ASK",
                                          "CLUSTERDOWN Hash slot not served",
                                          "TRYAGAIN Multiple keys request during rehashing",
                                          ""};
    static const char *malformed[] = {
        "MOVED 16384 h:1", "MOVED -1 h:1",     "MOVED x h:1",   "MOVED 12 h",
        "MOVED 12 h:0",    "MOVED 12 h:65536", "MOVED 12 h:",   "MOVED 12 h:1 extra",
        "MOVED  12 h:1",   "ASK 12",           "MOVED 12 h:1x", "MOVED 99999999999 h:1"};
    chat_redis_redirect_t r;
    char longhost[400];

    (void)state;
    for (size_t i = 0; i < sizeof(not_redirects) / sizeof(*not_redirects); i++) {
        memset(&r, 0x5a, sizeof(r));
        assert_int_equal(
            chat_redis_cluster_parse_redirect(not_redirects[i], strlen(not_redirects[i]), &r),
            CHAT_ERR_NOT_FOUND);
        assert_int_equal(r.port, 0x5a5a5a5a); /* untouched */
    }
    for (size_t i = 0; i < sizeof(malformed) / sizeof(*malformed); i++) {
        memset(&r, 0x5a, sizeof(r));
        if (chat_redis_cluster_parse_redirect(malformed[i], strlen(malformed[i]), &r) !=
            CHAT_ERR_INVALID) {
            fail_msg("accepted \"%s\"", malformed[i]);
        }
        assert_int_equal(r.port, 0x5a5a5a5a);
    }
    /* a host of 255 bytes fits, 256 does not */
    memcpy(longhost, "MOVED 1 ", 8);
    memset(longhost + 8, 'h', 255);
    memcpy(longhost + 8 + 255, ":1", 3);
    assert_int_equal(chat_redis_cluster_parse_redirect(longhost, strlen(longhost), &r), CHAT_OK);
    assert_int_equal(strlen(r.host), 255);
    memset(longhost + 8, 'h', 256);
    memcpy(longhost + 8 + 256, ":1", 3);
    assert_int_equal(chat_redis_cluster_parse_redirect(longhost, strlen(longhost), &r),
                     CHAT_ERR_INVALID);
    assert_int_equal(chat_redis_cluster_parse_redirect(NULL, 0, &r), CHAT_ERR_INVALID);
}

/* CLUSTER SLOTS of a 3-master, 3-replica Redis 7 cluster, as it comes off the wire:
 * [start, end, master [ip, port, id, metadata], replica [...]] per range. */
#define ID_A "07c37dfeb235213a872192d90877d0cd55635b91"
#define ID_B "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1"
#define ID_C "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f"
#define ID_R "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"
#define NODE(ip, port, id) "*4\r\n$" ip "\r\n:" port "\r\n$40\r\n" id "\r\n*0\r\n"
static const char THREE_MASTERS[] =
    "*3\r\n"
    "*4\r\n:0\r\n:5460\r\n" NODE("9\r\n127.0.0.1", "30001", ID_A)
        NODE("9\r\n127.0.0.1", "30004", ID_R) "*4\r\n:5461\r\n:10922\r\n" NODE("9\r\n127.0.0.1",
                                                                               "30002", ID_B)
            NODE("9\r\n127.0.0.1", "30005", ID_R) "*4\r\n:10923\r\n:16383\r\n" NODE(
                "9\r\n127.0.0.1", "30003", ID_C) NODE("9\r\n127.0.0.1", "30006", ID_R);

static void test_slot_map(void **state)
{
    redisReply *reply = reply_from_resp(THREE_MASTERS);
    chat_redis_cluster_map_t *map = NULL;
    const chat_redis_cluster_node_t *n = NULL;

    (void)state;
    assert_int_equal(chat_redis_cluster_map_create(reply, &map), CHAT_OK);
    freeReplyObject(reply);                                      /* the map keeps copies */
    assert_int_equal(chat_redis_cluster_map_node_count(map), 3); /* replicas skipped */
    assert_true(chat_redis_cluster_map_covers_all(map));

    n = chat_redis_cluster_map_lookup_slot(map, 0);
    assert_string_equal(n->host, "127.0.0.1");
    assert_int_equal(n->port, 30001);
    assert_string_equal(n->id, ID_A);
    assert_int_equal(chat_redis_cluster_map_lookup_slot(map, 5460)->port, 30001);
    assert_int_equal(chat_redis_cluster_map_lookup_slot(map, 5461)->port, 30002);
    assert_int_equal(chat_redis_cluster_map_lookup_slot(map, 10922)->port, 30002);
    assert_int_equal(chat_redis_cluster_map_lookup_slot(map, 10923)->port, 30003);
    assert_int_equal(chat_redis_cluster_map_lookup_slot(map, 16383)->port, 30003);
    assert_string_equal(chat_redis_cluster_map_lookup_slot(map, 16383)->id, ID_C);
    assert_null(chat_redis_cluster_map_lookup_slot(map, 16384));

    /* by key: foo is slot 12182, bar 5061, {user1000}.x 3443 */
    assert_int_equal(chat_redis_cluster_map_lookup_key(map, "foo", 3)->port, 30003);
    assert_int_equal(chat_redis_cluster_map_lookup_key(map, "bar", 3)->port, 30001);
    assert_int_equal(chat_redis_cluster_map_lookup_key(map, "{bar}:zap", 9)->port, 30001);
    assert_null(chat_redis_cluster_map_lookup_key(map, NULL, 0));
    chat_redis_cluster_map_destroy(map);
}

static void test_slot_map_moved(void **state)
{
    redisReply *reply = reply_from_resp(THREE_MASTERS);
    chat_redis_cluster_map_t *map = NULL;
    chat_redis_redirect_t r;

    (void)state;
    assert_int_equal(chat_redis_cluster_map_create(reply, &map), CHAT_OK);
    freeReplyObject(reply);

    /* slot 12182 (foo) moved to a new master; its neighbours stay */
    assert_int_equal(chat_redis_cluster_parse_redirect("MOVED 12182 10.0.0.9:30007", 26, &r),
                     CHAT_OK);
    assert_int_equal(chat_redis_cluster_map_apply_moved(map, &r), CHAT_OK);
    assert_string_equal(chat_redis_cluster_map_lookup_key(map, "foo", 3)->host, "10.0.0.9");
    assert_int_equal(chat_redis_cluster_map_lookup_key(map, "foo", 3)->port, 30007);
    assert_int_equal(chat_redis_cluster_map_lookup_slot(map, 12181)->port, 30003);
    assert_int_equal(chat_redis_cluster_map_lookup_slot(map, 12183)->port, 30003);
    assert_int_equal(chat_redis_cluster_map_node_count(map), 4);

    /* a MOVED to a known master reuses its entry (a failover's replica promotion) */
    assert_int_equal(chat_redis_cluster_parse_redirect("MOVED 0 127.0.0.1:30002", 23, &r), CHAT_OK);
    assert_int_equal(chat_redis_cluster_map_apply_moved(map, &r), CHAT_OK);
    assert_int_equal(chat_redis_cluster_map_lookup_slot(map, 0)->port, 30002);
    assert_int_equal(chat_redis_cluster_map_node_count(map), 4);

    /* ASK is one-off: the map does not change */
    assert_int_equal(chat_redis_cluster_parse_redirect("ASK 1 127.0.0.1:30003", 21, &r), CHAT_OK);
    assert_int_equal(chat_redis_cluster_map_apply_moved(map, &r), CHAT_ERR_INVALID);
    assert_int_equal(chat_redis_cluster_map_lookup_slot(map, 1)->port, 30001);
    assert_int_equal(chat_redis_cluster_map_apply_moved(NULL, &r), CHAT_ERR_INVALID);
    chat_redis_cluster_map_destroy(map);
    chat_redis_cluster_map_destroy(NULL);
}

static void test_slot_map_partial_and_nil_host(void **state)
{
    /* one range only, the master's endpoint unknown (NIL), no node id */
    redisReply *reply = reply_from_resp("*1\r\n*3\r\n:100\r\n:200\r\n*2\r\n$-1\r\n:7000\r\n");
    chat_redis_cluster_map_t *map = NULL;

    (void)state;
    assert_int_equal(chat_redis_cluster_map_create(reply, &map), CHAT_OK);
    freeReplyObject(reply);
    assert_false(chat_redis_cluster_map_covers_all(map));
    assert_null(chat_redis_cluster_map_lookup_slot(map, 99));
    assert_null(chat_redis_cluster_map_lookup_slot(map, 201));
    assert_string_equal(chat_redis_cluster_map_lookup_slot(map, 150)->host, "");
    assert_string_equal(chat_redis_cluster_map_lookup_slot(map, 150)->id, "");
    assert_int_equal(chat_redis_cluster_map_lookup_slot(map, 200)->port, 7000);
    chat_redis_cluster_map_destroy(map);

    /* an empty reply (a cluster with no slots assigned yet) is a valid, empty map */
    reply = reply_from_resp("*0\r\n");
    assert_int_equal(chat_redis_cluster_map_create(reply, &map), CHAT_OK);
    freeReplyObject(reply);
    assert_int_equal(chat_redis_cluster_map_node_count(map), 0);
    assert_false(chat_redis_cluster_map_covers_all(map));
    chat_redis_cluster_map_destroy(map);
}

static void test_slot_map_refusals(void **state)
{
    static const char *bad[] = {
        "-ERR This instance has cluster support disabled\r\n", /* an error, not an array */
        "+OK\r\n",
        "*1\r\n:5\r\n",                                            /* range not an array */
        "*1\r\n*2\r\n:0\r\n:10\r\n",                               /* no master */
        "*1\r\n*3\r\n:10\r\n:0\r\n*2\r\n$1\r\nh\r\n:1\r\n",        /* start > end */
        "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:1\r\n",     /* past the last slot */
        "*1\r\n*3\r\n:-1\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n",        /* negative */
        "*1\r\n*3\r\n$1\r\n0\r\n:5\r\n*2\r\n$1\r\nh\r\n:1\r\n",    /* start as a string */
        "*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$1\r\nh\r\n:0\r\n",         /* port 0 */
        "*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$1\r\nh\r\n$4\r\n6379\r\n", /* port as a string */
        "*1\r\n*3\r\n:0\r\n:5\r\n*1\r\n$1\r\nh\r\n",               /* no port */
        "*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$3\r\nh\0x\r\n:1\r\n",      /* NUL in the host */
        /* two masters claim slot 5 */
        "*2\r\n*3\r\n:0\r\n:5\r\n*2\r\n$1\r\na\r\n:1\r\n*3\r\n:5\r\n:9\r\n*2\r\n$1\r\nb\r\n:1\r\n",
    };
    chat_redis_cluster_map_t *map = (chat_redis_cluster_map_t *)&map; /* must be reset */

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        redisReply *reply = NULL;
        redisReader *reader = redisReaderCreate();
        size_t len = strlen(bad[i]);

        if (i == 11) {
            len = strlen("*1\r\n*3\r\n:0\r\n:5\r\n*2\r\n$3\r\nh") + 1 + strlen("x\r\n:1\r\n");
        }
        assert_int_equal(redisReaderFeed(reader, bad[i], len), REDIS_OK);
        assert_int_equal(redisReaderGetReply(reader, (void **)&reply), REDIS_OK);
        assert_non_null(reply);
        redisReaderFree(reader);
        map = (chat_redis_cluster_map_t *)&map;
        if (chat_redis_cluster_map_create(reply, &map) != CHAT_ERR_INVALID) {
            fail_msg("accepted bad reply %zu", i);
        }
        assert_null(map);
        freeReplyObject(reply);
    }
    assert_int_equal(chat_redis_cluster_map_create(NULL, &map), CHAT_ERR_INVALID);
    assert_int_equal(chat_redis_cluster_map_node_count(NULL), 0);
    assert_false(chat_redis_cluster_map_covers_all(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16),
        cmocka_unit_test(test_key_slots_match_redis),
        cmocka_unit_test(test_hash_tags),
        cmocka_unit_test(test_parse_redirects),
        cmocka_unit_test(test_parse_redirect_refusals),
        cmocka_unit_test(test_slot_map),
        cmocka_unit_test(test_slot_map_moved),
        cmocka_unit_test(test_slot_map_partial_and_nil_host),
        cmocka_unit_test(test_slot_map_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
