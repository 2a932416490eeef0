/*
 * redact.c - masks the credentials of REDIS_URL / MONGO_URI in anything that may be
 * logged (redact.h).
 *
 * Threads: any (pure functions over the caller's buffers).
 */
#include "chat/redact.h"

#include <stdbool.h>
#include <string.h>

#define REDACT__MASK "***"

/* The userinfo of url: [*start, *end) between "://" (or the beginning when there is no
 * scheme) and the last '@'. False when url carries none. */
static bool redact__userinfo(const char *url, const char **start, const char **end)
{
    const char *scheme = strstr(url, "://");
    const char *at = strrchr(url, '@');

    *start = scheme != NULL ? scheme + 3 : url;
    if (at == NULL || at < *start) {
        return false;
    }
    *end = at;
    return true;
}

/* Appends n bytes of s to out[*used..outlen), truncating; keeps out NUL-terminated. */
static void redact__append(char *out, size_t outlen, size_t *used, const char *s, size_t n)
{
    size_t room = outlen - 1 - *used;

    if (n > room) {
        n = room;
    }
    memcpy(out + *used, s, n);
    *used += n;
    out[*used] = '\0';
}

char *chat_redact_url(const char *url, char *out, size_t outlen)
{
    const char *start = NULL;
    const char *end = NULL;
    const char *colon = NULL;
    size_t used = 0;

    if (out == NULL || outlen == 0) {
        return out;
    }
    out[0] = '\0';
    if (url == NULL) {
        return out;
    }
    if (!redact__userinfo(url, &start, &end)) {
        redact__append(out, outlen, &used, url, strlen(url));
        return out;
    }
    redact__append(out, outlen, &used, url, (size_t)(start - url));
    colon = memchr(start, ':', (size_t)(end - start));
    if (colon != NULL) { /* user:password - the user name stays readable */
        redact__append(out, outlen, &used, start, (size_t)(colon + 1 - start));
    }
    redact__append(out, outlen, &used, REDACT__MASK, strlen(REDACT__MASK));
    redact__append(out, outlen, &used, end, strlen(end));
    return out;
}

void chat_redact_secret_in(char *text, const char *url)
{
    const char *start = NULL;
    const char *end = NULL;
    const char *colon = NULL;
    const char *secret = NULL;
    size_t n = 0;
    size_t mask = strlen(REDACT__MASK);
    char *hit = NULL;

    if (text == NULL || url == NULL || !redact__userinfo(url, &start, &end)) {
        return;
    }
    colon = memchr(start, ':', (size_t)(end - start));
    secret = colon != NULL ? colon + 1 : start;
    n = (size_t)(end - secret);
    if (n == 0) {
        return;
    }
    if (n < mask) { /* masking would grow the text: withhold all of it instead */
        if (memmem(text, strlen(text), secret, n) != NULL) {
            text[strlen(text) >= mask ? mask : 0] = '\0';
            memcpy(text, REDACT__MASK, strlen(text));
        }
        return;
    }
    while ((hit = memmem(text, strlen(text), secret, n)) != NULL) {
        memcpy(hit, REDACT__MASK, mask);
        memmove(hit + mask, hit + n, strlen(hit + n) + 1);
    }
}
