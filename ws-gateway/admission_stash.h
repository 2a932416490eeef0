/*
 * admission_stash.h - the frames a socket sends before it is admitted (admission.h):
 * kept in order, bounded in count and bytes, handled once the socket is admitted and
 * dropped otherwise. Past GW_ADMISSION_STASH_PAUSE frames session.c stops reading the
 * socket (back-pressure) until admission.
 *
 * Threads: loop thread only.
 */
#ifndef GW_ADMISSION_STASH_H
#define GW_ADMISSION_STASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway.h"

#define GW_ADMISSION_STASH_FRAMES 128
#define GW_ADMISSION_STASH_PAUSE 32 /* frames stashed before the socket stops being read */
#define GW_ADMISSION_STASH_BYTES (256 * 1024)

/** A frame arrived before admission: keep a copy. False when the stash is full (the
 *  caller closes the socket). */
bool gw_admission_stash(gw_session_t *s, const char *data, size_t len);
/** Frames stashed now. */
uint32_t gw_admission_stash_count(gw_session_t *s);
/** Hands every stashed frame to handle in order (stopping if s starts closing), then
 *  frees the stash. */
void gw_admission_stash_replay(gw_session_t *s,
                               void (*handle)(gw_session_t *s, const char *data, size_t len));
/** Frees the session's stash. */
void gw_admission_stash_drop(gw_session_t *s);

#endif
