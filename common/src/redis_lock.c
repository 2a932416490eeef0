/*
 * redis_lock.c - one-holder-at-a-time Redis locks with a random token per take (see
 * redis_lock.h).
 *
 * Threads: any thread, with its own chat_redis_t. Relies on: redis_sync.h (commands and
 * EVALSHA), redis_scripts.h (LOCK_RELEASE, LOCK_EXTEND), OpenSSL's RAND_bytes for the token.
 */
#include "chat/redis_lock.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void lock__sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

chat_err_t chat_redis_lock_take(chat_redis_t *r, chat_redis_lock_t *lock, const char *key,
                                int ttl_ms)
{
    unsigned char raw[16];
    redisReply *reply;

    lock->held = false;
    if (strlen(key) >= sizeof(lock->key) || RAND_bytes(raw, (int)sizeof(raw)) != 1) {
        return CHAT_ERR_INVALID;
    }
    snprintf(lock->key, sizeof(lock->key), "%s", key);
    for (size_t i = 0; i < sizeof(raw); i++) {
        snprintf(lock->token + 2 * i, 3, "%02x", raw[i]);
    }
    reply = chat_redis_command(r, "SET %s %s NX PX %d", lock->key, lock->token, ttl_ms);
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        return CHAT_ERR_UNAVAILABLE;
    }
    lock->held = reply->type == REDIS_REPLY_STATUS; /* "OK"; NIL: another holds it */
    freeReplyObject(reply);
    return CHAT_OK;
}

void chat_redis_lock_release(chat_redis_t *r, chat_redis_lock_t *lock)
{
    const char *argv[2] = {lock->key, lock->token};
    redisReply *reply;

    if (!lock->held) {
        return;
    }
    lock->held = false;
    reply = chat_redis_eval(r, CHAT_SCRIPT_LOCK_RELEASE, 1, 2, argv, NULL);
    if (reply != NULL) {
        freeReplyObject(reply); /* a failure leaves it to expire */
    }
}

chat_err_t chat_redis_lock_extend(chat_redis_t *r, chat_redis_lock_t *lock, int ttl_ms)
{
    char ttl[16];
    const char *argv[3] = {lock->key, lock->token, ttl};
    redisReply *reply;
    chat_err_t rc;

    if (!lock->held) {
        return CHAT_ERR_CONFLICT;
    }
    snprintf(ttl, sizeof(ttl), "%d", ttl_ms);
    reply = chat_redis_eval(r, CHAT_SCRIPT_LOCK_EXTEND, 1, 3, argv, NULL);
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        rc = CHAT_ERR_UNAVAILABLE;
    } else {
        rc = reply->integer == 1 ? CHAT_OK : CHAT_ERR_CONFLICT;
        lock->held = reply->integer == 1;
    }
    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return rc;
}

/* Whether anyone holds key: 1, 0, or -1 when Redis did not answer. */
static int lock__held(chat_redis_t *r, const char *key)
{
    redisReply *reply = chat_redis_command(r, "EXISTS %s", key);
    int held;

    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        held = -1;
    } else {
        held = reply->integer > 0;
    }
    if (reply != NULL) {
        freeReplyObject(reply);
    }
    return held;
}

chat_err_t chat_redis_lock_wait(chat_redis_t *r, const char *key, int max_ms, int poll_ms,
                                bool until_free, chat_redis_lock_done_fn done, void *arg,
                                bool *was_done)
{
    chat_err_t rc = CHAT_OK;
    bool finished = false;

    for (int waited = 0; waited < max_ms; waited += poll_ms) {
        int held;
        lock__sleep_ms(poll_ms);
        if (done != NULL && ((rc = done(arg, &finished)) != CHAT_OK || finished)) {
            break;
        }
        if (until_free || done == NULL) {
            held = lock__held(r, key);
            if (held < 0) {
                rc = CHAT_ERR_UNAVAILABLE;
                break;
            }
            if (held == 0) {
                break;
            }
        }
    }
    if (was_done != NULL) {
        *was_done = finished;
    }
    return rc;
}
