/*
 * test_rest_decide.c - the pure decisions of the rest-fcgi resources, without a
 * database: route matching (404 / 405 + Allow / bad ids / literal-before-id), input
 * checks of register, profile, rooms and DMs, room visibility, member management
 * rules, history query parsing and offsets, the health document and bucket sizes,
 * exact routes and the auth pool, the JSON answers to what lighttpd refuses (edge.c).
 * Includes every rest-fcgi .c file except main.c (the only one that uses FastCGI).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../rest-fcgi/auth.c"
#include "../../rest-fcgi/dms.c"
#include "../../rest-fcgi/edge.c"
#include "../../rest-fcgi/health.c"
#include "../../rest-fcgi/limits.c"
#include "../../rest-fcgi/member_lookup.c"
#include "../../rest-fcgi/members.c"
#include "../../rest-fcgi/messages.c"
#include "../../rest-fcgi/request.c"
#include "../../rest-fcgi/response.c"
#include "../../rest-fcgi/rooms.c"
#include "../../rest-fcgi/router.c"
#include "../../rest-fcgi/users.c"

#define ID_A "0123456789abcdef01234567"
#define ID_B "0123456789abcdef0123456b"
#define ID_C "0123456789abcdef0123456c"

static rest_match_t find(const char *method, const char *path, rest_request_t *req,
                         const rest_route_t **route, char *allow)
{
    memset(req, 0, sizeof(*req));
    return rest_router_find(method, path, req, route, allow, 64);
}

static void test_router(void **state)
{
    rest_request_t req;
    const rest_route_t *route = NULL;
    char allow[64];

    (void)state;
    assert_int_equal(find("GET", "/api/users/me", &req, &route, allow), REST_MATCH_OK);
    assert_ptr_equal(route->handler, rest_users_get_me);
    assert_int_equal(find("GET", "/api/users/" ID_A, &req, &route, allow), REST_MATCH_OK);
    assert_ptr_equal(route->handler, rest_users_get);
    assert_string_equal(req.params[0], ID_A);
    /* one spelling only (SPEC §5): upper-case names nothing */
    assert_int_equal(find("GET", "/api/users/0123456789ABCDEF01234567", &req, &route, allow),
                     REST_MATCH_BAD_ID);
    assert_int_equal(find("DELETE", "/api/rooms/" ID_A "/members/" ID_B, &req, &route, allow),
                     REST_MATCH_OK);
    assert_int_equal(req.n_params, 2);
    assert_string_equal(req.params[1], ID_B);
    assert_int_equal(find("GET", "/health", &req, &route, allow), REST_MATCH_OK);
    assert_int_equal(route->flags, REST_ROUTE_PUBLIC);
    assert_int_equal(find("POST", "/api/rooms", &req, &route, allow), REST_MATCH_OK);
    assert_int_equal(route->flags, REST_ROUTE_AUTH_NOAPI);

    assert_int_equal(find("GET", "/api/nothing", &req, &route, allow), REST_MATCH_NO_ROUTE);
    assert_int_equal(find("GET", "/api", &req, &route, allow), REST_MATCH_NO_ROUTE);
    assert_int_equal(find("GET", "/api/rooms/" ID_A "/x", &req, &route, allow),
                     REST_MATCH_NO_ROUTE);
    assert_int_equal(find("GET", "/api/users/me/x", &req, &route, allow), REST_MATCH_NO_ROUTE);

    assert_int_equal(find("DELETE", "/api/rooms", &req, &route, allow), REST_MATCH_BAD_METHOD);
    assert_string_equal(allow, "POST, GET, OPTIONS");
    assert_int_equal(find("DELETE", "/api/users/me", &req, &route, allow), REST_MATCH_BAD_METHOD);
    assert_string_equal(allow, "GET, PATCH, OPTIONS");

    assert_int_equal(find("GET", "/api/rooms/xyz", &req, &route, allow), REST_MATCH_BAD_ID);
    assert_int_equal(find("GET", "/api/rooms/0123456789abcdef0123456g", &req, &route, allow),
                     REST_MATCH_BAD_ID);
    assert_int_equal(find("GET", "/api/rooms/0123456789abcdef012345678", &req, &route, allow),
                     REST_MATCH_BAD_ID);
    assert_int_equal(find("DELETE", "/api/rooms/" ID_A "/members/nope", &req, &route, allow),
                     REST_MATCH_BAD_ID);
}

/* issue 10, point 9: one spelling per route, and bcrypt only in the auth pool */
static void test_exact_routes_and_pools(void **state)
{
    static const struct {
        const char *name;
        bool hashes;
        bool history;
        bool writes_behind;
    } pools[] = {{"auth", true, false, false}, {"history", false, true, true},
                 {"api", false, false, true},  {"health", false, false, false},
                 {"", true, true, true},       {NULL, true, true, true},
                 {"other", false, false, true}};
    rest_request_t req;
    const rest_route_t *route = NULL;
    char allow[64];
    const char *odd[] = {"/api/auth/login/",  "/api/auth//login",  "/api//auth/login",
                         "/api/auth/LOGIN",   "/api/auth/login#x", "/api/auth/%6cogin",
                         "/api/auth/./login", "/api/rooms/",       "/api/users/me/"};

    (void)state;
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        char *path = rest_path_from_uri(odd[i]);
        assert_non_null(path);
        assert_int_equal(find("POST", path, &req, &route, allow), REST_MATCH_NO_ROUTE);
        free(path);
    }
    assert_int_equal(find("POST", "/api/auth/login", &req, &route, allow), REST_MATCH_OK);
    assert_true(rest_route_allowed_in_pool(route, "auth"));
    assert_true(rest_route_allowed_in_pool(route, NULL));
    assert_false(rest_route_allowed_in_pool(route, "api"));
    assert_false(rest_route_allowed_in_pool(route, "history"));
    assert_int_equal(find("POST", "/api/auth/register", &req, &route, allow), REST_MATCH_OK);
    assert_false(rest_route_allowed_in_pool(route, "api"));
    assert_int_equal(find("POST", "/api/auth/refresh", &req, &route, allow), REST_MATCH_OK);
    assert_true(rest_route_allowed_in_pool(route, "api"));
    /* what a process does at start by its pool: only one that hashes passwords samples
     * their cost and warms bcrypt; only one that serves history opens the long-timeout
     * pool; only one that may store messages or change memberships starts the
     * write-behind collector (and its sweep); an unset pool serves everything */
    for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
        assert_int_equal(rest_pool_hashes_passwords(pools[i].name), pools[i].hashes);
        assert_int_equal(rest_pool_reads_history(pools[i].name), pools[i].history);
        assert_int_equal(rest_pool_writes_behind(pools[i].name), pools[i].writes_behind);
    }
}

/* issue 10, point 15: what lighttpd refuses itself is answered in JSON, 405 where due */
static void test_edge_answers(void **state)
{
    rest_request_t req;
    rest_response_t resp;
    struct {
        int status;
        const char *path;
        int want;
        const char *code;
    } cases[] = {
        {413, "/api/auth/login", 413, "payload_too_large"},
        {400, "/api/auth/login", 405, "method_not_allowed"}, /* GET with a body */
        {400, "/api/rooms", 400, "bad_request"},
        {400, "/api/nothing", 400, "bad_request"},
        {501, "/api/rooms/" ID_A "/join", 405, "method_not_allowed"},
        {501, "/", 404, "not_found"},
        {414, "/api/rooms", 414, "uri_too_long"},
        {431, "/api/rooms", 431, "headers_too_large"},
        {503, "/ws", 503, "service_unavailable"},
        {500, "/api/rooms", 500, "internal_error"},
    };

    (void)state;
    assert_int_equal(rest_edge_status(NULL), 0);
    assert_int_equal(rest_edge_status("200"), 0);
    assert_int_equal(rest_edge_status("x"), 0);
    assert_int_equal(rest_edge_status("413"), 413);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&req, 0, sizeof(req));
        memset(&resp, 0, sizeof(resp));
        req.path = (char *)cases[i].path;
        rest_edge_answer(cases[i].status, &req, &resp);
        assert_int_equal(resp.status, cases[i].want);
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(resp.body, "error"), "code")),
            cases[i].code);
        assert_true(cases[i].want != 405 || resp.allow[0] != '\0');
        rest_response_clear(&resp);
    }
}

static void test_path_match(void **state)
{
    char params[REST_MAX_PARAMS][CHAT_ID_LEN];
    size_t n = 0;
    bool ok = false;

    (void)state;
    assert_true(rest_path_match("/a/:id/b", "/a/" ID_A "/b", params, &n, &ok));
    assert_true(ok);
    assert_int_equal(n, 1);
    assert_false(rest_path_match("/a/:id/b", "/a//b", params, &n, &ok));
    assert_false(rest_path_match("/a/:id", "/a/" ID_A "/b", params, &n, &ok));
    assert_false(rest_path_match("/a/b", "/a/bc", params, &n, &ok));
    assert_false(rest_path_match("/a/b", "/a", params, &n, &ok));
    assert_true(rest_path_match("/a/:id", "/a/zz", params, &n, &ok));
    assert_false(ok);
}

static void test_register_checks(void **state)
{
    char msg[256];

    (void)state;
    assert_null(
        rest_auth_check_register("alice", "a@example.com", "password123", msg, sizeof(msg)));
    assert_non_null(
        rest_auth_check_register("al", "a@example.com", "password123", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "username"));
    assert_non_null(rest_auth_check_register("alice", "nope", "password123", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "email"));
    assert_non_null(rest_auth_check_register("alice", "a@example.com", "short", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "password"));
    char longpw[80];
    memset(longpw, 'p', 73);
    longpw[73] = '\0';
    assert_non_null(rest_auth_check_register("alice", "a@example.com", longpw, msg, sizeof(msg)));
    longpw[72] = '\0';
    assert_null(rest_auth_check_register("alice", "a@example.com", longpw, msg, sizeof(msg)));
}

static void test_profile_room_dm_checks(void **state)
{
    char msg[256];

    (void)state;
    assert_null(rest_users_check_patch(NULL, NULL, msg, sizeof(msg)));
    assert_null(rest_users_check_patch("", "", msg, sizeof(msg)));
    assert_null(rest_users_check_patch("Alice", "https://x.io/a.png", msg, sizeof(msg)));
    assert_non_null(rest_users_check_patch(NULL, "javascript:x", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "avatar_url"));

    assert_null(rest_rooms_check_create("general", "", msg, sizeof(msg)));
    assert_non_null(rest_rooms_check_create("", "", msg, sizeof(msg)));
    assert_non_null(strstr(msg, "name"));
    char desc[502];
    memset(desc, 'd', 501);
    desc[501] = '\0';
    assert_non_null(rest_rooms_check_create("ok", desc, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "description"));

    assert_null(rest_dms_check(ID_A, ID_B));
    assert_non_null(rest_dms_check(ID_A, ID_A));
    assert_non_null(rest_dms_check(ID_A, "0123456789ABCDEF01234567"));
    assert_non_null(rest_dms_check(ID_A, "xyz"));
}

static void make_room(chat_room_t *r, bool is_private, bool is_dm)
{
    static char members[2][CHAT_ID_LEN] = {ID_A, ID_B};

    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", ID_C);
    snprintf(r->creator_id, sizeof(r->creator_id), "%s", ID_A);
    r->members = members;
    r->n_members = 2;
    r->is_private = is_private;
    r->is_dm = is_dm;
}

static void test_visibility_and_management(void **state)
{
    chat_room_t pub;
    chat_room_t priv;
    chat_room_t dm;
    const char *code = NULL;
    const char *why = NULL;

    (void)state;
    make_room(&pub, false, false);
    make_room(&priv, true, false);
    make_room(&dm, true, true);
    assert_true(rest_room_visible(&pub, false));
    assert_true(rest_room_visible(&priv, true));
    assert_false(rest_room_visible(&priv, false));

    assert_int_equal(rest_members_check_manage(&priv, ID_A, ID_C, false, true, &code, &why),
                     CHAT_OK);
    assert_int_equal(rest_members_check_manage(&priv, ID_B, ID_C, false, true, &code, &why),
                     CHAT_ERR_FORBIDDEN);
    assert_string_equal(code, "not_owner");
    assert_int_equal(rest_members_check_manage(&priv, ID_A, ID_B, true, false, &code, &why),
                     CHAT_OK);
    assert_int_equal(rest_members_check_manage(&priv, ID_A, ID_A, true, false, &code, &why),
                     CHAT_ERR_FORBIDDEN);
    assert_int_equal(rest_members_check_manage(&priv, ID_A, ID_C, false, false, &code, &why),
                     CHAT_ERR_NOT_FOUND);
    assert_int_equal(rest_members_check_manage(&dm, ID_A, ID_C, false, true, &code, &why),
                     CHAT_ERR_FORBIDDEN);
    assert_non_null(why);
}

static rest_response_t resp0;

static bool parse_history(const char *query, rest_history_query_t *q)
{
    rest_request_t req;

    memset(&req, 0, sizeof(req));
    rest_response_clear(&resp0);
    memset(&resp0, 0, sizeof(resp0));
    req.query = query;
    return rest_history_parse(&req, q, &resp0);
}

static void test_history(void **state)
{
    rest_history_query_t q;

    (void)state;
    assert_true(parse_history("", &q));
    assert_int_equal(q.mode, REST_HISTORY_LATEST);
    assert_int_equal(q.limit, 50);
    assert_int_equal(q.offset, 0);
    assert_true(parse_history("limit=999&offset=7", &q));
    assert_int_equal(q.limit, CHAT_HISTORY_MAX_LIMIT);
    assert_int_equal(q.offset, 7);
    assert_true(parse_history("before_seq=10&limit=5", &q));
    assert_int_equal(q.mode, REST_HISTORY_BEFORE);
    assert_int_equal(q.seq, 10);
    assert_true(parse_history("after_seq=0", &q));
    assert_int_equal(q.mode, REST_HISTORY_AFTER);
    /* both cursors: a range (issue 10, point 15: it was refused, undocumented) */
    assert_true(parse_history("after_seq=1&before_seq=5", &q));
    assert_int_equal(q.mode, REST_HISTORY_AFTER);
    assert_int_equal(q.seq, 1);
    assert_int_equal(q.until, 5);
    assert_int_equal(rest_history_offset(&q, 25, 0), 21);
    assert_true(parse_history("after_seq=0&before_seq=0", &q));
    assert_int_equal(q.until, 1);
    assert_false(parse_history("limit=0", &q));
    assert_false(parse_history("offset=-1", &q));
    assert_false(parse_history("before_seq=abc", &q));
    rest_response_clear(&resp0);

    /* offsets: how many messages are newer than the page (total 25) */
    q.mode = REST_HISTORY_LATEST;
    q.offset = 10;
    assert_int_equal(rest_history_offset(&q, 25, 15), 10);
    q.mode = REST_HISTORY_BEFORE;
    q.seq = 11;
    assert_int_equal(rest_history_offset(&q, 25, 10), 15);
    assert_int_equal(rest_history_offset(&q, 25, 0), 15);
    q.seq = 1;
    assert_int_equal(rest_history_offset(&q, 25, 0), 25);
    q.seq = 1000;
    assert_int_equal(rest_history_offset(&q, 25, 0), 0);
    q.mode = REST_HISTORY_AFTER;
    q.seq = 20;
    assert_int_equal(rest_history_offset(&q, 25, 23), 2);
    assert_int_equal(rest_history_offset(&q, 25, 0), 0);
}

static void test_health_and_buckets(void **state)
{
    int status = 0;
    json_t *doc;
    double rate = 0;
    double burst = 0;

    (void)state;
    doc = rest_health_doc(true, true, &status);
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "ok");
    json_decref(doc);
    doc = rest_health_doc(true, false, &status);
    assert_int_equal(status, 503);
    assert_string_equal(json_string_value(json_object_get(doc, "redis")), "down");
    assert_string_equal(json_string_value(json_object_get(doc, "mongo")), "ok");
    json_decref(doc);
    doc = rest_health_doc(false, true, &status);
    assert_int_equal(status, 503);
    assert_string_equal(json_string_value(json_object_get(doc, "mongo")), "down");
    json_decref(doc);

    rest_limit_bucket(10, 60, &rate, &burst);
    assert_true(rate > 0.1666 && rate < 0.1667);
    assert_true(burst == 10);
    rest_limit_bucket(0, 60, &rate, &burst);
    assert_true(rate == 0);
    rest_limit_bucket(0.5, 3600, &rate, &burst);
    assert_true(burst == 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router),
        cmocka_unit_test(test_path_match),
        cmocka_unit_test(test_exact_routes_and_pools),
        cmocka_unit_test(test_edge_answers),
        cmocka_unit_test(test_register_checks),
        cmocka_unit_test(test_profile_room_dm_checks),
        cmocka_unit_test(test_visibility_and_management),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_health_and_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
