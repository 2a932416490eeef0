/*
 * shared_frame.h - one serialized server->client payload shared by every recipient:
 * a reference-counted buffer with LWS_PRE bytes of headroom in front, so that
 * lws_write() can put the WebSocket header there without a copy. A broadcast builds
 * the frame once and queues the same pointer to N sessions.
 *
 * Threads: a frame may be built on a worker thread and handed to the loop thread
 * (ownership moves with the job result); after that only the loop thread touches the
 * reference count, which is therefore not atomic.
 */
#ifndef GW_SHARED_FRAME_H
#define GW_SHARED_FRAME_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stddef.h>
#include <stdint.h>

typedef struct gw_frame {
    uint32_t refs;
    uint32_t len;         /* payload bytes (without the headroom or the NUL) */
    uint8_t kind;         /* gw_frame_out_t of its "type", for /metrics */
    unsigned char data[]; /* LWS_PRE headroom, payload, NUL */
} gw_frame_t;

/** New frame holding a copy of payload[0..len) with one reference, or NULL on OOM. */
gw_frame_t *gw_frame_new(const char *payload, size_t len);
/** New frame with json serialized compactly (json is borrowed), or NULL. */
gw_frame_t *gw_frame_from_json(const json_t *json);
/** Adds a reference; returns f. */
gw_frame_t *gw_frame_ref(gw_frame_t *f);
/** Drops a reference, freeing at zero. Accepts NULL. */
void gw_frame_unref(gw_frame_t *f);

static inline unsigned char *gw_frame_payload(gw_frame_t *f)
{
    return f->data + LWS_PRE;
}

#endif
