/*
 * messages_repo.h - the messages collection: {_id, room_id, seq, user_id, username,
 * content, type, created_at, client_msg_id?, idem_key}, unique on (room_id, seq) and on
 * idem_key, plus room_heads {_id: room_id, seq}, a lower bound of each room's highest
 * stored seq. Reads by seq range (seqs run 1..head without holes: message_append.h),
 * which MongoDB answers from the (room_id, seq) index; on FerretDB each is a scan, which
 * is why hot reads go to the Redis window (history.h) instead. Blocking; see db.h.
 */
#ifndef CHAT_MESSAGES_REPO_H
#define CHAT_MESSAGES_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/model.h"

/** The most messages one read returns (REST pages, replay and backfill pages). */
#define CHAT_HISTORY_MAX_LIMIT 200

/** Messages with from <= seq <= to, ascending (at most CHAT_HISTORY_MAX_LIMIT). */
chat_err_t chat_messages_range(chat_db_t *db, const char *room_id, int64_t from, int64_t to,
                               chat_message_list_t *out);

/** The newest limit messages (any limit: the window fill reads HISTORY_WINDOW),
 *  ascending. */
chat_err_t chat_messages_newest(chat_db_t *db, const char *room_id, int64_t limit,
                                chat_message_list_t *out);

/** Highest stored seq of the room (0 when empty), from the messages themselves. */
chat_err_t chat_messages_last_seq(chat_db_t *db, const char *room_id, int64_t *out);

/** Takes one decoded message (its strings now the callee's: clear it). CHAT_OK goes on;
 *  anything else stops chat_messages_each and is what it returns. */
typedef chat_err_t (*chat_messages_each_fn)(chat_message_t *msg, void *arg);

/** Every stored message, or those of the n_rooms rooms (`room_id $in`) when rooms is
 *  not NULL, in no particular order, handed to each() (which bounds what it keeps).
 *  A scan of the whole collection on FerretDB either way (the `$in` is applied in Go, so
 *  only the rooms' messages cross the wire); on MongoDB the rooms' part of the
 *  {room_id, seq} index. For one read instead of one per room (history_warm.h). */
chat_err_t chat_messages_each(chat_db_t *db, const bson_oid_t *rooms, size_t n_rooms,
                              chat_messages_each_fn each, void *arg);

/** What room_heads says (chat_messages_heads_all). */
typedef struct chat_room_heads {
    bson_oid_t *rooms; /* the rooms with a head above 0 (messages stored), malloc'd */
    int64_t *seqs;     /* their heads, malloc'd */
    size_t n;          /* of them */
    size_t read;       /* documents read: more than max_rooms means it stopped there */
    int64_t total;     /* the sum of their heads: a lower bound of the messages stored */
} chat_room_heads_t;

/** Every room's head in room_heads (seqs run 1..head, so their sum is a lower bound of
 *  the messages stored, a head being written behind by up to a second), from at most
 *  max_rooms + 1 documents. One read of room_heads: O(rooms), where the collection's
 *  estimated count decoded all of `messages` on FerretDB/SQLite (600 ms at 11,494
 *  messages). *out is zeroed first; clear it with chat_room_heads_clear. */
chat_err_t chat_messages_heads_all(chat_db_t *db, size_t max_rooms, chat_room_heads_t *out);
void chat_room_heads_clear(chat_room_heads_t *h);

/* ---- primitives of message_append.c ---- */

/** Fills out (zeroed) from a messages document. */
chat_err_t chat_messages_from_bson(const bson_t *doc, chat_message_t *out);
/** The one message matching filter (destroyed here); CHAT_ERR_NOT_FOUND when none. */
chat_err_t chat_messages_find_one(chat_db_t *db, bson_t *filter, chat_message_t *out);
/** Highest stored seq of the room (oid form). */
chat_err_t chat_messages_last_seq_oid(chat_db_t *db, const bson_oid_t *room, int64_t *out);
/** room_heads: the head of room (*found false when it has none). */
chat_err_t chat_messages_head(chat_db_t *db, const bson_oid_t *room, int64_t *out, bool *found);
/** Raises the heads of n rooms to seqs[i] ($max, one bulk write; best effort). */
void chat_messages_heads_advance(chat_db_t *db, const bson_oid_t *rooms, const int64_t *seqs,
                                 size_t n);

#endif
