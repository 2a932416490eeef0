/*
 * message_idem.c - a message's idem_key, its _id hashed from the pre-room key, and the
 * lookup of its earlier stored copy after a refusal (see message_idem.h).
 *
 * Threads: any thread that may block (only chat_message_idem_earlier_copy asks
 * MongoDB). Relies on hash.h (FNV-1a) and messages_repo.h (find by _id / idem_key).
 */
#include "chat/message_idem.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chat/hash.h"
#include "chat/messages_repo.h"

#define MESSAGE_IDEM__BASIS2 0x84222325cbf29ce4ull /* the second hash's own start */

bool chat_messages_idem_key(const char *user_id, const char *room_id, const char *client_msg_id,
                            char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s:%s:%s", user_id, room_id, client_msg_id);

    return n > 0 && (size_t)n < len;
}

/* Not a security boundary: a clash with another key is detected, and the message then
 * takes a random _id and relies on the unique idem_key index. */
void chat_message_idem_hashed_id(const char *key, bson_oid_t *out)
{
    uint64_t h1 = chat_hash_fnv1a64(key);
    uint64_t h2 = chat_hash_fnv1a64_update(MESSAGE_IDEM__BASIS2, key, strlen(key));

    h1 ^= h2 >> 29;
    h2 ^= h1 >> 31;
    h1 = (h1 ^ (h1 >> 30)) * 0xbf58476d1ce4e5b9ull;
    h2 = (h2 ^ (h2 >> 27)) * 0x94d049bb133111ebull;
    for (int i = 0; i < 8; i++) {
        out->bytes[i] = (uint8_t)(h1 >> (8 * i));
    }
    for (int i = 0; i < 4; i++) {
        out->bytes[8 + i] = (uint8_t)(h2 >> (8 * i));
    }
}

bool chat_message_idem_init(chat_message_idem_t *idem, const bson_oid_t *user,
                            const bson_oid_t *room, const char *client_msg_id)
{
    char user_hex[CHAT_ID_LEN];
    char room_hex[CHAT_ID_LEN];
    char id_key[CHAT_MESSAGE_IDEM_KEY_MAX];
    int n;

    if (client_msg_id == NULL) {
        bson_oid_init(&idem->id, NULL);
        bson_oid_to_string(&idem->id, idem->key);
        idem->hashed = false;
        return true;
    }
    bson_oid_to_string(user, user_hex); /* canonical lower-case */
    bson_oid_to_string(room, room_hex);
    if (!chat_messages_idem_key(user_hex, room_hex, client_msg_id, idem->key, sizeof(idem->key))) {
        return false;
    }
    /* the _id hashes the pre-room-scope key (user:client_msg_id) on purpose: a resend of
     * a message stored before the key took the room still collides with its copy and
     * gets its original ack (read both, no migration); the same id in another room
     * collides too, is told apart by its room and goes random */
    n = snprintf(id_key, sizeof(id_key), "%s:%s", user_hex, client_msg_id);
    if (n < 0 || (size_t)n >= sizeof(id_key)) {
        return false;
    }
    chat_message_idem_hashed_id(id_key, &idem->id);
    idem->hashed = true;
    return true;
}

chat_err_t chat_message_idem_earlier_copy(chat_db_t *db, const chat_message_t *in,
                                          chat_message_idem_t *idem, bool thorough,
                                          chat_message_t *out, bool *same)
{
    chat_err_t rc;

    *same = false;
    if (in->client_msg_id == NULL) {
        return CHAT_OK;
    }
    if (idem->hashed) {
        rc = chat_messages_find_one(db, BCON_NEW("_id", BCON_OID(&idem->id)), out);
        if (rc == CHAT_OK && strcmp(out->user_id, in->user_id) == 0 &&
            strcmp(out->room_id, in->room_id) == 0 && out->client_msg_id != NULL &&
            strcmp(out->client_msg_id, in->client_msg_id) == 0) {
            *same = true;
            return CHAT_OK;
        }
        if (rc == CHAT_OK) { /* another key hashed to our _id: go random */
            chat_message_clear(out);
            bson_oid_init(&idem->id, NULL);
            idem->hashed = false;
            thorough = true;
        } else if (rc != CHAT_ERR_NOT_FOUND) {
            return rc;
        }
    }
    if (!thorough) {
        return CHAT_OK;
    }
    rc = chat_messages_find_one(db, BCON_NEW("idem_key", BCON_UTF8(idem->key)), out);
    if (rc == CHAT_OK) {
        *same = true;
    }
    return rc == CHAT_ERR_NOT_FOUND ? CHAT_OK : rc;
}
