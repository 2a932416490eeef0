/*
 * test_redis_sync_cluster.c - the pure decisions of the blocking client's cluster mode,
 * no server needed: which argument routes a command (ordinary, EVAL/EVALSHA numkeys,
 * keyless), the RESP re-parse of a printf-style command (round trip through hiredis's
 * own redisFormatCommand, binary arguments included), which error replies are transient,
 * the cluster run id (XOR of the masters' run ids), routing by slot, and what an error
 * reply does to the client (MOVED updates the map, ASK names a one-off node, TRYAGAIN
 * backs off, anything else is the caller's answer). Includes redis_sync_cluster.c to
 * reach its static functions (STYLE.md); single thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "../../common/src/redis_sync_cluster.c"

static int key_index(const char *const *argv, int argc)
{
    return chat_redis_cluster_key_index(argc, (const char **)argv, NULL);
}

static void test_key_index(void **state)
{
    (void)state;
    assert_int_equal(key_index((const char *[]){"GET", "k"}, 2), 1);
    assert_int_equal(key_index((const char *[]){"hgetall", "k"}, 2), 1);
    assert_int_equal(key_index((const char *[]){"SET", "k", "v", "NX"}, 4), 1);
    assert_int_equal(key_index((const char *[]){"SPUBLISH", "chat:room:{x}", "p"}, 3), 1);
    assert_int_equal(key_index((const char *[]){"EVALSHA", "abc", "2", "k1", "k2", "a"}, 6), 3);
    assert_int_equal(key_index((const char *[]){"eval", "return 1", "1", "k"}, 4), 3);
    assert_int_equal(key_index((const char *[]){"EVALSHA", "abc", "0", "a"}, 4),
                     CHAT_REDIS_CLUSTER_KEYLESS);
    assert_int_equal(key_index((const char *[]){"EVALSHA", "abc", "x"}, 3),
                     CHAT_REDIS_CLUSTER_BADCMD);
    assert_int_equal(key_index((const char *[]){"EVALSHA", "abc", "3", "k"}, 4),
                     CHAT_REDIS_CLUSTER_BADCMD); /* more keys than arguments */
    assert_int_equal(key_index((const char *[]){"EVALSHA", "abc"}, 2), CHAT_REDIS_CLUSTER_BADCMD);
    assert_int_equal(key_index((const char *[]){"PING"}, 1), CHAT_REDIS_CLUSTER_KEYLESS);
    assert_int_equal(key_index((const char *[]){"SCRIPT", "LOAD", "x"}, 3),
                     CHAT_REDIS_CLUSTER_KEYLESS);
    assert_int_equal(key_index((const char *[]){"info", "server"}, 2), CHAT_REDIS_CLUSTER_KEYLESS);
    assert_int_equal(key_index((const char *[]){"CLIENT", "ID"}, 2), CHAT_REDIS_CLUSTER_KEYLESS);
    assert_int_equal(key_index((const char *[]){"FLUSHDB"}, 1), CHAT_REDIS_CLUSTER_KEYLESS);
    assert_int_equal(chat_redis_cluster_key_index(0, NULL, NULL), CHAT_REDIS_CLUSTER_BADCMD);
    /* lengths are honoured: "GETX" cut to "GET" is still keyed; "PINGX" cut to "PING" keyless */
    assert_int_equal(
        chat_redis_cluster_key_index(2, (const char *[]){"PINGX", "k"}, (const size_t[]){4, 1}),
        CHAT_REDIS_CLUSTER_KEYLESS);
}

static void test_parse_command_round_trip(void **state)
{
    char *cmd = NULL;
    const char **argv = NULL;
    size_t *lens = NULL;
    int argc = 0;
    int n = redisFormatCommand(&cmd, "SET %s %b EX %d", "chat:{r}:k", "a\0b\r\n", (size_t)5, 60);

    (void)state;
    assert_true(n > 0);
    assert_int_equal(chat_redis_cluster_parse_command(cmd, (size_t)n, &argc, &argv, &lens),
                     CHAT_OK);
    assert_int_equal(argc, 5);
    assert_int_equal(lens[0], 3);
    assert_memory_equal(argv[0], "SET", 3);
    assert_int_equal(lens[1], 10);
    assert_memory_equal(argv[1], "chat:{r}:k", 10);
    assert_int_equal(lens[2], 5);
    assert_memory_equal(argv[2], "a\0b\r\n", 5);
    assert_memory_equal(argv[4], "60", 2);
    assert_int_equal(chat_redis_cluster_key_index(argc, argv, lens), 1);
    free(argv);
    free(lens);
    free(cmd);
}

static void test_parse_command_refusals(void **state)
{
    static const char *bad[] = {
        "",
        "+OK\r\n",
        "*0\r\n",
        "*1\r\n",
        "*1\r\n$3\r\nGET\r\n$1\r\nx\r\n", /* trailing */
        "*2\r\n$3\r\nGET\r\n",
        "*1\r\n$4\r\nGET\r\n",
        "*1\r\n$3\r\nGETX\r\n",
        "*1\r\n:3\r\n",
        "*x\r\n$3\r\nGET\r\n",
        "*1\n$3\r\nGET\r\n",
        "*1\r\n$-1\r\n",
    };
    const char **argv = (const char **)&argv;
    size_t *lens = (size_t *)&lens;
    int argc = -7;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_int_equal(
            chat_redis_cluster_parse_command(bad[i], strlen(bad[i]), &argc, &argv, &lens),
            CHAT_ERR_INVALID);
        assert_int_equal(argc, -7); /* untouched */
    }
}

static void test_transient_errors(void **state)
{
    (void)state;
    assert_true(chat_redis_cluster_transient_error("TRYAGAIN Multiple keys request", 30));
    assert_true(chat_redis_cluster_transient_error("CLUSTERDOWN The cluster is down", 31));
    assert_true(chat_redis_cluster_transient_error("MASTERDOWN Link down", 20));
    assert_true(chat_redis_cluster_transient_error("LOADING", 7));
    assert_false(chat_redis_cluster_transient_error("TRYAGAINX", 9));
    assert_false(chat_redis_cluster_transient_error("ERR unknown command", 19));
    assert_false(chat_redis_cluster_transient_error("MOVED 1 h:1", 11));
    assert_false(chat_redis_cluster_transient_error(NULL, 0));
}

/* fix_run on a 5-argument EVALSHA with one key: run ids are looked for from index 4. */
static bool redis_sync__fix_run_probe(redis_sync_cluster_t *c, const char **argv, size_t *lens)
{
    return redis_sync_cluster__fix_run(c, 5, argv, lens, 4);
}

static void test_run_id_xor(void **state)
{
    char acc[41];
    const char *a = "0123456789abcdef0123456789abcdef01234567";
    const char *b = "ffffffffffffffffffffffffffffffffffffffff";

    (void)state;
    memset(acc, '0', 40);
    acc[40] = '\0';
    assert_true(cluster__xor_run(acc, a));
    assert_string_equal(acc, a);
    assert_true(cluster__xor_run(acc, b));
    assert_string_equal(acc, "fedcba9876543210fedcba9876543210fedcba98");
    assert_true(cluster__xor_run(acc, b));
    assert_string_equal(acc, a); /* order-free, and any one node changing changes it */
    assert_false(cluster__xor_run(acc, "short"));
    assert_false(cluster__xor_run(acc, "0123456789abcdef0123456789abcdef0123456z"));
}

static void test_fix_run(void **state)
{
    const char *a_id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const char *b_id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    redis_sync__auth_t auth = {NULL, NULL, 0, 100};
    redis_sync_cluster_t *c = redis_sync_cluster__create("127.0.0.1", 1, &auth);
    const char *argv[5];
    size_t lens[5];

    (void)state;
    cluster__set_run(c, a_id);
    argv[0] = "EVALSHA";
    argv[1] = "sha";
    argv[2] = "1";
    argv[3] = a_id;
    argv[4] = a_id;
    for (int i = 0; i < 5; i++) {
        lens[i] = strlen(argv[i]);
    }
    /* the current id: nothing to do */
    assert_true(redis_sync__fix_run_probe(c, argv, lens));
    assert_ptr_equal(argv[4], a_id);
    /* a failover: the id the caller built with is swapped, keys (before run_from) never */
    cluster__set_run(c, b_id);
    assert_true(redis_sync__fix_run_probe(c, argv, lens));
    assert_ptr_equal(argv[3], a_id);
    assert_string_equal(argv[4], b_id);
    assert_int_equal(lens[4], 40);
    /* a master unreachable: an argument naming a run id cannot be judged, send nothing */
    argv[4] = b_id;
    cluster__set_run(c, "");
    assert_false(redis_sync__fix_run_probe(c, argv, lens));
    argv[4] = "12";
    lens[4] = 2;
    assert_true(redis_sync__fix_run_probe(c, argv, lens)); /* no run id in it: fine */
    redis_sync_cluster__destroy(c);
}

/* A client with a two-master map (slots 0..8191 on 10.0.0.1:7000, the rest on :7001),
 * never connected. */
static redis_sync_cluster_t *client_with_map(void)
{
    static const char resp[] = "*2\r\n"
                               "*3\r\n:0\r\n:8191\r\n*2\r\n$8\r\n10.0.0.1\r\n:7000\r\n"
                               "*3\r\n:8192\r\n:16383\r\n*2\r\n$8\r\n10.0.0.1\r\n:7001\r\n";
    redis_sync__auth_t auth = {NULL, NULL, 0, 100};
    redis_sync_cluster_t *c = redis_sync_cluster__create("10.0.0.9", 7009, &auth);
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;

    assert_non_null(c);
    assert_int_equal(redisReaderFeed(reader, resp, sizeof(resp) - 1), REDIS_OK);
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    redisReaderFree(reader);
    assert_int_equal(chat_redis_cluster_map_create(reply, &c->map), CHAT_OK);
    freeReplyObject(reply);
    return c;
}

static void test_route(void **state)
{
    redis_sync_cluster_t *c = client_with_map();
    int lo = 0;
    int hi = 0;

    (void)state;
    lo = redis_sync_cluster__route(c, 5);
    hi = redis_sync_cluster__route(c, 9000);
    assert_true(lo >= 0 && hi >= 0 && lo != hi);
    assert_int_equal(c->nodes[lo].port, 7000);
    assert_int_equal(c->nodes[hi].port, 7001);
    assert_string_equal(c->nodes[hi].host, "10.0.0.1");
    assert_int_equal(redis_sync_cluster__route(c, 8191), lo); /* same node, same entry */
    assert_int_equal(c->n_nodes, 2);
    /* keyless: a master of the map (none is connected) */
    assert_int_equal(c->nodes[redis_sync_cluster__route(c, -1)].port, 7000);
    redis_sync_cluster__destroy(c);
}

static redisReply *error_reply(const char *text)
{
    redisReply *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->type = REDIS_REPLY_ERROR;
    r->str = strdup(text);
    r->len = strlen(text);
    return r;
}

static void test_on_error(void **state)
{
    redis_sync_cluster_t *c = client_with_map();
    int node = redis_sync_cluster__route(c, 5);
    int ask = -1;
    bool backoff = false;
    redisReply *r = NULL;

    (void)state;
    /* MOVED: the slot's new owner is in the map at once, a reload is due */
    r = error_reply("MOVED 5 10.0.0.2:7002");
    assert_int_equal(cluster__on_error(c, node, r, &ask, &backoff), 1);
    freeReplyObject(r);
    assert_true(c->stale);
    assert_int_equal(ask, -1);
    assert_int_equal(c->nodes[redis_sync_cluster__route(c, 5)].port, 7002);
    assert_int_equal(c->nodes[redis_sync_cluster__route(c, 6)].port, 7000);
    /* MOVED with an empty host: the host of the node that answered */
    r = error_reply("MOVED 6 :7003");
    assert_int_equal(cluster__on_error(c, node, r, &ask, &backoff), 1);
    freeReplyObject(r);
    assert_string_equal(c->nodes[redis_sync_cluster__route(c, 6)].host, "10.0.0.1");
    assert_int_equal(c->nodes[redis_sync_cluster__route(c, 6)].port, 7003);
    /* ASK: a one-off node, the map unchanged */
    c->stale = false;
    r = error_reply("ASK 7 10.0.0.4:7004");
    assert_int_equal(cluster__on_error(c, node, r, &ask, &backoff), 1);
    freeReplyObject(r);
    assert_true(ask >= 0);
    assert_int_equal(c->nodes[ask].port, 7004);
    assert_false(c->stale);
    assert_int_equal(c->nodes[redis_sync_cluster__route(c, 7)].port, 7000);
    /* TRYAGAIN / CLUSTERDOWN: back off, reload */
    r = error_reply("CLUSTERDOWN The cluster is down");
    assert_int_equal(cluster__on_error(c, node, r, &ask, &backoff), 1);
    freeReplyObject(r);
    assert_true(backoff && c->stale);
    /* anything else is the answer */
    r = error_reply("WRONGTYPE Operation against a key holding the wrong kind of value");
    assert_int_equal(cluster__on_error(c, node, r, &ask, &backoff), 0);
    freeReplyObject(r);
    r = error_reply("CROSSSLOT Keys in request don't hash to the same slot");
    assert_int_equal(cluster__on_error(c, node, r, &ask, &backoff), 0);
    freeReplyObject(r);
    redis_sync_cluster__destroy(c);
}

static void test_down_cluster(void **state)
{
    /* nothing listens on port 1: calls fail fast (within the timeout), never hang */
    redis_sync__auth_t auth = {NULL, NULL, 0, 200};
    redis_sync_cluster_t *c = redis_sync_cluster__create("127.0.0.1", 1, &auth);
    int64_t t0 = chat_clock_monotonic_ms();

    (void)state;
    assert_null(redis_sync_cluster__command(c, 2, (const char *[]){"GET", "k"}, NULL, -1));
    assert_null(redis_sync_cluster__run_id(c));
    assert_int_equal(redis_sync_cluster__ping(c), CHAT_ERR_UNAVAILABLE);
    assert_int_equal(redis_sync_cluster__append(c, 2, (const char *[]){"GET", "k"}, NULL, -1),
                     CHAT_ERR_UNAVAILABLE);
    assert_null(redis_sync_cluster__next_reply(c));
    assert_true(chat_clock_monotonic_ms() - t0 < 2000);
    redis_sync_cluster__destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_index),
        cmocka_unit_test(test_parse_command_round_trip),
        cmocka_unit_test(test_parse_command_refusals),
        cmocka_unit_test(test_transient_errors),
        cmocka_unit_test(test_run_id_xor),
        cmocka_unit_test(test_fix_run),
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_on_error),
        cmocka_unit_test(test_down_cluster),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
