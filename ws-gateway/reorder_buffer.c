/*
 * reorder_buffer.c - a room's bounded buffer of out-of-order seqs and the in-order
 * delivery rule (see the header). Pure: memory and frame references only.
 *
 * Threads: loop thread only (the owning room's).
 */
#include "reorder_buffer.h"

#include <stdlib.h>
#include <string.h>

#include "chat/grow.h"

void gw_reorder_init(gw_reorder_t *rb, uint32_t max)
{
    memset(rb, 0, sizeof(*rb));
    rb->max = max;
}

void gw_reorder_clear(gw_reorder_t *rb)
{
    for (uint32_t i = 0; i < rb->n; i++) {
        gw_frame_unref(rb->buf[i].frame);
    }
    free(rb->buf);
    rb->buf = NULL;
    rb->n = rb->cap = 0;
    rb->overflow = false;
}

void gw_reorder_insert(gw_reorder_t *rb, int64_t seq, gw_frame_t *frame)
{
    uint32_t lo = 0;
    uint32_t hi = rb->n;

    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (rb->buf[mid].seq < seq) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    if (lo < rb->n && rb->buf[lo].seq == seq) {
        return; /* already waiting */
    }
    if (rb->n >= rb->max) {
        rb->overflow = true; /* the backfill reads what is dropped here */
        if (lo >= rb->n) {
            return;
        }
        gw_frame_unref(rb->buf[rb->n - 1].frame);
        rb->n--;
    }
    {
        gw_buffered_t *b = chat_grow(rb->buf, rb->n, &rb->cap, sizeof(*b), 8);
        if (b == NULL) {
            rb->overflow = true;
            return;
        }
        rb->buf = b;
    }
    memmove(rb->buf + lo + 1, rb->buf + lo, (rb->n - lo) * sizeof(*rb->buf));
    rb->buf[lo].seq = seq;
    rb->buf[lo].frame = gw_frame_ref(frame);
    rb->n++;
}

void gw_reorder_drain(gw_reorder_t *rb, int64_t *last, gw_reorder_deliver_fn *deliver, void *arg)
{
    uint32_t k = 0;

    while (k < rb->n && rb->buf[k].seq <= *last + 1) {
        if (rb->buf[k].seq == *last + 1) {
            deliver(arg, rb->buf[k].seq, rb->buf[k].frame);
            *last = rb->buf[k].seq;
        }
        gw_frame_unref(rb->buf[k].frame);
        k++;
    }
    if (k > 0) {
        memmove(rb->buf, rb->buf + k, (rb->n - k) * sizeof(*rb->buf));
        rb->n -= k;
    }
}

gw_reorder_result_t gw_reorder_offer(gw_reorder_t *rb, int64_t *last, int64_t seq,
                                     gw_frame_t *frame, gw_reorder_deliver_fn *deliver, void *arg)
{
    if (seq <= *last) {
        return GW_REORDER_DUPLICATE; /* already delivered */
    }
    if (seq == *last + 1) {
        deliver(arg, seq, frame);
        *last = seq;
        gw_reorder_drain(rb, last, deliver, arg);
        return GW_REORDER_DELIVERED;
    }
    gw_reorder_insert(rb, seq, frame);
    return GW_REORDER_BUFFERED;
}

bool gw_reorder_waiting(const gw_reorder_t *rb)
{
    return rb->n > 0 || rb->overflow;
}

int64_t gw_reorder_highest(const gw_reorder_t *rb, int64_t last)
{
    return rb->n > 0 && rb->buf[rb->n - 1].seq > last ? rb->buf[rb->n - 1].seq : last;
}

bool gw_reorder_page_more(int64_t last, size_t page_n, int64_t head)
{
    /* pages are capped by history.h: never trust their size to mean "the end" */
    return page_n > 0 && last < head;
}
