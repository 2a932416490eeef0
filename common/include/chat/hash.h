/*
 * hash.h - FNV-1a, the one non-cryptographic hash of the project: hash tables, local
 * rate-limit buckets, worker affinity, rate-limit keys, and message _ids hashed from
 * idempotency keys (message_idem.h). Fast and well spread over short strings; no
 * defence against keys chosen to collide. Pure functions; any thread.
 */
#ifndef CHAT_HASH_H
#define CHAT_HASH_H

#include <stddef.h>
#include <stdint.h>

/* The FNV offset bases: where a hash starts. */
#define CHAT_HASH_FNV1A32_BASIS 2166136261u
#define CHAT_HASH_FNV1A64_BASIS 0xcbf29ce484222325ull

/** 32-bit FNV-1a of data[0..len), continued from h (CHAT_HASH_FNV1A32_BASIS to start). */
uint32_t chat_hash_fnv1a32_update(uint32_t h, const void *data, size_t len);
/** 32-bit FNV-1a of a NUL-terminated string. */
uint32_t chat_hash_fnv1a32(const char *s);

/** 64-bit FNV-1a of data[0..len), continued from h (CHAT_HASH_FNV1A64_BASIS to start). */
uint64_t chat_hash_fnv1a64_update(uint64_t h, const void *data, size_t len);
/** 64-bit FNV-1a of a NUL-terminated string. */
uint64_t chat_hash_fnv1a64(const char *s);

#endif
