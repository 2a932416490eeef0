/*
 * admission_stash.c - frames received before admission (see admission_stash.h).
 *
 * Threads: loop thread only.
 */
#include "admission_stash.h"

#include <stdlib.h>
#include <string.h>

#include "session.h"

bool gw_admission_stash(gw_session_t *s, const char *data, size_t len)
{
    struct gw_stashed *grown;
    char *copy;

    if (s->n_stash >= GW_ADMISSION_STASH_FRAMES ||
        s->stash_bytes + len > GW_ADMISSION_STASH_BYTES) {
        return false;
    }
    grown = realloc(s->stash, (s->n_stash + 1) * sizeof(*grown));
    copy = grown != NULL ? malloc(len + 1) : NULL;
    if (grown != NULL) {
        s->stash = grown;
    }
    if (copy == NULL) {
        return false;
    }
    memcpy(copy, data, len);
    copy[len] = '\0';
    s->stash[s->n_stash].data = copy;
    s->stash[s->n_stash].len = len;
    s->n_stash++;
    s->stash_bytes += len;
    return true;
}

void gw_admission_stash_drop(gw_session_t *s)
{
    for (uint32_t i = 0; i < s->n_stash; i++) {
        free(s->stash[i].data);
    }
    free(s->stash);
    s->stash = NULL;
    s->n_stash = 0;
    s->stash_bytes = 0;
}
