/*
 * keys.h - every Redis key and pub/sub channel name the processes share, in one place.
 * Pure functions writing into caller buffers (>= CHAT_KEY_LEN); any thread.
 *
 *   chat:room:<room_id>        pub/sub channel: JSON frames for the room's members.
 *                               Room messages are published exactly as clients get them
 *                               (chat_message_to_json); other events carry "type":
 *                               "typing", "presence", "member_removed", "member_added".
 *   chat:presence:<user_id>    sorted set: member = gateway id, score = expiry (ms);
 *                               the user is online while any score is in the future.
 *   chat:rl:<scope>:<subject>  rate-limit token bucket (hash), scope e.g. "msg", "login_ip".
 */
#ifndef CHAT_KEYS_H
#define CHAT_KEYS_H

#include <stddef.h>

#define CHAT_KEY_LEN 320 /* room ids are short; rate-limit subjects may be 254-byte emails */
#define CHAT_ROOM_CHANNEL_PREFIX "chat:room:"
#define CHAT_PRESENCE_TTL_MS 30000

char *chat_key_room_channel(const char *room_id, char *buf, size_t len);
char *chat_key_presence(const char *user_id, char *buf, size_t len);
char *chat_key_ratelimit(const char *scope, const char *subject, char *buf, size_t len);

#endif
