/*
 * presence_tracker.h - who is online, as this gateway sees it.
 *
 * Local users (sockets here): on the first socket the gateway ZADDs
 * chat:presence:<uid> <now+TTL> <gateway_id> and announces {type:"presence",
 * status:"online"} on the channels of the user's rooms (room ids read on a worker);
 * every heartbeat it refreshes the scores of all local users; when the last socket
 * closes it waits lim.presence_debounce_ms (a reconnect cancels), then ZREMs its entry
 * and, if ZCOUNT shows no other gateway holds the user, announces "offline".
 * users.last_seen is updated when a user's last local socket closes.
 *
 * Remote users (learned from presence events): a gateway that was killed never
 * announces "offline", so each gateway watches the users it told its sessions are
 * online and that have no socket here: when the latest expiry it last read for them
 * passes (checked every lim.presence_sweep_ms), it reads the sorted set again; no live
 * entry -> "offline" to the local watchers of the rooms it learned them from. That is
 * one Redis read per remote user per heartbeat, and offline within the TTL + a sweep.
 *
 * Threads: loop thread (the room lookup and last_seen jobs run on workers).
 */
#ifndef GW_PRESENCE_TRACKER_H
#define GW_PRESENCE_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

#include "gateway.h"
#include "shared_frame.h"

gw_presence_t *gw_presence_create(gw_t *gw);
/** Stops timers and frees (call gw_presence_shutdown first while Redis is still up). */
void gw_presence_destroy(gw_presence_t *pt);
/** Removes this gateway's entries for its local users (graceful stop). */
void gw_presence_shutdown(gw_presence_t *pt);

/** An admitted socket of user_id opened / closed on this gateway: the first makes the
 *  user online, the last (after the debounce) offline. */
void gw_presence_socket_opened(gw_presence_t *pt, const char *user_id, const char *username);
void gw_presence_socket_closed(gw_presence_t *pt, const char *user_id);

/** user_id (connected here) just joined room_id: tell that room they are online. */
void gw_presence_member_joined(gw_presence_t *pt, const char *room_id, const char *user_id);

/** A presence event for user_id arrived on room_id's channel (frame borrowed):
 *  remember it and deliver it to the room's local watchers, once per session. */
void gw_presence_on_event(gw_presence_t *pt, const char *room_id, const char *user_id, bool online,
                          gw_frame_t *frame);

/** pubsub: the command connection is back; refresh every local user's entry. */
void gw_presence_on_redis_up(gw_presence_t *pt);

#endif
