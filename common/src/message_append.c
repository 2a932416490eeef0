/*
 * message_append.c - storing messages with gap-free seqs, idempotent resends and group
 * commit (see message_append.h).
 *
 * The path reads and writes only by _id while nothing goes wrong, the one lookup
 * FerretDB v1.24 does not answer by decoding every document in Go: the next seq comes
 * from the caller's hint or room_heads ({_id: room}); a resend collides on its hashed
 * _id. The scans (max seq of the room, lookup by idem_key) run only when those cannot
 * explain a refusal.
 *
 * Threads: any thread that may block; any number of threads and processes may append
 * to one room at once. Relies on messages_repo.h (documents, room_heads), message_idem.h
 * (a message's _id and idem_key, its earlier copy) and db.h.
 */
#include "chat/message_append.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chat/append_turns.h"
#include "chat/clock.h"
#include "chat/message_idem.h"
#include "chat/messages_repo.h"

#define APPEND__COLL "messages"
#define APPEND__MAX_STALLS 64 /* rounds in a row that store nothing before giving up */
/* How long the cheap hint may take to show a winner. Generous: waiting costs the database
 * nothing, while the questions after it are scans on FerretDB. */
#define APPEND__HINT_WAIT_MS 300
#define APPEND__HINT_QUICK_MS 50     /* then a message with a client_msg_id asks its _id */
#define APPEND__DB_HEAD_EVERY_MS 100 /* room_heads is asked this often meanwhile */
#define APPEND__HINT_POLL_MS 3
/* Documents per insert command. FerretDB v1.24 runs a larger insert in chunks of 100 and,
 * even when ordered, goes on with the next chunk after a refusal: the documents after
 * the refused one would be stored with seqs above a hole. Never more than one chunk. */
#define APPEND__CHUNK 100

typedef struct append__room {
    bson_oid_t oid;
    int64_t next;       /* the next seq to try */
    int64_t stored_max; /* highest seq this call stored (0: none) */
    bool known;
    chat_err_t err;         /* the room's head could not be learned */
    chat_redis_lock_t turn; /* held after a refusal, until our next insert (append_turns.h) */
} append__room_t;

typedef struct append__slot {
    chat_append_t *item;
    chat_message_idem_t idem; /* its _id and idem_key */
    bson_oid_t room;
    bson_oid_t user;
    size_t room_index;
    int64_t seq;
    bool done;
} append__slot_t;

static void append__build(bson_t *doc, const append__slot_t *s, int64_t now_ms)
{
    const chat_message_t *in = s->item->in;

    bson_init(doc);
    BSON_APPEND_OID(doc, "_id", &s->idem.id);
    BSON_APPEND_OID(doc, "room_id", &s->room);
    BSON_APPEND_INT64(doc, "seq", s->seq);
    BSON_APPEND_OID(doc, "user_id", &s->user);
    BSON_APPEND_UTF8(doc, "username", in->username);
    BSON_APPEND_UTF8(doc, "content", in->content);
    BSON_APPEND_UTF8(doc, "type", in->type == CHAT_MSG_SYSTEM ? "system" : "text");
    BSON_APPEND_DATE_TIME(doc, "created_at", now_ms);
    if (in->client_msg_id != NULL) {
        BSON_APPEND_UTF8(doc, "client_msg_id", in->client_msg_id);
    }
    BSON_APPEND_UTF8(doc, "idem_key", s->idem.key);
}

/* The room's highest stored seq as cheaply as is safe: room_heads when it has the room
 * (it may be stale; that only costs a refusal), else the scan, which then records it. */
static chat_err_t append__start_seq(chat_db_t *db, const bson_oid_t *room, int64_t *out)
{
    bool found = false;
    chat_err_t rc = chat_messages_head(db, room, out, &found);

    if (rc != CHAT_OK || found) {
        return rc;
    }
    rc = chat_messages_last_seq_oid(db, room, out);
    if (rc == CHAT_OK && *out > 0) {
        chat_messages_heads_advance(db, room, out, 1);
    }
    return rc;
}

/* Prepares slot i from items[i]; false with item->err set when it cannot be stored. */
static bool append__prepare(append__slot_t *s, chat_append_t *item)
{
    const chat_message_t *in = item->in;

    s->item = item;
    item->err = CHAT_OK;
    item->duplicate = false;
    if (in == NULL || !chat_db_oid_from_hex(in->room_id, &s->room) ||
        !chat_db_oid_from_hex(in->user_id, &s->user) || in->username == NULL ||
        in->content == NULL ||
        !chat_message_idem_init(&s->idem, &s->user, &s->room, in->client_msg_id)) {
        item->err = CHAT_ERR_INVALID;
        return false;
    }
    return true;
}

/* One ordered insert_many of docs[0..k). *inserted = how many went in (a prefix); the
 * refusal of the next one, if any, as an error code. */
static chat_err_t append__insert(chat_db_t *db, bson_t *docs, size_t k, size_t *inserted)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll =
        mongoc_client_get_collection(client, chat_db_name(db), APPEND__COLL);
    const bson_t **ptrs = malloc(k * sizeof(*ptrs));
    bson_t *opts = BCON_NEW("ordered", BCON_BOOL(true));
    bson_t reply;
    bson_error_t err;
    bson_iter_t it;
    bson_iter_t errs;
    chat_err_t rc = CHAT_OK;

    *inserted = 0;
    bson_init(&reply);
    if (ptrs == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < k; i++) {
        ptrs[i] = &docs[i];
    }
    if (mongoc_collection_insert_many(coll, ptrs, k, opts, &reply, &err)) {
        *inserted = k;
        goto cleanup;
    }
    /* mongoc reports the count as insertedCount (the server's nInserted, renamed) */
    if (bson_iter_init_find(&it, &reply, "insertedCount") && BSON_ITER_HOLDS_NUMBER(&it)) {
        int64_t v = bson_iter_as_int64(&it);
        *inserted = v > 0 && (size_t)v <= k ? (size_t)v : 0;
    }
    rc = chat_db_map_error(&err);
    if (bson_iter_init_find(&it, &reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &errs) && bson_iter_next(&errs) && BSON_ITER_HOLDS_DOCUMENT(&errs)) {
        bson_iter_t e;
        if (bson_iter_recurse(&errs, &e) && bson_iter_find(&e, "code") &&
            BSON_ITER_HOLDS_NUMBER(&e)) {
            rc = bson_iter_as_int64(&e) == 11000 ? CHAT_ERR_CONFLICT : CHAT_ERR_INTERNAL;
        }
    }
    if (rc == CHAT_OK) {
        rc = CHAT_ERR_INTERNAL;
    }

cleanup:
    bson_destroy(&reply);
    bson_destroy(opts);
    free(ptrs);
    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    return rc;
}

/* The document at s->seq was refused: decide what it was. Returns CHAT_OK to go on
 * (the slot is done as a duplicate, or its room's next seq moved), else an error for it.
 *
 * A refusal does not say which unique index refused it (FerretDB's message names none),
 * and moving past a seq that is in fact free (the refusal was a resend's _id) would
 * leave a hole. So the next seq moves only past what a lower bound of the stored head
 * proves taken: first the cheap hint (the Redis window's head, which the winner sets
 * right after its insert: a few tries while it catches up), then room_heads, and only
 * when neither explains the refusal the slow, certain questions (earlier copy by _id and
 * by idem_key, then the room's real max seq). */
static chat_err_t append__resolve(chat_db_t *db, append__slot_t *s, append__room_t *room, int round,
                                  unsigned *seed, const chat_head_hints_t *hints)
{
    chat_message_t earlier = {0};
    char room_hex[CHAT_ID_LEN];
    int64_t head = 0;
    bool found = false;
    bool same = false;
    bool asked_id = false;
    chat_err_t rc = CHAT_OK;

    bson_oid_to_string(&room->oid, room_hex);
    /* The winner records its head in Redis right after its insert returns and in
     * room_heads at once (no Redis) or within a second (behind it): wait for either to
     * show it, asking room_heads now and then. A message with a client_msg_id whose
     * refusal neither explains soon may be a resend that neither the window nor this
     * gateway knew (its first writer died before committing it): ask its hashed _id. */
    for (int64_t t0 = chat_clock_monotonic_ms(), waited = 0, asked_db = -1000;
         waited <= APPEND__HINT_WAIT_MS; waited = chat_clock_monotonic_ms() - t0) {
        struct timespec ts = {0, APPEND__HINT_POLL_MS * 1000000L};
        head = hints != NULL ? hints->get(hints->arg, room_hex) : 0;
        if (head >= s->seq) {
            room->next = head + 1;
            return CHAT_OK;
        }
        if (waited - asked_db >= APPEND__DB_HEAD_EVERY_MS) {
            asked_db = waited;
            rc = chat_messages_head(db, &room->oid, &head, &found);
            if (rc != CHAT_OK) {
                return rc;
            }
            if (found && head >= s->seq) {
                room->next = head + 1;
                return CHAT_OK;
            }
            if (hints == NULL && waited > 0) {
                break; /* no Redis: room_heads is raised inline, one more look was enough */
            }
        }
        if (!asked_id && s->idem.hashed && (hints == NULL || waited >= APPEND__HINT_QUICK_MS)) {
            asked_id = true;
            rc = chat_message_idem_earlier_copy(db, s->item->in, &s->idem, false, &earlier, &same);
            if (rc != CHAT_OK || same) {
                goto out;
            }
        }
        nanosleep(&ts, NULL);
    }
    /* Neither explained it: the room's real max seq does, when the seq is taken. */
    rc = chat_messages_last_seq_oid(db, &room->oid, &head);
    if (rc == CHAT_OK && head >= s->seq) {
        chat_messages_heads_advance(db, &room->oid, &head, 1);
        if (hints != NULL && hints->stored != NULL) {
            hints->stored(hints->arg, room_hex, head); /* for the other writers */
        }
        room->next = head + 1;
        return CHAT_OK;
    }
    /* The seq is free, so our _id or idem_key was refused: a resend (or a hash clash,
     * which earlier_copy turns into a random _id for the next try). */
    if (rc == CHAT_OK && !asked_id) {
        rc = chat_message_idem_earlier_copy(db, s->item->in, &s->idem, false, &earlier, &same);
    }
    if (rc == CHAT_OK && !same) {
        rc = chat_message_idem_earlier_copy(db, s->item->in, &s->idem, true, &earlier, &same);
    }
    if (rc == CHAT_OK && !same) {
        chat_append_backoff(round, seed); /* unexplained: try again, a little later */
    }
out:
    if (rc == CHAT_OK && same) {
        s->done = true;
        s->item->duplicate = true;
        s->item->out = earlier; /* moves */
        return CHAT_OK;
    }
    chat_message_clear(&earlier);
    return rc;
}

/* Before a round: waits for other writers' turns at the rooms with pending slots
 * (append_turns.h), then starts each room waited for from the head its holder recorded. */
static void append__wait_turns(const append__slot_t *slots, size_t n, append__room_t *rooms,
                               size_t n_rooms, const chat_head_hints_t *hints)
{
    bson_oid_t *oids = calloc(n_rooms + 1, sizeof(*oids));
    chat_redis_lock_t *turns = calloc(n_rooms + 1, sizeof(*turns));
    bool *pending = calloc(2 * n_rooms + 2, sizeof(*pending));
    bool *waited = pending != NULL ? pending + n_rooms + 1 : NULL;

    for (size_t i = 0; pending != NULL && i < n; i++) {
        pending[slots[i].room_index] = pending[slots[i].room_index] || !slots[i].done;
    }
    for (size_t r = 0; oids != NULL && turns != NULL && r < n_rooms; r++) {
        oids[r] = rooms[r].oid, turns[r] = rooms[r].turn;
    }
    if (oids != NULL && turns != NULL && pending != NULL &&
        chat_append_turns_wait(hints->turns, oids, pending, turns, n_rooms, waited) == CHAT_OK) {
        for (size_t r = 0; r < n_rooms; r++) {
            char hex[CHAT_ID_LEN];
            rooms[r].turn = turns[r]; /* given back before any wait */
            if (waited[r]) {
                bson_oid_to_string(&rooms[r].oid, hex);
                int64_t head = hints->get(hints->arg, hex);
                rooms[r].next = head + 1 > rooms[r].next ? head + 1 : rooms[r].next;
            }
        }
    }
    free(oids);
    free(turns);
    free(pending);
}

/* The insert rounds: allocate seqs to what is pending (each room's from its next, in
 * order), insert in order, resolve the first refusal, repeat. cursor: n_rooms scratch. */
static void append__rounds(chat_db_t *db, append__slot_t *slots, size_t n, append__room_t *rooms,
                           size_t n_rooms, int64_t *cursor, bson_t *docs, append__slot_t **pending,
                           unsigned *seed, const chat_head_hints_t *hints, bool update_heads)
{
    int stalls = 0;

    for (int round = 1;; round++) {
        size_t k = 0;
        size_t inserted = 0;
        int64_t now = chat_clock_now_ms();
        chat_err_t rc;

        if (hints != NULL && hints->turns != NULL) {
            append__wait_turns(slots, n, rooms, n_rooms, hints);
        }
        for (size_t r = 0; r < n_rooms; r++) {
            cursor[r] = rooms[r].next;
        }
        for (size_t i = 0; i < n && k < APPEND__CHUNK; i++) {
            append__slot_t *s = &slots[i];
            if (!s->done) {
                s->seq = cursor[s->room_index]++;
                pending[k] = s;
                append__build(&docs[k], s, now);
                k++;
            }
        }
        if (k == 0) {
            return;
        }
        rc = append__insert(db, docs, k, &inserted);
        for (size_t r = 0; r < n_rooms; r++) {
            cursor[r] = 0; /* now: the highest seq each room got in this round */
        }
        for (size_t j = 0; j < inserted; j++) {
            cursor[pending[j]->room_index] = pending[j]->seq;
        }
        /* tell the other writers at once: in Redis, and in room_heads when asked to */
        for (size_t r = 0; r < n_rooms; r++) {
            if (cursor[r] <= 0) {
                continue;
            }
            if (hints != NULL && hints->stored != NULL) {
                char room_hex[CHAT_ID_LEN];
                bson_oid_to_string(&rooms[r].oid, room_hex);
                if (hints->stored(hints->arg, room_hex, cursor[r])) {
                    chat_append_turns_note(&rooms[r].oid); /* contended: check turns */
                }
            }
            if (update_heads) {
                chat_messages_heads_advance(db, &rooms[r].oid, &cursor[r], 1);
            }
            if (hints != NULL) { /* after the head is out: the waiters start from it */
                chat_append_turn_give(hints->turns, &rooms[r].turn);
            }
        }
        for (size_t j = 0; j < k; j++) {
            if (j < inserted) {
                append__slot_t *s = pending[j];
                append__room_t *room = &rooms[s->room_index];
                if (chat_messages_from_bson(&docs[j], &s->item->out) != CHAT_OK) {
                    s->item->err = CHAT_ERR_NOMEM; /* stored; a resend finds it */
                }
                s->done = true;
                room->next = s->seq + 1;
                room->stored_max = s->seq;
            }
            bson_destroy(&docs[j]);
        }
        if (inserted == k) {
            if (k < APPEND__CHUNK) {
                return;
            }
            continue; /* the next chunk */
        }
        stalls = inserted > 0 ? 0 : stalls + 1;
        if (rc == CHAT_ERR_CONFLICT && stalls <= APPEND__MAX_STALLS) {
            append__slot_t *f = pending[inserted];
            rc = append__resolve(db, f, &rooms[f->room_index], round, seed, hints);
            if (rc == CHAT_OK && !f->done && hints != NULL) { /* ours next: the others wait */
                chat_append_turns_note(&rooms[f->room_index].oid);
                (void)chat_append_turn_take(hints->turns, &rooms[f->room_index].oid,
                                            &rooms[f->room_index].turn);
            }
            if (rc == CHAT_OK && f->done) {
                stalls = 0; /* answered as a resend: progress too */
            }
            if (rc == CHAT_OK) {
                continue;
            }
            f->item->err = rc;
            f->done = true;
            continue; /* the others of the batch still go in */
        }
        if (rc == CHAT_ERR_CONFLICT) {
            rc = CHAT_ERR_UNAVAILABLE; /* contention beyond reason: let the caller retry */
        }
        for (size_t j = inserted; j < k; j++) {
            pending[j]->item->err = rc;
            pending[j]->done = true;
        }
        return;
    }
}

chat_err_t chat_messages_append_many(chat_db_t *db, chat_append_t *items, size_t n,
                                     bool update_heads, const chat_head_hints_t *hints)
{
    append__slot_t *slots = calloc(n + 1, sizeof(*slots));
    append__room_t *rooms = calloc(n + 1, sizeof(*rooms));
    append__slot_t **pending = calloc(n + 1, sizeof(*pending));
    int64_t *cursor = calloc(n + 1, sizeof(*cursor));
    bson_t *docs = calloc(n + 1, sizeof(*docs));
    bson_oid_t seed_oid;
    unsigned seed;
    size_t n_rooms = 0;
    chat_err_t rc = CHAT_OK;

    if (slots == NULL || rooms == NULL || pending == NULL || cursor == NULL || docs == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    bson_oid_init(&seed_oid, NULL);
    seed = (unsigned)bson_oid_get_time_t(&seed_oid) ^ (unsigned)(uintptr_t)&seed ^
        (unsigned)seed_oid.bytes[11] << 8 ^ (unsigned)seed_oid.bytes[10];
    for (size_t i = 0; i < n; i++) {
        append__slot_t *s = &slots[i];
        size_t r = 0;

        if (!append__prepare(s, &items[i])) {
            s->done = true;
            continue;
        }
        while (r < n_rooms && !bson_oid_equal(&rooms[r].oid, &s->room)) {
            r++;
        }
        if (r == n_rooms) {
            bson_oid_copy(&s->room, &rooms[r].oid);
            n_rooms++;
        }
        s->room_index = r;
        if (items[i].hint > 0 && items[i].hint + 1 > rooms[r].next) {
            rooms[r].next = items[i].hint + 1;
            rooms[r].known = true;
        }
    }
    for (size_t r = 0; r < n_rooms; r++) {
        int64_t head = 0;
        char room_hex[CHAT_ID_LEN];
        if (rooms[r].known) {
            continue;
        }
        if (hints != NULL) {
            bson_oid_to_string(&rooms[r].oid, room_hex);
            head = hints->get(hints->arg, room_hex);
        }
        if (head <= 0) {
            rooms[r].err = append__start_seq(db, &rooms[r].oid, &head);
        }
        rooms[r].next = head + 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!slots[i].done && rooms[slots[i].room_index].err != CHAT_OK) {
            items[i].err = rooms[slots[i].room_index].err;
            slots[i].done = true;
        }
    }
    append__rounds(db, slots, n, rooms, n_rooms, cursor, docs, pending, &seed, hints, update_heads);
    for (size_t r = 0; hints != NULL && r < n_rooms; r++) {
        chat_append_turn_give(hints->turns, &rooms[r].turn); /* a batch that gave up */
    }

cleanup:
    free(slots);
    free(rooms);
    free(pending);
    free(cursor);
    free(docs);
    return rc;
}

chat_err_t chat_messages_append(chat_db_t *db, const chat_message_t *in, int64_t *seq_hint,
                                chat_message_t *out, bool *duplicate)
{
    chat_append_t item;
    chat_err_t rc;

    memset(&item, 0, sizeof(item));
    item.in = in;
    item.hint = seq_hint != NULL ? *seq_hint : 0;
    *duplicate = false;
    rc = chat_messages_append_many(db, &item, 1, true, NULL);
    if (rc == CHAT_OK) {
        rc = item.err;
    }
    if (rc != CHAT_OK) {
        chat_message_clear(&item.out);
        return rc;
    }
    *duplicate = item.duplicate;
    *out = item.out; /* moves */
    if (seq_hint != NULL && out->seq > *seq_hint) {
        *seq_hint = out->seq;
    }
    return CHAT_OK;
}
