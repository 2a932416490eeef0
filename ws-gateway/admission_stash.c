/*
 * admission_stash.c - frames received before admission (see admission_stash.h). The
 * stash is allocated with the first frame and hangs off the session's slot for it.
 *
 * Threads: loop thread only.
 */
#include "admission_stash.h"

#include <stdlib.h>
#include <string.h>

#include "session.h"

/* One stashed frame (a NUL-terminated copy). */
typedef struct stash__frame {
    char *data;
    size_t len;
} stash__frame_t;

struct gw_admission_stash {
    stash__frame_t *frames;
    uint32_t n;
    size_t bytes;
};

bool gw_admission_stash(gw_session_t *s, const char *data, size_t len)
{
    struct gw_admission_stash **slot = gw_session_stash(s);
    struct gw_admission_stash *st = *slot;
    stash__frame_t *grown;
    char *copy;

    if (st == NULL) {
        st = calloc(1, sizeof(*st));
        if (st == NULL) {
            return false;
        }
        *slot = st;
    }
    if (st->n >= GW_ADMISSION_STASH_FRAMES || st->bytes + len > GW_ADMISSION_STASH_BYTES) {
        return false;
    }
    grown = realloc(st->frames, (st->n + 1) * sizeof(*grown));
    copy = grown != NULL ? malloc(len + 1) : NULL;
    if (grown != NULL) {
        st->frames = grown;
    }
    if (copy == NULL) {
        return false;
    }
    memcpy(copy, data, len);
    copy[len] = '\0';
    st->frames[st->n].data = copy;
    st->frames[st->n].len = len;
    st->n++;
    st->bytes += len;
    return true;
}

uint32_t gw_admission_stash_count(gw_session_t *s)
{
    const struct gw_admission_stash *st = *gw_session_stash(s);

    return st != NULL ? st->n : 0;
}

void gw_admission_stash_replay(gw_session_t *s,
                               void (*handle)(gw_session_t *s, const char *data, size_t len))
{
    /* the slot is read again each time: a handler may end the session (and its stash) */
    for (uint32_t i = 0; !gw_session_is_closing(s); i++) {
        const struct gw_admission_stash *st = *gw_session_stash(s);
        if (st == NULL || i >= st->n) {
            break;
        }
        handle(s, st->frames[i].data, st->frames[i].len);
    }
    gw_admission_stash_drop(s);
}

void gw_admission_stash_drop(gw_session_t *s)
{
    struct gw_admission_stash **slot = gw_session_stash(s);
    struct gw_admission_stash *st = *slot;

    if (st == NULL) {
        return;
    }
    for (uint32_t i = 0; i < st->n; i++) {
        free(st->frames[i].data);
    }
    free(st->frames);
    free(st);
    *slot = NULL;
}
