/*
 * main.c - chat-api, the FastCGI program lighttpd spawns for /api/... and /health
 * (SPEC §1). Start-up: configuration (exit 1 naming the bad variable), logging, the
 * MongoDB pool and the Redis client (neither connects yet, so a missing dependency
 * never stops the process), the common-password list (password_policy.h; missing, it is
 * logged and registration refuses none), then the FCGX_Accept_r loop: read the request
 * (64 KiB body cap, 413 above it), route it, write the answer, log one JSON line. A
 * request lighttpd refused itself comes back through its error handler
 * (REDIRECT_STATUS >= 400) and gets its JSON error from edge.c, no handler.
 *
 * Threads: the main thread runs the accept loop and every handler, one request at a
 * time (lighttpd runs several processes for concurrency). A second thread only
 * creates the MongoDB indexes, retrying every few seconds while MongoDB is down, then
 * samples the bcrypt cost of recently stored hashes for the unknown-account dummy
 * (password.h) and computes that dummy once; it touches nothing but the thread-safe
 * pool, the thread-safe logger and password.c's locked state. A third writes the
 * room_heads raises and leave deletes that joins and leaves note (write_behind.h), off
 * the requests' time (the deletes when no request has run for a moment).
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
#include "chat/db_trace.h"
#include "chat/write_behind.h"
#include "chat/log.h"
#include "chat/password.h"
#include "chat/password_policy.h"
#include "chat/ratelimit.h"
#include "chat/redis_sync.h"
#include "chat/users_repo.h"
#include "chat/validate.h"

#include "edge.h"
#include "handlers.h"
#include "metrics.h"
#include "request.h"
#include "response.h"
#include "router.h"

#define MAIN__REDIS_TIMEOUT_MS 500
#define MAIN__LOCAL_BUCKETS 4096
#define MAIN__INDEX_RETRY_MS 3000
#define MAIN__LOG_PATH_MAX 200

/* The only file-scope mutable state: set by SIGTERM/SIGINT, read by the accept loop. */
static volatile sig_atomic_t main__stopping;

#define MAIN__COST_SAMPLE 100

typedef struct main__indexer {
    chat_db_t *db;
    int bcrypt_cost;
    bool hashes_passwords; /* this process's pool serves login/register */
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

static void main__note_cost(const char *hash, void *arg)
{
    (void)arg;
    chat_password_note_stored_cost(chat_password_hash_cost(hash));
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
            /* only where passwords are checked: the sample is a scan of users on FerretDB,
             * and every process of every pool taking one (and a bcrypt) at once kept
             * FerretDB busy for seconds after each start */
            if (ix->hashes_passwords) {
                (void)chat_users_recent_hashes(ix->db, MAIN__COST_SAMPLE, main__note_cost, NULL);
                (void)chat_password_verify_dummy("warm-up", ix->bcrypt_cost); /* cache it */
            }
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

static void main__log_request(const rest_ctx_t *ctx, const rest_request_t *req,
                              const rest_response_t *resp)
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
    chat_log(resp->status >= 500 ? CHAT_LOG_WARN : CHAT_LOG_INFO, "request", "method", req->method,
             "path", path, "status", status, "duration_ms", duration, "user",
             req->user.id[0] != '\0' ? req->user.id : NULL, "ip", req->remote_addr, "req",
             req->request_id, "pid", pid, "pool", ctx->pool, (char *)NULL);
}

/* GET /metrics when METRICS_PUBLIC=1 (metrics.h): true when answered here; false lets
 * the router answer (404 when not public, 405 for other methods). */
static bool main__serve_metrics(rest_ctx_t *ctx, rest_request_t *req, FCGX_Request *fr)
{
    static const char head[] = "Status: 200 OK\r\n"
                               "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                               "Cache-Control: no-store\r\n\r\n";
    bool mongo_up;
    bool redis_up;
    size_t len = 0;
    char *text;

    if (!rest_metrics_public() || strcmp(req->method, "GET") != 0) {
        return false;
    }
    rest_health_state(ctx->health, &mongo_up, &redis_up);
    rest_metrics_count(ctx->metrics, req->path, 200,
                       (double)(chat_clock_monotonic_ms() - req->start_ms) / 1000.0);
    text = rest_metrics_render(ctx->metrics, mongo_up, redis_up, &len);
    if (text == NULL) {
        return false;
    }
    FCGX_PutStr(head, (int)sizeof(head) - 1, fr->out);
    FCGX_PutStr(text, (int)len, fr->out);
    free(text);
    return true;
}

static void main__serve(rest_ctx_t *ctx, FCGX_Request *fr)
{
    rest_request_t req;
    rest_response_t resp;
    char *out = NULL;
    size_t out_len = 0;
    const char *origin = NULL;
    int rc;
    int edge;

    memset(&resp, 0, sizeof(resp));
    edge = rest_edge_status(FCGX_GetParam("REDIRECT_STATUS", fr->envp));
    rc = rest_request_init(&req, main__param, fr->envp);
    chat_log_scope_set("req", req.request_id); /* on every line logged while serving it */
    if (rc != 0) {
        rest_response_from_err(&resp, CHAT_ERR_NOMEM, NULL);
    } else if (edge != 0) {
        rest_edge_answer(edge, &req, &resp); /* lighttpd refused it: no handler runs */
    } else if (req.path != NULL && strcmp(req.path, "/metrics") == 0 &&
               main__serve_metrics(ctx, &req, fr)) {
        rest_request_clear(&req);
        chat_log_scope_clear();
        return;
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
    main__log_request(ctx, &req, &resp);
    rest_metrics_count(ctx->metrics, req.path, resp.status,
                       (double)(chat_clock_monotonic_ms() - req.start_ms) / 1000.0);
    free(out);
    rest_response_clear(&resp);
    rest_request_clear(&req);
    chat_log_scope_clear();
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

/* store.h's head_later hook: room_heads waits until the reply is out (write_behind.h). */
static bool main__head_later(void *arg, const char *room_id, int64_t seq)
{
    return chat_write_behind_note_head(arg, room_id, seq);
}

/* store.h's leave_later hook: a leave's room_members delete waits until the reply is out. */
static bool main__leave_later(void *arg, const struct chat_member_leave *l)
{
    return chat_write_behind_note_leave(arg, l);
}

int main(void)
{
    chat_config_t cfg;
    char err[512];
    rest_ctx_t ctx;
    main__indexer_t ix;
    chat_password_policy_t *passwords = NULL;
    chat_write_behind_t *write_behind = NULL;
    chat_db_t *db_scan = NULL;
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
    chat_db_trace_set_logging(cfg.db_trace != 0);
    chat_db_global_init();
    ctx.cfg = &cfg;
    ctx.pool = getenv("CHAT_FCGI_POOL"); /* lighttpd.conf's bin-environment; may be unset */
    ctx.db = chat_db_create(cfg.mongo_uri, cfg.mongo_db, cfg.mongo_timeout_ms, err, sizeof(err));
    if (ctx.db == NULL) {
        chat_log_error("cannot set up MongoDB", "error", err);
        goto cleanup;
    }
    ctx.redis = chat_redis_create(cfg.redis_url, cfg.redis_cluster, MAIN__REDIS_TIMEOUT_MS, err,
                                  sizeof(err));
    if (ctx.redis == NULL) {
        chat_log_error("cannot set up Redis", "error", err);
        goto cleanup;
    }
    ctx.store.db = ctx.db;
    if (rest_pool_reads_history(ctx.pool)) {
        /* the same server selection bound, a longer wait for a reply: a window's rebuild
         * is a scan on FerretDB (~2 s at a million messages, over MONGO_TIMEOUT_MS) */
        db_scan =
            chat_db_create_with_socket_timeout(cfg.mongo_uri, cfg.mongo_db, cfg.mongo_timeout_ms,
                                               cfg.history_scan_timeout_ms, err, sizeof(err));
        if (db_scan == NULL) {
            chat_log_error("cannot set up MongoDB", "error", err);
            goto cleanup;
        }
        ctx.store.db_scan = db_scan;
    }
    ctx.store.redis = ctx.redis;
    ctx.store.window = cfg.history_window;
    /* the auth and health pools write neither (nor sweep the leave records: four
     * processes sweeping every 30 s instead of seven) */
    write_behind = rest_pool_writes_behind(ctx.pool) ? chat_write_behind_start(ctx.db) : NULL;
    if (write_behind != NULL) { /* else both are written inline, before the reply */
        ctx.store.head_later = main__head_later;
        ctx.store.leave_later = main__leave_later;
        ctx.store.later_arg = write_behind;
    }
    passwords = chat_password_policy_load(chat_password_policy_default_path(), err, sizeof(err));
    if (passwords == NULL) {
        chat_log_error("common-password list not loaded: registration accepts common passwords",
                       "error", err);
    }
    ctx.passwords = passwords;
    ctx.limiter = chat_local_limiter_create(MAIN__LOCAL_BUCKETS);
    if (ctx.limiter == NULL) {
        chat_log_error("out of memory");
        goto cleanup;
    }
    ctx.health = rest_health_start(ctx.db, cfg.redis_url, cfg.redis_cluster);
    ctx.metrics = rest_metrics_open();
    ix.db = ctx.db;
    ix.bcrypt_cost = cfg.bcrypt_cost;
    ix.hashes_passwords = rest_pool_hashes_passwords(ctx.pool);
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
        chat_write_behind_request_begin(write_behind); /* its scans wait for a quiet moment */
        main__serve(&ctx, &fr);
        FCGX_Finish_r(&fr);
        chat_write_behind_request_end(write_behind);
    }
    FCGX_Free(&fr, 1);
    chat_log_info("chat-api stopping");
    rc = 0;

cleanup:
    if (ix.started) {
        atomic_store(&ix.stop, true);
        pthread_join(ix.thread, NULL);
    }
    rest_health_stop(ctx.health);
    rest_metrics_close(ctx.metrics);
    chat_local_limiter_destroy(ctx.limiter);
    chat_password_policy_free(passwords);
    chat_write_behind_destroy(write_behind, ctx.db); /* writes what is still noted */
    chat_redis_destroy(ctx.redis);
    chat_db_destroy(db_scan);
    chat_db_destroy(ctx.db);
    chat_db_global_cleanup();
    chat_config_free(&cfg);
    return rc;
}
