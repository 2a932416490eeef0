/*
 * hash.c - FNV-1a in 32 and 64 bits (see hash.h): each byte is XORed in, then the
 * state is multiplied by the FNV prime.
 *
 * Threads: any; pure functions. Relies on nothing but the C library.
 */
#include "chat/hash.h"

#include <string.h>

#define HASH__FNV32_PRIME 16777619u
#define HASH__FNV64_PRIME 0x100000001b3ull

uint32_t chat_hash_fnv1a32_update(uint32_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= HASH__FNV32_PRIME;
    }
    return h;
}

uint32_t chat_hash_fnv1a32(const char *s)
{
    return chat_hash_fnv1a32_update(CHAT_HASH_FNV1A32_BASIS, s, strlen(s));
}

uint64_t chat_hash_fnv1a64_update(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= HASH__FNV64_PRIME;
    }
    return h;
}

uint64_t chat_hash_fnv1a64(const char *s)
{
    return chat_hash_fnv1a64_update(CHAT_HASH_FNV1A64_BASIS, s, strlen(s));
}
