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
 * Burns the same time as a real verify, against a fixed dummy hash, so that a login for an
 * unknown account takes as long as one for a known account. The dummy uses the cost that
 * stored hashes use (chat_password_dummy_cost); cost (BCRYPT_COST) only until one has been
 * noted. Returns false.
 */
bool chat_password_verify_dummy(const char *password, int cost);

/** The cost of a bcrypt hash ("$2b$12$..." -> 12), or -1 when hash is not one. */
int chat_password_hash_cost(const char *hash);

/** Notes that a stored hash uses cost (a start-up sample, each real verification). */
void chat_password_note_stored_cost(int cost);

/** The most common noted stored cost, or fallback when none has been noted. */
int chat_password_dummy_cost(int fallback);

#endif
