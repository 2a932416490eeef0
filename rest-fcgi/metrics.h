/*
 * metrics.h - the REST side's Prometheus metrics, counted by every FastCGI process of
 * every pool into one shared memory file (mmap, C11 atomics: no lock, no I/O per
 * request) and rendered by whichever process answers GET /metrics (lighttpd routes it
 * to the /health pool). Answered only when METRICS_PUBLIC=1; otherwise 404 like any
 * unknown path (in production Prometheus scrapes the processes' own ports).
 * The file: $CHAT_RUN_DIR/api-metrics.shm, else /dev/shm/chat-api-metrics-<HTTP_PORT>.
 *
 * Threads: the process's request thread.
 */
#ifndef REST_METRICS_H
#define REST_METRICS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct rest_metrics rest_metrics_t;

/** Maps (creating it zeroed if missing) the shared file; NULL when that fails (logged;
 *  the process serves without counting). */
rest_metrics_t *rest_metrics_open(void);
void rest_metrics_close(rest_metrics_t *m); /* accepts NULL */

/** One request answered: method and path as asked, status, seconds it took. */
void rest_metrics_count(rest_metrics_t *m, const char *path, int status, double seconds);

/** The exposition (malloc'd text; *len its length), with the backends' up gauges; NULL
 *  on OOM or without a mapping. */
char *rest_metrics_render(rest_metrics_t *m, bool mongo_up, bool redis_up, size_t *len);

/** Whether METRICS_PUBLIC=1. */
bool rest_metrics_public(void);

#endif
