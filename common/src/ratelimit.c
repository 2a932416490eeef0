/*
 * ratelimit.c - token buckets. The shared bucket lives in Redis as a hash
 * {tokens, ts_ms} updated by one Lua script that reads Redis's own clock, so every
 * process sees one bucket and no two hosts' clocks disagree. While Redis is down each
 * process falls back to a bounded local table (LRU eviction) with the same rule.
 *
 * Threads: chat_ratelimit_check runs on the thread that owns its chat_redis_t
 * (rest-fcgi request loop); a chat_local_limiter_t belongs to one thread (it has no
 * lock). The gateway runs CHAT_RATELIMIT_LUA through hiredis async on its loop and
 * decodes with chat_ratelimit_parse_reply.
 */
#include "chat/ratelimit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/clock.h"
#include "chat/hash.h"
#include "chat/keys.h"

/* Bucket refill is continuous: tokens += elapsed_ms * rate / 1000, capped at burst.
 * A missing or expired key is a full bucket. The key expires once a full refill has
 * passed (plus a second), so idle subjects cost no memory. Returns {allowed, retry_ms}.
 * TIME makes the script non-deterministic; Redis 5+ replicates its effects, not the
 * script, so that is allowed. */
int chat_ratelimit_parse_reply(const redisReply *reply, bool *allowed, int64_t *retry_after_ms)
{
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
        return -1;
    }
    *allowed = reply->element[0]->integer == 1;
    *retry_after_ms = reply->element[1]->integer < 0 ? 0 : reply->element[1]->integer;
    return 0;
}

/* ---- local fallback: open addressing (linear probing) over an entry pool with an
 *      intrusive LRU list; evicting is O(1), deleting shifts the probe run back. ---- */

typedef struct limiter__entry {
    char key[CHAT_KEY_LEN]; /* longer keys are truncated consistently */
    double tokens;
    int64_t ts_ms;
    uint32_t prev; /* LRU neighbours (LIMITER__NONE at the ends); head = most recent */
    uint32_t next;
    uint32_t slot; /* where the table points at this entry */
} limiter__entry_t;

#define LIMITER__NONE UINT32_MAX
#define LIMITER__CAPACITY_MAX (1u << 24)

struct chat_local_limiter {
    limiter__entry_t *entries;
    uint32_t *slots; /* entry index or LIMITER__NONE; nslots is a power of two */
    uint32_t nslots;
    uint32_t capacity;
    uint32_t used;
    uint32_t head;
    uint32_t tail;
};

chat_local_limiter_t *chat_local_limiter_create(size_t capacity)
{
    chat_local_limiter_t *l = NULL;
    uint32_t nslots = 16;

    if (capacity == 0 || capacity > LIMITER__CAPACITY_MAX) {
        return NULL;
    }
    while (nslots < 2 * capacity) {
        nslots *= 2;
    }
    l = calloc(1, sizeof(*l));
    if (l == NULL) {
        return NULL;
    }
    l->entries = calloc(capacity, sizeof(*l->entries));
    l->slots = malloc(nslots * sizeof(*l->slots));
    if (l->entries == NULL || l->slots == NULL) {
        chat_local_limiter_destroy(l);
        return NULL;
    }
    memset(l->slots, 0xff, nslots * sizeof(*l->slots)); /* all LIMITER__NONE */
    l->nslots = nslots;
    l->capacity = (uint32_t)capacity;
    l->head = LIMITER__NONE;
    l->tail = LIMITER__NONE;
    return l;
}

void chat_local_limiter_destroy(chat_local_limiter_t *l)
{
    if (l == NULL) {
        return;
    }
    free(l->entries);
    free(l->slots);
    free(l);
}

static uint32_t limiter__hash(const char *key)
{
    return chat_hash_fnv1a32_update(CHAT_HASH_FNV1A32_BASIS, key, strnlen(key, CHAT_KEY_LEN - 1));
}

static void limiter__unlink(chat_local_limiter_t *l, uint32_t e)
{
    limiter__entry_t *en = &l->entries[e];

    if (en->prev != LIMITER__NONE) {
        l->entries[en->prev].next = en->next;
    } else {
        l->head = en->next;
    }
    if (en->next != LIMITER__NONE) {
        l->entries[en->next].prev = en->prev;
    } else {
        l->tail = en->prev;
    }
    en->prev = LIMITER__NONE;
    en->next = LIMITER__NONE;
}

static void limiter__push_front(chat_local_limiter_t *l, uint32_t e)
{
    limiter__entry_t *en = &l->entries[e];

    en->prev = LIMITER__NONE;
    en->next = l->head;
    if (l->head != LIMITER__NONE) {
        l->entries[l->head].prev = e;
    }
    l->head = e;
    if (l->tail == LIMITER__NONE) {
        l->tail = e;
    }
}

/* Removes the table slot of entry e, shifting later members of its probe run back so
 * lookups never stop early at a hole (Knuth's algorithm R). */
static void limiter__slot_delete(chat_local_limiter_t *l, uint32_t e)
{
    uint32_t mask = l->nslots - 1;
    uint32_t hole = l->entries[e].slot;
    uint32_t i = hole;

    l->slots[hole] = LIMITER__NONE;
    for (uint32_t step = 0; step < l->nslots; step++) {
        uint32_t other;
        uint32_t home;

        i = (i + 1) & mask;
        other = l->slots[i];
        if (other == LIMITER__NONE) {
            return;
        }
        home = limiter__hash(l->entries[other].key) & mask;
        /* move other into the hole unless its home lies cyclically in (hole, i] */
        if ((i > hole && (home <= hole || home > i)) || (i < hole && home <= hole && home > i)) {
            l->slots[hole] = other;
            l->entries[other].slot = hole;
            l->slots[i] = LIMITER__NONE;
            hole = i;
        }
    }
}

/* Index of key's entry, creating it (evicting the least recently used when full). */
static uint32_t limiter__get(chat_local_limiter_t *l, const char *key, double burst, int64_t now_ms)
{
    uint32_t mask = l->nslots - 1;
    uint32_t i = limiter__hash(key) & mask;
    uint32_t e;

    for (uint32_t step = 0; step < l->nslots; step++, i = (i + 1) & mask) {
        e = l->slots[i];
        if (e == LIMITER__NONE) {
            break;
        }
        if (strncmp(l->entries[e].key, key, CHAT_KEY_LEN - 1) == 0) {
            limiter__unlink(l, e);
            limiter__push_front(l, e);
            return e;
        }
    }
    if (l->used < l->capacity) {
        e = l->used++;
    } else {
        e = l->tail;
        limiter__slot_delete(l, e);
        limiter__unlink(l, e);
        /* the deletion may have shifted entries: find a free slot again */
        i = limiter__hash(key) & mask;
        while (l->slots[i] != LIMITER__NONE) {
            i = (i + 1) & mask;
        }
    }
    snprintf(l->entries[e].key, sizeof(l->entries[e].key), "%s", key);
    l->entries[e].tokens = burst;
    l->entries[e].ts_ms = now_ms;
    l->entries[e].slot = i;
    l->slots[i] = e;
    limiter__push_front(l, e);
    return e;
}

/* Milliseconds until `missing` tokens have accrued at rate_per_sec, rounded up, >= 1.
 * (No libm: the library links without -lm.) */
static int64_t limiter__wait_ms(double missing, double rate_per_sec)
{
    double ms = missing * 1000 / rate_per_sec;
    int64_t whole;

    if (!(ms < 9e15)) {
        return INT64_C(9000000000000000);
    }
    whole = (int64_t)ms;
    if ((double)whole < ms) {
        whole++;
    }
    return whole < 1 ? 1 : whole;
}

bool chat_local_limiter_take(chat_local_limiter_t *l, const char *key, double rate_per_sec,
                             double burst, int64_t now_ms, int64_t *retry_after_ms)
{
    limiter__entry_t *en = NULL;

    if (retry_after_ms != NULL) {
        *retry_after_ms = 0;
    }
    if (l == NULL || key == NULL || !(rate_per_sec > 0)) {
        return true;
    }
    if (!(burst >= 1)) {
        burst = 1;
    }
    en = &l->entries[limiter__get(l, key, burst, now_ms)];
    if (now_ms > en->ts_ms) {
        double refilled = en->tokens + (double)(now_ms - en->ts_ms) * rate_per_sec / 1000;

        en->tokens = refilled < burst ? refilled : burst;
        en->ts_ms = now_ms;
    }
    if (en->tokens >= 1) {
        en->tokens -= 1;
        return true;
    }
    if (retry_after_ms != NULL) {
        *retry_after_ms = limiter__wait_ms(1 - en->tokens, rate_per_sec);
    }
    return false;
}

bool chat_ratelimit_check(chat_redis_t *redis, chat_local_limiter_t *local, const char *key,
                          double rate_per_sec, double burst, int64_t *retry_after_ms)
{
    redisReply *reply = NULL;
    bool allowed = true;
    int64_t retry = 0;
    char rate_s[32];
    char burst_s[32];

    if (retry_after_ms != NULL) {
        *retry_after_ms = 0;
    }
    if (!(rate_per_sec > 0) || key == NULL) {
        return true;
    }
    if (!(burst >= 1)) {
        burst = 1;
    }
    snprintf(rate_s, sizeof(rate_s), "%.17g", rate_per_sec);
    snprintf(burst_s, sizeof(burst_s), "%.17g", burst);
    if (redis != NULL) {
        const char *argv[4] = {key, rate_s, burst_s, "1"};
        reply = chat_redis_eval(redis, CHAT_SCRIPT_RATELIMIT, 1, 4, argv, NULL);
    }
    if (reply != NULL && chat_ratelimit_parse_reply(reply, &allowed, &retry) == 0) {
        freeReplyObject(reply);
        if (!allowed && retry_after_ms != NULL) {
            *retry_after_ms = retry;
        }
        return allowed;
    }
    if (reply != NULL) {
        freeReplyObject(reply); /* an error reply: treat Redis as unusable for this one */
    }
    return chat_local_limiter_take(local, key, rate_per_sec, burst, chat_clock_monotonic_ms(),
                                   retry_after_ms);
}
