/*
 * member_leaves_repo.h - the member_leaves collection: leaves that are durable but whose
 * room_members document is not deleted yet. On FerretDB that delete is a scan of every
 * membership (~30 ms at 40k), while an insert costs ~1 ms, so a leave records itself
 * here, answers, and deletes the membership behind the reply (membership.c). One
 * document per leave: {_id, room_id, user_id, at, done?}, unique per (room_id, user_id).
 * A membership of (room, user) that began at or before `at` is over: every reader of
 * room_members subtracts it (room_members_repo.c), and a join first finishes the leave
 * and begins after `at`. Once the membership is deleted the record is marked done and
 * kept CHAT_MEMBER_LEAVE_KEEP_MS: while it stands, a second leave of the same membership
 * (one that checked before this one took the member out of the sets) meets its unique
 * key and does nothing, as a second delete used to. The sweep
 * (chat_membership_leaves_sweep) forgets done records after that, and finishes records
 * whose process died before deleting (CHAT_MEMBER_LEAVE_ORPHAN_MS old). Blocking; any
 * thread that may block (see db.h).
 */
#ifndef CHAT_MEMBER_LEAVES_REPO_H
#define CHAT_MEMBER_LEAVES_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"

/* Pending leaves one read takes in; more is an outage's backlog, answered unavailable
 * rather than wrongly. */
#define CHAT_MEMBER_LEAVES_MAX 10000
/* A done record is forgotten this long after its leave. */
#define CHAT_MEMBER_LEAVE_KEEP_MS 60000
/* A record not done this long after its leave lost its process: the sweep finishes it. A
 * leave still storing its system message may undo itself until then. */
#define CHAT_MEMBER_LEAVE_ORPHAN_MS 300000
/* A record read again this long after its leave can be deleted with others under one
 * common bound (chat_membership_leaves_settle): the margin also covers clock skew
 * between processes. */
#define CHAT_MEMBER_LEAVE_SETTLE_MS 10000

/** One pending leave. */
typedef struct chat_member_leave {
    bson_oid_t id; /* the record's own _id */
    bson_oid_t room;
    bson_oid_t user;
    int64_t at_ms;        /* memberships that began at or before it are over */
    bool done;            /* the membership is deleted */
    int64_t room_members; /* not stored: the room's size after the leave (0: unknown), for
                           * choosing how to delete (chat_membership_leaves_finish) */
} chat_member_leave_t;

/** Pending leaves, sorted by (room, user) for chat_member_leaves_cover. */
typedef struct chat_member_leaves {
    chat_member_leave_t *v;
    size_t n;
} chat_member_leaves_t;

/** Records the leave of (room, user) at at_ms into *out. CHAT_ERR_CONFLICT when one is
 *  already pending for them (a concurrent leave). */
chat_err_t chat_member_leave_record(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                                    int64_t at_ms, chat_member_leave_t *out);

/** Marks ls[0..n) done (one command): their memberships are deleted. */
chat_err_t chat_member_leaves_mark_done(chat_db_t *db, const chat_member_leave_t *ls, size_t n);

/** Forgets the done records of leaves before before_ms (one command). */
chat_err_t chat_member_leaves_forget_done(chat_db_t *db, int64_t before_ms);

/** Deletes the record l (a join took over, the sweep, or the leave was undone). */
chat_err_t chat_member_leave_forget(chat_db_t *db, const chat_member_leave_t *l);

/** The pending leaves of room and/or user (either may be NULL: any); more than
 *  CHAT_MEMBER_LEAVES_MAX is CHAT_ERR_UNAVAILABLE. With before_ms > 0 (the sweep), only
 *  those recorded before it, and at most CHAT_MEMBER_LEAVES_MAX of them. */
chat_err_t chat_member_leaves_load(chat_db_t *db, const bson_oid_t *room, const bson_oid_t *user,
                                   int64_t before_ms, chat_member_leaves_t *out);

/** The records of ls[0..n) that still exist, read again by _id (one command), sorted
 *  as chat_member_leaves_load's; room_members is 0 in them (it is not stored). */
chat_err_t chat_member_leaves_load_ids(chat_db_t *db, const chat_member_leave_t *ls, size_t n,
                                       chat_member_leaves_t *out);

/** Whether a membership of (room, user) that began at joined_at_ms is over. */
bool chat_member_leaves_cover(const chat_member_leaves_t *ls, const bson_oid_t *room,
                              const bson_oid_t *user, int64_t joined_at_ms);

void chat_member_leaves_clear(chat_member_leaves_t *ls);

#endif
