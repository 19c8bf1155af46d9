"""nubo-api's token cache across processes (issue 6): a second nubo-api on the same
database next to the stack's, every token made hot in both caches, then a revocation
through one of them (or straight in the database, as nubo-manage would) must be
refused by the other at once: logout, role removed, user disabled, password changed,
project disabled, token cut short."""
import hashlib
import secrets
import time

import pytest

from nubo_e2e import auth_body, extra_api, http_request, wait_for

SERVERS = "/compute/v2.1/servers"
USERS = "/identity/v3/users"  # identity admin only


@pytest.fixture(scope="module")
def second_api(stack, tmp_path_factory):
    """Base URL of a second nubo-api process (own port, same database and config)."""
    with extra_api(stack, tmp_path_factory.mktemp("api2") / "nubo-api.log") as base:
        yield base


def hot(bases, path, tok, status=200):
    """Asks every process twice, so each has the token in its cache."""
    for base in bases:
        for _ in range(2):
            r = http_request(base + path, token=tok)
            assert r.status == status, (base, r)


def refused_everywhere(bases, path, tok, status):
    for base in bases:
        r = http_request(base + path, token=tok)
        assert r.status == status, "%s kept a revoked authority: %r" % (base, r)


@pytest.fixture()
def fresh_user(stack, os_cli, os_run):
    """A new project and user holding admin there; yields (user, project, password)."""
    sfx = secrets.token_hex(3)
    pname, uname, pw = "e2e-tc-p-" + sfx, "e2e-tc-u-" + sfx, "pw-" + secrets.token_hex(8)
    os_cli("project", "create", "--domain", "default", pname)
    os_cli("user", "create", "--domain", "default", "--password", pw, "--project", pname, uname)
    os_run("role", "add", "--user", uname, "--project", pname, "admin")
    yield uname, pname, pw
    os_run("user", "delete", uname, check=False)
    os_run("project", "delete", pname, check=False)


def login(base, user, pw, project):
    r = http_request(base + "/identity/v3/auth/tokens", "POST", auth_body(user, pw, project))
    assert r.status == 201, r
    return r.headers["X-Subject-Token"]


def test_logout_on_one_process_is_refused_by_the_other(stack, second_api):
    both = [stack.api, second_api]
    # repeated: the other process must refuse on the very next request, every time
    for first, other in ((stack.api, second_api), (second_api, stack.api)) * 10:
        tok = stack.token("demo", fresh=True)
        hot(both, SERVERS, tok)
        r = http_request(first + "/identity/v3/auth/tokens", "DELETE", token=tok,
                         headers={"X-Subject-Token": tok})
        assert r.status == 204, r
        refused_everywhere([other, first], SERVERS, tok, 401)


def test_removed_role_leaves_no_stale_authorisation(stack, second_api, fresh_user, os_run):
    user, project, pw = fresh_user
    tok = login(stack.api, user, pw, project)
    both = [stack.api, second_api]
    hot(both, USERS, tok)  # admin: may list users, in both caches
    http_request(second_api + "/identity/v3/auth/tokens", token=tok,
                 headers={"X-Subject-Token": tok})
    os_run("role", "add", "--user", user, "--project", project, "member")
    os_run("role", "remove", "--user", user, "--project", project, "admin")
    # still a member: the token works, but no longer as admin, on either process
    for base in both:
        assert http_request(base + SERVERS, token=tok).status == 200
        r = http_request(base + USERS, token=tok)
        assert r.status == 403, "%s: admin role survived its removal: %r" % (base, r)
        v = http_request(base + "/identity/v3/auth/tokens", token=tok,
                         headers={"X-Subject-Token": tok})
        assert v.status == 200 and [x["name"] for x in v.json["token"]["roles"]] != ["admin"]
        assert "admin" not in [x["name"] for x in v.json["token"]["roles"]], v


def test_user_disable_and_password_change(stack, second_api, fresh_user, os_run):
    user, project, pw = fresh_user
    both = [stack.api, second_api]
    tok = login(second_api, user, pw, project)
    hot(both, SERVERS, tok)
    os_run("user", "set", "--disable", user)
    refused_everywhere(both, SERVERS, tok, 401)
    os_run("user", "set", "--enable", user)
    tok = login(stack.api, user, pw, project)
    hot(both, SERVERS, tok)
    os_run("user", "set", "--password", "pw2-" + secrets.token_hex(8), user)
    refused_everywhere(both, SERVERS, tok, 401)


def test_project_disable(stack, second_api, fresh_user, os_run):
    user, project, pw = fresh_user
    both = [stack.api, second_api]
    tok = login(stack.api, user, pw, project)
    hot(both, SERVERS, tok)
    os_run("project", "set", "--disable", project)
    refused_everywhere(both, SERVERS, tok, 401)
    os_run("project", "set", "--enable", project)


def test_change_made_in_the_database_reaches_both_caches(stack, second_api):
    """What another tool (nubo-manage, psql) changes is followed through the
    revocation events and their notification: refused within a moment everywhere."""
    both = [stack.api, second_api]
    tok = stack.token("demo", fresh=True)
    hot(both, SERVERS, tok)
    h = hashlib.sha256(tok.encode()).hexdigest()
    stack.sql("UPDATE tokens SET expires_at = now() - interval '1 second' WHERE hash = :'p1'", h)
    t0 = time.monotonic()
    for base in both:
        wait_for(lambda: http_request(base + SERVERS, token=tok).status == 401, 2, 0.01,
                 "%s to refuse a token cut short in the database" % base)
    assert time.monotonic() - t0 < 2


def test_group_credential_and_domain_revocations_reach_both_caches(stack, second_api, os_cli,
                                                                    os_run):
    """Issue 7's revocation sources (review F13): leaving a group, a group's grant going,
    an application credential deleted or orphaned by the loss of the role, a domain
    disabled: every hot token is refused by both processes on the next request."""
    both = [stack.api, second_api]
    sfx = secrets.token_hex(3)
    pw = "pw-" + secrets.token_hex(8)
    pname, uname, gname = "e2e-tcg-p-" + sfx, "e2e-tcg-u-" + sfx, "e2e-tcg-g-" + sfx
    p = os_cli("project", "create", "--domain", "default", pname)
    u = os_cli("user", "create", "--domain", "default", "--password", pw, uname)
    g = os_cli("group", "create", "--domain", "default", gname)
    os_run("group", "add", "user", gname, uname)
    os_run("role", "add", "--group", gname, "--project", pname, "member")
    tok = login(stack.api, uname, pw, pname)
    hot(both, SERVERS, tok)
    os_run("group", "remove", "user", gname, uname)
    refused_everywhere(both, SERVERS, tok, 401)
    os_run("group", "add", "user", gname, uname)
    tok = login(second_api, uname, pw, pname)
    hot(both, SERVERS, tok)
    os_run("role", "remove", "--group", gname, "--project", pname, "member")
    refused_everywhere(both, SERVERS, tok, 401)

    os_run("role", "add", "--group", gname, "--project", pname, "member")

    def ac_token(name):
        r = http_request(stack.api + "/identity/v3/users/%s/application_credentials" % u["id"],
                         "POST", {"application_credential": {"name": name}},
                         token=login(stack.api, uname, pw, pname))
        assert r.status == 201, r
        ac = r.json["application_credential"]
        body = {"auth": {"identity": {"methods": ["application_credential"],
                                      "application_credential": {"id": ac["id"],
                                                                 "secret": ac["secret"]}}}}
        r = http_request(second_api + "/identity/v3/auth/tokens", "POST", body)
        assert r.status == 201, r
        return ac, r.headers["X-Subject-Token"]

    ac, actok = ac_token("deleted")
    hot(both, SERVERS, actok)
    r = http_request(second_api + "/identity/v3/users/%s/application_credentials/%s"
                     % (u["id"], ac["id"]), "DELETE", token=stack.token("admin"))
    assert r.status == 204, r
    refused_everywhere(both, SERVERS, actok, 401)
    ac, actok = ac_token("orphaned")
    hot(both, SERVERS, actok)
    os_run("role", "remove", "--group", gname, "--project", pname, "member")
    refused_everywhere(both, SERVERS, actok, 401)
    os_run("group", "delete", g["id"])
    os_run("user", "delete", u["id"])
    os_run("project", "delete", p["id"])

    dname = "e2e-tcg-d-" + sfx
    d = os_cli("domain", "create", dname)
    os_cli("project", "create", "--domain", dname, "p")
    os_cli("user", "create", "--domain", dname, "--password", pw, "u")
    os_run("role", "add", "--user", "u", "--user-domain", dname, "--project", "p",
           "--project-domain", dname, "member")
    r = http_request(stack.api + "/identity/v3/auth/tokens", "POST",
                     auth_body("u", pw, "p", domain=dname))
    assert r.status == 201, r
    tok = r.headers["X-Subject-Token"]
    hot(both, SERVERS, tok)
    os_run("domain", "set", "--disable", d["id"])
    refused_everywhere(both, SERVERS, tok, 401)
    os_run("domain", "delete", d["id"])
