/*
 * rooms_fixture.h - what the rooms tests (test_rooms_repo.c, test_rooms_repo_members.c)
 * share: fixed user ids, a room created with its read model, member changes made as the
 * owner (membership.h, as REST's members resource does), the membership check and the
 * room as REST answers it, and a document count. Include after <cmocka.h>. Main thread
 * of each test.
 */
#ifndef CHAT_TEST_ROOMS_FIXTURE_H
#define CHAT_TEST_ROOMS_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "chat/db.h"
#include "chat/member_cache.h"
#include "chat/membership.h"
#include "chat/room_cache.h"
#include "chat/rooms_repo.h"

#define ALICE "660000000000000000000001"
#define BOB "660000000000000000000002"
#define CAROL "660000000000000000000003"
#define MISSING_ROOM "650000000000000000000009"

static inline void create_ok(chat_store_t *st, const char *name, bool is_private,
                             const char *creator, chat_room_t *out)
{
    assert_int_equal(chat_rooms_create(st->db, name, "about it", is_private, creator, out),
                     CHAT_OK);
    chat_membership_room_created(st, out, (const char(*)[CHAT_ID_LEN])out->members, out->n_members);
}

/* The owner adds (or removes) a member: membership.h, as REST's members resource does. */
static inline chat_err_t add_member(chat_store_t *st, const char *room, const char *user,
                                    bool *changed, chat_room_t *out)
{
    return chat_membership_join(st, room, user, "someone", true, out, NULL, changed);
}

static inline chat_err_t remove_member(chat_store_t *st, const char *room, const char *user,
                                       bool *changed, chat_room_t *out)
{
    return chat_membership_leave(st, room, user, "someone", true, out, NULL, changed);
}

static inline chat_err_t is_member_of(chat_store_t *st, const char *room, const char *user,
                                      bool *is)
{
    chat_room_t r = {0};
    chat_err_t rc = chat_room_load(st, room, &r);

    *is = false;
    chat_room_clear(&r);
    return rc == CHAT_OK ? chat_member_check(st, room, user, is) : rc;
}

/* The room with its first members and count, as REST answers it. */
static inline chat_err_t load_full(chat_store_t *st, const char *room, chat_room_t *out)
{
    chat_err_t rc = chat_room_load(st, room, out);

    return rc == CHAT_OK ? chat_room_load_members(st, out) : rc;
}

static inline int64_t count_rooms(chat_db_t *db, const char *coll_name, const bson_t *filter)
{
    mongoc_client_t *client = chat_db_pop(db);
    mongoc_collection_t *coll = mongoc_client_get_collection(client, chat_db_name(db), coll_name);
    bson_error_t err;
    int64_t n = mongoc_collection_count_documents(coll, filter, NULL, NULL, NULL, &err);

    mongoc_collection_destroy(coll);
    chat_db_push(db, client);
    return n;
}

#endif
