"""The password-hash gate (issue 6): every argon2id in nubo-api (token issue, user
create, a password set by an admin, a user's own password change) passes one bounded
gate, so a burst runs at most [api] password_hashes hashes at once and turns the rest
away with 503 + Retry-After in Keystone's error shape instead of piling up 64 MiB
hashes. A second nubo-api with a gate of one and no queue makes the burst certain:
without the gate every request of the burst would succeed."""
import secrets
import threading

import pytest

from nubo_e2e import assert_error, auth_body, extra_api, http_request

USERS = "/identity/v3/users"
BURST = 8  # nubo-api's request threads: all of them at once


@pytest.fixture(scope="module")
def tight_api(stack, tmp_path_factory):
    with extra_api(stack, tmp_path_factory.mktemp("api-gate") / "nubo-api.log",
                   {"password_hashes": 1, "password_queue": 0}) as base:
        yield base


def burst(fn, n=BURST):
    """Runs fn(i) in n threads released together; returns their results in order."""
    start = threading.Barrier(n)
    out = [None] * n

    def run(i):
        start.wait()
        out[i] = fn(i)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return out


def check_bounded(results, ok):
    """Every result is `ok` or the gate's 503; both kinds occur."""
    codes = sorted(r.status for r in results)
    assert set(codes) <= {ok, 503}, codes
    assert ok in codes, "nothing got through the gate: %s" % codes
    busy = [r for r in results if r.status == 503]
    assert busy, "a burst of %d ran every hash at once (no 503): %s" % (len(results), codes)
    for r in busy:
        assert_error(r, 503)
        assert r.headers.get("Retry-After") == "1", r.headers


def new_user(base, admin, pw):
    name = "e2e-gate-" + secrets.token_hex(4)
    r = http_request(base + USERS, "POST", {"user": {"name": name, "password": pw}},
                     token=admin)
    return name, r


def test_user_create_burst(stack, tight_api):
    admin = stack.token()
    results = burst(lambda i: new_user(tight_api, admin, "pw-%d" % i)[1])
    check_bounded(results, 201)
    for r in results:
        if r.status == 201:
            stack.http("DELETE", USERS + "/" + r.json["user"]["id"], token=admin)
    # the gate lets go: a retry of a refused create succeeds
    name, r = new_user(tight_api, admin, "pw-again")
    assert r.status == 201, r
    stack.http("DELETE", USERS + "/" + r.json["user"]["id"], token=admin)


@pytest.fixture()
def user(stack):
    admin = stack.token()
    pw = "pw-" + secrets.token_hex(8)
    name, r = new_user(stack.api, admin, pw)
    assert r.status == 201, r
    uid = r.json["user"]["id"]
    yield uid, name, pw
    stack.http("DELETE", USERS + "/" + uid, token=admin)


def test_admin_password_set_burst(stack, tight_api, user):
    uid, _, _ = user
    admin = stack.token()
    results = burst(lambda i: http_request(
        tight_api + USERS + "/" + uid, "PATCH", {"user": {"password": "new-%d" % i}},
        token=admin))
    check_bounded(results, 200)


def test_own_password_change_burst(stack, tight_api, user):
    uid, name, pw = user
    # an unscoped token of the user itself (no project role needed)
    body = auth_body(name, pw, None)
    del body["auth"]["scope"]
    r = stack.http("POST", "/identity/v3/auth/tokens", body)
    assert r.status == 201, r
    tok = r.headers["X-Subject-Token"]
    results = burst(lambda i: http_request(
        tight_api + USERS + "/" + uid + "/password", "POST",
        {"user": {"password": "new-%d" % i, "original_password": pw}}, token=tok))
    codes = sorted(r.status for r in results)
    # one verifies and changes (204); the others are turned away by the gate (503), or
    # come after the change, when the original is wrong and the token revoked (401)
    assert set(codes) <= {204, 401, 503}, codes
    assert 503 in codes, "every password check of the burst ran at once: %s" % codes
    for r in results:
        if r.status == 503:
            assert_error(r, 503)
            assert r.headers.get("Retry-After") == "1", r.headers


def test_login_burst(stack, tight_api):
    body = auth_body("admin", stack.password("admin"), "admin")
    results = burst(lambda i: http_request(tight_api + "/identity/v3/auth/tokens", "POST",
                                           body))
    check_bounded(results, 201)
