/*
 * shared_frame.c - reference-counted payloads with LWS_PRE headroom (see the header
 * for the threading rule: built anywhere, shared only on the loop thread).
 */
#include "shared_frame.h"

#include <stdlib.h>
#include <string.h>

#include "gateway_metrics.h"

#define FRAME__FIRST_CAP 496 /* most server frames (acks, messages, events) fit */

gw_frame_t *gw_frame_new(const char *payload, size_t len)
{
    gw_frame_t *f;

    if (len > UINT32_MAX - LWS_PRE - 1) {
        return NULL;
    }
    f = malloc(sizeof(*f) + LWS_PRE + len + 1);
    if (f == NULL) {
        return NULL;
    }
    f->refs = 1;
    f->len = (uint32_t)len;
    memcpy(f->data + LWS_PRE, payload, len);
    f->data[LWS_PRE + len] = '\0';
    f->kind = (uint8_t)gw_metrics_out_type(payload, len);
    return f;
}

gw_frame_t *gw_frame_from_json(const json_t *json)
{
    /* serialized straight behind the LWS_PRE headroom: no intermediate string and no
     * copy; a frame longer than the first guess is serialized once more into a frame
     * of its exact size */
    size_t cap = FRAME__FIRST_CAP;
    gw_frame_t *f = malloc(sizeof(*f) + LWS_PRE + cap + 1);
    size_t len;

    if (f == NULL) {
        return NULL;
    }
    len = json_dumpb(json, (char *)f->data + LWS_PRE, cap, JSON_COMPACT);
    if (len > cap && len <= UINT32_MAX - LWS_PRE - 1) {
        gw_frame_t *grown = realloc(f, sizeof(*f) + LWS_PRE + len + 1);
        if (grown == NULL) {
            free(f);
            return NULL;
        }
        f = grown;
        cap = len;
        len = json_dumpb(json, (char *)f->data + LWS_PRE, cap, JSON_COMPACT);
    }
    if (len == 0 || len > cap) {
        free(f);
        return NULL;
    }
    f->refs = 1;
    f->len = (uint32_t)len;
    f->data[LWS_PRE + len] = '\0';
    f->kind = (uint8_t)gw_metrics_out_type((const char *)f->data + LWS_PRE, len);
    return f;
}

gw_frame_t *gw_frame_ref(gw_frame_t *f)
{
    f->refs++;
    return f;
}

void gw_frame_unref(gw_frame_t *f)
{
    if (f != NULL && --f->refs == 0) {
        free(f);
    }
}
