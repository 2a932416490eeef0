/*
 * model.h - the wire types (user, room, message) and their JSON codecs on jansson.
 * Structs own their strings (malloc'd); *_clear frees them and accepts zeroed
 * structs. Pure functions; any thread.
 */
#ifndef CHAT_MODEL_H
#define CHAT_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/error.h"
#include "chat/jwt.h" /* CHAT_ID_LEN */

typedef struct chat_user {
    char id[CHAT_ID_LEN];
    char *username;
    char *email;
    char *display_name;  /* NULL when unset */
    char *avatar_url;    /* NULL when unset */
    char *password_hash; /* filled by repository lookups for login only; never serialized */
    int64_t created_at_ms;
    int64_t last_seen_ms; /* 0 = never */
} chat_user_t;

#define CHAT_ROOM_MEMBERS_SHOWN 100 /* member ids a room object carries (SPEC §2) */

typedef struct chat_room {
    char id[CHAT_ID_LEN];
    char *name;
    char *description; /* "" when unset */
    char creator_id[CHAT_ID_LEN];
    char (*members)[CHAT_ID_LEN]; /* malloc'd array of n_members ids: the first
                                         CHAT_ROOM_MEMBERS_SHOWN members, oldest first */
    size_t n_members;
    int64_t member_count; /* all members (0: n_members) */
    bool is_private;
    bool is_dm;
    int64_t created_at_ms;
} chat_room_t;

typedef enum chat_message_type { CHAT_MSG_TEXT = 0, CHAT_MSG_SYSTEM } chat_message_type_t;

typedef struct chat_message {
    char id[CHAT_ID_LEN];
    char room_id[CHAT_ID_LEN];
    char user_id[CHAT_ID_LEN];
    char *username;
    char *content;
    char *client_msg_id; /* NULL when the sender gave none */
    chat_message_type_t type;
    int64_t seq;
    int64_t timestamp_ms;
} chat_message_t;

typedef struct chat_message_list {
    chat_message_t *items;
    size_t n;
} chat_message_list_t;

typedef struct chat_room_list {
    chat_room_t *items;
    size_t n;
} chat_room_list_t;

void chat_user_clear(chat_user_t *u);
void chat_room_clear(chat_room_t *r);
void chat_message_clear(chat_message_t *m);
void chat_message_list_clear(chat_message_list_t *l);
void chat_room_list_clear(chat_room_list_t *l);

/** True when user_id is in room->members. */
bool chat_room_has_member(const chat_room_t *room, const char *user_id);

/* ---- encoders: each returns a new reference (caller json_decref's) or NULL on OOM ---- */

/** {id, username, email, display_name, avatar_url, created_at} (the caller's own profile). */
json_t *chat_user_to_json_private(const chat_user_t *u);
/** {id, username, display_name, avatar_url, online, last_seen} (another user's profile). */
json_t *chat_user_to_json_public(const chat_user_t *u, bool online);
/** {id, name, description, creator_id, members: [ids], member_count, is_private, is_dm,
 *  created_at} */
json_t *chat_room_to_json(const chat_room_t *r);
/** {id, room_id, user_id, username, content, type, timestamp, seq[, client_msg_id]} */
json_t *chat_message_to_json(const chat_message_t *m);
/** {type: "member_added" | "member_removed", room_id, user_id}: the event on a room's
 *  channel, a user's channel and a socket (SPEC section 3), new reference. */
json_t *chat_member_event_to_json(bool added, const char *room_id, const char *user_id);

/* ---- decoders: fill a zeroed struct from JSON; CHAT_ERR_INVALID on missing/wrong-typed
 *      fields (unknown fields are ignored). json is borrowed. ---- */
chat_err_t chat_user_from_json(const json_t *json, chat_user_t *out);
chat_err_t chat_room_from_json(const json_t *json, chat_room_t *out);
chat_err_t chat_message_from_json(const json_t *json, chat_message_t *out);

/** Serializes json compactly; new malloc'd string, caller frees. NULL on OOM. */
char *chat_json_dumps(const json_t *json);

/** {"error": {"code": code, "message": message}}, new reference. A code outside
 *  chat_wire_codes() (error.h) is sent as internal_error. */
json_t *chat_json_error(const char *code, const char *message);

#endif
