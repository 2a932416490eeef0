/*
 * metrics.c - REST metrics in shared memory (see metrics.h).
 *
 * Threads: the process's request thread (the memory is shared with the other FastCGI
 * processes through atomics only).
 */
#include "metrics.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "chat/log.h"
#include "chat/metrics.h"
#include "router.h"

#define METRICS__MAGIC 0x43484d52u /* "CHMR" */
#define METRICS__VERSION 1u

/* The route label of a path (templates as in router.c), by position; the last is
 * every path no route matches. */
static const struct {
    const char *pattern;
    const char *label;
} metrics__routes[] = {
    {"/api/auth/register", "auth_register"},
    {"/api/auth/login", "auth_login"},
    {"/api/auth/refresh", "auth_refresh"},
    {"/api/auth/logout", "auth_logout"},
    {"/api/users/me", "users_me"},
    {"/api/users", "users"},
    {"/api/users/:id", "user"},
    {"/api/rooms", "rooms"},
    {"/api/rooms/:id", "room"},
    {"/api/rooms/:id/join", "room_join"},
    {"/api/rooms/:id/leave", "room_leave"},
    {"/api/rooms/:id/members", "members"},
    {"/api/rooms/:id/members/:id", "member"},
    {"/api/rooms/:id/messages", "messages"},
    {"/api/dms", "dms"},
    {"/health", "health"},
    {"/metrics", "metrics"},
};
#define METRICS__N_ROUTES (sizeof(metrics__routes) / sizeof(metrics__routes[0]) + 1)

static const int metrics__statuses[] = {200, 201, 204, 304, 400, 401, 403, 404, 405,
                                        409, 413, 415, 429, 500, 502, 503, 504};
#define METRICS__N_STATUS (sizeof(metrics__statuses) / sizeof(metrics__statuses[0]) + 1)

typedef struct metrics__shared {
    uint32_t magic;
    uint32_t version;
    _Atomic uint64_t requests[METRICS__N_ROUTES][METRICS__N_STATUS];
    chat_hist_t seconds[METRICS__N_ROUTES];
} metrics__shared_t;

struct rest_metrics {
    metrics__shared_t *shared;
};

bool rest_metrics_public(void)
{
    const char *v = getenv("METRICS_PUBLIC");
    return v != NULL && strcmp(v, "1") == 0;
}

static void metrics__path(char *buf, size_t len)
{
    const char *dir = getenv("CHAT_RUN_DIR");
    const char *port = getenv("HTTP_PORT");

    if (dir != NULL && dir[0] != '\0') {
        snprintf(buf, len, "%s/api-metrics.shm", dir);
    } else {
        snprintf(buf, len, "/dev/shm/chat-api-metrics-%s", port != NULL ? port : "8080");
    }
}

rest_metrics_t *rest_metrics_open(void)
{
    char path[512];
    rest_metrics_t *m = calloc(1, sizeof(*m));
    void *map;
    int fd;

    if (m == NULL) {
        return NULL;
    }
    metrics__path(path, sizeof(path));
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    /* ftruncate to the same size is a no-op; a new file reads as zeros */
    if (fd < 0 || ftruncate(fd, (off_t)sizeof(metrics__shared_t)) != 0) {
        chat_log_warn("metrics not counted: cannot open the shared file", "path", path);
        if (fd >= 0) {
            close(fd);
        }
        free(m);
        return NULL;
    }
    map = mmap(NULL, sizeof(metrics__shared_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        chat_log_warn("metrics not counted: cannot map the shared file", "path", path);
        free(m);
        return NULL;
    }
    m->shared = map;
    if (m->shared->magic != METRICS__MAGIC || m->shared->version != METRICS__VERSION) {
        /* new (zeros) or from another build: every process that finds it so agrees */
        m->shared->version = METRICS__VERSION;
        m->shared->magic = METRICS__MAGIC;
    }
    return m;
}

void rest_metrics_close(rest_metrics_t *m)
{
    if (m == NULL) {
        return;
    }
    munmap(m->shared, sizeof(metrics__shared_t));
    free(m);
}

static size_t metrics__route_index(const char *path)
{
    char params[REST_MAX_PARAMS][CHAT_ID_LEN];
    size_t n;
    bool id_ok;

    for (size_t i = 0; path != NULL && i < METRICS__N_ROUTES - 1; i++) {
        if (rest_path_match(metrics__routes[i].pattern, path, params, &n, &id_ok)) {
            return i;
        }
    }
    return METRICS__N_ROUTES - 1;
}

void rest_metrics_count(rest_metrics_t *m, const char *path, int status, double seconds)
{
    size_t r;
    size_t s = 0;

    if (m == NULL) {
        return;
    }
    r = metrics__route_index(path);
    while (s < METRICS__N_STATUS - 1 && metrics__statuses[s] != status) {
        s++;
    }
    chat_counter_add(&m->shared->requests[r][s], 1);
    chat_hist_observe(&m->shared->seconds[r], seconds);
}

static const char *metrics__label(size_t r)
{
    return r < METRICS__N_ROUTES - 1 ? metrics__routes[r].label : "other";
}

char *rest_metrics_render(rest_metrics_t *m, bool mongo_up, bool redis_up, size_t *len)
{
    chat_metrics_out_t out;
    char labels[96];
    char *text = NULL;

    if (m == NULL || chat_metrics_begin(&out) != 0) {
        return NULL;
    }
    chat_metrics_family(&out, "chat_api_requests_total", "counter",
                        "REST requests answered, by route and status.");
    for (size_t r = 0; r < METRICS__N_ROUTES; r++) {
        for (size_t s = 0; s < METRICS__N_STATUS; s++) {
            uint64_t v = atomic_load_explicit(&m->shared->requests[r][s], memory_order_relaxed);
            if (v == 0) {
                continue; /* a series appears with its first request */
            }
            if (s < METRICS__N_STATUS - 1) {
                snprintf(labels, sizeof(labels), "route=\"%s\",status=\"%d\"", metrics__label(r),
                         metrics__statuses[s]);
            } else {
                snprintf(labels, sizeof(labels), "route=\"%s\",status=\"other\"",
                         metrics__label(r));
            }
            chat_metrics_sample(&out, "chat_api_requests_total", labels, (double)v);
        }
    }
    chat_metrics_family(&out, "chat_api_request_seconds", "histogram",
                        "REST request time inside the FastCGI program, by route.");
    for (size_t r = 0; r < METRICS__N_ROUTES; r++) {
        snprintf(labels, sizeof(labels), "route=\"%s\"", metrics__label(r));
        chat_metrics_hist(&out, "chat_api_request_seconds", labels, &m->shared->seconds[r]);
    }
    chat_metrics_family(&out, "chat_api_mongo_up", "gauge", "1 while MongoDB answers.");
    chat_metrics_sample(&out, "chat_api_mongo_up", "", mongo_up ? 1 : 0);
    chat_metrics_family(&out, "chat_api_redis_up", "gauge", "1 while Redis answers.");
    chat_metrics_sample(&out, "chat_api_redis_up", "", redis_up ? 1 : 0);
    chat_metrics_process(&out);
    if (chat_metrics_end(&out, &text, len) != 0) {
        return NULL;
    }
    return text;
}
