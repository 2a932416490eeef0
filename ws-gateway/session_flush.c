/*
 * session_flush.c - the write round: how queued frames reach the sockets.
 *
 * gw_session_send() queues every frame. A socket that had nothing queued is listed here,
 * and the loop's check phase (after this iteration's I/O callbacks) writes every listed
 * socket's queue; a socket whose send buffer is full waits for
 * LWS_CALLBACK_SERVER_WRITEABLE instead, which writes its queue the same way. Several
 * frames for one socket go out as one TCP push (TCP_CORK around their writes): the
 * kernel's per-push work (the loopback or NIC transmit, the peer's wake-up) is most of
 * a delivery's cost, so a second message that arrives while a broadcast is still being
 * written joins the queues of the sockets not written yet and travels with the first.
 * A reply to the socket's own request (ack, error, subscribed, pong) puts the socket at
 * the head of the list, so a sender hears its ack before the rest of a long broadcast.
 * A round writes for at most SESSION_FLUSH__BUDGET_US per check, then lets the loop
 * poll (an idle handle keeps that poll from blocking) and goes on in the next
 * iteration, so a broadcast to thousands of sockets no longer holds the loop for its
 * whole length and the messages that arrive meanwhile are seen.
 *
 * Threads: loop thread only. Part of the session module (session_internal.h).
 */
#include "session_internal.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "chat/clock.h"
#include "chat/grow.h"
#include "gateway_metrics.h"
#include "slow_consumer.h"

#define SESSION_FLUSH__BUDGET_US 1000        /* writing per check before the loop polls again */
#define SESSION_FLUSH__CLOCK_EVERY 16        /* sockets written between two looks at the clock */
#define SESSION_FLUSH__OBSERVE_AT_US 1000000 /* a round still going is observed each second */

struct gw_session_flush {
    gw_t *gw;
    uv_check_t check;
    uv_idle_t idle; /* on while a round is unfinished: the next poll must not block */
    bool idle_on;
    lws_dll2_owner_t list;  /* listed sockets (their flush_link), writing order */
    int64_t round_start_us; /* when the round's first socket was listed (0: no round) */
    int open_handles;
};

/* ------------------------------------------------------------------ the list */

static gw_session_t *flush__first(gw_session_flush_t *fl)
{
    return fl->list.head != NULL
        ? (gw_session_t *)((char *)fl->list.head - offsetof(gw_session_t, flush_link))
        : NULL;
}

void gw_session_flush_list(gw_session_t *s, bool first)
{
    gw_session_flush_t *fl = s->gw->session_flush;

    if (gw_session_flush_listed(s)) {
        if (!first || fl == NULL || flush__first(fl) == s) {
            return;
        }
        lws_dll2_remove(&s->flush_link); /* a reply for a socket deep in the list: moved up */
    }
    if (fl == NULL) { /* stopping: lws's writeable callback still writes */
        lws_callback_on_writable(s->wsi);
        return;
    }
    if (fl->list.head == NULL && fl->round_start_us == 0) {
        fl->round_start_us = chat_clock_monotonic_us();
    }
    if (first) {
        lws_dll2_add_head(&s->flush_link, &fl->list);
    } else {
        lws_dll2_add_tail(&s->flush_link, &fl->list);
    }
}

void gw_session_flush_unlist(gw_session_t *s)
{
    if (gw_session_flush_listed(s)) {
        lws_dll2_remove(&s->flush_link);
    }
}

/* ------------------------------------------------------------------ queueing */

bool gw_session_queue(gw_session_t *s, gw_frame_t *frame, bool reply)
{
    const gw_limits_t *lim = &s->gw->lim;

    if (s->q_len == s->q_cap) {
        gw_frame_t **q = chat_ring_grow(s->q, &s->q_head, s->q_len, &s->q_cap, sizeof(*q), 8);
        if (q == NULL) {
            return false;
        }
        s->q = q;
    }
    s->q[(s->q_head + s->q_len) % s->q_cap] = gw_frame_ref(frame);
    s->q_len++;
    s->q_bytes += frame->len;
    if (gw_session_flush_listed(s) && s->q_len >= lim->queue_max_frames / 2) {
        /* a long burst in one callback: written now, so the queue's bound only ever
         * counts what the socket did not take */
        gw_session_flush_unlist(s);
        gw_session_flush_now(s);
    } else if (gw_session_flush_listed(s) || s->q_len == 1) {
        gw_session_flush_list(s, reply); /* written by this loop iteration's round */
    } else {
        lws_callback_on_writable(s->wsi); /* behind frames the socket did not take */
    }
    return true;
}

/* ------------------------------------------------------------------ writing */

static bool flush__cork(struct lws *wsi, int on)
{
    int fd = lws_get_socket_fd(wsi);

    return fd >= 0 && setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) == 0;
}

int gw_session_write_queued(gw_session_t *s)
{
    const gw_limits_t *lim = &s->gw->lim;
    bool corked = s->q_len > 1 && !lws_partial_buffered(s->wsi) && flush__cork(s->wsi, 1);
    int rc = 0;

    while (s->q_len > 0 && !lws_partial_buffered(s->wsi)) {
        gw_frame_t *f = s->q[s->q_head];
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
        s->q_bytes -= f->len;
        rc = lws_write(s->wsi, gw_frame_payload(f), f->len, LWS_WRITE_TEXT) < 0 ? -1 : 0;
        gw_frame_unref(f);
        if (rc != 0) {
            break;
        }
    }
    if (corked) {
        flush__cork(s->wsi, 0); /* the push: everything written above in one go */
    }
    gw_slow_on_written(lim, s->q_len, s->q_bytes, &s->over_since_ms);
    if (rc == 0 && s->q_len > 0) {
        lws_callback_on_writable(s->wsi); /* the socket is full: lws says when it is not */
    }
    return rc;
}

void gw_session_after_write(gw_session_t *s)
{
    const gw_limits_t *lim = &s->gw->lim;

    if (s->q_len == 0 && s->closing) {
        gw_session_close_frame(s); /* flushed: now the close frame */
        return;
    }
    if (s->replays_waiting > 0 && !s->closing &&
        gw_slow_replay_resumes(lim, s->q_len, s->q_bytes)) {
        s->gw->session_events->drained(s);
    }
    if (s->q_len == 0 && s->q_cap > 64) {
        /* a burst is over: give the big ring back */
        free(s->q);
        s->q = NULL;
        s->q_cap = 0;
        s->q_head = 0;
    }
}

/* A listed socket's turn (it is unlisted already). */
void gw_session_flush_now(gw_session_t *s)
{
    if (!s->established || s->close_sent) {
        return; /* its queue was dropped, or the close is in lws's hands */
    }
    if (s->ping_due) {
        lws_callback_on_writable(s->wsi); /* the ping first, then the queue */
        return;
    }
    if (gw_session_write_queued(s) != 0) {
        gw_session_close(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "write failed", false);
        return;
    }
    gw_session_after_write(s);
}

int gw_session_writeable(gw_session_t *s)
{
    if (s->established && s->ping_due && !s->close_sent) {
        return s->gw->session_events->ping_due(s);
    }
    if (!s->established || s->q_len == 0 || s->close_sent) {
        return 0;
    }
    gw_session_flush_unlist(s); /* written here: the round has nothing left for it */
    if (gw_session_write_queued(s) != 0) {
        return -1;
    }
    gw_session_after_write(s);
    return 0;
}

/* ------------------------------------------------------------------ the round */

static void flush__on_idle(uv_idle_t *h)
{
    (void)h; /* only there to keep the loop's poll from blocking */
}

/* The round's length so far goes into /metrics once it is over, or (at) every second
 * while it is not: under a load that never lets the list empty the histogram still
 * shows it, as rounds of a second. */
static void flush__observe(gw_session_flush_t *fl, int64_t at_us)
{
    int64_t now;

    if (fl->round_start_us == 0 || fl->gw->metrics == NULL) {
        return;
    }
    now = chat_clock_monotonic_us();
    if (now - fl->round_start_us >= at_us) {
        chat_hist_observe(&fl->gw->metrics->write_round_seconds,
                          (double)(now - fl->round_start_us) / 1e6);
        fl->round_start_us = now;
    }
}

static void flush__on_check(uv_check_t *h)
{
    gw_session_flush_t *fl = h->data;
    int64_t deadline = 0;
    unsigned n = 0;

    for (gw_session_t *s = flush__first(fl); s != NULL; s = flush__first(fl)) {
        if (n++ % SESSION_FLUSH__CLOCK_EVERY == 0) {
            int64_t now = chat_clock_monotonic_us();
            if (deadline == 0) {
                deadline = now + SESSION_FLUSH__BUDGET_US;
            } else if (now >= deadline) {
                break;
            }
        }
        gw_session_flush_unlist(s);
        gw_session_flush_now(s);
    }
    if (fl->list.head == NULL) {
        flush__observe(fl, 0);
        fl->round_start_us = 0;
        if (fl->idle_on) {
            uv_idle_stop(&fl->idle);
            fl->idle_on = false;
        }
        return;
    }
    if (!fl->idle_on) {
        uv_idle_start(&fl->idle, flush__on_idle);
        fl->idle_on = true;
    }
    flush__observe(fl, SESSION_FLUSH__OBSERVE_AT_US);
}

int gw_session_flush_start(gw_t *gw)
{
    gw_session_flush_t *fl = calloc(1, sizeof(*fl));

    if (fl == NULL) {
        return -1;
    }
    fl->gw = gw;
    uv_check_init(&gw->loop, &fl->check);
    uv_idle_init(&gw->loop, &fl->idle);
    fl->check.data = fl;
    fl->idle.data = fl;
    fl->open_handles = 2;
    uv_check_start(&fl->check, flush__on_check);
    gw->session_flush = fl;
    return 0;
}

static void flush__on_closed(uv_handle_t *h)
{
    gw_session_flush_t *fl = h->data;

    if (--fl->open_handles == 0) {
        free(fl);
    }
}

void gw_session_flush_stop(gw_t *gw)
{
    gw_session_flush_t *fl = gw->session_flush;

    if (fl == NULL) {
        return;
    }
    /* what is still listed goes through lws's writeable callback from now on */
    for (gw_session_t *s = flush__first(fl); s != NULL; s = flush__first(fl)) {
        gw_session_flush_unlist(s);
        if (s->q_len > 0 && s->established) {
            lws_callback_on_writable(s->wsi);
        }
    }
    gw->session_flush = NULL;
    uv_close((uv_handle_t *)&fl->check, flush__on_closed);
    uv_close((uv_handle_t *)&fl->idle, flush__on_closed);
}
