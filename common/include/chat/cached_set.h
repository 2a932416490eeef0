/*
 * cached_set.h - a sorted set in Redis that mirrors a database query and can always be
 * rebuilt from it (the members of a room, the rooms of a user, the public rooms, the
 * usernames), with a meta hash {run, ver} beside it:
 *
 *   - "built" means meta.run equals the current Redis run_id: a set missing after a
 *     FLUSHALL or eviction, or built before a restart or failover (which may have lost
 *     a change), reads as not built, and the caller answers from the database while
 *     rebuilding it; meta.n counts the members, so a zset evicted without its meta
 *     (an empty set is its meta alone) reads as not built too;
 *   - every change bumps meta.ver before it is applied (SET_CHANGE), and a rebuild is
 *     stored only if ver is still what it was before the database was read
 *     (SET_REBUILD), so a rebuild racing with a removal can never bring the removed
 *     member back; a missing version starts from the time in microseconds (before a
 *     rebuild reads the database, and in SET_CHANGE), so a flush or restart between
 *     the removal and the rebuild's store cannot bring back the version it read;
 *   - writers change the database first, then the set (for a removal: the set first,
 *     the database, then the set again), so the set never grants what the database no
 *     longer does once the change has returned.
 *
 * Pure Redis calls; the database loaders belong to the callers (member_cache.h,
 * room_cache.h, user_cache.h). Threads: the thread that owns the chat_redis_t.
 */
#ifndef CHAT_CACHED_SET_H
#define CHAT_CACHED_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/error.h"
#include "chat/keys.h"
#include "chat/redis_sync.h"

typedef struct chat_cset {
    char key[CHAT_KEY_LEN];
    char meta[CHAT_KEY_LEN];
} chat_cset_t;

/** The set of room_id's members (score joined_at ms). */
void chat_cset_room_members(const char *room_id, chat_cset_t *out);
/** The set of user_id's rooms (score the room's creation time, from its ObjectId). */
void chat_cset_user_rooms(const char *user_id, chat_cset_t *out);
/** The public rooms (score creation time). */
void chat_cset_public_rooms(chat_cset_t *out);
/** The usernames for prefix search: members "<username_lc>\x01<id>", score 0. */
void chat_cset_user_names(chat_cset_t *out);
/** The ids of all users (user_ids.h), score 0. */
void chat_cset_user_ids(chat_cset_t *out);

typedef enum chat_cset_answer {
    CHAT_CSET_NOT_BUILT = -1,
    CHAT_CSET_ABSENT = 0,
    CHAT_CSET_PRESENT = 1
} chat_cset_answer_t;

/** Is member in the set? CHAT_ERR_UNAVAILABLE when Redis is down. */
chat_err_t chat_cset_check(chat_redis_t *r, const chat_cset_t *s, const char *member,
                           chat_cset_answer_t *out);
/** The same, queued on r's pipeline; decode the reply with chat_cset_parse_check. */
chat_err_t chat_cset_queue_check(chat_redis_t *r, const chat_cset_t *s, const char *member);
chat_err_t chat_cset_parse_check(const redisReply *reply, chat_cset_answer_t *out);

/** Adds (add) or removes member, bumping the version; a set that is not built is left
 *  alone (its rebuild will read the change from the database). */
chat_err_t chat_cset_change(chat_redis_t *r, const chat_cset_t *s, bool add, double score,
                            const char *member);

/** One member of a rebuild: score and member bytes (borrowed). */
typedef struct chat_cset_entry {
    double score;
    const char *member;
    size_t len;
} chat_cset_entry_t;

/**
 * Reads the whole set from the database: fills *entries (malloc'd array, the member
 * strings owned by *ctx_out as the loader arranges) and *n. Runs between reading the
 * version and storing the result. The cleanup callback frees what it returned.
 */
typedef chat_err_t (*chat_cset_loader_fn)(void *arg, chat_cset_entry_t **entries, size_t *n,
                                          void **owned);
typedef void (*chat_cset_free_fn)(chat_cset_entry_t *entries, size_t n, void *owned);

/**
 * Makes sure the set is built: when it is not, reads the version, loads the database
 * (load), and stores the result unless a change came meanwhile (then tries again, at
 * most a few times). One caller at a time reads the database for a set (a lock key
 * "<meta>:building", 30 s): the others wait for its result while the lock lasts, and
 * build it themselves only when it is gone without a result. CHAT_OK when built (by this call or another process);
 * CHAT_ERR_UNAVAILABLE when Redis is down; the loader's error as is.
 */
chat_err_t chat_cset_build(chat_redis_t *r, const chat_cset_t *s, chat_cset_loader_fn load,
                           chat_cset_free_fn release, void *arg);

/**
 * The same protocol in two steps, for callers that load many sets with one database
 * query: chat_cset_build_prepare reads (or starts) the version *before* the database is
 * read (*built: nothing to do); chat_cset_build_store stores what was read unless a
 * change came meanwhile (*stored false: it stays unbuilt, the next chat_cset_build reads
 * it again).
 */
chat_err_t chat_cset_build_prepare(chat_redis_t *r, const chat_cset_t *s, bool *built,
                                   char ver[24]);
chat_err_t chat_cset_build_store(chat_redis_t *r, const chat_cset_t *s, const char *ver,
                                 const chat_cset_entry_t *entries, size_t n, bool *stored);

/** Set i of a batch, written into *out. */
typedef void (*chat_cset_nth_fn)(void *arg, size_t i, chat_cset_t *out);
/** chat_cset_build_prepare for the sets 0 .. n-1, pipelined (a few round trips per 256
 *  sets instead of two or three per set). */
chat_err_t chat_cset_build_prepare_many(chat_redis_t *r, chat_cset_nth_fn nth, void *arg, size_t n,
                                        bool *built, char (*ver)[24]);
/** chat_cset_build_store for the sets i < n whose skip[i] is false (skip may be NULL),
 *  pipelined: set i gets entries[first[i] .. first[i] + count[i]); stored[i] as
 *  chat_cset_build_store's (false for the skipped). */
chat_err_t chat_cset_build_store_many(chat_redis_t *r, chat_cset_nth_fn nth, void *arg, size_t n,
                                      const bool *skip, const char (*ver)[24],
                                      const chat_cset_entry_t *entries, const size_t *first,
                                      const size_t *count, bool *stored);

/** A page of the set; member[i] / len[i] / score[i] point into reply (owned). */
typedef struct chat_cset_page {
    bool built;
    int64_t total;
    size_t n;
    const char **member;
    size_t *len;
    double *score;
    redisReply *reply;
} chat_cset_page_t;

/** Members at ranks [offset, offset + limit) (rev: highest score first) and the size. */
chat_err_t chat_cset_page(chat_redis_t *r, const chat_cset_t *s, int64_t offset, int64_t limit,
                          bool rev, chat_cset_page_t *out);
void chat_cset_page_clear(chat_cset_page_t *page);
/** The same, queued on r's pipeline; chat_cset_parse_page decodes (and owns) its reply. */
chat_err_t chat_cset_queue_page(chat_redis_t *r, const chat_cset_t *s, int64_t offset,
                                int64_t limit, bool rev);
chat_err_t chat_cset_parse_page(redisReply *reply, chat_cset_page_t *out);

/** Members in the lexical range [min, max] (ZRANGEBYLEX syntax), at most limit; only
 *  member / len are set (score 0). */
chat_err_t chat_cset_lex(chat_redis_t *r, const chat_cset_t *s, const char *min, size_t min_len,
                         const char *max, size_t max_len, int64_t limit, chat_cset_page_t *out);

#endif
