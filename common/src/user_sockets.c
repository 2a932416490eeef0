/*
 * user_sockets.c - sockets per user across gateways (see user_sockets.h).
 *
 * Threads: the thread owning the chat_redis_t.
 */
#include "chat/user_sockets.h"

#include <inttypes.h>
#include <stdio.h>

#include "chat/clock.h"
#include "chat/keys.h"
#include "chat/redis_scripts.h"

/* The script's arguments for one user; argv points into the buffers. */
typedef struct sockets__call {
    char key[CHAT_KEY_LEN];
    char now[24];
    char ttl[24];
    char arg[24];
    const char *argv[6];
} sockets__call_t;

static void sockets__prepare(sockets__call_t *c, const char *user_id, const char *gateway_id,
                             const char *op, int64_t arg)
{
    chat_key_tagged(user_id, "sockets", c->key, sizeof(c->key));
    snprintf(c->now, sizeof(c->now), "%" PRId64, chat_clock_now_ms());
    snprintf(c->ttl, sizeof(c->ttl), "%d", CHAT_USER_SOCKETS_TTL_MS);
    snprintf(c->arg, sizeof(c->arg), "%" PRId64, arg);
    c->argv[0] = c->key;
    c->argv[1] = gateway_id;
    c->argv[2] = op;
    c->argv[3] = c->now;
    c->argv[4] = c->ttl;
    c->argv[5] = c->arg;
}

static chat_err_t sockets__call(chat_redis_t *r, const char *user_id, const char *gateway_id,
                                const char *op, int64_t arg, bool *admitted)
{
    sockets__call_t c;
    redisReply *reply;
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;

    sockets__prepare(&c, user_id, gateway_id, op, arg);
    reply = chat_redis_eval(r, CHAT_SCRIPT_USER_SOCKETS, 1, 6, c.argv, NULL);
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_INTEGER) {
        if (admitted != NULL) {
            *admitted = reply->element[0]->integer == 1;
        }
        rc = CHAT_OK;
    }
    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return rc;
}

chat_err_t chat_user_sockets_open(chat_redis_t *r, const char *user_id, const char *gateway_id,
                                  int max, bool *admitted)
{
    *admitted = false;
    return sockets__call(r, user_id, gateway_id, "open", max, admitted);
}

chat_err_t chat_user_sockets_close(chat_redis_t *r, const char *user_id, const char *gateway_id)
{
    return sockets__call(r, user_id, gateway_id, "close", 0, NULL);
}

chat_err_t chat_user_sockets_refresh(chat_redis_t *r, const char *gateway_id,
                                     const char (*users)[CHAT_ID_LEN], const uint32_t *counts,
                                     size_t n)
{
    size_t queued = 0;
    chat_err_t rc = CHAT_OK;

    for (size_t i = 0; i < n; i++) {
        sockets__call_t c;
        sockets__prepare(&c, users[i], gateway_id, "set", counts[i]);
        if (chat_redis_append_eval(r, CHAT_SCRIPT_USER_SOCKETS, 1, 6, c.argv, NULL) != CHAT_OK) {
            rc = CHAT_ERR_UNAVAILABLE;
            break;
        }
        queued++;
    }
    for (size_t i = 0; i < queued; i++) {
        redisReply *reply = chat_redis_next_reply(r);
        if (reply == NULL) {
            chat_redis_discard_replies(r);
            return CHAT_ERR_UNAVAILABLE;
        }
        freeReplyObject(reply);
    }
    return rc;
}
