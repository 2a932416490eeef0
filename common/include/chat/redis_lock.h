/*
 * redis_lock.h - a short-lived Redis lock for work one process should do at a time:
 * building a room's history window, building a cached set, warming the read model. Taken
 * with SET key token NX PX ttl (the token is random per take), so a holder that dies
 * frees it when the ttl ends; released with a compare-and-delete script
 * (lua/lock_release.lua), so a holder whose lock has expired and been taken by another
 * never deletes the new holder's. Waiters poll: they block their thread for at most
 * max_ms, which is why only worker threads and REST requests use this, never the
 * gateway's loop.
 *
 * Threads: any thread, with that thread's own chat_redis_t.
 */
#ifndef CHAT_REDIS_LOCK_H
#define CHAT_REDIS_LOCK_H

#include <stdbool.h>

#include "chat/error.h"
#include "chat/keys.h"
#include "chat/redis_sync.h"

typedef struct chat_redis_lock {
    char key[CHAT_KEY_LEN + 16];
    char token[33];
    bool held;
} chat_redis_lock_t;

/** Tries once to take key for ttl_ms. CHAT_OK with lock->held true (taken) or false
 *  (another process holds it); CHAT_ERR_UNAVAILABLE (not held) when Redis did not answer;
 *  CHAT_ERR_INVALID for a key too long. */
chat_err_t chat_redis_lock_take(chat_redis_t *r, chat_redis_lock_t *lock, const char *key,
                                int ttl_ms);

/** Pushes the lock's expiry to ttl_ms from now while it is still this holder's (a long
 *  job keeps a short ttl and extends it as it goes). CHAT_OK; CHAT_ERR_CONFLICT when it
 *  is no longer held (expired, perhaps taken by another: lock->held becomes false);
 *  CHAT_ERR_UNAVAILABLE when Redis did not answer. */
chat_err_t chat_redis_lock_extend(chat_redis_t *r, chat_redis_lock_t *lock, int ttl_ms);

/** Gives the lock back while it is still this holder's; nothing when it is not held. */
void chat_redis_lock_release(chat_redis_t *r, chat_redis_lock_t *lock);

/** What a waiter checks at each poll: *done when the holder's work is there. */
typedef chat_err_t (*chat_redis_lock_done_fn)(void *arg, bool *done);

/**
 * Waits on another process's lock on key: polls every poll_ms for at most max_ms until
 * done(arg) reports the work done (*done true), or, with until_free, until the lock is
 * gone (its holder finished or gave up, or died and the lock expired; *done then says
 * whether the work was there at the last look). done may be NULL: then only the lock is
 * watched. CHAT_OK, or done's error, or CHAT_ERR_UNAVAILABLE when Redis stopped
 * answering.
 */
chat_err_t chat_redis_lock_wait(chat_redis_t *r, const char *key, int max_ms, int poll_ms,
                                bool until_free, chat_redis_lock_done_fn done, void *arg,
                                bool *was_done);

#endif
