/*
 * membership.c - join / leave / remove, shared by rest-fcgi and the gateway (see
 * membership.h). A change is exactly-once: room_members' insert under a unique index
 * (or its delete) tells exactly one of racing callers that it made the change; that
 * caller stores the system message, and if that fails the change is undone so that a
 * retry makes it again and posts the message then.
 *
 * A leave is recorded in member_leaves (an insert, ~1 ms on FerretDB) and its
 * room_members document deleted after the reply (a scan there, ~30 ms): every reader
 * subtracts the pending leaves, and a join finishes its user's first
 * (member_leaves_repo.h).
 *
 * Threads: the thread owning the store. Relies on room_cache.h, member_cache.h,
 * room_members_repo.h, message_append.h, history.h and user_events.h (the member's
 * own live channel).
 */
#include "chat/membership.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat/cached_set.h"
#include "chat/clock.h"
#include "chat/history.h"
#include "chat/history_commit.h"
#include "chat/keys.h"
#include "chat/log.h"
#include "chat/member_cache.h"
#include "chat/member_leaves_repo.h"
#include "chat/membership_leaves.h"
#include "chat/message_append.h"
#include "chat/messages_repo.h"
#include "chat/ratelimit.h"
#include "chat/room_cache.h"
#include "chat/room_members_repo.h"
#include "chat/user_events.h"
#include "chat/validate.h"

#define MEMBERSHIP__COMMIT_WAIT_MS 200

/* Stores "<username> <what>" as a system message of room_id about user_id and makes it
 * visible (window + PUBLISH). */
static chat_err_t membership__system_message(const chat_store_t *s, const char *room_id,
                                             const char *user_id, const char *username,
                                             const char *what, chat_message_t *sys_out)
{
    chat_message_t in = {0};
    chat_message_t tmp = {0};
    chat_message_t *out = sys_out != NULL ? sys_out : &tmp;
    chat_append_t item;
    /* room_heads after the reply when the caller can (store.h): the slowest of a join's
     * three writes on FerretDB, and only a lower bound */
    bool later = s->redis != NULL && s->head_later != NULL;
    size_t len = strlen(username) + strlen(what) + 2;
    char *content = malloc(len);
    chat_err_t rc;

    if (content == NULL) {
        return CHAT_ERR_NOMEM;
    }
    snprintf(content, len, "%s %s", username, what);
    snprintf(in.room_id, sizeof(in.room_id), "%s", room_id);
    snprintf(in.user_id, sizeof(in.user_id), "%s", user_id);
    in.username = (char *)username; /* borrowed; in is never cleared */
    in.content = content;
    in.type = CHAT_MSG_SYSTEM;
    memset(&item, 0, sizeof(item));
    item.in = &in;
    {
        chat_head_hints_t hints = chat_history_hints(s);
        rc = chat_messages_append_many(s->db, &item, 1, !later, &hints);
    }
    if (rc == CHAT_OK) {
        rc = item.err;
    }
    if (rc == CHAT_OK && later && !item.duplicate &&
        !s->head_later(s->later_arg, room_id, item.out.seq)) {
        bson_oid_t room_oid;
        if (chat_db_oid_from_hex(room_id, &room_oid)) {
            chat_messages_heads_advance(s->db, &room_oid, &item.out.seq, 1);
        }
    }
    if (rc == CHAT_OK) {
        *out = item.out; /* moves */
    } else {
        chat_message_clear(&item.out);
    }
    if (rc == CHAT_OK && s->redis != NULL) {
        json_t *j = chat_message_to_json(out);
        char *json = j != NULL ? chat_json_dumps(j) : NULL;
        size_t jlen = json != NULL ? strlen(json) : 0;
        const char *jsons[1] = {json};
        chat_history_commit_t commit = {.room_id = room_id};

        commit.items.n = json != NULL ? 1 : 0;
        commit.items.seqs = &out->seq;
        commit.items.jsons = jsons;
        commit.items.lens = &jlen;
        if (json != NULL) {
            /* a failure leaves a hole the room's next writer repairs: stored is stored */
            chat_history_commit(s, &commit, 1, true, MEMBERSHIP__COMMIT_WAIT_MS);
        }
        json_decref(j);
        free(json);
    }
    chat_message_clear(&tmp);
    free(content);
    return rc;
}

/* Publishes {type: member_added | member_removed, room_id, user_id} on the room's
 * channel: the gateways start (or stop) delivering the room to that user. Best effort. */
static void membership__event(const chat_store_t *s, const char *room_id, const char *user_id,
                              bool added)
{
    char channel[CHAT_KEY_LEN];
    json_t *ev = chat_member_event_to_json(added, room_id, user_id);
    char *payload = ev != NULL ? chat_json_dumps(ev) : NULL;

    if (payload != NULL && s->redis != NULL &&
        chat_key_room_channel(room_id, channel, sizeof(channel)) != NULL &&
        chat_redis_publish(s->redis, channel, payload, strlen(payload)) != CHAT_OK) {
        chat_log_warn("membership event not published (Redis down?)", "room", room_id);
    }
    free(payload);
    json_decref(ev);
}

/* The room (first members and count) into out; clears room on success (moves it).
 * added_user: tell that user's other sockets and gateways they now have the room. */
static chat_err_t membership__room_out(const chat_store_t *s, chat_room_t *room, chat_room_t *out,
                                       const char *added_user)
{
    chat_err_t rc = chat_room_load_members(s, room);

    if (rc == CHAT_OK && added_user != NULL) {
        chat_user_event_room(s->redis, added_user, room, false);
    }
    if (rc == CHAT_OK && out != NULL) {
        *out = *room;
        memset(room, 0, sizeof(*room));
    }
    return rc;
}

/* Redis must answer before a membership change starts (see membership.h). */
static bool membership__redis_up(const chat_store_t *s)
{
    return s->redis != NULL && chat_redis_run_id(s->redis) != NULL;
}

chat_err_t chat_membership_join(const chat_store_t *s, const char *room_id, const char *user_id,
                                const char *username, bool by_owner, chat_room_t *room_out,
                                chat_message_t *sys_out, bool *changed)
{
    chat_room_t room = {0};
    char uid[CHAT_ID_LEN];
    bson_oid_t room_oid;
    bson_oid_t user_oid;
    bool is_member = false;
    int64_t now = chat_clock_now_ms();
    chat_err_t rc;

    *changed = false;
    if (username == NULL || user_id == NULL || !chat_validate_object_id(user_id)) {
        return CHAT_ERR_INVALID;
    }
    chat_ascii_lower(user_id, uid, sizeof(uid)); /* members are stored lower-case */
    user_id = uid;
    rc = chat_room_load(s, room_id, &room);
    if (rc == CHAT_OK) {
        rc = chat_member_check(s, room.id, user_id, &is_member);
    }
    if (rc != CHAT_OK || is_member) {
        goto done; /* already in: a no-op, whatever the room's rules */
    }
    /* Private rooms are invite-only; a DM stays a two-person room even for its owner. */
    if (room.is_dm || (room.is_private && !by_owner)) {
        rc = CHAT_ERR_FORBIDDEN;
        goto done;
    }
    if (!membership__redis_up(s)) {
        rc = CHAT_ERR_UNAVAILABLE;
        goto done;
    }
    bson_oid_init_from_string(&room_oid, room.id);
    bson_oid_init_from_string(&user_oid, user_id);
    rc = chat_membership_leaves_take_over(s->db, &room_oid, &user_oid, &now);
    if (rc != CHAT_OK) {
        goto done;
    }
    rc = chat_members_insert(s->db, &room_oid, &user_oid,
                             strcmp(room.creator_id, user_id) == 0 ? "owner" : "member", now);
    if (rc == CHAT_ERR_CONFLICT) {
        rc = CHAT_OK; /* a concurrent join won: it posts the message */
        (void)chat_member_cache_change(s, room.id, user_id, true, now);
        goto done;
    }
    if (rc != CHAT_OK) {
        goto done;
    }
    rc = chat_member_cache_change(s, room.id, user_id, true, now);
    if (rc == CHAT_OK) {
        /* delivery to the new member starts before their "joined" message */
        membership__event(s, room.id, user_id, true);
        rc = membership__system_message(s, room.id, user_id, username, "joined the room", sys_out);
    }
    if (rc != CHAT_OK) {
        /* Added, but not recorded or announced: undo, so that a retry joins again. */
        (void)chat_member_cache_change(s, room.id, user_id, false, 0);
        (void)chat_members_delete(s->db, &room_oid, &user_oid, NULL);
        (void)chat_member_cache_change(s, room.id, user_id, false, 0);
        goto done;
    }
    *changed = true;

done:
    if (rc == CHAT_OK) {
        rc = membership__room_out(s, &room, room_out, *changed ? user_id : NULL);
    }
    chat_room_clear(&room);
    return rc;
}

chat_err_t chat_membership_leave(const chat_store_t *s, const char *room_id, const char *user_id,
                                 const char *username, bool removed_by_owner, chat_room_t *room_out,
                                 chat_message_t *sys_out, bool *changed)
{
    chat_room_t room = {0};
    char uid[CHAT_ID_LEN];
    bson_oid_t room_oid;
    bson_oid_t user_oid;
    bool is_member = false;
    chat_member_leave_t leave;
    chat_err_t rc;

    *changed = false;
    if (username == NULL || user_id == NULL || !chat_validate_object_id(user_id)) {
        return CHAT_ERR_INVALID;
    }
    chat_ascii_lower(user_id, uid, sizeof(uid));
    user_id = uid;
    rc = chat_room_load(s, room_id, &room);
    if (rc == CHAT_OK) {
        rc = chat_member_check(s, room.id, user_id, &is_member);
    }
    if (rc != CHAT_OK || !is_member) {
        goto done;
    }
    /* The owner cannot leave (nor be removed from) their room, and a DM has no exit:
     * either would leave a room nobody can manage or reopen. */
    if (strcmp(room.creator_id, user_id) == 0 || room.is_dm) {
        rc = CHAT_ERR_FORBIDDEN;
        goto done;
    }
    /* Out of the sets first: from here on no check lets the member pass. */
    rc = membership__redis_up(s) ? chat_member_cache_change(s, room.id, user_id, false, 0)
                                 : CHAT_ERR_UNAVAILABLE;
    if (rc != CHAT_OK) {
        goto done;
    }
    bson_oid_init_from_string(&room_oid, room.id);
    bson_oid_init_from_string(&user_oid, user_id);
    rc = chat_member_leave_record(s->db, &room_oid, &user_oid, chat_clock_now_ms(), &leave);
    /* again: a rebuild that read the database before the record is refused by the
     * version, but one that read it in between would not be */
    (void)chat_member_cache_change(s, room.id, user_id, false, 0);
    if (rc == CHAT_ERR_CONFLICT) {
        rc = CHAT_OK; /* a concurrent leave won (or this one's record is under a minute old) */
        goto done;
    }
    if (rc != CHAT_OK) {
        goto done;
    }
    rc = membership__system_message(
        s, room.id, user_id, username,
        removed_by_owner ? "was removed from the room" : "left the room", sys_out);
    if (rc != CHAT_OK) {
        /* not announced: undo, so that a retry leaves again */
        if (chat_member_leave_forget(s->db, &leave) == CHAT_OK) {
            (void)chat_member_cache_change(s, room.id, user_id, true, chat_clock_now_ms());
        }
        goto done;
    }
    /* after their "left" message: the gateways stop delivering the room to them */
    membership__event(s, room.id, user_id, false);
    chat_user_event_removed(s->redis, user_id, room.id);
    *changed = true;
    rc = chat_room_load_members(s, &room); /* the answer's, and the size for the delete */
    leave.room_members = room.member_count;
    if (s->leave_later == NULL || !s->leave_later(s->later_arg, &leave)) {
        (void)chat_membership_leaves_finish(s->db, &leave, 1); /* failed: the sweep's */
    }
    if (rc == CHAT_OK && room_out != NULL) {
        *room_out = room;
        memset(&room, 0, sizeof(room));
    }
    chat_room_clear(&room);
    return rc;

done:
    if (rc == CHAT_OK) {
        rc = membership__room_out(s, &room, room_out, NULL);
    }
    chat_room_clear(&room);
    return rc;
}

chat_err_t chat_membership_charge(const chat_store_t *s, const char *actor_id, double per_min,
                                  int64_t *retry_after_ms)
{
    char key[CHAT_KEY_LEN];

    *retry_after_ms = 0;
    if (!(per_min > 0) || s->redis == NULL) {
        return CHAT_OK;
    }
    chat_key_ratelimit("member", actor_id, key, sizeof(key));
    return chat_ratelimit_check(s->redis, NULL, key, per_min / 60.0, per_min < 1 ? 1 : per_min,
                                retry_after_ms)
        ? CHAT_OK
        : CHAT_ERR_RATE_LIMITED;
}

/* The member set of a room just created: its members, joined when it was created (the
 * room's documents say so: rooms_repo.c), no read. */
typedef struct membership__new_room {
    const char (*members)[CHAT_ID_LEN];
    size_t n;
    int64_t joined_ms;
} membership__new_room_t;

static chat_err_t membership__load_new_room(void *arg, chat_cset_entry_t **entries, size_t *n,
                                            void **owned)
{
    const membership__new_room_t *r = arg;
    chat_cset_entry_t *e = calloc(r->n + 1, sizeof(*e));

    if (e == NULL) {
        return CHAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < r->n; i++) {
        e[i].score = (double)r->joined_ms;
        e[i].member = r->members[i];
        e[i].len = strlen(r->members[i]);
    }
    *entries = e;
    *n = r->n;
    *owned = NULL;
    return CHAT_OK;
}

static void membership__release_new_room(chat_cset_entry_t *entries, size_t n, void *owned)
{
    (void)n;
    (void)owned;
    free(entries);
}

void chat_membership_room_created(const chat_store_t *s, const chat_room_t *room,
                                  const char (*members)[CHAT_ID_LEN], size_t n)
{
    membership__new_room_t known = {members, n, room->created_at_ms};
    chat_message_list_t no_messages = {0};
    bson_oid_t oid;
    int64_t no_seq = 0;
    bool built = false;

    chat_room_cache_created(s, room);
    for (size_t i = 0; i < n; i++) {
        (void)chat_member_cache_change(s, room->id, members[i], true, room->created_at_ms);
    }
    /* Nobody else knows the id yet, so what the read model would read back is known:
     * the room's member set, its seq 0 in room_heads and its empty window, each of which
     * the room's first join, message or page would otherwise read from MongoDB (on
     * FerretDB: room_members and messages scanned whole, and the seq found by a scan of
     * messages, ~1.5 s each at a million messages). */
    if (s->redis != NULL) {
        chat_cset_t set;
        chat_cset_room_members(room->id, &set);
        (void)chat_cset_build(s->redis, &set, membership__load_new_room,
                              membership__release_new_room, &known);
        (void)chat_history_build_from(s, room->id, &no_messages, &built);
    }
    if (chat_db_oid_from_hex(room->id, &oid)) {
        chat_messages_heads_advance(s->db, &oid, &no_seq, 1);
    }
}
