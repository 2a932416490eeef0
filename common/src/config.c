/*
 * config.c - reads and validates the SPEC §6 environment variables once at start-up
 * (config.h). Every failure names the variable and quotes the bad value (except the
 * secret). An empty variable counts as unset, so "${VAR:-}" in compose files works.
 *
 * Threads: chat_config_load/free run on the main thread before workers start (getenv
 * is not safe against concurrent setenv); chat_config_origin_allowed reads the
 * finished struct from any thread.
 */
#include "chat/config.h"
#include "chat/redact.h"
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CONFIG__SECRET_MIN 32
#define CONFIG__TTL_MAX_SEC (INT64_C(10) * 365 * 86400)
#define CONFIG__RATE_MAX 1e9
#define CONFIG__BCRYPT_MIN_SAFE 10 /* below: only with BCRYPT_ALLOW_WEAK=1 (tests) */

/* Writes a formatted message into errbuf (if any). Always returns -1. */
int config__fail(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errbuf == NULL || errlen == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* The variable's value, or NULL when unset or empty. Borrowed from environ. */
static const char *config__env(const char *name)
{
    const char *v = getenv(name);

    return (v != NULL && v[0] != '\0') ? v : NULL;
}

/* Copies v without leading/trailing ASCII space into buf; false when it does not fit. */
static bool config__trim(const char *v, char *buf, size_t len)
{
    size_t n = 0;

    while (isspace((unsigned char)*v))
        v++;
    n = strlen(v);
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    if (n + 1 > len)
        return false;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return true;
}

/* Integer variable in [min, max]; def when unset. */
int config__ll(const char *name, long long def, long long min, long long max, long long *out,
               char *errbuf, size_t errlen)
{
    const char *v = config__env(name);
    char buf[32];
    char *end = NULL;
    long long n = 0;

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (!config__trim(v, buf, sizeof(buf)) || buf[0] == '\0')
        goto bad;
    errno = 0;
    n = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max)
        goto bad;
    *out = n;
    return 0;

bad:
    return config__fail(errbuf, errlen, "%s must be an integer %lld..%lld, got '%.64s'", name, min,
                        max, v);
}

static int config__int(const char *name, long def, long min, long max, int *out, char *errbuf,
                       size_t errlen)
{
    long long n = 0;

    if (config__ll(name, def, min, max, &n, errbuf, errlen) != 0)
        return -1;
    *out = (int)n;
    return 0;
}

/* Non-negative finite number (rates; 0 = off); def when unset. */
static int config__rate(const char *name, double def, double *out, char *errbuf, size_t errlen)
{
    const char *v = config__env(name);
    char buf[64];
    char *end = NULL;
    double d = 0;

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (!config__trim(v, buf, sizeof(buf)) || buf[0] == '\0')
        goto bad;
    errno = 0;
    d = strtod(buf, &end);
    if (errno != 0 || *end != '\0' || !isfinite(d) || d < 0 || d > CONFIG__RATE_MAX ||
        strpbrk(buf, "xX") != NULL) /* no hex floats */
        goto bad;
    *out = d;
    return 0;

bad:
    return config__fail(errbuf, errlen, "%s must be a number >= 0 (0 = off), got '%.64s'", name, v);
}

/* String variable copied to a new malloc'd *out; def when unset. */
static int config__str(const char *name, const char *def, char **out, char *errbuf, size_t errlen)
{
    const char *v = config__env(name);

    *out = strdup(v != NULL ? v : def);
    if (*out == NULL)
        return config__fail(errbuf, errlen, "%s: out of memory", name);
    return 0;
}

/* A duration (JWT_TTL, SESSION_MAX_AGE): "3600", "3600s", "30m", "24h" or "7d";
 * 1 s .. 10 years; def seconds when unset. */
static int config__duration(const char *name, int64_t def, int64_t *out, char *errbuf,
                            size_t errlen)
{
    const char *v = config__env(name);
    char buf[32];
    char *end = NULL;
    long long n = 0;
    int64_t mult = 1;

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (!config__trim(v, buf, sizeof(buf)) || !isdigit((unsigned char)buf[0]))
        goto bad;
    errno = 0;
    n = strtoll(buf, &end, 10);
    if (errno != 0)
        goto bad;
    if (end[0] != '\0') {
        switch (end[0]) {
        case 's':
            mult = 1;
            break;
        case 'm':
            mult = 60;
            break;
        case 'h':
            mult = 3600;
            break;
        case 'd':
            mult = 86400;
            break;
        default:
            goto bad;
        }
        if (end[1] != '\0')
            goto bad;
    }
    if (n < 1 || n > CONFIG__TTL_MAX_SEC / mult)
        goto bad;
    *out = (int64_t)n * mult;
    return 0;

bad:
    return config__fail(errbuf, errlen,
                        "%s must be a positive duration in seconds or with an s/m/h/d "
                        "suffix (3600, 30m, 24h, 7d; at most 10 years), got '%.64s'",
                        name, v);
}

/* Appends a copy of origin[0..n) to cfg->cors_origins. */
static int config__add_origin(chat_config_t *cfg, const char *origin, size_t n)
{
    char **grown = realloc(cfg->cors_origins, (cfg->n_cors_origins + 1) * sizeof(char *));

    if (grown == NULL)
        return -1;
    cfg->cors_origins = grown;
    grown[cfg->n_cors_origins] = strndup(origin, n);
    if (grown[cfg->n_cors_origins] == NULL)
        return -1;
    cfg->n_cors_origins++;
    return 0;
}

/*
 * CORS_ORIGINS: comma-separated, each entry trimmed, empty entries skipped, one
 * trailing '/' dropped (browsers send Origin without it). Each must be an http(s)
 * origin; "*" is refused because credentials must never be wildcarded.
 */
static int config__origins(chat_config_t *cfg, char *errbuf, size_t errlen)
{
    const char *v = config__env("CORS_ORIGINS");
    char deflist[256];
    const char *p = NULL;

    if (v == NULL) {
        snprintf(deflist, sizeof(deflist),
                 "http://localhost:3000,http://127.0.0.1:3000,"
                 "http://localhost:%d,http://127.0.0.1:%d",
                 cfg->http_port, cfg->http_port);
        v = deflist;
    }
    p = v;
    while (*p != '\0') {
        const char *start = p;
        const char *end = strchr(p, ',');
        size_t n = 0;

        if (end == NULL)
            end = p + strlen(p);
        p = *end == ',' ? end + 1 : end;
        while (start < end && isspace((unsigned char)*start))
            start++;
        while (end > start && isspace((unsigned char)end[-1]))
            end--;
        if (end > start && end[-1] == '/')
            end--;
        n = (size_t)(end - start);
        if (n == 0)
            continue;
        if (!((n > 7 && strncasecmp(start, "http://", 7) == 0) ||
              (n > 8 && strncasecmp(start, "https://", 8) == 0)) ||
            memchr(start, ' ', n) != NULL)
            return config__fail(errbuf, errlen,
                                "CORS_ORIGINS entries must be origins like "
                                "http://host[:port] ('*' is not allowed), got '%.*s'",
                                (int)(n > 64 ? 64 : n), start);
        if (config__add_origin(cfg, start, n) != 0)
            return config__fail(errbuf, errlen, "CORS_ORIGINS: out of memory");
    }
    if (cfg->n_cors_origins == 0)
        return config__fail(errbuf, errlen, "CORS_ORIGINS must list at least one origin");
    return 0;
}

/* GATEWAY_ID: 1..64 visible ASCII; default "gw-<hostname>-<pid>". */
static int config__gateway_id(chat_config_t *cfg, char *errbuf, size_t errlen)
{
    const char *v = config__env("GATEWAY_ID");
    char host[65] = "";
    char buf[96];

    if (v == NULL) {
        if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        snprintf(buf, sizeof(buf), "gw-%.48s-%ld", host, (long)getpid());
        v = buf;
    } else {
        size_t n = strlen(v);

        if (n > 64)
            goto bad;
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7F)
                goto bad;
        }
    }
    cfg->gateway_id = strdup(v);
    if (cfg->gateway_id == NULL)
        return config__fail(errbuf, errlen, "GATEWAY_ID: out of memory");
    return 0;

bad:
    return config__fail(errbuf, errlen,
                        "GATEWAY_ID must be 1..64 visible ASCII characters, got '%.64s'", v);
}

/* Checks that a URL variable starts with one of two schemes. The value is quoted with its
 * credentials masked (redact.h): a malformed URL still carries the real password. */
static int config__scheme(const char *name, const char *value, const char *a, const char *b,
                          char *errbuf, size_t errlen)
{
    char shown[256];

    if (strncmp(value, a, strlen(a)) == 0 || (b != NULL && strncmp(value, b, strlen(b)) == 0))
        return 0;
    chat_redact_url(value, shown, sizeof(shown));
    return config__fail(errbuf, errlen, "%s must start with %s%s%s, got '%.64s'", name, a,
                        b != NULL ? " or " : "", b != NULL ? b : "", shown);
}

/* LOG_LEVEL (debug|info|warn|error, default info), LOG_FORMAT (json|text) and
 * LOG_BUFFER_BYTES. */
static int config__log(chat_config_t *cfg, char *errbuf, size_t errlen)
{
    const char *v = config__env("LOG_LEVEL");
    int level = CHAT_LOG_INFO;

    if (v != NULL && (level = chat_log_level_parse(v)) < 0)
        return config__fail(errbuf, errlen,
                            "LOG_LEVEL must be debug, info, warn or error, got '%.64s'", v);
    cfg->log_level = (chat_log_level_t)level;
    v = config__env("LOG_FORMAT");
    if (v == NULL || strcasecmp(v, "json") == 0)
        cfg->log_format = CHAT_LOG_JSON;
    else if (strcasecmp(v, "text") == 0)
        cfg->log_format = CHAT_LOG_TEXT;
    else
        return config__fail(errbuf, errlen, "LOG_FORMAT must be json or text, got '%.64s'", v);
    /* the gateway's log ring (log.h, chat_log_async_start): 4 KiB .. 256 MiB */
    return config__int("LOG_BUFFER_BYTES", 256L * 1024L, 4096L, 256L * 1024L * 1024L,
                       &cfg->log_buffer_bytes, errbuf, errlen);
}

int chat_config_load(chat_config_t *cfg, bool need_secret, char *errbuf, size_t errlen)
{
    const char *secret = NULL;
    int allow_weak = 0;
    int redis_cluster = 0;

    if (errbuf != NULL && errlen > 0)
        errbuf[0] = '\0';
    if (cfg == NULL)
        return config__fail(errbuf, errlen, "no config struct");
    memset(cfg, 0, sizeof(*cfg));

    if (config__int("HTTP_PORT", 8080, 1, 65535, &cfg->http_port, errbuf, errlen) != 0 ||
        config__str("MONGO_URI", "mongodb://127.0.0.1:27017", &cfg->mongo_uri, errbuf, errlen) !=
            0 ||
        config__scheme("MONGO_URI", cfg->mongo_uri, "mongodb://", "mongodb+srv://", errbuf,
                       errlen) != 0 ||
        config__str("MONGO_DB", "chat", &cfg->mongo_db, errbuf, errlen) != 0 ||
        config__str("REDIS_URL", "redis://127.0.0.1:6379", &cfg->redis_url, errbuf, errlen) != 0 ||
        config__scheme("REDIS_URL", cfg->redis_url, "redis://", NULL, errbuf, errlen) != 0 ||
        config__int("REDIS_CLUSTER", 0, 0, 1, &redis_cluster, errbuf, errlen) != 0 ||
        config__str("JWT_ISSUER", "chat-server", &cfg->jwt_issuer, errbuf, errlen) != 0 ||
        config__duration("JWT_TTL", 86400, &cfg->jwt_ttl_sec, errbuf, errlen) != 0 ||
        config__duration("SESSION_MAX_AGE", 30 * 86400, &cfg->session_max_age_sec, errbuf,
                         errlen) != 0 ||
        config__int("BCRYPT_COST", 12, 4, 31, &cfg->bcrypt_cost, errbuf, errlen) != 0 ||
        config__int("BCRYPT_ALLOW_WEAK", 0, 0, 1, &allow_weak, errbuf, errlen) != 0 ||
        config__origins(cfg, errbuf, errlen) != 0 ||
        config__rate("RATE_MSG_PER_SEC", 10, &cfg->rate_msg_per_sec, errbuf, errlen) != 0 ||
        config__rate("RATE_MSG_BURST", 30, &cfg->rate_msg_burst, errbuf, errlen) != 0 ||
        config__rate("RATE_LOGIN_PER_MIN", 10, &cfg->rate_login_per_min, errbuf, errlen) != 0 ||
        config__rate("RATE_REGISTER_PER_HOUR", 20, &cfg->rate_register_per_hour, errbuf, errlen) !=
            0 ||
        config__rate("RATE_API_PER_SEC", 50, &cfg->rate_api_per_sec, errbuf, errlen) != 0 ||
        config__rate("RATE_MEMBERSHIP_PER_MIN", 30, &cfg->rate_membership_per_min, errbuf,
                     errlen) != 0 ||
        config__rate("RATE_ROOM_CREATE_PER_MIN", 10, &cfg->rate_room_create_per_min, errbuf,
                     errlen) != 0 ||
        config__log(cfg, errbuf, errlen) != 0 || config__gateway_id(cfg, errbuf, errlen) != 0 ||
        config__int("GATEWAY_PORT", 9001, 1, 65535, &cfg->gateway_port, errbuf, errlen) != 0 ||
        config__str("GATEWAY_HOST", "127.0.0.1", &cfg->gateway_host, errbuf, errlen) != 0 ||
        config__int("MAX_SOCKETS_PER_USER", 20, 1, 100000, &cfg->max_sockets_per_user, errbuf,
                    errlen) != 0 ||
        config__int("HISTORY_WINDOW", 500, 10, 1000000, &cfg->history_window, errbuf, errlen) !=
            0 ||
        config__int("HISTORY_SCAN_TIMEOUT_MS", 10000, 1, 600000, &cfg->history_scan_timeout_ms,
                    errbuf, errlen) != 0 ||
        config__int("DB_TRACE", 0, 0, 1, &cfg->db_trace, errbuf, errlen) != 0 ||
        config__int("MONGO_TIMEOUT_MS", 1500, 1, 600000, &cfg->mongo_timeout_ms, errbuf, errlen) !=
            0)
        goto cleanup;

    cfg->bcrypt_allow_weak = allow_weak != 0;
    cfg->redis_cluster = redis_cluster != 0;
    if (cfg->bcrypt_cost < CONFIG__BCRYPT_MIN_SAFE && !cfg->bcrypt_allow_weak) {
        config__fail(errbuf, errlen,
                     "BCRYPT_COST must be at least %d, got %d (a cost below %d is for test "
                     "stacks only: set BCRYPT_ALLOW_WEAK=1 to allow it)",
                     CONFIG__BCRYPT_MIN_SAFE, cfg->bcrypt_cost, CONFIG__BCRYPT_MIN_SAFE);
        goto cleanup;
    }
    if (cfg->rate_msg_per_sec > 0 && cfg->rate_msg_burst < 1) {
        config__fail(errbuf, errlen,
                     "RATE_MSG_BURST must be >= 1 while RATE_MSG_PER_SEC is on, got '%g'",
                     cfg->rate_msg_burst);
        goto cleanup;
    }

    /* The secret is never echoed back, not even in part. */
    secret = config__env("JWT_SECRET");
    if (secret != NULL && strlen(secret) < CONFIG__SECRET_MIN && need_secret) {
        config__fail(errbuf, errlen, "JWT_SECRET must be at least %d bytes, got %zu",
                     CONFIG__SECRET_MIN, strlen(secret));
        goto cleanup;
    }
    if (secret == NULL && need_secret) {
        config__fail(errbuf, errlen,
                     "JWT_SECRET is required (a random string of at least %d bytes)",
                     CONFIG__SECRET_MIN);
        goto cleanup;
    }
    if (secret != NULL && (cfg->jwt_secret = strdup(secret)) == NULL) {
        config__fail(errbuf, errlen, "JWT_SECRET: out of memory");
        goto cleanup;
    }
    return 0;

cleanup:
    chat_config_free(cfg);
    return -1;
}

void chat_config_free(chat_config_t *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->mongo_uri);
    free(cfg->mongo_db);
    free(cfg->redis_url);
    if (cfg->jwt_secret != NULL) {
        explicit_bzero(cfg->jwt_secret, strlen(cfg->jwt_secret));
        free(cfg->jwt_secret);
    }
    free(cfg->jwt_issuer);
    for (size_t i = 0; cfg->cors_origins != NULL && i < cfg->n_cors_origins; i++)
        free(cfg->cors_origins[i]);
    free(cfg->cors_origins);
    free(cfg->gateway_id);
    free(cfg->gateway_host);
    memset(cfg, 0, sizeof(*cfg));
}

/* Scheme and host of an origin are case-insensitive, so the comparison is too. */
bool chat_config_origin_allowed(const chat_config_t *cfg, const char *origin)
{
    if (cfg == NULL || origin == NULL || origin[0] == '\0')
        return false;
    for (size_t i = 0; i < cfg->n_cors_origins; i++) {
        if (strcasecmp(cfg->cors_origins[i], origin) == 0)
            return true;
    }
    return false;
}
