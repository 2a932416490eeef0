/*
 * message_pipeline.h - the path of a client's `message` frame after validation:
 * per-user rate limit (Redis EVAL of CHAT_RATELIMIT_LUA shared by all gateways, local
 * buckets while Redis is down) -> a worker appends it to MongoDB (idempotent through
 * client_msg_id; membership checked unless the session's subscription vouches for it)
 * -> back on the loop: ack to the sender, then PUBLISH and local in-order delivery. A
 * duplicate gets the same ack and is not published again. Nothing is acked that is not
 * stored: a storage failure is an `unavailable` error with retryable=true.
 *
 * Threads: loop thread (append__run on a worker).
 */
#ifndef GW_MESSAGE_PIPELINE_H
#define GW_MESSAGE_PIPELINE_H

#include <stddef.h>

#include "gateway.h"

/** Takes a validated message from s (strings are copied). */
void gw_message_submit(gw_session_t *s, const char *room_id, const char *content, size_t len,
                       const char *client_msg_id);

#endif
