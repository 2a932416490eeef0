/*
 * repo_query.h - the reads the repositories (*_repo.c, users_list.c) share: borrow a
 * client from the pool, run find(filter, opts) on a collection, hand each document to
 * the caller's function, map a cursor error, and give everything back — one copy of
 * what each query used to write out by hand. Blocking; any thread that may block (see
 * db.h).
 */
#ifndef CHAT_REPO_QUERY_H
#define CHAT_REPO_QUERY_H

#include <stddef.h>

#include "chat/db.h"
#include "chat/jwt.h" /* CHAT_ID_LEN */

/** Documents per reply asked for by the reads of a whole collection or of a big room:
 * FerretDB answers ~250 by default, and each round trip waits its turn while it decodes
 * another read (the warm-up's reads of room_members took 155 of them at 38,733
 * memberships). */
#define CHAT_REPO_QUERY_BATCH 1000

/** Called with each document (borrowed for the call). CHAT_OK goes on; anything else
 *  stops the query and is what it returns. */
typedef chat_err_t (*chat_repo_query_fn)(const bson_t *doc, void *arg);

/**
 * Runs find(filter, opts) on coll_name (filter and opts borrowed) and calls each(doc,
 * arg) for at most max documents (0: no bound; the cursor is not advanced past the
 * max-th). CHAT_OK, each's error, or the mapped cursor error (CHAT_ERR_UNAVAILABLE
 * when MongoDB is down).
 */
chat_err_t chat_repo_query_each(chat_db_t *db, const char *coll_name, const bson_t *filter,
                                const bson_t *opts, size_t max, chat_repo_query_fn each, void *arg);

/**
 * The first document of find(filter, opts) handed to one(doc, arg) (one may be NULL:
 * an existence test). CHAT_ERR_NOT_FOUND when there is none; else as
 * chat_repo_query_each. opts should carry limit 1.
 */
chat_err_t chat_repo_query_one(chat_db_t *db, const char *coll_name, const bson_t *filter,
                               const bson_t *opts, chat_repo_query_fn one, void *arg);

/** Decodes doc (borrowed) into item (zeroed), which it leaves cleared on failure. */
typedef chat_err_t (*chat_repo_decode_fn)(const bson_t *doc, void *item);

/**
 * A page: the documents of find(filter, opts) decoded into items[0..max) (an array of
 * size-byte items, zeroed by the caller); *n = how many were decoded. Stops at the first
 * decoding error, which it returns; items[0..*n) are filled even then (the caller
 * clears them). opts should carry limit max.
 */
chat_err_t chat_repo_query_page(chat_db_t *db, const char *coll_name, const bson_t *filter,
                                const bson_t *opts, void *items, size_t size, size_t max,
                                chat_repo_decode_fn decode, size_t *n);

/** Appends doc's ObjectId field to *oids (*n in use, *cap allocated, grown as chat_grow
 *  grows); CHAT_OK also when doc has none (nothing appended), CHAT_ERR_NOMEM. */
chat_err_t chat_repo_query_take_oid(const bson_t *doc, const char *field, bson_oid_t **oids,
                                    size_t *n, size_t *cap);

/**
 * The ObjectId field of each document of find(filter, opts) (documents without it are
 * skipped), at most max documents read (0: no bound). *out malloc'd, NULL when none;
 * set only on CHAT_OK.
 */
chat_err_t chat_repo_query_oids(chat_db_t *db, const char *coll_name, const bson_t *filter,
                                const bson_t *opts, const char *field, size_t max, bson_oid_t **out,
                                size_t *n_out);

/**
 * Appends field: {$in: [ids...]} to filter, ids given as hex strings (those that are not
 * ObjectIds are skipped). Returns how many went in: 0 means the query would match
 * nothing, and the caller should not run it.
 */
size_t chat_repo_query_in_hex(bson_t *filter, const char *field, const char (*ids)[CHAT_ID_LEN],
                              size_t n);
/** The same with ObjectIds. */
size_t chat_repo_query_in_oids(bson_t *filter, const char *field, const bson_oid_t *oids, size_t n);

#endif
