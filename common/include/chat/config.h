/*
 * config.h - process configuration from environment variables (SPEC §6), read and
 * validated once at start-up by the main thread; read-only afterwards, so any
 * thread may read it.
 */
#ifndef CHAT_CONFIG_H
#define CHAT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chat/log.h"

typedef struct chat_config {
    int http_port;               /* HTTP_PORT, default 8080 */
    char *mongo_uri;             /* MONGO_URI, default mongodb://127.0.0.1:27017 */
    char *mongo_db;              /* MONGO_DB, default "chat" */
    char *redis_url;             /* REDIS_URL, default redis://127.0.0.1:6379 */
    bool redis_cluster;          /* REDIS_CLUSTER 0|1, default 0: REDIS_URL names one node of
                                   a Redis Cluster (a seed); slots are read from it */
    char *jwt_secret;            /* JWT_SECRET, required, >= 32 bytes */
    char *jwt_issuer;            /* JWT_ISSUER, default "chat-server" */
    int64_t jwt_ttl_sec;         /* JWT_TTL seconds, default 86400 (also accepts 30m, 24h, 7d) */
    int64_t session_max_age_sec; /* SESSION_MAX_AGE seconds, default 30 days: no refresh
                                    makes a token outlive its login by more */
    int bcrypt_cost;             /* BCRYPT_COST 10..31, default 12 (4..9 only with
                                   BCRYPT_ALLOW_WEAK=1, for tests) */
    bool bcrypt_allow_weak;      /* BCRYPT_ALLOW_WEAK 0|1, default 0: test stacks only */
    char **cors_origins;         /* CORS_ORIGINS comma list; default localhost:3000 + own origin */
    size_t n_cors_origins;
    double rate_msg_per_sec;         /* RATE_MSG_PER_SEC, default 10, 0 = off */
    double rate_msg_burst;           /* RATE_MSG_BURST, default 30 */
    double rate_login_per_min;       /* RATE_LOGIN_PER_MIN, default 10, 0 = off */
    double rate_register_per_hour;   /* RATE_REGISTER_PER_HOUR, default 20, 0 = off */
    double rate_api_per_sec;         /* RATE_API_PER_SEC, default 50, 0 = off */
    double rate_room_create_per_min; /* RATE_ROOM_CREATE_PER_MIN, default 10, 0 = off */
    double rate_membership_per_min;  /* RATE_MEMBERSHIP_PER_MIN, default 30, 0 = off: joins,
                                        leaves, adds and removals per acting user */
    chat_log_level_t log_level;      /* LOG_LEVEL debug|info|warn|error, default info */
    chat_log_format_t log_format;    /* LOG_FORMAT json|text, default json */
    int log_buffer_bytes;            /* LOG_BUFFER_BYTES: the gateway's log ring, default 256 KiB */
    char *gateway_id;                /* GATEWAY_ID, default "gw-<hostname>-<pid>" */
    int gateway_port;            /* GATEWAY_PORT, default 9001 (the port this gateway listens on) */
    char *gateway_host;          /* GATEWAY_HOST, default 127.0.0.1 */
    int max_sockets_per_user;    /* MAX_SOCKETS_PER_USER, default 20 */
    int mongo_timeout_ms;        /* MONGO_TIMEOUT_MS, default 1500 (server selection / socket) */
    int history_window;          /* HISTORY_WINDOW, default 500: messages per room kept in Redis */
    int history_scan_timeout_ms; /* HISTORY_SCAN_TIMEOUT_MS, default 10000: REST's reads of
                                  * `messages` (window rebuild, older pages), a scan on FerretDB */
    int db_trace;                /* DB_TRACE 0|1, default 0: log every MongoDB command */
} chat_config_t;

/**
 * Fills *cfg from the environment. On a bad or missing variable returns -1 and writes a
 * message naming the variable into errbuf. need_secret=false skips the JWT_SECRET check
 * (tools that never sign or verify). On success the caller owns cfg's strings:
 * release them with chat_config_free().
 */
int chat_config_load(chat_config_t *cfg, bool need_secret, char *errbuf, size_t errlen);

/** Frees what chat_config_load allocated; accepts NULL and zeroed structs. */
void chat_config_free(chat_config_t *cfg);

/** The gateway's limits and timings: WS_* variables (SPEC section 6), defaults in config_ws.c. */
typedef struct chat_ws_limits {
    size_t max_frame_bytes;      /* WS_MAX_FRAME_BYTES: bigger client messages close 1009 */
    uint32_t queue_max_frames;   /* WS_QUEUE_MAX_FRAMES: per-session send queue bound */
    size_t queue_max_bytes;      /* WS_QUEUE_MAX_BYTES */
    int slow_grace_ms;           /* WS_SLOW_GRACE_MS: how long a queue may stay over them */
    int workers;                 /* WS_WORKERS: MongoDB writer threads (room affinity) */
    int read_workers;            /* WS_READ_WORKERS: MongoDB reader threads */
    uint32_t worker_queue_cap;   /* WS_WORKER_QUEUE: jobs waiting per worker */
    int commit_linger_ms;        /* WS_COMMIT_LINGER_MS: a busy writer waits for more */
    uint32_t room_cache;         /* WS_ROOM_CACHE: recent frames kept per room for resumes */
    size_t room_cache_bytes;     /* WS_ROOM_CACHE_BYTES: all rooms' recent frames together */
    int mongo_socket_timeout_ms; /* WS_MONGO_SOCKET_TIMEOUT_MS: a slow reply, not an outage */
    int gap_wait_ms;             /* WS_GAP_WAIT_MS: wait for a missing seq before backfill */
    int ping_sec;                /* WS_PING_SEC: idle time before a ping */
    int idle_sec;                /* WS_IDLE_SEC: silent socket is closed */
    int presence_heartbeat_ms;   /* WS_PRESENCE_HEARTBEAT_MS */
    int presence_debounce_ms;    /* WS_PRESENCE_DEBOUNCE_MS */
    int presence_sweep_ms;       /* WS_PRESENCE_SWEEP_MS */
    size_t presence_seen_max;    /* WS_PRESENCE_SEEN_MAX: presence dedupe entries, all sessions */
    int abuse_refusals;          /* refusals within abuse_window_ms that close 1008 */
    int abuse_window_ms;
    uint32_t max_rooms_per_session;
    uint32_t max_inflight_per_session; /* messages stored but not yet acked */
    uint32_t max_sub_jobs;             /* WS_SUB_JOBS: a session's subscription jobs at once */
    double frame_rate;                 /* WS_FRAME_RATE: frames a session may send per second */
    double frame_burst;                /* WS_FRAME_BURST: ... and at once (subscribes on connect) */
    int drain_ms;                      /* WS_DRAIN_MS: SIGTERM flush budget */
    int redis_timeout_ms;              /* a Redis reply slower than this marks it down */
} chat_ws_limits_t;

/** Fills *lim from the WS_* variables (the gateway's; REST ignores them). -1 with a
 *  message naming the variable on a bad value, or when WS_IDLE_SEC <= WS_PING_SEC. */
int chat_config_ws_limits_load(chat_ws_limits_t *lim, char *errbuf, size_t errlen);

/** True when origin (exact string, e.g. "http://localhost:3000") is on the allow-list. */
bool chat_config_origin_allowed(const chat_config_t *cfg, const char *origin);

#endif
