/*
 * redis_scripts.h - every Lua script the processes run in Redis, by id. The sources are
 * the files of common/lua/ (embedded at build time); each script is sent once per
 * connection with SCRIPT LOAD and then run by its SHA1 with EVALSHA, so a call carries
 * only its keys and arguments. Pure data after a one-time, thread-safe initialisation:
 * any thread.
 *
 *   WIN_APPEND   add stored messages to a room's history window (and PUBLISH them)
 *   WIN_FILL     build a room's window from what the database holds
 *   WIN_READ     answer a history range from a ready window
 *   WIN_IDEM     a resend's stored copy, found through the window's resend index
 *   SET_CHECK    membership test in a rebuildable sorted set (see cached_set.h)
 *   SET_CHANGE   add/remove one member, bumping the set's version
 *   SET_REBUILD  store a whole set read from the database, unless it changed meanwhile
 *   SET_PAGE     a page of a rebuildable set with its size
 *   SET_LEX      members of a rebuildable set in a lexical range (username prefixes)
 *   HEAD_MAX     raise a room's recorded head right after an insert (history.h)
 *   RATELIMIT    token bucket (ratelimit.h)
 *   USER_SOCKETS a user's open sockets across gateways (MAX_SOCKETS_PER_USER)
 *   LOCK_RELEASE delete a lock only while it is still the caller's (redis_lock.h)
 *   LOCK_EXTEND  push back a lock's expiry only while it is still the caller's
 *   USER_DOC     a user's cached document under its version (user_docs.h)
 */
#ifndef CHAT_REDIS_SCRIPTS_H
#define CHAT_REDIS_SCRIPTS_H

#include <stddef.h>

typedef enum chat_script_id {
    CHAT_SCRIPT_WIN_APPEND = 0,
    CHAT_SCRIPT_WIN_FILL,
    CHAT_SCRIPT_WIN_READ,
    CHAT_SCRIPT_WIN_IDEM,
    CHAT_SCRIPT_SET_CHECK,
    CHAT_SCRIPT_SET_CHANGE,
    CHAT_SCRIPT_SET_REBUILD,
    CHAT_SCRIPT_SET_PAGE,
    CHAT_SCRIPT_SET_LEX,
    CHAT_SCRIPT_HEAD_MAX,
    CHAT_SCRIPT_RATELIMIT,
    CHAT_SCRIPT_USER_SOCKETS,
    CHAT_SCRIPT_LOCK_RELEASE,
    CHAT_SCRIPT_USER_DOC,
    CHAT_SCRIPT_LOCK_EXTEND,
    CHAT_SCRIPT_COUNT
} chat_script_id_t;

typedef struct chat_redis_script {
    const char *name;   /* file name without .lua, for logs */
    const char *source; /* NUL-terminated Lua */
    size_t len;
    char sha[41]; /* lower-case hex SHA1 of source, as EVALSHA wants it */
} chat_redis_script_t;

/** The script with that id (borrowed, lives for the process). */
const chat_redis_script_t *chat_redis_script(chat_script_id_t id);

#endif
