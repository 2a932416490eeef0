/*
 * test_gw_reorder.c - a room's ordering state without a socket: the reorder buffer and
 * its gap detection (in order, out of order, duplicates, overflow, a late first seq),
 * the recent-frame ring that serves resumes, and the deadline set behind the gap and
 * linger timers. Includes the ws-gateway .c files it tests; frames are real
 * reference-counted gw_frame_t, so a leaked or doubly dropped reference shows.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ws-gateway/deadline_set.c"
#include "../../ws-gateway/recent_frames.c"
#include "../../ws-gateway/reorder_buffer.c"
#include "../../ws-gateway/shared_frame.c"

/* shared_frame.c classifies frames for /metrics; the class does not matter here */
gw_frame_out_t gw_metrics_out_type(const char *payload, size_t len)
{
    (void)payload;
    (void)len;
    return GW_OUT_OTHER;
}

#define MAXF 64

typedef struct rec {
    int64_t seqs[MAXF];
    size_t n;
} rec_t;

/* gw_reorder_deliver_fn: records the seq and checks the frame is that seq's */
static void record(void *arg, int64_t seq, gw_frame_t *frame)
{
    rec_t *r = arg;
    char want[32];

    snprintf(want, sizeof(want), "m%lld", (long long)seq);
    assert_string_equal((const char *)gw_frame_payload(frame), want);
    assert_true(r->n < MAXF);
    r->seqs[r->n++] = seq;
}

static gw_frame_t *fr[MAXF];

static void frames_make(void)
{
    for (int i = 0; i < MAXF; i++) {
        char p[32];
        snprintf(p, sizeof(p), "m%d", i);
        fr[i] = gw_frame_new(p, strlen(p));
        assert_non_null(fr[i]);
    }
}

/* every frame is back to the test's own reference: nothing kept, nothing lost */
static void frames_check_free(void)
{
    for (int i = 0; i < MAXF; i++) {
        assert_int_equal(fr[i]->refs, 1);
        gw_frame_unref(fr[i]);
        fr[i] = NULL;
    }
}

static void expect_seqs(const rec_t *r, const int64_t *want, size_t n)
{
    assert_int_equal(r->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(r->seqs[i], want[i]);
    }
}

static void test_in_order(void **state)
{
    gw_reorder_t rb;
    rec_t got = {0};
    int64_t last = 0;
    const int64_t want[] = {1, 2, 3};

    (void)state;
    frames_make();
    gw_reorder_init(&rb, 8);
    for (int s = 1; s <= 3; s++) {
        assert_int_equal(gw_reorder_offer(&rb, &last, s, fr[s], record, &got),
                         GW_REORDER_DELIVERED);
        assert_int_equal(last, s);
        assert_false(gw_reorder_waiting(&rb));
    }
    expect_seqs(&got, want, 3);
    assert_int_equal(rb.n, 0);
    assert_int_equal(gw_reorder_highest(&rb, last), 3);
    gw_reorder_clear(&rb);
    frames_check_free();
}

static void test_out_of_order_and_gap(void **state)
{
    gw_reorder_t rb;
    rec_t got = {0};
    int64_t last = 10;
    const int64_t want[] = {11, 12, 13, 14};

    (void)state;
    frames_make();
    gw_reorder_init(&rb, 8);
    /* 13 and 14 before 11 and 12: a gap, nothing delivered, both kept in order */
    assert_int_equal(gw_reorder_offer(&rb, &last, 14, fr[14], record, &got), GW_REORDER_BUFFERED);
    assert_int_equal(gw_reorder_offer(&rb, &last, 13, fr[13], record, &got), GW_REORDER_BUFFERED);
    assert_int_equal(got.n, 0);
    assert_int_equal(last, 10);
    assert_true(gw_reorder_waiting(&rb));
    assert_int_equal(rb.n, 2);
    assert_int_equal(rb.buf[0].seq, 13);
    assert_int_equal(rb.buf[1].seq, 14);
    assert_int_equal(fr[13]->refs, 2); /* the buffer holds a reference */
    assert_int_equal(gw_reorder_highest(&rb, last), 14);
    /* 12 still leaves 11 missing */
    assert_int_equal(gw_reorder_offer(&rb, &last, 12, fr[12], record, &got), GW_REORDER_BUFFERED);
    assert_int_equal(got.n, 0);
    assert_true(gw_reorder_waiting(&rb));
    /* 11 fills the gap: 11..14 in order, the gap is closed */
    assert_int_equal(gw_reorder_offer(&rb, &last, 11, fr[11], record, &got), GW_REORDER_DELIVERED);
    expect_seqs(&got, want, 4);
    assert_int_equal(last, 14);
    assert_int_equal(rb.n, 0);
    assert_false(gw_reorder_waiting(&rb));
    /* a hole after the drained run stays buffered */
    assert_int_equal(gw_reorder_offer(&rb, &last, 16, fr[16], record, &got), GW_REORDER_BUFFERED);
    assert_int_equal(gw_reorder_offer(&rb, &last, 15, fr[15], record, &got), GW_REORDER_DELIVERED);
    assert_int_equal(last, 16);
    gw_reorder_clear(&rb);
    frames_check_free();
}

static void test_duplicates(void **state)
{
    gw_reorder_t rb;
    rec_t got = {0};
    int64_t last = 0;
    gw_frame_t *again = gw_frame_new("m5", 2);
    const int64_t want[] = {1, 2, 3, 4, 5};

    (void)state;
    frames_make();
    gw_reorder_init(&rb, 8);
    gw_reorder_offer(&rb, &last, 1, fr[1], record, &got);
    gw_reorder_offer(&rb, &last, 2, fr[2], record, &got);
    /* delivered ones: dropped, not buffered */
    assert_int_equal(gw_reorder_offer(&rb, &last, 2, fr[2], record, &got), GW_REORDER_DUPLICATE);
    assert_int_equal(gw_reorder_offer(&rb, &last, 1, fr[1], record, &got), GW_REORDER_DUPLICATE);
    assert_int_equal(gw_reorder_offer(&rb, &last, -3, fr[3], record, &got), GW_REORDER_DUPLICATE);
    assert_int_equal(rb.n, 0);
    assert_int_equal(fr[2]->refs, 1);
    /* a buffered one offered twice (another copy from Redis) is kept once */
    gw_reorder_offer(&rb, &last, 5, fr[5], record, &got);
    gw_reorder_offer(&rb, &last, 5, again, record, &got);
    assert_int_equal(rb.n, 1);
    assert_int_equal(again->refs, 1);
    gw_reorder_offer(&rb, &last, 4, fr[4], record, &got);
    gw_reorder_offer(&rb, &last, 4, fr[4], record, &got);
    gw_reorder_offer(&rb, &last, 3, fr[3], record, &got);
    expect_seqs(&got, want, 5); /* each once */
    gw_frame_unref(again);
    gw_reorder_clear(&rb);
    frames_check_free();
}

static void test_overflow(void **state)
{
    gw_reorder_t rb;
    rec_t got = {0};
    int64_t last = 0;
    const int64_t want[] = {1, 2, 3, 4, 5};

    (void)state;
    frames_make();
    gw_reorder_init(&rb, 4);
    for (int s = 3; s <= 6; s++) {
        gw_reorder_offer(&rb, &last, s, fr[s], record, &got);
    }
    assert_int_equal(rb.n, 4);
    assert_false(rb.overflow);
    /* full: a seq above all of them is given up */
    assert_int_equal(gw_reorder_offer(&rb, &last, 10, fr[10], record, &got), GW_REORDER_BUFFERED);
    assert_int_equal(rb.n, 4);
    assert_true(rb.overflow);
    assert_int_equal(fr[10]->refs, 1);
    /* full: a lower seq takes the place of the highest (6), which is released */
    gw_reorder_offer(&rb, &last, 2, fr[2], record, &got);
    assert_int_equal(rb.n, 4);
    assert_int_equal(rb.buf[0].seq, 2);
    assert_int_equal(rb.buf[3].seq, 5);
    assert_int_equal(fr[6]->refs, 1);
    assert_int_equal(gw_reorder_highest(&rb, last), 5);
    /* 1 arrives: 1..5 go out, but the gap stays open for the backfill until it has
     * read what was given up */
    gw_reorder_offer(&rb, &last, 1, fr[1], record, &got);
    expect_seqs(&got, want, 5);
    assert_int_equal(rb.n, 0);
    assert_true(gw_reorder_waiting(&rb));
    rb.overflow = false; /* what the backfill does once caught up */
    assert_false(gw_reorder_waiting(&rb));
    gw_reorder_clear(&rb);
    frames_check_free();
}

static void test_late_start_and_pages(void **state)
{
    gw_reorder_t rb;
    rec_t got = {0};
    int64_t last;
    const int64_t want[] = {4, 5};

    (void)state;
    frames_make();
    gw_reorder_init(&rb, 8);
    /* before the room's last seq is known, everything waits (even in order) */
    for (int s = 1; s <= 5; s++) {
        gw_reorder_insert(&rb, s, fr[s]);
    }
    gw_reorder_insert(&rb, 7, fr[7]);
    assert_int_equal(rb.n, 6);
    /* then the store says 3: 1..3 are old, 4 and 5 go out, 7 still waits for 6 */
    last = 3;
    gw_reorder_drain(&rb, &last, record, &got);
    expect_seqs(&got, want, 2);
    assert_int_equal(last, 5);
    assert_int_equal(rb.n, 1);
    assert_true(gw_reorder_waiting(&rb));
    gw_reorder_clear(&rb);
    assert_false(gw_reorder_waiting(&rb));
    frames_check_free();

    /* backfill paging: go on while the page was not empty and the head is ahead */
    assert_true(gw_reorder_page_more(5, 100, 7));
    assert_false(gw_reorder_page_more(7, 100, 7));
    assert_false(gw_reorder_page_more(5, 0, 7));
}

static void test_recent_ring(void **state)
{
    gw_recent_t rc = {0};
    gw_recent_budget_t budget = {0, SIZE_MAX};

    (void)state;
    frames_make();
    assert_null(gw_recent_get(&rc, 0, 0));
    gw_recent_put(&rc, 0, 1, fr[1], &budget); /* WS_ROOM_CACHE=0: nothing kept */
    assert_null(rc.frames);
    assert_int_equal(fr[1]->refs, 1);
    for (int s = 1; s <= 6; s++) {
        gw_recent_put(&rc, 4, s, fr[s], &budget);
    }
    /* holds the last four: 3..6 */
    assert_int_equal(rc.n, 4);
    assert_ptr_equal(gw_recent_get(&rc, 6, 6), fr[6]);
    assert_ptr_equal(gw_recent_get(&rc, 6, 3), fr[3]);
    assert_null(gw_recent_get(&rc, 6, 2));
    assert_null(gw_recent_get(&rc, 6, 7));
    assert_int_equal(fr[1]->refs, 1); /* overwritten: released */
    assert_int_equal(fr[2]->refs, 1);
    assert_int_equal(fr[3]->refs, 2);
    assert_int_equal(budget.used, fr[3]->len + fr[4]->len + fr[5]->len + fr[6]->len);
    /* a ring that is not full yet only answers what it holds */
    gw_recent_clear(&rc, &budget);
    assert_int_equal(budget.used, 0);
    gw_recent_put(&rc, 4, 9, fr[9], &budget);
    assert_ptr_equal(gw_recent_get(&rc, 9, 9), fr[9]);
    assert_null(gw_recent_get(&rc, 9, 8));
    gw_recent_clear(&rc, &budget);
    assert_null(rc.frames);
    frames_check_free();
}

/* The process-wide budget: a room that would pass it gives up its own oldest frames
 * (never another room's), a frame the budget cannot hold at all is not kept, and what
 * the rings hold never passes the budget. */
static void test_recent_budget(void **state)
{
    gw_recent_t a = {0};
    gw_recent_t b = {0};
    gw_recent_budget_t budget = {0, 0};

    (void)state;
    frames_make();
    budget.max = fr[1]->len * 3; /* the test frames are about the same size */
    gw_recent_put(&a, 8, 1, fr[1], &budget);
    gw_recent_put(&a, 8, 2, fr[2], &budget);
    gw_recent_put(&b, 8, 3, fr[3], &budget);
    assert_int_equal(a.n, 2);
    assert_int_equal(b.n, 1);
    assert_true(budget.used <= budget.max);
    /* b's next frame does not fit: b drops its own oldest (3), a keeps 1 and 2 */
    gw_recent_put(&b, 8, 4, fr[4], &budget);
    assert_true(budget.used <= budget.max);
    assert_int_equal(a.n, 2);
    assert_ptr_equal(gw_recent_get(&a, 2, 1), fr[1]);
    assert_int_equal(b.n, 1);
    assert_ptr_equal(gw_recent_get(&b, 4, 4), fr[4]);
    assert_null(gw_recent_get(&b, 4, 3));
    assert_int_equal(fr[3]->refs, 1); /* released */
    /* a goes on: a fourth frame does not fit, so its oldest (1) goes */
    gw_recent_clear(&b, &budget);
    gw_recent_put(&a, 8, 3, fr[3], &budget);
    gw_recent_put(&a, 8, 4, fr[4], &budget);
    assert_true(budget.used <= budget.max);
    assert_null(gw_recent_get(&a, 4, 1));
    assert_ptr_equal(gw_recent_get(&a, 4, 2), fr[2]);
    assert_ptr_equal(gw_recent_get(&a, 4, 4), fr[4]);
    /* a budget smaller than one frame keeps nothing, and answers nothing */
    gw_recent_clear(&a, &budget);
    assert_int_equal(budget.used, 0);
    budget.max = fr[5]->len - 1;
    gw_recent_put(&a, 8, 5, fr[5], &budget);
    assert_int_equal(a.n, 0);
    assert_null(gw_recent_get(&a, 5, 5));
    assert_int_equal(budget.used, 0);
    gw_recent_clear(&a, &budget);
    frames_check_free();
}

static int has_item(void **due, size_t n, void *item)
{
    for (size_t i = 0; i < n; i++) {
        if (due[i] == item) {
            return 1;
        }
    }
    return 0;
}

static void test_deadline_set(void **state)
{
    gw_deadline_set_t *ds = gw_deadline_create(2);
    int a;
    int b;
    void **due;
    size_t n = 99;

    (void)state;
    assert_non_null(ds);
    assert_null(gw_deadline_due(ds, 1000, &n));
    assert_int_equal(n, 0);
    assert_int_equal(gw_deadline_schedule(ds, "a", &a, 100), 0);
    assert_int_equal(gw_deadline_schedule(ds, "b", &b, 50), 0);
    assert_true(gw_deadline_has(ds, "a"));
    assert_false(gw_deadline_has(ds, "c"));
    assert_int_equal(gw_deadline_size(ds), 2);
    due = gw_deadline_due(ds, 60, &n);
    assert_int_equal(n, 1);
    assert_ptr_equal(due[0], &b);
    free(due);
    /* due items stay until cancelled */
    due = gw_deadline_due(ds, 60, &n);
    assert_int_equal(n, 1);
    free(due);
    /* a later deadline never postpones, an earlier one advances */
    gw_deadline_schedule(ds, "a", &a, 500);
    assert_int_equal(gw_deadline_at(ds, "a"), 100);
    gw_deadline_schedule(ds, "a", &a, 70);
    assert_int_equal(gw_deadline_at(ds, "a"), 70);
    due = gw_deadline_due(ds, 70, &n);
    assert_int_equal(n, 2);
    assert_true(has_item(due, n, &a) && has_item(due, n, &b));
    free(due);
    gw_deadline_cancel(ds, "b");
    gw_deadline_cancel(ds, "nothing");
    assert_false(gw_deadline_has(ds, "b"));
    assert_int_equal(gw_deadline_at(ds, "b"), 0);
    due = gw_deadline_due(ds, 10000, &n);
    assert_int_equal(n, 1);
    assert_ptr_equal(due[0], &a);
    free(due);
    gw_deadline_destroy(ds);
    gw_deadline_destroy(NULL);
    assert_int_equal(gw_deadline_size(NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order),
        cmocka_unit_test(test_out_of_order_and_gap),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_late_start_and_pages),
        cmocka_unit_test(test_recent_ring),
        cmocka_unit_test(test_recent_budget),
        cmocka_unit_test(test_deadline_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
