/*
 * fuzz_jwt.c - libFuzzer harness of common/src/jwt.c. The first input byte picks:
 *   0: the rest is a token string given to chat_jwt_verify as it is (decoding of
 *      hostile tokens: base64url, header, alg, signature);
 *   1: the rest is "<header JSON>\n<claims JSON>", which the harness encodes and signs
 *      with the secret (OpenSSL HMAC-SHA256), so verification reaches the claim
 *      checks (types, exp/iat/iss/sub, alg pinning) with any JSON;
 *   2: the rest is "<user_id>\n<username>\n<ttl>": chat_jwt_issue, then a verify
 *      that must give the same claims back.
 * Checks, beyond ASan/UBSan: an accepted token's claims obey jwt.h (sub is an id,
 * username 1-32 bytes, exp > now, iat <= now + 60); issue/verify round-trips.
 *
 * Thread: libFuzzer's (single-threaded); no clock (a fixed "now").
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "chat/jwt.h"
#include "chat/validate.h"

#define FUZZ_SECRET "fuzz-secret-0123456789abcdef0123456789abcdef"
#define FUZZ_ISSUER "chat"
#define FUZZ_NOW 1780000000LL
#define FUZZ_MAX 16384

static void fuzz__check_claims(const chat_jwt_claims_t *c)
{
    FUZZ_CHECK(chat_validate_object_id(c->sub));
    FUZZ_CHECK(c->username[0] != '\0' && strlen(c->username) <= CHAT_USERNAME_MAX);
    FUZZ_CHECK(c->exp > FUZZ_NOW && c->iat >= 0 && c->iat <= FUZZ_NOW + 60);
}

static chat_err_t fuzz__verify(const char *token)
{
    chat_jwt_claims_t c;
    chat_err_t rc = chat_jwt_verify(FUZZ_SECRET, FUZZ_ISSUER, token, FUZZ_NOW, &c);

    FUZZ_CHECK(rc == CHAT_OK || rc == CHAT_ERR_TOKEN_INVALID || rc == CHAT_ERR_TOKEN_EXPIRED);
    if (rc == CHAT_OK) {
        fuzz__check_claims(&c);
    }
    return rc;
}

/* base64url without padding of in[0..n) appended at out (room for 4n/3 + 4 bytes). */
static size_t fuzz__b64url(const unsigned char *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

    while (len > 0 && out[len - 1] == '=') {
        len--;
    }
    for (int i = 0; i < len; i++) {
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    out[len] = '\0';
    return (size_t)len;
}

static void fuzz__signed(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl != NULL ? (size_t)(nl - data) : size;
    size_t plen = nl != NULL ? size - hlen - 1 : 0;
    char *token = malloc(2 * size + 128);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t n = 0;

    FUZZ_CHECK(token != NULL);
    n = fuzz__b64url(data, hlen, token);
    token[n++] = '.';
    n += fuzz__b64url(nl != NULL ? nl + 1 : data, plen, token + n);
    FUZZ_CHECK(HMAC(EVP_sha256(), FUZZ_SECRET, (int)strlen(FUZZ_SECRET),
                    (const unsigned char *)token, n, mac, &mac_len) != NULL);
    token[n++] = '.';
    n += fuzz__b64url(mac, mac_len, token + n);
    (void)fuzz__verify(token);
    free(token);
}

static void fuzz__round_trip(const uint8_t *data, size_t size)
{
    char *text = strndup((const char *)data, size);
    char *user_id = text;
    char *username = NULL;
    char *ttl_text = NULL;
    char *token = NULL;
    long long ttl = 0;
    chat_jwt_claims_t c;

    FUZZ_CHECK(text != NULL);
    username = strchr(user_id, '\n');
    if (username != NULL) {
        *username++ = '\0';
        ttl_text = strchr(username, '\n');
        if (ttl_text != NULL) {
            *ttl_text++ = '\0';
            ttl = strtoll(ttl_text, NULL, 10);
        }
    }
    if (username != NULL &&
        chat_jwt_issue(FUZZ_SECRET, FUZZ_ISSUER, ttl, user_id, username, FUZZ_NOW, &token) ==
            CHAT_OK) {
        FUZZ_CHECK(token != NULL);
        if (ttl <= INT32_MAX) { /* beyond, now + ttl is past what a long claim says */
            FUZZ_CHECK(chat_jwt_verify(FUZZ_SECRET, FUZZ_ISSUER, token, FUZZ_NOW, &c) == CHAT_OK);
            fuzz__check_claims(&c);
            FUZZ_CHECK(strcmp(c.sub, user_id) == 0 && strcmp(c.username, username) == 0);
            FUZZ_CHECK(c.iat == FUZZ_NOW && c.exp == FUZZ_NOW + ttl);
        }
        free(token);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *token = NULL;

    if (size < 1 || size > FUZZ_MAX) {
        return 0;
    }
    switch (data[0] % 3) {
    case 0:
        token = strndup((const char *)data + 1, size - 1);
        FUZZ_CHECK(token != NULL);
        (void)fuzz__verify(token);
        free(token);
        break;
    case 1:
        fuzz__signed(data + 1, size - 1);
        break;
    default:
        fuzz__round_trip(data + 1, size - 1);
        break;
    }
    return 0;
}
