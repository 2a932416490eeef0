/*
 * db_trace.h - counts every command this process sends to MongoDB, by command name and
 * collection (mongoc APM), and optionally logs each one and its duration (DB_TRACE=1). It is how tests and
 * operators see that a hot path reads no database: the counters feed /metrics, the log
 * lines feed the integration test that counts reads during history and subscribes.
 *
 * Threads: the callback runs on whichever thread sent the command; counters are atomics,
 * so any thread may read them at any time.
 */
#ifndef CHAT_DB_TRACE_H
#define CHAT_DB_TRACE_H

#include <mongoc/mongoc.h>
#include <stdbool.h>
#include <stdint.h>

/* The collections counted by name; anything else counts as "other". */
typedef enum {
    CHAT_DB_COLL_MESSAGES,
    CHAT_DB_COLL_ROOM_MEMBERS,
    CHAT_DB_COLL_ROOMS,
    CHAT_DB_COLL_USERS,
    CHAT_DB_COLL_ROOM_HEADS,
    CHAT_DB_COLL_OTHER,
    CHAT_DB_COLL_COUNT_
} chat_db_coll_t;

/* What a command does to its collection. */
typedef enum {
    CHAT_DB_OP_READ,  /* find, getMore, aggregate, count, distinct */
    CHAT_DB_OP_WRITE, /* insert, update, delete, findAndModify */
    CHAT_DB_OP_OTHER, /* ping, createIndexes, hello, ... */
    CHAT_DB_OP_COUNT_
} chat_db_op_t;

/** Installs the counting callbacks on pool (chat_db_create does). Call before the pool
 *  hands out its first client. */
bool chat_db_trace_install(mongoc_client_pool_t *pool);

/** Whether each command is also logged (config DB_TRACE); off by default. */
void chat_db_trace_set_logging(bool on);

/** Commands sent since the process started, of that kind on that collection. */
uint64_t chat_db_trace_count(chat_db_op_t op, chat_db_coll_t coll);

/** "messages", "room_members", ... and "read", "write", "other": label values. */
const char *chat_db_trace_coll_name(chat_db_coll_t coll);
const char *chat_db_trace_op_name(chat_db_op_t op);

/** Sorts a command into op and collection (exposed for the unit test). */
void chat_db_trace_classify(const char *command_name, const bson_t *command, chat_db_op_t *op,
                            chat_db_coll_t *coll);

#endif
