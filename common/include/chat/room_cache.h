/*
 * room_cache.h - rooms through the Redis read model: the room document in
 * chat:{<room>}:info (rooms never change once created, so a cached copy is never stale),
 * the public rooms in chat:rooms:public, the member list and count from member_cache.h.
 * Misses are read from MongoDB and cached; while Redis is down MongoDB answers alone.
 *
 * Blocking; the thread owning the store.
 */
#ifndef CHAT_ROOM_CACHE_H
#define CHAT_ROOM_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/model.h"
#include "chat/store.h"

/** The room document (members empty). CHAT_ERR_NOT_FOUND for an unknown or malformed id. */
chat_err_t chat_room_load(const chat_store_t *s, const char *room_id, chat_room_t *out);

/** Fills room->members with its first CHAT_ROOM_MEMBERS_SHOWN members (oldest first) and
 *  room->member_count. */
chat_err_t chat_room_load_members(const chat_store_t *s, chat_room_t *room);

/** Caches one room's document (its info hash, read by chat_room_load). Rooms never
 *  change once created, so a cached copy is never stale (the one exception, a room
 *  removed again because its creator's membership could not be stored, has an id that
 *  nobody was given). Best effort. queue: the HSET
 *  is only queued on the pipeline, its reply left to the caller (redis_sync.h). */
void chat_room_cache_put(const chat_store_t *s, const chat_room_t *r, bool queue);

/** Caches a room just created (document, public list; its members go through
 *  member_cache.h). Best effort: a miss is read from MongoDB later. */
void chat_room_cache_created(const chat_store_t *s, const chat_room_t *room);

/** Public rooms plus the private rooms user_id belongs to, newest first, with members;
 *  *total counts them all. */
chat_err_t chat_rooms_visible(const chat_store_t *s, const char *user_id, int64_t offset,
                              int64_t limit, chat_room_list_t *out, int64_t *total);

#endif
