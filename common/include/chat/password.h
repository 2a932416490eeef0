/*
 * password.h - bcrypt ($2b$) hashing through libxcrypt. Slow by design (~220 ms at
 * cost 12): call from REST worker processes only, never from the gateway's loop.
 * Thread-safe (crypt_r with a per-call buffer).
 */
#ifndef CHAT_PASSWORD_H
#define CHAT_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "chat/error.h"

#define CHAT_PASSWORD_HASH_LEN 128

/** Hashes password with a fresh random salt at cost (4..31) into out (>= CHAT_PASSWORD_HASH_LEN). */
chat_err_t chat_password_hash(const char *password, int cost, char *out, size_t outlen);

/** Constant-time compare of crypt(password, hash) with hash. False on any error. */
bool chat_password_verify(const char *password, const char *hash);

/**
 * Burns the same time as a real verify at cost, against a fixed dummy hash, so that
 * a login for an unknown account takes as long as one for a known account. Returns false.
 */
bool chat_password_verify_dummy(const char *password, int cost);

#endif
