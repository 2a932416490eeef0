/*
 * last_seen_log.h - the last_seen_log collection: where the gateways record when users
 * went offline. On FerretDB an update of `users` costs a scan of every user (its `$in`
 * form decodes them all in Go, ~0.75 s at 10,000 users; a lone `{_id}` ~10 ms in
 * PostgreSQL), while an insert costs ~1 ms whatever the collection holds. So a batch of
 * users gone offline is one insert here, and a user's last_seen is the latest of
 * `users.last_seen` (written before this log existed) and their entries here. Every read
 * of user documents from MongoDB takes it in (users_repo.c, users_list.c), by reading the
 * whole log: its entries are packed, 20 bytes each (the user's ObjectId, then the time
 * as a little-endian int64 of ms), into one binary field per document, {_id, at,
 * seen: BinData} (at most CHAT_LAST_SEEN_LOG_CHUNK entries), because FerretDB decodes an
 * array element in ~5-10 us: 10,000 users read as arrays took ~100 ms, packed ~10 ms.
 *
 * Compaction keeps the log small: every batch document read is folded, with earlier
 * folds, into snapshot documents {_id, at, snapshot: true, seen} (one entry per user, the
 * latest), inserted before the documents read are deleted by _id. Readers take the latest
 * entry per user, so a fold that runs twice at once, or dies between its insert and its
 * delete, leaves duplicates the next fold merges, never an older time. A batch inserted
 * during a fold is not among the documents it deletes.
 *
 * Blocking; any thread that may block (see db.h). Each call borrows its own client.
 */
#ifndef CHAT_LAST_SEEN_LOG_H
#define CHAT_LAST_SEEN_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/model.h"

/* Entries per document (a batch's or a snapshot's): 100 KB. */
#define CHAT_LAST_SEEN_LOG_CHUNK 5000
/* Documents, and entries, one read takes in (an entry is 16 B in memory); past either the
 * rest is left for the next fold (a reader then shows an older last_seen for the users
 * only the rest holds, and a warning is logged). Only documents read whole are folded. */
#define CHAT_LAST_SEEN_LOG_READ_MAX 20000
#define CHAT_LAST_SEEN_LOG_ENTRIES_MAX 2000000
/* A fold runs once the log holds at least this many batch documents (each costs a reader
 * ~0.1 ms on FerretDB beyond its bytes). */
#define CHAT_LAST_SEEN_LOG_FOLD_BATCHES 16

/** One user's latest time in the log. */
typedef struct chat_last_seen {
    bson_oid_t user;
    int64_t at_ms;
} chat_last_seen_t;

/** The log as read: the latest time per user, sorted by user, and the documents read. */
typedef struct chat_last_seen_map {
    chat_last_seen_t *v;
    size_t n;
    bson_oid_t *docs; /* _id of every document read */
    size_t n_docs;
    size_t n_batches; /* of those, batch documents (not snapshots) */
} chat_last_seen_map_t;

/** Records that ids[0..n) went offline at at_ms: one insert per CHAT_LAST_SEEN_LOG_CHUNK
 *  users. Ids that are not ObjectIds are skipped. */
chat_err_t chat_last_seen_log_append(chat_db_t *db, const char (*ids)[CHAT_ID_LEN], size_t n,
                                     int64_t at_ms);

/** Reads the whole log into out (cleared with chat_last_seen_map_clear, also on error). */
chat_err_t chat_last_seen_log_load(chat_db_t *db, chat_last_seen_map_t *out);

/** user_id's latest time in m, or 0. */
int64_t chat_last_seen_map_get(const chat_last_seen_map_t *m, const char *user_id);

/** Raises users[i].last_seen_ms to m's time for them, where later. */
void chat_last_seen_map_apply(const chat_last_seen_map_t *m, chat_user_t *users, size_t n);

void chat_last_seen_map_clear(chat_last_seen_map_t *m);

/** Reads the log and raises users[0..n)'s last_seen where it holds a later time: for
 *  user documents just read from `users`. */
chat_err_t chat_last_seen_log_merge(chat_db_t *db, chat_user_t *users, size_t n);

/** Folds the log into snapshot documents (see above) when it holds at least
 *  min_batches batch documents; *folded = the documents it replaced (0: nothing done). */
chat_err_t chat_last_seen_log_fold(chat_db_t *db, size_t min_batches, size_t *folded);

#endif
