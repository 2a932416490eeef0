/*
 * message_decide.c - the message pipeline's pure decisions (see the header).
 *
 * Threads: any.
 */
#include "message_decide.h"

#include <stdio.h>
#include <string.h>

#include "chat/ratelimit.h"

gw_msg_outcome_t gw_msg_decide_outcome(chat_err_t err, bool stored, bool is_member,
                                       bool room_hidden, bool committed)
{
    if (!stored || err != CHAT_OK) {
        if (err == CHAT_OK && !is_member) {
            /* a refusal only: whether a private room exists is not told to outsiders */
            return room_hidden ? GW_MSG_NOT_FOUND : GW_MSG_NOT_MEMBER;
        }
        return err == CHAT_ERR_INVALID ? GW_MSG_INVALID : GW_MSG_UNAVAILABLE;
    }
    return committed ? GW_MSG_ACK : GW_MSG_HOLD;
}

bool gw_msg_decide_shed(bool stored, int64_t queued_ms, int64_t now_ms)
{
    /* the sender has most likely given up and resent it already */
    return !stored && now_ms - queued_ms > GW_MSG_MAX_QUEUE_WAIT_MS;
}

void gw_msg_decide_limit_call(gw_msg_limit_call_t *c, const char *user_id, double rate,
                              double burst, bool by_sha)
{
    const chat_redis_script_t *script = chat_redis_script(CHAT_SCRIPT_RATELIMIT);

    chat_key_ratelimit("msg", user_id, c->key, sizeof(c->key));
    snprintf(c->rate, sizeof(c->rate), "%.6g", rate);
    snprintf(c->burst, sizeof(c->burst), "%.6g", burst);
    if (by_sha && script->sha[0] != '\0') {
        c->argv[0] = "EVALSHA";
        c->argv[1] = script->sha;
    } else {
        c->argv[0] = "EVAL";
        c->argv[1] = script->source;
    }
    c->argv[2] = "1";
    c->argv[3] = c->key;
    c->argv[4] = c->rate;
    c->argv[5] = c->burst;
    c->argv[6] = "1";
    c->argc = 7;
}

bool gw_msg_decide_noscript(const redisReply *reply)
{
    return reply != NULL && reply->type == REDIS_REPLY_ERROR && reply->str != NULL &&
        strncmp(reply->str, "NOSCRIPT", 8) == 0;
}
