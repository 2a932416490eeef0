/*
 * model.c - the wire types (user, room, message): ownership helpers and JSON codecs
 * on jansson (model.h). Times go out as RFC 3339 UTC with milliseconds and Z
 * (clock.c). Decoders are strict about types and ignore unknown fields; on failure
 * they leave *out zeroed. Pure functions with no shared state: any thread.
 */
#include "chat/model.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "chat/clock.h"
#include "chat/error.h"
#include "chat/validate.h"

/* ------------------------------------------------------------------ ownership */

void chat_user_clear(chat_user_t *u)
{
    if (u == NULL)
        return;
    free(u->username);
    free(u->email);
    free(u->display_name);
    free(u->avatar_url);
    if (u->password_hash != NULL) {
        explicit_bzero(u->password_hash, strlen(u->password_hash));
        free(u->password_hash);
    }
    memset(u, 0, sizeof(*u));
}

void chat_room_clear(chat_room_t *r)
{
    if (r == NULL)
        return;
    free(r->name);
    free(r->description);
    free(r->members);
    memset(r, 0, sizeof(*r));
}

void chat_message_clear(chat_message_t *m)
{
    if (m == NULL)
        return;
    free(m->username);
    free(m->content);
    free(m->client_msg_id);
    memset(m, 0, sizeof(*m));
}

void chat_message_list_clear(chat_message_list_t *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; l->items != NULL && i < l->n; i++)
        chat_message_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void chat_room_list_clear(chat_room_list_t *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; l->items != NULL && i < l->n; i++)
        chat_room_clear(&l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

/* Ids are hex, stored lower-case by the repositories; compare without case anyway. */
bool chat_room_has_member(const chat_room_t *room, const char *user_id)
{
    if (room == NULL || user_id == NULL || room->members == NULL)
        return false;
    for (size_t i = 0; i < room->n_members; i++) {
        if (strcasecmp(room->members[i], user_id) == 0)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------ encoders */

/* A profile string that is NULL or "" is unset and goes out as JSON null. */
static const char *model__opt(const char *s)
{
    return (s != NULL && s[0] != '\0') ? s : NULL;
}

/* A required string that is NULL (a bug upstream) goes out as "" rather than failing. */
static const char *model__str(const char *s)
{
    return s != NULL ? s : "";
}

json_t *chat_user_to_json_private(const chat_user_t *u)
{
    char created[CHAT_RFC3339_LEN];

    if (u == NULL)
        return NULL;
    chat_clock_format_rfc3339(u->created_at_ms, created, sizeof(created));
    return json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s}", "id", u->id, "username",
                     model__str(u->username), "email", model__str(u->email), "display_name",
                     model__opt(u->display_name), "avatar_url", model__opt(u->avatar_url),
                     "created_at", created);
}

json_t *chat_user_to_json_public(const chat_user_t *u, bool online)
{
    char seen[CHAT_RFC3339_LEN];

    if (u == NULL)
        return NULL;
    if (u->last_seen_ms != 0)
        chat_clock_format_rfc3339(u->last_seen_ms, seen, sizeof(seen));
    return json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:s?}", "id", u->id, "username",
                     model__str(u->username), "display_name", model__opt(u->display_name),
                     "avatar_url", model__opt(u->avatar_url), "online", (int)online, "last_seen",
                     u->last_seen_ms != 0 ? seen : NULL);
}

json_t *chat_room_to_json(const chat_room_t *r)
{
    char created[CHAT_RFC3339_LEN];
    json_t *members = NULL;

    if (r == NULL)
        return NULL;
    members = json_array();
    if (members == NULL)
        return NULL;
    for (size_t i = 0; r->members != NULL && i < r->n_members; i++) {
        if (json_array_append_new(members, json_string(r->members[i])) != 0) {
            json_decref(members);
            return NULL;
        }
    }
    chat_clock_format_rfc3339(r->created_at_ms, created, sizeof(created));
    /* "o" steals members, also when json_pack fails (jansson >= 2.12). */
    return json_pack(
        "{s:s, s:s, s:s, s:s, s:o, s:I, s:b, s:b, s:s}", "id", r->id, "name", model__str(r->name),
        "description", model__str(r->description), "creator_id", r->creator_id, "members", members,
        "member_count", (json_int_t)(r->member_count > 0 ? r->member_count : (int64_t)r->n_members),
        "is_private", (int)r->is_private, "is_dm", (int)r->is_dm, "created_at", created);
}

json_t *chat_member_event_to_json(bool added, const char *room_id, const char *user_id)
{
    return json_pack("{s:s, s:s, s:s}", "type", added ? "member_added" : "member_removed",
                     "room_id", model__str(room_id), "user_id", model__str(user_id));
}

json_t *chat_message_to_json(const chat_message_t *m)
{
    char ts[CHAT_RFC3339_LEN];
    json_t *j = NULL;

    if (m == NULL)
        return NULL;
    chat_clock_format_rfc3339(m->timestamp_ms, ts, sizeof(ts));
    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "id", m->id, "room_id", m->room_id,
                  "user_id", m->user_id, "username", model__str(m->username), "content",
                  model__str(m->content), "type", m->type == CHAT_MSG_SYSTEM ? "system" : "text",
                  "timestamp", ts, "seq", (json_int_t)m->seq);
    if (j != NULL && m->client_msg_id != NULL &&
        json_object_set_new(j, "client_msg_id", json_string(m->client_msg_id)) != 0) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* ------------------------------------------------------------------ decoders */

/* A JSON string without embedded NULs, or NULL (absent, wrong type, or has a NUL). */
static const char *model__get_str(const json_t *obj, const char *key, bool *present)
{
    json_t *v = json_object_get(obj, key);
    const char *s = NULL;

    *present = v != NULL && !json_is_null(v);
    if (!json_is_string(v))
        return NULL;
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return NULL;
    return s;
}

/* Required string field: copies it into a new malloc'd *dst. */
static chat_err_t model__req_str(const json_t *obj, const char *key, char **dst)
{
    bool present = false;
    const char *s = model__get_str(obj, key, &present);

    if (s == NULL)
        return CHAT_ERR_INVALID;
    *dst = strdup(s);
    return *dst != NULL ? CHAT_OK : CHAT_ERR_NOMEM;
}

/* Optional string field: absent or null leaves *dst NULL; any other type is invalid. */
static chat_err_t model__opt_str(const json_t *obj, const char *key, char **dst)
{
    bool present = false;
    const char *s = model__get_str(obj, key, &present);

    if (!present)
        return CHAT_OK;
    if (s == NULL)
        return CHAT_ERR_INVALID;
    *dst = strdup(s);
    return *dst != NULL ? CHAT_OK : CHAT_ERR_NOMEM;
}

/* Required 24-hex id field copied into dst[CHAT_ID_LEN]. */
static chat_err_t model__req_id(const json_t *obj, const char *key, char *dst)
{
    bool present = false;
    const char *s = model__get_str(obj, key, &present);

    if (s == NULL || !chat_validate_object_id(s))
        return CHAT_ERR_INVALID;
    memcpy(dst, s, CHAT_ID_LEN); /* validated: exactly 24 chars + NUL */
    return CHAT_OK;
}

/* RFC 3339 time field; absent (or null when nullable) leaves *out untouched. */
static chat_err_t model__time(const json_t *obj, const char *key, bool required, bool nullable,
                              int64_t *out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return required ? CHAT_ERR_INVALID : CHAT_OK;
    if (json_is_null(v) && nullable)
        return CHAT_OK;
    if (!json_is_string(v) || chat_clock_parse_rfc3339(json_string_value(v), out) != 0)
        return CHAT_ERR_INVALID;
    return CHAT_OK;
}

/* Boolean field; absent leaves *out untouched (invalid when required). */
static chat_err_t model__bool(const json_t *obj, const char *key, bool required, bool *out)
{
    json_t *v = json_object_get(obj, key);

    if (v == NULL)
        return required ? CHAT_ERR_INVALID : CHAT_OK;
    if (!json_is_boolean(v))
        return CHAT_ERR_INVALID;
    *out = json_is_true(v);
    return CHAT_OK;
}

/*
 * Accepts both profile shapes: id and username are required; email, display_name,
 * avatar_url (string or null), created_at and last_seen (RFC 3339, last_seen may be
 * null) are optional. password_hash is never read from JSON.
 */
chat_err_t chat_user_from_json(const json_t *json, chat_user_t *out)
{
    chat_err_t rc = CHAT_ERR_INVALID;

    if (out == NULL)
        return CHAT_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CHAT_ERR_INVALID;
    if ((rc = model__req_id(json, "id", out->id)) != CHAT_OK ||
        (rc = model__req_str(json, "username", &out->username)) != CHAT_OK ||
        (rc = model__opt_str(json, "email", &out->email)) != CHAT_OK ||
        (rc = model__opt_str(json, "display_name", &out->display_name)) != CHAT_OK ||
        (rc = model__opt_str(json, "avatar_url", &out->avatar_url)) != CHAT_OK ||
        (rc = model__time(json, "created_at", false, false, &out->created_at_ms)) != CHAT_OK ||
        (rc = model__time(json, "last_seen", false, true, &out->last_seen_ms)) != CHAT_OK)
        goto cleanup;
    return CHAT_OK;

cleanup:
    chat_user_clear(out);
    return rc;
}

/*
 * Requires id, name, creator_id, members (array of ids), is_private and created_at;
 * description (string or null) and is_dm are optional.
 */
chat_err_t chat_room_from_json(const json_t *json, chat_room_t *out)
{
    chat_err_t rc = CHAT_ERR_INVALID;
    json_t *members = NULL;
    size_t n = 0;

    if (out == NULL)
        return CHAT_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CHAT_ERR_INVALID;
    if ((rc = model__req_id(json, "id", out->id)) != CHAT_OK ||
        (rc = model__req_str(json, "name", &out->name)) != CHAT_OK ||
        (rc = model__opt_str(json, "description", &out->description)) != CHAT_OK ||
        (rc = model__req_id(json, "creator_id", out->creator_id)) != CHAT_OK ||
        (rc = model__bool(json, "is_private", true, &out->is_private)) != CHAT_OK ||
        (rc = model__bool(json, "is_dm", false, &out->is_dm)) != CHAT_OK ||
        (rc = model__time(json, "created_at", true, false, &out->created_at_ms)) != CHAT_OK)
        goto cleanup;
    if (out->description == NULL && (out->description = strdup("")) == NULL) {
        rc = CHAT_ERR_NOMEM;
        goto cleanup;
    }
    members = json_object_get(json, "members");
    if (!json_is_array(members)) {
        rc = CHAT_ERR_INVALID;
        goto cleanup;
    }
    n = json_array_size(members);
    if (n > 0) {
        out->members = calloc(n, sizeof(*out->members));
        if (out->members == NULL) {
            rc = CHAT_ERR_NOMEM;
            goto cleanup;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(members, i);
        const char *s = json_string_value(v);

        if (s == NULL || !chat_validate_object_id(s)) {
            rc = CHAT_ERR_INVALID;
            goto cleanup;
        }
        memcpy(out->members[i], s, CHAT_ID_LEN);
        out->n_members = i + 1;
    }
    return CHAT_OK;

cleanup:
    chat_room_clear(out);
    return rc;
}

/*
 * Requires id, room_id, user_id, username, content, seq (integer >= 1) and timestamp;
 * type ("text" | "system", default "text") and client_msg_id (string or null) are
 * optional.
 */
chat_err_t chat_message_from_json(const json_t *json, chat_message_t *out)
{
    chat_err_t rc = CHAT_ERR_INVALID;
    json_t *v = NULL;

    if (out == NULL)
        return CHAT_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    if (!json_is_object(json))
        return CHAT_ERR_INVALID;
    if ((rc = model__req_id(json, "id", out->id)) != CHAT_OK ||
        (rc = model__req_id(json, "room_id", out->room_id)) != CHAT_OK ||
        (rc = model__req_id(json, "user_id", out->user_id)) != CHAT_OK ||
        (rc = model__req_str(json, "username", &out->username)) != CHAT_OK ||
        (rc = model__req_str(json, "content", &out->content)) != CHAT_OK ||
        (rc = model__opt_str(json, "client_msg_id", &out->client_msg_id)) != CHAT_OK ||
        (rc = model__time(json, "timestamp", true, false, &out->timestamp_ms)) != CHAT_OK)
        goto cleanup;
    rc = CHAT_ERR_INVALID;
    v = json_object_get(json, "seq");
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        goto cleanup;
    out->seq = (int64_t)json_integer_value(v);
    v = json_object_get(json, "type");
    if (v != NULL) {
        const char *t = json_string_value(v);

        if (t != NULL && strcmp(t, "text") == 0)
            out->type = CHAT_MSG_TEXT;
        else if (t != NULL && strcmp(t, "system") == 0)
            out->type = CHAT_MSG_SYSTEM;
        else
            goto cleanup;
    }
    return CHAT_OK;

cleanup:
    chat_message_clear(out);
    return rc;
}

/* ------------------------------------------------------------------ helpers */

char *chat_json_dumps(const json_t *json)
{
    if (json == NULL)
        return NULL;
    return json_dumps(json, JSON_COMPACT);
}

/* A message that is not valid UTF-8 (it may quote user input) is replaced, and a code
 * outside chat_wire_codes() becomes internal_error, so the only NULL return is
 * out-of-memory. */
json_t *chat_json_error(const char *code, const char *message)
{
    const char *c = code != NULL ? code : "internal_error";
    const char *m = message != NULL ? message : "";

    /* one vocabulary (chat_wire_codes): a code outside it is a bug, never sent */
    if (!chat_wire_code_known(c))
        c = "internal_error";
    if (chat_utf8_length(m, strlen(m)) < 0)
        m = "(message not valid UTF-8)";
    return json_pack("{s:{s:s, s:s}}", "error", "code", c, "message", m);
}
