/*
 * keys.c - Redis key and channel names (layout documented in keys.h).
 * Pure snprintf into caller buffers: any thread.
 */
#include "chat/keys.h"

#include <stdio.h>

/*
 * Formats "<a><b>[:<c>]" into buf. A name that does not fit would silently alias
 * another key, so on truncation (or a NULL part) buf becomes "" and the result is NULL.
 */
static char *keys__format(char *buf, size_t len, const char *prefix, const char *a,
                          const char *b)
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

/* Returns buf, or NULL (buf set to "") when the name does not fit. */
char *chat_key_room_channel(const char *room_id, char *buf, size_t len)
{
    return keys__format(buf, len, CHAT_ROOM_CHANNEL_PREFIX, room_id, NULL);
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
