/*
 * redis_cluster.c - Redis Cluster groundwork (contract in redis_cluster.h): key slots,
 * MOVED/ASK parsing and the CLUSTER SLOTS slot map. Pure functions over their
 * arguments, no I/O, no globals: any thread (a map has one owner at a time).
 * Relies on: hiredis's redisReply layout (only read), error.h.
 */
#include "chat/redis_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat/grow.h"

#define REDIS_CLUSTER__NO_NODE UINT16_MAX /* a slot without a master */

struct chat_redis_cluster_map {
    uint16_t owner[CHAT_REDIS_CLUSTER_SLOTS]; /* slot -> index in nodes, or NO_NODE */
    chat_redis_cluster_node_t *nodes;
    size_t n_nodes;
    size_t cap_nodes;
};

uint16_t chat_redis_cluster_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((uint16_t)(unsigned char)buf[i] << 8);
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000) != 0 ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
        }
    }
    return crc;
}

unsigned int chat_redis_cluster_key_slot(const char *key, size_t len)
{
    size_t open = 0;
    size_t close = 0;

    /* the first '{', then the first '}' after it; an empty tag hashes the whole key */
    for (open = 0; open < len && key[open] != '{'; open++) {
    }
    if (open < len) {
        for (close = open + 1; close < len && key[close] != '}'; close++) {
        }
        if (close < len && close > open + 1) {
            return chat_redis_cluster_crc16(key + open + 1, close - open - 1) &
                (CHAT_REDIS_CLUSTER_SLOTS - 1);
        }
    }
    return chat_redis_cluster_crc16(key, len) & (CHAT_REDIS_CLUSTER_SLOTS - 1);
}

/* Parses an unsigned decimal of [s, s + len) in [0, max]. 0 or -1. */
static int redis_cluster__uint(const char *s, size_t len, long max, long *out)
{
    long v = 0;

    if (len == 0 || len > 10) {
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Splits "host:port" at the last ':' into host (NUL-terminated) and port. 0 or -1. */
static int redis_cluster__endpoint(const char *s, size_t len, char *host, int *port)
{
    size_t colon = len;
    long p = 0;

    while (colon > 0 && s[colon - 1] != ':') {
        colon--;
    }
    if (colon == 0) {
        return -1; /* no ':' at all */
    }
    colon--; /* index of the last ':' */
    if (colon >= CHAT_REDIS_CLUSTER_HOST_LEN ||
        redis_cluster__uint(s + colon + 1, len - colon - 1, 65535, &p) != 0 || p == 0) {
        return -1;
    }
    memcpy(host, s, colon);
    host[colon] = '\0';
    *port = (int)p;
    return 0;
}

chat_err_t chat_redis_cluster_parse_redirect(const char *err, size_t len,
                                             chat_redis_redirect_t *out)
{
    chat_redis_redirect_t r;
    const char *p = err;
    const char *end = NULL;
    const char *sp = NULL;
    long slot = 0;

    if (err == NULL || out == NULL) {
        return CHAT_ERR_INVALID;
    }
    end = err + len;
    memset(&r, 0, sizeof(r));
    if (p < end && *p == '-') {
        p++;
    }
    if ((size_t)(end - p) > 6 && memcmp(p, "MOVED ", 6) == 0) {
        r.kind = CHAT_REDIS_REDIRECT_MOVED;
        p += 6;
    } else if ((size_t)(end - p) > 4 && memcmp(p, "ASK ", 4) == 0) {
        r.kind = CHAT_REDIS_REDIRECT_ASK;
        p += 4;
    } else {
        return CHAT_ERR_NOT_FOUND;
    }
    /* tolerate the CRLF of a raw wire line */
    while (end > p && (end[-1] == '\r' || end[-1] == '\n')) {
        end--;
    }
    sp = memchr(p, ' ', (size_t)(end - p));
    if (sp == NULL ||
        redis_cluster__uint(p, (size_t)(sp - p), CHAT_REDIS_CLUSTER_SLOTS - 1, &slot) != 0 ||
        memchr(sp + 1, ' ', (size_t)(end - sp - 1)) != NULL ||
        redis_cluster__endpoint(sp + 1, (size_t)(end - sp - 1), r.host, &r.port) != 0) {
        return CHAT_ERR_INVALID;
    }
    r.slot = (unsigned int)slot;
    *out = r;
    return CHAT_OK;
}

/* Index of host:port in map->nodes, appending it when new; -1 on NOMEM. */
static long redis_cluster__node_index(chat_redis_cluster_map_t *map, const char *host, int port,
                                      const char *id)
{
    chat_redis_cluster_node_t *grown = NULL;
    chat_redis_cluster_node_t *node = NULL;

    for (size_t i = 0; i < map->n_nodes; i++) {
        if (map->nodes[i].port == port && strcmp(map->nodes[i].host, host) == 0) {
            if (id != NULL && map->nodes[i].id[0] == '\0') {
                snprintf(map->nodes[i].id, sizeof(map->nodes[i].id), "%s", id);
            }
            return (long)i;
        }
    }
    if (map->n_nodes >= REDIS_CLUSTER__NO_NODE) {
        return -1; /* more masters than slots: cannot happen with a real cluster */
    }
    grown = chat_grow(map->nodes, map->n_nodes, &map->cap_nodes, sizeof(*grown), 4);
    if (grown == NULL) {
        return -1;
    }
    map->nodes = grown;
    node = &map->nodes[map->n_nodes];
    memset(node, 0, sizeof(*node));
    snprintf(node->host, sizeof(node->host), "%s", host);
    node->port = port;
    if (id != NULL) {
        snprintf(node->id, sizeof(node->id), "%s", id);
    }
    return (long)map->n_nodes++;
}

/* Reads [host, port, id?, ...] into host/port/id (id NULL when absent). 0 or -1. */
static int redis_cluster__read_node(const redisReply *node, char *host, int *port, const char **id)
{
    const redisReply *h = NULL;
    const redisReply *p = NULL;

    if (node == NULL || node->type != REDIS_REPLY_ARRAY || node->elements < 2) {
        return -1;
    }
    h = node->element[0];
    p = node->element[1];
    if (h->type == REDIS_REPLY_NIL) {
        host[0] = '\0';
    } else if (h->type == REDIS_REPLY_STRING && h->len < CHAT_REDIS_CLUSTER_HOST_LEN &&
               memchr(h->str, '\0', h->len) == NULL) {
        memcpy(host, h->str, h->len);
        host[h->len] = '\0';
    } else {
        return -1;
    }
    if (p->type != REDIS_REPLY_INTEGER || p->integer < 1 || p->integer > 65535) {
        return -1;
    }
    *port = (int)p->integer;
    *id = NULL;
    if (node->elements >= 3 && node->element[2]->type == REDIS_REPLY_STRING &&
        node->element[2]->len == CHAT_REDIS_CLUSTER_ID_LEN - 1) {
        *id = node->element[2]->str;
    }
    return 0;
}

chat_err_t chat_redis_cluster_map_create(const redisReply *slots_reply,
                                         chat_redis_cluster_map_t **out)
{
    chat_redis_cluster_map_t *map = NULL;
    chat_err_t rc = CHAT_ERR_INVALID;
    char host[CHAT_REDIS_CLUSTER_HOST_LEN];

    if (out == NULL) {
        return CHAT_ERR_INVALID;
    }
    *out = NULL;
    if (slots_reply == NULL || slots_reply->type != REDIS_REPLY_ARRAY) {
        return CHAT_ERR_INVALID;
    }
    map = calloc(1, sizeof(*map));
    if (map == NULL) {
        return CHAT_ERR_NOMEM;
    }
    for (size_t s = 0; s < CHAT_REDIS_CLUSTER_SLOTS; s++) {
        map->owner[s] = REDIS_CLUSTER__NO_NODE;
    }
    for (size_t i = 0; i < slots_reply->elements; i++) {
        const redisReply *range = slots_reply->element[i];
        const char *id = NULL;
        int port = 0;
        long idx = 0;

        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
            range->element[0]->type != REDIS_REPLY_INTEGER ||
            range->element[1]->type != REDIS_REPLY_INTEGER) {
            goto cleanup;
        }
        long long start = range->element[0]->integer;
        long long stop = range->element[1]->integer;
        if (start < 0 || stop >= CHAT_REDIS_CLUSTER_SLOTS || start > stop ||
            redis_cluster__read_node(range->element[2], host, &port, &id) != 0) {
            goto cleanup;
        }
        idx = redis_cluster__node_index(map, host, port, id);
        if (idx < 0) {
            rc = CHAT_ERR_NOMEM;
            goto cleanup;
        }
        for (long long s = start; s <= stop; s++) {
            if (map->owner[s] != REDIS_CLUSTER__NO_NODE) {
                goto cleanup; /* two masters claim one slot */
            }
            map->owner[s] = (uint16_t)idx;
        }
    }
    *out = map;
    map = NULL;
    rc = CHAT_OK;
cleanup:
    chat_redis_cluster_map_destroy(map);
    return rc;
}

void chat_redis_cluster_map_destroy(chat_redis_cluster_map_t *map)
{
    if (map == NULL) {
        return;
    }
    free(map->nodes);
    free(map);
}

const chat_redis_cluster_node_t *
chat_redis_cluster_map_lookup_slot(const chat_redis_cluster_map_t *map, unsigned int slot)
{
    if (map == NULL || slot >= CHAT_REDIS_CLUSTER_SLOTS ||
        map->owner[slot] == REDIS_CLUSTER__NO_NODE) {
        return NULL;
    }
    return &map->nodes[map->owner[slot]];
}

const chat_redis_cluster_node_t *
chat_redis_cluster_map_lookup_key(const chat_redis_cluster_map_t *map, const char *key, size_t len)
{
    if (key == NULL) {
        return NULL;
    }
    return chat_redis_cluster_map_lookup_slot(map, chat_redis_cluster_key_slot(key, len));
}

size_t chat_redis_cluster_map_node_count(const chat_redis_cluster_map_t *map)
{
    return map != NULL ? map->n_nodes : 0;
}

bool chat_redis_cluster_map_covers_all(const chat_redis_cluster_map_t *map)
{
    if (map == NULL) {
        return false;
    }
    for (size_t s = 0; s < CHAT_REDIS_CLUSTER_SLOTS; s++) {
        if (map->owner[s] == REDIS_CLUSTER__NO_NODE) {
            return false;
        }
    }
    return true;
}

chat_err_t chat_redis_cluster_map_apply_moved(chat_redis_cluster_map_t *map,
                                              const chat_redis_redirect_t *moved)
{
    long idx = 0;

    if (map == NULL || moved == NULL || moved->kind != CHAT_REDIS_REDIRECT_MOVED ||
        moved->slot >= CHAT_REDIS_CLUSTER_SLOTS) {
        return CHAT_ERR_INVALID;
    }
    idx = redis_cluster__node_index(map, moved->host, moved->port, NULL);
    if (idx < 0) {
        return CHAT_ERR_NOMEM;
    }
    map->owner[moved->slot] = (uint16_t)idx;
    return CHAT_OK;
}

const chat_redis_cluster_node_t *chat_redis_cluster_map_node(const chat_redis_cluster_map_t *map,
                                                             size_t i)
{
    return map != NULL && i < map->n_nodes ? &map->nodes[i] : NULL;
}

/* Case-insensitive equality of a counted string with a C string. */
static bool redis_cluster__is(const char *s, size_t len, const char *name)
{
    return strlen(name) == len && strncasecmp(s, name, len) == 0;
}

int chat_redis_cluster_key_index(int argc, const char **argv, const size_t *argvlen)
{
    static const char *const keyless[] = {
        "PING",         "INFO",     "SCRIPT",  "CLIENT",   "CLUSTER",   "FLUSHDB",
        "FLUSHALL",     "TIME",     "DBSIZE",  "ECHO",     "CONFIG",    "DEBUG",
        "COMMAND",      "SELECT",   "AUTH",    "HELLO",    "READONLY",  "READWRITE",
        "ASKING",       "ROLE",     "WAIT",    "LASTSAVE", "SAVE",      "BGSAVE",
        "BGREWRITEAOF", "MULTI",    "EXEC",    "DISCARD",  "RANDOMKEY", "SCAN",
        "KEYS",         "FUNCTION", "LATENCY", "SLOWLOG",  "MEMORY",    "QUIT"};
    static const char *const evals[] = {"EVAL",       "EVALSHA", "EVAL_RO",
                                        "EVALSHA_RO", "FCALL",   "FCALL_RO"};
    size_t len0 = 0;

    if (argc < 1 || argv == NULL || argv[0] == NULL) {
        return CHAT_REDIS_CLUSTER_BADCMD;
    }
    len0 = argvlen != NULL ? argvlen[0] : strlen(argv[0]);
    for (size_t i = 0; i < sizeof(evals) / sizeof(evals[0]); i++) {
        if (redis_cluster__is(argv[0], len0, evals[i])) {
            long numkeys = 0;
            size_t len2 = argc >= 3 ? (argvlen != NULL ? argvlen[2] : strlen(argv[2])) : 0;
            if (argc < 3 || redis_cluster__uint(argv[2], len2, 1000000L, &numkeys) != 0 ||
                numkeys > argc - 3) {
                return CHAT_REDIS_CLUSTER_BADCMD;
            }
            return numkeys > 0 ? 3 : CHAT_REDIS_CLUSTER_KEYLESS;
        }
    }
    for (size_t i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++) {
        if (redis_cluster__is(argv[0], len0, keyless[i])) {
            return CHAT_REDIS_CLUSTER_KEYLESS;
        }
    }
    return argc >= 2 ? 1 : CHAT_REDIS_CLUSTER_KEYLESS;
}

/* Reads "<prefix><decimal>\r\n" at *p (< end) and advances *p past it. 0 or -1. */
static int redis_cluster__resp_len(const char **p, const char *end, char prefix, long *out)
{
    const char *s = *p;
    const char *cr = NULL;

    if (s >= end || *s != prefix) {
        return -1;
    }
    s++;
    cr = memchr(s, '\r', (size_t)(end - s));
    if (cr == NULL || cr + 1 >= end || cr[1] != '\n' ||
        redis_cluster__uint(s, (size_t)(cr - s), 512L * 1024 * 1024, out) != 0) {
        return -1;
    }
    *p = cr + 2;
    return 0;
}

chat_err_t chat_redis_cluster_parse_command(const char *buf, size_t len, int *argc,
                                            const char ***argv, size_t **argvlen)
{
    const char *p = buf;
    const char *end = NULL;
    const char **a = NULL;
    size_t *l = NULL;
    long n = 0;

    if (buf == NULL || argc == NULL || argv == NULL || argvlen == NULL) {
        return CHAT_ERR_INVALID;
    }
    end = buf + len;
    if (redis_cluster__resp_len(&p, end, '*', &n) != 0 || n < 1 || n > 1000000L ||
        (size_t)n > len) {
        return CHAT_ERR_INVALID;
    }
    a = malloc((size_t)n * sizeof(*a));
    l = malloc((size_t)n * sizeof(*l));
    if (a == NULL || l == NULL) {
        free(a);
        free(l);
        return CHAT_ERR_NOMEM;
    }
    for (long i = 0; i < n; i++) {
        long blen = 0;
        if (redis_cluster__resp_len(&p, end, '$', &blen) != 0 ||
            (size_t)(end - p) < (size_t)blen + 2 || p[blen] != '\r' || p[blen + 1] != '\n') {
            free(a);
            free(l);
            return CHAT_ERR_INVALID;
        }
        a[i] = p;
        l[i] = (size_t)blen;
        p += blen + 2;
    }
    if (p != end) {
        free(a);
        free(l);
        return CHAT_ERR_INVALID;
    }
    *argc = (int)n;
    *argv = a;
    *argvlen = l;
    return CHAT_OK;
}

bool chat_redis_cluster_transient_error(const char *err, size_t len)
{
    static const char *const words[] = {"TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "LOADING"};

    for (size_t i = 0; err != NULL && i < sizeof(words) / sizeof(words[0]); i++) {
        size_t n = strlen(words[i]);
        if (len >= n && memcmp(err, words[i], n) == 0 && (len == n || err[n] == ' ')) {
            return true;
        }
    }
    return false;
}
