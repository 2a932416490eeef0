/*
 * redis_url.c - parsing redis://[[user]:password@]host[:port][/db] (see redis_url.h), for
 * the blocking client (redis_sync.c) and the gateway's async connections alike.
 *
 * Threads: any; pure functions over their arguments. Relies on nothing but libc.
 */
#include "chat/redis_url.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define REDIS_URL__DEFAULT_PORT 6379

/* Parses a decimal int in [min, max] from s[0..len). */
static bool redis_url__parse_int(const char *s, size_t len, int min, int max, int *out)
{
    long v = 0;

    if (len == 0 || len > 10) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    if (v < min || v > max) {
        return false;
    }
    *out = (int)v;
    return true;
}

/* Percent-decoding is not supported: credentials with reserved characters must be
 * plain. redis://[[user]:password@]host[:port][/db] */
static int redis_url__parse(const char *url, char **host, char **username, char **password,
                            int *port, int *db)
{
    const char *p = NULL;
    const char *at = NULL;
    const char *slash = NULL;
    const char *hostend = NULL;
    const char *colon = NULL;
    const char *hs = NULL;

    *host = NULL;
    *username = NULL;
    *password = NULL;
    *port = REDIS_URL__DEFAULT_PORT;
    *db = 0;
    if (url == NULL || strncmp(url, "redis://", 8) != 0) {
        return -1;
    }
    p = url + 8;
    slash = strchr(p, '/');
    at = memchr(p, '@', slash != NULL ? (size_t)(slash - p) : strlen(p));
    if (at != NULL) {
        const char *sep = memchr(p, ':', (size_t)(at - p));

        if (sep != NULL) {
            if (sep > p) {
                *username = strndup(p, (size_t)(sep - p));
                if (*username == NULL) {
                    goto fail;
                }
            }
            if (at > sep + 1) {
                *password = strndup(sep + 1, (size_t)(at - sep - 1));
                if (*password == NULL) {
                    goto fail;
                }
            }
        } else if (at > p) {
            *password = strndup(p, (size_t)(at - p)); /* redis://password@host */
            if (*password == NULL) {
                goto fail;
            }
        }
        p = at + 1;
    }
    hostend = slash != NULL ? slash : p + strlen(p);
    if (*p == '[') { /* [ipv6]:port */
        const char *close = memchr(p, ']', (size_t)(hostend - p));

        if (close == NULL || close == p + 1) {
            goto fail;
        }
        hs = p + 1;
        *host = strndup(hs, (size_t)(close - hs));
        colon = close + 1 < hostend && close[1] == ':' ? close + 1 : NULL;
        if (close + 1 < hostend && colon == NULL) {
            goto fail;
        }
    } else {
        colon = memchr(p, ':', (size_t)(hostend - p));
        if ((colon != NULL ? colon : hostend) == p) {
            goto fail;
        }
        *host = strndup(p, (size_t)((colon != NULL ? colon : hostend) - p));
    }
    if (*host == NULL) {
        goto fail;
    }
    if (colon != NULL &&
        !redis_url__parse_int(colon + 1, (size_t)(hostend - colon - 1), 1, 65535, port)) {
        goto fail;
    }
    if (slash != NULL && slash[1] != '\0' &&
        !redis_url__parse_int(slash + 1, strlen(slash + 1), 0, INT_MAX, db)) {
        goto fail;
    }
    return 0;

fail:
    free(*host);
    free(*username);
    free(*password);
    *host = NULL;
    *username = NULL;
    *password = NULL;
    return -1;
}

int chat_redis_url_parse(const char *url, char **host, int *port, char **password, int *db)
{
    char *username = NULL;
    char *pw = NULL;
    int rc = redis_url__parse(url, host, &username, &pw, port, db);

    free(username);
    if (password != NULL) {
        *password = pw;
    } else {
        free(pw);
    }
    return rc;
}

int chat_redis_url_parse_auth(const char *url, char **host, int *port, char **username,
                              char **password, int *db)
{
    return redis_url__parse(url, host, username, password, port, db);
}
