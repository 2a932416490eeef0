"""test_rest_auth.py - /api/auth (register, login, refresh) and Bearer authentication,
black-box over HTTP through lighttpd + FastCGI + FerretDB + Redis (one stack for the
module, rate limits off, BCRYPT_COST=4)."""
import secrets
import time

import pytest

from rest_client import Client, assert_error, mint_jwt, new_id


@pytest.fixture(scope="module")
def c(stack):
    return Client(stack)


def test_register_returns_201_without_hash(c):
    r = c.post("/api/auth/register", {"username": "Reg_User.1", "email": "Reg1@Example.com",
                                      "password": "copper-kettle-91", "extra": "ignored"})
    assert r.status_code == 201, r.text
    body = r.json()
    assert len(body["id"]) == 24 and int(body["id"], 16) >= 0
    assert body["username"] == "Reg_User.1"
    assert body["email"] == "Reg1@Example.com"
    assert body["created_at"].endswith("Z")
    assert "password" not in r.text and "hash" not in r.text and "$2b$" not in r.text


@pytest.mark.parametrize("body, field", [
    ({"username": "ab", "email": "x1@example.com", "password": "copper-kettle-91"}, "username"),
    ({"username": "a" * 33, "email": "x2@example.com", "password": "copper-kettle-91"}, "username"),
    ({"username": "bad name", "email": "x3@example.com", "password": "copper-kettle-91"}, "username"),
    ({"username": "okname1", "email": "not-an-email", "password": "copper-kettle-91"}, "email"),
    ({"username": "okname2", "email": "x4@example.com", "password": "short"}, "password"),
    ({"username": "okname3", "email": "x5@example.com", "password": "p" * 73}, "password"),
    ({"username": "okname4", "email": "x6@example.com"}, "password"),
    ({"email": "x7@example.com", "password": "copper-kettle-91"}, "username"),
    ({"username": 12345, "email": "x8@example.com", "password": "copper-kettle-91"}, "username"),
    ({"username": "okname5", "email": ["x"], "password": "copper-kettle-91"}, "email"),
    ({"username": "okname6", "email": "x9@example.com", "password": None}, "password"),
])
def test_register_validation(c, body, field):
    err = assert_error(c.post("/api/auth/register", body), 400, "validation_error")
    assert field in err["message"]


@pytest.mark.parametrize("password", ["password", "Password123", "iloveyou", "QWERTYUIOP"])
def test_register_refuses_common_passwords(c, password):
    """NIST SP 800-63B: a password from common/data/common-passwords.txt (any case) is a
    400 validation_error naming the field in words a person understands; no account is made."""
    name = "common_" + secrets.token_hex(4)
    err = assert_error(c.post("/api/auth/register", {
        "username": name, "email": f"{name}@example.com", "password": password}),
        400, "validation_error")
    assert err["message"].startswith("password: ")
    assert "too common" in err["message"]
    r = c.post("/api/auth/register", {"username": name, "email": f"{name}@example.com",
                                      "password": password + "-but-longer-and-mine"})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("raw", [b"{", b"", b"[]", b"\"str\"", b"null", b"{\"a\":1,}",
                                 b"\xff\xfe", b"[" * 5000])
def test_register_malformed_json_is_400(c, raw):
    r = c.req("POST", "/api/auth/register", data=raw,
              headers={"Content-Type": "application/json"})
    assert_error(r, 400, "invalid_json")


def test_register_conflicts_name_the_field(c):
    u = c.register()
    err = assert_error(c.post("/api/auth/register", {
        "username": u["username"].upper(), "email": "other_" + u["email"],
        "password": "copper-kettle-91"}), 409, "username_taken")
    assert "username" in err["message"]
    err = assert_error(c.post("/api/auth/register", {
        "username": "x" + u["username"], "email": u["email"].upper(),
        "password": "copper-kettle-91"}), 409, "email_taken")
    assert "email" in err["message"]


def test_login_success_and_token_claims(c, stack):
    u = c.register()
    r = c.post("/api/auth/login", {"email": u["email"].upper(), "password": "copper-kettle-91"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == {"id": u["id"], "username": u["username"], "email": u["email"]}
    me = c.get("/api/users/me", body["token"])
    assert me.status_code == 200 and me.json()["id"] == u["id"]


def test_login_failures(c):
    u = c.register()
    assert_error(c.post("/api/auth/login", {"email": u["email"], "password": "wrongpass1"}),
                 401, "invalid_credentials")
    assert_error(c.post("/api/auth/login", {"email": "nobody_" + u["email"],
                                            "password": "copper-kettle-91"}),
                 401, "invalid_credentials")
    assert_error(c.post("/api/auth/login", {"email": u["email"]}), 400, "validation_error")
    assert_error(c.post("/api/auth/login", {"email": u["email"], "password": 5}), 400,
                 "validation_error")
    # bcrypt ignores bytes past 72: a longer password must not log in on its prefix
    assert_error(c.post("/api/auth/login", {"email": u["email"],
                                            "password": "copper-kettle-91" + "x" * 70}),
                 401, "invalid_credentials")
    assert_error(c.req("POST", "/api/auth/login", data=b"{nope"), 400, "invalid_json")


def test_refresh_gives_a_fresh_token(c):
    u = c.new_user()
    time.sleep(1.1)  # iat has one-second resolution
    r = c.post("/api/auth/refresh", token=u["token"])
    assert r.status_code == 200, r.text
    tok = r.json()["token"]
    assert tok != u["token"]
    assert c.get("/api/users/me", tok).status_code == 200
    assert_error(c.post("/api/auth/refresh"), 401, "missing_token")


def test_bearer_checks(c, stack):
    u = c.new_user()
    now = int(time.time())
    good = {"sub": u["id"], "username": u["username"], "iat": now, "exp": now + 600,
            "iss": "chat-server"}
    assert c.get("/api/users/me", mint_jwt(stack.jwt_secret, good)).status_code == 200
    assert_error(c.get("/api/users/me"), 401, "missing_token")
    assert_error(c.get("/api/users/me", headers={"Authorization": "Basic abc"}), 401,
                 "invalid_token")
    assert_error(c.get("/api/users/me", "garbage.token.here"), 401, "invalid_token")
    assert_error(c.get("/api/users/me", mint_jwt("x" * 40, good)), 401, "invalid_token")
    assert_error(c.get("/api/users/me", mint_jwt(stack.jwt_secret, good, alg="none")), 401,
                 "invalid_token")
    assert_error(c.get("/api/users/me", mint_jwt(stack.jwt_secret, good,
                                                 header={"alg": "HS512", "typ": "JWT"})),
                 401, "invalid_token")
    expired = dict(good, iat=now - 7200, exp=now - 3600)
    assert_error(c.get("/api/users/me", mint_jwt(stack.jwt_secret, expired)), 401,
                 "token_expired")
    assert_error(c.get("/api/users/me", mint_jwt(stack.jwt_secret, dict(good, iss="evil"))),
                 401, "invalid_token")
    assert_error(c.get("/api/users/me", "x" * 6000), 401, "invalid_token")


def test_token_of_a_deleted_user_is_401(c, stack):
    now = int(time.time())
    ghost = {"sub": new_id(), "username": "ghost", "iat": now, "exp": now + 600,
             "iss": "chat-server"}
    tok = mint_jwt(stack.jwt_secret, ghost)
    assert_error(c.get("/api/users/me", tok), 401, "invalid_token")
    assert_error(c.post("/api/auth/refresh", token=tok), 401, "invalid_token")


def test_register_many_unique_in_parallel(c):
    """Two processes racing on the same username: exactly one wins."""
    from concurrent.futures import ThreadPoolExecutor
    name = "race_" + secrets.token_hex(4)

    def attempt(i):
        return Client(c.stack).post("/api/auth/register", {
            "username": name, "email": f"{name}{i}@example.com", "password": "copper-kettle-91"
        }).status_code

    with ThreadPoolExecutor(6) as ex:
        codes = sorted(ex.map(attempt, range(6)))
    assert codes.count(201) == 1 and codes.count(409) == 5, codes
