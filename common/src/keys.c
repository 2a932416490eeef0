/*
 * keys.c - Redis key and channel names (layout documented in keys.h).
 * Pure snprintf into caller buffers: any thread.
 */
#include "chat/keys.h"

#include <stdio.h>
#include <string.h>

/*
 * Formats "<a><b>[:<c>]" into buf. A name that does not fit would silently alias
 * another key, so on truncation (or a NULL part) buf becomes "" and the result is NULL.
 */
static char *keys__format(char *buf, size_t len, const char *prefix, const char *a, const char *b)
{
    int n = 0;

    if (buf == NULL || len == 0)
        return NULL;
    if (a == NULL) {
        buf[0] = '\0';
        return NULL;
    }
    if (b != NULL)
        n = snprintf(buf, len, "%s%s:%s", prefix, a, b);
    else
        n = snprintf(buf, len, "%s%s", prefix, a);
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return NULL;
    }
    return buf;
}

/* prefix id suffix into buf; buf, or NULL (buf set to "") when it does not fit. */
static char *keys__wrap(const char *prefix, const char *id, const char *suffix, char *buf,
                        size_t len)
{
    int n;

    if (buf == NULL || len == 0) {
        return NULL;
    }
    n = id != NULL ? snprintf(buf, len, "%s%s%s", prefix, id, suffix) : -1;
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return NULL;
    }
    return buf;
}

char *chat_key_room_channel(const char *room_id, char *buf, size_t len)
{
    return keys__wrap(CHAT_ROOM_CHANNEL_PREFIX, room_id, CHAT_ROOM_CHANNEL_SUFFIX, buf, len);
}

char *chat_key_user_channel(const char *user_id, char *buf, size_t len)
{
    return keys__wrap(CHAT_USER_CHANNEL_PREFIX, user_id, CHAT_USER_CHANNEL_SUFFIX, buf, len);
}

bool chat_key_channel_id(const char *channel, const char *prefix, const char *suffix, char id[25])
{
    size_t plen = strlen(prefix);

    if (channel == NULL || strlen(channel) != plen + 24 + strlen(suffix) ||
        strncmp(channel, prefix, plen) != 0 || strcmp(channel + plen + 24, suffix) != 0) {
        return false;
    }
    memcpy(id, channel + plen, 24);
    id[24] = '\0';
    return true;
}

/* Returns buf, or NULL (buf set to "") when the name does not fit or a part is NULL. */
char *chat_key_tagged(const char *id, const char *suffix, char *buf, size_t len)
{
    int n;

    if (buf == NULL || len == 0) {
        return NULL;
    }
    n = id != NULL && suffix != NULL ? snprintf(buf, len, "chat:{%s}:%s", id, suffix) : -1;
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return NULL;
    }
    return buf;
}

/* Returns buf, or NULL (buf set to "") when the name does not fit. */
char *chat_key_login(const char *lc, char *buf, size_t len)
{
    return keys__format(buf, len, "chat:login:", lc, NULL);
}

char *chat_key_revoked_token(const char *jti, char *buf, size_t len)
{
    return keys__format(buf, len, "chat:revoked:", jti, NULL);
}

/* Returns buf, or NULL (buf set to "") when the name does not fit. */
char *chat_key_presence(const char *user_id, char *buf, size_t len)
{
    return keys__format(buf, len, "chat:presence:", user_id, NULL);
}

/* Returns buf, or NULL (buf set to "") when the name does not fit or subject is NULL. */
char *chat_key_ratelimit(const char *scope, const char *subject, char *buf, size_t len)
{
    if (subject == NULL) {
        if (buf != NULL && len > 0)
            buf[0] = '\0';
        return NULL;
    }
    return keys__format(buf, len, "chat:rl:", scope, subject);
}
