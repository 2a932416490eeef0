/*
 * membership.h - joining and leaving rooms, the one code path REST and the gateway
 * share: change the member list, then store the "system" message with the room's next
 * seq. Publishing the stored message on chat:room:<id> is the caller's job (sync
 * Redis in rest-fcgi, async in the gateway). Blocking; see db.h for threads.
 */
#ifndef CHAT_MEMBERSHIP_H
#define CHAT_MEMBERSHIP_H

#include <stdbool.h>

#include "chat/db.h"
#include "chat/model.h"

/**
 * Adds user_id to room_id. A private (or DM) room refuses with CHAT_ERR_FORBIDDEN
 * unless by_owner (the owner adding a member) - or the user already belongs (no-op).
 * Unknown room: CHAT_ERR_NOT_FOUND. When the member list changed, stores the system
 * message "<username> joined the room" into *sys_out and sets *changed; room_out is
 * the room afterwards. Both outs must be zeroed; the caller clears them.
 */
chat_err_t chat_membership_join(chat_db_t *db, const char *room_id, const char *user_id,
                                const char *username, bool by_owner, chat_room_t *room_out,
                                chat_message_t *sys_out, bool *changed);

/**
 * Removes user_id from room_id ("<username> left the room", or "<username> was removed"
 * when removed_by_owner). The owner cannot leave their own room: CHAT_ERR_FORBIDDEN.
 * Not a member: CHAT_OK with *changed = false.
 */
chat_err_t chat_membership_leave(chat_db_t *db, const char *room_id, const char *user_id,
                                 const char *username, bool removed_by_owner,
                                 chat_room_t *room_out, chat_message_t *sys_out,
                                 bool *changed);

#endif
