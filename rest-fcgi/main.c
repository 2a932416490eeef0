/*
 * main.c - chat-api, the FastCGI program lighttpd spawns for /api/... and /health
 * (SPEC §1). Start-up: configuration (exit 1 naming the bad variable), logging, the
 * MongoDB pool and the Redis client (neither connects yet, so a missing dependency
 * never stops the process), then the FCGX_Accept_r loop: read the request (64 KiB body
 * cap, 413 above it), route it, write the answer, log one JSON line.
 *
 * Threads: the main thread runs the accept loop and every handler, one request at a
 * time (lighttpd runs several processes for concurrency). A second thread only
 * creates the MongoDB indexes, retrying every few seconds while MongoDB is down; it
 * touches nothing but the thread-safe pool and the thread-safe logger.
 * Relies on libfcgi's fcgiapp.h (not fcgi_stdio.h) and common/.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat/clock.h"
#include "chat/config.h"
#include "chat/db.h"
#include "chat/log.h"
#include "chat/ratelimit.h"
#include "chat/redis_sync.h"
#include "chat/validate.h"

#include "handlers.h"
#include "request.h"
#include "response.h"
#include "router.h"

#define MAIN__REDIS_TIMEOUT_MS 500
#define MAIN__LOCAL_BUCKETS 4096
#define MAIN__INDEX_RETRY_MS 3000
#define MAIN__LOG_PATH_MAX 200

/* The only file-scope mutable state: set by SIGTERM/SIGINT, read by the accept loop. */
static volatile sig_atomic_t main__stopping;

typedef struct main__indexer {
    chat_db_t *db;
    atomic_bool stop;
    pthread_t thread;
    bool started;
} main__indexer_t;

static void main__on_signal(int sig)
{
    (void)sig;
    main__stopping = 1;
    FCGX_ShutdownPending();
}

static void main__sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Index thread: MongoDB may be down when lighttpd starts us; keep trying until it is
 * back instead of exiting (requests answer 503 meanwhile). */
static void *main__index_thread(void *arg)
{
    main__indexer_t *ix = arg;
    bool warned = false;

    while (!atomic_load(&ix->stop)) {
        chat_err_t rc = chat_db_ensure_indexes(ix->db);
        if (rc == CHAT_OK) {
            chat_log_debug("indexes ready");
            return NULL;
        }
        if (!warned) {
            chat_log_warn("cannot create indexes yet; retrying", "error", chat_strerror(rc));
            warned = true;
        }
        for (int waited = 0; waited < MAIN__INDEX_RETRY_MS && !atomic_load(&ix->stop);
             waited += 100) {
            main__sleep_ms(100);
        }
    }
    return NULL;
}

static const char *main__param(const char *name, void *arg)
{
    return FCGX_GetParam(name, (FCGX_ParamArray)arg);
}

/* Reads the body into req (at most CHAT_BODY_MAX_BYTES). 0, or an HTTP status (413 /
 * 400 / 500) already written into resp. */
static int main__read_body(FCGX_Stream *in, rest_request_t *req, rest_response_t *resp)
{
    size_t cap;
    size_t len = 0;
    char *buf = NULL;

    if (req->content_length == -2) {
        rest_response_error(resp, 400, "bad_request", "invalid Content-Length");
        return 400;
    }
    if (req->content_length > CHAT_BODY_MAX_BYTES) {
        rest_response_error(resp, 413, "payload_too_large", "request body is over 64 KiB");
        return 413;
    }
    if (req->content_length == 0) {
        return 0;
    }
    /* Trust CONTENT_LENGTH only as a hint: never read past the cap plus one byte. */
    cap = req->content_length > 0 ? (size_t)req->content_length : CHAT_BODY_MAX_BYTES;
    buf = malloc(CHAT_BODY_MAX_BYTES + 2);
    if (buf == NULL) {
        rest_response_from_err(resp, CHAT_ERR_NOMEM, NULL);
        return 500;
    }
    while (len <= CHAT_BODY_MAX_BYTES) {
        int want = (int)(CHAT_BODY_MAX_BYTES + 1 - len);
        int got = FCGX_GetStr(buf + len, want, in);
        if (got <= 0) {
            break;
        }
        len += (size_t)got;
        if (req->content_length >= 0 && len >= cap) {
            break;
        }
    }
    if (len > CHAT_BODY_MAX_BYTES) {
        free(buf);
        rest_response_error(resp, 413, "payload_too_large", "request body is over 64 KiB");
        return 413;
    }
    buf[len] = '\0';
    req->body = buf;
    req->body_len = len;
    return 0;
}

static void main__log_request(const rest_request_t *req, const rest_response_t *resp)
{
    char status[8];
    char duration[24];
    char path[MAIN__LOG_PATH_MAX + 1];
    char pid[16];
    int64_t ms = chat_clock_monotonic_ms() - req->start_ms;

    snprintf(status, sizeof(status), "%d", resp->status);
    snprintf(duration, sizeof(duration), "%lld", (long long)ms);
    snprintf(path, sizeof(path), "%s", req->path != NULL ? req->path : "");
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    chat_log(resp->status >= 500 ? CHAT_LOG_WARN : CHAT_LOG_INFO, "request", "method",
             req->method, "path", path, "status", status, "duration_ms", duration, "user",
             req->user.id[0] != '\0' ? req->user.id : NULL, "ip", req->remote_addr, "req",
             req->request_id, "pid", pid, (char *)NULL);
}

static void main__serve(rest_ctx_t *ctx, FCGX_Request *fr)
{
    rest_request_t req;
    rest_response_t resp;
    char *out = NULL;
    size_t out_len = 0;
    const char *origin = NULL;

    memset(&resp, 0, sizeof(resp));
    if (rest_request_init(&req, main__param, fr->envp) != 0) {
        rest_response_from_err(&resp, CHAT_ERR_NOMEM, NULL);
    } else if (main__read_body(fr->in, &req, &resp) == 0) {
        rest_router_dispatch(ctx, &req, &resp);
    }
    if (req.origin != NULL && chat_config_origin_allowed(ctx->cfg, req.origin)) {
        origin = req.origin;
    }
    out = rest_response_render(&resp, origin, req.request_id, &out_len);
    if (out != NULL) {
        FCGX_PutStr(out, (int)out_len, fr->out);
    } else {
        static const char oom[] = "Status: 500 Internal Server Error\r\n"
                                  "Content-Type: application/json\r\n\r\n"
                                  "{\"error\":{\"code\":\"internal_error\","
                                  "\"message\":\"out of memory\"}}";
        FCGX_PutStr(oom, (int)sizeof(oom) - 1, fr->out);
    }
    main__log_request(&req, &resp);
    free(out);
    rest_response_clear(&resp);
    rest_request_clear(&req);
}

static void main__install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = main__on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: accept() returns EINTR and the loop ends */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that went away is a write error, not a death */
}

int main(void)
{
    chat_config_t cfg;
    char err[512];
    rest_ctx_t ctx;
    main__indexer_t ix;
    FCGX_Request fr;
    int rc = 1;

    memset(&cfg, 0, sizeof(cfg));
    memset(&ctx, 0, sizeof(ctx));
    memset(&ix, 0, sizeof(ix));
    if (chat_config_load(&cfg, true, err, sizeof(err)) != 0) {
        fprintf(stderr, "chat-api: configuration error: %s\n", err);
        return 1;
    }
    chat_log_init("rest-fcgi", cfg.log_level, cfg.log_format);
    chat_db_global_init();
    ctx.cfg = &cfg;
    ctx.db = chat_db_create(cfg.mongo_uri, cfg.mongo_db, cfg.mongo_timeout_ms, err, sizeof(err));
    if (ctx.db == NULL) {
        chat_log_error("cannot set up MongoDB", "error", err);
        goto cleanup;
    }
    ctx.redis = chat_redis_create(cfg.redis_url, MAIN__REDIS_TIMEOUT_MS, err, sizeof(err));
    if (ctx.redis == NULL) {
        chat_log_error("cannot set up Redis", "error", err);
        goto cleanup;
    }
    ctx.limiter = chat_local_limiter_create(MAIN__LOCAL_BUCKETS);
    if (ctx.limiter == NULL) {
        chat_log_error("out of memory");
        goto cleanup;
    }
    ix.db = ctx.db;
    atomic_init(&ix.stop, false);
    if (pthread_create(&ix.thread, NULL, main__index_thread, &ix) == 0) {
        ix.started = true;
    } else {
        chat_log_warn("cannot start the index thread; creating indexes inline");
        (void)chat_db_ensure_indexes(ctx.db);
    }
    main__install_signals();
    if (FCGX_Init() != 0 || FCGX_InitRequest(&fr, 0, 0) != 0) {
        chat_log_error("FastCGI initialisation failed");
        goto cleanup;
    }
    chat_log_info("chat-api ready");
    while (!main__stopping && FCGX_Accept_r(&fr) >= 0) {
        main__serve(&ctx, &fr);
        FCGX_Finish_r(&fr);
    }
    FCGX_Free(&fr, 1);
    chat_log_info("chat-api stopping");
    rc = 0;

cleanup:
    if (ix.started) {
        atomic_store(&ix.stop, true);
        pthread_join(ix.thread, NULL);
    }
    chat_local_limiter_destroy(ctx.limiter);
    chat_redis_destroy(ctx.redis);
    chat_db_destroy(ctx.db);
    chat_db_global_cleanup();
    chat_config_free(&cfg);
    return rc;
}
