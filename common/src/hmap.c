/*
 * hmap.c - string-keyed chained hash map; grows by doubling at load factor 1.
 * Threads: whichever thread owns the map (see hmap.h).
 */
#include "chat/hmap.h"

#include <stdlib.h>
#include <string.h>

#include "chat/hash.h"

struct chat_hmap_node {
    chat_hmap_node_t *next;
    uint32_t hash;
    void *value;
    char key[];
};

struct chat_hmap {
    chat_hmap_node_t **buckets;
    size_t n_buckets; /* power of two */
    size_t size;
};

chat_hmap_t *chat_hmap_create(size_t initial_buckets)
{
    chat_hmap_t *m = calloc(1, sizeof(*m));
    size_t n = 8;

    if (m == NULL) {
        return NULL;
    }
    while (n < initial_buckets) {
        n <<= 1;
    }
    m->buckets = calloc(n, sizeof(*m->buckets));
    if (m->buckets == NULL) {
        free(m);
        return NULL;
    }
    m->n_buckets = n;
    return m;
}

void chat_hmap_clear(chat_hmap_t *m, void (*free_value)(void *))
{
    if (m == NULL) {
        return;
    }
    for (size_t i = 0; i < m->n_buckets; i++) {
        chat_hmap_node_t *n = m->buckets[i];
        while (n != NULL) {
            chat_hmap_node_t *next = n->next;
            if (free_value != NULL) {
                free_value(n->value);
            }
            free(n);
            n = next;
        }
        m->buckets[i] = NULL;
    }
    m->size = 0;
}

void chat_hmap_destroy(chat_hmap_t *m)
{
    if (m == NULL) {
        return;
    }
    chat_hmap_clear(m, NULL);
    free(m->buckets);
    free(m);
}

static chat_hmap_node_t *hmap__find(const chat_hmap_t *m, const char *key, uint32_t h)
{
    for (chat_hmap_node_t *n = m->buckets[h & (m->n_buckets - 1)]; n != NULL; n = n->next) {
        if (n->hash == h && strcmp(n->key, key) == 0) {
            return n;
        }
    }
    return NULL;
}

void *chat_hmap_get(const chat_hmap_t *m, const char *key)
{
    chat_hmap_node_t *n = hmap__find(m, key, chat_hash_fnv1a32(key));

    return n != NULL ? n->value : NULL;
}

static void hmap__grow(chat_hmap_t *m)
{
    size_t nb = m->n_buckets * 2;
    chat_hmap_node_t **b = calloc(nb, sizeof(*b));

    if (b == NULL) {
        return; /* keep the longer chains; still correct */
    }
    for (size_t i = 0; i < m->n_buckets; i++) {
        chat_hmap_node_t *n = m->buckets[i];
        while (n != NULL) {
            chat_hmap_node_t *next = n->next;
            size_t j = n->hash & (nb - 1);
            n->next = b[j];
            b[j] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->n_buckets = nb;
}

int chat_hmap_put(chat_hmap_t *m, const char *key, void *value)
{
    uint32_t h = chat_hash_fnv1a32(key);
    chat_hmap_node_t *n = hmap__find(m, key, h);
    size_t klen;

    if (n != NULL) {
        n->value = value;
        return 0;
    }
    klen = strlen(key);
    n = malloc(sizeof(*n) + klen + 1);
    if (n == NULL) {
        return -1;
    }
    memcpy(n->key, key, klen + 1);
    n->hash = h;
    n->value = value;
    n->next = m->buckets[h & (m->n_buckets - 1)];
    m->buckets[h & (m->n_buckets - 1)] = n;
    m->size++;
    if (m->size > m->n_buckets) {
        hmap__grow(m);
    }
    return 0;
}

void *chat_hmap_remove(chat_hmap_t *m, const char *key)
{
    uint32_t h = chat_hash_fnv1a32(key);
    chat_hmap_node_t **pp = &m->buckets[h & (m->n_buckets - 1)];

    for (; *pp != NULL; pp = &(*pp)->next) {
        chat_hmap_node_t *n = *pp;
        if (n->hash == h && strcmp(n->key, key) == 0) {
            void *v = n->value;
            *pp = n->next;
            free(n);
            m->size--;
            return v;
        }
    }
    return NULL;
}

size_t chat_hmap_size(const chat_hmap_t *m)
{
    return m != NULL ? m->size : 0;
}

void chat_hmap_iter_init(chat_hmap_iter_t *it, const chat_hmap_t *m)
{
    it->map = m;
    it->bucket = 0;
    it->next = (m != NULL && m->n_buckets > 0) ? m->buckets[0] : NULL;
}

int chat_hmap_next(chat_hmap_iter_t *it, const char **key, void **value)
{
    const chat_hmap_t *m = it->map;
    chat_hmap_node_t *n;

    if (m == NULL) {
        return 0;
    }
    while (it->next == NULL) {
        if (++it->bucket >= m->n_buckets) {
            return 0;
        }
        it->next = m->buckets[it->bucket];
    }
    n = it->next;
    it->next = n->next;
    if (key != NULL) {
        *key = n->key;
    }
    if (value != NULL) {
        *value = n->value;
    }
    return 1;
}
