/*
 * pubsub_channels.c - the channels of the subscribe connection: which ones this gateway
 * wants (room channels its sessions watch, the live channels of its users), where each
 * one's SUBSCRIBE stands, and what arrives on them. State is kept per channel so that a
 * SUBSCRIBE is never sent while an UNSUBSCRIBE of the same channel is in flight
 * (hiredis 0.14 keys its callbacks by channel name). A message is reported through
 * main.c's events table (gw_pubsub_events_t: room or user message, by the channel's
 * name; nothing above this layer is called directly). The control channel chat:gw:<id>
 * carries the heartbeat pubsub.c's health check waits for. In cluster mode the table
 * is the same; where each channel is subscribed is pubsub_cluster_chans.c's business.
 *
 * Threads: loop thread only. Relies on: hiredis 0.14 async, pubsub_internal.h.
 */
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/keys.h"
#include "chat/log.h"
#include "pubsub_cluster.h"
#include "pubsub_internal.h"

#define CHANNELS__SUB_BATCH 128

static void channels__subscribe_batch(gw_pubsub_t *ps, const char **channels, size_t n)
{
    const char **argv = NULL;

    if (n == 0 || ps->sub.ac == NULL) {
        return;
    }
    argv = malloc((n + 1) * sizeof(*argv));
    if (argv == NULL) {
        return;
    }
    argv[0] = "SUBSCRIBE";
    memcpy(argv + 1, channels, n * sizeof(*argv));
    if (redisAsyncCommandArgv(ps->sub.ac, gw_pubsub_channels_on_reply, ps, (int)(n + 1), argv,
                              NULL) == REDIS_OK) {
        for (size_t i = 0; i < n; i++) {
            gw_pubsub_chan_t *ch = chat_hmap_get(ps->chans, channels[i]);
            if (ch != NULL) {
                ch->state = GW_PUBSUB_CH_SUB_SENT;
            }
        }
    }
    free(argv);
}

static void channels__unsubscribe(gw_pubsub_t *ps, redisAsyncContext *ac, gw_pubsub_chan_t *ch,
                                  const char *channel)
{
    const char *argv[2] = {"UNSUBSCRIBE", channel};

    if (redisAsyncCommandArgv(ac, gw_pubsub_channels_on_reply, ps, 2, argv, NULL) == REDIS_OK) {
        ch->state = GW_PUBSUB_CH_UNSUB_SENT;
    }
}

/* ------------------------------------------------------------------ arriving */

/* A message on a channel this gateway watches: to the room registry or the user
 * channel module, by the channel's name. */
void gw_pubsub_channels_deliver(gw_pubsub_t *ps, const char *chname, const redisReply *data)
{
    char id[CHAT_ID_LEN];

    if (data->type != REDIS_REPLY_STRING) {
        return;
    }
    if (chat_key_channel_id(chname, CHAT_ROOM_CHANNEL_PREFIX, CHAT_ROOM_CHANNEL_SUFFIX, id)) {
        if (ps->events.room_message != NULL) {
            ps->events.room_message(ps->gw, id, data->str, data->len);
        }
    } else if (chat_key_channel_id(chname, CHAT_USER_CHANNEL_PREFIX, CHAT_USER_CHANNEL_SUFFIX,
                                   id)) {
        if (ps->events.user_message != NULL) {
            ps->events.user_message(ps->gw, id, data->str, data->len);
        }
    }
}

/* Redis confirmed a SUBSCRIBE or UNSUBSCRIBE of chname. */
static void channels__on_change(gw_pubsub_t *ps, redisAsyncContext *ac, const char *kind,
                                const char *chname)
{
    gw_pubsub_chan_t *ch = chat_hmap_get(ps->chans, chname);
    char room_id[CHAT_ID_LEN];

    if (ch == NULL) {
        return;
    }
    if (strcmp(kind, "subscribe") == 0) {
        ch->state = GW_PUBSUB_CH_ACTIVE;
        if (!ch->want) {
            channels__unsubscribe(ps, ac, ch, chname);
        } else if (chat_key_channel_id(chname, CHAT_ROOM_CHANNEL_PREFIX, CHAT_ROOM_CHANNEL_SUFFIX,
                                       room_id)) {
            if (ps->events.room_channel_ready != NULL) {
                ps->events.room_channel_ready(ps->gw, room_id);
            }
        }
    } else if (strcmp(kind, "unsubscribe") == 0) {
        ch->state = GW_PUBSUB_CH_NONE;
        if (ch->want) {
            const char *one[1] = {chname};
            channels__subscribe_batch(ps, one, 1);
        } else {
            chat_hmap_remove(ps->chans, chname);
            free(ch);
        }
    }
}

void gw_pubsub_channels_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    gw_pubsub_t *ps = privdata;
    redisReply *reply = r;
    const char *kind;
    const char *chname;

    if (reply == NULL || ps->sub.ac != ac || reply->type != REDIS_REPLY_ARRAY ||
        reply->elements < 3 || reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        return;
    }
    kind = reply->element[0]->str;
    chname = reply->element[1]->str;

    if (strcmp(kind, "message") == 0) {
        if (strcmp(chname, ps->control_channel) == 0) {
            ps->last_hb_ms = chat_clock_monotonic_ms();
        } else {
            gw_pubsub_channels_deliver(ps, chname, reply->element[2]);
        }
        return;
    }
    if (strcmp(chname, ps->control_channel) == 0) {
        if (strcmp(kind, "subscribe") == 0 && !ps->sub.ready) {
            ps->sub.ready = true;
            ps->sub.backoff_ms = GW_PUBSUB_BACKOFF_MIN_MS;
            ps->sub.down_logged = false;
            ps->last_hb_ms = chat_clock_monotonic_ms();
            chat_log_info("redis connected", "conn_kind", "sub", "gateway", ps->gw->cfg.gateway_id);
        }
        return;
    }
    channels__on_change(ps, ac, kind, chname);
}

/* ------------------------------------------------------------------ connection */

void gw_pubsub_channels_reset(gw_pubsub_t *ps)
{
    chat_hmap_iter_t it;
    const char *key;
    void *v;

    chat_hmap_iter_init(&it, ps->chans);
    while (chat_hmap_next(&it, &key, &v)) {
        gw_pubsub_chan_t *ch = v;
        if (!ch->want) {
            chat_hmap_remove(ps->chans, key);
            free(ch);
        } else {
            ch->state = GW_PUBSUB_CH_NONE;
        }
    }
}

void gw_pubsub_channels_resubscribe(gw_pubsub_t *ps)
{
    chat_hmap_iter_t it;
    const char *key;
    void *v;
    const char *batch[CHANNELS__SUB_BATCH];
    size_t n = 0;

    chat_hmap_iter_init(&it, ps->chans);
    while (chat_hmap_next(&it, &key, &v)) {
        gw_pubsub_chan_t *ch = v;
        if (!ch->want || ch->state != GW_PUBSUB_CH_NONE) {
            continue;
        }
        batch[n++] = key;
        if (n == CHANNELS__SUB_BATCH) {
            channels__subscribe_batch(ps, batch, n);
            n = 0;
        }
    }
    channels__subscribe_batch(ps, batch, n);
}

void gw_pubsub_channels_free(gw_pubsub_t *ps)
{
    chat_hmap_clear(ps->chans, free);
    chat_hmap_destroy(ps->chans);
    ps->chans = NULL;
}

/* ------------------------------------------------------------------ wanting */

/* Declares whether this gateway wants the channel (SUBSCRIBE / UNSUBSCRIBE when the
 * state allows; the reply handler finishes what the state did not). */
static void channels__want(gw_pubsub_t *ps, const char *channel, bool want)
{
    gw_pubsub_chan_t *ch;

    if (ps == NULL || ps->closing || channel[0] == '\0') {
        return;
    }
    ch = chat_hmap_get(ps->chans, channel);
    if (want) {
        if (ch == NULL) {
            ch = calloc(1, sizeof(*ch));
            if (ch == NULL || chat_hmap_put(ps->chans, channel, ch) != 0) {
                free(ch);
                return;
            }
        }
        ch->want = true;
        if (ps->cluster != NULL) {
            gw_pubsub_cluster_want(ps, channel, true);
        } else if (ch->state == GW_PUBSUB_CH_NONE && ps->sub.ac != NULL) {
            const char *one[1] = {channel};
            channels__subscribe_batch(ps, one, 1);
        }
        return;
    }
    if (ch == NULL) {
        return;
    }
    ch->want = false;
    if (ps->cluster != NULL) {
        gw_pubsub_cluster_want(ps, channel, false);
    } else if (ch->state == GW_PUBSUB_CH_ACTIVE && ps->sub.ac != NULL) {
        channels__unsubscribe(ps, ps->sub.ac, ch, channel);
    } else if (ch->state == GW_PUBSUB_CH_NONE) {
        chat_hmap_remove(ps->chans, channel);
        free(ch);
    }
}

void gw_pubsub_want_room(gw_pubsub_t *ps, const char *room_id, bool want)
{
    char channel[CHAT_KEY_LEN];

    gw_pubsub_room_channel(room_id, channel, sizeof(channel));
    channels__want(ps, channel, want);
}

void gw_pubsub_want_user(gw_pubsub_t *ps, const char *user_id, bool want)
{
    char channel[CHAT_KEY_LEN];

    chat_key_user_channel(user_id, channel, sizeof(channel));
    channels__want(ps, channel, want);
}

bool gw_pubsub_room_active(const gw_pubsub_t *ps, const char *room_id)
{
    char channel[CHAT_KEY_LEN];
    gw_pubsub_chan_t *ch;

    if (ps != NULL && ps->cluster != NULL) {
        gw_pubsub_room_channel(room_id, channel, sizeof(channel));
        return gw_pubsub_cluster_chan_active(ps, channel);
    }
    if (ps == NULL || ps->sub.ac == NULL) {
        return false;
    }
    gw_pubsub_room_channel(room_id, channel, sizeof(channel));
    ch = chat_hmap_get(ps->chans, channel);
    return ch != NULL && ch->state == GW_PUBSUB_CH_ACTIVE;
}
