/*
 * user_docs.c - users' documents in the Redis read model under their versions (see
 * user_docs.h; the rules themselves are common/lua/user_doc.lua).
 *
 * Threads: the thread owning the store. Relies on keys.h, redis_sync.h, validate.h.
 */
#include "chat/user_docs.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/keys.h"
#include "chat/validate.h"

#define USER_DOCS__ARGV_MAX 24
#define USER_DOCS__PIPELINE 256 /* commands queued before their replies are read */

/* The eval's arguments: the two keys, the operation, then what the caller appends. */
typedef struct user_docs__call {
    char key[CHAT_KEY_LEN];
    char ver_key[CHAT_KEY_LEN];
    char created[24];
    char seen[24];
    const char *argv[USER_DOCS__ARGV_MAX];
    int argc;
} user_docs__call_t;

static bool user_docs__call(user_docs__call_t *c, const char *id, const char *op)
{
    if (id == NULL || chat_key_tagged(id, "user", c->key, sizeof(c->key)) == NULL ||
        chat_key_tagged(id, "user:ver", c->ver_key, sizeof(c->ver_key)) == NULL) {
        return false;
    }
    c->argc = 0;
    c->argv[c->argc++] = c->key;
    c->argv[c->argc++] = c->ver_key;
    c->argv[c->argc++] = op;
    return true;
}

/* The document's field/value pairs (the hash chat_user_doc_get reads back), stamped with
 * the Redis run id. */
static void user_docs__fields(user_docs__call_t *c, const chat_user_t *u, const char *run)
{
    c->argv[c->argc++] = "run";
    c->argv[c->argc++] = run;
    snprintf(c->created, sizeof(c->created), "%" PRId64, u->created_at_ms);
    snprintf(c->seen, sizeof(c->seen), "%" PRId64, u->last_seen_ms);
    c->argv[c->argc++] = "username";
    c->argv[c->argc++] = u->username != NULL ? u->username : "";
    c->argv[c->argc++] = "email";
    c->argv[c->argc++] = u->email != NULL ? u->email : "";
    c->argv[c->argc++] = "created_at";
    c->argv[c->argc++] = c->created;
    c->argv[c->argc++] = "last_seen";
    c->argv[c->argc++] = c->seen;
    if (u->display_name != NULL) {
        c->argv[c->argc++] = "display_name";
        c->argv[c->argc++] = u->display_name;
    }
    if (u->avatar_url != NULL) {
        c->argv[c->argc++] = "avatar_url";
        c->argv[c->argc++] = u->avatar_url;
    }
    if (u->password_hash != NULL) {
        c->argv[c->argc++] = "pw";
        c->argv[c->argc++] = u->password_hash;
    }
}

static void user_docs__run(const chat_store_t *s, user_docs__call_t *c)
{
    redisReply *reply = chat_redis_eval(s->redis, CHAT_SCRIPT_USER_DOC, 2, c->argc, c->argv, NULL);

    if (reply != NULL) {
        freeReplyObject(reply);
    }
}

/* The document from HGETALL's reply into out (see chat_user_doc_get). */
static chat_user_doc_state_t user_docs__decode(const redisReply *reply, const char *id,
                                               bool with_hash, const char *run, chat_user_t *out)
{
    bool have_pw = false;
    bool this_run = false;

    if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
        strncmp(reply->str, "WRONGTYPE", 9) == 0) {
        return CHAT_USER_DOC_GONE; /* the "gone" string */
    }
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
        return CHAT_USER_DOC_MISS;
    }
    snprintf(out->id, sizeof(out->id), "%s", id);
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const char *k = reply->element[i]->str;
        const redisReply *v = reply->element[i + 1];
        char **dst = NULL;
        if (k == NULL || v->type != REDIS_REPLY_STRING) {
            continue;
        }
        if (strcmp(k, "username") == 0) {
            dst = &out->username;
        } else if (strcmp(k, "email") == 0) {
            dst = &out->email;
        } else if (strcmp(k, "display_name") == 0) {
            dst = &out->display_name;
        } else if (strcmp(k, "avatar_url") == 0) {
            dst = &out->avatar_url;
        } else if (strcmp(k, "pw") == 0) {
            have_pw = true;
            dst = with_hash ? &out->password_hash : NULL;
        } else if (strcmp(k, "created_at") == 0) {
            out->created_at_ms = strtoll(v->str, NULL, 10);
        } else if (strcmp(k, "last_seen") == 0) {
            out->last_seen_ms = strtoll(v->str, NULL, 10);
        } else if (strcmp(k, "run") == 0) {
            this_run = run != NULL && strlen(run) == v->len && memcmp(run, v->str, v->len) == 0;
        }
        if (dst != NULL) {
            free(*dst);
            *dst = strndup(v->str, v->len);
        }
    }
    /* one stored before a restart or a failover may have missed a change: read again */
    if (!this_run || out->username == NULL || out->email == NULL || (with_hash && !have_pw)) {
        chat_user_clear(out);
        memset(out, 0, sizeof(*out));
        return CHAT_USER_DOC_MISS;
    }
    return CHAT_USER_DOC_HIT;
}

chat_user_doc_state_t chat_user_doc_get(const chat_store_t *s, const char *id, bool with_hash,
                                        chat_user_t *out, char ver[CHAT_USER_VER_LEN])
{
    user_docs__call_t c;
    redisReply *doc = NULL;
    redisReply *v = NULL;
    chat_user_doc_state_t state = CHAT_USER_DOC_MISS;

    ver[0] = '\0';
    if (s->redis == NULL || !user_docs__call(&c, id, "")) {
        return CHAT_USER_DOC_MISS;
    }
    if (chat_redis_append_argv(s->redis, 2, (const char *[]){"HGETALL", c.key}, NULL) != CHAT_OK ||
        chat_redis_append_argv(s->redis, 2, (const char *[]){"GET", c.ver_key}, NULL) != CHAT_OK) {
        chat_redis_discard_replies(s->redis);
        return CHAT_USER_DOC_MISS;
    }
    doc = chat_redis_next_reply(s->redis);
    v = doc != NULL ? chat_redis_next_reply(s->redis) : NULL;
    chat_redis_discard_replies(s->redis);
    if (v != NULL) {
        state = user_docs__decode(doc, id, with_hash, chat_redis_run_id(s->redis), out);
        if (v->type == REDIS_REPLY_STRING && v->len < CHAT_USER_VER_LEN) {
            memcpy(ver, v->str, v->len);
            ver[v->len] = '\0';
        }
    }
    if (doc != NULL) {
        freeReplyObject(doc);
    }
    if (v != NULL) {
        freeReplyObject(v);
    }
    return state;
}

static void user_docs__store(const chat_store_t *s, const chat_user_t *u, const char *op,
                             const char *ver)
{
    const char *run = s->redis != NULL ? chat_redis_run_id(s->redis) : NULL;
    user_docs__call_t c;

    if (run == NULL || !user_docs__call(&c, u->id, op)) {
        return;
    }
    if (ver != NULL) {
        c.argv[c.argc++] = ver; /* put: the version; fill: the run */
    }
    user_docs__fields(&c, u, run);
    user_docs__run(s, &c);
}

void chat_user_doc_put(const chat_store_t *s, const chat_user_t *u, const char *ver)
{
    user_docs__store(s, u, "put", ver != NULL ? ver : "");
}

void chat_user_doc_fill(const chat_store_t *s, const chat_user_t *u)
{
    const char *run = s->redis != NULL ? chat_redis_run_id(s->redis) : NULL;

    if (run != NULL) {
        user_docs__store(s, u, "fill", run);
    }
}

void chat_user_doc_set(const chat_store_t *s, const chat_user_t *u)
{
    user_docs__store(s, u, "set", NULL);
}

void chat_user_doc_drop(const chat_store_t *s, const char *id)
{
    user_docs__call_t c;

    if (s->redis != NULL && user_docs__call(&c, id, "drop")) {
        user_docs__run(s, &c);
    }
}

void chat_user_doc_gone(const chat_store_t *s, const char *id, int ttl_sec, bool changed)
{
    user_docs__call_t c;
    char ttl[24];

    if (s->redis != NULL && user_docs__call(&c, id, changed ? "gone" : "nobody")) {
        snprintf(ttl, sizeof(ttl), "%d", ttl_sec);
        c.argv[c.argc++] = ttl;
        user_docs__run(s, &c);
    }
}

/* Reads every pending reply (they carry nothing the caller needs). */
static void user_docs__drain(chat_user_docs_filler_t *f, bool count_filled)
{
    for (; f->queued > 0; f->queued--) {
        redisReply *reply = chat_redis_next_reply(f->s->redis);
        if (reply == NULL) {
            f->broken = true;
            break;
        }
        if (count_filled && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1) {
            f->filled++;
        }
        freeReplyObject(reply);
    }
    chat_redis_discard_replies(f->s->redis);
    f->queued = 0;
}

void chat_user_docs_seen(const chat_store_t *s, const char (*ids)[CHAT_ID_LEN], size_t n,
                         int64_t now_ms)
{
    chat_user_docs_filler_t f = {s, 0, 0, 0, s->redis == NULL};
    char ms[24];

    snprintf(ms, sizeof(ms), "%" PRId64, now_ms);
    for (size_t i = 0; i < n && !f.broken; i++) {
        user_docs__call_t c;
        if (!user_docs__call(&c, ids[i], "seen")) {
            continue;
        }
        c.argv[c.argc++] = ms;
        if (chat_redis_append_eval(s->redis, CHAT_SCRIPT_USER_DOC, 2, c.argc, c.argv, NULL) !=
            CHAT_OK) {
            break;
        }
        if (++f.queued == USER_DOCS__PIPELINE) {
            user_docs__drain(&f, false);
        }
    }
    user_docs__drain(&f, false);
}

bool chat_user_login_key(const char *login, char key[CHAT_KEY_LEN])
{
    char lc[CHAT_KEY_LEN];

    if (login == NULL || strlen(login) >= sizeof(lc) - 16) {
        return false;
    }
    chat_ascii_lower(login, lc, sizeof(lc));
    return chat_key_login(lc, key, CHAT_KEY_LEN) != NULL;
}

/* Queues SET chat:login:<login lower-cased> <id> NX (a login never changes its user). */
static bool user_docs__login(chat_user_docs_filler_t *f, const char *login, const char *id)
{
    char key[CHAT_KEY_LEN];

    if (!chat_user_login_key(login, key)) {
        return true;
    }
    if (chat_redis_append_argv(f->s->redis, 4, (const char *[]){"SET", key, id, "NX"}, NULL) !=
        CHAT_OK) {
        return false;
    }
    f->queued++;
    return true;
}

void chat_user_docs_fill_add(chat_user_docs_filler_t *f, const chat_user_t *u)
{
    const char *run = f->s->redis != NULL ? chat_redis_run_id(f->s->redis) : NULL;
    user_docs__call_t c;

    if (f->broken || run == NULL || ++f->seen > CHAT_USER_DOCS_FILL_MAX ||
        !user_docs__call(&c, u->id, "fill")) {
        return;
    }
    c.argv[c.argc++] = run;
    user_docs__fields(&c, u, run);
    if (chat_redis_append_eval(f->s->redis, CHAT_SCRIPT_USER_DOC, 2, c.argc, c.argv, NULL) !=
        CHAT_OK) {
        f->broken = true;
        return;
    }
    f->queued++;
    if (!user_docs__login(f, u->email, u->id) || !user_docs__login(f, u->username, u->id)) {
        f->broken = true;
    }
    if (f->queued >= USER_DOCS__PIPELINE) {
        user_docs__drain(f, true);
    }
}

size_t chat_user_docs_fill_finish(chat_user_docs_filler_t *f)
{
    if (f->s->redis != NULL) {
        user_docs__drain(f, true);
    }
    return f->filled;
}
