/*
 * db.c - the MongoDB handle: a mongoc_client_pool_t built from the configured URI with
 * bounded timeouts, the indexes every repository relies on, and the mapping of driver
 * errors onto chat_err_t.
 *
 * Threads: chat_db_global_init/cleanup and chat_db_create/destroy run on the main thread
 * (start-up / shutdown). Everything else may run on any thread at once: each call pops
 * its own client from the pool (mongoc pools are thread-safe; clients are not).
 * Relies on: libmongoc 1.23 with error API version 2 (server errors in
 * MONGOC_ERROR_SERVER), and only on commands FerretDB v1.24 supports (createIndexes,
 * ping).
 */
#include "chat/db.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/db_trace.h"
#include "chat/log.h"
#include "chat/redact.h"
#include "chat/validate.h"

#define DB__APPNAME "chat-server"

struct chat_db {
    mongoc_client_pool_t *pool;
    char *dbname;
};

static pthread_once_t db__init_once = PTHREAD_ONCE_INIT;

/* Routes the driver's own log lines into ours. Its debug/info chatter (one line per
 * failed heartbeat while MongoDB is down) is dropped, and so is the warning FerretDB
 * provokes at shutdown because it has no endSessions command. */
static void db__log_handler(mongoc_log_level_t level, const char *domain, const char *message,
                            void *data)
{
    (void)data;
    if (level > MONGOC_LOG_LEVEL_WARNING) {
        return;
    }
    if (level == MONGOC_LOG_LEVEL_WARNING) {
        if (strstr(message, "endSessions") == NULL) {
            chat_log_warn("mongoc", "domain", domain, "detail", message);
        }
        return;
    }
    chat_log_error("mongoc", "domain", domain, "detail", message);
}

static void db__init(void)
{
    mongoc_init();
    mongoc_log_set_handler(db__log_handler, NULL);
}

void chat_db_global_init(void)
{
    pthread_once(&db__init_once, db__init);
}

void chat_db_global_cleanup(void)
{
    mongoc_cleanup();
}

/* Sets an int32 URI option unless the URI already names it (the operator's value wins). */
static bool db__default_int32(mongoc_uri_t *uri, const char *option, int32_t value)
{
    if (mongoc_uri_has_option(uri, option)) {
        return true;
    }
    return mongoc_uri_set_option_as_int32(uri, option, value);
}

chat_db_t *chat_db_create(const char *uri, const char *dbname, int timeout_ms, char *errbuf,
                          size_t errlen)
{
    return chat_db_create_with_socket_timeout(uri, dbname, timeout_ms, timeout_ms, errbuf, errlen);
}

chat_db_t *chat_db_create_with_socket_timeout(const char *uri, const char *dbname, int timeout_ms,
                                              int socket_timeout_ms, char *errbuf, size_t errlen)
{
    chat_db_t *db = NULL;
    mongoc_uri_t *parsed = NULL; /* the pool keeps its own copy */
    bson_error_t err;

    if (errbuf != NULL && errlen > 0) {
        errbuf[0] = '\0';
    }
    if (uri == NULL || dbname == NULL || dbname[0] == '\0' || strlen(dbname) > 63 ||
        strpbrk(dbname, "/\\. \"$") != NULL) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen, "MONGO_URI / MONGO_DB: missing or invalid database name");
        }
        return NULL;
    }
    if (timeout_ms <= 0) {
        timeout_ms = 1500;
    }
    if (socket_timeout_ms <= 0) {
        socket_timeout_ms = timeout_ms;
    }

    db = calloc(1, sizeof(*db));
    if (db == NULL) {
        goto fail_nomem;
    }
    db->dbname = strdup(dbname);
    if (db->dbname == NULL) {
        goto fail_nomem;
    }
    parsed = mongoc_uri_new_with_error(uri, &err);
    if (parsed == NULL) {
        if (errbuf != NULL) {
            char shown[256];

            /* mongoc may quote the URI (or a piece of it) back: mask its password */
            chat_redact_secret_in(err.message, uri);
            snprintf(errbuf, errlen, "MONGO_URI: %s (URI: %s)", err.message,
                     chat_redact_url(uri, shown, sizeof(shown)));
        }
        goto fail;
    }
    if (!db__default_int32(parsed, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, timeout_ms) ||
        !db__default_int32(parsed, MONGOC_URI_CONNECTTIMEOUTMS, timeout_ms) ||
        !db__default_int32(parsed, MONGOC_URI_SOCKETTIMEOUTMS, socket_timeout_ms)) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen, "MONGO_URI: cannot set timeout options");
        }
        goto fail;
    }
    if (mongoc_uri_get_appname(parsed) == NULL && !mongoc_uri_set_appname(parsed, DB__APPNAME)) {
        if (errbuf != NULL) {
            snprintf(errbuf, errlen, "MONGO_URI: cannot set appname");
        }
        goto fail;
    }
    db->pool = mongoc_client_pool_new_with_error(parsed, &err);
    if (db->pool == NULL) {
        if (errbuf != NULL) {
            chat_redact_secret_in(err.message, uri);
            snprintf(errbuf, errlen, "MONGO_URI: %s", err.message);
        }
        goto fail;
    }
    mongoc_client_pool_set_error_api(db->pool, MONGOC_ERROR_API_VERSION_2);
    if (!chat_db_trace_install(db->pool)) {
        chat_log_warn("cannot install MongoDB command counters");
    }
    mongoc_uri_destroy(parsed);
    return db;

fail_nomem:
    if (errbuf != NULL) {
        snprintf(errbuf, errlen, "out of memory");
    }
fail:
    mongoc_uri_destroy(parsed);
    chat_db_destroy(db);
    return NULL;
}

void chat_db_destroy(chat_db_t *db)
{
    if (db == NULL) {
        return;
    }
    if (db->pool != NULL) {
        mongoc_client_pool_destroy(db->pool);
    }
    free(db->dbname);
    free(db);
}

mongoc_client_t *chat_db_pop(chat_db_t *db)
{
    return mongoc_client_pool_pop(db->pool);
}

void chat_db_push(chat_db_t *db, mongoc_client_t *client)
{
    if (client != NULL) {
        mongoc_client_pool_push(db->pool, client);
    }
}

const char *chat_db_name(const chat_db_t *db)
{
    return db->dbname;
}

/* Server error codes that mean "the deployment cannot serve us right now" rather than
 * "the request was wrong": network, shutdown and primary-election states. */
static bool db__server_code_unavailable(uint32_t code)
{
    switch (code) {
    case 6:     /* HostUnreachable */
    case 7:     /* HostNotFound */
    case 89:    /* NetworkTimeout */
    case 91:    /* ShutdownInProgress */
    case 189:   /* PrimarySteppedDown */
    case 262:   /* ExceededTimeLimit */
    case 9001:  /* SocketException */
    case 10107: /* NotWritablePrimary */
    case 11600: /* InterruptedAtShutdown */
    case 11602: /* InterruptedDueToReplStateChange */
    case 13435: /* NotPrimaryNoSecondaryOk */
    case 13436: /* NotPrimaryOrSecondary */
        return true;
    default:
        return false;
    }
}

/* FerretDB answers InternalError (1) when its own connection to PostgreSQL is gone: its
 * pooled connections after a PostgreSQL restart fail once each with "FATAL: terminating
 * connection due to unexpected postmaster exit (SQLSTATE 57P01)" (seen after a SIGKILL
 * of the postmaster), and while PostgreSQL is down it cannot connect. That is an outage
 * of the database, not a bug: retryable, as MongoDB's own network errors are. */
static bool db__backend_connection_lost(const char *message)
{
    static const char *const marks[] = {
        "SQLSTATE 57P0",        /* admin or crash shutdown, cannot connect now */
        "SQLSTATE 08",          /* connection exception class */
        "failed to connect to", /* pgx: PostgreSQL down */
        "conn closed",          /* pgx: a connection closed under a query */
    };

    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
        if (strstr(message, marks[i]) != NULL) {
            return true;
        }
    }
    return false;
}

chat_err_t chat_db_map_error(const bson_error_t *err)
{
    if (err == NULL) {
        return CHAT_ERR_INTERNAL;
    }
    switch (err->domain) {
    case MONGOC_ERROR_STREAM:
    case MONGOC_ERROR_SERVER_SELECTION:
    case MONGOC_ERROR_PROTOCOL:
        return CHAT_ERR_UNAVAILABLE;
    case MONGOC_ERROR_CLIENT:
        /* Authentication failures and a pool that cannot hand out a usable client leave
         * the database unusable, like an outage; report it as such. */
        if (err->code == MONGOC_ERROR_CLIENT_AUTHENTICATE ||
            err->code == MONGOC_ERROR_CLIENT_NO_ACCEPTABLE_PEER) {
            return CHAT_ERR_UNAVAILABLE;
        }
        return CHAT_ERR_INTERNAL;
    case MONGOC_ERROR_SERVER:
    case MONGOC_ERROR_COLLECTION:
    case MONGOC_ERROR_COMMAND:
    case MONGOC_ERROR_QUERY:
    case MONGOC_ERROR_WRITE_CONCERN:
        if (err->code == 11000 || err->code == 11001 || err->code == 12582) {
            return CHAT_ERR_CONFLICT;
        }
        if (db__server_code_unavailable(err->code) ||
            (err->code == 1 && db__backend_connection_lost(err->message))) {
            return CHAT_ERR_UNAVAILABLE;
        }
        return CHAT_ERR_INTERNAL;
    default:
        return CHAT_ERR_INTERNAL;
    }
}

/* One index we rely on: key {f1: d1[, f2: d2]}, its name, and whether it is unique. */
typedef struct db__index {
    const char *coll;
    const char *name;
    const char *f1;
    int d1;
    const char *f2;
    int d2;
    bool unique;
} db__index_t;

static const db__index_t db__indexes[] = {
    {"users", "username_lc_1", "username_lc", 1, NULL, 0, true},
    {"users", "email_lc_1", "email_lc", 1, NULL, 0, true},
    {"messages", "room_id_1_seq_1", "room_id", 1, "seq", 1, true},
    {"messages", "idem_key_1", "idem_key", 1, NULL, 0, true},
    {"room_members", "room_id_1_user_id_1", "room_id", 1, "user_id", 1, true},
    {"room_members", "user_id_1", "user_id", 1, NULL, 0, false},
    {"member_leaves", "room_id_1_user_id_1", "room_id", 1, "user_id", 1, true},
    {"rooms", "is_private_1_created_at_-1", "is_private", 1, "created_at", -1, false},
};

/*
 * Creates one index. One index per createIndexes command on purpose: FerretDB v1.24
 * drops the connection (a server-side panic) when a single createIndexes names two or
 * more indexes that all exist already, which is every start after the first.
 */
static chat_err_t db__create_index(mongoc_database_t *database, const db__index_t *ix)
{
    bson_t cmd = BSON_INITIALIZER;
    bson_t indexes;
    bson_t spec;
    bson_t key;
    bson_t reply;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    BSON_APPEND_UTF8(&cmd, "createIndexes", ix->coll);
    bson_append_array_begin(&cmd, "indexes", -1, &indexes);
    bson_append_document_begin(&indexes, "0", -1, &spec);
    bson_append_document_begin(&spec, "key", -1, &key);
    BSON_APPEND_INT32(&key, ix->f1, ix->d1);
    if (ix->f2 != NULL) {
        BSON_APPEND_INT32(&key, ix->f2, ix->d2);
    }
    bson_append_document_end(&spec, &key);
    BSON_APPEND_UTF8(&spec, "name", ix->name);
    if (ix->unique) {
        BSON_APPEND_BOOL(&spec, "unique", true);
    }
    bson_append_document_end(&indexes, &spec);
    bson_append_array_end(&cmd, &indexes);

    if (!mongoc_database_write_command_with_opts(database, &cmd, NULL, &reply, &err)) {
        rc = chat_db_map_error(&err);
        /* 85/86: an index of that name exists with other options. Surfacing it as a
         * conflict tells the operator the schema drifted. */
        if (err.code == 85 || err.code == 86) {
            rc = CHAT_ERR_CONFLICT;
        }
        chat_log_error("createIndexes failed", "collection", ix->coll, "index", ix->name, "detail",
                       err.message);
    }
    bson_destroy(&reply);
    bson_destroy(&cmd);
    return rc;
}

chat_err_t chat_db_ensure_indexes(chat_db_t *db)
{
    mongoc_client_t *client = NULL;
    mongoc_database_t *database = NULL;
    chat_err_t rc = CHAT_OK;

    client = chat_db_pop(db);
    database = mongoc_client_get_database(client, db->dbname);
    for (size_t i = 0; rc == CHAT_OK && i < sizeof(db__indexes) / sizeof(db__indexes[0]); i++) {
        rc = db__create_index(database, &db__indexes[i]);
    }
    mongoc_database_destroy(database);
    chat_db_push(db, client);
    return rc;
}

chat_err_t chat_db_ping(chat_db_t *db)
{
    mongoc_client_t *client = NULL;
    bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
    bson_t reply;
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    client = chat_db_pop(db);
    if (client == NULL || cmd == NULL) {
        bson_init(&reply);
        rc = CHAT_ERR_UNAVAILABLE;
        goto cleanup;
    }
    if (!mongoc_client_command_simple(client, "admin", cmd, NULL, &reply, &err)) {
        rc = CHAT_ERR_UNAVAILABLE;
    }

cleanup:
    bson_destroy(&reply);
    bson_destroy(cmd);
    chat_db_push(db, client);
    return rc;
}

bool chat_db_oid_from_hex(const char *hex, bson_oid_t *oid)
{
    if (hex == NULL || !chat_validate_object_id(hex)) {
        return false;
    }
    bson_oid_init_from_string(oid, hex);
    return true;
}

chat_err_t chat_db_dup_utf8(const bson_iter_t *iter, char **dst)
{
    uint32_t len = 0;
    const char *s = bson_iter_utf8(iter, &len);

    free(*dst);
    *dst = strndup(s, len);
    return *dst == NULL ? CHAT_ERR_NOMEM : CHAT_OK;
}

chat_err_t chat_db_insert(chat_db_t *db, const char *coll_name, const bson_t *doc)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, db->dbname, coll_name);
    bson_error_t err;
    chat_err_t rc = CHAT_OK;

    if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &err)) {
        rc = chat_db_map_error(&err);
    }
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    return rc;
}

chat_err_t chat_db_delete(chat_db_t *db, const char *coll_name, const bson_t *filter, bool many,
                          int64_t *deleted)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, db->dbname, coll_name);
    bson_t reply;
    bson_iter_t iter;
    bson_error_t err;
    bool ok;
    chat_err_t rc = CHAT_OK;

    if (deleted != NULL) {
        *deleted = 0;
    }
    ok = many ? mongoc_collection_delete_many(coll, filter, NULL, &reply, &err)
              : mongoc_collection_delete_one(coll, filter, NULL, &reply, &err);
    if (!ok) {
        rc = chat_db_map_error(&err);
    } else if (deleted != NULL && bson_iter_init_find(&iter, &reply, "deletedCount") &&
               BSON_ITER_HOLDS_NUMBER(&iter)) {
        *deleted = bson_iter_as_int64(&iter);
    }
    bson_destroy(&reply);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    return rc;
}
