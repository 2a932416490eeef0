/*
 * test_message_idem.c - a message's identity (message_idem.h) through the append path
 * against a real MongoDB/FerretDB (CHAT_TEST_MONGO_URI): resends are idempotent and
 * scoped to (user, room, client_msg_id), also for copies stored under a random _id or
 * under the key before it took the room; a hash clash stores a new message; and the _id
 * hashed from a key never changes (stored documents hold it). Each test uses its own
 * database, dropped at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "chat/db.h"
#include "chat/message_append.h"
#include "chat/message_idem.h"
#include "chat/messages_repo.h"

#include "db_fixture.h"
#include "messages_fixture.h"

/* The _id the writer before room-scoped keys gave the message "pre-1" of USER_1: 96 bits
 * of FNV-1a (two bases, then mixed) over "<user>:<client_msg_id>", as documents written
 * then hold it. Frozen here: the writer must keep producing it. */
#define OLD_WRITER_ID_PRE_1 "006e08ce3195991a3e17ed98"

/* ---- tests ---- */

/* The hashed _id is part of the stored data: the same key gives the same _id forever,
 * and a message with a client_msg_id is stored under the _id of "<user>:<id>". */
static void test_hashed_id_is_stable(void **state)
{
    chat_message_idem_t idem;
    bson_oid_t user;
    bson_oid_t room;
    bson_oid_t id;
    char hex[CHAT_ID_LEN];

    (void)state;
    chat_message_idem_hashed_id(USER_1 ":pre-1", &id);
    bson_oid_to_string(&id, hex);
    assert_string_equal(hex, OLD_WRITER_ID_PRE_1);
    chat_message_idem_hashed_id(USER_1 ":c-1", &id);
    bson_oid_to_string(&id, hex);
    assert_string_equal(hex, "e60780cc61ff2e3942badb23");
    chat_message_idem_hashed_id("", &id);
    bson_oid_to_string(&id, hex);
    assert_string_equal(hex, "01b1f1e6254427d4ba580d21");

    bson_oid_init_from_string(&user, USER_1);
    bson_oid_init_from_string(&room, ROOM_A);
    assert_true(chat_message_idem_init(&idem, &user, &room, "pre-1"));
    assert_true(idem.hashed);
    assert_string_equal(idem.key, USER_1 ":" ROOM_A ":pre-1");
    bson_oid_to_string(&idem.id, hex);
    assert_string_equal(hex, OLD_WRITER_ID_PRE_1);
    /* no client_msg_id: a random _id that is also the key */
    assert_true(chat_message_idem_init(&idem, &user, &room, NULL));
    assert_false(idem.hashed);
    bson_oid_to_string(&idem.id, hex);
    assert_string_equal(idem.key, hex);
}

static void test_resend_is_idempotent(void **state)
{
    chat_db_t *db = *state;
    chat_message_t in;
    chat_message_t first = {0};
    chat_message_t again = {0};
    chat_message_t other = {0};
    bool dup = true;
    int64_t hint = 0;
    int64_t last = 0;

    make_msg(&in, ROOM_A, USER_1, "once", "c-1");
    assert_int_equal(chat_messages_append(db, &in, &hint, &first, &dup), CHAT_OK);
    assert_false(dup);
    assert_string_equal(first.client_msg_id, "c-1");

    usleep(5000); /* a new timestamp would show */
    assert_int_equal(chat_messages_append(db, &in, &hint, &again, &dup), CHAT_OK);
    assert_true(dup);
    assert_string_equal(again.id, first.id);
    assert_int_equal(again.seq, first.seq);
    assert_int_equal(again.timestamp_ms, first.timestamp_ms);
    assert_string_equal(again.content, "once");

    /* the same client_msg_id from another user is another message */
    make_msg(&in, ROOM_A, USER_2, "twice", "c-1");
    assert_int_equal(chat_messages_append(db, &in, &hint, &other, &dup), CHAT_OK);
    assert_false(dup);
    assert_int_equal(other.seq, 2);

    assert_int_equal(chat_messages_last_seq(db, ROOM_A, &last), CHAT_OK);
    assert_int_equal(last, 2);
    chat_message_clear(&first);
    chat_message_clear(&again);
    chat_message_clear(&other);
}

/* A copy stored under a random _id (before ids were hashed from the idem_key, or after
 * a hash clash) is still found on a resend: one stored copy, the same ack. */
static void test_resend_of_a_copy_with_a_random_id(void **state)
{
    chat_db_t *db = *state;
    chat_message_t in;
    chat_message_t out = {0};
    bson_oid_t id;
    bson_oid_t room;
    bson_oid_t user;
    char id_hex[CHAT_ID_LEN];
    bool dup = false;
    int64_t hint = 0;
    int64_t last = 0;

    fill_room(db, ROOM_A, 2);
    bson_oid_init(&id, NULL);
    bson_oid_to_string(&id, id_hex);
    bson_oid_init_from_string(&room, ROOM_A);
    bson_oid_init_from_string(&user, USER_1);
    coll_exec(db, "messages", NULL, NULL,
              BCON_NEW("_id", BCON_OID(&id), "room_id", BCON_OID(&room), "seq", BCON_INT64(3),
                       "user_id", BCON_OID(&user), "username", "alice", "content", "legacy", "type",
                       "text", "created_at", BCON_DATE_TIME(1700000000000), "client_msg_id",
                       "old-1", "idem_key", USER_1 ":" ROOM_A ":old-1"));

    make_msg(&in, ROOM_A, USER_1, "legacy", "old-1");
    assert_int_equal(chat_messages_append(db, &in, &hint, &out, &dup), CHAT_OK);
    assert_true(dup);
    assert_string_equal(out.id, id_hex);
    assert_int_equal(out.seq, 3);
    chat_message_clear(&out);
    assert_int_equal(chat_messages_last_seq(db, ROOM_A, &last), CHAT_OK);
    assert_int_equal(last, 3);
    assert_int_equal(append_ok(db, ROOM_A, "next", NULL), 4);
}

/* Another message already holds the _id hashed from our idem_key (a hash clash): ours
 * is stored anyway, under another _id, and is not mistaken for a resend. */
static void test_hash_clash_stores_a_new_message(void **state)
{
    chat_db_t *db = *state;
    chat_message_t in;
    chat_message_t out = {0};
    chat_message_t again = {0};
    bson_oid_t id;
    bson_oid_t room;
    bson_oid_t user;
    char hashed[CHAT_ID_LEN];
    bool dup = true;

    make_msg(&in, ROOM_B, USER_1, "probe", "clash-1");
    assert_int_equal(chat_messages_append(db, &in, NULL, &out, &dup), CHAT_OK);
    snprintf(hashed, sizeof(hashed), "%s", out.id);
    chat_message_clear(&out);
    bson_oid_init_from_string(&id, hashed);
    coll_exec(db, "messages", BCON_NEW("_id", BCON_OID(&id)), NULL, NULL);
    coll_exec(db, "room_heads", BCON_NEW("_id", "{", "$exists", BCON_BOOL(true), "}"), NULL, NULL);

    /* someone else's message now sits under that _id */
    bson_oid_init_from_string(&room, ROOM_A);
    bson_oid_init_from_string(&user, USER_2);
    coll_exec(db, "messages", NULL, NULL,
              BCON_NEW("_id", BCON_OID(&id), "room_id", BCON_OID(&room), "seq", BCON_INT64(1),
                       "user_id", BCON_OID(&user), "username", "bob", "content", "other", "type",
                       "text", "created_at", BCON_DATE_TIME(1700000000000), "client_msg_id", "x",
                       "idem_key", USER_2 ":x"));

    assert_int_equal(chat_messages_append(db, &in, NULL, &out, &dup), CHAT_OK);
    assert_false(dup);
    assert_string_not_equal(out.id, hashed);
    assert_string_equal(out.room_id, ROOM_B);
    assert_int_equal(out.seq, 1);
    /* and its own resend finds it (by idem_key now) */
    assert_int_equal(chat_messages_append(db, &in, NULL, &again, &dup), CHAT_OK);
    assert_true(dup);
    assert_string_equal(again.id, out.id);
    chat_message_clear(&out);
    chat_message_clear(&again);
}

/* SPEC 4.3: the key is (user, room, client_msg_id): the same id in another room is
 * another message, stored and acked on its own. */
static void test_same_client_msg_id_in_two_rooms(void **state)
{
    chat_db_t *db = *state;
    chat_message_t in;
    chat_message_t a = {0};
    chat_message_t b = {0};
    chat_message_t again = {0};
    bool dup = true;

    make_msg(&in, ROOM_A, USER_1, "to room A", "same-id");
    assert_int_equal(chat_messages_append(db, &in, NULL, &a, &dup), CHAT_OK);
    assert_false(dup);
    make_msg(&in, ROOM_B, USER_1, "to room B", "same-id");
    assert_int_equal(chat_messages_append(db, &in, NULL, &b, &dup), CHAT_OK);
    assert_false(dup);
    assert_string_not_equal(a.id, b.id);
    assert_string_equal(b.room_id, ROOM_B);
    assert_string_equal(b.content, "to room B");
    /* and each one's resend still finds its own copy */
    assert_int_equal(chat_messages_append(db, &in, NULL, &again, &dup), CHAT_OK);
    assert_true(dup);
    assert_string_equal(again.id, b.id);
    chat_message_clear(&a);
    chat_message_clear(&b);
    chat_message_clear(&again);
}

/* A message stored before the idempotency key took the room (idem_key
 * "<user>:<client_msg_id>", _id hashed from that key): its resend still gets the
 * original ack and nothing new is stored; the same id in another room is stored. */
static void test_resend_of_a_message_stored_under_the_old_key(void **state)
{
    chat_db_t *db = *state;
    chat_message_t in;
    chat_message_t again = {0};
    bson_oid_t id;
    bson_oid_t room;
    bson_oid_t user;
    char id_hex[CHAT_ID_LEN];
    bool dup = false;
    int64_t last = 0;

    fill_room(db, ROOM_A, 2);
    bson_oid_init_from_string(&id, OLD_WRITER_ID_PRE_1);
    bson_oid_to_string(&id, id_hex);
    bson_oid_init_from_string(&room, ROOM_A);
    bson_oid_init_from_string(&user, USER_1);
    coll_exec(db, "messages", NULL, NULL,
              BCON_NEW("_id", BCON_OID(&id), "room_id", BCON_OID(&room), "seq", BCON_INT64(3),
                       "user_id", BCON_OID(&user), "username", "alice", "content",
                       "before the upgrade", "type", "text", "created_at",
                       BCON_DATE_TIME(1700000000000), "client_msg_id", "pre-1", "idem_key",
                       USER_1 ":pre-1"));
    coll_exec(db, "room_heads", BCON_NEW("_id", BCON_OID(&room)),
              BCON_NEW("$max", "{", "seq", BCON_INT64(3), "}"), NULL);

    make_msg(&in, ROOM_A, USER_1, "before the upgrade", "pre-1");
    assert_int_equal(chat_messages_append(db, &in, NULL, &again, &dup), CHAT_OK);
    assert_true(dup);
    assert_string_equal(again.id, id_hex);
    assert_int_equal(again.seq, 3);
    assert_int_equal(chat_messages_last_seq(db, ROOM_A, &last), CHAT_OK);
    assert_int_equal(last, 3);
    chat_message_clear(&again);
    /* the same id in another room is another message */
    make_msg(&in, ROOM_B, USER_1, "to room B", "pre-1");
    assert_int_equal(chat_messages_append(db, &in, NULL, &again, &dup), CHAT_OK);
    assert_false(dup);
    assert_string_equal(again.room_id, ROOM_B);
    assert_string_not_equal(again.id, id_hex);
    chat_message_clear(&again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hashed_id_is_stable),
        cmocka_unit_test_setup_teardown(test_resend_is_idempotent, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(test_resend_of_a_copy_with_a_random_id, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_hash_clash_stores_a_new_message, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_same_client_msg_id_in_two_rooms, db_setup,
                                        db_teardown),
        cmocka_unit_test_setup_teardown(test_resend_of_a_message_stored_under_the_old_key, db_setup,
                                        db_teardown),
    };

    return DB_FIXTURE_RUN(tests);
}
