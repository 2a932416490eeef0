/*
 * user_cache.c - users through the Redis read model (see user_cache.h).
 *
 * Threads: the thread owning the store. Relies on users_repo.h, cached_set.h, keys.h.
 */
#include "chat/user_cache.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/cached_set.h"
#include "chat/keys.h"
#include "chat/user_docs.h"
#include "chat/user_logins.h"
#include "chat/user_ids.h"
#include "chat/users_list.h"
#include "chat/users_repo.h"
#include "chat/validate.h"

chat_err_t chat_user_load(const chat_store_t *s, const char *user_id, bool with_hash,
                          chat_user_t *out)
{
    char ver[CHAT_USER_VER_LEN];
    chat_err_t rc;

    memset(out, 0, sizeof(*out));
    if (user_id == NULL || !chat_validate_object_id(user_id)) {
        return CHAT_ERR_NOT_FOUND;
    }
    switch (chat_user_doc_get(s, user_id, with_hash, out, ver)) {
    case CHAT_USER_DOC_HIT:
        return CHAT_OK;
    case CHAT_USER_DOC_GONE:
        return CHAT_ERR_NOT_FOUND;
    case CHAT_USER_DOC_MISS:
        break;
    }
    rc = chat_users_find_by_id_full(s->db, user_id, true, out);
    if (rc == CHAT_OK) {
        chat_user_doc_put(s, out, ver); /* unless a change came since ver was read */
        if (!with_hash) {
            free(out->password_hash);
            out->password_hash = NULL;
        }
    } else if (rc == CHAT_ERR_NOT_FOUND) {
        chat_user_doc_gone(s, user_id, CHAT_USER_GONE_TTL_SEC, false);
    }
    return rc;
}

chat_err_t chat_user_find_login(const chat_store_t *s, const char *login, chat_user_t *out)
{
    char lc[CHAT_KEY_LEN];
    char key[CHAT_KEY_LEN];
    chat_err_t rc;

    memset(out, 0, sizeof(*out));
    if (login == NULL || strlen(login) >= sizeof(lc) - 16) {
        return CHAT_ERR_NOT_FOUND;
    }
    chat_ascii_lower(login, lc, sizeof(lc));
    if (chat_key_login(lc, key, sizeof(key)) == NULL) {
        return CHAT_ERR_NOT_FOUND;
    }
    if (s->redis != NULL) {
        redisReply *reply = chat_redis_command(s->redis, "GET %s", key);
        char id[CHAT_ID_LEN] = "";
        if (reply != NULL && reply->type == REDIS_REPLY_STRING && reply->len == CHAT_ID_LEN - 1) {
            memcpy(id, reply->str, CHAT_ID_LEN);
        }
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        if (id[0] != '\0') {
            rc = chat_user_load(s, id, true, out);
            if (rc != CHAT_ERR_NOT_FOUND) {
                return rc;
            }
        }
    }
    if (s->redis != NULL) {
        chat_cset_answer_t known = CHAT_CSET_NOT_BUILT;
        if (chat_user_logins_check(s, lc, &known) == CHAT_OK && known == CHAT_CSET_ABSENT) {
            return CHAT_ERR_NOT_FOUND; /* nobody's login: no read of users */
        }
    }
    rc = chat_users_find_by_login(s->db, lc, out);
    if (rc == CHAT_OK && s->redis != NULL) {
        redisReply *reply = chat_redis_command(s->redis, "SET %s %s", key, out->id);
        if (reply != NULL) {
            freeReplyObject(reply);
        }
        chat_user_doc_fill(s, out); /* read without a version: only where none is cached */
    }
    return rc;
}

/* Points u's email and username at its id (set), or makes them resolve to nothing. */
static void user__logins(const chat_store_t *s, const chat_user_t *u, bool set)
{
    char key[CHAT_KEY_LEN];
    redisReply *reply;

    for (int i = 0; i < 2; i++) {
        if (!chat_user_login_key(i == 0 ? u->email : u->username, key)) {
            continue;
        }
        reply = set ? chat_redis_command(s->redis, "SET %s %s", key, u->id)
                    : chat_redis_command(s->redis, "DEL %s", key);
        if (reply != NULL) {
            freeReplyObject(reply);
        }
    }
}

void chat_user_cache_registered(const chat_store_t *s, const chat_user_t *u)
{
    char member[CHAT_USERNAME_MAX + CHAT_ID_LEN + 2];
    chat_cset_t names;

    if (s->redis == NULL) {
        return;
    }
    chat_user_doc_set(s, u);
    user__logins(s, u, true);
    chat_user_logins_change(s, u, true);
    chat_user_ids_change(s, u->id, true);
    if (u->username != NULL && chat_user_name_member(u->username, u->id, member, sizeof(member))) {
        chat_cset_user_names(&names);
        (void)chat_cset_change(s->redis, &names, true, 0, member);
    }
}

void chat_user_cache_put(const chat_store_t *s, const chat_user_t *u, bool found)
{
    if (found) {
        chat_user_doc_fill(s, u);
    } else {
        chat_user_doc_gone(s, u->id, CHAT_USER_GONE_TTL_SEC, false);
    }
}

void chat_user_cache_drop(const chat_store_t *s, const char *user_id)
{
    chat_user_doc_drop(s, user_id);
}

void chat_user_cache_deleted(const chat_store_t *s, const chat_user_t *u)
{
    char member[CHAT_USERNAME_MAX + CHAT_ID_LEN + 2];
    chat_cset_t names;

    if (s->redis == NULL) {
        return;
    }
    chat_user_doc_gone(s, u->id, CHAT_USER_GONE_TTL_SEC, true);
    user__logins(s, u, false);
    chat_user_logins_change(s, u, false);
    chat_user_ids_change(s, u->id, false);
    if (u->username != NULL && chat_user_name_member(u->username, u->id, member, sizeof(member))) {
        chat_cset_user_names(&names);
        (void)chat_cset_change(s->redis, &names, false, 0, member);
    }
}

chat_err_t chat_user_search(const chat_store_t *s, const char *prefix, int limit, chat_user_t **out,
                            size_t *n_out)
{
    char lc[CHAT_KEY_LEN];
    char min[CHAT_KEY_LEN + 2];
    char max[CHAT_KEY_LEN + 3];
    chat_cset_t names;
    chat_cset_page_t page = {0};
    chat_user_t *arr = NULL;
    size_t n = 0;
    int minlen;
    int maxlen;
    chat_err_t rc = CHAT_ERR_UNAVAILABLE;

    *out = NULL;
    *n_out = 0;
    if (s->redis == NULL || prefix == NULL || strlen(prefix) > CHAT_USERNAME_MAX) {
        return s->redis == NULL ? chat_users_search(s->db, prefix, limit, out, n_out) : CHAT_OK;
    }
    chat_ascii_lower(prefix, lc, sizeof(lc));
    minlen = snprintf(min, sizeof(min), "[%s", lc);
    maxlen = snprintf(max, sizeof(max), "[%s\xff", lc);
    chat_cset_user_names(&names);
    for (int attempt = 0; attempt < 2; attempt++) {
        rc =
            chat_cset_lex(s->redis, &names, min, (size_t)minlen, max, (size_t)maxlen, limit, &page);
        if (rc != CHAT_OK || page.built) {
            break;
        }
        chat_cset_page_clear(&page);
        rc = chat_user_names_build(s);
        if (rc != CHAT_OK) {
            break;
        }
        rc = CHAT_ERR_UNAVAILABLE;
    }
    if (rc != CHAT_OK) {
        chat_cset_page_clear(&page);
        return rc == CHAT_ERR_NOMEM ? rc : chat_users_search(s->db, prefix, limit, out, n_out);
    }
    arr = calloc(page.n + 1, sizeof(*arr));
    if (arr == NULL) {
        chat_cset_page_clear(&page);
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < page.n && rc == CHAT_OK; i++) {
        const char *sep = memchr(page.member[i], CHAT_USER_NAME_SEP, page.len[i]);
        char id[CHAT_ID_LEN];
        if (sep == NULL || (size_t)(page.member[i] + page.len[i] - sep - 1) != CHAT_ID_LEN - 1) {
            continue;
        }
        memcpy(id, sep + 1, CHAT_ID_LEN - 1);
        id[CHAT_ID_LEN - 1] = '\0';
        rc = chat_user_load(s, id, false, &arr[n]);
        if (rc == CHAT_OK) {
            n++;
        } else if (rc == CHAT_ERR_NOT_FOUND) {
            rc = CHAT_OK;
        }
    }
    chat_cset_page_clear(&page);
    if (rc != CHAT_OK) {
        chat_users_free_array(arr, n);
        return rc;
    }
    *out = arr;
    *n_out = n;
    return CHAT_OK;
}

void chat_user_names_free(char **names, size_t n)
{
    if (names == NULL) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
}

chat_err_t chat_user_names(const chat_store_t *s, const char (*ids)[CHAT_ID_LEN], size_t n,
                           char ***names_out)
{
    char **names = calloc(n + 1, sizeof(*names));
    size_t queued = 0;
    chat_err_t rc = CHAT_OK;

    *names_out = NULL;
    if (names == NULL) {
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; s->redis != NULL && i < n; i++) {
        char key[CHAT_KEY_LEN];
        const char *argv[3] = {"HGET", key, "username"};
        chat_key_tagged(ids[i], "user", key, sizeof(key));
        if (chat_redis_append_argv(s->redis, 3, argv, NULL) != CHAT_OK) {
            break;
        }
        queued++;
    }
    for (size_t i = 0; i < queued; i++) {
        redisReply *reply = chat_redis_next_reply(s->redis);
        if (reply != NULL && reply->type == REDIS_REPLY_STRING) {
            names[i] = strndup(reply->str, reply->len);
        }
        if (reply != NULL) {
            freeReplyObject(reply);
        }
    }
    chat_redis_discard_replies(s->redis);
    for (size_t i = 0; i < n && rc == CHAT_OK; i++) {
        chat_user_t u;
        if (names[i] != NULL) {
            continue;
        }
        rc = chat_user_load(s, ids[i], false, &u);
        if (rc == CHAT_OK) {
            names[i] = u.username; /* moves */
            u.username = NULL;
        } else if (rc == CHAT_ERR_NOT_FOUND) {
            rc = CHAT_OK; /* the account was deleted */
        }
        chat_user_clear(&u);
    }
    if (rc != CHAT_OK) {
        chat_user_names_free(names, n);
        return rc;
    }
    *names_out = names;
    return CHAT_OK;
}
