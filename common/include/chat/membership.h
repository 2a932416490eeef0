/*
 * membership.h - joining and leaving rooms, the one code path REST and the gateway
 * share: check the room's rules against the read model (member_cache.h,
 * room_cache.h), change room_members in MongoDB and the Redis sets (in the order that
 * never lets a removed member pass: see member_cache.h), then store the "system"
 * message with the room's next seq and commit it to the room's window, which also
 * PUBLISHes it on chat:room:{<id>}, with member_added before it (a join) or member_removed
 * after it (a leave) on the same channel. Membership changes need Redis: while it is down they
 * are refused with CHAT_ERR_UNAVAILABLE (nothing is changed), so the sets can never miss
 * one. Blocking; the thread owning the store.
 */
#ifndef CHAT_MEMBERSHIP_H
#define CHAT_MEMBERSHIP_H

#include <stdbool.h>

#include "chat/member_leaves_repo.h"
#include "chat/model.h"
#include "chat/store.h"

/**
 * Adds user_id to room_id. A private (or DM) room refuses with CHAT_ERR_FORBIDDEN
 * unless by_owner (the owner adding a member) - or the user already belongs (no-op).
 * Unknown room: CHAT_ERR_NOT_FOUND. When the member list changed, stores the system
 * message "<username> joined the room" into *sys_out and sets *changed; room_out is the
 * room afterwards (first members and count). Both outs must be zeroed; caller clears.
 */
chat_err_t chat_membership_join(const chat_store_t *s, const char *room_id, const char *user_id,
                                const char *username, bool by_owner, chat_room_t *room_out,
                                chat_message_t *sys_out, bool *changed);

/**
 * Removes user_id from room_id ("<username> left the room", or "<username> was removed
 * from the room" when removed_by_owner). The owner cannot leave their room, nor anyone a
 * DM: CHAT_ERR_FORBIDDEN. Not a member: CHAT_OK with *changed = false.
 */
chat_err_t chat_membership_leave(const chat_store_t *s, const char *room_id, const char *user_id,
                                 const char *username, bool removed_by_owner, chat_room_t *room_out,
                                 chat_message_t *sys_out, bool *changed);

/**
 * Charges one membership change to actor_id's bucket (RATE_MEMBERSHIP_PER_MIN, per_min;
 * <= 0 is off), shared by every process through Redis: REST join/leave/add/remove and
 * the gateways' join/leave frames. CHAT_ERR_RATE_LIMITED with *retry_after_ms when the
 * bucket is empty. While Redis is down it allows (the change itself is refused then).
 */
chat_err_t chat_membership_charge(const chat_store_t *s, const char *actor_id, double per_min,
                                  int64_t *retry_after_ms);

/** A room was just created with these members (creator first): records it in the read
 *  model (room document, public list, each member's room list) and, since nobody else
 *  knows it yet, its member set, its empty history window (Redis) and its seq 0
 *  (room_heads), so that its first join, message and page read nothing. Best effort. */
void chat_membership_room_created(const chat_store_t *s, const chat_room_t *room,
                                  const char (*members)[CHAT_ID_LEN], size_t n);

#endif
