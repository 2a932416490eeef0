/*
 * message_idem.h - a message's identity for idempotent resends (message_append.h):
 *
 *   - idem_key = "<user>:<room>:<client_msg_id>" (SPEC §4.3), or the message's own id
 *     when it has no client_msg_id, unique in the messages collection;
 *   - a message with a client_msg_id gets an _id hashed from the pre-room key
 *     "<user>:<client_msg_id>", so that a resend (also of a message stored before the
 *     key took the room) is refused on _id and its earlier copy found by _id. The same
 *     id in another room collides too, is told apart by its room, and goes random.
 *
 * chat_message_idem_earlier_copy is blocking (MongoDB); the rest are pure. Any thread
 * that may block (see db.h).
 */
#ifndef CHAT_MESSAGE_IDEM_H
#define CHAT_MESSAGE_IDEM_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/db.h"
#include "chat/model.h"

#define CHAT_MESSAGE_IDEM_KEY_MAX 200

/** The identity a message is stored under. */
typedef struct chat_message_idem {
    bson_oid_t id;                       /* its _id */
    bool hashed;                         /* id is hashed from the key (a resend collides) */
    char key[CHAT_MESSAGE_IDEM_KEY_MAX]; /* its idem_key */
} chat_message_idem_t;

/** The idem_key of a message with client_msg_id (NULL: none), into buf. False when it
 *  does not fit. */
bool chat_messages_idem_key(const char *user_id, const char *room_id, const char *client_msg_id,
                            char *buf, size_t len);

/**
 * The identity of a new message by user in room with client_msg_id (NULL: none, then a
 * random _id that is also its idem_key). False when the keys do not fit (an invalid
 * message).
 */
bool chat_message_idem_init(chat_message_idem_t *idem, const bson_oid_t *user,
                            const bson_oid_t *room, const char *client_msg_id);

/** The _id hashed from key: 96 bits of FNV-1a with two bases, mixed. Stable forever:
 *  stored documents hold it. */
void chat_message_idem_hashed_id(const char *key, bson_oid_t *out);

/**
 * After a refusal of in (stored under idem): was it this very message, stored before?
 * *same, and out (the earlier copy, caller clears), when so. The hashed _id answers by
 * _id; after a hash clash (idem->id is then made random, for the next try) or for a copy
 * under a random _id only the idem_key lookup can, and thorough says whether to pay for
 * it (a scan on FerretDB). CHAT_OK unless MongoDB failed.
 */
chat_err_t chat_message_idem_earlier_copy(chat_db_t *db, const chat_message_t *in,
                                          chat_message_idem_t *idem, bool thorough,
                                          chat_message_t *out, bool *same);

#endif
