/*
 * history_warm.c - every room's window from one read of `messages` (see header): the
 * collection read once (chat_messages_each), sorted by room and seq, and each room's
 * newest HISTORY_WINDOW handed to chat_history_build_from, which takes the room's fill
 * lock and merges what writers appended meanwhile as any rebuild does.
 *
 * Threads: the thread that owns h->redis.
 */
#include "chat/history_warm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/grow.h"
#include "chat/history.h"
#include "chat/keys.h"
#include "chat/messages_repo.h"
#include "chat/redis_lock.h"
#include "chat/redis_sync.h"
#include "chat/window_gather.h"

/* The warm-up's lock is extended as it goes (every HISTORY_WARM__EXTEND_EVERY messages
 * read, every 200 rooms built, and before each pass), so a gateway that dies mid-way
 * holds back the others' warm-ups for at most HISTORY_WARM__LOCK_MS, however long the
 * reads take. Not shorter: a pass of a few rooms' messages may wait that long for its
 * first batch while FerretDB decodes the collection (~80 s a million messages here). */
#define HISTORY_WARM__LOCK_MS 180000
#define HISTORY_WARM__EXTEND_EVERY 20000
#define HISTORY_WARM__EXTEND_ROOMS 200
#define HISTORY_WARM__PROBE_ROUND 1024 /* windows' marks asked per pipelined round */
#define HISTORY_WARM__HEADS_MAX 200000 /* rooms' heads read when max_rooms is 0 */

/* One warm-up under its lock. */
typedef struct history_warm__run {
    const chat_store_t *h;
    chat_db_t *db;
    chat_history_warm_t *w;
    chat_redis_lock_t *lock;
    chat_window_gather_t *g; /* the pass being read */
    size_t since_extend;     /* steps since the lock was extended */
    bool lost;               /* the lock expired and another process may warm */
} history_warm__run_t;

/* Extends the lock once every steps (at once with 0); false once it is lost. A Redis
 * that does not answer leaves it as it is: the next step fails on its own. */
static bool history_warm__keep_lock(history_warm__run_t *run, size_t every)
{
    if (++run->since_extend < every) {
        return !run->lost;
    }
    run->since_extend = 0;
    if (chat_redis_lock_extend(run->h->redis, run->lock, HISTORY_WARM__LOCK_MS) ==
        CHAT_ERR_CONFLICT) {
        run->lost = true;
    }
    return !run->lost;
}

/* One pass's room building: each gathered room's newest messages to its window. */
static chat_err_t history_warm__build_one(const char *room_id, chat_message_list_t *newest,
                                          void *arg)
{
    history_warm__run_t *run = arg;
    bool built = false;
    chat_err_t rc;

    if (!history_warm__keep_lock(run, HISTORY_WARM__EXTEND_ROOMS)) {
        return CHAT_ERR_CONFLICT;
    }
    rc = chat_history_build_from(run->h, room_id, newest, &built);
    if (rc == CHAT_ERR_UNAVAILABLE) {
        return rc; /* Redis went: the rooms' first looks build theirs */
    }
    if (built) {
        run->w->rooms_built++;
    } else {
        run->w->rooms_left++;
    }
    return CHAT_OK;
}

static chat_err_t history_warm__take(chat_message_t *msg, void *arg)
{
    history_warm__run_t *run = arg;

    if (!history_warm__keep_lock(run, HISTORY_WARM__EXTEND_EVERY)) {
        chat_message_clear(msg);
        return CHAT_ERR_CONFLICT;
    }
    return chat_window_gather_take(run->g, msg);
}

/* One read of `messages` (of the n rooms, or every message when rooms is NULL) gathered
 * into each room's newest window and built. A pass that would hold more than max_held
 * builds nothing (a room's newest may be incomplete): its rooms are left to their first
 * looks; so are they when the lock was lost (another process may be warming them). */
static chat_err_t history_warm__pass(history_warm__run_t *run, const bson_oid_t *rooms, size_t n,
                                     size_t max_held)
{
    chat_history_warm_t *w = run->w;
    size_t keep = run->h->window > 0 ? (size_t)run->h->window : 1;
    char(*ids)[CHAT_ID_LEN] = n > 0 ? calloc(n, sizeof(*ids)) : NULL;
    const char **only = n > 0 ? calloc(n, sizeof(*only)) : NULL;
    chat_err_t rc = CHAT_ERR_NOMEM;

    run->g = NULL;
    if (n == 0 || (ids != NULL && only != NULL)) {
        for (size_t i = 0; i < n; i++) {
            bson_oid_to_string(&rooms[i], ids[i]);
            only[i] = ids[i];
        }
        run->g = chat_window_gather_new(rooms != NULL ? only : NULL, n, keep, max_held);
    }
    if (run->g != NULL && history_warm__keep_lock(run, 0)) {
        rc = chat_messages_each(run->db, rooms, n, history_warm__take, run);
        w->read += chat_window_gather_taken(run->g);
        if (chat_window_gather_held(run->g) > w->held_max) {
            w->held_max = chat_window_gather_held(run->g);
        }
        w->passes++;
        if (rc == CHAT_ERR_CONFLICT) { /* too many held, or the lock lost */
            w->too_many = w->too_many || !run->lost;
            w->rooms_left += n;
            rc = CHAT_OK;
        } else if (rc == CHAT_OK) {
            rc = chat_window_gather_each(run->g, history_warm__build_one, run);
            rc = rc == CHAT_ERR_CONFLICT && run->lost ? CHAT_OK : rc;
        }
    } else if (run->g != NULL) {
        rc = CHAT_OK; /* the lock was lost before the pass */
    }
    chat_window_gather_free(run->g);
    run->g = NULL;
    free(only);
    free(ids);
    return rc;
}

/* What a room's window will hold: its head (a lower bound of its messages) up to the
 * window. */
static size_t history_warm__keep(const chat_store_t *h, int64_t head)
{
    size_t keep = h->window > 0 ? (size_t)h->window : 1;

    return head > 0 && (uint64_t)head < keep ? (size_t)head : keep;
}

/* The rooms without a ready window in passes of at most max_messages held each (a
 * room whose window alone is more, and the rooms beyond max_passes, are left to their
 * first looks); one pass over every message when every room needs one, the heads are
 * complete and they fit (it also finds rooms whose head is not written yet). Stops
 * when the lock is lost. */
static chat_err_t history_warm__passes(history_warm__run_t *run, const chat_room_heads_t *heads,
                                       const bool *missing, bool heads_complete)
{
    chat_history_warm_t *w = run->w;
    size_t need = 0;
    size_t n_missing = 0;
    bson_oid_t *pass = calloc(heads->n > 0 ? heads->n : 1, sizeof(*pass));
    size_t in_pass = 0;
    size_t held = 0;
    chat_err_t rc = CHAT_OK;

    if (pass == NULL) {
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < heads->n; i++) {
        if (missing[i]) {
            n_missing++;
            need += history_warm__keep(run->h, heads->seqs[i]);
        }
    }
    /* heads lag by up to a second: a read may hold somewhat more than planned, up to
     * twice (a room whose head is not written yet is met by the read of every message) */
    if (heads_complete && n_missing == heads->n && need <= w->max_messages) {
        free(pass);
        return history_warm__pass(run, NULL, 0, w->max_messages * 2);
    }
    for (size_t i = 0; rc == CHAT_OK && !run->lost && i <= heads->n; i++) {
        size_t keep = i < heads->n ? history_warm__keep(run->h, heads->seqs[i]) : 0;
        bool last = i == heads->n;

        if (!last && !missing[i]) {
            continue;
        }
        if (!last && keep > w->max_messages) {
            w->too_many = true; /* its window alone is more than a pass holds */
            w->rooms_left++;
            continue;
        }
        if (in_pass > 0 && (last || held + keep > w->max_messages)) {
            if (w->max_passes > 0 && w->passes >= w->max_passes) {
                w->too_many = true;
                w->rooms_left += in_pass;
            } else {
                rc = history_warm__pass(run, pass, in_pass, w->max_messages * 2);
            }
            in_pass = held = 0;
        }
        if (!last) {
            bson_oid_copy(&heads->rooms[i], &pass[in_pass++]);
            held += keep;
        }
    }
    free(pass);
    return rc;
}

/* How many of the rooms with messages (heads, from room_heads) have no window ready for
 * this Redis run (run): their windows' marks in pipelined rounds. A window a reader
 * rebuilt on its own since the loss (a gateway's resubscribe backfills every room it
 * holds) counts as ready; a room without messages has no window and is not asked about.
 * More rooms than max_rooms: as if none were ready. */
static chat_err_t history_warm__count_missing(const chat_store_t *h, const char *run,
                                              const chat_room_heads_t *heads, bool *missing,
                                              chat_history_warm_t *w)
{
    chat_err_t rc = CHAT_OK;

    w->rooms = heads->n;
    w->rooms_missing = 0;
    if (heads->read > w->max_rooms) {
        w->rooms_missing = heads->n;
        return CHAT_OK;
    }
    for (size_t first = 0; rc == CHAT_OK && first < heads->n; first += HISTORY_WARM__PROBE_ROUND) {
        size_t end = first + HISTORY_WARM__PROBE_ROUND < heads->n
            ? first + HISTORY_WARM__PROBE_ROUND
            : heads->n;
        size_t queued = first;

        for (; queued < end; queued++) {
            char id[CHAT_ID_LEN];
            char meta[CHAT_KEY_LEN];
            const char *argv[3] = {"HGET", meta, "run"};
            bson_oid_to_string(&heads->rooms[queued], id);
            if (chat_key_tagged(id, "meta", meta, sizeof(meta)) == NULL ||
                chat_redis_append_argv(h->redis, 3, argv, NULL) != CHAT_OK) {
                rc = CHAT_ERR_UNAVAILABLE;
                break;
            }
        }
        for (size_t i = first; i < queued; i++) {
            redisReply *reply = chat_redis_next_reply(h->redis);
            if (reply == NULL) {
                rc = CHAT_ERR_UNAVAILABLE;
                chat_redis_discard_replies(h->redis);
                break;
            }
            missing[i] = !(reply->type == REDIS_REPLY_STRING && strcmp(reply->str, run) == 0);
            w->rooms_missing += missing[i];
            freeReplyObject(reply);
        }
    }
    return rc;
}

/* *done when a warm-up finished for this Redis run. */
static chat_err_t history_warm__done_for(const chat_store_t *h, const char *run, bool *done)
{
    redisReply *reply = chat_redis_command(h->redis, "GET %s", CHAT_KEY_WINDOWS_WARMED);

    if (reply == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    *done = reply->type == REDIS_REPLY_STRING && strcmp(reply->str, run) == 0;
    freeReplyObject(reply);
    return CHAT_OK;
}

/* Marks the run the windows were built for: a Redis that restarted meanwhile has another
 * run id, so the mark does not vouch for it and the next caller warms again. */
static void history_warm__mark(const chat_store_t *h, const char *run)
{
    redisReply *reply = chat_redis_command(h->redis, "SET %s %s", CHAT_KEY_WINDOWS_WARMED, run);

    if (reply != NULL) {
        freeReplyObject(reply); /* best effort: without the mark the next one reads again */
    }
}

/* Whether to read `messages` at all: not when, w->max_rooms asking, fewer than two
 * rooms with messages lack a ready window (readers rebuilt the others on their own since
 * Redis lost them — in the long chaos runs every room's, before the look came — and the
 * last one's first reader reads as much as this would), nor when the rooms' heads say
 * more than w->max_read are stored (their sum: a lower bound, heads being written behind;
 * not the collection's estimated count, which on FerretDB/SQLite decoded every message,
 * 600 ms at 11,494, and lagged: it said 0 for 75). Either way the run is marked: looked
 * at. *go_on with heads (every room with messages, from room_heads) and missing[] (which
 * of them need a window) for the passes, both the caller's to free. */
static chat_err_t history_warm__worth_it(const chat_store_t *h, chat_db_t *db, const char *run,
                                         chat_history_warm_t *w, chat_room_heads_t *heads,
                                         bool **missing, bool *go_on)
{
    size_t max_rooms = w->max_rooms > 0 ? w->max_rooms : HISTORY_WARM__HEADS_MAX;
    chat_err_t rc = chat_messages_heads_all(db, max_rooms, heads);

    *go_on = false;
    *missing = NULL;
    if (rc != CHAT_OK) {
        return rc;
    }
    w->stored = heads->total;
    *missing = calloc(heads->n > 0 ? heads->n : 1, sizeof(**missing));
    if (*missing == NULL) {
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < heads->n; i++) {
        (*missing)[i] = true;
    }
    if (w->max_rooms > 0) {
        rc = history_warm__count_missing(h, run, heads, *missing, w);
        w->few_missing = rc == CHAT_OK && w->rooms_missing < 2;
    }
    if (rc == CHAT_OK && !w->few_missing) {
        w->too_many =
            w->max_read > 0 && w->stored > 0 && (uint64_t)w->stored > (uint64_t)w->max_read;
    }
    if (rc == CHAT_OK && (w->few_missing || w->too_many)) {
        history_warm__mark(h, run); /* the next caller does not look again */
    }
    *go_on = rc == CHAT_OK && !w->few_missing && !w->too_many;
    return rc;
}

chat_err_t chat_history_warm_done(const chat_store_t *h, bool *done)
{
    const char *current = h->redis != NULL ? chat_redis_run_id(h->redis) : NULL;
    char run[64];

    *done = false;
    if (current == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(run, sizeof(run), "%s", current);
    return history_warm__done_for(h, run, done);
}

chat_err_t chat_history_warm_busy(const chat_store_t *h, bool *busy)
{
    redisReply *reply = h->redis != NULL
        ? chat_redis_command(h->redis, "EXISTS %s", CHAT_KEY_WINDOWS_WARMING)
        : NULL;

    *busy = false;
    if (reply == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    *busy = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
    freeReplyObject(reply);
    return CHAT_OK;
}

chat_err_t chat_history_warm_all(const chat_store_t *h, chat_history_warm_t *w)
{
    chat_db_t *db = h->db_scan != NULL ? h->db_scan : h->db;
    chat_room_heads_t heads = {0};
    bool *missing = NULL;
    chat_redis_lock_t lock;
    const char *current = h->redis != NULL ? chat_redis_run_id(h->redis) : NULL;
    char run[64]; /* a copy: the client's own changes if Redis restarts meanwhile */
    bool go_on = false;
    chat_err_t rc;

    w->stored = 0;
    w->read = w->rooms_built = w->rooms_left = w->passes = w->held_max = 0;
    w->rooms = w->rooms_missing = 0;
    w->too_many = w->another_warms = w->already = w->few_missing = w->lock_lost = false;
    if (current == NULL) {
        return CHAT_ERR_UNAVAILABLE;
    }
    snprintf(run, sizeof(run), "%s", current);
    rc = history_warm__done_for(h, run, &w->already);
    if (rc != CHAT_OK || w->already) {
        return rc;
    }
    rc = history_warm__worth_it(h, db, run, w, &heads, &missing, &go_on);
    if (rc == CHAT_OK && go_on) {
        rc = chat_redis_lock_take(h->redis, &lock, CHAT_KEY_WINDOWS_WARMING, HISTORY_WARM__LOCK_MS);
        w->another_warms = rc == CHAT_OK && !lock.held;
        if (rc == CHAT_OK && lock.held) {
            history_warm__run_t warm = {.h = h, .db = db, .w = w, .lock = &lock};
            size_t max_rooms = w->max_rooms > 0 ? w->max_rooms : HISTORY_WARM__HEADS_MAX;
            rc = history_warm__passes(&warm, &heads, missing, heads.read <= max_rooms);
            w->lock_lost = warm.lost;
            if (rc == CHAT_OK && !warm.lost) {
                history_warm__mark(h, run); /* built, or left to the per-room builds */
            }
            chat_redis_lock_release(h->redis, &lock);
        }
    }
    free(missing);
    chat_room_heads_clear(&heads);
    return rc;
}
