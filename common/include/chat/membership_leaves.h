/*
 * membership_leaves.h - finishing recorded leaves (member_leaves_repo.h): deleting the
 * room_members documents they ended and marking the records done. A leave answers once
 * its record is stored; these run behind the reply (write_behind.h in rest-fcgi, the
 * store worker in the gateway), before a join of the same user, and in the sweep.
 *
 * On FerretDB a delete scans every membership whatever its filter (~25 ms at 40k), and
 * applies what it cannot push down to each of the room's memberships in Go (~0.1 ms
 * each). So how leaves are deleted depends on the room:
 * - finish (any age): a small room's leaves in one command ($or of exact per-user
 *   bounds), a large room's one command each;
 * - settle (records at least CHAT_MEMBER_LEAVE_SETTLE_MS old): the records are read
 *   again, and a large room's many leaves go in one {user_id: {$in}, joined_at <= the
 *   latest leave} command. That common bound is exact only because of the age: a join
 *   forgets its user's record before it inserts the new membership, so a record still
 *   there when read had no join since, and any later join begins after the read, which
 *   is CHAT_MEMBER_LEAVE_SETTLE_MS past every leave of the batch.
 *
 * Blocking; any thread that may block (see db.h).
 */
#ifndef CHAT_MEMBERSHIP_LEAVES_H
#define CHAT_MEMBERSHIP_LEAVES_H

#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/member_leaves_repo.h"

/** Deletes the memberships that the recorded leaves ls[0..n) ended and marks the records
 *  done: per room one update, and one delete for a small room's leaves or one each in a
 *  large room. The first error (the others still go; what failed is left to the
 *  sweep). */
chat_err_t chat_membership_leaves_finish(chat_db_t *db, const chat_member_leave_t *ls, size_t n);

/** As chat_membership_leaves_finish, cheaper for many leaves of a large room: those of
 *  ls[0..n) recorded at least CHAT_MEMBER_LEAVE_SETTLE_MS before now_ms are read again
 *  (a join may have taken one over) and a large room's deleted in one command when that
 *  costs FerretDB less than one each; the younger ones are finished as above. */
chat_err_t chat_membership_leaves_settle(chat_db_t *db, const chat_member_leave_t *ls, size_t n,
                                         int64_t now_ms);

/** Before a join of user to room: finishes that user's pending leaves of the room and
 *  forgets their records, and moves *joined_at past the latest, so that nothing
 *  subtracts the new membership. */
chat_err_t chat_membership_leaves_take_over(chat_db_t *db, const bson_oid_t *room,
                                            const bson_oid_t *user, int64_t *joined_at);

/** Forgets the done leave records older than CHAT_MEMBER_LEAVE_KEEP_MS and finishes
 *  those whose process died (member_leaves_repo.h); *finished = how many of the latter.
 *  Every process may run it: each step is idempotent. */
chat_err_t chat_membership_leaves_sweep(chat_db_t *db, int64_t now_ms, size_t *finished);

#endif
