/*
 * room_dedupe.c - the duplicate check on room channel messages, before any parse or
 * copy (see room_dedupe.h for why).
 *
 * Threads: loop thread (the peek is pure). Relies on: room_registry.h (gw_registry_find:
 * the room's last delivered seq), gateway_metrics.h (delivery_seconds), chat/clock.h.
 */
#include "room_dedupe.h"

#include <string.h>

#include "chat/clock.h"
#include "gateway_metrics.h"
#include "room_registry.h"

#define DEDUPE__SEQ_DIGITS_MAX 18 /* below INT64_MAX whatever the digits */
#define DEDUPE__TS_MAX 40

/* The value after the member name key (`"name":`), or NULL. */
static const char *dedupe__value(const char *payload, size_t len, const char *key, size_t key_len,
                                 size_t *left)
{
    const char *p = memmem(payload, len, key, key_len);

    if (p == NULL) {
        return NULL;
    }
    p += key_len;
    *left = len - (size_t)(p - payload);
    return p;
}

static bool dedupe__is_message(const char *payload, size_t len)
{
    static const char key[] = "\"type\":\"";
    size_t left = 0;
    const char *v = dedupe__value(payload, len, key, sizeof(key) - 1, &left);

#define DEDUPE__IS(word) (left >= sizeof(word) && memcmp(v, word "\"", sizeof(word)) == 0)
    return v != NULL && (DEDUPE__IS("text") || DEDUPE__IS("system"));
#undef DEDUPE__IS
}

/* The "seq" member's value when it is a whole non-negative integer of at most
 * DEDUPE__SEQ_DIGITS_MAX digits. */
static bool dedupe__seq(const char *payload, size_t len, int64_t *out)
{
    static const char key[] = "\"seq\":";
    size_t left = 0;
    size_t n = 0;
    uint64_t seq = 0; /* 19 digits fit: no overflow before the length check */
    const char *v = dedupe__value(payload, len, key, sizeof(key) - 1, &left);

    if (v == NULL) {
        return false;
    }
    while (n < left && n <= DEDUPE__SEQ_DIGITS_MAX && v[n] >= '0' && v[n] <= '9') {
        seq = seq * 10 + (uint64_t)(v[n] - '0');
        n++;
    }
    /* a whole integer member, nothing else: `,` or `}` must follow its digits */
    if (n == 0 || n > DEDUPE__SEQ_DIGITS_MAX || n >= left || (v[n] != ',' && v[n] != '}') ||
        (n > 1 && v[0] == '0')) {
        return false;
    }
    *out = (int64_t)seq;
    return true;
}

static void dedupe__timestamp(const char *payload, size_t len, gw_room_dedupe_head_t *out)
{
    static const char key[] = "\"timestamp\":\"";
    size_t left = 0;
    const char *v = dedupe__value(payload, len, key, sizeof(key) - 1, &left);
    const char *end;

    out->timestamp = NULL;
    out->timestamp_len = 0;
    if (v == NULL) {
        return;
    }
    /* an RFC 3339 time has no escapes: a value with one is not ours */
    end = memchr(v, '"', left < DEDUPE__TS_MAX ? left : DEDUPE__TS_MAX);
    if (end != NULL && memchr(v, '\\', (size_t)(end - v)) == NULL) {
        out->timestamp = v;
        out->timestamp_len = (size_t)(end - v);
    }
}

bool gw_room_dedupe_peek(const char *payload, size_t len, gw_room_dedupe_head_t *out)
{
    if (payload == NULL || !dedupe__is_message(payload, len) ||
        !dedupe__seq(payload, len, &out->seq)) {
        return false;
    }
    dedupe__timestamp(payload, len, out);
    return true;
}

bool gw_room_dedupe_drop_stale(gw_t *gw, const char *room_id, const char *payload, size_t len)
{
    const gw_room_t *room = gw_registry_find(gw->registry, room_id);
    gw_room_dedupe_head_t head;
    char ts[DEDUPE__TS_MAX + 1];
    int64_t stored_ms = 0;
    int64_t last;

    /* gw_room_dedupe_peek in the cheapest order: a new message (the common case) costs
     * one scan for its seq */
    if (room == NULL || !gw_registry_room_last(room, &last) || payload == NULL ||
        !dedupe__seq(payload, len, &head.seq) || head.seq > last ||
        !dedupe__is_message(payload, len)) {
        return false;
    }
    /* counted as gw_registry_on_channel_message counts every room message */
    dedupe__timestamp(payload, len, &head);
    if (head.timestamp != NULL) {
        memcpy(ts, head.timestamp, head.timestamp_len);
        ts[head.timestamp_len] = '\0';
        if (chat_clock_parse_rfc3339(ts, &stored_ms) == 0) {
            chat_hist_observe(&gw->metrics->delivery_seconds,
                              (double)(chat_clock_now_ms() - stored_ms) / 1000.0);
        }
    }
    return true;
}
