/*
 * password_policy.c - the common-password list of registration (password_policy.h):
 * the file is read once into one buffer, split into lines, lower-cased, sorted and
 * de-duplicated; a lookup lower-cases the candidate and binary-searches the array
 * (10,000 entries: at most 14 comparisons).
 *
 * Threads: load/free on the main thread at start-up and exit; lookups from any thread,
 * since nothing is written after chat_password_policy_load returns.
 */
#include "chat/password_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CHAT_PASSWORD_POLICY_DATA_DIR
#define CHAT_PASSWORD_POLICY_DATA_DIR "common/data"
#endif

#define PASSWORD_POLICY__FILE_MAX (16L * 1024 * 1024) /* a sanity bound, far above 10k lines */
#define PASSWORD_POLICY__ENTRY_MAX 128                /* the longest password SPEC allows */

struct chat_password_policy {
    char *buf;    /* the file's text, lines NUL-terminated in place */
    char **words; /* sorted, distinct, pointing into buf */
    size_t count;
};

const char *chat_password_policy_default_path(void)
{
    const char *env = getenv(CHAT_PASSWORD_POLICY_ENV);

    if (env != NULL && env[0] != '\0') {
        return env;
    }
    return CHAT_PASSWORD_POLICY_DATA_DIR "/common-passwords.txt";
}

static void password_policy__lower(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s >= 'A' && *s <= 'Z') {
            *s = (char)(*s - 'A' + 'a');
        }
    }
}

static int password_policy__cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Reads the whole file into a NUL-terminated buffer; NULL with err filled. */
static char *password_policy__read(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f == NULL) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        snprintf(err, errlen, "cannot read %s", path);
        goto fail;
    }
    if (size > PASSWORD_POLICY__FILE_MAX) {
        snprintf(err, errlen, "%s is larger than %ld bytes", path, PASSWORD_POLICY__FILE_MAX);
        goto fail;
    }
    buf = malloc((size_t)size + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        snprintf(err, errlen, "cannot read %s", path);
        goto fail;
    }
    buf[size] = '\0';
    *len = (size_t)size;
    fclose(f);
    return buf;

fail:
    free(buf);
    fclose(f);
    return NULL;
}

/* Trims white space around s[0..n) in place; returns the start, NUL-terminated. */
static char *password_policy__trim(char *s, size_t n)
{
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) {
        n--;
    }
    s[n] = '\0';
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    return s;
}

chat_password_policy_t *chat_password_policy_load(const char *path, char *err, size_t errlen)
{
    chat_password_policy_t *p = NULL;
    size_t len = 0;
    size_t lines = 1;
    size_t n = 0;
    char *line;

    if (path == NULL) {
        snprintf(err, errlen, "no path given");
        return NULL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->buf = password_policy__read(path, &len, err, errlen);
    if (p->buf == NULL) {
        goto fail;
    }
    for (size_t i = 0; i < len; i++) {
        lines += p->buf[i] == '\n';
    }
    p->words = malloc(lines * sizeof(*p->words));
    if (p->words == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    line = p->buf;
    while (line != NULL && *line != '\0') {
        char *nl = strchr(line, '\n');
        size_t linelen = nl != NULL ? (size_t)(nl - line) : strlen(line);
        char *word = password_policy__trim(line, linelen);

        if (word[0] != '\0' && strlen(word) <= PASSWORD_POLICY__ENTRY_MAX) {
            password_policy__lower(word);
            p->words[n++] = word;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    if (n == 0) {
        snprintf(err, errlen, "%s holds no passwords", path);
        goto fail;
    }
    qsort(p->words, n, sizeof(*p->words), password_policy__cmp);
    p->count = 1;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(p->words[i], p->words[p->count - 1]) != 0) {
            p->words[p->count++] = p->words[i];
        }
    }
    return p;

fail:
    chat_password_policy_free(p);
    return NULL;
}

size_t chat_password_policy_count(const chat_password_policy_t *p)
{
    return p != NULL ? p->count : 0;
}

bool chat_password_policy_is_common(const chat_password_policy_t *p, const char *password)
{
    char key[PASSWORD_POLICY__ENTRY_MAX + 1];
    const char *k = key;
    size_t len;

    if (p == NULL || password == NULL) {
        return false;
    }
    len = strlen(password);
    if (len == 0 || len > PASSWORD_POLICY__ENTRY_MAX) {
        return false;
    }
    memcpy(key, password, len + 1);
    password_policy__lower(key);
    return bsearch(&k, p->words, p->count, sizeof(*p->words), password_policy__cmp) != NULL;
}

const char *chat_password_policy_check(const chat_password_policy_t *p, const char *password)
{
    if (chat_password_policy_is_common(p, password)) {
        return "this password is too common, choose one that is harder to guess";
    }
    return NULL;
}

void chat_password_policy_free(chat_password_policy_t *p)
{
    if (p == NULL) {
        return;
    }
    free(p->words);
    free(p->buf);
    free(p);
}
