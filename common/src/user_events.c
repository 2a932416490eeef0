/*
 * user_events.c - publishing on the per-user live channel (see user_events.h).
 *
 * Threads: the thread owning the Redis handle.
 */
#include "chat/user_events.h"

#include <stdlib.h>
#include <string.h>

#include "chat/keys.h"
#include "chat/log.h"

/* Takes ev. */
static void user_events__publish(chat_redis_t *redis, const char *user_id, json_t *ev)
{
    char channel[CHAT_KEY_LEN];
    char *payload = ev != NULL ? chat_json_dumps(ev) : NULL;

    if (payload != NULL && redis != NULL &&
        chat_key_user_channel(user_id, channel, sizeof(channel)) != NULL &&
        chat_redis_publish(redis, channel, payload, strlen(payload)) != CHAT_OK) {
        chat_log_warn("user event not published (Redis down?)", "user", user_id, "type",
                      json_string_value(json_object_get(ev, "type")));
    }
    free(payload);
    json_decref(ev);
}

void chat_user_event_room(chat_redis_t *redis, const char *user_id, const chat_room_t *room,
                          bool dm)
{
    json_t *j = chat_room_to_json(room);

    if (j == NULL) {
        return;
    }
    user_events__publish(
        redis, user_id,
        json_pack("{s:s, s:o}", "type", dm ? "dm_created" : "room_added", "room", j));
}

void chat_user_event_removed(chat_redis_t *redis, const char *user_id, const char *room_id)
{
    user_events__publish(redis, user_id, chat_member_event_to_json(false, room_id, user_id));
}

void chat_user_event_account_deleted(chat_redis_t *redis, const char *user_id)
{
    user_events__publish(redis, user_id, json_pack("{s:s}", "type", "account_deleted"));
}

void chat_user_event_token_revoked(chat_redis_t *redis, const char *user_id, const char *jti)
{
    user_events__publish(redis, user_id,
                         json_pack("{s:s, s:s}", "type", "token_revoked", "jti", jti));
}
