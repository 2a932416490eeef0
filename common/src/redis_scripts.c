/*
 * redis_scripts.c - the table of Lua scripts (sources generated from common/lua/ into
 * redis_lua.c by common/lua/embed.cmake) and their SHA1s, computed once under
 * pthread_once. Any thread.
 */
#include "chat/redis_scripts.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>

extern const char CHAT_LUA_WIN_APPEND[], CHAT_LUA_WIN_FILL[], CHAT_LUA_WIN_READ[];
extern const char CHAT_LUA_SET_CHECK[], CHAT_LUA_SET_CHANGE[], CHAT_LUA_SET_REBUILD[];
extern const char CHAT_LUA_SET_PAGE[], CHAT_LUA_SET_LEX[], CHAT_LUA_RATELIMIT[];
extern const char CHAT_LUA_HEAD_MAX[], CHAT_LUA_WIN_IDEM[], CHAT_LUA_USER_SOCKETS[];
extern const size_t CHAT_LUA_HEAD_MAX_LEN, CHAT_LUA_WIN_IDEM_LEN, CHAT_LUA_USER_SOCKETS_LEN;
extern const char CHAT_LUA_LOCK_RELEASE[];
extern const size_t CHAT_LUA_LOCK_RELEASE_LEN;
extern const char CHAT_LUA_LOCK_EXTEND[];
extern const size_t CHAT_LUA_LOCK_EXTEND_LEN;
extern const char CHAT_LUA_USER_DOC[];
extern const size_t CHAT_LUA_USER_DOC_LEN;
extern const size_t CHAT_LUA_WIN_APPEND_LEN, CHAT_LUA_WIN_FILL_LEN, CHAT_LUA_WIN_READ_LEN;
extern const size_t CHAT_LUA_SET_CHECK_LEN, CHAT_LUA_SET_CHANGE_LEN, CHAT_LUA_SET_REBUILD_LEN;
extern const size_t CHAT_LUA_SET_PAGE_LEN, CHAT_LUA_SET_LEX_LEN, CHAT_LUA_RATELIMIT_LEN;

static chat_redis_script_t scripts__table[CHAT_SCRIPT_COUNT];
static pthread_once_t scripts__once = PTHREAD_ONCE_INIT;

static void scripts__set(chat_script_id_t id, const char *name, const char *source, size_t len)
{
    chat_redis_script_t *s = &scripts__table[id];
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    s->name = name;
    s->source = source;
    s->len = len;
    s->sha[0] = '\0';
    if (EVP_Digest(source, len, digest, &n, EVP_sha1(), NULL) == 1 && n == 20) {
        for (unsigned int i = 0; i < n; i++) {
            snprintf(s->sha + 2 * i, 3, "%02x", digest[i]);
        }
    }
}

static void scripts__init(void)
{
    scripts__set(CHAT_SCRIPT_WIN_APPEND, "win_append", CHAT_LUA_WIN_APPEND,
                 CHAT_LUA_WIN_APPEND_LEN);
    scripts__set(CHAT_SCRIPT_WIN_FILL, "win_fill", CHAT_LUA_WIN_FILL, CHAT_LUA_WIN_FILL_LEN);
    scripts__set(CHAT_SCRIPT_WIN_READ, "win_read", CHAT_LUA_WIN_READ, CHAT_LUA_WIN_READ_LEN);
    scripts__set(CHAT_SCRIPT_WIN_IDEM, "win_idem", CHAT_LUA_WIN_IDEM, CHAT_LUA_WIN_IDEM_LEN);
    scripts__set(CHAT_SCRIPT_SET_CHECK, "set_check", CHAT_LUA_SET_CHECK, CHAT_LUA_SET_CHECK_LEN);
    scripts__set(CHAT_SCRIPT_SET_CHANGE, "set_change", CHAT_LUA_SET_CHANGE,
                 CHAT_LUA_SET_CHANGE_LEN);
    scripts__set(CHAT_SCRIPT_SET_REBUILD, "set_rebuild", CHAT_LUA_SET_REBUILD,
                 CHAT_LUA_SET_REBUILD_LEN);
    scripts__set(CHAT_SCRIPT_SET_PAGE, "set_page", CHAT_LUA_SET_PAGE, CHAT_LUA_SET_PAGE_LEN);
    scripts__set(CHAT_SCRIPT_SET_LEX, "set_lex", CHAT_LUA_SET_LEX, CHAT_LUA_SET_LEX_LEN);
    scripts__set(CHAT_SCRIPT_HEAD_MAX, "head_max", CHAT_LUA_HEAD_MAX, CHAT_LUA_HEAD_MAX_LEN);
    scripts__set(CHAT_SCRIPT_RATELIMIT, "ratelimit", CHAT_LUA_RATELIMIT, CHAT_LUA_RATELIMIT_LEN);
    scripts__set(CHAT_SCRIPT_USER_SOCKETS, "user_sockets", CHAT_LUA_USER_SOCKETS,
                 CHAT_LUA_USER_SOCKETS_LEN);
    scripts__set(CHAT_SCRIPT_LOCK_RELEASE, "lock_release", CHAT_LUA_LOCK_RELEASE,
                 CHAT_LUA_LOCK_RELEASE_LEN);
    scripts__set(CHAT_SCRIPT_USER_DOC, "user_doc", CHAT_LUA_USER_DOC, CHAT_LUA_USER_DOC_LEN);
    scripts__set(CHAT_SCRIPT_LOCK_EXTEND, "lock_extend", CHAT_LUA_LOCK_EXTEND,
                 CHAT_LUA_LOCK_EXTEND_LEN);
}

const chat_redis_script_t *chat_redis_script(chat_script_id_t id)
{
    pthread_once(&scripts__once, scripts__init);
    return id < CHAT_SCRIPT_COUNT ? &scripts__table[id] : NULL;
}
