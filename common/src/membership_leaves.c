/*
 * membership_leaves.c - deleting the memberships that recorded leaves ended (see
 * membership_leaves.h): one room's leaves at a time, the command chosen by the room's
 * size and, for settled leaves, by what FerretDB's scan costs.
 *
 * Threads: any thread that may block.
 */
#include "chat/membership_leaves.h"

#include <stdlib.h>
#include <string.h>

#include "chat/room_members_repo.h"

/* Leaves of one room finished together (one update marks them done). */
#define LEAVES__FINISH_BATCH 64
/* Rooms up to this size have their leaves deleted in one command (leaves__finish_room). */
#define LEAVES__FINISH_TOGETHER_MAX 250
/* Settled leaves of one room deleted by one $in command. */
#define LEAVES__SETTLE_BATCH 256
/* What FerretDB 1.24/PostgreSQL spends (measured on the 10k data set, 38,733 memberships,
 * docs/BENCHMARKS.md): a delete with both ids pushed down, ~25 ms whatever the room; an
 * $in of users, the room's memberships decoded in Go, ~70-90 us each. */
#define LEAVES__DELETE_ONE_US 25000
#define LEAVES__DECODE_MEMBER_US 90
/* Past this size one $in would outlast a command's timeout (~0.9 s at 10,000). */
#define LEAVES__SETTLE_MAX_MEMBERS 10000

static int leaves__by_room(const void *a, const void *b)
{
    return bson_oid_compare(&((const chat_member_leave_t *)a)->room,
                            &((const chat_member_leave_t *)b)->room);
}

/* One room's leaves v[0..k): one delete for all of them when the room is small (FerretDB
 * applies the $or to each of the room's memberships, ~0.1 ms each: 3 s for 64 leaves of
 * a 5,000-member room), else one delete each (both ids pushed down: ~25 ms, one
 * membership decoded); then one update marks them done. */
static chat_err_t leaves__finish_room(chat_db_t *db, const chat_member_leave_t *v, size_t k)
{
    bson_oid_t users[LEAVES__FINISH_BATCH];
    int64_t untils[LEAVES__FINISH_BATCH];
    bool together = true;
    chat_err_t rc = CHAT_OK;

    for (size_t j = 0; j < k; j++) {
        users[j] = v[j].user;
        untils[j] = v[j].at_ms;
        together =
            together && v[j].room_members > 0 && v[j].room_members <= LEAVES__FINISH_TOGETHER_MAX;
    }
    if (together) {
        rc = chat_members_delete_left(db, &v[0].room, users, untils, k);
    }
    for (size_t j = 0; !together && rc == CHAT_OK && j < k; j++) {
        rc = chat_members_delete_left(db, &v[0].room, &users[j], &untils[j], 1);
    }
    return rc == CHAT_OK ? chat_member_leaves_mark_done(db, v, k) : rc;
}

/* Settled leaves of one room v[0..k), k <= LEAVES__SETTLE_BATCH: one delete of every
 * listed user's membership that began by the latest of them (exact: membership_leaves.h),
 * then one update marks them done. */
static chat_err_t leaves__settle_room(chat_db_t *db, const chat_member_leave_t *v, size_t k)
{
    bson_oid_t users[LEAVES__SETTLE_BATCH];
    int64_t latest = 0;
    chat_err_t rc;

    for (size_t j = 0; j < k; j++) {
        users[j] = v[j].user;
        latest = v[j].at_ms > latest ? v[j].at_ms : latest;
    }
    rc = chat_members_delete_left_by(db, &v[0].room, users, k, latest);
    return rc == CHAT_OK ? chat_member_leaves_mark_done(db, v, k) : rc;
}

/* Whether k settled leaves of one room go in $in commands: a large room, and one delete
 * each would cost FerretDB more than decoding the room's memberships. */
static bool leaves__settle_together(const chat_member_leave_t *v, size_t k)
{
    int64_t members = 0;

    for (size_t j = 0; j < k; j++) {
        members = v[j].room_members > members ? v[j].room_members : members;
    }
    return members > LEAVES__FINISH_TOGETHER_MAX && members <= LEAVES__SETTLE_MAX_MEMBERS &&
        (int64_t)k * LEAVES__DELETE_ONE_US > members * LEAVES__DECODE_MEMBER_US;
}

/* v[0..n), sorted by room: a room's leaves at a time, settled ones (read again at least
 * CHAT_MEMBER_LEAVE_SETTLE_MS after their leave) possibly together. The first error. */
static chat_err_t leaves__each_room(chat_db_t *db, const chat_member_leave_t *v, size_t n,
                                    bool settled)
{
    chat_err_t first = CHAT_OK;
    size_t i = 0;

    while (i < n) {
        size_t k = 1;
        bool together;
        size_t batch;
        while (i + k < n && bson_oid_equal(&v[i + k].room, &v[i].room)) {
            k++;
        }
        together = settled && leaves__settle_together(v + i, k);
        batch = together ? LEAVES__SETTLE_BATCH : LEAVES__FINISH_BATCH;
        for (size_t j = 0; j < k; j += batch) {
            size_t m = k - j < batch ? k - j : batch;
            chat_err_t rc = together ? leaves__settle_room(db, v + i + j, m)
                                     : leaves__finish_room(db, v + i + j, m);
            if (first == CHAT_OK) {
                first = rc; /* the rest still go; what failed is the sweep's */
            }
        }
        i += k;
    }
    return first;
}

chat_err_t chat_membership_leaves_finish(chat_db_t *db, const chat_member_leave_t *ls, size_t n)
{
    chat_member_leave_t *v = n > 0 ? malloc(n * sizeof(*v)) : NULL;
    chat_err_t rc;

    if (n > 0 && v == NULL) {
        return CHAT_ERR_NOMEM;
    }
    if (n > 0) {
        memcpy(v, ls, n * sizeof(*v));
        qsort(v, n, sizeof(*v), leaves__by_room);
    }
    rc = leaves__each_room(db, v, n, false);
    free(v);
    return rc;
}

static int leaves__by_id(const void *a, const void *b)
{
    return bson_oid_compare(&((const chat_member_leave_t *)a)->id,
                            &((const chat_member_leave_t *)b)->id);
}

chat_err_t chat_membership_leaves_settle(chat_db_t *db, const chat_member_leave_t *ls, size_t n,
                                         int64_t now_ms)
{
    chat_member_leave_t *old = n > 0 ? malloc(n * sizeof(*old)) : NULL;
    chat_member_leaves_t fresh = {NULL, 0};
    size_t n_old = 0;
    size_t n_young = 0;
    size_t kept = 0;
    chat_err_t young_rc;
    chat_err_t rc;

    if (n > 0 && old == NULL) {
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) { /* the young first, in ls's own order */
        if (ls[i].at_ms <= now_ms - CHAT_MEMBER_LEAVE_SETTLE_MS) {
            old[n_old++] = ls[i];
        } else {
            old[n - 1 - n_young++] = ls[i];
        }
    }
    young_rc = chat_membership_leaves_finish(db, old + n_old, n_young);
    /* read again: a record a join forgot since is not ours to delete any more */
    rc = chat_member_leaves_load_ids(db, old, n_old, &fresh);
    if (rc == CHAT_OK && n_old > 1) {
        qsort(old, n_old, sizeof(*old), leaves__by_id);
    }
    for (size_t i = 0; rc == CHAT_OK && i < fresh.n; i++) {
        const chat_member_leave_t *noted =
            bsearch(&fresh.v[i], old, n_old, sizeof(*old), leaves__by_id);
        if (!fresh.v[i].done) {
            fresh.v[kept] = fresh.v[i];
            fresh.v[kept++].room_members = noted != NULL ? noted->room_members : 0;
        }
    }
    if (rc == CHAT_OK) {
        rc = leaves__each_room(db, fresh.v, kept, true); /* fresh is sorted by room */
    }
    chat_member_leaves_clear(&fresh);
    free(old);
    return young_rc != CHAT_OK ? young_rc : rc;
}

chat_err_t chat_membership_leaves_take_over(chat_db_t *db, const bson_oid_t *room,
                                            const bson_oid_t *user, int64_t *joined_at)
{
    chat_member_leaves_t leaves = {NULL, 0};
    chat_err_t rc = chat_member_leaves_load(db, room, user, 0, &leaves);

    for (size_t i = 0; rc == CHAT_OK && i < leaves.n; i++) {
        if (!leaves.v[i].done) {
            rc = chat_members_delete_left(db, room, user, &leaves.v[i].at_ms, 1);
        }
        if (rc == CHAT_OK) {
            rc = chat_member_leave_forget(db, &leaves.v[i]);
        }
        if (leaves.v[i].at_ms >= *joined_at) {
            *joined_at = leaves.v[i].at_ms + 1;
        }
    }
    chat_member_leaves_clear(&leaves);
    return rc;
}

chat_err_t chat_membership_leaves_sweep(chat_db_t *db, int64_t now_ms, size_t *finished)
{
    chat_member_leaves_t leaves = {NULL, 0};
    chat_err_t rc =
        chat_member_leaves_load(db, NULL, NULL, now_ms - CHAT_MEMBER_LEAVE_ORPHAN_MS, &leaves);
    size_t n = 0;

    *finished = 0;
    for (size_t i = 0; rc == CHAT_OK && i < leaves.n; i++) {
        if (!leaves.v[i].done) { /* its process died before deleting */
            leaves.v[n++] = leaves.v[i];
        }
    }
    if (rc == CHAT_OK && n > 0) {
        rc = chat_membership_leaves_finish(db, leaves.v, n);
        *finished = n;
    }
    chat_member_leaves_clear(&leaves);
    if (rc == CHAT_OK) {
        rc = chat_member_leaves_forget_done(db, now_ms - CHAT_MEMBER_LEAVE_KEEP_MS);
    }
    return rc;
}
