/*
 * password.c - bcrypt ($2b$) through libxcrypt (password.h). Each call uses its own
 * heap struct crypt_data (~32 KB, too big for small thread stacks), wiped before it
 * is freed. Salts come from crypt_gensalt_rn with no caller bytes, so libxcrypt reads
 * the OS random source itself.
 *
 * The dummy verification for unknown accounts runs at the cost the stored hashes use
 * (the most common cost among those noted with chat_password_note_stored_cost: a sample
 * read at start-up and every real verification since), not at BCRYPT_COST: after a cost
 * change most stored hashes keep their old cost, and a dummy at the new one would tell
 * unknown emails apart by their timing.
 *
 * Threads: any thread (REST workers). The only shared state is the per-cost dummy
 * hash cache and the cost histogram below, guarded by their mutex.
 */
#include "chat/password.h"

#include <crypt.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PASSWORD__MIN_COST 4
#define PASSWORD__MAX_COST 31
#define PASSWORD__BCRYPT_LEN 60

/* Owner: this file; one lazily computed hash per cost, written once under the lock, and
 * how many stored hashes of each cost were seen. */
static struct {
    pthread_mutex_t lock;
    char hash[PASSWORD__MAX_COST + 1][CHAT_PASSWORD_HASH_LEN];
    uint64_t seen[PASSWORD__MAX_COST + 1];
} password__dummy = {PTHREAD_MUTEX_INITIALIZER, {{0}}, {0}};

/* Runs crypt_rn(password, setting) and copies the result into out. */
static chat_err_t password__crypt(const char *password, const char *setting, char *out,
                                  size_t outlen)
{
    chat_err_t rc = CHAT_ERR_INTERNAL;
    struct crypt_data *data = NULL;
    const char *res = NULL;
    size_t n = 0;

    data = calloc(1, sizeof(*data));
    if (data == NULL)
        return CHAT_ERR_NOMEM;
    res = crypt_rn(password, setting, data, (int)sizeof(*data));
    if (res == NULL || res[0] == '*')
        goto cleanup;
    n = strlen(res);
    if (n + 1 > outlen)
        goto cleanup;
    memcpy(out, res, n + 1);
    rc = CHAT_OK;

cleanup:
    explicit_bzero(data, sizeof(*data));
    free(data);
    return rc;
}

chat_err_t chat_password_hash(const char *password, int cost, char *out, size_t outlen)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    chat_err_t rc = CHAT_ERR_INTERNAL;

    if (out == NULL || outlen == 0)
        return CHAT_ERR_INVALID;
    out[0] = '\0';
    if (password == NULL || cost < PASSWORD__MIN_COST || cost > PASSWORD__MAX_COST ||
        outlen < PASSWORD__BCRYPT_LEN + 1)
        return CHAT_ERR_INVALID;
    if (crypt_gensalt_rn("$2b$", (unsigned long)cost, NULL, 0, salt, sizeof(salt)) == NULL)
        return CHAT_ERR_INTERNAL;
    rc = password__crypt(password, salt, out, outlen);
    if (rc != CHAT_OK)
        out[0] = '\0';
    explicit_bzero(salt, sizeof(salt));
    return rc;
}

/* Compares a and b (both n bytes) in time independent of where they differ. */
static bool password__equal(const char *a, const char *b, size_t n)
{
    unsigned char diff = 0;

    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

bool chat_password_verify(const char *password, const char *hash)
{
    char computed[CHAT_PASSWORD_HASH_LEN];
    size_t n = 0;
    bool ok = false;

    if (password == NULL || hash == NULL)
        return false;
    n = strlen(hash);
    /* Only bcrypt hashes: anything else (DES, "", "*") must never verify. */
    if (n != PASSWORD__BCRYPT_LEN || hash[0] != '$' || hash[1] != '2')
        return false;
    if (password__crypt(password, hash, computed, sizeof(computed)) != CHAT_OK)
        return false;
    ok = strlen(computed) == n && password__equal(computed, hash, n);
    explicit_bzero(computed, sizeof(computed));
    return ok;
}

/* The cached dummy hash for cost, computed on first use; NULL on failure. The slow
 * hashing runs outside the lock so concurrent callers of other costs don't queue. */
static const char *password__dummy_hash(int cost)
{
    char fresh[CHAT_PASSWORD_HASH_LEN];
    const char *res = NULL;

    pthread_mutex_lock(&password__dummy.lock);
    if (password__dummy.hash[cost][0] != '\0')
        res = password__dummy.hash[cost];
    pthread_mutex_unlock(&password__dummy.lock);
    if (res != NULL)
        return res;

    if (chat_password_hash("dummy password for unknown accounts", cost, fresh, sizeof(fresh)) !=
        CHAT_OK)
        return NULL;
    pthread_mutex_lock(&password__dummy.lock);
    if (password__dummy.hash[cost][0] == '\0')
        memcpy(password__dummy.hash[cost], fresh, sizeof(fresh));
    res = password__dummy.hash[cost];
    pthread_mutex_unlock(&password__dummy.lock);
    return res;
}

int chat_password_hash_cost(const char *hash)
{
    int cost = 0;

    /* $2a$ / $2b$ / $2y$ then two digits and '$' */
    if (hash == NULL || strlen(hash) != PASSWORD__BCRYPT_LEN || hash[0] != '$' || hash[1] != '2' ||
        hash[3] != '$' || hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9' ||
        hash[6] != '$')
        return -1;
    cost = (hash[4] - '0') * 10 + (hash[5] - '0');
    return cost >= PASSWORD__MIN_COST && cost <= PASSWORD__MAX_COST ? cost : -1;
}

void chat_password_note_stored_cost(int cost)
{
    if (cost < PASSWORD__MIN_COST || cost > PASSWORD__MAX_COST)
        return;
    pthread_mutex_lock(&password__dummy.lock);
    password__dummy.seen[cost]++;
    pthread_mutex_unlock(&password__dummy.lock);
}

int chat_password_dummy_cost(int fallback)
{
    int best = -1;

    pthread_mutex_lock(&password__dummy.lock);
    for (int c = PASSWORD__MIN_COST; c <= PASSWORD__MAX_COST; c++) {
        if (password__dummy.seen[c] > 0 &&
            (best < 0 || password__dummy.seen[c] > password__dummy.seen[best]))
            best = c;
    }
    pthread_mutex_unlock(&password__dummy.lock);
    return best >= 0 ? best : fallback;
}

bool chat_password_verify_dummy(const char *password, int cost)
{
    const char *hash = NULL;

    cost = chat_password_dummy_cost(cost);
    if (cost < PASSWORD__MIN_COST || cost > PASSWORD__MAX_COST)
        return false;
    hash = password__dummy_hash(cost);
    if (hash != NULL)
        (void)chat_password_verify(password != NULL ? password : "", hash);
    return false;
}
