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

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "chat/config.h"
#include "chat/db.h"
#include "chat/model.h"
#include "chat/password_policy.h"
#include "chat/ratelimit.h"
#include "chat/redis_sync.h"
#include "chat/store.h"

#include "request.h"
#include "response.h"

typedef struct rest_health rest_health_t;

/** What one chat-api process owns; built by main.c, borrowed by every handler. */
typedef struct rest_ctx {
    const chat_config_t *cfg;
    chat_db_t *db;
    chat_redis_t *redis;
    chat_local_limiter_t *limiter;           /* fallback buckets while Redis is down */
    chat_store_t store;                      /* db + redis + HISTORY_WINDOW, for the read model */
    rest_health_t *health;                   /* the prober thread /health reads (health.c) */
    const chat_password_policy_t *passwords; /* common passwords; NULL: none refused */
    struct rest_metrics *metrics;            /* shared request counters (metrics.h); NULL: none */
    const char *pool; /* CHAT_FCGI_POOL: which lighttpd pool this process serves; NULL */
} rest_ctx_t;

typedef void (*rest_handler_fn)(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);

/* auth.c */
void rest_auth_register(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_auth_login(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_auth_refresh(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_auth_logout(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
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
/** True when the caller may see room: public, or a member of the private room. */
bool rest_room_visible(const chat_room_t *room, bool is_member);
/**
 * Loads room_id for the caller (no member list): 404 when missing or private and the
 * caller is not a member, 503 when the store is down. True with *room filled (caller
 * clears it) and *is_member set.
 */
bool rest_rooms_load_visible(rest_ctx_t *ctx, const rest_request_t *req, const char *room_id,
                             chat_room_t *room, bool *is_member, rest_response_t *resp);

/* members.c */
void rest_members_list(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_members_add(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
void rest_members_remove(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
/**
 * Tells the gateways about a membership change on chat:room:{<room_id>}: member_added
 * or member_removed (the system message itself was published when it was committed to
 * the room's window). Redis failures are logged, never returned.
 */
void rest_members_publish_change(rest_ctx_t *ctx, const char *room_id, const char *user_id,
                                 bool added);

/* dms.c */
void rest_dms_open(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);

/* messages.c */
void rest_messages_history(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);

/* health.c */
void rest_health(rest_ctx_t *ctx, rest_request_t *req, rest_response_t *resp);
/** Starts the prober thread (its own Redis client on redis_url). NULL on failure:
 *  /health then answers 503. */
rest_health_t *rest_health_start(chat_db_t *db, const char *redis_url, bool redis_cluster);
void rest_health_stop(rest_health_t *h); /* accepts NULL */
/** The prober's last answers (what /health says), for /metrics. */
void rest_health_state(const rest_health_t *h, bool *mongo_up, bool *redis_up);

#endif
