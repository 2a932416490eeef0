/*
 * config_ws.c - the gateway's limits and timings, the WS_* variables (SPEC §6, config.h:
 * chat_config_ws_limits_load), read with config.c's checks (config_internal.h).
 *
 * Threads: the gateway's main thread at start-up, before any other thread runs.
 */
#include "chat/config.h"
#include "config_internal.h"

#include <string.h>

int chat_config_ws_limits_load(chat_ws_limits_t *lim, char *errbuf, size_t errlen)
{
    long long v = 0;

    memset(lim, 0, sizeof(*lim));
#define CONFIG__WS(field, name, def, min, max)                          \
    do {                                                                \
        if (config__ll(name, def, min, max, &v, errbuf, errlen) != 0) { \
            return -1;                                                  \
        }                                                               \
        lim->field = (__typeof__(lim->field))v;                         \
    } while (0)
    CONFIG__WS(max_frame_bytes, "WS_MAX_FRAME_BYTES", 64 * 1024, 1024, 16 * 1024 * 1024);
    CONFIG__WS(queue_max_frames, "WS_QUEUE_MAX_FRAMES", 1000, 16, 1000000);
    CONFIG__WS(queue_max_bytes, "WS_QUEUE_MAX_BYTES", 1024 * 1024, 64 * 1024, 1LL << 30);
    CONFIG__WS(slow_grace_ms, "WS_SLOW_GRACE_MS", 2000, 0, 600000);
    CONFIG__WS(workers, "WS_WORKERS", 2, 1, 64);
    CONFIG__WS(read_workers, "WS_READ_WORKERS", 2, 1, 64);
    CONFIG__WS(worker_queue_cap, "WS_WORKER_QUEUE", 2048, 16, 1000000);
    CONFIG__WS(commit_linger_ms, "WS_COMMIT_LINGER_MS", 6, 0, 100);
    CONFIG__WS(gap_wait_ms, "WS_GAP_WAIT_MS", 150, 10, 10000);
    CONFIG__WS(ping_sec, "WS_PING_SEC", 25, 1, 3600);
    CONFIG__WS(idle_sec, "WS_IDLE_SEC", 60, 2, 7200);
    CONFIG__WS(presence_heartbeat_ms, "WS_PRESENCE_HEARTBEAT_MS", 10000, 100, 20000);
    CONFIG__WS(presence_debounce_ms, "WS_PRESENCE_DEBOUNCE_MS", 2000, 0, 60000);
    CONFIG__WS(presence_sweep_ms, "WS_PRESENCE_SWEEP_MS", 500, 100, 60000);
    CONFIG__WS(presence_seen_max, "WS_PRESENCE_SEEN_MAX", 262144, 0, 1LL << 32);
    CONFIG__WS(drain_ms, "WS_DRAIN_MS", 5000, 0, 60000);
    CONFIG__WS(redis_timeout_ms, "WS_REDIS_TIMEOUT_MS", 2000, 100, 60000);
    CONFIG__WS(room_cache, "WS_ROOM_CACHE", 256, 0, 65536);
    CONFIG__WS(room_cache_bytes, "WS_ROOM_CACHE_BYTES", 64LL << 20, 0, 1LL << 40);
    CONFIG__WS(mongo_socket_timeout_ms, "WS_MONGO_SOCKET_TIMEOUT_MS", 10000, 100, 600000);
    CONFIG__WS(max_sub_jobs, "WS_SUB_JOBS", 8, 1, 1024);
    CONFIG__WS(frame_rate, "WS_FRAME_RATE", 100, 1, 1000000);
    CONFIG__WS(frame_burst, "WS_FRAME_BURST", 1000, 1, 1000000);
#undef CONFIG__WS
    if (lim->idle_sec <= lim->ping_sec)
        return config__fail(errbuf, errlen, "WS_IDLE_SEC must be greater than WS_PING_SEC");
    lim->abuse_refusals = 50;
    lim->abuse_window_ms = 10000;
    lim->max_rooms_per_session = 500;
    lim->max_inflight_per_session = 256;
    return 0;
}
