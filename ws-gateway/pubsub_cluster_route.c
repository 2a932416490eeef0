/*
 * pubsub_cluster_route.c - the pure decisions of the gateway's Redis Cluster mode:
 * reply / push classification, the routing key of a command, channel ownership, the
 * addresses a CLUSTER SLOTS reply names. See pubsub_cluster_route.h.
 *
 * Threads: any (pure). Relies on: redis_cluster.h (slots, redirects, the slot map).
 */
#include "pubsub_cluster_route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool route__is(const redisReply *r, const char *s)
{
    return r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) &&
        strcasecmp(r->str, s) == 0;
}

gw_cluster_push_t gw_cluster_classify(const redisReply *reply, const char **channel,
                                      const redisReply **payload)
{
    const redisReply *kind;

    if (reply == NULL) {
        return GW_CLUSTER_REPLY;
    }
    if (reply->type == REDIS_REPLY_STATUS) {
        return route__is(reply, "PONG") ? GW_CLUSTER_PONG : GW_CLUSTER_REPLY;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
        return GW_CLUSTER_REPLY;
    }
    kind = reply->element[0];
    if (kind->type != REDIS_REPLY_STRING) {
        return GW_CLUSTER_REPLY;
    }
    if (route__is(kind, "pong")) {
        return GW_CLUSTER_PONG;
    }
    if (reply->elements != 3 || reply->element[1]->type != REDIS_REPLY_STRING) {
        return GW_CLUSTER_REPLY;
    }
    if (route__is(kind, "smessage")) {
        if (channel != NULL) {
            *channel = reply->element[1]->str;
        }
        if (payload != NULL) {
            *payload = reply->element[2];
        }
        return GW_CLUSTER_SMESSAGE;
    }
    if (route__is(kind, "ssubscribe") || route__is(kind, "sunsubscribe")) {
        if (channel != NULL) {
            *channel = reply->element[1]->str;
        }
        return route__is(kind, "ssubscribe") ? GW_CLUSTER_SSUBSCRIBE : GW_CLUSTER_SUNSUBSCRIBE;
    }
    if (route__is(kind, "message") || route__is(kind, "pmessage") || route__is(kind, "subscribe") ||
        route__is(kind, "unsubscribe") || route__is(kind, "psubscribe") ||
        route__is(kind, "punsubscribe")) {
        return GW_CLUSTER_OTHER_PUSH;
    }
    return GW_CLUSTER_REPLY;
}

gw_cluster_err_t gw_cluster_classify_error(const redisReply *reply, chat_redis_redirect_t *redirect)
{
    chat_redis_redirect_t rd;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return GW_CLUSTER_ERR_NONE;
    }
    if (chat_redis_cluster_parse_redirect(reply->str, reply->len, &rd) == CHAT_OK) {
        if (redirect != NULL) {
            *redirect = rd;
        }
        return rd.kind == CHAT_REDIS_REDIRECT_MOVED ? GW_CLUSTER_ERR_MOVED : GW_CLUSTER_ERR_ASK;
    }
    /* READONLY too: a node that was a master when we routed to it is a replica now */
    if (chat_redis_cluster_transient_error(reply->str, reply->len) ||
        (reply->len >= 8 && strncmp(reply->str, "READONLY", 8) == 0)) {
        return GW_CLUSTER_ERR_DOWN;
    }
    return GW_CLUSTER_ERR_OTHER;
}

void gw_cluster_addr(const char *host, int port, const char *fallback_host, char *buf, size_t len)
{
    const char *h = (host != NULL && host[0] != '\0') ? host : fallback_host;

    snprintf(buf, len, "%s:%d", h != NULL ? h : "", port);
}

bool gw_cluster_owner(const chat_redis_cluster_map_t *map, const char *fallback_host,
                      const char *key, size_t key_len, char *buf, size_t len)
{
    const chat_redis_cluster_node_t *n = NULL;

    if (map != NULL && key != NULL) {
        n = chat_redis_cluster_map_lookup_key(map, key, key_len);
    }
    if (n == NULL) {
        if (len > 0) {
            buf[0] = '\0';
        }
        return false;
    }
    gw_cluster_addr(n->host, n->port, fallback_host, buf, len);
    return true;
}

bool gw_cluster_must_move(const char *cur_addr, const char *new_addr)
{
    if (cur_addr == NULL || cur_addr[0] == '\0') {
        return false; /* not subscribed anywhere: nothing to move, only to subscribe */
    }
    return new_addr == NULL || strcmp(cur_addr, new_addr) != 0;
}

static void route__add(const redisReply *node, const char *fallback_host,
                       char (*addrs)[GW_CLUSTER_ADDR_LEN], size_t max, size_t *n, size_t *added)
{
    char a[GW_CLUSTER_ADDR_LEN];
    const char *host = "";

    if (node == NULL || node->type != REDIS_REPLY_ARRAY || node->elements < 2 ||
        node->element[1]->type != REDIS_REPLY_INTEGER || node->element[1]->integer <= 0) {
        return;
    }
    if (node->element[0]->type == REDIS_REPLY_STRING) {
        host = node->element[0]->str;
    }
    gw_cluster_addr(host, (int)node->element[1]->integer, fallback_host, a, sizeof(a));
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(addrs[i], a) == 0) {
            return;
        }
    }
    if (*n < max) {
        memcpy(addrs[*n], a, sizeof(a));
        (*n)++;
        (*added)++;
    }
}

size_t gw_cluster_collect_addrs(const redisReply *slots, const char *fallback_host,
                                char (*addrs)[GW_CLUSTER_ADDR_LEN], size_t max, size_t *n)
{
    size_t added = 0;

    if (slots == NULL || slots->type != REDIS_REPLY_ARRAY) {
        return 0;
    }
    for (size_t i = 0; i < slots->elements; i++) {
        const redisReply *range = slots->element[i];
        if (range->type != REDIS_REPLY_ARRAY) {
            continue;
        }
        for (size_t j = 2; j < range->elements; j++) {
            route__add(range->element[j], fallback_host, addrs, max, n, &added);
        }
    }
    return added;
}

bool gw_cluster_split_addr(const char *addr, char *host, size_t host_len, int *port)
{
    const char *colon = strrchr(addr, ':');
    char *end = NULL;
    long p;

    if (colon == NULL || colon == addr || (size_t)(colon - addr) >= host_len) {
        return false;
    }
    p = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || p <= 0 || p > 65535) {
        return false;
    }
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    *port = (int)p;
    return true;
}

unsigned long gw_cluster_map_fingerprint(const chat_redis_cluster_map_t *map,
                                         const char *fallback_host)
{
    unsigned long h = 1469598103UL;
    const chat_redis_cluster_node_t *prev = NULL;

    if (map == NULL) {
        return 0;
    }
    for (unsigned int s = 0; s < CHAT_REDIS_CLUSTER_SLOTS; s++) {
        const chat_redis_cluster_node_t *n = chat_redis_cluster_map_lookup_slot(map, s);
        char a[GW_CLUSTER_ADDR_LEN];

        if (n == prev && s > 0) {
            continue; /* same owner as the slot before: only the range bounds count */
        }
        prev = n;
        if (n == NULL) {
            snprintf(a, sizeof(a), "-");
        } else {
            gw_cluster_addr(n->host, n->port, fallback_host, a, sizeof(a));
        }
        h = (h ^ s) * 16777619UL;
        for (const char *p = a; *p != '\0'; p++) {
            h = (h ^ (unsigned char)*p) * 16777619UL;
        }
    }
    return h;
}

size_t gw_cluster_map_masters(const chat_redis_cluster_map_t *map, const char *fallback_host,
                              char (*addrs)[GW_CLUSTER_ADDR_LEN], size_t max)
{
    const chat_redis_cluster_node_t *prev = NULL;
    size_t n = 0;

    for (unsigned int s = 0; map != NULL && s < CHAT_REDIS_CLUSTER_SLOTS; s++) {
        const chat_redis_cluster_node_t *m = chat_redis_cluster_map_lookup_slot(map, s);
        char a[GW_CLUSTER_ADDR_LEN];
        bool seen = false;

        if (m == NULL || m == prev) {
            continue;
        }
        prev = m;
        gw_cluster_addr(m->host, m->port, fallback_host, a, sizeof(a));
        for (size_t i = 0; i < n && !seen; i++) {
            seen = strcmp(addrs[i], a) == 0;
        }
        if (!seen && n < max) {
            memcpy(addrs[n++], a, sizeof(a));
        }
    }
    return n;
}

bool gw_cluster_hb_channel(const chat_redis_cluster_map_t *map, const char *fallback_host,
                           const char *gateway_id, const char *node_addr, char *buf, size_t len)
{
    char owner[GW_CLUSTER_ADDR_LEN];
    bool serves = false;

    /* a node that serves no slot (a new one, an ASK target) would cost the whole search
     * below on the loop thread: answer it at once */
    for (size_t i = 0; map != NULL && !serves && i < chat_redis_cluster_map_node_count(map); i++) {
        const chat_redis_cluster_node_t *n = chat_redis_cluster_map_node(map, i);
        gw_cluster_addr(n->host, n->port, fallback_host, owner, sizeof(owner));
        serves = strcmp(owner, node_addr) == 0;
    }
    for (int k = 0; serves && k < 65536; k++) {
        snprintf(buf, len, "chat:gw:%s:{hb%d}", gateway_id, k);
        if (gw_cluster_owner(map, fallback_host, buf, strlen(buf), owner, sizeof(owner)) &&
            strcmp(owner, node_addr) == 0) {
            return true;
        }
    }
    if (len > 0) {
        buf[0] = '\0';
    }
    return false;
}
