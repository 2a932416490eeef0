/*
 * pubsub_publish.c - PUBLISH on room channels with a bounded retry queue for room
 * messages (kept while Redis is down or when a connection dies before the reply, sent
 * again in order after a reconnect; subscribers drop the duplicates by seq), and plain
 * commands on the command connection. In cluster mode (pubsub_cluster_cmd.c) SPUBLISH
 * replaces PUBLISH and commands go to the master of their key.
 *
 * Threads: loop thread only. Relies on: pubsub_internal.h (connection state).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/log.h"
#include "pubsub_cluster.h"
#include "pubsub_internal.h"

static void ps__pub_free(gw_pubsub_pub_t *p)
{
    if (p != NULL) {
        gw_frame_unref(p->frame);
        free(p);
    }
}

static gw_pubsub_pub_t *ps__pub_of(gw_held_link_t *link)
{
    return link != NULL
        ? (gw_pubsub_pub_t *)(void *)((char *)link - offsetof(gw_pubsub_pub_t, link))
        : NULL;
}

static void ps__retry_push(gw_pubsub_t *ps, gw_pubsub_pub_t *p)
{
    /* full: the oldest goes (other gateways fill that gap from MongoDB) */
    ps__pub_free(ps__pub_of(gw_held_push(&ps->retry, &p->link)));
}

static void ps__on_published(redisAsyncContext *ac, void *r, void *privdata)
{
    gw_pubsub_pub_t *p = privdata;
    redisReply *reply = r;
    gw_pubsub_t *ps = p->ps;

    (void)ac;
    if (reply != NULL) {
        if (reply->type == REDIS_REPLY_ERROR) {
            chat_log_warn("redis refused PUBLISH", "error", reply->str, "room", p->room_id);
        }
        ps__pub_free(p);
    } else if (p->retry && !ps->closing) {
        ps__retry_push(ps, p);
    } else {
        ps__pub_free(p);
    }
}

static bool ps__send_publish(gw_pubsub_t *ps, gw_pubsub_pub_t *p)
{
    char channel[CHAT_KEY_LEN];
    const char *argv[3];
    size_t lens[3];

    gw_pubsub_room_channel(p->room_id, channel, sizeof(channel));
    argv[0] = ps->cluster != NULL ? "SPUBLISH" : "PUBLISH";
    lens[0] = strlen(argv[0]);
    argv[1] = channel;
    lens[1] = strlen(channel);
    argv[2] = (const char *)gw_frame_payload(p->frame);
    lens[2] = p->frame->len;
    if (ps->cluster != NULL) {
        return gw_pubsub_cluster_command(ps, ps__on_published, p, 3, argv, lens);
    }
    return ps->cmd.ac != NULL &&
        redisAsyncCommandArgv(ps->cmd.ac, ps__on_published, p, 3, argv, lens) == REDIS_OK;
}

void gw_pubsub__flush_retry(gw_pubsub_t *ps)
{
    while (ps->retry.head != NULL && gw_pubsub_up(ps)) {
        gw_pubsub_pub_t *p = ps__pub_of(gw_held_pop(&ps->retry));
        if (!ps__send_publish(ps, p)) {
            ps__retry_push(ps, p);
            break;
        }
    }
}

void gw_pubsub__drop_retry(gw_pubsub_t *ps)
{
    for (gw_held_link_t *l = gw_held_pop(&ps->retry); l != NULL; l = gw_held_pop(&ps->retry)) {
        ps__pub_free(ps__pub_of(l));
    }
}

bool gw_pubsub_publish_room(gw_pubsub_t *ps, const char *room_id, gw_frame_t *frame, bool retry)
{
    gw_pubsub_pub_t *p;

    if (ps == NULL || ps->closing) {
        return false;
    }
    if (!gw_pubsub_up(ps) && !retry) {
        return false;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return false;
    }
    p->ps = ps;
    snprintf(p->room_id, sizeof(p->room_id), "%s", room_id);
    p->frame = gw_frame_ref(frame);
    p->retry = retry;
    if (gw_pubsub_up(ps)) {
        if (retry && ps->retry.head != NULL) {
            /* keep the order of room messages behind the ones still waiting */
            ps__retry_push(ps, p);
            gw_pubsub__flush_retry(ps);
            return ps->retry.head == NULL;
        }
        if (ps__send_publish(ps, p)) {
            return true;
        }
    }
    if (retry) {
        ps__retry_push(ps, p);
    } else {
        ps__pub_free(p);
    }
    return false;
}

bool gw_pubsub_command(gw_pubsub_t *ps, redisCallbackFn *fn, void *privdata, int argc,
                       const char **argv, const size_t *argvlen)
{
    if (ps != NULL && ps->cluster != NULL) {
        return gw_pubsub_cluster_command(ps, fn, privdata, argc, argv, argvlen);
    }
    if (!gw_pubsub_up(ps)) {
        return false;
    }
    return redisAsyncCommandArgv(ps->cmd.ac, fn, privdata, argc, argv, argvlen) == REDIS_OK;
}
