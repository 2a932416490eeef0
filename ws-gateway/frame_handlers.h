/*
 * frame_handlers.h - turns one complete client text frame (valid UTF-8) into an
 * action: message, join, leave, subscribe, unsubscribe, typing, ping, auth. Anything
 * malformed is answered with an error frame and the socket stays open.
 *
 * Threads: loop thread.
 */
#ifndef GW_FRAME_HANDLERS_H
#define GW_FRAME_HANDLERS_H

#include <stddef.h>

#include "gateway.h"

/** Parses and dispatches data[0..len) received on s. */
void gw_frame_handlers_dispatch(gw_session_t *s, const char *data, size_t len);

#endif
