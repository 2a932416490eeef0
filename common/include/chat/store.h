/*
 * store.h - the handle the domain calls take: MongoDB, the durable truth, and the Redis
 * read model in front of it (keys.h). Borrowed pointers; whoever builds it owns them.
 * The chat_redis_t is single-threaded, so one chat_store_t belongs to one thread
 * (rest-fcgi's request loop, each gateway worker).
 */
#ifndef CHAT_STORE_H
#define CHAT_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/redis_sync.h"

struct chat_member_leave;

typedef struct chat_store {
    chat_db_t *db;
    /* Optional: the pool for reads of `messages` (a room window's rebuild, pages older than
     * the window), which scan the collection on FerretDB (~2 s at a million messages) and
     * so need a longer socket timeout than db's; NULL: db. */
    chat_db_t *db_scan;
    chat_redis_t *redis; /* NULL: MongoDB only */
    int64_t window;      /* HISTORY_WINDOW: messages kept per room in Redis */
    /* Optional: takes a room's new head so that room_heads is raised after the reply
     * (write_behind.h); false, or no hook, raises it before. Used only while Redis is up
     * (Redis then shares every writer's head at once). */
    bool (*head_later)(void *arg, const char *room_id, int64_t seq);
    /* Optional: takes a recorded leave whose room_members document is to be deleted after
     * the reply (member_leaves_repo.h, membership_leaves.h); false, or no hook,
     * deletes it before. */
    bool (*leave_later)(void *arg, const struct chat_member_leave *l);
    void *later_arg; /* both hooks' */
} chat_store_t;

#endif
