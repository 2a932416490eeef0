/*
 * handlers.h - the per-process context of chat-api and every REST resource handler
 * (one resource per file: auth.c, users.c, rooms.c, members.c, dms.c, messages.c,
 * health.c). Each handler parses its input, decides with a pure function, then does
 * its side effects, and always leaves an answer in resp.
 * Thread: the process's only thread (FastCGI accept loop); handlers block on MongoDB
 * and Redis, bounded by MONGO_TIMEOUT_MS and the Redis timeout.
 */
#ifndef REST_HANDLERS_H
#define REST_HANDLERS_H

#include <stdbool.h>

#include "chat/config.h"
#include "chat/db.h"
#include "chat/model.h"
#include "chat/ratelimit.h"
#include "chat/redis_sync.h"

#include "request.h"
#include "response.h"

/** What one chat-api process owns; built by main.c, borrowed by every handler. */
typedef struct rest_ctx {
    const chat_config_t *cfg;
    chat_db_t *db;
    chat_redis_t *redis;
    chat_local_limiter_t *limiter; /* fallback buckets while Redis is down */
} rest_ctx_t;

typedef void (*rest_handler_fn)(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);

/* auth.c */
void rest_auth_register(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_auth_login(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_auth_refresh(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
/**
 * Authenticates the Bearer token of req: 401 missing_token / invalid_token /
 * token_expired, then the per-user API rate limit (when api_limit), then loads the user
 * (deleted user: 401; MongoDB down: 503). True with req->user filled and
 * req->authenticated set; false with the answer in resp.
 */
bool rest_auth_authenticate(rest_ctx_t *ctx, rest_request_t *req, bool api_limit,
                            rest_response_t *resp);

/* users.c */
void rest_users_get_me(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_users_patch_me(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_users_get(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_users_search(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);

/* rooms.c */
void rest_rooms_create(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_rooms_list(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_rooms_get(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_rooms_join(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_rooms_leave(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
/** True when user_id may see room: public, or a member of the private room. */
bool rest_room_visible(const chat_room_t *room, const char *user_id);
/**
 * Loads room_id for the caller: 404 when missing or private and the caller is not a
 * member, 503 when MongoDB is down. True with *room filled (caller clears it).
 */
bool rest_rooms_load_visible(rest_ctx_t *ctx, const rest_request_t *req, const char *room_id,
                             chat_room_t *room, rest_response_t *resp);

/* members.c */
void rest_members_list(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_members_add(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_members_remove(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
/**
 * Tells the gateways about a membership change on chat:room:<room_id>: member_added
 * before the stored system message, or the system message before member_removed.
 * sys may be NULL. Redis failures are logged, never returned.
 */
void rest_members_publish_change(rest_ctx_t *ctx, const char *room_id, const char *user_id,
                                 const chat_message_t *sys, bool added);

/* dms.c */
void rest_dms_open(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);

/* messages.c */
void rest_messages_history(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);

/* health.c */
void rest_health(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);

#endif
