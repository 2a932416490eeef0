/*
 * frame_handlers.c - a client frame's budget, then its parsed command (frame_parse.h)
 * dispatched to the pipeline (message), subscriptions (join/leave/subscribe), or a
 * direct answer; a frame that does not parse is answered with its error frame.
 *
 * Threads: loop thread. Relies on: frame_parse.h, jwt.h (auth renewal, cheap CPU work),
 * message_pipeline.h, subscription.h, pubsub.h / room_registry.h (typing relay).
 */
#include "frame_handlers.h"

#include <stdio.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/jwt.h"
#include "chat/log.h"
#include "frame_parse.h"
#include "gateway_metrics.h"
#include "message_pipeline.h"
#include "pubsub.h"
#include "room_registry.h"
#include "session.h"
#include "subscription.h"

#define FRAMES__TYPING_MIN_INTERVAL_MS 300

typedef void (*frames__handler_fn)(gw_session_t *s, const gw_frame_cmd_t *cmd);

/* ------------------------------------------------------------------ handlers */

static void frames__message(gw_session_t *s, const gw_frame_cmd_t *cmd)
{
    gw_pipeline_submit(s, cmd->room_id, cmd->content, cmd->content_len, cmd->client_msg_id);
}

static void frames__subscribe(gw_session_t *s, const gw_frame_cmd_t *cmd)
{
    gw_subscription_request(s, cmd->room_id, false, cmd->has_after, cmd->after_seq);
}

static void frames__join(gw_session_t *s, const gw_frame_cmd_t *cmd)
{
    gw_subscription_request(s, cmd->room_id, true, cmd->has_after, cmd->after_seq);
}

static void frames__leave(gw_session_t *s, const gw_frame_cmd_t *cmd)
{
    gw_subscription_leave(s, cmd->room_id);
}

static void frames__unsubscribe(gw_session_t *s, const gw_frame_cmd_t *cmd)
{
    gw_subscription_unsubscribe(s, cmd->room_id);
}

static void frames__typing(gw_session_t *s, const gw_frame_cmd_t *cmd)
{
    const char *room_id = cmd->room_id;
    gw_sub_t *sub;
    int64_t now = chat_clock_monotonic_ms();
    json_t *ev;
    gw_frame_t *f;

    sub = gw_subscription_find(s, room_id);
    if (sub == NULL || !gw_subscription_checked(sub)) {
        gw_session_send_error(s, "not_subscribed", "subscribe to the room first", room_id, NULL,
                              NULL);
        return;
    }
    if (!gw_subscription_typing_turn(sub, now, FRAMES__TYPING_MIN_INTERVAL_MS)) {
        return; /* typing is a hint: extra ones are dropped silently */
    }
    ev = json_pack("{s:s, s:s, s:s, s:s}", "type", "typing", "room_id", room_id, "user_id",
                   gw_session_user_id(s), "username", gw_session_username(s));
    f = ev != NULL ? gw_frame_from_json(ev) : NULL;
    json_decref(ev);
    if (f == NULL) {
        return;
    }
    /* through Redis every gateway (this one included) relays it; without Redis only
     * this gateway's watchers can get it */
    if (!gw_pubsub_publish_room(gw_session_gw(s)->pubsub, room_id, f, false)) {
        gw_registry_deliver_event(gw_session_gw(s)->registry, room_id, f, gw_session_user_id(s));
    }
    gw_frame_unref(f);
}

static void frames__ping(gw_session_t *s, const gw_frame_cmd_t *cmd)
{
    (void)cmd;
    gw_session_send_json(s, json_pack("{s:s}", "type", "pong"));
}

static void frames__auth(gw_session_t *s, const gw_frame_cmd_t *cmd)
{
    chat_jwt_claims_t claims;
    chat_err_t err;

    err = chat_jwt_verify(gw_session_gw(s)->cfg.jwt_secret, gw_session_gw(s)->cfg.jwt_issuer,
                          cmd->token, chat_clock_now_ms() / 1000, &claims);
    if (err == CHAT_ERR_TOKEN_EXPIRED) {
        gw_session_send_error(s, "token_expired", "the token has expired", NULL, NULL, NULL);
        return;
    }
    if (err != CHAT_OK) {
        gw_session_send_error(s, "invalid_token", "the token is not valid", NULL, NULL, NULL);
        return;
    }
    if (strcmp(claims.sub, gw_session_user_id(s)) != 0) {
        gw_session_send_error(s, "forbidden", "the token belongs to another user", NULL, NULL,
                              NULL);
        return;
    }
    if (gw_session_renew_token(s, claims.exp, claims.jti)) {
        gw_session_token_renewed(s); /* a revoked token closes the socket (4001) */
    }
    gw_session_send_json(s,
                         json_pack("{s:s, s:I}", "type", "auth_ok", "exp", (json_int_t)claims.exp));
}

/* Indexed by gw_cmd_kind_t. */
static const frames__handler_fn frames__table[] = {
    [GW_CMD_MESSAGE] = frames__message,
    [GW_CMD_JOIN] = frames__join,
    [GW_CMD_LEAVE] = frames__leave,
    [GW_CMD_SUBSCRIBE] = frames__subscribe,
    [GW_CMD_UNSUBSCRIBE] = frames__unsubscribe,
    [GW_CMD_TYPING] = frames__typing,
    [GW_CMD_PING] = frames__ping,
    [GW_CMD_AUTH] = frames__auth,
};

/* The session's frame budget (a token bucket over every frame type): true to go on.
 * Over it the frame is refused unread, and the refusal counts toward the abuse close. */
static bool frames__take_budget(gw_session_t *s)
{
    const gw_limits_t *lim = &gw_session_gw(s)->lim;
    gw_frame_budget_t *b = gw_session_frame_budget(s);
    int64_t now = chat_clock_monotonic_ms();

    if (b->at_ms == 0) {
        b->tokens = lim->frame_burst;
    } else {
        b->tokens += (double)(now - b->at_ms) * lim->frame_rate / 1000.0;
        if (b->tokens > lim->frame_burst) {
            b->tokens = lim->frame_burst;
        }
    }
    b->at_ms = now;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    chat_counter_add(&gw_session_gw(s)->metrics->rate_limited, 1);
    gw_session_send_error(
        s, "rate_limited", "too many frames, slow down", NULL, NULL,
        json_pack("{s:I}", "retry_after_ms",
                  (json_int_t)((1.0 - b->tokens) * 1000.0 / lim->frame_rate) + 1));
    gw_session_note_refusal(s);
    return false;
}

void gw_frame_handlers_dispatch(gw_session_t *s, const char *data, size_t len)
{
    gw_frame_cmd_t cmd;

    if (!frames__take_budget(s)) {
        return;
    }
    if (gw_frame_parse(data, len, &cmd)) {
        chat_counter_add(&gw_session_gw(s)->metrics->frames_in[(gw_frame_in_t)cmd.kind], 1);
        frames__table[cmd.kind](s, &cmd);
    } else {
        chat_counter_add(&gw_session_gw(s)->metrics->frames_in[GW_IN_INVALID], 1);
        gw_session_send_error(
            s, cmd.err.code, cmd.err.message, cmd.err.room_id, cmd.err.client_msg_id,
            cmd.err.frame_type != NULL ? json_pack("{s:s}", "frame_type", cmd.err.frame_type)
                                       : NULL);
        if (cmd.err.refusal) {
            gw_session_note_refusal(s);
        }
    }
    gw_frame_cmd_clear(&cmd);
}
