/*
 * db_trace.c - MongoDB command counters and the optional per-command log line (see
 * db_trace.h).
 *
 * Threads: chat_db_trace_install runs on the main thread at start-up; the APM callback
 * runs on any thread that sends a command, and touches only atomics and the logger
 * (which is thread-safe).
 */
#include "chat/db_trace.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "chat/log.h"

static _Atomic uint64_t trace__counts[CHAT_DB_OP_COUNT_][CHAT_DB_COLL_COUNT_];
static const char *const trace__coll_names[CHAT_DB_COLL_COUNT_] = {
    "messages", "room_members", "rooms", "users", "room_heads", "other",
};
static const char *const trace__op_names[CHAT_DB_OP_COUNT_] = {"read", "write", "other"};
static atomic_bool trace__logging;

static chat_db_op_t trace__op_of(const char *name)
{
    static const char *const reads[] = {"find", "getMore", "aggregate", "count", "distinct"};
    static const char *const writes[] = {"insert", "update", "delete", "findAndModify"};

    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        if (strcmp(name, reads[i]) == 0) {
            return CHAT_DB_OP_READ;
        }
    }
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        if (strcmp(name, writes[i]) == 0) {
            return CHAT_DB_OP_WRITE;
        }
    }
    return CHAT_DB_OP_OTHER;
}

void chat_db_trace_classify(const char *command_name, const bson_t *command, chat_db_op_t *op,
                            chat_db_coll_t *coll)
{
    bson_iter_t iter;
    const char *name = NULL;

    *op = trace__op_of(command_name != NULL ? command_name : "");
    *coll = CHAT_DB_COLL_OTHER;
    /* the collection is the value of the command's first field ({find: "messages"}),
     * except for getMore, which names it in "collection" */
    if (command == NULL) {
        return;
    }
    if (*op == CHAT_DB_OP_READ && strcmp(command_name, "getMore") == 0) {
        if (bson_iter_init_find(&iter, command, "collection") && BSON_ITER_HOLDS_UTF8(&iter)) {
            name = bson_iter_utf8(&iter, NULL);
        }
    } else if (bson_iter_init(&iter, command) && bson_iter_next(&iter) &&
               BSON_ITER_HOLDS_UTF8(&iter)) {
        name = bson_iter_utf8(&iter, NULL);
    }
    for (int c = 0; name != NULL && c < CHAT_DB_COLL_OTHER; c++) {
        if (strcmp(name, trace__coll_names[c]) == 0) {
            *coll = (chat_db_coll_t)c;
        }
    }
}

static void trace__on_started(const mongoc_apm_command_started_t *event)
{
    const char *name = mongoc_apm_command_started_get_command_name(event);
    chat_db_op_t op;
    chat_db_coll_t coll;

    chat_db_trace_classify(name, mongoc_apm_command_started_get_command(event), &op, &coll);
    atomic_fetch_add_explicit(&trace__counts[op][coll], 1, memory_order_relaxed);
    if (atomic_load_explicit(&trace__logging, memory_order_relaxed)) {
        char id[24];
        snprintf(id, sizeof(id), "%lld",
                 (long long)mongoc_apm_command_started_get_request_id(event));
        chat_log_info("db command", "command", name, "op", trace__op_names[op], "collection",
                      trace__coll_names[coll], "request_id", id);
    }
}

/* The end of a command (DB_TRACE=1 only): how long the server took, matched to its
 * "db command" line by request_id. */
static void trace__log_done(const char *name, int64_t request_id, int64_t duration_us, bool ok)
{
    char id[24];
    char ms[24];

    snprintf(id, sizeof(id), "%lld", (long long)request_id);
    snprintf(ms, sizeof(ms), "%.3f", (double)duration_us / 1000.0);
    chat_log_info("db command done", "command", name, "request_id", id, "ms", ms, "ok",
                  ok ? "true" : "false");
}

static void trace__on_succeeded(const mongoc_apm_command_succeeded_t *event)
{
    if (atomic_load_explicit(&trace__logging, memory_order_relaxed)) {
        trace__log_done(mongoc_apm_command_succeeded_get_command_name(event),
                        mongoc_apm_command_succeeded_get_request_id(event),
                        mongoc_apm_command_succeeded_get_duration(event), true);
    }
}

static void trace__on_failed(const mongoc_apm_command_failed_t *event)
{
    if (atomic_load_explicit(&trace__logging, memory_order_relaxed)) {
        trace__log_done(mongoc_apm_command_failed_get_command_name(event),
                        mongoc_apm_command_failed_get_request_id(event),
                        mongoc_apm_command_failed_get_duration(event), false);
    }
}

void chat_db_trace_set_logging(bool on)
{
    atomic_store(&trace__logging, on);
}

bool chat_db_trace_install(mongoc_client_pool_t *pool)
{
    mongoc_apm_callbacks_t *callbacks = mongoc_apm_callbacks_new();
    bool ok;

    if (callbacks == NULL) {
        return false;
    }
    mongoc_apm_set_command_started_cb(callbacks, trace__on_started);
    mongoc_apm_set_command_succeeded_cb(callbacks, trace__on_succeeded);
    mongoc_apm_set_command_failed_cb(callbacks, trace__on_failed);
    ok = mongoc_client_pool_set_apm_callbacks(pool, callbacks, NULL);
    mongoc_apm_callbacks_destroy(callbacks);
    return ok;
}

uint64_t chat_db_trace_count(chat_db_op_t op, chat_db_coll_t coll)
{
    if ((int)op < 0 || op >= CHAT_DB_OP_COUNT_ || (int)coll < 0 || coll >= CHAT_DB_COLL_COUNT_) {
        return 0;
    }
    return atomic_load_explicit(&trace__counts[op][coll], memory_order_relaxed);
}

const char *chat_db_trace_coll_name(chat_db_coll_t coll)
{
    return (int)coll >= 0 && coll < CHAT_DB_COLL_COUNT_ ? trace__coll_names[coll] : "other";
}

const char *chat_db_trace_op_name(chat_db_op_t op)
{
    return (int)op >= 0 && op < CHAT_DB_OP_COUNT_ ? trace__op_names[op] : "other";
}
