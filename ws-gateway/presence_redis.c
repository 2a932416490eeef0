/*
 * presence_redis.c - the presence module's Redis side: this gateway's entries in
 * chat:presence:<uid> (a sorted set of gateway ids scored by expiry: ZADD on a user's
 * first socket and every heartbeat, ZREM after the last one closes), ZCOUNT to tell
 * whether any gateway still holds a user, and the sweep that reads the entries of remote
 * users this gateway announced online (a killed gateway never says "offline"). All
 * commands go through pubsub.h's command connection; none blocks.
 *
 * Threads: loop thread only. Relies on: presence_internal.h, pubsub.h, keys.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/keys.h"
#include "presence_internal.h"
#include "pubsub.h"

/* A read about one user in flight. */
typedef struct presence_req {
    gw_presence_t *pt;
    char user_id[CHAT_ID_LEN];
} presence_req_t;

void gw_presence_redis_zadd(gw_presence_t *pt, const char *user_id, int64_t now_ms)
{
    char key[CHAT_KEY_LEN];
    char score[32];
    char cutoff[32];
    char ttl[32];
    const char *zadd[4];
    const char *trim[4];
    const char *expire[3];

    chat_key_presence(user_id, key, sizeof(key));
    snprintf(score, sizeof(score), "%" PRId64, now_ms + CHAT_PRESENCE_TTL_MS);
    snprintf(cutoff, sizeof(cutoff), "%" PRId64, now_ms);
    snprintf(ttl, sizeof(ttl), "%d", 2 * CHAT_PRESENCE_TTL_MS);
    zadd[0] = "ZADD";
    zadd[1] = key;
    zadd[2] = score;
    zadd[3] = pt->gw->cfg.gateway_id;
    trim[0] = "ZREMRANGEBYSCORE";
    trim[1] = key;
    trim[2] = "-inf";
    trim[3] = cutoff;
    expire[0] = "PEXPIRE";
    expire[1] = key;
    expire[2] = ttl;
    if (gw_pubsub_command(pt->gw->pubsub, NULL, NULL, 4, zadd, NULL)) {
        gw_pubsub_command(pt->gw->pubsub, NULL, NULL, 4, trim, NULL);
        gw_pubsub_command(pt->gw->pubsub, NULL, NULL, 3, expire, NULL);
    }
}

static void presence__on_zcount(redisAsyncContext *ac, void *r, void *privdata)
{
    presence_req_t *z = privdata;
    redisReply *reply = r;
    gw_presence_t *pt = z->pt;

    (void)ac;
    if (pt->gw->stopping || reply == NULL || reply->type != REDIS_REPLY_INTEGER ||
        reply->integer != 0) {
        free(z);
        return;
    }
    if (chat_hmap_get(pt->local, z->user_id) == NULL) {
        gw_presence__announce(pt, z->user_id, false); /* nobody anywhere holds the user */
    }
    free(z);
}

void gw_presence_redis_check_gone(gw_presence_t *pt, const char *user_id)
{
    char key[CHAT_KEY_LEN];
    char min[32];
    const char *argv[4];
    presence_req_t *z = calloc(1, sizeof(*z));

    if (z == NULL) {
        return;
    }
    z->pt = pt;
    snprintf(z->user_id, sizeof(z->user_id), "%s", user_id);
    chat_key_presence(user_id, key, sizeof(key));
    snprintf(min, sizeof(min), "(%" PRId64, chat_clock_now_ms());
    argv[0] = "ZCOUNT";
    argv[1] = key;
    argv[2] = min;
    argv[3] = "+inf";
    if (!gw_pubsub_command(pt->gw->pubsub, presence__on_zcount, z, 4, argv, NULL)) {
        free(z);
    }
}

void gw_presence_redis_zrem(gw_presence_t *pt, const char *user_id)
{
    char key[CHAT_KEY_LEN];
    const char *argv[3];

    chat_key_presence(user_id, key, sizeof(key));
    argv[0] = "ZREM";
    argv[1] = key;
    argv[2] = pt->gw->cfg.gateway_id;
    gw_pubsub_command(pt->gw->pubsub, NULL, NULL, 3, argv, NULL);
}

void gw_presence_redis_refresh_all(gw_presence_t *pt)
{
    int64_t now = chat_clock_now_ms();
    chat_hmap_iter_t it;
    void *v;

    if (!gw_pubsub_up(pt->gw->pubsub)) {
        return;
    }
    chat_hmap_iter_init(&it, pt->local);
    while (chat_hmap_next(&it, NULL, &v)) {
        gw_presence_redis_zadd(pt, ((gw_presence_user_t *)v)->id, now);
    }
}

/* Reply to ZREVRANGEBYSCORE key +inf (now WITHSCORES LIMIT 0 1: the live entry that
 * expires last, or nothing (offline everywhere). */
static void presence__on_expiry(redisAsyncContext *ac, void *r, void *privdata)
{
    presence_req_t *z = privdata;
    redisReply *reply = r;
    gw_presence_t *pt = z->pt;
    gw_presence_remote_t *rem;

    (void)ac;
    if (pt->gw->stopping || (rem = chat_hmap_get(pt->remote, z->user_id)) == NULL) {
        free(z);
        return;
    }
    rem->check_in_flight = false;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        free(z);
        return; /* Redis trouble: the next sweep asks again */
    }
    if (reply->elements >= 2 && reply->element[1]->type == REDIS_REPLY_STRING) {
        /* still online somewhere: look again when that entry would expire */
        rem->check_at_ms = strtoll(reply->element[1]->str, NULL, 10) + 100;
    } else {
        gw_presence_user_t *u = chat_hmap_get(pt->local, z->user_id);
        if (u == NULL || u->n_sockets == 0) {
            gw_presence__offline_locally(pt, z->user_id);
        }
    }
    free(z);
}

static void presence__query_expiry(gw_presence_t *pt, const char *user_id,
                                   gw_presence_remote_t *rem, int64_t now_ms)
{
    char key[CHAT_KEY_LEN];
    char min[32];
    const char *argv[8];
    presence_req_t *z = calloc(1, sizeof(*z));

    if (z == NULL) {
        return;
    }
    z->pt = pt;
    snprintf(z->user_id, sizeof(z->user_id), "%s", user_id);
    chat_key_presence(user_id, key, sizeof(key));
    snprintf(min, sizeof(min), "(%" PRId64, now_ms);
    argv[0] = "ZREVRANGEBYSCORE";
    argv[1] = key;
    argv[2] = "+inf";
    argv[3] = min;
    argv[4] = "WITHSCORES";
    argv[5] = "LIMIT";
    argv[6] = "0";
    argv[7] = "1";
    if (!gw_pubsub_command(pt->gw->pubsub, presence__on_expiry, z, 8, argv, NULL)) {
        free(z);
        return;
    }
    rem->check_in_flight = true;
}

void gw_presence_redis_sweep(gw_presence_t *pt)
{
    int64_t now = chat_clock_now_ms();
    chat_hmap_iter_t it;
    const char *key;
    void *v;

    if (!gw_pubsub_up(pt->gw->pubsub)) {
        return;
    }
    chat_hmap_iter_init(&it, pt->remote);
    while (chat_hmap_next(&it, &key, &v)) {
        gw_presence_remote_t *rem = v;
        gw_presence_user_t *u = chat_hmap_get(pt->local, key);
        if ((u == NULL || u->n_sockets == 0) && !rem->check_in_flight && rem->check_at_ms <= now) {
            presence__query_expiry(pt, key, rem, now);
        }
    }
}
