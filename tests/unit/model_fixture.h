/*
 * model_fixture.h - the sample user, room and message the model tests (test_model.c,
 * test_model_message.c) encode and decode, and a JSON parser that fails the test on bad
 * input. Include after <cmocka.h>. Main thread of each test.
 */
#ifndef CHAT_TEST_MODEL_FIXTURE_H
#define CHAT_TEST_MODEL_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "chat/model.h"

#define ID1 "65a1b2c3d4e5f60718293a4b"
#define ID2 "65a1b2c3d4e5f60718293a4c"
#define ID3 "65a1b2c3d4e5f60718293a4d"
#define TS_MS INT64_C(1736937000123)
#define TS_TEXT "2025-01-15T10:30:00.123Z"

static inline json_t *parse(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);

    if (j == NULL)
        fail_msg("test JSON does not parse: %s: %s", err.text, text);
    return j;
}

static inline void make_user(chat_user_t *u)
{
    memset(u, 0, sizeof(*u));
    strcpy(u->id, ID1);
    u->username = strdup("alice");
    u->email = strdup("alice@example.com");
    u->password_hash = strdup("$2b$04$abcdefghijklmnopqrstuuK5Kk4hL3o4l9Q0Hq1u1Xc8bYgKc6e2m");
    u->created_at_ms = TS_MS;
}

static inline void make_room(chat_room_t *r)
{
    memset(r, 0, sizeof(*r));
    strcpy(r->id, ID1);
    r->name = strdup("general");
    r->description = strdup("talk <b>here</b> \"quoted\"");
    strcpy(r->creator_id, ID2);
    r->members = calloc(2, sizeof(*r->members));
    strcpy(r->members[0], ID2);
    strcpy(r->members[1], ID3);
    r->n_members = 2;
    r->is_private = true;
    r->created_at_ms = TS_MS;
}

static inline void make_message(chat_message_t *m)
{
    memset(m, 0, sizeof(*m));
    strcpy(m->id, ID1);
    strcpy(m->room_id, ID2);
    strcpy(m->user_id, ID3);
    m->username = strdup("bob");
    m->content = strdup("héllo\nwörld \xf0\x9f\x98\x80 <script>");
    m->client_msg_id = strdup("c-1");
    m->type = CHAT_MSG_TEXT;
    m->seq = 42;
    m->timestamp_ms = TS_MS;
}

#endif
