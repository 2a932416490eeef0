/*
 * test_gw_commit_linger.c - a writer's batch and its group-commit linger
 * (ws-gateway/commit_linger.c) without a gateway: when the rate of recent arrivals makes
 * a writer wait (and when not: a quiet writer, a long gap, the linger off), what a take
 * gathers (the same run_batch only, at most GW_WORKER_BATCH_MAX), that a lingering take
 * gathers jobs that arrive while it waits, that its wait is bounded and ends at a stop;
 * and that a worker's queue refuses a job when full instead of giving one up.
 * Main thread and a producer thread that queues jobs as the loop would.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "../../ws-gateway/commit_linger.c"
#include "../../ws-gateway/held_queue.c"

#define MS 1000 /* microseconds */

static void run_a(gw_job_t **jobs, size_t n, gw_store_worker_t *w)
{
    (void)jobs;
    (void)n;
    (void)w;
}

static void run_b(gw_job_t **jobs, size_t n, gw_store_worker_t *w)
{
    (void)jobs;
    (void)n;
    (void)w;
}

typedef struct fixture {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    gw_job_queue_t q;
    bool stop;
    gw_job_t jobs[200];
    int produce; /* jobs the producer queues, one every gap_us */
    int gap_us;
    int stop_after_ms; /* >0: the producer sets stop after this long instead */
} fixture_t;

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void *producer(void *arg)
{
    fixture_t *f = arg;

    if (f->stop_after_ms > 0) {
        sleep_us((long)f->stop_after_ms * MS);
        pthread_mutex_lock(&f->mu);
        f->stop = true;
        pthread_cond_broadcast(&f->cv);
        pthread_mutex_unlock(&f->mu);
        return NULL;
    }
    for (int i = 1; i < f->produce; i++) { /* job 0 is the consumer's first */
        sleep_us(f->gap_us);
        pthread_mutex_lock(&f->mu);
        f->jobs[i].run_batch = run_a;
        gw_job_queue_push(&f->q, &f->jobs[i]);
        pthread_cond_signal(&f->cv);
        pthread_mutex_unlock(&f->mu);
    }
    return NULL;
}

static void fixture_init(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->mu, NULL);
    gw_job_queue_init(&f->q, 1000);
    pthread_cond_init(&f->cv, NULL);
    for (size_t i = 0; i < sizeof(f->jobs) / sizeof(f->jobs[0]); i++) {
        f->jobs[i].run_batch = run_a;
    }
}

static void fixture_done(fixture_t *f)
{
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
}

/* Arrivals every gap_us for span_ms, noted one by one from t0. */
static int64_t note_every(gw_commit_linger_t *l, int64_t t0, int64_t gap_us, int64_t span_ms)
{
    int64_t t = t0;
    for (; t < t0 + span_ms * MS; t += gap_us) {
        gw_commit_linger_note(l, t, 1);
    }
    return t;
}

static void test_wait_follows_the_rate(void **state)
{
    gw_commit_linger_t l;
    int64_t t;
    (void)state;

    gw_commit_linger_init(&l, 6);
    assert_int_equal(gw_commit_linger_wait_ms(&l), 0); /* nothing seen yet */
    gw_commit_linger_note(&l, 1000 * MS, 1);
    assert_int_equal(gw_commit_linger_wait_ms(&l), 0); /* no complete bucket yet */

    /* 250 jobs/s (one every 4 ms): 1.5 due within 6 ms, so it waits */
    t = note_every(&l, 1000 * MS, 4 * MS, 120);
    assert_int_equal(gw_commit_linger_wait_ms(&l), 6);

    /* 25 jobs/s (one every 40 ms): 0.15 due within 6 ms, so it does not */
    t = note_every(&l, t, 40 * MS, 400);
    assert_int_equal(gw_commit_linger_wait_ms(&l), 0);

    /* busy again, then a long gap: the bucket the gap closes is a quiet one */
    t = note_every(&l, t, 2 * MS, 120);
    assert_int_equal(gw_commit_linger_wait_ms(&l), 6);
    gw_commit_linger_note(&l, t + 10000 * MS, 1);
    assert_int_equal(gw_commit_linger_wait_ms(&l), 0);

    /* batches count as their jobs: 8 at a time every 20 ms is 0.4 per ms */
    for (int i = 0; i < 10; i++) {
        gw_commit_linger_note(&l, t + 20000 * MS + i * 20 * MS, 8);
    }
    assert_int_equal(gw_commit_linger_wait_ms(&l), 6);

    /* off: never waits, whatever the rate */
    gw_commit_linger_init(&l, 0);
    (void)note_every(&l, 1000 * MS, 100, 200);
    assert_int_equal(gw_commit_linger_wait_ms(&l), 0);
    gw_commit_linger_init(&l, -5);
    assert_int_equal(l.linger_ms, 0);
}

static void test_take_gathers_one_kind(void **state)
{
    fixture_t f;
    gw_commit_linger_t l;
    gw_job_t *batch[GW_WORKER_BATCH_MAX];
    (void)state;

    fixture_init(&f);
    gw_commit_linger_init(&l, 6);
    for (int i = 1; i <= 3; i++) {
        gw_job_queue_push(&f.q, &f.jobs[i]);
    }
    f.jobs[4].run_batch = run_b; /* another kind of job stops the batch */
    gw_job_queue_push(&f.q, &f.jobs[4]);
    gw_job_queue_push(&f.q, &f.jobs[5]);
    pthread_mutex_lock(&f.mu);
    assert_int_equal(gw_commit_linger_take(&l, 0, &f.q, &f.mu, &f.cv, &f.stop, &f.jobs[0], batch),
                     4);
    pthread_mutex_unlock(&f.mu);
    for (int i = 0; i < 4; i++) {
        assert_ptr_equal(batch[i], &f.jobs[i]);
    }
    assert_ptr_equal(gw_job_queue_first(&f.q), &f.jobs[4]);
    assert_int_equal(f.q.len, 2);
    assert_int_equal(l.bucket_jobs, 4); /* noted */

    /* at most GW_WORKER_BATCH_MAX, the rest stays queued */
    gw_job_queue_init(&f.q, 1000);
    f.jobs[4].run_batch = run_a;
    for (int i = 1; i < 100; i++) {
        gw_job_queue_push(&f.q, &f.jobs[i]);
    }
    pthread_mutex_lock(&f.mu);
    assert_int_equal(gw_commit_linger_take(&l, 6, &f.q, &f.mu, &f.cv, &f.stop, &f.jobs[0], batch),
                     GW_WORKER_BATCH_MAX);
    pthread_mutex_unlock(&f.mu);
    assert_int_equal(f.q.len, 100 - GW_WORKER_BATCH_MAX);
    assert_ptr_equal(gw_job_queue_first(&f.q), &f.jobs[GW_WORKER_BATCH_MAX]);
    fixture_done(&f);
}

/* One take of a consumer that got job 0 while a producer queues the others. */
static size_t take_while_producing(fixture_t *f, int wait_ms, int64_t *took_ms)
{
    gw_commit_linger_t l;
    gw_job_t *batch[GW_WORKER_BATCH_MAX];
    pthread_t th;
    int64_t t0 = chat_clock_monotonic_ms();
    size_t n;

    gw_commit_linger_init(&l, wait_ms);
    assert_int_equal(pthread_create(&th, NULL, producer, f), 0);
    pthread_mutex_lock(&f->mu);
    n = gw_commit_linger_take(&l, wait_ms, &f->q, &f->mu, &f->cv, &f->stop, &f->jobs[0], batch);
    pthread_mutex_unlock(&f->mu);
    *took_ms = chat_clock_monotonic_ms() - t0;
    pthread_join(th, NULL);
    return n;
}

/* A worker's queue refuses a job when full and keeps the ones it has (the held queue
 * under it would give up its oldest: a job lost, its done() never run). */
static void test_full_queue_refuses(void **state)
{
    gw_job_queue_t q;
    gw_job_t jobs[4];
    (void)state;

    memset(jobs, 0, sizeof(jobs));
    gw_job_queue_init(&q, 3);
    assert_null(gw_job_queue_first(&q));
    assert_null(gw_job_queue_pop(&q));
    for (int i = 0; i < 3; i++) {
        assert_true(gw_job_queue_push(&q, &jobs[i]));
    }
    assert_false(gw_job_queue_push(&q, &jobs[3]));
    assert_int_equal(q.len, 3);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(gw_job_queue_first(&q), &jobs[i]);
        assert_ptr_equal(gw_job_queue_pop(&q), &jobs[i]); /* in order, none given up */
    }
    assert_null(gw_job_queue_pop(&q));
    assert_true(gw_job_queue_push(&q, &jobs[3])); /* room again */
}

static void test_linger_gathers_arrivals(void **state)
{
    fixture_t f;
    int64_t took_ms;
    size_t n;
    (void)state;

    /* 20 jobs one every 0.5 ms: a take that lingers 200 ms gathers those that come in
     * time (all on a quiet machine); one that does not linger has job 0 alone */
    fixture_init(&f);
    f.produce = 20;
    f.gap_us = 500;
    n = take_while_producing(&f, 200, &took_ms);
    assert_true(n >= 5);
    fixture_done(&f);

    fixture_init(&f);
    f.produce = 20;
    f.gap_us = 5000;
    n = take_while_producing(&f, 0, &took_ms);
    assert_int_equal(n, 1);
    fixture_done(&f);
}

static void test_linger_is_bounded(void **state)
{
    fixture_t f;
    int64_t took_ms;
    size_t n;
    (void)state;

    /* nothing comes: the take returns job 0 after its wait, not before */
    fixture_init(&f);
    f.produce = 0;
    n = take_while_producing(&f, 30, &took_ms);
    assert_int_equal(n, 1);
    assert_true(took_ms >= 29);
    assert_true(took_ms < 2000);
    fixture_done(&f);

    /* a stop ends the wait at once */
    fixture_init(&f);
    f.stop_after_ms = 20;
    n = take_while_producing(&f, 5000, &took_ms);
    assert_int_equal(n, 1);
    assert_true(took_ms < 2500);
    fixture_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_follows_the_rate),
        cmocka_unit_test(test_take_gathers_one_kind),
        cmocka_unit_test(test_full_queue_refuses),
        cmocka_unit_test(test_linger_gathers_arrivals),
        cmocka_unit_test(test_linger_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
