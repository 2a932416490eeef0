/*
 * messages_repo.h - the messages collection: {_id, room_id, seq, user_id, username,
 * content, type, created_at, client_msg_id?, idem_key}. Unique (room_id, seq) and
 * unique idem_key ("<user_id>:<client_msg_id>", or the message's own id when no
 * client_msg_id) make seq allocation and resends safe across any number of processes.
 *
 * seq allocation is insert-first: the next seq is max+1, and a duplicate-key error
 * on (room_id, seq) means another process won, so re-read and retry. A seq exists
 * only once its message is stored, so seqs never have holes. Blocking; see db.h.
 */
#ifndef CHAT_MESSAGES_REPO_H
#define CHAT_MESSAGES_REPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/model.h"

#define CHAT_HISTORY_MAX_LIMIT 200

/**
 * Stores a message: in->room_id, user_id, username, content, type and optional
 * client_msg_id are read; out gets the stored message with id, seq and timestamp.
 * When (user_id, client_msg_id) was stored before, out is that earlier message and
 * *duplicate = true (nothing new is stored). seq_hint, if not NULL, is a caller-owned
 * cache of the room's last known seq (0 = unknown) that saves a query; it is updated.
 */
chat_err_t chat_messages_append(chat_db_t *db, const chat_message_t *in, int64_t *seq_hint,
                                chat_message_t *out, bool *duplicate);

/** Latest page: offset counts back from the newest; items oldest first; total = count. */
chat_err_t chat_messages_page_latest(chat_db_t *db, const char *room_id, int64_t limit,
                                     int64_t offset, chat_message_list_t *out, int64_t *total);

/** Messages with seq > after_seq, ascending, at most limit. Uses the (room_id, seq) index. */
chat_err_t chat_messages_after(chat_db_t *db, const char *room_id, int64_t after_seq,
                               int64_t limit, chat_message_list_t *out);

/** Messages with seq < before_seq, the newest limit of them, returned ascending. */
chat_err_t chat_messages_before(chat_db_t *db, const char *room_id, int64_t before_seq,
                                int64_t limit, chat_message_list_t *out);

/** Highest stored seq of the room (0 when empty). */
chat_err_t chat_messages_last_seq(chat_db_t *db, const char *room_id, int64_t *out);

#endif
