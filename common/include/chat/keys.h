/*
 * keys.h - every Redis key and pub/sub channel name the processes share, in one place.
 * Pure functions writing into caller buffers (>= CHAT_KEY_LEN); any thread.
 *
 *   chat:room:{<room_id>}      pub/sub channel: JSON frames for the room's members.
 *                               Room messages are published exactly as clients get them
 *                               (chat_message_to_json); other events carry "type":
 *                               "typing", "presence", "member_removed", "member_added".
 *   chat:user:{<user_id>}      pub/sub channel: the user's own events, for every socket of
 *                               that user on any gateway: "room_added" and "dm_created"
 *                               (with the room as GET /api/rooms/{id} shows it) and
 *                               "member_removed" (room_id, user_id) (user_events.h).
 *
 * The read model (docs/ARCHITECTURE.md): keys of one room or one user carry its id as a
 * hash tag, so that a Lua script may touch them together (and a Redis Cluster keeps them
 * on one node). Each "meta" hash holds `run`, the Redis run_id the data was built under
 * (data built before a restart or failover is not trusted), and a version.
 *   chat:{<room>}:win          sorted set: the room's last HISTORY_WINDOW messages, score
 *                               seq, member the message JSON (msg_window.h)
 *   chat:{<room>}:meta         hash: run, lo, hi (the window holds every seq in [lo, hi]),
 *                               head (highest seq any writer stored)
 *   chat:{<room>}:cmids        hash: "<user>:<client_msg_id>" -> seq for the window's
 *                               messages (the resend index)
 *   chat:{<room>}:fill         string: held (with expiry) by the one reader rebuilding
 *                               the window
 *   chat:{<room>}:members      sorted set: member user id, score joined_at ms
 *   chat:{<room>}:mmeta        hash: run, ver (cached_set.h)
 *   chat:{<room>}:info         hash: the room document (room_cache.h)
 *   chat:{<user>}:rooms        sorted set: the user's rooms, score the room's created_at
 *   chat:{<user>}:rmeta        hash: run, ver
 *   chat:{<user>}:user         hash: the user document, or "gone" (expiring) for an
 *                               unknown or deleted id (user_docs.h)
 *   chat:{<user>}:user:ver     string: the document's version, bumped by each change
 *   chat:rooms:public          sorted set: public rooms by created_at; meta chat:rooms:public:meta
 *   chat:rooms:windows:warmed  string: the Redis run id every room's window was built for
 *                               at once; chat:rooms:windows:warming its lock (history_warm.h)
 *   chat:users:names           sorted set (lexical): "<username_lc>\x01<id>"; meta ...:meta
 *   chat:users:logins          sorted set: "u:<username_lc>", "e:<email_lc>" of every user;
 *                               meta ...:meta (user_logins.h)
 *   chat:login:<email_lc or username_lc>   string: the user id
 *   chat:presence:<user_id>    sorted set: member = gateway id, score = expiry (ms);
 *                               the user is online while any score is in the future.
 *   chat:rl:<scope>:<subject>  rate-limit token bucket (hash), scope e.g. "msg", "login_ip".
 *   chat:revoked:<jti>         string: a logged-out token, expiring with the token's exp
 *                               (token_denylist.h).
 */
#ifndef CHAT_KEYS_H
#define CHAT_KEYS_H

#include <stdbool.h>
#include <stddef.h>

#define CHAT_KEY_LEN 320 /* room ids are short; rate-limit subjects may be 254-byte emails */
#define CHAT_ROOM_CHANNEL_PREFIX "chat:room:{"
#define CHAT_ROOM_CHANNEL_SUFFIX "}"
#define CHAT_USER_CHANNEL_PREFIX "chat:user:{"
#define CHAT_USER_CHANNEL_SUFFIX "}"
#define CHAT_KEY_PUBLIC_ROOMS "chat:rooms:public"
#define CHAT_KEY_PUBLIC_ROOMS_META "chat:rooms:public:meta"
#define CHAT_KEY_USER_NAMES "chat:users:names"
#define CHAT_KEY_USER_NAMES_META "chat:users:names:meta"
#define CHAT_KEY_USER_IDS "chat:users:ids"
#define CHAT_KEY_USER_IDS_META "chat:users:ids:meta"
#define CHAT_KEY_USER_LOGINS "chat:users:logins"
#define CHAT_KEY_USER_LOGINS_META "chat:users:logins:meta"
#define CHAT_KEY_USER_ROOMS_WARMING "chat:users:rooms:warming"
#define CHAT_KEY_WINDOWS_WARMING "chat:rooms:windows:warming" /* history_warm.h */
#define CHAT_KEY_WINDOWS_WARMED "chat:rooms:windows:warmed"   /* history_warm.h */
/* A clean Redis stop hands its read model to the next run (redis_sync.h, deploy/stack.py):
 * the stop writes the epoch to HANDOVER just before SHUTDOWN; the start moves it to EPOCH,
 * as "<run_id> <epoch>", before any client can connect. */
#define CHAT_KEY_REDIS_EPOCH "chat:redis:epoch"
#define CHAT_KEY_REDIS_HANDOVER "chat:redis:handover"
#define CHAT_PRESENCE_TTL_MS 30000

char *chat_key_room_channel(const char *room_id, char *buf, size_t len);
char *chat_key_user_channel(const char *user_id, char *buf, size_t len);
/** The id in a channel name prefix<24 hex>suffix (room or user channel) into id (25
 *  bytes); false when the name is not of that shape. */
bool chat_key_channel_id(const char *channel, const char *prefix, const char *suffix, char id[25]);
char *chat_key_presence(const char *user_id, char *buf, size_t len);
char *chat_key_ratelimit(const char *scope, const char *subject, char *buf, size_t len);
/** "chat:{<id>}:<suffix>": a key of one room or one user (suffix e.g. "win", "members"). */
char *chat_key_tagged(const char *id, const char *suffix, char *buf, size_t len);
/** "chat:login:<lc>": the login index entry of a lower-cased email or username. */
char *chat_key_login(const char *lc, char *buf, size_t len);
/** "chat:revoked:<jti>": the denylist entry of a revoked token. */
char *chat_key_revoked_token(const char *jti, char *buf, size_t len);

#endif
