/*
 * read_model_warm.c - the gateway's looks at the read model (see read_model_warm.h):
 * at start, every few seconds, and when an admission batch finds it cold.
 *
 * Threads: warm__run and warm__check_run on the background worker,
 * gw_read_model_warm_everybody on the worker that found the read model cold,
 * gw_read_model_warm_at_start, gw_read_model_check and the jobs' done() on the loop.
 */
#include "read_model_warm.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "chat/clock.h"
#include "chat/history_warm.h"
#include "chat/log.h"
#include "chat/user_ids.h"
#include "chat/user_logins.h"
#include "chat/user_rooms_batch.h"
#include "store_worker.h"

/* A cold read model warms everybody's room sets when there are at most this many users
 * and memberships (about 50 MB of scratch at the limit); past it, per batch. The rooms'
 * member sets come from the same read when there are at most this many rooms. */
#define WARM__USERS_MAX 200000
#define WARM__PAIRS_MAX 2000000
#define WARM__ROOMS_MAX 200000
/* ... and at start every room's history window from reads of `messages`, each holding
 * the windows of at most WARM__HELD_MAX messages (275 B each measured with the seed's
 * messages: ~140 MB at the bound while they are built, given back after; measured peak
 * RSS 134 MB at a million messages, 14 MB after). One read when every room's window
 * fits: at HISTORY_WINDOW 500, up to 1,000 busy rooms (250,000 took two reads, and twice
 * the time, after a Redis loss at a million messages). At most WARM__PASSES_MAX reads
 * (each a decode of the whole collection on FerretDB: ~80 s at a million messages), none
 * when more than WARM__STORED_MAX are stored (the heads say) */
#define WARM__HELD_MAX 500000
#define WARM__PASSES_MAX 10
#define WARM__STORED_MAX 5000000

/* Where a warm-up reports: this gateway's id for the log, its counters (either may be
 * NULL). Both outlive the workers (main.c frees them after gw_store_workers_destroy). */
typedef struct warm__report {
    const char *gateway_id;
    gw_metrics_t *metrics;
} warm__report_t;

static void warm__count(const warm__report_t *to, gw_warm_outcome_t outcome, int64_t started_ms)
{
    if (to->metrics == NULL) {
        return;
    }
    chat_counter_add(&to->metrics->read_model_warms[outcome], 1);
    if (outcome == GW_WARM_BUILT || outcome == GW_WARM_BY_ANOTHER) {
        chat_hist_observe(&to->metrics->warm_seconds,
                          (double)(chat_clock_monotonic_ms() - started_ms) / 1000.0);
    }
}

/* Every room's window from one read of `messages` (history_warm.h), logged; the error
 * (Redis or MongoDB down) or CHAT_OK. */
static chat_err_t warm__windows(const chat_store_t *st, const char *gateway_id)
{
    chat_history_warm_t warm = {.max_messages = WARM__HELD_MAX,
                                .max_passes = WARM__PASSES_MAX,
                                .max_read = WARM__STORED_MAX,
                                .max_rooms = WARM__ROOMS_MAX};
    int64_t started_ms = chat_clock_monotonic_ms();
    chat_err_t rc = chat_history_warm_all(st, &warm);
    char n[8][24];

    if (warm.read > 0) {
        malloc_trim(0); /* what was read is freed: give it back (a worker thread) */
    }
    snprintf(n[0], sizeof(n[0]), "%zu", warm.read);
    snprintf(n[1], sizeof(n[1]), "%zu", warm.rooms_built);
    snprintf(n[2], sizeof(n[2]), "%zu", warm.rooms_left);
    snprintf(n[3], sizeof(n[3]), "%lld", (long long)(chat_clock_monotonic_ms() - started_ms));
    snprintf(n[4], sizeof(n[4]), "%lld", (long long)warm.stored);
    snprintf(n[5], sizeof(n[5]), "%zu of %zu", warm.rooms_missing, warm.rooms);
    snprintf(n[6], sizeof(n[6]), "%zu", warm.passes);
    snprintf(n[7], sizeof(n[7]), "%zu", warm.held_max);
    chat_log_info(rc != CHAT_OK            ? "room windows not warmed: each room builds its own "
                                             "at its first look"
                      : warm.already       ? "room windows: warmed already for this Redis run"
                      : warm.another_warms ? "room windows: another process warms them"
                      : warm.too_many && warm.rooms_built > 0
                      ? "room windows warmed, some left: too many to hold, those rooms build "
                        "their own at their first look"
                      : warm.too_many    ? "room windows: too many messages to warm at once, "
                                           "each room builds its own at its first look"
                      : warm.few_missing ? "room windows: readers rebuilt them already, "
                                           "nothing read"
                                         : "room windows warmed",
                  "gateway", gateway_id, "messages", n[0], "passes", n[6], "held", n[7],
                  "stored_heads", n[4], "rooms", n[1], "rooms_left", n[2], "missing", n[5],
                  "duration_ms", n[3], "error", rc == CHAT_OK ? NULL : chat_err_code(rc));
    return rc;
}

/* Everybody's room sets and every room's member set from one read of room_members
 * (user_rooms_batch.h), logged with what it stored and how long the warm-up took since
 * started_ms (the read of users before it included, when there was one); with_windows
 * every room's window too, before the warm-up is counted, unless another process warms
 * (it does the windows too). The windows' error, or the sets', or CHAT_OK. */
static chat_err_t warm__everybody(const chat_store_t *st, const warm__report_t *to, const char *why,
                                  int64_t started_ms, bool with_windows)
{
    chat_read_model_warm_t warm = {
        .max_users = WARM__USERS_MAX, .max_pairs = WARM__PAIRS_MAX, .max_rooms = WARM__ROOMS_MAX};
    chat_err_t rc = chat_user_rooms_build_all(st, &warm);
    gw_warm_outcome_t outcome = warm.another_warms ? GW_WARM_BY_ANOTHER
        : rc == CHAT_OK                            ? GW_WARM_BUILT
                                                   : GW_WARM_FAILED;
    char users[24];
    char rooms[24];
    char ms[24];
    char msg[96];

    snprintf(users, sizeof(users), "%zu", warm.user_sets);
    snprintf(rooms, sizeof(rooms), "%zu", warm.room_sets);
    snprintf(ms, sizeof(ms), "%lld", (long long)(chat_clock_monotonic_ms() - started_ms));
    snprintf(msg, sizeof(msg), "%s: %s", why,
             outcome == GW_WARM_BY_ANOTHER  ? "another process warmed it"
                 : outcome == GW_WARM_BUILT ? "room sets warmed for everybody"
                                            : "room sets not warmed, built per batch");
    chat_log_info(msg, "gateway", to->gateway_id, "sets", users, "member_sets", rooms,
                  "duration_ms", ms, "error", rc == CHAT_OK ? NULL : chat_err_code(rc));
    /* the windows also when the sets were too many to warm at once (CONFLICT): their
     * warm-up marks the Redis run, which the periodic look checks */
    if (with_windows && outcome != GW_WARM_BY_ANOTHER) {
        chat_err_t windows = warm__windows(st, to->gateway_id);
        rc = rc == CHAT_OK || rc == CHAT_ERR_CONFLICT ? windows : rc;
    }
    warm__count(to, outcome, started_ms);
    return rc == CHAT_ERR_CONFLICT ? CHAT_OK : rc;
}

typedef struct warm__job {
    gw_job_t job;
    char gateway_id[128];
    gw_metrics_t *metrics;
    bool failed;  /* the periodic look: Redis or MongoDB failed, look again later */
    bool act;     /* the periodic look: the previous one saw the mark missing too */
    bool missing; /* the periodic look: the mark is missing */
} warm__job_t;

/* At start, on the background worker: a Redis without the read model (fresh, flushed,
 * or a first run) gets the set of all ids and the usernames (one read of users),
 * everybody's room sets and every room's member set (one read of room_members) now,
 * instead of from the first sockets' admission, the first look at each room and the
 * first search. The set of ids alone does not say the read model is warm: REST rebuilds
 * it on its own at its first call, often before a gateway that starts with it on a
 * flushed Redis looks. So a warm set of ids without the mark of the windows' warm-up
 * for this Redis run warms the rest now too, where it used to wait for two periodic
 * looks (~4 s) and the first sockets' checks waited on that late warm-up. A gateway
 * holds no rooms yet at start, so no resubscribe is rebuilding windows to wait for. */
static void warm__run(gw_job_t *job, gw_store_worker_t *w)
{
    warm__job_t *j = (warm__job_t *)job;
    warm__report_t to = {j->gateway_id, j->metrics};
    const chat_store_t *st = gw_store_worker_store(w);
    int64_t started_ms = chat_clock_monotonic_ms();
    bool cold = false;
    bool windows_done = false;
    chat_err_t rc = chat_user_ids_build(st, &cold);

    if (rc == CHAT_OK && !cold) {
        (void)chat_user_logins_build(st); /* a read model warmed before that set existed */
        rc = chat_history_warm_done(st, &windows_done);
        if (rc == CHAT_OK && !windows_done) {
            (void)warm__everybody(st, &to, "read model was partly cold at start", started_ms, true);
            return;
        }
    }
    if (rc != CHAT_OK || !cold) {
        /* warm already, or Redis/MongoDB down: admission builds what it needs */
        warm__count(&to, rc == CHAT_OK ? GW_WARM_ALREADY : GW_WARM_FAILED, started_ms);
        return;
    }
    (void)warm__everybody(st, &to, "read model was cold at start", started_ms, true);
}

/* The periodic look, on the background worker: one GET while the mark of the windows'
 * warm-up matches this Redis run; when it has been missing for two looks in a row
 * (Redis restarted or was flushed, and no process has warmed since: REST may have
 * rebuilt the set of ids first, so this does not wait for an admission batch to find it
 * missing), everything the start warms. Two looks: the resubscribes of a gateway that
 * holds rooms rebuild their windows within a moment of Redis coming back, and a look
 * that counted them missing meanwhile read every message to build none (10 of 37 looks
 * of a long chaos run). */
static void warm__check_run(gw_job_t *job, gw_store_worker_t *w)
{
    warm__job_t *j = (warm__job_t *)job;
    warm__report_t to = {j->gateway_id, j->metrics};
    const chat_store_t *st = gw_store_worker_store(w);
    int64_t started_ms = chat_clock_monotonic_ms();
    bool done = false;
    bool cold = false;
    bool busy = false;
    chat_err_t rc = chat_history_warm_done(st, &done);

    if (rc == CHAT_OK && !done) {
        /* another process warming now (at a million messages that takes minutes): its
         * mark comes when it is done, and the sets were warmed before it began */
        rc = chat_history_warm_busy(st, &busy);
    }
    if (rc != CHAT_OK || done || busy) {
        j->failed = rc != CHAT_OK; /* Redis down: its own logs say so */
        return;
    }
    j->missing = true;
    if (!j->act) {
        return; /* the next look acts if it is still missing */
    }
    rc = chat_user_ids_build(st, &cold);
    if (rc == CHAT_OK && !cold) {
        (void)chat_user_logins_build(st);
    }
    if (rc == CHAT_OK) {
        rc = warm__everybody(st, &to, "read model lost mid-run", started_ms, true);
    }
    j->failed = rc != CHAT_OK;
}

static void warm__done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    (void)gw;
    (void)cancelled;
    free(job);
}

static void warm__check_done(gw_job_t *job, gw_t *gw, bool cancelled)
{
    warm__job_t *j = (warm__job_t *)job;

    gw->read_model_check.queued = false;
    gw->read_model_check.missing = j->missing && !cancelled;
    gw->read_model_check.next_ms = chat_clock_monotonic_ms() +
        (j->failed && !cancelled ? GW_READ_MODEL_RECHECK_MS : GW_READ_MODEL_CHECK_MS);
    free(job);
}

static bool warm__submit(gw_t *gw, void (*run)(gw_job_t *, gw_store_worker_t *),
                         void (*done)(gw_job_t *, gw_t *, bool), bool act)
{
    warm__job_t *warm = calloc(1, sizeof(*warm));

    if (warm == NULL) {
        return false; /* admission builds what it needs, each room its window */
    }
    warm->job.run = run;
    warm->job.done = done;
    snprintf(warm->gateway_id, sizeof(warm->gateway_id), "%s", gw->cfg.gateway_id);
    warm->metrics = gw->metrics;
    warm->act = act;
    if (gw->workers == NULL || gw_store_workers_submit_background(gw->workers, &warm->job) != 0) {
        free(warm);
        return false;
    }
    return true;
}

void gw_read_model_warm_everybody(const chat_store_t *st, const char *gateway_id,
                                  gw_metrics_t *metrics, const char *why)
{
    warm__report_t to = {gateway_id, metrics};

    (void)warm__everybody(st, &to, why, chat_clock_monotonic_ms(), false);
}

void gw_read_model_warm_at_start(gw_t *gw)
{
    (void)warm__submit(gw, warm__run, warm__done, false);
    /* the first look after the start's (the background worker runs them in order) */
    gw->read_model_check.next_ms = chat_clock_monotonic_ms() + GW_READ_MODEL_CHECK_MS;
}

void gw_read_model_check(gw_t *gw)
{
    if (gw->stopping || gw->draining || gw->read_model_check.queued ||
        chat_clock_monotonic_ms() < gw->read_model_check.next_ms) {
        return;
    }
    gw->read_model_check.queued =
        warm__submit(gw, warm__check_run, warm__check_done, gw->read_model_check.missing);
    if (!gw->read_model_check.queued) {
        gw->read_model_check.next_ms = chat_clock_monotonic_ms() + GW_READ_MODEL_CHECK_MS;
    }
}

void gw_read_model_found_cold(gw_t *gw)
{
    /* the batch's worker built the room sets; the look that acts now finds them built
     * (no read) and warms the windows: one path for both, not a second job of its own */
    gw->read_model_check.missing = true;
    gw->read_model_check.next_ms = 0;
    gw_read_model_check(gw);
}
