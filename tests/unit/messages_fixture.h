/*
 * messages_fixture.h - what the message store tests (test_messages_repo.c,
 * test_message_idem.c) share: fixed room and user ids, a message to append, appends that
 * must succeed, and direct edits of the test database that put it into a state the
 * append path must cope with. Include after <cmocka.h>. Main thread of each test.
 */
#ifndef CHAT_TEST_MESSAGES_FIXTURE_H
#define CHAT_TEST_MESSAGES_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "chat/db.h"
#include "chat/message_append.h"
#include "chat/messages_repo.h"

#define ROOM_A "650000000000000000000001"
#define ROOM_B "650000000000000000000002"
#define USER_1 "660000000000000000000001"
#define USER_2 "660000000000000000000002"

static inline void make_msg(chat_message_t *m, const char *room, const char *user, const char *text,
                            const char *client_msg_id)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->room_id, sizeof(m->room_id), "%s", room);
    snprintf(m->user_id, sizeof(m->user_id), "%s", user);
    m->username = (char *)"alice";
    m->content = (char *)text;
    m->client_msg_id = (char *)client_msg_id;
    m->type = CHAT_MSG_TEXT;
}

static inline int64_t append_ok(chat_db_t *db, const char *room, const char *text, int64_t *hint)
{
    chat_message_t in;
    chat_message_t out = {0};
    bool dup = true;
    int64_t seq;

    make_msg(&in, room, USER_1, text, NULL);
    assert_int_equal(chat_messages_append(db, &in, hint, &out, &dup), CHAT_OK);
    assert_false(dup);
    seq = out.seq;
    chat_message_clear(&out);
    return seq;
}

static inline void fill_room(chat_db_t *db, const char *room, int n)
{
    int64_t hint = 0;
    char text[32];

    for (int i = 1; i <= n; i++) {
        snprintf(text, sizeof(text), "m%d", i);
        assert_int_equal(append_ok(db, room, text, &hint), i);
    }
}

/* Puts the test database into a state the append path must cope with: inserts insert
 * (when given), else applies update to the first match of filter (when given), else
 * deletes every match of filter. Takes the documents. */
static inline void coll_exec(chat_db_t *db, const char *coll_name, bson_t *filter, bson_t *update,
                             bson_t *insert)
{
    chat_err_t rc = CHAT_OK;

    if (insert != NULL) {
        rc = chat_db_insert(db, coll_name, insert);
        bson_destroy(insert);
    } else if (update != NULL) {
        mongoc_client_t *client = chat_db_pop(db);
        mongoc_collection_t *coll =
            mongoc_client_get_collection(client, chat_db_name(db), coll_name);
        bson_error_t err;

        if (!mongoc_collection_update_one(coll, filter, update, NULL, NULL, &err)) {
            rc = chat_db_map_error(&err);
        }
        mongoc_collection_destroy(coll);
        chat_db_push(db, client);
        bson_destroy(update);
    } else {
        rc = chat_db_delete(db, coll_name, filter, true, NULL);
    }
    assert_int_equal(rc, CHAT_OK);
    if (filter != NULL) {
        bson_destroy(filter);
    }
}

#endif
