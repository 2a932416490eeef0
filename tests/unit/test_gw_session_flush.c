/*
 * test_gw_session_flush.c - the gateway's write round (ws-gateway/session_flush.c)
 * without a server: libwebsockets' write calls are replaced by recorders, sessions are
 * plain structs, and one real loopback TCP connection shows the socket option. What it
 * pins down: a round writes the listed sockets in order; frames queued for a socket
 * before its turn go out together, corked into one TCP push; a reply moves its socket to
 * the head of the list; a round stops after its time budget and keeps the loop polling;
 * a full socket is left to lws's writeable callback; a closing socket leaves the list.
 *
 * Threads: the test's only thread (the loop thread's code).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../ws-gateway/gateway_metrics.c"
#include "../../ws-gateway/session_flush.c"
#include "../../ws-gateway/shared_frame.c"
#include "../../ws-gateway/slow_consumer.c"

/* ------------------------------------------------------------------ recorders */

#define MAX_WRITES 256

typedef struct write_rec {
    struct lws *wsi;
    char payload[32];
    int corked; /* TCP_CORK on the recorded fd while this frame was written (-1: no fd) */
} write_rec_t;

static write_rec_t writes[MAX_WRITES];
static int n_writes;
static int writable_asks;
static int closes;
static int close_frames;
static int socket_fd = -1;         /* what lws_get_socket_fd answers */
static struct lws *full_wsi;       /* lws_partial_buffered() is true for it */
static long write_sleep_ns;        /* each write takes this long */
static struct lws *fill_after_wsi; /* after its next write, it reports buffered */

int lws_write(struct lws *wsi, unsigned char *buf, size_t len, enum lws_write_protocol wp)
{
    write_rec_t *w = &writes[n_writes++ % MAX_WRITES];
    int on = 0;
    socklen_t l = sizeof(on);

    (void)wp;
    w->wsi = wsi;
    snprintf(w->payload, sizeof(w->payload), "%.*s", (int)len, (const char *)buf);
    w->corked =
        socket_fd >= 0 && getsockopt(socket_fd, IPPROTO_TCP, TCP_CORK, &on, &l) == 0 ? on : -1;
    if (write_sleep_ns > 0) {
        struct timespec ts = {0, write_sleep_ns};
        nanosleep(&ts, NULL);
    }
    if (fill_after_wsi == wsi) {
        full_wsi = wsi;
        fill_after_wsi = NULL;
    }
    return (int)len;
}

int lws_partial_buffered(struct lws *wsi)
{
    return wsi == full_wsi;
}

int lws_callback_on_writable(struct lws *wsi)
{
    (void)wsi;
    writable_asks++;
    return 1;
}

lws_sockfd_type lws_get_socket_fd(struct lws *wsi)
{
    (void)wsi;
    return socket_fd;
}

void gw_session_close(gw_session_t *s, uint16_t code, const char *reason, bool flush)
{
    (void)code;
    (void)reason;
    (void)flush;
    s->closing = true;
    closes++;
}

void gw_session_close_frame(gw_session_t *s)
{
    s->close_sent = true;
    close_frames++;
}

static int drained_calls;
static void on_drained(gw_session_t *s)
{
    (void)s;
    drained_calls++;
}
static int on_ping_due(gw_session_t *s)
{
    s->ping_due = false;
    return 0;
}
static const gw_session_events_t events = {.drained = on_drained, .ping_due = on_ping_due};

/* ------------------------------------------------------------------ fixtures */

#define N_SESSIONS 40 /* more than the round's clock stride (16) */

typedef struct fixture {
    gw_t gw;
    gw_metrics_t metrics;
    gw_session_t s[N_SESSIONS];
    int wsi_tags[N_SESSIONS]; /* distinct addresses standing in for struct lws * */
} fixture_t;

static struct lws *wsi_of(fixture_t *fx, int i)
{
    return (struct lws *)&fx->wsi_tags[i];
}

static int session_of(fixture_t *fx, struct lws *wsi)
{
    for (int i = 0; i < N_SESSIONS; i++) {
        if (wsi == wsi_of(fx, i)) {
            return i;
        }
    }
    return -1;
}

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof(*fx));

    assert_non_null(fx);
    assert_int_equal(uv_loop_init(&fx->gw.loop), 0);
    fx->gw.metrics = &fx->metrics;
    fx->gw.session_events = &events;
    fx->gw.lim.queue_max_frames = 100;
    fx->gw.lim.queue_max_bytes = 1 << 20;
    for (int i = 0; i < N_SESSIONS; i++) {
        fx->s[i].gw = &fx->gw;
        fx->s[i].wsi = wsi_of(fx, i);
        fx->s[i].established = true;
    }
    assert_int_equal(gw_session_flush_start(&fx->gw), 0);
    n_writes = writable_asks = closes = close_frames = drained_calls = 0;
    full_wsi = fill_after_wsi = NULL;
    write_sleep_ns = 0;
    socket_fd = -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;

    for (int i = 0; i < N_SESSIONS; i++) {
        while (fx->s[i].q_len > 0) {
            gw_frame_unref(fx->s[i].q[fx->s[i].q_head]);
            fx->s[i].q_head = (fx->s[i].q_head + 1) % fx->s[i].q_cap;
            fx->s[i].q_len--;
        }
        free(fx->s[i].q);
    }
    gw_session_flush_stop(&fx->gw);
    uv_run(&fx->gw.loop, UV_RUN_DEFAULT); /* the handles' close callbacks free the round */
    assert_int_equal(uv_loop_close(&fx->gw.loop), 0);
    free(fx);
    return 0;
}

static gw_frame_t *frame(const char *text, uint8_t kind)
{
    gw_frame_t *f = gw_frame_new(text, strlen(text));

    assert_non_null(f);
    f->kind = kind;
    return f;
}

/* What gw_session_send() does once the bounds let the frame in. */
static void queue(gw_session_t *s, gw_frame_t *f)
{
    assert_true(gw_session_queue(s, f, f->kind == GW_OUT_ACK));
}

static void broadcast(fixture_t *fx, const char *text, int first, int n)
{
    gw_frame_t *f = frame(text, GW_OUT_MESSAGE);

    for (int i = first; i < first + n; i++) {
        queue(&fx->s[i], f);
    }
    gw_frame_unref(f);
}

static void run_check(fixture_t *fx)
{
    flush__on_check(&fx->gw.session_flush->check);
}

/* ------------------------------------------------------------------ tests */

static void test_a_round_writes_listed_sockets_in_order(void **state)
{
    fixture_t *fx = *state;

    broadcast(fx, "m1", 0, 4);
    assert_int_equal(n_writes, 0); /* queued: nothing is written inside the callback */
    run_check(fx);
    assert_int_equal(n_writes, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(session_of(fx, writes[i].wsi), i);
        assert_string_equal(writes[i].payload, "m1");
        assert_int_equal(fx->s[i].q_len, 0);
        assert_false(gw_session_flush_listed(&fx->s[i]));
    }
    assert_null(flush__first(fx->gw.session_flush));
    assert_false(fx->gw.session_flush->idle_on);
    assert_int_equal(atomic_load(&fx->metrics.write_round_seconds.count), 1);
}

static void test_frames_queued_before_the_turn_go_in_one_push(void **state)
{
    fixture_t *fx = *state;
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    int peer;
    int on = 1;
    socklen_t l = sizeof(on);

    assert_int_equal(bind(listener, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(listener, 1), 0);
    assert_int_equal(getsockname(listener, (struct sockaddr *)&a, &al), 0);
    assert_int_equal(connect(client, (struct sockaddr *)&a, sizeof(a)), 0);
    peer = accept(listener, NULL, NULL);
    assert_true(peer >= 0);
    socket_fd = client;

    broadcast(fx, "m1", 0, 3);
    broadcast(fx, "m2", 0, 3); /* arrives before the round reached anyone */
    run_check(fx);
    assert_int_equal(n_writes, 6);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(session_of(fx, writes[2 * i].wsi), i);
        assert_string_equal(writes[2 * i].payload, "m1");
        assert_int_equal(session_of(fx, writes[2 * i + 1].wsi), i);
        assert_string_equal(writes[2 * i + 1].payload, "m2");
        assert_int_equal(writes[2 * i].corked, 1); /* held by the kernel until... */
        assert_int_equal(writes[2 * i + 1].corked, 1);
    }
    assert_int_equal(getsockopt(client, IPPROTO_TCP, TCP_CORK, &on, &l), 0);
    assert_int_equal(on, 0); /* ...the cork comes off: one push */

    /* one frame alone is written as it is */
    n_writes = 0;
    broadcast(fx, "m3", 0, 1);
    run_check(fx);
    assert_int_equal(n_writes, 1);
    assert_int_equal(writes[0].corked, 0);
    close(peer);
    close(client);
    close(listener);
}

static void test_a_reply_moves_its_socket_to_the_head(void **state)
{
    fixture_t *fx = *state;
    gw_frame_t *ack = frame("ack", GW_OUT_ACK);

    broadcast(fx, "m1", 0, 6);
    queue(&fx->s[4], ack); /* the sender of m1, deep in the list */
    gw_frame_unref(ack);
    run_check(fx);
    assert_int_equal(n_writes, 7);
    assert_int_equal(session_of(fx, writes[0].wsi), 4);
    assert_string_equal(writes[0].payload, "m1"); /* its own queue keeps its order */
    assert_string_equal(writes[1].payload, "ack");
    for (int i = 2, want = 0; i < 7; i++, want++) {
        if (want == 4) {
            want++;
        }
        assert_int_equal(session_of(fx, writes[i].wsi), want);
    }
}

static void test_a_round_stops_after_its_budget_and_goes_on(void **state)
{
    fixture_t *fx = *state;
    int checks = 0;

    write_sleep_ns = 100 * 1000; /* 0.1 ms per write: the clock, read every 16 writes,
                                   * finds the 1 ms budget spent at the 16th */
    broadcast(fx, "m1", 0, N_SESSIONS);
    run_check(fx);
    checks++;
    assert_true(n_writes < N_SESSIONS);
    assert_true(n_writes >= 1);
    assert_true(fx->gw.session_flush->idle_on); /* the loop's next poll will not block */
    /* a frame that arrives now joins a socket not written yet */
    broadcast(fx, "m2", N_SESSIONS - 1, 1);
    while (flush__first(fx->gw.session_flush) != NULL && checks < 50) {
        run_check(fx);
        checks++;
    }
    assert_true(checks >= 2);
    assert_int_equal(n_writes, N_SESSIONS + 1);
    assert_string_equal(writes[N_SESSIONS - 1].payload, "m1");
    assert_string_equal(writes[N_SESSIONS].payload, "m2");
    assert_false(fx->gw.session_flush->idle_on);
    assert_int_equal(atomic_load(&fx->metrics.write_round_seconds.count), 1);
}

static void test_a_round_that_never_ends_is_observed_each_second(void **state)
{
    fixture_t *fx = *state;

    full_wsi = NULL;
    broadcast(fx, "m1", 0, N_SESSIONS);
    fx->gw.session_flush->round_start_us -= 1500 * 1000; /* as if begun 1.5 s ago */
    write_sleep_ns = 100 * 1000;
    run_check(fx); /* stops after its budget, sockets still listed */
    assert_non_null(flush__first(fx->gw.session_flush));
    assert_int_equal(atomic_load(&fx->metrics.write_round_seconds.count), 1);
    assert_true(atomic_load(&fx->metrics.write_round_seconds.sum_us) >= 1500 * 1000);
    run_check(fx); /* less than a second since: not observed again yet */
    assert_int_equal(atomic_load(&fx->metrics.write_round_seconds.count), 1);
    write_sleep_ns = 0;
    while (flush__first(fx->gw.session_flush) != NULL) {
        run_check(fx);
    }
    assert_int_equal(atomic_load(&fx->metrics.write_round_seconds.count), 2);
}

static void test_a_full_socket_waits_for_writeable(void **state)
{
    fixture_t *fx = *state;

    full_wsi = wsi_of(fx, 1);
    broadcast(fx, "m1", 0, 3);
    run_check(fx);
    assert_int_equal(n_writes, 2); /* sockets 0 and 2 */
    assert_int_equal(fx->s[1].q_len, 1);
    assert_false(gw_session_flush_listed(&fx->s[1]));
    assert_true(writable_asks >= 1);
    /* the socket drains: lws's callback writes the queue the same way */
    full_wsi = NULL;
    assert_int_equal(gw_session_writeable(&fx->s[1]), 0);
    assert_int_equal(n_writes, 3);
    assert_int_equal(fx->s[1].q_len, 0);

    /* a socket that fills up during its own turn keeps the rest */
    fill_after_wsi = wsi_of(fx, 2);
    broadcast(fx, "m2", 2, 1);
    broadcast(fx, "m3", 2, 1);
    run_check(fx);
    assert_int_equal(n_writes, 4);
    assert_int_equal(fx->s[2].q_len, 1);
    full_wsi = NULL;
}

static void test_closing_sockets_leave_the_list(void **state)
{
    fixture_t *fx = *state;

    broadcast(fx, "m1", 0, 3);
    gw_session_flush_unlist(&fx->s[1]); /* closed before its turn (gw_session_closed) */
    gw_session_flush_unlist(&fx->s[1]); /* twice is harmless */
    assert_ptr_equal(flush__first(fx->gw.session_flush), &fx->s[0]);
    assert_ptr_equal(fx->s[0].flush_link.next, &fx->s[2].flush_link);
    assert_ptr_equal(fx->s[2].flush_link.prev, &fx->s[0].flush_link);
    assert_int_equal(fx->gw.session_flush->list.count, 2);
    fx->s[2].closing = true; /* closing with a flush: written, then its close frame */
    run_check(fx);
    assert_int_equal(n_writes, 2);
    assert_int_equal(close_frames, 1);
    assert_true(fx->s[2].close_sent);
    assert_null(flush__first(fx->gw.session_flush));
    assert_null(fx->gw.session_flush->list.tail);
}

static void test_a_long_burst_is_written_within_the_callback(void **state)
{
    fixture_t *fx = *state;
    char text[8];

    /* half the bound (100 frames) queued for one socket in one callback: written then,
     * so the slow-consumer bound never counts frames the socket would take */
    for (int i = 0; i < 49; i++) {
        snprintf(text, sizeof(text), "b%d", i);
        broadcast(fx, text, 0, 1);
    }
    assert_int_equal(n_writes, 0);
    broadcast(fx, "b49", 0, 1);
    assert_int_equal(n_writes, 50);
    assert_int_equal(fx->s[0].q_len, 0);
    assert_false(gw_session_flush_listed(&fx->s[0]));
    assert_string_equal(writes[49].payload, "b49");
    broadcast(fx, "b50", 0, 1); /* the next one waits for the round again */
    assert_int_equal(n_writes, 50);
    run_check(fx);
    assert_int_equal(n_writes, 51);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_round_writes_listed_sockets_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_frames_queued_before_the_turn_go_in_one_push, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_reply_moves_its_socket_to_the_head, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_round_stops_after_its_budget_and_goes_on, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_round_that_never_ends_is_observed_each_second, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_full_socket_waits_for_writeable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closing_sockets_leave_the_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_long_burst_is_written_within_the_callback, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
