/*
 * user_docs.h - users' documents in the Redis read model: chat:{<user>}:user (a hash,
 * or the string "gone" for a while after a lookup or a deletion found no such user) and
 * its version chat:{<user>}:user:ver, bumped by every change this product makes to the
 * document in MongoDB (a profile edit, a deletion, the gateways' last_seen batches).
 * Documents do not expire: a read of MongoDB is stored only if no change came since the
 * version was read (common/lua/user_doc.lua), so a slow reader never puts back an older
 * document than the one a writer just replaced. A cold read model gets every user's
 * document (and login index) from the same scan of `users` that builds the set of ids
 * (user_ids.h), so after a warm-up no lookup of an existing user reads MongoDB.
 *
 * Blocking; the thread owning the store.
 */
#ifndef CHAT_USER_DOCS_H
#define CHAT_USER_DOCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/keys.h"
#include "chat/model.h"
#include "chat/store.h"

#define CHAT_USER_VER_LEN 24
/* A scan stores at most this many documents (the rest are cached by their first lookup):
 * the same bound as the gateway's warm-up of everybody's room sets. */
#define CHAT_USER_DOCS_FILL_MAX 200000

typedef enum chat_user_doc_state {
    CHAT_USER_DOC_MISS = -1, /* not cached (or without the hash asked for) */
    CHAT_USER_DOC_GONE = 0,  /* remembered as not existing */
    CHAT_USER_DOC_HIT = 1,
} chat_user_doc_state_t;

/** The cached document of id (password_hash only when with_hash) and, in the same round
 *  trip, its version for chat_user_doc_put ("" when none or Redis is down). */
chat_user_doc_state_t chat_user_doc_get(const chat_store_t *s, const char *id, bool with_hash,
                                        chat_user_t *out, char ver[CHAT_USER_VER_LEN]);
/** Stores u as MongoDB answered after chat_user_doc_get gave ver, unless it changed since. */
void chat_user_doc_put(const chat_store_t *s, const chat_user_t *u, const char *ver);
/** Stores u (read without a version: a batch, a login) only where no document is cached
 *  and no change is remembered. */
void chat_user_doc_fill(const chat_store_t *s, const chat_user_t *u);
/** Replaces the document: a user just registered. */
void chat_user_doc_set(const chat_store_t *s, const chat_user_t *u);
/** After a change in MongoDB: the cached document goes. */
void chat_user_doc_drop(const chat_store_t *s, const char *id);
/** Remembers for ttl_sec that id has no user: changed = it was just deleted (readers that
 *  read it before are refused), else a lookup found nobody (no version kept for it). */
void chat_user_doc_gone(const chat_store_t *s, const char *id, int ttl_sec, bool changed);
/** chat:login:<login lower-cased> into key; false when it does not fit. */
bool chat_user_login_key(const char *login, char key[CHAT_KEY_LEN]);
/** After MongoDB took last_seen = now_ms for ids[0..n): the cached documents take it too. */
void chat_user_docs_seen(const chat_store_t *s, const char (*ids)[CHAT_ID_LEN], size_t n,
                         int64_t now_ms);

/* A scan's documents, pipelined: chat_user_docs_fill_add per user, then _finish. */
typedef struct chat_user_docs_filler {
    const chat_store_t *s;
    size_t queued; /* commands whose replies are not read yet */
    size_t filled; /* documents stored */
    size_t seen;   /* users handed to chat_user_docs_fill_add */
    bool broken;   /* Redis failed: the rest is skipped (lookups read MongoDB) */
} chat_user_docs_filler_t;

/** Queues u's document (chat_user_doc_fill) and its email and username logins; past
 *  CHAT_USER_DOCS_FILL_MAX users of one scan, nothing. */
void chat_user_docs_fill_add(chat_user_docs_filler_t *f, const chat_user_t *u);
/** Reads the replies still pending; the number of documents stored. */
size_t chat_user_docs_fill_finish(chat_user_docs_filler_t *f);

#endif
