/*
 * subscription.h - a session's subscribe / join / leave requests and the replay that
 * brings a resuming client from after_seq to live with no gap and no duplicate:
 * membership is checked on a worker, stored messages are sent in pages (the next page
 * is read only when the session's queue has room), live messages are skipped while
 * replaying (the replay's continuation covers them), and the sub goes live once it
 * has reached the room's last delivered seq. Then {type:"subscribed", room_id,
 * last_seq} tells the client the replay is done. While MongoDB is unavailable (or the
 * workers are saturated) a request is retried with backoff instead of being dropped,
 * so subscriptions recover on their own. The replay is sub_replay.c's, the retry list
 * sub_retry.c's, the workers' half of each request sub_job.c's.
 *
 * Threads: loop thread (the jobs' run() on workers).
 */
#ifndef GW_SUBSCRIPTION_H
#define GW_SUBSCRIPTION_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway.h"
#include "room_registry.h"

/** s's subscription to room_id, or NULL. */
gw_sub_t *gw_subscription_find(gw_session_t *s, const char *room_id);
/** True once the subscription's membership is confirmed (replaying or live). */
bool gw_subscription_checked(const gw_sub_t *sub);
/** True when a typing event may go out now: at most one per min_interval_ms per
 *  subscription (the others are dropped). */
bool gw_subscription_typing_turn(gw_sub_t *sub, int64_t now_ms, int64_t min_interval_ms);

/** A removal reached a subscription that is not live yet: its membership is checked
 *  again (live if the user is a member now, not_member / not_found otherwise). */
void gw_subscription_recheck(gw_session_t *s, gw_sub_t *sub);
/** subscribe (join=false) or join (join=true) room_id, replaying after `after` when
 *  has_after. Errors go to the client as error frames. */
void gw_subscription_request(gw_session_t *s, const char *room_id, bool join, bool has_after,
                             int64_t after);
/** leave: membership change on a worker, then unsubscribe and publish the system message. */
void gw_subscription_leave(gw_session_t *s, const char *room_id);
/** Stops receiving room_id on this session (no membership change). */
void gw_subscription_unsubscribe(gw_session_t *s, const char *room_id);

/** Detaches and frees one sub. */
void gw_subscription_drop(gw_session_t *s, gw_sub_t *sub);
/** Detaches and frees all of a session's subs (on close). */
void gw_subscription_drop_all(gw_session_t *s);

/** registry: the room's channel is subscribed; start the subs that waited for it. */
void gw_subscription_on_channel_ready(gw_t *gw, gw_room_t *room);
/** registry timer: re-sends requests that failed because MongoDB was unavailable. */
void gw_subscription_on_tick(gw_t *gw);

/** session: its queue drained; continue paused replays. */
void gw_subscription_on_queue_drained(gw_session_t *s);

#endif
