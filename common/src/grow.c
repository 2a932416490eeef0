/*
 * grow.c - room for one more item in a growing array (see grow.h).
 *
 * Threads: any.
 */
#include "chat/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

void *chat_ring_grow(void *items, size_t *head, size_t n, size_t *cap, size_t size, size_t first)
{
    size_t ncap = *cap == 0 ? first : *cap * 2;
    unsigned char *grown = NULL;
    size_t to_end = *cap - *head; /* the items from *head to the end of the array */

    if (n < *cap) {
        return items;
    }
    if (ncap < first || ncap > SIZE_MAX / size || (grown = malloc(ncap * size)) == NULL) {
        return NULL;
    }
    if (n > 0) { /* full: n == *cap, the rest wraps around to index 0 */
        memcpy(grown, (unsigned char *)items + *head * size, to_end * size);
        memcpy(grown + to_end * size, items, (n - to_end) * size);
    }
    free(items);
    *cap = ncap;
    *head = 0;
    return grown;
}
