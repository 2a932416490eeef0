/*
 * heads_flusher.c - room_heads raised behind the gateway's writers (see heads_flusher.h):
 * the noted (room, highest seq) pairs in a map under a mutex, taken away whole once a
 * round is due and written without it, GW_HEADS_PER_COMMAND rooms per bulk write.
 *
 * Threads: notes from the writer threads (and any other); rounds on the flusher's own
 * thread; the last round at stop on the caller's, after the thread is joined.
 */
#include "heads_flusher.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "chat/clock.h"
#include "chat/hmap.h"
#include "chat/log.h"
#include "chat/messages_repo.h"

#define HEADS__SLOW_ROUND_MS 1000 /* a round this long is logged */

struct gw_heads_flusher {
    chat_db_t *db;
    int every_ms;
    size_t max_rooms;
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;          /* guarded by mu */
    chat_hmap_t *noted; /* room id -> int64_t*, guarded by mu */
    size_t writing;     /* rooms taken by the round being written, guarded by mu */
};

/* Waits on f->cv (mu held) for at most ms, or until stop. */
static void heads__wait(gw_heads_flusher_t *f, int ms)
{
    struct timespec until = chat_clock_deadline(ms);

    while (!f->stop && pthread_cond_timedwait(&f->cv, &f->mu, &until) == 0) {
    }
}

/* Writes the pairs of taken, GW_HEADS_PER_COMMAND rooms per command, and frees it. */
static void heads__write(chat_db_t *db, chat_hmap_t *taken)
{
    size_t n = chat_hmap_size(taken);
    bson_oid_t *rooms = calloc(n + 1, sizeof(*rooms));
    int64_t *seqs = calloc(n + 1, sizeof(*seqs));
    int64_t t0 = chat_clock_monotonic_ms();
    chat_hmap_iter_t it;
    const char *key;
    void *v;
    size_t k = 0;

    chat_hmap_iter_init(&it, taken);
    while (rooms != NULL && seqs != NULL && chat_hmap_next(&it, &key, &v)) {
        if (chat_db_oid_from_hex(key, &rooms[k])) {
            seqs[k++] = *(int64_t *)v;
        }
    }
    /* out of memory: these heads stay behind; the next message of each room notes it */
    for (size_t at = 0; at < k; at += GW_HEADS_PER_COMMAND) {
        size_t m = k - at < GW_HEADS_PER_COMMAND ? k - at : GW_HEADS_PER_COMMAND;
        chat_messages_heads_advance(db, rooms + at, seqs + at, m);
    }
    if (chat_clock_monotonic_ms() - t0 >= HEADS__SLOW_ROUND_MS) {
        char count[24];
        char took[24];
        snprintf(count, sizeof(count), "%zu", k);
        snprintf(took, sizeof(took), "%lld", (long long)(chat_clock_monotonic_ms() - t0));
        chat_log_warn("slow room_heads round", "rooms", count, "duration_ms", took);
    }
    free(rooms);
    free(seqs);
    chat_hmap_clear(taken, free);
    chat_hmap_destroy(taken);
}

/* Takes what is noted (mu held) and writes it without the lock. */
static void heads__round(gw_heads_flusher_t *f)
{
    chat_hmap_t *fresh;
    chat_hmap_t *taken;
    size_t n = chat_hmap_size(f->noted);

    if (n == 0) {
        return;
    }
    pthread_mutex_unlock(&f->mu);
    fresh = chat_hmap_create(64);
    pthread_mutex_lock(&f->mu);
    if (fresh == NULL) {
        return; /* out of memory: the next round tries again */
    }
    taken = f->noted;
    f->noted = fresh;
    n = chat_hmap_size(taken);
    f->writing += n;
    pthread_mutex_unlock(&f->mu);
    heads__write(f->db, taken);
    pthread_mutex_lock(&f->mu);
    f->writing -= n;
}

static void *heads__main(void *arg)
{
    gw_heads_flusher_t *f = arg;

    int64_t started = chat_clock_monotonic_ms();

    pthread_mutex_lock(&f->mu);
    for (;;) { /* a round every every_ms, the first every_ms after the start */
        int64_t left = f->every_ms - (chat_clock_monotonic_ms() - started);
        heads__wait(f, left > 10 ? (int)left : 10);
        if (f->stop) {
            break;
        }
        started = chat_clock_monotonic_ms();
        heads__round(f);
    }
    pthread_mutex_unlock(&f->mu);
    return NULL;
}

gw_heads_flusher_t *gw_heads_flusher_start(chat_db_t *db, int every_ms, size_t max_rooms)
{
    gw_heads_flusher_t *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        return NULL;
    }
    f->db = db;
    f->every_ms = every_ms > 0 ? every_ms : GW_HEADS_FLUSH_MS;
    f->max_rooms = max_rooms > 0 ? max_rooms : GW_HEADS_MAX;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->noted = chat_hmap_create(64);
    if (f->noted == NULL || pthread_create(&f->thread, NULL, heads__main, f) != 0) {
        chat_log_error("cannot start the room_heads flusher");
        gw_heads_flusher_stop(f);
        return NULL;
    }
    f->started = true;
    return f;
}

bool gw_heads_flusher_note(gw_heads_flusher_t *f, const char *room_id, int64_t seq)
{
    bson_oid_t oid;
    int64_t *v;
    bool ok = true;

    if (f == NULL || room_id == NULL || !chat_db_oid_from_hex(room_id, &oid)) {
        return false;
    }
    pthread_mutex_lock(&f->mu);
    v = chat_hmap_get(f->noted, room_id);
    if (v == NULL) {
        ok = chat_hmap_size(f->noted) < f->max_rooms && (v = malloc(sizeof(*v))) != NULL;
        if (ok && chat_hmap_put(f->noted, room_id, v) != 0) {
            free(v);
            ok = false;
        } else if (ok) {
            *v = seq;
        }
    } else if (seq > *v) {
        *v = seq;
    }
    pthread_mutex_unlock(&f->mu);
    return ok;
}

size_t gw_heads_flusher_pending(gw_heads_flusher_t *f)
{
    size_t n;

    pthread_mutex_lock(&f->mu);
    n = chat_hmap_size(f->noted) + f->writing;
    pthread_mutex_unlock(&f->mu);
    return n;
}

void gw_heads_flusher_stop(gw_heads_flusher_t *f)
{
    if (f == NULL) {
        return;
    }
    pthread_mutex_lock(&f->mu);
    f->stop = true;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->started) {
        pthread_join(f->thread, NULL);
    }
    if (f->noted != NULL) {
        pthread_mutex_lock(&f->mu);
        heads__round(f); /* what was noted since the last round */
        pthread_mutex_unlock(&f->mu);
        chat_hmap_clear(f->noted, free);
        chat_hmap_destroy(f->noted);
    }
    pthread_cond_destroy(&f->cv);
    pthread_mutex_destroy(&f->mu);
    free(f);
}
