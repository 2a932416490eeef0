/*
 * test_gw_cluster_chans.c - where the gateway's cluster mode keeps each channel
 * (ws-gateway/pubsub_cluster_chans.c), driven without sockets: the node table, the
 * connections and the registry are stubs that record what is sent to which node and
 * which rooms are told to backfill. Checks: a wanted channel is SSUBSCRIBEd on the master
 * of its slot; its confirmation reports the room (backfill) exactly as a reconnect does;
 * a failover (node lost, new map) puts it on the promoted replica and reports it again;
 * resharding with the old owner alive SUNSUBSCRIBEs there and counts one move; a pushed
 * "sunsubscribe" asks for a new map and resubscribes; a stale confirmation from a node
 * that no longer holds the channel is answered with SUNSUBSCRIBE; unwanting follows the
 * state; unanswered commands are retried or given up; the heartbeat channel only stamps
 * the node.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ws-gateway/pubsub_cluster_chans.c"
#include "../../ws-gateway/pubsub_cluster_route.c"

/* ------------------------------------------------------------------ stubs */

struct gw_rconn {
    int node; /* index in the fake node table */
};

#define MAXN 4
#define MAXSENT 32

static gw_cnode_t nodes[MAXN];
static struct gw_rconn conns[MAXN];
static size_t n_nodes;
static char sent[MAXSENT][96]; /* "<port> VERB channel" */
static size_t n_sent;
static char ready_rooms[8][64];
static size_t n_ready;
static int refreshes;
static int delivered;

bool gw_rconn_send(gw_rconn_t *c, redisCallbackFn *fn, void *privdata, int argc, const char **argv,
                   const size_t *argvlen)
{
    (void)fn;
    (void)privdata;
    (void)argvlen;
    assert_true(argc == 2 && n_sent < MAXSENT);
    snprintf(sent[n_sent++], sizeof(sent[0]), "%d %s %s", nodes[c->node].port, argv[0], argv[1]);
    return true;
}

gw_cnode_t *gw_cluster_node_by_id(gw_pubsub_cluster_t *cl, uint32_t id)
{
    (void)cl;
    for (size_t i = 0; i < n_nodes; i++) {
        if (id != 0 && nodes[i].id == id) {
            return &nodes[i];
        }
    }
    return NULL;
}

gw_cnode_t *gw_cluster_node_for_key(gw_pubsub_cluster_t *cl, const char *key, size_t key_len)
{
    char addr[GW_CLUSTER_ADDR_LEN];

    if (!gw_cluster_owner(cl->map, "127.0.0.1", key, key_len, addr, sizeof(addr))) {
        return NULL;
    }
    for (size_t i = 0; i < n_nodes; i++) {
        if (nodes[i].id != 0 && strcmp(nodes[i].addr, addr) == 0) {
            return &nodes[i];
        }
    }
    return NULL;
}

void gw_cluster_want_refresh(gw_pubsub_cluster_t *cl, const char *why)
{
    (void)cl;
    (void)why;
    refreshes++;
}

void gw_cluster_node_sub_pong(gw_cnode_t *n)
{
    n->sub_ping_out = false;
}

/* the events table main.c would register: a room channel confirmed */
static void on_room_channel_ready(gw_t *g, const char *room_id)
{
    (void)g;
    snprintf(ready_rooms[n_ready++], sizeof(ready_rooms[0]), "%s", room_id);
}

void gw_pubsub_channels_deliver(gw_pubsub_t *ps, const char *chname, const redisReply *data)
{
    (void)ps;
    (void)chname;
    (void)data;
    delivered++;
}

/* ------------------------------------------------------------------ fixture */

#define NODE(port) "*3\r\n$9\r\n127.0.0.1\r\n:" port "\r\n$2\r\nid\r\n"
static const char BEFORE[] = "*3\r\n"
                             "*3\r\n:0\r\n:5460\r\n" NODE("7000") "*3\r\n:5461\r\n:10922\r\n" NODE(
                                 "7001") "*3\r\n:10923\r\n:16383\r\n" NODE("7002");
static const char FAILOVER[] =
    "*3\r\n"
    "*3\r\n:0\r\n:5460\r\n" NODE("7000") "*3\r\n:5461\r\n:10922\r\n" NODE(
        "7004") "*3\r\n:10923\r\n:16383\r\n" NODE("7002");

static gw_t gw;
static gw_pubsub_t ps;
static gw_pubsub_cluster_t cl;
static char chan[64]; /* a room channel in 5461..10922 (7001's) */
static char room[32];

static chat_redis_cluster_map_t *map_of(const char *text)
{
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;
    chat_redis_cluster_map_t *map = NULL;

    assert_int_equal(redisReaderFeed(reader, text, strlen(text)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    assert_int_equal(chat_redis_cluster_map_create(reply, &map), CHAT_OK);
    freeReplyObject(reply);
    redisReaderFree(reader);
    return map;
}

static void set_node(size_t i, int port, uint32_t id)
{
    memset(&nodes[i], 0, sizeof(nodes[i]));
    nodes[i].cl = &cl;
    nodes[i].id = id;
    nodes[i].port = port;
    snprintf(nodes[i].addr, sizeof(nodes[i].addr), "127.0.0.1:%d", port);
    conns[i].node = (int)i;
    nodes[i].sub = &conns[i];
    nodes[i].sub_ready = true;
}

static int setup(void **state)
{
    (void)state;
    memset(&gw, 0, sizeof(gw));
    memset(&ps, 0, sizeof(ps));
    memset(&cl, 0, sizeof(cl));
    ps.gw = &gw;
    ps.chans = chat_hmap_create(16);
    ps.cluster = &cl;
    cl.ps = &ps;
    ps.events.room_channel_ready = on_room_channel_ready;
    cl.map = map_of(BEFORE);
    n_nodes = 3;
    set_node(0, 7000, 1);
    set_node(1, 7001, 2);
    set_node(2, 7002, 3);
    n_sent = n_ready = 0;
    refreshes = delivered = 0;
    for (int i = 0;; i++) {
        snprintf(room, sizeof(room), "%024x", i);
        snprintf(chan, sizeof(chan), "chat:room:{%s}", room);
        unsigned s = chat_redis_cluster_key_slot(chan, strlen(chan));
        if (s >= 5461 && s <= 10922) {
            break;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    chat_hmap_iter_t it;
    void *v;

    (void)state;
    chat_hmap_iter_init(&it, ps.chans);
    while (chat_hmap_next(&it, NULL, &v)) {
        free(v);
    }
    chat_hmap_destroy(ps.chans);
    chat_redis_cluster_map_destroy(cl.map);
    return 0;
}

/* What pubsub_channels.c does before calling gw_pubsub_cluster_want. */
static gw_pubsub_chan_t *want(const char *channel, bool on)
{
    gw_pubsub_chan_t *ch = chat_hmap_get(ps.chans, channel);

    if (on && ch == NULL) {
        ch = calloc(1, sizeof(*ch));
        chat_hmap_put(ps.chans, channel, ch);
    }
    if (ch != NULL) {
        ch->want = on;
    }
    gw_pubsub_cluster_want(&ps, channel, on);
    return chat_hmap_get(ps.chans, channel);
}

static void push(size_t node, const char *kind, const char *channel)
{
    char text[256];
    redisReader *reader = redisReaderCreate();
    void *reply = NULL;

    snprintf(text, sizeof(text), "*3\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$1\r\n1\r\n", strlen(kind),
             kind, strlen(channel), channel);
    redisReaderFeed(reader, text, strlen(text));
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    gw_cluster_chans_on_push(&nodes[node], reply);
    freeReplyObject(reply);
    redisReaderFree(reader);
}

static void expect_sent(size_t i, const char *port_verb)
{
    char full[128];

    snprintf(full, sizeof(full), "%s %s", port_verb, chan);
    assert_true(i < n_sent);
    assert_string_equal(sent[i], full);
}

/* ------------------------------------------------------------------ tests */

static void test_subscribe_on_owner_and_report(void **state)
{
    gw_pubsub_chan_t *ch;

    (void)state;
    ch = want(chan, true);
    assert_int_equal(n_sent, 1);
    expect_sent(0, "7001 SSUBSCRIBE");
    assert_int_equal(ch->state, GW_PUBSUB_CH_SUB_SENT);
    assert_false(gw_pubsub_cluster_chan_active(&ps, chan));
    push(1, "ssubscribe", chan);
    assert_int_equal(ch->state, GW_PUBSUB_CH_ACTIVE);
    assert_true(gw_pubsub_cluster_chan_active(&ps, chan));
    assert_int_equal(n_ready, 1); /* the room backfills, as after a reconnect */
    assert_string_equal(ready_rooms[0], room);
    push(1, "smessage", chan);
    assert_int_equal(delivered, 1);
}

static void test_failover_moves_and_reports_again(void **state)
{
    gw_pubsub_chan_t *ch;

    (void)state;
    ch = want(chan, true);
    push(1, "ssubscribe", chan);
    /* 7001 dies: its subscriber connection is lost */
    assert_int_equal(gw_cluster_chans_node_lost(&cl, 2), 1);
    assert_int_equal(ch->state, GW_PUBSUB_CH_NONE);
    nodes[1].id = 0; /* freed */
    /* the promoted replica serves the slots now */
    chat_redis_cluster_map_destroy(cl.map);
    cl.map = map_of(FAILOVER);
    set_node(3, 7004, 4);
    n_nodes = 4;
    n_sent = 0;
    assert_int_equal(gw_cluster_chans_reconcile(&cl), 0);
    assert_int_equal(n_sent, 1);
    expect_sent(0, "7004 SSUBSCRIBE");
    push(3, "ssubscribe", chan);
    assert_int_equal(ch->state, GW_PUBSUB_CH_ACTIVE);
    assert_int_equal(n_ready, 2); /* backfill after the switch */
}

static void test_resharding_with_old_owner_alive(void **state)
{
    gw_pubsub_chan_t *ch;

    (void)state;
    ch = want(chan, true);
    push(1, "ssubscribe", chan);
    chat_redis_cluster_map_destroy(cl.map);
    cl.map = map_of(FAILOVER); /* the slot is 7004's, 7001 still up */
    set_node(3, 7004, 4);
    n_nodes = 4;
    n_sent = 0;
    assert_int_equal(gw_cluster_chans_reconcile(&cl), 1);
    assert_int_equal(n_sent, 2);
    expect_sent(0, "7001 SUNSUBSCRIBE");
    expect_sent(1, "7004 SSUBSCRIBE");
    /* 7001's confirmation of that SUNSUBSCRIBE changes nothing any more */
    push(1, "sunsubscribe", chan);
    assert_int_equal(ch->state, GW_PUBSUB_CH_SUB_SENT);
    assert_int_equal(refreshes, 0);
    /* a late ssubscribe from 7001 (stale) is answered with SUNSUBSCRIBE */
    push(1, "ssubscribe", chan);
    expect_sent(2, "7001 SUNSUBSCRIBE");
    push(3, "ssubscribe", chan);
    assert_int_equal(ch->state, GW_PUBSUB_CH_ACTIVE);
}

static void test_pushed_sunsubscribe_resubscribes(void **state)
{
    gw_pubsub_chan_t *ch;

    (void)state;
    ch = want(chan, true);
    push(1, "ssubscribe", chan);
    push(1, "sunsubscribe", chan); /* nobody asked: the slot moved */
    assert_int_equal(refreshes, 1);
    assert_int_equal(ch->state, GW_PUBSUB_CH_NONE);
    assert_true(cl.reconcile);
    n_sent = 0;
    gw_cluster_chans_reconcile(&cl); /* same map still: asks its owner again */
    expect_sent(0, "7001 SSUBSCRIBE");
}

static void test_unwant_and_timeouts(void **state)
{
    gw_pubsub_chan_t *ch;

    (void)state;
    ch = want(chan, true);
    push(1, "ssubscribe", chan);
    assert_non_null(want(chan, false));
    expect_sent(1, "7001 SUNSUBSCRIBE");
    assert_int_equal(ch->state, GW_PUBSUB_CH_UNSUB_SENT);
    push(1, "sunsubscribe", chan);
    assert_null(chat_hmap_get(ps.chans, chan)); /* forgotten */

    /* an SSUBSCRIBE nobody confirms is sent again */
    ch = want(chan, true);
    n_sent = 0;
    ch->sent_ms -= GW_CLUSTER_SUB_TIMEOUT_MS + 1;
    gw_cluster_chans_reconcile(&cl);
    expect_sent(0, "7001 SSUBSCRIBE");
    /* unwanted while unconfirmed, and still unconfirmed later: given up */
    ch->want = false;
    ch->sent_ms -= GW_CLUSTER_SUB_TIMEOUT_MS + 1;
    gw_cluster_chans_reconcile(&cl);
    assert_null(chat_hmap_get(ps.chans, chan));
    /* its owner has no live subscriber connection: nothing sent until reconcile */
    nodes[1].sub_ready = false;
    n_sent = 0;
    ch = want(chan, true);
    assert_int_equal(n_sent, 0);
    assert_int_equal(ch->state, GW_PUBSUB_CH_NONE);
    nodes[1].sub_ready = true;
    gw_cluster_chans_reconcile(&cl);
    expect_sent(0, "7001 SSUBSCRIBE");
}

static void test_heartbeat_channel_only_stamps(void **state)
{
    (void)state;
    snprintf(nodes[0].hb_channel, sizeof(nodes[0].hb_channel), "chat:gw:gw0:{hb0}");
    nodes[0].last_hb_ms = 0;
    push(0, "smessage", "chat:gw:gw0:{hb0}");
    assert_true(nodes[0].last_hb_ms > 0);
    assert_int_equal(delivered, 0);
    push(0, "ssubscribe", "chat:gw:gw0:{hb0}");
    assert_int_equal(n_sent, 0); /* not a stale channel to drop */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subscribe_on_owner_and_report, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failover_moves_and_reports_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resharding_with_old_owner_alive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pushed_sunsubscribe_resubscribes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwant_and_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeat_channel_only_stamps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
