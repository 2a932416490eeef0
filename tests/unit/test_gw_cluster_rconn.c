/*
 * test_gw_cluster_rconn.c - the hand-driven Redis connection of the gateway's cluster
 * mode (ws-gateway/pubsub_rconn.c) against a fake server on loopback (a uv_tcp_t on the
 * same loop that answers canned RESP): on a subscriber connection every reply and push
 * reaches the push handler in order, including a "sunsubscribe" nobody asked for (the
 * push that makes hiredis 0.14's async layer abort) and replies split across reads; on
 * a command connection each reply pops its own callback, and when the server closes the
 * socket every pending callback runs once with NULL, then on_lost; a closed connection
 * refuses new commands until the loop frees it; a refused connect reports on_lost.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ws-gateway/pubsub_rconn.c"

typedef struct fake {
    uv_loop_t loop;
    uv_tcp_t server;
    uv_tcp_t client;
    int port;
    const char *script[8]; /* written one per loop turn once the client connected */
    size_t n_script;
    size_t next;
    bool close_after;
    uv_timer_t timer;
    /* what the rconn saw */
    char seen[16][64];
    size_t n_seen;
    bool lost;
    int nulls;
} fake_t;

static void on_write(uv_write_t *w, int status)
{
    (void)status;
    free(w);
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(sz);
    b->len = sz;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)s;
    (void)n;
    free(b->base); /* the commands themselves do not matter here */
}

static void on_timer(uv_timer_t *t)
{
    fake_t *f = t->data;

    if (f->next < f->n_script) {
        uv_write_t *w = malloc(sizeof(*w));
        uv_buf_t b = uv_buf_init((char *)f->script[f->next], strlen(f->script[f->next]));
        f->next++;
        uv_write(w, (uv_stream_t *)&f->client, &b, 1, on_write);
    } else if (f->close_after) {
        f->close_after = false;
        uv_close((uv_handle_t *)&f->client, NULL);
    } else {
        uv_timer_stop(t);
    }
}

static void on_conn(uv_stream_t *server, int status)
{
    fake_t *f = server->data;

    assert_int_equal(status, 0);
    uv_tcp_init(&f->loop, &f->client);
    assert_int_equal(uv_accept(server, (uv_stream_t *)&f->client), 0);
    uv_read_start((uv_stream_t *)&f->client, on_alloc, on_read);
    uv_timer_start(&f->timer, on_timer, 5, 5);
}

static void fake_start(fake_t *f)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);

    uv_loop_init(&f->loop);
    uv_tcp_init(&f->loop, &f->server);
    f->server.data = f;
    uv_timer_init(&f->loop, &f->timer);
    f->timer.data = f;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    assert_int_equal(uv_tcp_bind(&f->server, (const struct sockaddr *)&addr, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&f->server, 8, on_conn), 0);
    uv_tcp_getsockname(&f->server, (struct sockaddr *)&bound, &len);
    f->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

static void walk_close(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) {
        uv_close(h, NULL);
    }
}

static void fake_stop(fake_t *f)
{
    uv_walk(&f->loop, walk_close, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void run_until(fake_t *f, bool *flag, size_t *count, size_t want)
{
    for (int i = 0; i < 2000; i++) {
        if ((flag != NULL && *flag) || (count != NULL && *count >= want)) {
            return;
        }
        uv_run(&f->loop, UV_RUN_ONCE);
    }
    fail_msg("the fake server's script did not play out");
}

static void rec_push(gw_rconn_t *c, redisReply *r, void *arg)
{
    fake_t *f = arg;
    const char *what =
        r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? r->element[0]->str : r->str;

    (void)c;
    snprintf(f->seen[f->n_seen++], sizeof(f->seen[0]), "%s", what);
}

static void rec_lost(gw_rconn_t *c, const char *why, void *arg)
{
    fake_t *f = arg;

    (void)c;
    (void)why;
    f->lost = true;
}

static void rec_cb(redisAsyncContext *ac, void *r, void *privdata)
{
    fake_t *f = privdata;
    redisReply *reply = r;

    assert_null(ac);
    if (reply == NULL) {
        f->nulls++;
        return;
    }
    snprintf(f->seen[f->n_seen++], sizeof(f->seen[0]), "%s",
             reply->type == REDIS_REPLY_INTEGER ? "int" : reply->str);
}

static void test_subscriber_pushes(void **state)
{
    fake_t *f = calloc(1, sizeof(*f));
    const char *argv[2] = {"SSUBSCRIBE", "chat:room:{a}"};
    gw_rconn_t *c;

    (void)state;
    fake_start(f);
    f->script[0] = "+OK\r\n*3\r\n$10\r\nssubscribe\r\n$13\r\nchat:room:{a}\r\n:1\r\n";
    f->script[1] =
        "*3\r\n$8\r\nsmessage\r\n$13\r\nchat:room:{a}\r\n$2\r\nhi\r\n*3\r\n$12\r\nsunsub";
    f->script[2] = "scribe\r\n$13\r\nchat:room:{a}\r\n:0\r\n"; /* split across two reads */
    f->script[3] = "*2\r\n$4\r\npong\r\n$0\r\n\r\n-MOVED 1 127.0.0.1:1\r\n";
    f->n_script = 4;
    f->close_after = true;
    c = gw_rconn_create(&f->loop, "127.0.0.1", f->port, true, rec_push, rec_lost, f, NULL, 0);
    assert_non_null(c);
    assert_false(gw_rconn_send(c, rec_cb, f, 2, argv, NULL)); /* no callbacks here */
    assert_true(gw_rconn_send(c, NULL, NULL, 2, argv, NULL));
    run_until(f, &f->lost, NULL, 0);
    assert_int_equal(f->n_seen, 6);
    assert_string_equal(f->seen[0], "OK");
    assert_string_equal(f->seen[1], "ssubscribe");
    assert_string_equal(f->seen[2], "smessage");
    assert_string_equal(f->seen[3], "sunsubscribe");
    assert_string_equal(f->seen[4], "pong");
    assert_string_equal(f->seen[5], "MOVED 1 127.0.0.1:1");
    assert_true(f->lost); /* c is gone now: on_lost's contract */
    fake_stop(f);
    free(f);
}

static void test_command_fifo_and_loss(void **state)
{
    fake_t *f = calloc(1, sizeof(*f));
    const char *ping[1] = {"PING"};
    gw_rconn_t *c;

    (void)state;
    fake_start(f);
    f->script[0] = "+PONG\r\n:4";
    f->script[1] = "2\r\n";
    f->n_script = 2;
    f->close_after = true;
    c = gw_rconn_create(&f->loop, "127.0.0.1", f->port, false, NULL, rec_lost, f, NULL, 0);
    assert_non_null(c);
    for (int i = 0; i < 4; i++) {
        assert_true(gw_rconn_send(c, rec_cb, f, 1, ping, NULL));
    }
    assert_int_equal(gw_rconn_pending(c), 4);
    run_until(f, &f->lost, NULL, 0);
    assert_int_equal(f->n_seen, 2);
    assert_string_equal(f->seen[0], "PONG");
    assert_string_equal(f->seen[1], "int");
    assert_int_equal(f->nulls, 2); /* the two unanswered ones, once each */
    fake_stop(f);
    free(f);
}

static void test_close_runs_pending_once(void **state)
{
    fake_t *f = calloc(1, sizeof(*f));
    const char *ping[1] = {"PING"};
    gw_rconn_t *c;

    (void)state;
    fake_start(f);
    c = gw_rconn_create(&f->loop, "127.0.0.1", f->port, false, NULL, rec_lost, f, NULL, 0);
    assert_non_null(c);
    assert_true(gw_rconn_send(c, rec_cb, f, 1, ping, NULL));
    gw_rconn_close(c);
    assert_int_equal(f->nulls, 1);
    assert_false(gw_rconn_send(c, rec_cb, f, 1, ping, NULL)); /* until the loop frees it */
    assert_false(f->lost); /* on_lost is for losses, not for closing */
    gw_rconn_close(NULL);
    fake_stop(f);
    free(f);
}

static void test_refused(void **state)
{
    fake_t *f = calloc(1, sizeof(*f));
    gw_rconn_t *c;
    int port;

    (void)state;
    fake_start(f);
    port = f->port;
    uv_close((uv_handle_t *)&f->server, NULL); /* nobody listens there now */
    uv_run(&f->loop, UV_RUN_NOWAIT);
    c = gw_rconn_create(&f->loop, "127.0.0.1", port, true, rec_push, rec_lost, f, NULL, 0);
    if (c != NULL) {
        run_until(f, &f->lost, NULL, 0);
        assert_true(f->lost);
    }
    fake_stop(f);
    free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscriber_pushes),
        cmocka_unit_test(test_command_fifo_and_loss),
        cmocka_unit_test(test_close_runs_pending_once),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
