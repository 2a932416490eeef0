/*
 * grow.c - room for one more item in a growing array (see grow.h).
 *
 * Threads: any.
 */
#include "chat/grow.h"

#include <stdint.h>
#include <stdlib.h>

void *chat_grow(void *items, size_t n, size_t *cap, size_t size, size_t first)
{
    size_t ncap = *cap == 0 ? first : *cap * 2;
    void *grown = NULL;

    if (n < *cap) {
        return items;
    }
    if (ncap < first || ncap > SIZE_MAX / size) {
        return NULL;
    }
    grown = realloc(items, ncap * size);
    if (grown != NULL) {
        *cap = ncap;
    }
    return grown;
}
