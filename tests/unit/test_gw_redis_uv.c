/*
 * test_gw_redis_uv.c - hiredis async on the gateway's own libuv hooks
 * (ws-gateway/redis_uv.c) on a real loop: a connect to a port nobody listens on fails at
 * once (hiredis 0.14's adapters/libuv.h never reported it: the connection hung until
 * the gateway's health check), and a server that accepts and closes is seen as a
 * disconnect, after which the poll handle is closed and freed (ASan in `make test`).
 * Single-threaded test process.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../ws-gateway/redis_uv.c"

typedef struct probe {
    uv_loop_t loop;
    uv_timer_t guard; /* ends a test that would otherwise hang */
    uv_tcp_t server;
    uv_tcp_t accepted;
    int connect_status; /* 1: not called */
    bool disconnected;
    bool timed_out;
} probe_t;

static probe_t *the_probe;

static void on_guard(uv_timer_t *t)
{
    probe_t *p = t->data;

    p->timed_out = true;
    uv_stop(&p->loop);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    (void)ac;
    the_probe->connect_status = status;
    if (status != REDIS_OK) {
        uv_timer_stop(&the_probe->guard);
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)ac;
    (void)status;
    the_probe->disconnected = true;
    uv_timer_stop(&the_probe->guard);
}

/* A loopback port and, when listen, a server on it; else the port is closed again. */
static int probe_open(probe_t *p, bool listen, uv_connection_cb on_conn)
{
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof(bound);

    memset(p, 0, sizeof(*p));
    the_probe = p;
    p->connect_status = 1;
    assert_int_equal(uv_loop_init(&p->loop), 0);
    uv_timer_init(&p->loop, &p->guard);
    p->guard.data = p;
    uv_timer_start(&p->guard, on_guard, 3000, 0);
    uv_tcp_init(&p->loop, &p->server);
    p->server.data = p;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    assert_int_equal(uv_tcp_bind(&p->server, (const struct sockaddr *)&addr, 0), 0);
    uv_tcp_getsockname(&p->server, (struct sockaddr *)&bound, &len);
    if (listen) {
        assert_int_equal(uv_listen((uv_stream_t *)&p->server, 8, on_conn), 0);
    } else {
        uv_close((uv_handle_t *)&p->server, NULL);
    }
    return ntohs(((struct sockaddr_in *)&bound)->sin_port);
}

static redisAsyncContext *probe_connect(probe_t *p, int port)
{
    redisAsyncContext *ac = redisAsyncConnect("127.0.0.1", port);

    assert_non_null(ac);
    assert_int_equal(ac->err, 0);
    assert_int_equal(gw_redis_uv_attach(ac, &p->loop), REDIS_OK);
    assert_int_equal(gw_redis_uv_attach(ac, &p->loop), REDIS_ERR); /* driven already */
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    assert_int_equal(redisAsyncCommand(ac, NULL, NULL, "PING"), REDIS_OK);
    return ac;
}

static void probe_close(probe_t *p)
{
    if (!uv_is_closing((uv_handle_t *)&p->guard)) {
        uv_close((uv_handle_t *)&p->guard, NULL);
    }
    if (!uv_is_closing((uv_handle_t *)&p->server)) {
        uv_close((uv_handle_t *)&p->server, NULL);
    }
    uv_run(&p->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&p->loop), 0); /* every handle, the polls too, closed */
}

static void test_a_refused_connect_fails_at_once(void **state)
{
    probe_t p;
    int port = probe_open(&p, false, NULL);

    (void)state;
    (void)probe_connect(&p, port);
    uv_run(&p.loop, UV_RUN_DEFAULT); /* hiredis frees the context on the failure */
    assert_false(p.timed_out);
    assert_int_equal(p.connect_status, REDIS_ERR);
    probe_close(&p);
}

static void on_accept_then_close(uv_stream_t *server, int status)
{
    probe_t *p = server->data;

    assert_int_equal(status, 0);
    uv_tcp_init(&p->loop, &p->accepted);
    assert_int_equal(uv_accept(server, (uv_stream_t *)&p->accepted), 0);
    uv_close((uv_handle_t *)&p->accepted, NULL);
}

static void test_a_server_that_closes_is_a_disconnect(void **state)
{
    probe_t p;
    int port = probe_open(&p, true, on_accept_then_close);

    (void)state;
    (void)probe_connect(&p, port);
    while (!p.disconnected && !p.timed_out) {
        uv_run(&p.loop, UV_RUN_ONCE);
    }
    assert_false(p.timed_out);
    assert_int_equal(p.connect_status, REDIS_OK);
    probe_close(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_refused_connect_fails_at_once),
        cmocka_unit_test(test_a_server_that_closes_is_a_disconnect),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
