/*
 * token_denylist.c - the revoked-token list in Redis (token_denylist.h): one string key per
 * revoked jti, expiring with the token.
 *
 * Threads: the thread owning the Redis handle (REST request loop, gateway workers).
 */
#include "chat/token_denylist.h"

#include <stdio.h>
#include <string.h>

#include "chat/jwt.h"
#include "chat/keys.h"

chat_err_t chat_token_denylist_revoke(chat_redis_t *redis, const char *jti, int64_t exp_sec,
                                      int64_t now_sec)
{
    char key[CHAT_KEY_LEN];
    char ttl[24];
    const char *argv[5];
    redisReply *reply = NULL;
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;

    if (jti == NULL || jti[0] == '\0' || strlen(jti) > CHAT_JTI_MAX ||
        chat_key_revoked_token(jti, key, sizeof(key)) == NULL)
        return CHAT_ERR_INVALID;
    if (exp_sec <= now_sec)
        return CHAT_OK; /* expired already: refused without our help */
    snprintf(ttl, sizeof(ttl), "%lld", (long long)(exp_sec - now_sec));
    argv[0] = "SET";
    argv[1] = key;
    argv[2] = "1";
    argv[3] = "EX";
    argv[4] = ttl;
    reply = chat_redis_command_argv(redis, 5, argv, NULL);
    if (reply != NULL && reply->type == REDIS_REPLY_STATUS)
        rc = CHAT_OK;
    if (reply != NULL)
        freeReplyObject(reply);
    return rc;
}

chat_err_t chat_token_denylist_check(chat_redis_t *redis, const char *jti, bool *revoked)
{
    char key[CHAT_KEY_LEN];
    const char *argv[2];
    redisReply *reply = NULL;
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;

    *revoked = false;
    if (jti == NULL || jti[0] == '\0')
        return CHAT_OK;
    if (chat_key_revoked_token(jti, key, sizeof(key)) == NULL)
        return CHAT_OK; /* too long for a key: verification never lets such a jti through */
    argv[0] = "EXISTS";
    argv[1] = key;
    reply = chat_redis_command_argv(redis, 2, argv, NULL);
    if (reply != NULL && reply->type == REDIS_REPLY_INTEGER) {
        *revoked = reply->integer > 0;
        rc = CHAT_OK;
    }
    if (reply != NULL)
        freeReplyObject(reply);
    return rc;
}
