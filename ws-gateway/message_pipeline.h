/*
 * message_pipeline.h - the path of a client's `message` frame after validation:
 * per-user rate limit (Redis, shared by all gateways; local buckets while Redis is
 * down) -> a writer worker stores it with group commit (every message queued for that
 * writer goes into one batch: membership checked in one Redis round trip, one
 * insert_many, one pipelined window commit that also PUBLISHes them) -> back on the
 * loop: local in-order delivery, then the ack to the sender.
 *
 * An ack means stored in MongoDB AND visible in the room's Redis window (history.h), so
 * no reader can miss an acknowledged message. While Redis is down a message is stored
 * and delivered to this gateway's own watchers, and its ack waits until the commit
 * succeeds (retried every GW_COMMIT_RETRY_MS, at most GW_COMMIT_PENDING_MAX messages
 * held; past that the oldest are forgotten and their senders' resends are answered from
 * the stored copy). A duplicate (same client_msg_id in the same room) gets the original
 * ack and is stored once. Nothing is acked that is not stored: a storage failure is an
 * `service_unavailable` error with retryable=true.
 *
 * Threads: loop thread (the store itself, message_store.c, on a writer worker).
 */
#ifndef GW_MESSAGE_PIPELINE_H
#define GW_MESSAGE_PIPELINE_H

#include <stddef.h>

#include "gateway.h"

#define GW_COMMIT_RETRY_MS 250
#define GW_COMMIT_PENDING_MAX 100000

typedef struct gw_pipeline gw_pipeline_t;

/** The pipeline's loop-side state (commit retries). NULL on OOM. */
gw_pipeline_t *gw_pipeline_create(gw_t *gw);
void gw_pipeline_destroy(gw_pipeline_t *p);

/** Takes a validated message from s (strings are copied). */
void gw_pipeline_submit(gw_session_t *s, const char *room_id, const char *content, size_t len,
                        const char *client_msg_id);

#endif
