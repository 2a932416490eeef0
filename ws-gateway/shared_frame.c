/*
 * shared_frame.c - reference-counted payloads with LWS_PRE headroom (see the header
 * for the threading rule: built anywhere, shared only on the loop thread).
 */
#include "shared_frame.h"

#include <stdlib.h>
#include <string.h>

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
    return f;
}

gw_frame_t *gw_frame_from_json(const json_t *json)
{
    char *text = json_dumps(json, JSON_COMPACT);
    gw_frame_t *f = NULL;

    if (text != NULL) {
        f = gw_frame_new(text, strlen(text));
        free(text);
    }
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
