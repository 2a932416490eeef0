/*
 * user_channel.h - each connected user's live channel chat:user:{<id>} (user_events.h):
 * which local sessions belong to which user, SUBSCRIBE while the first is open and
 * UNSUBSCRIBE after the last closes, and every event published there (room_added,
 * dm_created, member_removed) sent as is to each of that user's sockets here.
 *
 * Threads: loop thread only.
 */
#ifndef GW_USER_CHANNEL_H
#define GW_USER_CHANNEL_H

#include <stddef.h>

#include "gateway.h"

typedef struct gw_users gw_users_t;

gw_users_t *gw_users_create(gw_t *gw);
void gw_users_destroy(gw_users_t *users); /* accepts NULL */

/** An authenticated session opened / closed (session.c). */
void gw_users_socket_opened(gw_users_t *users, gw_session_t *s);
void gw_users_socket_closed(gw_users_t *users, gw_session_t *s);

/** A payload published on user_id's channel (pubsub_channels.c). */
void gw_users_on_channel_message(gw_users_t *users, const char *user_id, const char *payload,
                                 size_t len);

#endif
