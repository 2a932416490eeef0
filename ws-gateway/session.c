/*
 * session.c - connection lifecycle, the bounded send queue, fragment reassembly.
 *
 * Threads: loop thread only (lws callbacks). The fields are session_internal.h's; the
 * layers above reach them through session_state.c. What a session reports up goes
 * through gw->session_events (main.c registers it).
 */
#include "session_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/log.h"
#include "chat/model.h"
#include "chat/validate.h"
#include "gateway_metrics.h"
#include "slow_consumer.h"

#define SESSION__PRESENCE_SEEN_MAX 4096

/* ------------------------------------------------------------------ lifecycle */

/* Forgets every user s has been told about (given back to the process-wide count). */
static void session__presence_forget(gw_session_t *s)
{
    if (s->presence_seen != NULL) {
        s->gw->presence_seen_total -= chat_hmap_size(s->presence_seen);
        chat_hmap_destroy(s->presence_seen);
        s->presence_seen = NULL;
    }
}

void gw_session_open(gw_t *gw, gw_session_t *s, struct lws *wsi)
{
    s->gw = gw;
    s->wsi = wsi;
    s->conn_id = ++gw->next_conn_id;
    snprintf(s->conn_key, sizeof(s->conn_key), "%" PRIu64, s->conn_id);
    if (chat_hmap_put(gw->sessions, s->conn_key, s) != 0) {
        gw_session_close(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory", false);
        return;
    }
    s->established = true;
    s->last_rx_ms = chat_clock_monotonic_ms();
    s->next = gw->session_head;
    if (gw->session_head != NULL) {
        gw->session_head->prev = s;
    }
    gw->session_head = s;
    gw->n_sessions++;
    chat_log_info("connected", "gateway", gw->cfg.gateway_id, "conn", s->conn_key, "user",
                  s->user_id, "peer", s->peer);
    if (gw->metrics != NULL) {
        chat_counter_add(&gw->metrics->sockets_opened, 1);
    }
    gw->session_events->opened(s); /* admission: presence, live channel, the URL's room */
}

static void session__drop_queue(gw_session_t *s)
{
    while (s->q_len > 0) {
        gw_frame_unref(s->q[s->q_head]);
        s->q_head = (s->q_head + 1) % s->q_cap;
        s->q_len--;
    }
    s->q_bytes = 0;
}

void gw_session_closed(gw_session_t *s)
{
    gw_t *gw = s->gw;

    if (!s->established) {
        return;
    }
    s->established = false;
    s->closing = true;
    chat_log_info("disconnected", "gateway", gw->cfg.gateway_id, "conn", s->conn_key, "user",
                  s->user_id);
    gw->session_events->closing(s);
    gw_session_flush_unlist(s);
    free(s->subs);
    s->subs = NULL;
    session__drop_queue(s);
    free(s->q);
    s->q = NULL;
    free(s->rx);
    s->rx = NULL;
    session__presence_forget(s);
    chat_hmap_remove(gw->sessions, s->conn_key);
    if (s->prev != NULL) {
        s->prev->next = s->next;
    } else {
        gw->session_head = s->next;
    }
    if (s->next != NULL) {
        s->next->prev = s->prev;
    }
    gw->n_sessions--;
    if (gw->metrics != NULL) {
        gw_metrics_closed(gw->metrics, s->closing ? s->close_code : 0);
    }
    gw->session_events->closed(s);
}

gw_session_t *gw_session_find(gw_t *gw, uint64_t conn_id)
{
    char key[24];

    snprintf(key, sizeof(key), "%" PRIu64, conn_id);
    return chat_hmap_get(gw->sessions, key);
}

/* ------------------------------------------------------------------ receiving */

static int session__close_now(gw_session_t *s, uint16_t code, const char *reason)
{
    chat_log_info("closing connection", "gateway", s->gw->cfg.gateway_id, "conn", s->conn_key,
                  "user", s->user_id, "reason", reason);
    lws_close_reason(s->wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
    return -1;
}

static int session__message(gw_session_t *s, const unsigned char *data, size_t len)
{
    if (s->rx_binary) {
        gw_session_send_error(s, "invalid_message", "binary frames are not supported", NULL, NULL,
                              NULL);
        return 0;
    }
    if (chat_utf8_length((const char *)data, len) < 0) {
        return session__close_now(s, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "invalid UTF-8");
    }
    if (s->gw->session_events->frame(s, (const char *)data, len) != 0) {
        return session__close_now(s, LWS_CLOSE_STATUS_POLICY_VIOLATION,
                                  "too much data before the connection was admitted");
    }
    return 0;
}

int gw_session_receive(gw_session_t *s, const void *in, size_t len)
{
    struct lws *wsi = s->wsi;
    size_t remaining = lws_remaining_packet_payload(wsi);
    bool final = lws_is_final_fragment(wsi);
    int rc;

    if (!s->established || s->closing) {
        return 0;
    }
    s->last_rx_ms = chat_clock_monotonic_ms();
    s->ping_sent_ms = 0;
    if (lws_is_first_fragment(wsi) && s->rx_len == 0) {
        s->rx_binary = lws_frame_is_binary(wsi) != 0;
    }
    if (s->rx_len + len + remaining > s->gw->lim.max_frame_bytes) {
        free(s->rx);
        s->rx = NULL;
        s->rx_len = s->rx_cap = 0;
        return session__close_now(s, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too big");
    }
    if (s->rx_len == 0 && final) {
        return session__message(s, in, len); /* the common case: no copy */
    }
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = s->rx_len + len + remaining;
        unsigned char *rx;
        if (cap < 1024) {
            cap = 1024;
        }
        rx = realloc(s->rx, cap);
        if (rx == NULL) {
            return session__close_now(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory");
        }
        s->rx = rx;
        s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (!final) {
        return 0;
    }
    rc = session__message(s, s->rx, s->rx_len);
    free(s->rx);
    s->rx = NULL;
    s->rx_len = s->rx_cap = 0;
    return rc;
}

/* ------------------------------------------------------------------ sending */

/* What answers the session's own request: written before the broadcasts in the round. */
static bool session__is_reply(const gw_frame_t *frame)
{
    return frame->kind == GW_OUT_ACK || frame->kind == GW_OUT_ERROR ||
        frame->kind == GW_OUT_SUBSCRIBED || frame->kind == GW_OUT_PONG;
}

bool gw_session_send(gw_session_t *s, gw_frame_t *frame)
{
    const gw_limits_t *lim = &s->gw->lim;

    if (!s->established || s->closing || frame == NULL) {
        return false;
    }
    if (gw_slow_over(lim, s->q_len + 1, s->q_bytes + frame->len) &&
        gw_slow_check(lim, s->q_len + 1, s->q_bytes + frame->len, chat_clock_monotonic_ms(),
                      &s->over_since_ms) == GW_SLOW_CUT) {
        gw_session_cut_slow(s); /* the policy: slow_consumer.h */
        return false;
    }
    if (s->gw->metrics != NULL && frame->kind < GW_OUT__N) {
        chat_counter_add(&s->gw->metrics->frames_out[frame->kind], 1);
    }
    if (!gw_session_queue(s, frame, session__is_reply(frame))) {
        gw_session_close(s, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "out of memory", false);
        return false;
    }
    return true;
}

void gw_session_cut_slow(gw_session_t *s)
{
    if (s->closing) {
        return;
    }
    if (s->gw->metrics != NULL) {
        chat_counter_add(&s->gw->metrics->slow_consumer_closes, 1);
    }
    chat_log_warn("slow consumer: closing", "gateway", s->gw->cfg.gateway_id, "conn", s->conn_key,
                  "user", s->user_id);
    gw_session_close(s, GW_CLOSE_SLOW_CONSUMER, "slow_consumer", false);
}

void gw_session_send_json(gw_session_t *s, json_t *json)
{
    gw_frame_t *f;

    if (json == NULL) {
        return;
    }
    f = gw_frame_from_json(json);
    json_decref(json);
    if (f != NULL) {
        gw_session_send(s, f);
        gw_frame_unref(f);
    }
}

void gw_session_send_error(gw_session_t *s, const char *code, const char *message,
                           const char *room_id, const char *client_msg_id, json_t *extra)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "type", "error", "code", code, "message", message);

    if (j == NULL) {
        json_decref(extra);
        return;
    }
    if (room_id != NULL) {
        json_object_set_new(j, "room_id", json_string(room_id));
    }
    if (client_msg_id != NULL) {
        json_object_set_new(j, "client_msg_id", json_string(client_msg_id));
    }
    if (extra != NULL) {
        json_object_update(j, extra);
        json_decref(extra);
    }
    gw_session_send_json(s, j);
}

/* Asks lws for LWS_CALLBACK_TIMER, where gw_session_timer() closes with the code and
 * reason. Only a callback like that (or RECEIVE) makes lws send a close frame and wait
 * for the peer's answer: -1 from SERVER_WRITEABLE counts as a failed write, and
 * lws_set_timeout() kills without a close frame. */
void gw_session_close_frame(gw_session_t *s)
{
    if (s->close_sent) {
        return;
    }
    s->close_sent = true;
    lws_set_timer_usecs(s->wsi, 1);
    lws_callback_on_writable(s->wsi); /* wakes lws so that it runs its due timers */
}

int gw_session_timer(gw_session_t *s)
{
    if (!s->established || !s->close_sent) {
        return 0;
    }
    chat_log_info("closing connection", "gateway", s->gw->cfg.gateway_id, "conn", s->conn_key,
                  "user", s->user_id, "reason", s->close_reason);
    lws_close_reason(s->wsi, (enum lws_close_status)s->close_code, (unsigned char *)s->close_reason,
                     strlen(s->close_reason));
    return -1;
}

void gw_session_close_user(gw_t *gw, const char *user_id, uint16_t code, const char *reason)
{
    for (gw_session_t *s = gw->session_head; s != NULL; s = s->next) {
        if (!s->closing && strcmp(s->user_id, user_id) == 0) {
            gw_session_close(s, code, reason, true);
        }
    }
}

void gw_session_close_token(gw_t *gw, const char *user_id, const char *jti, uint16_t code,
                            const char *reason)
{
    for (gw_session_t *s = gw->session_head; s != NULL; s = s->next) {
        if (!s->closing && jti[0] != '\0' && strcmp(s->user_id, user_id) == 0 &&
            strcmp(s->jti, jti) == 0) {
            gw_session_close(s, code, reason, true);
        }
    }
}

void gw_session_token_renewed(gw_session_t *s)
{
    s->gw->session_events->token_renewed(s);
}

void gw_session_close(gw_session_t *s, uint16_t code, const char *reason, bool flush)
{
    if (s->closing) {
        return;
    }
    s->closing = true;
    s->close_code = code;
    snprintf(s->close_reason, sizeof(s->close_reason), "%s", reason);
    if (!flush) {
        session__drop_queue(s);
    }
    if (s->q_len == 0) {
        gw_session_close_frame(s);
        return;
    }
    lws_callback_on_writable(s->wsi);
    /* a peer that never reads its queue is cut off anyway */
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, 10);
}

bool gw_session_has_room_for_replay(const gw_session_t *s, size_t bytes)
{
    const gw_limits_t *lim = &s->gw->lim;

    return !s->closing && gw_slow_replay_fits(lim, s->q_len, s->q_bytes, bytes);
}

/* ------------------------------------------------------------------ presence, abuse */

/* The dedupe only saves frames: when a session holds SESSION__PRESENCE_SEEN_MAX users it
 * starts over, and when all sessions together hold WS_PRESENCE_SEEN_MAX a user not yet
 * remembered is told without being remembered (a repeated status, which clients take
 * as it is), so this memory has a bound per session and per process. */
bool gw_session_presence_changed(gw_session_t *s, const char *user_id, bool online)
{
    void *want = (void *)(uintptr_t)(online ? 1 : 2);
    void *had = s->presence_seen != NULL ? chat_hmap_get(s->presence_seen, user_id) : NULL;

    if (had == want) {
        return false;
    }
    if (had != NULL) {
        chat_hmap_put(s->presence_seen, user_id, want); /* replaces: no new entry */
        return true;
    }
    if (s->presence_seen != NULL &&
        chat_hmap_size(s->presence_seen) >= SESSION__PRESENCE_SEEN_MAX) {
        session__presence_forget(s);
    }
    if (s->gw->presence_seen_total >= s->gw->lim.presence_seen_max) {
        return true;
    }
    if (s->presence_seen == NULL && (s->presence_seen = chat_hmap_create(8)) == NULL) {
        return true;
    }
    if (chat_hmap_put(s->presence_seen, user_id, want) == 0) {
        s->gw->presence_seen_total++;
    }
    return true;
}

void gw_session_note_refusal(gw_session_t *s)
{
    const gw_limits_t *lim = &s->gw->lim;
    int64_t now = chat_clock_monotonic_ms();

    if (now - s->abuse_window_start_ms > lim->abuse_window_ms) {
        s->abuse_window_start_ms = now;
        s->abuse_count = 0;
    }
    if (++s->abuse_count >= lim->abuse_refusals && !s->closing) {
        chat_log_warn("persistent abuse: closing", "gateway", s->gw->cfg.gateway_id, "conn",
                      s->conn_key, "user", s->user_id);
        gw_session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "rate limit exceeded", true);
    }
}
