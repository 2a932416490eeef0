/*
 * pubsub_cluster_chans.c - channels in the gateway's Redis Cluster mode: each wanted
 * channel (pubsub_channels.c's table, entry fields state / node_id / sent_ms) is
 * SSUBSCRIBEd, one channel per command (SSUBSCRIBE of several channels must stay in one
 * slot), on the subscriber connection of the master serving its slot. Everything read
 * on those connections comes here, already classified: shard messages go where
 * pubsub_channels.c sends single-node messages; an "ssubscribe" confirmation of a room
 * channel is reported (events.room_channel_ready) as after a reconnect (it backfills); a
 * "sunsubscribe" nobody asked for (the slot moved: failover, resharding) or a -MOVED
 * asks for a new map and the channel is subscribed again on its owner. An unconfirmed
 * SSUBSCRIBE is sent again after GW_CLUSTER_SUB_TIMEOUT_MS (Redis ignores a repeat); an
 * unconfirmed SUNSUBSCRIBE is given up after as long (the entry goes, or is subscribed
 * again if wanted), so no channel stays in flight for ever.
 * The node's heartbeat channel (pubsub_cluster.c) is recognised first and only stamps
 * the node's last heartbeat.
 *
 * Threads: loop thread only. Relies on: pubsub_cluster_internal.h, room_registry.h,
 * keys.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/keys.h"
#include "chat/log.h"
#include "pubsub_cluster_internal.h"

static void chans__send(gw_cnode_t *n, const char *verb, const char *channel)
{
    const char *argv[2] = {verb, channel};

    if (n != NULL && n->sub != NULL) {
        gw_rconn_send(n->sub, NULL, NULL, 2, argv, NULL);
    }
}

static void chans__forget(gw_pubsub_t *ps, const char *channel, gw_pubsub_chan_t *ch)
{
    chat_hmap_remove(ps->chans, channel);
    free(ch);
}

/* SSUBSCRIBE on the owner's subscriber connection, if it answers. */
static void chans__subscribe(gw_pubsub_cluster_t *cl, const char *channel, gw_pubsub_chan_t *ch,
                             int64_t now)
{
    gw_cnode_t *n = gw_cluster_node_for_key(cl, channel, strlen(channel));

    if (n == NULL || !n->sub_ready) {
        return; /* the next reconcile after a map change or reconnect does it */
    }
    chans__send(n, "SSUBSCRIBE", channel);
    ch->state = GW_PUBSUB_CH_SUB_SENT;
    ch->node_id = n->id;
    ch->sent_ms = now;
}

size_t gw_cluster_chans_reconcile(gw_pubsub_cluster_t *cl)
{
    gw_pubsub_t *ps = cl->ps;
    int64_t now = chat_clock_monotonic_ms();
    size_t moved = 0;
    chat_hmap_iter_t it;
    const char *key;
    void *v;

    cl->reconcile = false;
    cl->last_reconcile_ms = now;
    if (cl->map == NULL || ps->chans == NULL) {
        return 0;
    }
    chat_hmap_iter_init(&it, ps->chans);
    while (chat_hmap_next(&it, &key, &v)) {
        gw_pubsub_chan_t *ch = v;
        gw_cnode_t *cur = gw_cluster_node_by_id(cl, ch->node_id);
        char owner[GW_CLUSTER_ADDR_LEN];

        if (ch->state != GW_PUBSUB_CH_NONE && cur == NULL) {
            ch->state = GW_PUBSUB_CH_NONE; /* its node is gone */
            ch->node_id = 0;
        }
        /* unanswered (a -MOVED, a reply lost with its slot): Redis ignores a repeat */
        bool stale = (ch->state == GW_PUBSUB_CH_SUB_SENT || ch->state == GW_PUBSUB_CH_UNSUB_SENT) &&
            now - ch->sent_ms > GW_CLUSTER_SUB_TIMEOUT_MS;
        if (!ch->want) {
            if (ch->state == GW_PUBSUB_CH_NONE || stale) {
                chans__forget(ps, key, ch); /* a late confirmation finds no entry: unsub */
            }
            continue;
        }
        gw_cluster_owner(cl->map, ps->host, key, strlen(key), owner, sizeof(owner));
        if (ch->state != GW_PUBSUB_CH_NONE && gw_cluster_must_move(cur->addr, owner)) {
            if (ch->state == GW_PUBSUB_CH_ACTIVE) {
                chans__send(cur, "SUNSUBSCRIBE", key); /* the old owner may still serve */
            }
            ch->state = GW_PUBSUB_CH_NONE;
            ch->node_id = 0;
            moved++;
        } else if (stale) {
            ch->state = GW_PUBSUB_CH_NONE; /* send it again */
        }
        if (ch->state == GW_PUBSUB_CH_NONE) {
            chans__subscribe(cl, key, ch, now);
        }
    }
    return moved;
}

size_t gw_cluster_chans_node_lost(gw_pubsub_cluster_t *cl, uint32_t node_id)
{
    gw_pubsub_t *ps = cl->ps;
    chat_hmap_iter_t it;
    const char *key;
    void *v;
    size_t n = 0;

    if (cl->closing || ps->chans == NULL) {
        return 0;
    }
    chat_hmap_iter_init(&it, ps->chans);
    while (chat_hmap_next(&it, &key, &v)) {
        gw_pubsub_chan_t *ch = v;
        if (ch->node_id != node_id) {
            continue;
        }
        if (!ch->want) {
            chans__forget(ps, key, ch);
        } else {
            ch->state = GW_PUBSUB_CH_NONE;
            ch->node_id = 0;
            n++;
        }
    }
    cl->reconcile = true;
    return n;
}

/* Redis confirmed an SSUBSCRIBE of channel on n. */
static void chans__on_subscribed(gw_cnode_t *n, const char *channel)
{
    gw_pubsub_cluster_t *cl = n->cl;
    gw_pubsub_chan_t *ch = chat_hmap_get(cl->ps->chans, channel);
    char room_id[CHAT_ID_LEN];

    if (ch == NULL || ch->node_id != n->id) {
        chans__send(n, "SUNSUBSCRIBE", channel); /* stale: not wanted, moved since, or an
                                                    old heartbeat channel */
        return;
    }
    ch->state = GW_PUBSUB_CH_ACTIVE;
    if (!ch->want) {
        chans__send(n, "SUNSUBSCRIBE", channel);
        ch->state = GW_PUBSUB_CH_UNSUB_SENT;
        ch->sent_ms = chat_clock_monotonic_ms();
    } else if (chat_key_channel_id(channel, CHAT_ROOM_CHANNEL_PREFIX, CHAT_ROOM_CHANNEL_SUFFIX,
                                   room_id)) {
        /* whatever was published while it was not subscribed here is in MongoDB */
        if (cl->ps->events.room_channel_ready != NULL) {
            cl->ps->events.room_channel_ready(cl->ps->gw, room_id);
        }
    }
}

/* Redis says channel is no longer subscribed on n: asked for, or its slot moved. */
static void chans__on_unsubscribed(gw_cnode_t *n, const char *channel)
{
    gw_pubsub_cluster_t *cl = n->cl;
    gw_pubsub_chan_t *ch = chat_hmap_get(cl->ps->chans, channel);

    if (ch == NULL || ch->node_id != n->id) {
        return;
    }
    if (ch->state != GW_PUBSUB_CH_UNSUB_SENT) {
        if (!cl->unsub_logged) { /* once per map: a moved slot may carry many channels */
            chat_log_warn("redis cluster unsubscribed a channel (slot moved)", "channel", channel,
                          "node", n->addr, "gateway", cl->ps->gw->cfg.gateway_id);
            cl->unsub_logged = true;
        }
        gw_cluster_want_refresh(cl, "sunsubscribe pushed");
    }
    ch->state = GW_PUBSUB_CH_NONE;
    ch->node_id = 0;
    if (!ch->want) {
        chans__forget(cl->ps, channel, ch);
    } else {
        cl->reconcile = true;
    }
}

void gw_cluster_chans_on_push(gw_cnode_t *n, redisReply *reply)
{
    gw_pubsub_cluster_t *cl = n->cl;
    const char *channel = NULL;
    const redisReply *payload = NULL;
    gw_cluster_push_t kind;

    if (cl->closing) {
        return;
    }
    kind = gw_cluster_classify(reply, &channel, &payload);
    if (channel != NULL && strcmp(channel, n->hb_channel) == 0) {
        if (kind == GW_CLUSTER_SMESSAGE) {
            n->last_hb_ms = chat_clock_monotonic_ms();
        } else if (kind == GW_CLUSTER_SUNSUBSCRIBE) {
            gw_cluster_want_refresh(cl, "heartbeat channel moved");
        }
        return;
    }
    switch (kind) {
    case GW_CLUSTER_SMESSAGE:
        gw_pubsub_channels_deliver(cl->ps, channel, payload);
        break;
    case GW_CLUSTER_SSUBSCRIBE:
        chans__on_subscribed(n, channel);
        break;
    case GW_CLUSTER_SUNSUBSCRIBE:
        chans__on_unsubscribed(n, channel);
        break;
    case GW_CLUSTER_PONG:
        gw_cluster_node_sub_pong(n);
        break;
    case GW_CLUSTER_OTHER_PUSH:
        break;
    case GW_CLUSTER_REPLY:
        switch (gw_cluster_classify_error(reply, NULL)) {
        case GW_CLUSTER_ERR_MOVED:
        case GW_CLUSTER_ERR_ASK:
        case GW_CLUSTER_ERR_DOWN:
            /* an SSUBSCRIBE went to a node that does not serve the slot (now) */
            gw_cluster_want_refresh(cl, reply->str);
            break;
        case GW_CLUSTER_ERR_OTHER:
            chat_log_warn("redis refused a subscriber command", "node", n->addr, "error",
                          reply->str);
            break;
        case GW_CLUSTER_ERR_NONE:
            break; /* +OK of AUTH */
        }
        break;
    }
}

/* ------------------------------------------------------------------ wanting */

void gw_pubsub_cluster_want(gw_pubsub_t *ps, const char *channel, bool want)
{
    gw_pubsub_cluster_t *cl = ps->cluster;
    gw_pubsub_chan_t *ch = chat_hmap_get(ps->chans, channel);

    if (cl == NULL || ch == NULL) {
        return;
    }
    if (want) {
        if (ch->state == GW_PUBSUB_CH_NONE) {
            chans__subscribe(cl, channel, ch, chat_clock_monotonic_ms());
        }
        return;
    }
    if (ch->state == GW_PUBSUB_CH_ACTIVE) {
        gw_cnode_t *n = gw_cluster_node_by_id(cl, ch->node_id);
        if (n != NULL && n->sub != NULL) {
            chans__send(n, "SUNSUBSCRIBE", channel);
            ch->state = GW_PUBSUB_CH_UNSUB_SENT;
            ch->sent_ms = chat_clock_monotonic_ms();
        } else {
            ch->state = GW_PUBSUB_CH_NONE;
        }
    }
    if (ch->state == GW_PUBSUB_CH_NONE) {
        chans__forget(ps, channel, ch);
    }
}

bool gw_pubsub_cluster_chan_active(const gw_pubsub_t *ps, const char *channel)
{
    gw_pubsub_cluster_t *cl = ps->cluster;
    gw_pubsub_chan_t *ch = chat_hmap_get(ps->chans, channel);
    gw_cnode_t *n;

    if (cl == NULL || ch == NULL || ch->state != GW_PUBSUB_CH_ACTIVE) {
        return false;
    }
    n = gw_cluster_node_by_id(cl, ch->node_id);
    return n != NULL && n->sub_ready;
}
