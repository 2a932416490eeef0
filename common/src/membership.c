/*
 * membership.c - join / leave / remove, shared by rest-fcgi and the gateway: check the
 * room's rules, change the member list (exactly-once: rooms_repo's insert under a unique
 * index / delete tells exactly one of racing callers that it made the change), then
 * store the system message with the room's next seq. When that fails the member change
 * is undone, so that a retry makes it again and posts the message then.
 *
 * Threads: any thread that may block (rest-fcgi request threads, gateway workers).
 * Relies on rooms_repo.c and messages_repo.c; publishing is the caller's job.
 */
#include "chat/membership.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/messages_repo.h"
#include "chat/rooms_repo.h"
#include "chat/validate.h"

/* Stores "<username> <what>" as a system message of room_id about user_id. */
static chat_err_t membership__system_message(chat_db_t *db, const char *room_id,
                                             const char *user_id, const char *username,
                                             const char *what, chat_message_t *sys_out)
{
    chat_message_t in = {0};
    chat_message_t tmp = {0};
    size_t len = strlen(username) + strlen(what) + 2;
    char *content = malloc(len);
    bool duplicate = false;
    chat_err_t rc;

    if (content == NULL) {
        return CHAT_ERR_NOMEM;
    }
    snprintf(content, len, "%s %s", username, what);
    snprintf(in.room_id, sizeof(in.room_id), "%s", room_id);
    snprintf(in.user_id, sizeof(in.user_id), "%s", user_id);
    in.username = (char *)username; /* borrowed; in is never cleared */
    in.content = content;
    in.type = CHAT_MSG_SYSTEM;
    rc = chat_messages_append(db, &in, NULL, sys_out != NULL ? sys_out : &tmp, &duplicate);
    chat_message_clear(&tmp);
    free(content);
    return rc;
}

chat_err_t chat_membership_join(chat_db_t *db, const char *room_id, const char *user_id,
                                const char *username, bool by_owner, chat_room_t *room_out,
                                chat_message_t *sys_out, bool *changed)
{
    chat_room_t room = {0};
    char uid[CHAT_ID_LEN];
    bool added = false;
    bool removed = false;
    chat_err_t rc;

    *changed = false;
    if (username == NULL || user_id == NULL || !chat_validate_object_id(user_id)) {
        return CHAT_ERR_INVALID;
    }
    chat_ascii_lower(user_id, uid, sizeof(uid)); /* members are stored lower-case */
    user_id = uid;
    rc = chat_rooms_find(db, room_id, &room);
    if (rc != CHAT_OK) {
        goto cleanup;
    }
    if (chat_room_has_member(&room, user_id)) {
        goto cleanup; /* already in: a no-op, whatever the room's rules */
    }
    /* Private rooms are invite-only; a DM stays a two-person room even for its owner. */
    if (room.is_dm || (room.is_private && !by_owner)) {
        rc = CHAT_ERR_FORBIDDEN;
        goto cleanup;
    }
    chat_room_clear(&room);
    rc = chat_rooms_add_member(db, room_id, user_id, &added, &room);
    if (rc == CHAT_OK && added) {
        rc = membership__system_message(db, room_id, user_id, username, "joined the room",
                                        sys_out);
    }
    if (rc != CHAT_OK && added) {
        /* Added, but no message stored (or the room not re-read): undo so that a retry
         * joins again and posts the message then. */
        (void)chat_rooms_remove_member(db, room_id, user_id, &removed, NULL);
        goto cleanup;
    }
    if (rc != CHAT_OK || !added) {
        goto cleanup; /* a concurrent join won: it posted the message */
    }
    *changed = true;

cleanup:
    if (rc == CHAT_OK && room_out != NULL) {
        *room_out = room; /* moves */
        memset(&room, 0, sizeof(room));
    }
    chat_room_clear(&room);
    return rc;
}

chat_err_t chat_membership_leave(chat_db_t *db, const char *room_id, const char *user_id,
                                 const char *username, bool removed_by_owner,
                                 chat_room_t *room_out, chat_message_t *sys_out,
                                 bool *changed)
{
    chat_room_t room = {0};
    char uid[CHAT_ID_LEN];
    bool removed = false;
    bool readded = false;
    chat_err_t rc;

    *changed = false;
    if (username == NULL || user_id == NULL || !chat_validate_object_id(user_id)) {
        return CHAT_ERR_INVALID;
    }
    chat_ascii_lower(user_id, uid, sizeof(uid)); /* members are stored lower-case */
    user_id = uid;
    rc = chat_rooms_find(db, room_id, &room);
    if (rc != CHAT_OK) {
        goto cleanup;
    }
    if (!chat_room_has_member(&room, user_id)) {
        goto cleanup;
    }
    /* The owner cannot leave (nor be removed from) their room, and a DM has no exit:
     * either would leave a room nobody can manage or reopen. */
    if (strcmp(room.creator_id, user_id) == 0 || room.is_dm) {
        rc = CHAT_ERR_FORBIDDEN;
        goto cleanup;
    }
    chat_room_clear(&room);
    rc = chat_rooms_remove_member(db, room_id, user_id, &removed, &room);
    if (rc == CHAT_OK && removed) {
        rc = membership__system_message(db, room_id, user_id, username,
                                        removed_by_owner ? "was removed from the room"
                                                         : "left the room",
                                        sys_out);
    }
    if (rc != CHAT_OK && removed) {
        (void)chat_rooms_add_member(db, room_id, user_id, &readded, NULL);
        goto cleanup;
    }
    if (rc != CHAT_OK || !removed) {
        goto cleanup;
    }
    *changed = true;

cleanup:
    if (rc == CHAT_OK && room_out != NULL) {
        *room_out = room;
        memset(&room, 0, sizeof(room));
    }
    chat_room_clear(&room);
    return rc;
}
