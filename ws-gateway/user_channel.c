/*
 * user_channel.c - per-user live channels (see user_channel.h).
 *
 * Threads: loop thread only. Relies on pubsub.h (want / unwant the channel), session.h
 * (sending), hmap.h.
 */
#include "user_channel.h"

#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "chat/grow.h"
#include "chat/log.h"
#include "chat/hmap.h"
#include "pubsub.h"
#include "session.h"
#include "shared_frame.h"

/* One user's sessions on this gateway. */
typedef struct users_entry {
    gw_session_t **sessions;
    size_t n;
    size_t cap;
} users_entry_t;

struct gw_users {
    gw_t *gw;
    chat_hmap_t *by_user; /* user id -> users_entry_t* */
};

gw_users_t *gw_users_create(gw_t *gw)
{
    gw_users_t *users = calloc(1, sizeof(*users));

    if (users == NULL) {
        return NULL;
    }
    users->gw = gw;
    users->by_user = chat_hmap_create(1024);
    if (users->by_user == NULL) {
        free(users);
        return NULL;
    }
    return users;
}

static void users__entry_free(void *v)
{
    users_entry_t *e = v;

    free(e->sessions);
    free(e);
}

void gw_users_destroy(gw_users_t *users)
{
    if (users == NULL) {
        return;
    }
    chat_hmap_clear(users->by_user, users__entry_free);
    chat_hmap_destroy(users->by_user);
    free(users);
}

void gw_users_socket_opened(gw_users_t *users, gw_session_t *s)
{
    users_entry_t *e;

    if (users == NULL) {
        return;
    }
    e = chat_hmap_get(users->by_user, gw_session_user_id(s));
    if (e == NULL) {
        e = calloc(1, sizeof(*e));
        if (e == NULL || chat_hmap_put(users->by_user, gw_session_user_id(s), e) != 0) {
            free(e);
            chat_log_warn("out of memory: no live channel for this socket", "user",
                          gw_session_user_id(s));
            return;
        }
        gw_pubsub_want_user(users->gw->pubsub, gw_session_user_id(s), true);
    }
    {
        gw_session_t **grown = chat_grow(e->sessions, e->n, &e->cap, sizeof(*grown), 2);
        if (grown == NULL) {
            chat_log_warn("out of memory: no live channel for this socket", "user",
                          gw_session_user_id(s));
            return;
        }
        e->sessions = grown;
    }
    e->sessions[e->n++] = s;
}

void gw_users_socket_closed(gw_users_t *users, gw_session_t *s)
{
    users_entry_t *e;

    if (users == NULL || (e = chat_hmap_get(users->by_user, gw_session_user_id(s))) == NULL) {
        return;
    }
    for (size_t i = 0; i < e->n; i++) {
        if (e->sessions[i] == s) {
            e->sessions[i] = e->sessions[--e->n];
            break;
        }
    }
    if (e->n == 0) {
        gw_pubsub_want_user(users->gw->pubsub, gw_session_user_id(s), false);
        chat_hmap_remove(users->by_user, gw_session_user_id(s));
        users__entry_free(e);
    }
}

typedef enum {
    USERS__UNKNOWN,
    USERS__FOR_CLIENTS,
    USERS__ACCOUNT_DELETED,
    USERS__TOKEN_REVOKED
} users__event_t;

/* Only the documented events go to clients: a stray publish cannot inject frames.
 * account_deleted and token_revoked are for the gateways: they close the user's sockets
 * (all of them, or those of the token jti names: copied into jti). */
static users__event_t users__event(const char *payload, size_t len, char *jti, size_t jti_len)
{
    json_t *root = json_loadb(payload, len, 0, NULL);
    const char *type = json_string_value(json_object_get(root, "type"));
    users__event_t ev = USERS__UNKNOWN;

    if (type != NULL &&
        (strcmp(type, "room_added") == 0 || strcmp(type, "dm_created") == 0 ||
         strcmp(type, "member_removed") == 0)) {
        ev = USERS__FOR_CLIENTS;
    } else if (type != NULL && strcmp(type, "account_deleted") == 0) {
        ev = USERS__ACCOUNT_DELETED;
    } else if (type != NULL && strcmp(type, "token_revoked") == 0 &&
               json_string_value(json_object_get(root, "jti")) != NULL) {
        ev = USERS__TOKEN_REVOKED;
        snprintf(jti, jti_len, "%s", json_string_value(json_object_get(root, "jti")));
    }
    json_decref(root);
    return ev;
}

void gw_users_on_channel_message(gw_users_t *users, const char *user_id, const char *payload,
                                 size_t len)
{
    users_entry_t *e;
    gw_frame_t *frame;
    char jti[CHAT_JTI_MAX + 1] = "";

    if (users == NULL) {
        return;
    }
    switch (users__event(payload, len, jti, sizeof(jti))) {
    case USERS__UNKNOWN:
        chat_log_warn("unknown event on a user channel", "user", user_id);
        return;
    case USERS__ACCOUNT_DELETED:
        gw_session_close_user(users->gw, user_id, GW_SESSION_CLOSE_AUTH, "account_deleted");
        return;
    case USERS__TOKEN_REVOKED:
        gw_session_close_token(users->gw, user_id, jti, GW_SESSION_CLOSE_AUTH, "token_revoked");
        return;
    case USERS__FOR_CLIENTS:
        break;
    }
    if ((e = chat_hmap_get(users->by_user, user_id)) == NULL) {
        return;
    }
    frame = gw_frame_new(payload, len);
    if (frame == NULL) {
        return;
    }
    for (size_t i = 0; i < e->n; i++) {
        if (!gw_session_is_closing(e->sessions[i])) {
            (void)gw_session_send(e->sessions[i], frame);
        }
    }
    gw_frame_unref(frame);
}
