/*
 * write_behind.c - room_heads raised and leaves finished behind the reply (see
 * write_behind.h): (room, highest seq) pairs and recorded leaves under a mutex, taken away
 * whole and written (one chat_messages_heads_advance; chat_membership_leaves_finish,
 * one delete per room) by the collector's own thread or by its owner. The thread writes
 * heads at once (a head left behind costs every writer after a Redis loss a refused
 * insert and a repair: measured in the chaos runs, docs/RELIABILITY.md) and leaves a
 * second after the first of them (or when CHAT_WRITE_BEHIND_LEAVES_MAX wait): each delete
 * scans room_members on FerretDB, so leaves that come together share one. A large room's
 * leaves wait in their own list until they can be settled (chat_membership_leaves_settle:
 * one $in for a burst instead of one delete each). It also runs the leave records' sweep
 * every CHAT_WRITE_BEHIND_SWEEP_MS. Those scans slow the requests beside them, so once
 * due they wait for a moment without requests (CHAT_WRITE_BEHIND_QUIET_MS, bounded).
 *
 * Threads: notes from any thread; the writer thread (chat_write_behind_start) only
 * flushes.
 */
#include "chat/write_behind.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/clock.h"
#include "chat/log.h"
#include "chat/membership_leaves.h"
#include "chat/messages_repo.h"

#define BEHIND__SLOW_ROUND_MS 200 /* a round of deferred deletes this long is logged */
#define BEHIND__RETRY_MS 100      /* out of memory: the next try of a round */

typedef struct behind__batch {
    size_t n;
    bson_oid_t rooms[CHAT_WRITE_BEHIND_MAX];
    int64_t seqs[CHAT_WRITE_BEHIND_MAX];
    size_t n_leaves;
    chat_member_leave_t leaves[CHAT_WRITE_BEHIND_LEAVES_MAX];
} behind__batch_t;

struct chat_write_behind {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    behind__batch_t noted;   /* guarded by mu */
    size_t writing;          /* guarded by mu: rooms of the batch being written */
    int64_t leaves_since_ms; /* guarded by mu: when the first noted leave came */
    /* guarded by mu: the owner's requests (chat_write_behind_request_begin/end): how many
     * run now, and when the last one ended; an owner that never reports is always quiet */
    int requests;
    int64_t quiet_since_ms;
    /* guarded by mu: large rooms' leaves, in the order noted (so by at_ms, roughly) */
    chat_member_leave_t settling[CHAT_WRITE_BEHIND_SETTLE_MAX];
    size_t n_settling;
    bool stop; /* guarded by mu */
    bool threaded;
    pthread_t thread;
    chat_db_t *db; /* the thread's database */
};

chat_write_behind_t *chat_write_behind_create(void)
{
    chat_write_behind_t *h = calloc(1, sizeof(*h));

    if (h != NULL) {
        pthread_mutex_init(&h->mu, NULL);
        pthread_cond_init(&h->cv, NULL);
    }
    return h;
}

/* Waits on h->cv (mu held) for at most ms. */
static void behind__wait(chat_write_behind_t *h, int64_t ms)
{
    struct timespec until = chat_clock_deadline(ms);

    pthread_cond_timedwait(&h->cv, &h->mu, &until);
}

/* One line per round of deferred deletes (debug), a warning when it was slow. */
static void behind__log_round(const char *what, size_t n, int64_t started_ms)
{
    int64_t ms = chat_clock_monotonic_ms() - started_ms;
    char count[24];
    char took[24];

    snprintf(count, sizeof(count), "%zu", n);
    snprintf(took, sizeof(took), "%lld", (long long)ms);
    chat_log(ms >= BEHIND__SLOW_ROUND_MS ? CHAT_LOG_WARN : CHAT_LOG_DEBUG, what, "count", count,
             "duration_ms", took, (char *)NULL);
}

/* Takes the noted pairs, and the leaves when leaves_too (mu held), writes them without
 * it. */
static void behind__write_taken(chat_write_behind_t *h, chat_db_t *db, bool leaves_too)
{
    bson_oid_t rooms[CHAT_WRITE_BEHIND_MAX];
    int64_t seqs[CHAT_WRITE_BEHIND_MAX];
    size_t n = h->noted.n;
    size_t n_leaves = leaves_too ? h->noted.n_leaves : 0;
    chat_member_leave_t *leaves = n_leaves > 0 ? malloc(n_leaves * sizeof(*leaves)) : NULL;

    if (leaves == NULL && n_leaves > 0) {
        n_leaves = 0; /* out of memory: the leaves wait for the next round, a moment later */
        behind__wait(h, BEHIND__RETRY_MS);
    } else if (leaves != NULL) {
        memcpy(leaves, h->noted.leaves, n_leaves * sizeof(*leaves));
        h->noted.n_leaves = 0;
    }
    memcpy(rooms, h->noted.rooms, n * sizeof(rooms[0]));
    memcpy(seqs, h->noted.seqs, n * sizeof(seqs[0]));
    h->noted.n = 0;
    h->writing += n + n_leaves;
    pthread_mutex_unlock(&h->mu);
    if (n > 0) {
        chat_messages_heads_advance(db, rooms, seqs, n);
    }
    if (n_leaves > 0) {
        int64_t t0 = chat_clock_monotonic_ms();
        /* a failure leaves the record to the sweep, which finishes it later */
        (void)chat_membership_leaves_finish(db, leaves, n_leaves);
        behind__log_round("leaves finished", n_leaves, t0);
    }
    free(leaves);
    pthread_mutex_lock(&h->mu);
    h->writing -= n + n_leaves;
}

/* Takes the large rooms' leaves recorded by until_ms (mu held; INT64_MAX: all of them)
 * and settles them without it. */
static void behind__settle_taken(chat_write_behind_t *h, chat_db_t *db, int64_t until_ms)
{
    chat_member_leave_t *taken = malloc(h->n_settling * sizeof(*taken));
    size_t n = 0;
    size_t kept = 0;
    int64_t t0;

    if (taken == NULL) {
        return; /* the next round tries again */
    }
    for (size_t i = 0; i < h->n_settling; i++) {
        if (h->settling[i].at_ms <= until_ms) {
            taken[n++] = h->settling[i];
        } else {
            h->settling[kept++] = h->settling[i];
        }
    }
    h->n_settling = kept;
    h->writing += n;
    pthread_mutex_unlock(&h->mu);
    /* a failure leaves the records to the sweep */
    t0 = chat_clock_monotonic_ms();
    (void)chat_membership_leaves_settle(db, taken, n, chat_clock_now_ms());
    behind__log_round("large rooms' leaves settled", n, t0);
    free(taken);
    pthread_mutex_lock(&h->mu);
    h->writing -= n;
}

/* Milliseconds until the large rooms' leaves are settled (mu held): once the oldest has
 * been old enough for CHAT_WRITE_BEHIND_SETTLE_GATHER_MS (those that came meanwhile
 * go with it), or at once when the list is full. */
static int64_t behind__settle_in(const chat_write_behind_t *h)
{
    int64_t oldest = INT64_MAX;

    for (size_t i = 0; i < h->n_settling; i++) {
        oldest = h->settling[i].at_ms < oldest ? h->settling[i].at_ms : oldest;
    }
    if (h->n_settling == 0) {
        return INT64_MAX;
    }
    if (h->n_settling == CHAT_WRITE_BEHIND_SETTLE_MAX) {
        return oldest + CHAT_MEMBER_LEAVE_SETTLE_MS - chat_clock_now_ms();
    }
    return oldest + CHAT_MEMBER_LEAVE_SETTLE_MS + CHAT_WRITE_BEHIND_SETTLE_GATHER_MS -
        chat_clock_now_ms();
}

static void behind__sweep(chat_db_t *db)
{
    size_t finished = 0;
    char count[24];
    int64_t t0 = chat_clock_monotonic_ms();
    chat_err_t rc = chat_membership_leaves_sweep(db, chat_clock_now_ms(), &finished);

    behind__log_round("leave records swept", finished, t0);
    if (rc == CHAT_OK && finished > 0) {
        snprintf(count, sizeof(count), "%zu", finished);
        chat_log_warn("finished leaves whose process stopped before deleting the membership",
                      "count", count);
    }
}

/* Milliseconds until the owner has been quiet for CHAT_WRITE_BEHIND_QUIET_MS (mu held):
 * <= 0 when it has (an owner that never reports its requests always has). */
static int64_t behind__quiet_in(const chat_write_behind_t *h, int64_t now)
{
    return h->requests > 0 ? CHAT_WRITE_BEHIND_QUIET_MS
                           : h->quiet_since_ms + CHAT_WRITE_BEHIND_QUIET_MS - now;
}

/* Work that may wait for a quiet moment: due in ready_in ms, then at the owner's next
 * quiet moment, but never more than CHAT_WRITE_BEHIND_QUIET_MAX_WAIT_MS after ready. */
static int64_t behind__when_quiet(int64_t ready_in, int64_t quiet_in)
{
    int64_t forced_in;

    if (ready_in == INT64_MAX || ready_in > 0) {
        return ready_in; /* nothing waits, or not ready yet */
    }
    forced_in = ready_in + CHAT_WRITE_BEHIND_QUIET_MAX_WAIT_MS;
    return quiet_in < forced_in ? quiet_in : forced_in;
}

static void *behind__main(void *arg)
{
    chat_write_behind_t *h = arg;
    int64_t swept_ms = 0;

    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        int64_t now = chat_clock_monotonic_ms();
        int64_t quiet_in = behind__quiet_in(h, now);
        int64_t leaves_in = INT64_MAX; /* until the leaves are due */
        int64_t settle_in = behind__settle_in(h);
        int64_t sweep_in =
            behind__when_quiet(swept_ms + CHAT_WRITE_BEHIND_SWEEP_MS - now, quiet_in);
        int64_t wait;
        if (h->n_settling < CHAT_WRITE_BEHIND_SETTLE_MAX) {
            settle_in = behind__when_quiet(settle_in, quiet_in);
        }
        if (settle_in <= 0) {
            behind__settle_taken(h, h->db, chat_clock_now_ms() - CHAT_MEMBER_LEAVE_SETTLE_MS);
            continue;
        }
        if (sweep_in <= 0) {
            swept_ms = now;
            pthread_mutex_unlock(&h->mu);
            behind__sweep(h->db);
            pthread_mutex_lock(&h->mu);
            continue;
        }
        if (h->noted.n_leaves == CHAT_WRITE_BEHIND_LEAVES_MAX) {
            leaves_in = 0;
        } else if (h->noted.n_leaves > 0) {
            leaves_in = behind__when_quiet(
                h->leaves_since_ms + CHAT_WRITE_BEHIND_LEAVES_WAIT_MS - now, quiet_in);
        }
        if (h->noted.n > 0 || leaves_in <= 0) {
            behind__write_taken(h, h->db, leaves_in <= 0);
            continue;
        }
        wait = leaves_in < settle_in ? leaves_in : settle_in;
        behind__wait(h, wait < sweep_in ? wait : sweep_in);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

chat_write_behind_t *chat_write_behind_start(chat_db_t *db)
{
    chat_write_behind_t *h = chat_write_behind_create();

    if (h == NULL) {
        return NULL;
    }
    h->db = db;
    if (pthread_create(&h->thread, NULL, behind__main, h) != 0) {
        chat_write_behind_destroy(h, db);
        return NULL;
    }
    h->threaded = true;
    return h;
}

void chat_write_behind_destroy(chat_write_behind_t *h, chat_db_t *db)
{
    if (h == NULL) {
        return;
    }
    if (h->threaded) {
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    chat_write_behind_flush(h, db);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

bool chat_write_behind_note_head(chat_write_behind_t *h, const char *room_id, int64_t seq)
{
    bson_oid_t room;
    bool ok = true;
    size_t i;

    if (h == NULL || room_id == NULL || !chat_db_oid_from_hex(room_id, &room)) {
        return false;
    }
    pthread_mutex_lock(&h->mu);
    for (i = 0; i < h->noted.n && !bson_oid_equal(&h->noted.rooms[i], &room); i++) {
    }
    if (i < h->noted.n) {
        if (seq > h->noted.seqs[i]) {
            h->noted.seqs[i] = seq;
        }
    } else if (h->noted.n < CHAT_WRITE_BEHIND_MAX) {
        h->noted.rooms[h->noted.n] = room;
        h->noted.seqs[h->noted.n] = seq;
        h->noted.n++;
    } else {
        ok = false;
    }
    if (ok) {
        pthread_cond_signal(&h->cv);
    }
    pthread_mutex_unlock(&h->mu);
    return ok;
}

bool chat_write_behind_note_leave(chat_write_behind_t *h, const chat_member_leave_t *l)
{
    bool ok = false;

    if (h == NULL || l == NULL) {
        return false;
    }
    pthread_mutex_lock(&h->mu);
    if (l->room_members > CHAT_WRITE_BEHIND_LARGE_ROOM) {
        if (h->n_settling < CHAT_WRITE_BEHIND_SETTLE_MAX) {
            h->settling[h->n_settling++] = *l;
            pthread_cond_signal(&h->cv);
            ok = true;
        }
    } else if (h->noted.n_leaves < CHAT_WRITE_BEHIND_LEAVES_MAX) {
        if (h->noted.n_leaves == 0) {
            h->leaves_since_ms = chat_clock_monotonic_ms();
        }
        h->noted.leaves[h->noted.n_leaves++] = *l;
        pthread_cond_signal(&h->cv);
        ok = true;
    }
    pthread_mutex_unlock(&h->mu);
    return ok;
}

void chat_write_behind_request_begin(chat_write_behind_t *h)
{
    if (h != NULL) {
        pthread_mutex_lock(&h->mu);
        h->requests++;
        pthread_mutex_unlock(&h->mu);
    }
}

void chat_write_behind_request_end(chat_write_behind_t *h)
{
    if (h != NULL) {
        pthread_mutex_lock(&h->mu);
        h->requests -= h->requests > 0;
        h->quiet_since_ms = chat_clock_monotonic_ms();
        pthread_mutex_unlock(&h->mu);
    }
}

size_t chat_write_behind_pending(chat_write_behind_t *h)
{
    size_t n;

    if (h == NULL) {
        return 0;
    }
    pthread_mutex_lock(&h->mu);
    n = h->noted.n + h->noted.n_leaves + h->n_settling + h->writing;
    pthread_mutex_unlock(&h->mu);
    return n;
}

void chat_write_behind_flush(chat_write_behind_t *h, chat_db_t *db)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    if (h->noted.n > 0 || h->noted.n_leaves > 0) {
        behind__write_taken(h, db, true);
    }
    if (h->n_settling > 0) {
        behind__settle_taken(h, db, INT64_MAX);
    }
    pthread_mutex_unlock(&h->mu);
}
