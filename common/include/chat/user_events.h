/*
 * user_events.h - the per-user live channel chat:user:{<user_id>} (keys.h): events about
 * one user's rooms, delivered by the gateways to every socket of that user, whichever
 * gateway holds it and whether or not it watches the room yet (SPEC §3, server frames):
 *   {"type": "room_added",     "room": <room as GET /api/rooms/{id}>}   joined or added
 *   {"type": "dm_created",     "room": <room>}                          a new DM
 *   {"type": "member_removed", "room_id": ..., "user_id": <the user>}   left or removed
 * and one for the gateways only (never forwarded to clients):
 *   {"type": "account_deleted"}: close every socket of the user (4001)
 *   {"type": "token_revoked", "jti": ...}: close the sockets opened with that token (4001)
 * Best effort, like every PUBLISH: a client that was offline learns the same from
 * GET /api/rooms when it reconnects.
 *
 * Threads: the thread owning the Redis handle (blocking, short timeouts).
 */
#ifndef CHAT_USER_EVENTS_H
#define CHAT_USER_EVENTS_H

#include <stdbool.h>

#include "chat/model.h"
#include "chat/redis_sync.h"

/** Publishes room_added (dm = false) or dm_created (dm = true) with room to user_id. */
void chat_user_event_room(chat_redis_t *redis, const char *user_id, const chat_room_t *room,
                          bool dm);

/** Publishes member_removed for room_id to user_id. */
void chat_user_event_removed(chat_redis_t *redis, const char *user_id, const char *room_id);

/** Publishes account_deleted to user_id (for the gateways: they close its sockets). */
void chat_user_event_account_deleted(chat_redis_t *redis, const char *user_id);

/**
 * Publishes {"type": "token_revoked", "jti": jti} to user_id after a logout
 * (token_denylist.h): for the gateways only, which close the sockets opened with that token
 * (4001). Best effort like the others: the denylist itself is the authority.
 */
void chat_user_event_token_revoked(chat_redis_t *redis, const char *user_id, const char *jti);

#endif
