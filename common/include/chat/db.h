/*
 * db.h - the MongoDB handle shared by the repositories: a mongoc_client_pool_t plus
 * the database name. Repository calls are blocking: in the gateway they run on worker
 * threads only; in rest-fcgi on the request thread. The pool is thread-safe.
 */
#ifndef CHAT_DB_H
#define CHAT_DB_H

#include <mongoc/mongoc.h>
#include <stdbool.h>

#include "chat/error.h"

typedef struct chat_db chat_db_t;

/** Calls mongoc_init() once per process (idempotent, thread-safe). */
void chat_db_global_init(void);
/** mongoc_cleanup(); call once at exit after every chat_db_destroy. */
void chat_db_global_cleanup(void);

/**
 * Creates a pool for uri / dbname. timeout_ms bounds server selection, connect and
 * socket waits so that calls fail with CHAT_ERR_UNAVAILABLE instead of hanging when
 * MongoDB is down. Does not connect yet. NULL on a malformed uri (message in errbuf).
 */
chat_db_t *chat_db_create(const char *uri, const char *dbname, int timeout_ms, char *errbuf,
                          size_t errlen);

/**
 * The same with a separate bound on waiting for a reply (socketTimeoutMS), for callers
 * whose queries may be slow but must not be abandoned and redone (the gateway's workers:
 * an abandoned query keeps the server busy, and its retry adds to the load). Server
 * selection and connect still fail after timeout_ms, so a server that is down is seen
 * as quickly. Values given in the uri win over both.
 */
chat_db_t *chat_db_create_with_socket_timeout(const char *uri, const char *dbname, int timeout_ms,
                                              int socket_timeout_ms, char *errbuf, size_t errlen);
void chat_db_destroy(chat_db_t *db); /* accepts NULL */

/** Creates every index the repositories rely on (idempotent). */
chat_err_t chat_db_ensure_indexes(chat_db_t *db);

/** Round-trip "ping"; CHAT_OK or CHAT_ERR_UNAVAILABLE. */
chat_err_t chat_db_ping(chat_db_t *db);

/* For repository modules: borrow a client and a collection handle. */
mongoc_client_t *chat_db_pop(chat_db_t *db);
void chat_db_push(chat_db_t *db, mongoc_client_t *client);
const char *chat_db_name(const chat_db_t *db);

/** Maps a bson_error_t from a failed call to CHAT_ERR_CONFLICT (dup key 11000),
 *  CHAT_ERR_UNAVAILABLE (server selection / socket / stream) or CHAT_ERR_INTERNAL. */
chat_err_t chat_db_map_error(const bson_error_t *err);

/* BSON helpers shared by the repositories. */
/** True and *oid set when hex is a 24-hex ObjectId string. */
bool chat_db_oid_from_hex(const char *hex, bson_oid_t *oid);
/** Replaces *dst (freed) with a malloc'd copy of the UTF-8 field at iter. */
chat_err_t chat_db_dup_utf8(const bson_iter_t *iter, char **dst);
/** Inserts doc into coll_name; CHAT_ERR_CONFLICT on a duplicate key. */
chat_err_t chat_db_insert(chat_db_t *db, const char *coll_name, const bson_t *doc);
/**
 * Deletes the first (many = false) or every document of coll_name matching filter;
 * *deleted (may be NULL) = how many went. The count is exact under races: a document
 * two callers delete at once counts for one of them only.
 */
chat_err_t chat_db_delete(chat_db_t *db, const char *coll_name, const bson_t *filter, bool many,
                          int64_t *deleted);

#endif
