/*
 * sub_retry.c - the retry list of subscription requests (see sub_retry.h).
 *
 * Threads: loop thread only. Relies on: chat/clock.h, subscription_internal.h (gw_sub_t).
 */
#include "sub_retry.h"

#include <stddef.h>

#include "chat/clock.h"
#include "subscription_internal.h"

#define SUB_RETRY_MIN_MS 250
#define SUB_RETRY_MAX_MS 5000

void gw_sub_retry_unlink(gw_t *gw, gw_sub_t *sub)
{
    if (!sub->in_retry) {
        return;
    }
    if (sub->retry_prev != NULL) {
        sub->retry_prev->retry_next = sub->retry_next;
    } else {
        gw->sub_retry_head = sub->retry_next;
    }
    if (sub->retry_next != NULL) {
        sub->retry_next->retry_prev = sub->retry_prev;
    }
    sub->retry_prev = sub->retry_next = NULL;
    sub->in_retry = false;
}

void gw_sub_retry_schedule(gw_t *gw, gw_sub_t *sub, int kind)
{
    gw_sub_retry_unlink(gw, sub);
    sub->retry_backoff_ms =
        sub->retry_backoff_ms == 0 ? SUB_RETRY_MIN_MS : sub->retry_backoff_ms * 2;
    if (sub->retry_backoff_ms > SUB_RETRY_MAX_MS) {
        sub->retry_backoff_ms = SUB_RETRY_MAX_MS;
    }
    sub->retry_at_ms = chat_clock_monotonic_ms() + sub->retry_backoff_ms;
    sub->retry_kind = kind;
    sub->in_retry = true;
    sub->retry_prev = NULL;
    sub->retry_next = gw->sub_retry_head;
    if (gw->sub_retry_head != NULL) {
        gw->sub_retry_head->retry_prev = sub;
    }
    gw->sub_retry_head = sub;
}

void gw_sub_retry_run_due(gw_t *gw, int64_t now_ms, void (*fn)(gw_sub_t *sub, int kind))
{
    gw_sub_t *sub = gw->sub_retry_head;

    while (sub != NULL) {
        gw_sub_t *next = sub->retry_next; /* fn only ever moves sub itself */
        if (sub->retry_at_ms <= now_ms) {
            gw_sub_retry_unlink(gw, sub);
            fn(sub, sub->retry_kind);
        }
        sub = next;
    }
}
