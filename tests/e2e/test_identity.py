"""Identity v3 through the real openstack CLI and raw HTTP: version discovery, tokens
(issue, validate, revoke), RBAC, and project/user/role administration."""
import hashlib
import secrets
import time

import pytest

from nubo_e2e import assert_error, auth_body, wait_for

SERVERS = "/compute/v2.1/servers"


# ------------------------------------------------------------------ discovery
def test_identity_version_document(http):
    r = http("GET", "/identity/v3")
    assert r.status == 200, r
    v = r.json["version"]
    assert v["id"].startswith("v3.") and v["status"] == "stable"
    assert any(link["rel"] == "self" and link["href"].endswith("/identity/v3/")
               for link in v["links"])
    assert v["media-types"][0]["type"] == "application/vnd.openstack.identity-v3+json"
    assert v["updated"].endswith("Z")


def test_unversioned_identity_root_lists_versions(http):
    r = http("GET", "/identity")
    assert r.status == 300, r
    assert r.json["versions"]["values"][0]["id"].startswith("v3.")


def test_compute_and_image_version_documents(http):
    r = http("GET", "/compute/v2.1")
    assert r.status == 200, r
    assert r.json["version"]["id"] == "v2.1"
    assert r.json["version"]["status"] == "CURRENT"
    r = http("GET", "/compute/")
    assert r.status in (200, 300), r
    ids = [v["id"] for v in r.json["versions"]]
    assert ids[0] == "v2.0" and "v2.1" in ids
    r = http("GET", "/image/")
    assert r.status == 300, r
    assert any(v["id"].startswith("v2") for v in r.json["versions"])


# ------------------------------------------------------------------ tokens
def test_token_issue(os_cli, project_ids):
    t = os_cli("token", "issue")
    assert t["id"] and t["expires"] and t["user_id"]
    assert t["project_id"] == project_ids["admin"]


def test_token_issue_body_has_what_the_clients_need(stack, http):
    r = http("POST", "/identity/v3/auth/tokens", auth_body("demo", stack.password("demo"), "demo"))
    assert r.status == 201, r
    assert len(r.headers["X-Subject-Token"]) >= 32
    t = r.json["token"]
    for k in ("expires_at", "issued_at", "methods", "user", "project", "roles", "catalog"):
        assert k in t, k
    assert t["user"]["name"] == "demo" and t["project"]["name"] == "demo"
    assert t["project"]["id"] and t["user"]["domain"]["id"]
    assert {"member"} <= {role["name"] for role in t["roles"]}
    assert "admin" not in {role["name"] for role in t["roles"]}
    types = {svc["type"] for svc in t["catalog"]}
    assert {"identity", "compute", "image"} <= types
    compute = next(s for s in t["catalog"] if s["type"] == "compute")
    ep = compute["endpoints"][0]
    assert ep["url"].endswith("/compute/v2.1") and ep["region"] == ep["region_id"] == "RegionOne"
    # microseconds and Z, exactly as keystone writes them
    assert len(t["expires_at"]) == len("2024-01-01T00:00:00.000000Z") and t["expires_at"][-1] == "Z"


def test_token_validate_and_revoke(stack, http):
    admin = stack.token("admin")
    tok = stack.token("demo", fresh=True)
    r = http("GET", "/identity/v3/auth/tokens", token=admin, headers={"X-Subject-Token": tok})
    assert r.status == 200, r
    assert r.json["token"]["user"]["name"] == "demo"
    r = http("HEAD", "/identity/v3/auth/tokens", token=admin, headers={"X-Subject-Token": tok})
    assert r.status in (200, 204), r
    assert http("GET", SERVERS, token=tok).status == 200

    r = http("DELETE", "/identity/v3/auth/tokens", token=tok, headers={"X-Subject-Token": tok})
    assert r.status == 204, r
    assert_error(http("GET", SERVERS, token=tok), 401)
    r = http("GET", "/identity/v3/auth/tokens", token=admin, headers={"X-Subject-Token": tok})
    assert r.status in (401, 404), r


def test_tokens_never_look_like_options(stack):
    """A token that began with '-' (base64url allows it) broke `openstack token revoke
    <token>`: argparse took it for an option. 32 fresh tokens must all start with a
    letter."""
    for _ in range(32):
        tok = stack.token("demo", fresh=True)
        assert tok[0].isalpha(), tok


def test_token_revoke_with_the_cli(stack, os_cli, os_run, http):
    tok = os_cli("token", "issue", user="demo")["id"]
    assert http("GET", SERVERS, token=tok).status == 200
    os_run("token", "revoke", tok, user="demo")
    assert_error(http("GET", SERVERS, token=tok), 401)


def test_rescoped_token_never_outlives_its_parent(stack, http):
    parent = stack.token("demo", fresh=True)
    r = http("GET", "/identity/v3/auth/tokens", token=parent, headers={"X-Subject-Token": parent})
    parent_exp = r.json["token"]["expires_at"]
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": parent}},
                     "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}}
    r = http("POST", "/identity/v3/auth/tokens", body)
    assert r.status == 201, r
    child = r.headers["X-Subject-Token"]
    assert r.json["token"]["expires_at"] <= parent_exp, (r.json["token"]["expires_at"], parent_exp)
    # a child of an expired parent dies with it
    h = hashlib.sha256(parent.encode()).hexdigest()
    stack.sql("UPDATE tokens SET expires_at = now() + interval '2 seconds' WHERE hash = :'p1'", h)
    r = http("POST", "/identity/v3/auth/tokens", body)
    assert r.status == 201, r
    grandchild = r.headers["X-Subject-Token"]
    time.sleep(3)
    assert_error(http("GET", SERVERS, token=grandchild), 401)
    assert http("GET", SERVERS, token=child).status == 200


def test_login_without_scope_when_the_default_project_is_disabled(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    pname, uname, pw = "e2e-dp-" + sfx, "e2e-du-" + sfx, "pw-" + secrets.token_hex(8)
    os_cli("project", "create", "--domain", "default", pname)
    os_cli("user", "create", "--domain", "default", "--password", pw, "--project", pname, uname)
    os_run("role", "add", "--user", uname, "--project", pname, "member")
    try:
        os_run("project", "set", "--disable", pname)
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": uname, "domain": {"name": "Default"}, "password": pw}}}}}
        r = http("POST", "/identity/v3/auth/tokens", body)
        assert r.status == 201, r  # an unscoped token, not a 500
        assert "project" not in r.json["token"], r.json
    finally:
        os_run("user", "delete", uname)
        os_run("project", "delete", pname)


def test_path_segments_that_are_not_utf8_are_404(stack, http):
    tok = stack.token("admin")
    for path in ("/compute/v2.1/flavors/%ff", "/compute/v2.1/os-keypairs/%ff",
                 "/identity/v3/users/%ff", "/image/v2/images/%ff",
                 "/compute/v2.1/servers/%ff%0aforged"):
        assert_error(http("GET", path, token=tok), 404)


def test_expired_token_is_401(stack, http):
    tok = stack.token("demo", fresh=True)
    assert http("GET", SERVERS, token=tok).status == 200
    # age the token past its expiry, as the clock would
    h = hashlib.sha256(tok.encode()).hexdigest()
    stack.sql("UPDATE tokens SET expires_at = now() - interval '1 second' WHERE hash = :'p1'", h)
    # a change made beside the API reaches nubo-api's token cache through the
    # revocation events' notification: within milliseconds, not before the next request
    wait_for(lambda: http("GET", SERVERS, token=tok).status == 401, 2, 0.01,
             "nubo-api to follow the token's new expiry")
    assert_error(http("GET", SERVERS, token=tok), 401)
    r = http("GET", "/identity/v3/auth/tokens", token=stack.token("admin"),
             headers={"X-Subject-Token": tok})
    assert_error(r, 404)


@pytest.mark.parametrize("path", [SERVERS, "/compute/v2.1/flavors", "/image/v2/images",
                                  "/identity/v3/projects"])
def test_no_token_is_401(http, path):
    assert_error(http("GET", path), 401)


def test_garbage_token_is_401(http):
    assert_error(http("GET", SERVERS, token="gAAAAA" + secrets.token_hex(40)), 401)
    assert_error(http("GET", SERVERS, token="x" * 5000), 401)


def test_bad_password_is_401(stack, http, os_run):
    r = http("POST", "/identity/v3/auth/tokens", auth_body("admin", "wrong-password", "admin"))
    assert_error(r, 401)
    assert "X-Subject-Token" not in r.headers
    r = http("POST", "/identity/v3/auth/tokens", auth_body("nosuchuser", "x", "admin"))
    assert_error(r, 401)
    proc = os_run("token", "issue", check=False, env={"OS_PASSWORD": "wrong-password"})
    assert proc.returncode != 0
    assert "401" in proc.stderr, proc.stderr


def test_password_of_one_user_does_not_open_another(stack, http):
    r = http("POST", "/identity/v3/auth/tokens", auth_body("admin", stack.password("demo"), "admin"))
    assert_error(r, 401)


def test_member_cannot_scope_to_a_foreign_project(stack, http):
    r = http("POST", "/identity/v3/auth/tokens", auth_body("demo", stack.password("demo"), "admin"))
    assert r.status == 401, r


# ------------------------------------------------------------------ RBAC
def test_member_creating_a_flavor_is_403(stack, http, os_run):
    body = {"flavor": {"name": "e2e-demo-flavor", "ram": 64, "vcpus": 1, "disk": 1}}
    assert_error(http("POST", "/compute/v2.1/flavors", body, token=stack.token("demo")), 403)
    proc = os_run("flavor", "create", "--ram", "64", "--vcpus", "1", "--disk", "1",
                  "e2e-demo-flavor", user="demo", check=False)
    assert proc.returncode != 0
    assert "403" in proc.stderr, proc.stderr
    names = [f["Name"] for f in stack.os_cli("flavor", "list", "--all")]
    assert "e2e-demo-flavor" not in names


def test_member_cannot_administer_identity(stack, http):
    tok = stack.token("demo")
    assert_error(http("GET", "/identity/v3/projects", token=tok), 403)
    assert_error(http("GET", "/identity/v3/users", token=tok), 403)
    body = {"project": {"name": "e2e-evil", "domain_id": "default"}}
    assert_error(http("POST", "/identity/v3/projects", body, token=tok), 403)


def test_roles_exist(os_cli):
    names = {r["Name"] for r in os_cli("role", "list")}
    assert {"admin", "member", "reader"} <= names


# ------------------------------------------------------------------ administration
def test_project_and_user_crud(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    pname, uname, pw = "e2e-p-" + sfx, "e2e-u-" + sfx, "pw-" + secrets.token_hex(8)

    p = os_cli("project", "create", "--domain", "default", "--description", "e2e", pname)
    assert p["name"] == pname and p["enabled"] is True
    assert pname in [x["Name"] for x in os_cli("project", "list")]
    os_run("project", "set", "--description", "changed", pname)
    assert os_cli("project", "show", pname)["description"] == "changed"

    u = os_cli("user", "create", "--domain", "default", "--password", pw,
               "--project", pname, uname)
    assert u["name"] == uname
    assert "password" not in u
    assert uname in [x["Name"] for x in os_cli("user", "list")]
    os_run("role", "add", "--user", uname, "--project", pname, "member")
    ra = os_cli("role", "assignment", "list", "--user", uname, "--project", pname, "--names")
    assert [a["Role"] for a in ra] == ["member"], ra

    # the new user works, and sees only its own (empty) project
    tok = stack.token(uname, project=pname, password=pw)
    r = http("GET", SERVERS, token=tok)
    assert r.status == 200 and r.json["servers"] == [], r

    # disabling the user revokes its tokens and refuses new ones
    os_run("user", "set", "--disable", uname)
    assert_error(http("GET", SERVERS, token=tok), 401)
    r = http("POST", "/identity/v3/auth/tokens", auth_body(uname, pw, pname))
    assert r.status == 401, r
    os_run("user", "set", "--enable", uname)
    tok = stack.token(uname, project=pname, password=pw)

    # removing the role takes the project away
    os_run("role", "remove", "--user", uname, "--project", pname, "member")
    r = http("POST", "/identity/v3/auth/tokens", auth_body(uname, pw, pname))
    assert r.status == 401, r

    # deleting the user revokes what it still holds
    os_run("user", "delete", uname)
    assert_error(http("GET", SERVERS, token=tok), 401)
    assert os_run("user", "show", uname, check=False).returncode != 0

    os_run("project", "delete", pname)
    assert os_run("project", "show", pname, check=False).returncode != 0
    r = http("GET", "/identity/v3/projects/" + p["id"], token=stack.token("admin"))
    assert_error(r, 404)


def test_duplicate_names_conflict(stack, http):
    tok = stack.token("admin")
    r = http("POST", "/identity/v3/projects", {"project": {"name": "demo", "domain_id": "default"}},
             token=tok)
    assert_error(r, 409)
    body = {"user": {"name": "demo", "domain_id": "default", "password": "x" * 12}}
    assert_error(http("POST", "/identity/v3/users", body, token=tok), 409)


def test_malformed_identity_requests_are_400(stack, http):
    assert_error(http("POST", "/identity/v3/auth/tokens", raw=b"not json"), 400)
    assert_error(http("POST", "/identity/v3/auth/tokens", raw=b'{"auth": '), 400)
    assert_error(http("POST", "/identity/v3/auth/tokens", {"auth": "x"}), 400)
    assert_error(http("POST", "/identity/v3/auth/tokens", {"auth": {"identity": {"methods": []}}}),
                 400)
    tok = stack.token("admin")
    assert_error(http("POST", "/identity/v3/projects", raw=b"{[", token=tok), 400)
    assert_error(http("POST", "/identity/v3/projects", {"project": {"name": 7}}, token=tok), 400)


# ------------------------------------------------------------------ issue 7: Keystone gaps
def _admin(stack):
    return stack.token("admin")


def _mk_project(stack, http, name, **extra):
    body = {"project": dict({"name": name, "domain_id": "default"}, **extra)}
    r = http("POST", "/identity/v3/projects", body, token=_admin(stack))
    assert r.status == 201, r
    return r.json["project"]


def _mk_user(stack, http, name, password, **extra):
    body = {"user": dict({"name": name, "password": password}, **extra)}
    r = http("POST", "/identity/v3/users", body, token=_admin(stack))
    assert r.status == 201, r
    return r.json["user"]


def _password_token(http, user_id, password, scope=None):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "id": user_id, "password": password}}}}}
    if scope is not None:
        body["auth"]["scope"] = scope
    return http("POST", "/identity/v3/auth/tokens", body)


def test_description_and_extra_attributes_are_kept(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    p = _mk_project(stack, http, "e2e-x-" + sfx, description="first", colour="blue")
    assert p["description"] == "first" and p["colour"] == "blue", p
    r = http("PATCH", "/identity/v3/projects/" + p["id"],
             {"project": {"size": 3, "description": "second"}}, token=_admin(stack))
    assert r.status == 200, r
    got = http("GET", "/identity/v3/projects/" + p["id"], token=_admin(stack)).json["project"]
    assert (got["description"], got["colour"], got["size"]) == ("second", "blue", 3), got
    u = _mk_user(stack, http, "e2e-xu-" + sfx, "pw-" + sfx, description="a user", team="ops")
    assert u["description"] == "a user" and u["team"] == "ops", u
    shown = os_cli("user", "show", u["id"])
    assert shown["description"] == "a user", shown
    os_run("user", "set", "--description", "changed", u["id"])
    got = http("GET", "/identity/v3/users/" + u["id"], token=_admin(stack)).json["user"]
    assert got["description"] == "changed" and got["team"] == "ops", got
    assert "password" not in got
    os_run("user", "delete", u["id"])
    os_run("project", "delete", p["id"])


def test_project_tags(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    p = os_cli("project", "create", "--domain", "default", "--tag", "red", "--tag", "big",
               "e2e-t-" + sfx)
    pid = p["id"]
    adm = _admin(stack)
    r = http("GET", "/identity/v3/projects/%s/tags" % pid, token=adm)
    assert r.status == 200 and sorted(r.json["tags"]) == ["big", "red"], r
    assert http("GET", "/identity/v3/projects/%s/tags/red" % pid, token=adm).status == 204
    assert_error(http("GET", "/identity/v3/projects/%s/tags/blue" % pid, token=adm), 404)
    assert http("PUT", "/identity/v3/projects/%s/tags/blue" % pid, token=adm).status == 201
    ids = [x["id"] for x in http("GET", "/identity/v3/projects?tags=red,blue",
                                 token=adm).json["projects"]]
    assert ids == [pid], ids
    ids = [x["id"] for x in http("GET", "/identity/v3/projects?tags-any=blue,nosuch",
                                 token=adm).json["projects"]]
    assert ids == [pid], ids
    ids = [x["id"] for x in http("GET", "/identity/v3/projects?not-tags-any=blue",
                                 token=adm).json["projects"]]
    assert pid not in ids
    assert http("DELETE", "/identity/v3/projects/%s/tags/red" % pid, token=adm).status == 204
    r = http("PUT", "/identity/v3/projects/%s/tags" % pid, {"tags": ["a", "b", "a"]}, token=adm)
    assert r.status == 200 and sorted(r.json["tags"]) == ["a", "b"], r
    assert_error(http("PUT", "/identity/v3/projects/%s/tags/a%%2Cb" % pid, token=adm), 400)
    assert http("DELETE", "/identity/v3/projects/%s/tags" % pid, token=adm).status == 204
    assert http("GET", "/identity/v3/projects/" + pid, token=adm).json["project"]["tags"] == []
    os_run("project", "delete", pid)


def test_rescoped_token_keeps_the_original_methods_and_adds_token(stack, http):
    parent = stack.token("demo", fresh=True)
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": parent}},
                     "scope": {"project": {"name": "demo", "domain": {"id": "default"}}}}}
    r = http("POST", "/identity/v3/auth/tokens", body)
    assert r.status == 201, r
    # Keystone's re-scoped token names both the token and what proved the first one
    assert sorted(r.json["token"]["methods"]) == ["password", "token"], r.json["token"]["methods"]
    child = r.headers["X-Subject-Token"]
    r = http("GET", "/identity/v3/auth/tokens", token=child, headers={"X-Subject-Token": child})
    assert sorted(r.json["token"]["methods"]) == ["password", "token"], r.json
    # re-scoped again: still the two, once each
    body["auth"]["identity"]["token"]["id"] = child
    r = http("POST", "/identity/v3/auth/tokens", body)
    assert sorted(r.json["token"]["methods"]) == ["password", "token"], r.json
    # the roles in a token carry the roles' ids, as GET /roles shows them
    roles = {x["name"]: x["id"] for x in http("GET", "/identity/v3/roles",
                                             token=_admin(stack)).json["roles"]}
    assert all(roles[x["name"]] == x["id"] for x in r.json["token"]["roles"]), r.json


def test_password_change_by_the_user_and_reset_by_an_admin(stack, os_run, http):
    sfx = secrets.token_hex(3)
    pw1, pw2, pw3 = ("pw1-" + sfx, "pw2-" + sfx, "pw3-" + sfx)
    u = _mk_user(stack, http, "e2e-pw-" + sfx, pw1)
    r = _password_token(http, u["id"], pw1)
    assert r.status == 201, r
    old = r.headers["X-Subject-Token"]
    # wrong original password: 401, even for an admin's token
    body = {"user": {"original_password": "nope", "password": pw2}}
    assert_error(http("POST", "/identity/v3/users/%s/password" % u["id"], body,
                      token=_admin(stack)), 401)
    # Keystone's self-service change needs no token, only the original password
    body = {"user": {"original_password": pw1, "password": pw2}}
    r = http("POST", "/identity/v3/users/%s/password" % u["id"], body)
    assert r.status == 204, r
    r = http("GET", "/identity/v3/auth/tokens", token=_admin(stack),
             headers={"X-Subject-Token": old})
    assert_error(r, 404)  # the change revoked what the user held
    assert _password_token(http, u["id"], pw1).status == 401
    r = _password_token(http, u["id"], pw2)
    assert r.status == 201, r
    held = r.headers["X-Subject-Token"]
    # an admin resets it with PATCH: the user's tokens go at once
    r = http("PATCH", "/identity/v3/users/" + u["id"], {"user": {"password": pw3}},
             token=_admin(stack))
    assert r.status == 200, r
    r = http("GET", "/identity/v3/auth/tokens", token=_admin(stack),
             headers={"X-Subject-Token": held})
    assert_error(r, 404)
    assert _password_token(http, u["id"], pw3).status == 201
    os_run("user", "delete", u["id"])


def test_domains_names_scopes_disable_and_delete(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    dname = "e2e-dom-" + sfx
    d = os_cli("domain", "create", "--description", "e2e", dname)
    assert d["enabled"] is True and d["name"] == dname
    assert dname in [x["Name"] for x in os_cli("domain", "list")]
    # the same project and user names as in Default: names are unique per domain
    p = os_cli("project", "create", "--domain", dname, "demo")
    assert p["domain_id"] == d["id"]
    pw = "pw-" + sfx
    u = os_cli("user", "create", "--domain", dname, "--password", pw, "demo")
    assert u["domain_id"] == d["id"]
    r = http("POST", "/identity/v3/projects",
             {"project": {"name": "demo", "domain_id": d["id"]}}, token=_admin(stack))
    assert_error(r, 409)
    os_run("role", "add", "--user", u["id"], "--project", p["id"], "member")
    os_run("role", "add", "--user", u["id"], "--domain", d["id"], "admin")
    ids = [x["id"] for x in http("GET", "/identity/v3/projects?domain_id=" + d["id"],
                                 token=_admin(stack)).json["projects"]]
    assert ids == [p["id"]], ids
    ids = [x["id"] for x in http("GET", "/identity/v3/users?domain_id=" + d["id"],
                                 token=_admin(stack)).json["users"]]
    assert ids == [u["id"]], ids
    # log in by names inside the new domain
    r = http("POST", "/identity/v3/auth/tokens", auth_body("demo", pw, "demo", domain=dname))
    assert r.status == 201, r
    t = r.json["token"]
    assert t["project"]["id"] == p["id"] and t["user"]["domain"]["id"] == d["id"], t
    assert t["project"]["domain"] == {"id": d["id"], "name": dname}, t
    ptok = r.headers["X-Subject-Token"]
    # a domain-scoped token
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "demo", "domain": {"name": dname}, "password": pw}}},
        "scope": {"domain": {"name": dname}}}}
    r = http("POST", "/identity/v3/auth/tokens", body)
    assert r.status == 201, r
    t = r.json["token"]
    assert t["domain"] == {"id": d["id"], "name": dname} and "project" not in t, t
    assert "admin" in {x["name"] for x in t["roles"]} and t["catalog"], t
    dtok = r.headers["X-Subject-Token"]
    # no role on Default: no Default-scoped token
    body["auth"]["scope"] = {"domain": {"id": "default"}}
    assert_error(http("POST", "/identity/v3/auth/tokens", body), 401)
    # an enabled domain cannot be deleted
    assert_error(http("DELETE", "/identity/v3/domains/" + d["id"], token=_admin(stack)), 403)
    assert_error(http("DELETE", "/identity/v3/domains/default", token=_admin(stack)), 403)
    assert http("GET", SERVERS, token=ptok).status == 200
    # disabling it ends its users' tokens at once and refuses new ones
    os_run("domain", "set", "--disable", d["id"])
    assert_error(http("GET", SERVERS, token=ptok), 401)
    r = http("GET", "/identity/v3/auth/tokens", token=_admin(stack),
             headers={"X-Subject-Token": dtok})
    assert_error(r, 404)
    assert_error(http("POST", "/identity/v3/auth/tokens",
                      auth_body("demo", pw, "demo", domain=dname)), 401)
    # Default's demo is untouched
    assert http("GET", SERVERS, token=stack.token("demo")).status == 200
    os_run("domain", "delete", d["id"])
    assert_error(http("GET", "/identity/v3/domains/" + d["id"], token=_admin(stack)), 404)
    assert_error(http("GET", "/identity/v3/projects/" + p["id"], token=_admin(stack)), 404)


def test_catalog_comes_from_the_database(stack, os_cli, http):
    cat = os_cli("catalog", "list")
    assert {"identity", "compute", "image"} <= {c["Type"] for c in cat}, cat
    r = http("POST", "/identity/v3/auth/tokens", auth_body("demo", stack.password("demo"), "demo"))
    urls = {s["type"]: s["endpoints"][0]["url"] for s in r.json["token"]["catalog"]}
    pid = r.json["token"]["project"]["id"]
    # what stack.sh registered, per-project URLs filled in with the token's project
    want = {"identity": stack.api + "/identity", "compute": stack.api + "/compute/v2.1",
            "image": stack.api + "/image", "network": stack.api + "/network",
            "volumev3": stack.api + "/volume/v3/" + pid,
            "block-storage": stack.api + "/volume/v3/" + pid}
    assert {t: urls.get(t) for t in want} == want, urls
    assert urls["object-store"].endswith("/v1/AUTH_" + pid), urls
    # S3 is the same proxy's root: one URL for every project (the signature names the user)
    assert urls["s3"] + "/v1/AUTH_" + pid == urls["object-store"], urls
    assert set(urls) == set(want) | {"object-store", "s3"}, urls
    # a per-project URL, added beside the API: the next token's catalog has it
    sfx = secrets.token_hex(3)
    stack.sql("INSERT INTO services (id, type, name) VALUES (:'p1', 'e2e-" + sfx + "', 'x')",
              "svc-" + sfx)
    stack.sql("INSERT INTO endpoints (id, service_id, region_id, interface, url)"
              " VALUES (:'p1', :'p2', 'RegionOne', 'public', 'http://h/v1/AUTH_%(project_id)s')",
              "ep-" + sfx, "svc-" + sfx)
    try:
        def has_it():
            r = http("POST", "/identity/v3/auth/tokens",
                     auth_body("demo", stack.password("demo"), "demo"))
            return any(s["type"] == "e2e-" + sfx and
                       s["endpoints"][0]["url"] == "http://h/v1/AUTH_" + pid
                       for s in r.json["token"]["catalog"])
        wait_for(has_it, 3, 0.05, "the new endpoint in the catalog")
    finally:
        stack.sql("DELETE FROM services WHERE id = :'p1'", "svc-" + sfx)


def test_regions_services_endpoints(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    adm = _admin(stack)
    # what stack.sh registered
    svcs = os_cli("service", "list")
    assert {"identity", "compute", "image"} <= {s["Type"] for s in svcs}, svcs
    eps = os_cli("endpoint", "list", "--service", "compute")
    assert [e["URL"] for e in eps] == [stack.api + "/compute/v2.1"], eps
    assert eps[0]["Region"] == "RegionOne" and eps[0]["Interface"] == "public", eps
    assert "RegionOne" in [x["Region"] for x in os_cli("region", "list")]

    region = "e2e-region-" + sfx
    os_cli("region", "create", "--description", "e2e", region)
    svc = os_cli("service", "create", "--name", "e2e-" + sfx, "--description", "d",
                 "e2e-type-" + sfx)
    assert svc["type"] == "e2e-type-" + sfx and svc["enabled"] is True, svc
    ep = os_cli("endpoint", "create", "--region", region, svc["id"], "internal",
                "http://127.0.0.1:9/x/%(project_id)s")
    assert ep["region"] == region and ep["interface"] == "internal", ep
    # list filters
    r = http("GET", "/identity/v3/services?type=e2e-type-" + sfx, token=adm)
    assert [s["id"] for s in r.json["services"]] == [svc["id"]], r
    for q in ("service_id=" + svc["id"], "region_id=" + region, "interface=internal"):
        r = http("GET", "/identity/v3/endpoints?" + q, token=adm)
        assert ep["id"] in [e["id"] for e in r.json["endpoints"]], (q, r)
    r = http("GET", "/identity/v3/endpoints?interface=admin", token=adm)
    assert ep["id"] not in [e["id"] for e in r.json["endpoints"]], r
    # the catalog of the next token has it, with this project's id in the URL
    r = http("POST", "/identity/v3/auth/tokens", auth_body("demo", stack.password("demo"), "demo"))
    t = r.json["token"]
    mine = [s for s in t["catalog"] if s["type"] == "e2e-type-" + sfx]
    assert mine and mine[0]["endpoints"][0]["url"] == \
        "http://127.0.0.1:9/x/" + t["project"]["id"], t["catalog"]
    # bad input gets Keystone's errors
    body = {"endpoint": {"service_id": svc["id"], "interface": "sideways", "url": "http://h/"}}
    assert_error(http("POST", "/identity/v3/endpoints", body, token=adm), 400)
    body = {"endpoint": {"service_id": "nosuch", "interface": "public", "url": "http://h/"}}
    assert_error(http("POST", "/identity/v3/endpoints", body, token=adm), 400)
    assert_error(http("POST", "/identity/v3/services", {"service": {"name": "x"}}, token=adm), 400)
    assert_error(http("GET", "/identity/v3/services", token=stack.token("demo")), 403)
    assert_error(http("POST", "/identity/v3/regions", {"region": {"id": region}}, token=adm), 409)
    # disabling the endpoint takes it out of the catalog
    os_run("endpoint", "set", "--disable", ep["id"])
    r = http("POST", "/identity/v3/auth/tokens", auth_body("demo", stack.password("demo"), "demo"))
    assert "e2e-type-" + sfx not in [s["type"] for s in r.json["token"]["catalog"]]
    # deleting the service takes its endpoints
    os_run("service", "delete", svc["id"])
    assert_error(http("GET", "/identity/v3/endpoints/" + ep["id"], token=adm), 404)
    os_run("region", "delete", region)
    assert_error(http("GET", "/identity/v3/regions/" + region, token=adm), 404)


def test_groups_membership_and_effective_roles(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    pw = "pw-" + sfx
    p = os_cli("project", "create", "--domain", "default", "e2e-gp-" + sfx)
    u = os_cli("user", "create", "--domain", "default", "--password", pw, "e2e-gu-" + sfx)
    g = os_cli("group", "create", "--domain", "default", "--description", "e2e",
               "e2e-g-" + sfx)
    assert g["name"] == "e2e-g-" + sfx and g["domain_id"] == "default", g
    scope = {"project": {"id": p["id"]}}
    # no role yet: no project token
    assert _password_token(http, u["id"], pw, scope).status == 401
    os_run("group", "add", "user", g["id"], u["id"])
    os_run("role", "add", "--group", g["id"], "--project", p["id"], "member")
    adm = _admin(stack)
    assert http("HEAD", "/identity/v3/groups/%s/users/%s" % (g["id"], u["id"]),
                token=adm).status == 204
    assert [x["id"] for x in http("GET", "/identity/v3/users/%s/groups" % u["id"],
                                  token=adm).json["groups"]] == [g["id"]]
    assert [x["id"] for x in http("GET", "/identity/v3/groups/%s/users" % g["id"],
                                  token=adm).json["users"]] == [u["id"]]
    r = _password_token(http, u["id"], pw, scope)
    assert r.status == 201, r
    assert {"member", "reader"} == {x["name"] for x in r.json["token"]["roles"]}, r.json
    tok = r.headers["X-Subject-Token"]
    assert http("GET", SERVERS, token=tok).status == 200
    # role_assignments: the group's grant, and its effect on the member
    ra = http("GET", "/identity/v3/role_assignments?scope.project.id=" + p["id"],
              token=adm).json["role_assignments"]
    assert [(a.get("group", {}).get("id"), a["scope"]["project"]["id"]) for a in ra] == \
        [(g["id"], p["id"])], ra
    ra = http("GET", "/identity/v3/role_assignments?effective=True&include_names=true&user.id=" +
              u["id"], token=adm).json["role_assignments"]
    # through the group, and with what member implies (reader), as Keystone lists them
    assert sorted((a["user"]["id"], a["role"]["name"], a["scope"]["project"]["name"])
                  for a in ra) == [(u["id"], "member", "e2e-gp-" + sfx),
                                   (u["id"], "reader", "e2e-gp-" + sfx)], ra
    assert all("membership" in a["links"] for a in ra), ra
    # a grant to a group on a domain reaches the member's domain-scoped token
    os_run("role", "add", "--group", g["id"], "--domain", "default", "reader")
    r = _password_token(http, u["id"], pw, {"domain": {"id": "default"}})
    assert r.status == 201 and [x["name"] for x in r.json["token"]["roles"]] == ["reader"], r
    # leaving the group takes the role away within one request (the token cache too)
    os_run("group", "remove", "user", g["id"], u["id"])
    assert_error(http("GET", SERVERS, token=tok), 401)
    assert _password_token(http, u["id"], pw, scope).status == 401
    assert http("HEAD", "/identity/v3/groups/%s/users/%s" % (g["id"], u["id"]),
                token=adm).status == 404
    # back in, then the group's grant goes: the role goes at once as well
    os_run("group", "add", "user", g["id"], u["id"])
    r = _password_token(http, u["id"], pw, scope)
    tok = r.headers["X-Subject-Token"]
    assert http("GET", SERVERS, token=tok).status == 200
    os_run("role", "remove", "--group", g["id"], "--project", p["id"], "member")
    # ... and the member's token, left with no role on its project, is revoked (F4)
    r = http("GET", "/identity/v3/auth/tokens", token=adm, headers={"X-Subject-Token": tok})
    assert_error(r, 404)
    assert_error(http("GET", SERVERS, token=tok), 401)
    # a group's domain grant going revokes the member's domain-scoped token too, and so
    # does a direct domain grant going
    r = _password_token(http, u["id"], pw, {"domain": {"id": "default"}})
    dtok = r.headers["X-Subject-Token"]
    os_run("role", "remove", "--group", g["id"], "--domain", "default", "reader")
    r = http("GET", "/identity/v3/auth/tokens", token=adm, headers={"X-Subject-Token": dtok})
    assert_error(r, 404)
    os_run("role", "add", "--user", u["id"], "--domain", "default", "reader")
    r = _password_token(http, u["id"], pw, {"domain": {"id": "default"}})
    dtok = r.headers["X-Subject-Token"]
    os_run("role", "remove", "--user", u["id"], "--domain", "default", "reader")
    r = http("GET", "/identity/v3/auth/tokens", token=adm, headers={"X-Subject-Token": dtok})
    assert_error(r, 404)
    os_run("group", "delete", g["id"])
    assert_error(http("GET", "/identity/v3/groups/" + g["id"], token=adm), 404)
    os_run("user", "delete", u["id"])
    os_run("project", "delete", p["id"])


def test_application_credentials(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    pw = "pw-" + sfx
    pname, uname = "e2e-acp-" + sfx, "e2e-acu-" + sfx
    p = os_cli("project", "create", "--domain", "default", pname)
    u = os_cli("user", "create", "--domain", "default", "--password", pw, "--project", pname,
               uname)
    os_run("role", "add", "--user", uname, "--project", pname, "member")
    env = {"OS_USERNAME": uname, "OS_PASSWORD": pw, "OS_PROJECT_NAME": pname}
    ac = os_cli("application", "credential", "create", "--role", "reader", "e2e-ac", env=env)
    assert ac["secret"] and ac["project_id"] == p["id"], ac
    assert "reader" in ac["roles"] and "member" not in ac["roles"], ac
    listed = os_cli("application", "credential", "list", env=env)
    assert [x["Name"] for x in listed] == ["e2e-ac"], listed
    assert "secret" not in os_cli("application", "credential", "show", "e2e-ac", env=env)
    # the secret is stored hashed, never as given
    rows = stack.sql("SELECT secret_hash FROM application_credentials WHERE id = :'p1'", ac["id"])
    assert rows[0][0].startswith("$argon2") and ac["secret"] not in rows[0][0], rows
    # authenticate with it: by id, and by name + user
    by_id = {"auth": {"identity": {"methods": ["application_credential"],
                                   "application_credential": {"id": ac["id"],
                                                              "secret": ac["secret"]}}}}
    r = http("POST", "/identity/v3/auth/tokens", by_id)
    assert r.status == 201, r
    t = r.json["token"]
    assert t["methods"] == ["application_credential"] and t["project"]["id"] == p["id"], t
    assert {x["name"] for x in t["roles"]} == {"reader"}, t
    assert t["application_credential"]["id"] == ac["id"], t
    tok = r.headers["X-Subject-Token"]
    by_name = {"auth": {"identity": {"methods": ["application_credential"],
                                     "application_credential": {
                                         "name": "e2e-ac", "secret": ac["secret"],
                                         "user": {"name": uname,
                                                  "domain": {"id": "default"}}}}}}
    assert http("POST", "/identity/v3/auth/tokens", by_name).status == 201
    # the real CLI with the application credential auth type
    # (keystoneauth sends the OS_PROJECT_* scope along: the credential's own project is
    # taken, another one refused, review F5)
    cli_env = {"OS_AUTH_TYPE": "v3applicationcredential",
               "OS_APPLICATION_CREDENTIAL_ID": ac["id"],
               "OS_APPLICATION_CREDENTIAL_SECRET": ac["secret"],
               "OS_PROJECT_NAME": pname, "OS_PROJECT_DOMAIN_NAME": "Default"}
    t = os_cli("token", "issue", env=cli_env)
    assert t["project_id"] == p["id"], t
    cli_env["OS_PROJECT_NAME"] = "admin"
    assert os_run("token", "issue", env=cli_env, check=False).returncode != 0
    # reader only: reading works, writing does not
    assert http("GET", SERVERS, token=tok).status == 200
    assert http("GET", "/image/v2/images", token=tok).status == 200
    body = {"server": {"name": "e2e-ro", "imageRef": "x", "flavorRef": "x"}}
    assert http("POST", SERVERS, body, token=tok).status == 403
    body = {"name": "e2e-ro", "disk_format": "raw", "container_format": "bare"}
    assert http("POST", "/image/v2/images", body, token=tok).status == 403
    # a restricted credential's token cannot make another one
    body = {"application_credential": {"name": "e2e-ac2"}}
    assert_error(http("POST", "/identity/v3/users/%s/application_credentials" % u["id"], body,
                      token=tok), 403)
    # wrong secret, someone else's user: 401 / 403
    bad = {"auth": {"identity": {"methods": ["application_credential"],
                                 "application_credential": {"id": ac["id"], "secret": "x"}}}}
    assert_error(http("POST", "/identity/v3/auth/tokens", bad), 401)
    assert_error(http("POST", "/identity/v3/users/%s/application_credentials" % u["id"], body,
                      token=stack.token("demo")), 403)
    # roles the user does not hold are refused
    r = http("POST", "/identity/v3/users/%s/application_credentials" % u["id"],
             {"application_credential": {"name": "e2e-adm", "roles": [{"name": "admin"}]}},
             token=stack.token(uname, project=pname, password=pw))
    assert_error(r, 404)
    # an expired one is 401
    r = http("POST", "/identity/v3/users/%s/application_credentials" % u["id"],
             {"application_credential": {"name": "e2e-exp", "expires_at": "2001-01-01T00:00:00"}},
             token=stack.token(uname, project=pname, password=pw))
    assert_error(r, 400)
    stack.sql("UPDATE application_credentials SET expires_at = now() - interval '1 second'"
              " WHERE id = :'p1'", ac["id"])
    assert_error(http("POST", "/identity/v3/auth/tokens", by_id), 401)
    stack.sql("UPDATE application_credentials SET expires_at = NULL WHERE id = :'p1'", ac["id"])
    r = http("POST", "/identity/v3/auth/tokens", by_id)
    tok = r.headers["X-Subject-Token"]
    assert http("GET", SERVERS, token=tok).status == 200
    # deleting it ends its tokens at once
    os_run("application", "credential", "delete", "e2e-ac", env=env)
    assert_error(http("GET", SERVERS, token=tok), 401)
    assert_error(http("POST", "/identity/v3/auth/tokens", by_id), 401)
    os_run("user", "delete", uname)
    os_run("project", "delete", pname)


def test_project_hierarchy_custom_roles_and_legacy_region(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    adm = _admin(stack)
    parent = _mk_project(stack, http, "e2e-par-" + sfx)
    assert parent["parent_id"] == "default", parent
    r = http("POST", "/identity/v3/projects",
             {"project": {"name": "e2e-kid-" + sfx, "parent_id": parent["id"]}}, token=adm)
    assert r.status == 201 and r.json["project"]["parent_id"] == parent["id"], r
    kid = r.json["project"]
    assert kid["domain_id"] == "default"
    ids = [p["id"] for p in http("GET", "/identity/v3/projects?parent_id=" + parent["id"],
                                 token=adm).json["projects"]]
    assert ids == [kid["id"]], ids
    r = http("POST", "/identity/v3/projects",
             {"project": {"name": "e2e-orphan-" + sfx, "parent_id": "nosuch"}}, token=adm)
    assert_error(r, 400)
    # a parent is deleted after its children only
    assert_error(http("DELETE", "/identity/v3/projects/" + parent["id"], token=adm), 403)
    # a role of the cloud's own is carried in tokens with its id, and can be renamed
    role = os_cli("role", "create", "e2e-role-" + sfx)
    r = http("PATCH", "/identity/v3/roles/" + role["id"],
             {"role": {"description": "d", "name": "e2e-role2-" + sfx}}, token=adm)
    assert r.status == 200 and r.json["role"]["description"] == "d", r
    assert_error(http("POST", "/identity/v3/roles", {"role": {"name": "a,b"}}, token=adm), 400)
    pw = "pw-" + sfx
    u = _mk_user(stack, http, "e2e-ru-" + sfx, pw)
    os_run("role", "add", "--user", u["id"], "--project", kid["id"], role["id"])
    r = _password_token(http, u["id"], pw, {"project": {"id": kid["id"]}})
    assert r.status == 201, r
    assert r.json["token"]["roles"] == [{"id": role["id"], "name": "e2e-role2-" + sfx}], r.json
    # an endpoint's legacy "region" is made when missing (Keystone's v2 compatibility)
    svc = os_cli("service", "create", "--name", "e2e-s-" + sfx, "e2e-t-" + sfx)
    body = {"endpoint": {"service_id": svc["id"], "interface": "public",
                         "url": "http://127.0.0.1:9/", "region": "e2e-reg-" + sfx}}
    r = http("POST", "/identity/v3/endpoints", body, token=adm)
    assert r.status == 201 and r.json["endpoint"]["region"] == "e2e-reg-" + sfx, r
    assert http("GET", "/identity/v3/regions/e2e-reg-" + sfx, token=adm).status == 200
    body["endpoint"] = {"service_id": svc["id"], "interface": "public",
                        "url": "http://127.0.0.1:9/", "region_id": "e2e-nosuch-" + sfx}
    assert_error(http("POST", "/identity/v3/endpoints", body, token=adm), 400)
    os_run("service", "delete", svc["id"])
    os_run("region", "delete", "e2e-reg-" + sfx)
    os_run("user", "delete", u["id"])
    os_run("role", "delete", role["id"])
    os_run("project", "delete", kid["id"])
    os_run("project", "delete", parent["id"])


def test_credentials_and_os_ec2(stack, os_cli, os_run, http, project_ids):
    adm = _admin(stack)
    demo = stack.token("demo")
    me = http("GET", "/identity/v3/auth/tokens", token=demo,
              headers={"X-Subject-Token": demo}).json["token"]["user"]["id"]
    # OS-EC2 through the CLI, as the demo user for its project
    c = os_cli("ec2", "credentials", "create", "--project", project_ids["demo"], user="demo")
    assert len(c["access"]) == 32 and len(c["secret"]) == 32, c
    assert c["project_id"] == project_ids["demo"], c
    listed = os_cli("ec2", "credentials", "list", user="demo")
    assert c["access"] in [x["Access"] for x in listed], listed
    r = http("GET", "/identity/v3/users/%s/credentials/OS-EC2/%s" % (me, c["access"]), token=demo)
    assert r.status == 200 and r.json["credential"]["secret"] == c["secret"], r
    # the same credential in /v3/credentials, its id the access key's SHA-256
    r = http("GET", "/identity/v3/credentials?type=ec2&user_id=" + me, token=adm)
    cid = hashlib.sha256(c["access"].encode()).hexdigest()
    assert cid in [x["id"] for x in r.json["credentials"]], r
    # no role on the admin project: refused; someone else's: 403
    body = {"tenant_id": project_ids["admin"]}
    assert_error(http("POST", "/identity/v3/users/%s/credentials/OS-EC2" % me, body,
                      token=demo), 401)
    os_run("ec2", "credentials", "delete", c["access"], user="demo")
    r = http("GET", "/identity/v3/users/%s/credentials/OS-EC2/%s" % (me, c["access"]), token=demo)
    assert_error(r, 404)
    # a plain credential, administered by the admin
    cred = os_cli("credential", "create", "--type", "totp", me, "blob-" + secrets.token_hex(4))
    assert cred["type"] == "totp" and cred["user_id"] == me, cred
    os_run("credential", "set", "--type", "totp", "--data", "new-blob", "--user", me, cred["id"])
    r = http("GET", "/identity/v3/credentials/" + cred["id"], token=adm)
    assert r.json["credential"]["blob"] == "new-blob", r
    # an ec2 blob without an access key is refused
    body = {"credential": {"type": "ec2", "user_id": me, "project_id": project_ids["demo"],
                           "blob": "{}"}}
    assert_error(http("POST", "/identity/v3/credentials", body, token=adm), 400)
    os_run("credential", "delete", cred["id"])
    assert_error(http("GET", "/identity/v3/credentials/" + cred["id"], token=adm), 404)


def test_implied_roles_reach_tokens_at_once(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    adm = _admin(stack)
    prior = os_cli("role", "create", "e2e-prior-" + sfx)
    implied = os_cli("role", "create", "e2e-implied-" + sfx)
    r = http("PUT", "/identity/v3/roles/%s/implies/%s" % (prior["id"], implied["id"]), token=adm)
    assert r.status == 201, r
    assert r.json["role_inference"]["implies"]["id"] == implied["id"], r.json
    assert http("HEAD", "/identity/v3/roles/%s/implies/%s" % (prior["id"], implied["id"]),
                token=adm).status == 204
    r = http("GET", "/identity/v3/role_inferences", token=adm)
    names = {(i["prior_role"]["name"], x["name"]) for i in r.json["role_inferences"]
             for x in i["implies"]}
    assert {("admin", "member"), ("member", "reader"),
            ("e2e-prior-" + sfx, "e2e-implied-" + sfx)} <= names, names
    assert_error(http("PUT", "/identity/v3/roles/%s/implies/%s" % (prior["id"], prior["id"]),
                      token=adm), 400)
    pw = "pw-" + sfx
    p = _mk_project(stack, http, "e2e-ip-" + sfx)
    u = _mk_user(stack, http, "e2e-iu-" + sfx, pw)
    os_run("role", "add", "--user", u["id"], "--project", p["id"], prior["id"])
    r = _password_token(http, u["id"], pw, {"project": {"id": p["id"]}})
    tok = r.headers["X-Subject-Token"]
    assert {x["name"] for x in r.json["token"]["roles"]} == \
        {"e2e-prior-" + sfx, "e2e-implied-" + sfx}, r.json
    # the rule goes: a token that was validated before loses the implied role at once
    r = http("GET", "/identity/v3/auth/tokens", token=adm, headers={"X-Subject-Token": tok})
    assert len(r.json["token"]["roles"]) == 2
    assert http("DELETE", "/identity/v3/roles/%s/implies/%s" % (prior["id"], implied["id"]),
                token=adm).status == 204
    r = http("GET", "/identity/v3/auth/tokens", token=adm, headers={"X-Subject-Token": tok})
    assert [x["name"] for x in r.json["token"]["roles"]] == ["e2e-prior-" + sfx], r.json
    os_run("user", "delete", u["id"])
    os_run("project", "delete", p["id"])
    os_run("role", "delete", prior["id"])
    os_run("role", "delete", implied["id"])


def test_policy_store(stack, http):
    adm = _admin(stack)
    body = {"policy": {"type": "application/json", "blob": '{"a": "rule:b"}', "owner": "e2e"}}
    r = http("POST", "/identity/v3/policies", body, token=adm)
    assert r.status == 201 and r.json["policy"]["blob"] == '{"a": "rule:b"}', r
    pid = r.json["policy"]["id"]
    assert r.json["policy"]["owner"] == "e2e", r.json
    r = http("PATCH", "/identity/v3/policies/" + pid, {"policy": {"type": "text/x"}}, token=adm)
    assert r.status == 200 and r.json["policy"]["type"] == "text/x", r
    assert pid in [p["id"] for p in http("GET", "/identity/v3/policies?type=text/x",
                                         token=adm).json["policies"]]
    assert_error(http("GET", "/identity/v3/policies", token=stack.token("demo")), 403)
    assert_error(http("POST", "/identity/v3/policies", {"policy": {"type": "x"}}, token=adm), 400)
    assert http("DELETE", "/identity/v3/policies/" + pid, token=adm).status == 204
    assert_error(http("GET", "/identity/v3/policies/" + pid, token=adm), 404)


# ------------------------------------------------------------------ review fixes
def _domain_with_user(stack, os_cli, os_run, role, sfx):
    """A new domain, a user of it holding ROLE on the domain only; returns (domain, user,
    password, domain-scoped token)."""
    d = os_cli("domain", "create", "e2e-dsc-%s-%s" % (role, sfx))
    pw = "pw-" + sfx
    u = os_cli("user", "create", "--domain", d["id"], "--password", pw, "u-" + role)
    os_run("role", "add", "--user", u["id"], "--domain", d["id"], role)
    return d, u, pw


def _domain_token(http, user_id, pw, domain_id):
    r = _password_token(http, user_id, pw, {"domain": {"id": domain_id}})
    assert r.status == 201 and "project" not in r.json["token"], r
    return r.headers["X-Subject-Token"]


def _drop_domain(os_run, d):
    os_run("domain", "set", "--disable", d["id"])
    os_run("domain", "delete", d["id"])


def test_domain_scoped_tokens_reach_no_project_service(stack, os_cli, os_run, http):
    """Review F1/F2: a domain's roles count in no project. A domain member gets 403 from
    image and compute (it once created 'private' images with owner '' that every other
    domain-scoped caller saw); a domain admin is no cloud admin."""
    sfx = secrets.token_hex(3)
    d1, member, pw1 = _domain_with_user(stack, os_cli, os_run, "member", sfx)
    d2, admin, pw2 = _domain_with_user(stack, os_cli, os_run, "admin", sfx)
    mtok = _domain_token(http, member["id"], pw1, d1["id"])
    body = {"name": "e2e-dsc-" + sfx, "visibility": "private", "disk_format": "raw",
            "container_format": "bare"}
    r = http("POST", "/image/v2/images", body, token=mtok)
    assert r.status == 403, r
    assert http("GET", "/image/v2/images", token=mtok).status == 403
    assert http("GET", SERVERS, token=mtok).status == 403
    assert http("GET", SERVERS + "/detail", token=mtok).status == 403
    assert not stack.sql("SELECT id FROM images WHERE name = :'p1'", "e2e-dsc-" + sfx)
    atok = _domain_token(http, admin["id"], pw2, d2["id"])
    assert_error(http("GET", "/identity/v3/users", token=atok), 403)
    r = http("PATCH", "/identity/v3/users/" + member["id"], {"user": {"password": "owned-1"}},
             token=atok)
    assert_error(r, 403)
    assert http("GET", SERVERS + "/detail?all_tenants=1", token=atok).status == 403
    assert http("GET", "/image/v2/images", token=atok).status == 403
    # the member's password is unchanged
    _domain_token(http, member["id"], pw1, d1["id"])
    # a project-scoped admin token still is the cloud admin
    assert http("GET", "/identity/v3/users", token=_admin(stack)).status == 200
    _drop_domain(os_run, d1)
    _drop_domain(os_run, d2)


def _ac_create(http, tok, user_id, name, roles=None):
    body = {"application_credential": {"name": name}}
    if roles is not None:
        body["application_credential"]["roles"] = [{"name": x} for x in roles]
    r = http("POST", "/identity/v3/users/%s/application_credentials" % user_id, body, token=tok)
    assert r.status == 201, r
    return r.json["application_credential"]


def _ac_auth(http, ac, scope=None, methods=None):
    body = {"auth": {"identity": {"methods": ["application_credential"],
                                  "application_credential": {"id": ac["id"],
                                                             "secret": ac["secret"]}}}}
    if scope is not None:
        body["auth"]["scope"] = scope
    return http("POST", "/identity/v3/auth/tokens", body)


def _ac_names(stack, http, user_id):
    r = http("GET", "/identity/v3/users/%s/application_credentials" % user_id,
             token=_admin(stack))
    assert r.status == 200, r
    return sorted(x["name"] for x in r.json["application_credentials"])


def test_application_credentials_go_with_the_last_role(stack, os_cli, os_run, http):
    """Review F15: a user's application credentials on a project are deleted (their
    tokens revoked) when the user's last role there goes, whether by a direct grant, a
    group's grant or leaving the group; a later grant does not revive them. A role left
    through another path keeps them."""
    sfx = secrets.token_hex(3)
    pw = "pw-" + sfx
    adm = _admin(stack)
    p = os_cli("project", "create", "--domain", "default", "e2e-acr-" + sfx)
    u = os_cli("user", "create", "--domain", "default", "--password", pw, "e2e-acr-" + sfx)
    g = os_cli("group", "create", "--domain", "default", "e2e-acr-" + sfx)
    scope = {"project": {"id": p["id"]}}

    def user_token():
        r = _password_token(http, u["id"], pw, scope)
        assert r.status == 201, r
        return r.headers["X-Subject-Token"]

    def alive(tok):
        return http("GET", "/identity/v3/auth/tokens", token=adm,
                    headers={"X-Subject-Token": tok}).status == 200

    # a direct grant goes
    os_run("role", "add", "--user", u["id"], "--project", p["id"], "member")
    ac = _ac_create(http, user_token(), u["id"], "direct")
    r = _ac_auth(http, ac)
    assert r.status == 201, r
    actok = r.headers["X-Subject-Token"]
    os_run("role", "remove", "--user", u["id"], "--project", p["id"], "member")
    assert _ac_names(stack, http, u["id"]) == []
    assert not alive(actok)
    assert_error(http("GET", SERVERS, token=actok), 401)
    os_run("role", "add", "--user", u["id"], "--project", p["id"], "member")
    assert_error(_ac_auth(http, ac), 401)
    # with the direct grant still there, a group's grant going keeps it
    os_run("group", "add", "user", g["id"], u["id"])
    os_run("role", "add", "--group", g["id"], "--project", p["id"], "reader")
    ac = _ac_create(http, user_token(), u["id"], "kept")
    os_run("role", "remove", "--group", g["id"], "--project", p["id"], "reader")
    assert _ac_names(stack, http, u["id"]) == ["kept"]
    assert _ac_auth(http, ac).status == 201
    # only the group's grant left: it goes, and the credential with it
    os_run("role", "add", "--group", g["id"], "--project", p["id"], "member")
    os_run("role", "remove", "--user", u["id"], "--project", p["id"], "member")
    assert _ac_names(stack, http, u["id"]) == ["kept"]
    actok = _ac_auth(http, ac).headers["X-Subject-Token"]
    os_run("role", "remove", "--group", g["id"], "--project", p["id"], "member")
    assert _ac_names(stack, http, u["id"]) == []
    assert not alive(actok)
    # the group keeps its grant, the user leaves the group
    os_run("role", "add", "--group", g["id"], "--project", p["id"], "member")
    ac = _ac_create(http, user_token(), u["id"], "via-group")
    actok = _ac_auth(http, ac).headers["X-Subject-Token"]
    assert http("GET", SERVERS, token=actok).status == 200
    os_run("group", "remove", "user", g["id"], u["id"])
    assert _ac_names(stack, http, u["id"]) == []
    assert_error(http("GET", SERVERS, token=actok), 401)
    os_run("group", "add", "user", g["id"], u["id"])
    assert_error(_ac_auth(http, ac), 401)
    os_run("group", "delete", g["id"])
    os_run("user", "delete", u["id"])
    os_run("project", "delete", p["id"])


def test_application_credential_defaults_to_the_tokens_roles(stack, os_cli, os_run, http):
    """Review F6: a credential made without `roles` takes the caller token's roles; from
    a reader-only (unrestricted) credential's token that is reader, never the member
    the user holds. Asking for a role the token lacks is refused the same way."""
    sfx = secrets.token_hex(3)
    pw = "pw-" + sfx
    p = os_cli("project", "create", "--domain", "default", "e2e-acd-" + sfx)
    u = os_cli("user", "create", "--domain", "default", "--password", pw, "e2e-acd-" + sfx)
    os_run("role", "add", "--user", u["id"], "--project", p["id"], "member")
    r = _password_token(http, u["id"], pw, {"project": {"id": p["id"]}})
    ptok = r.headers["X-Subject-Token"]
    # from a password token: everything the token holds
    full = _ac_create(http, ptok, u["id"], "full")
    assert sorted(x["name"] for x in full["roles"]) == ["member", "reader"], full
    body = {"application_credential": {"name": "ro", "unrestricted": True,
                                       "roles": [{"name": "reader"}]}}
    r = http("POST", "/identity/v3/users/%s/application_credentials" % u["id"], body,
             token=ptok)
    assert r.status == 201, r
    ro = r.json["application_credential"]
    r = _ac_auth(http, ro)
    assert r.status == 201 and [x["name"] for x in r.json["token"]["roles"]] == ["reader"], r
    rotok = r.headers["X-Subject-Token"]
    child = _ac_create(http, rotok, u["id"], "child")
    assert [x["name"] for x in child["roles"]] == ["reader"], child
    r = _ac_auth(http, child)
    assert r.status == 201 and [x["name"] for x in r.json["token"]["roles"]] == ["reader"], r
    assert http("POST", SERVERS, {"server": {"name": "x", "imageRef": "x", "flavorRef": "x"}},
                token=r.headers["X-Subject-Token"]).status == 403
    body = {"application_credential": {"name": "up", "roles": [{"name": "member"}]}}
    assert_error(http("POST", "/identity/v3/users/%s/application_credentials" % u["id"], body,
                      token=rotok), 404)
    os_run("user", "delete", u["id"])
    os_run("project", "delete", p["id"])


def test_application_credential_token_keeps_its_project(stack, os_cli, os_run, http,
                                                        project_ids):
    """Review F5: a token from an application credential is scoped to the credential's
    project only. Asking for another project (or a domain, or unscoped), by the
    application_credential method or by re-scoping its token, is 401, never a token
    of the credential's project in place of the one asked for."""
    sfx = secrets.token_hex(3)
    pw = "pw-" + sfx
    p = os_cli("project", "create", "--domain", "default", "e2e-acs-" + sfx)
    u = os_cli("user", "create", "--domain", "default", "--password", pw, "e2e-acs-" + sfx)
    os_run("role", "add", "--user", u["id"], "--project", p["id"], "member")
    os_run("role", "add", "--user", u["id"], "--project", project_ids["demo"], "member")
    os_run("role", "add", "--user", u["id"], "--domain", "default", "reader")
    r = _password_token(http, u["id"], pw, {"project": {"id": p["id"]}})
    ac = _ac_create(http, r.headers["X-Subject-Token"], u["id"], "scoped")
    other = {"project": {"id": project_ids["demo"]}}
    assert_error(_ac_auth(http, ac, other), 401)
    assert_error(_ac_auth(http, ac, {"domain": {"id": "default"}}), 401)
    assert_error(_ac_auth(http, ac, "unscoped"), 401)
    # its own project, by id or by name, is fine
    r = _ac_auth(http, ac, {"project": {"id": p["id"]}})
    assert r.status == 201 and r.json["token"]["project"]["id"] == p["id"], r
    r = _ac_auth(http, ac, {"project": {"name": p["name"], "domain": {"id": "default"}}})
    assert r.status == 201 and r.json["token"]["project"]["id"] == p["id"], r
    actok = r.headers["X-Subject-Token"]

    def rescope(scope):
        body = {"auth": {"identity": {"methods": ["token"], "token": {"id": actok}}}}
        if scope is not None:
            body["auth"]["scope"] = scope
        return http("POST", "/identity/v3/auth/tokens", body)

    assert_error(rescope(other), 401)
    assert_error(rescope({"domain": {"id": "default"}}), 401)
    r = rescope({"project": {"id": p["id"]}})
    assert r.status == 201 and r.json["token"]["project"]["id"] == p["id"], r
    assert [x["name"] for x in r.json["token"]["roles"]] == ["member", "reader"], r.json
    r = rescope(None)
    assert r.status == 201 and r.json["token"]["project"]["id"] == p["id"], r
    os_run("user", "delete", u["id"])
    os_run("project", "delete", p["id"])


def test_region_parents_form_no_cycle(stack, http):
    """Review F9: a region's new parent must not descend from it (Keystone: 400)."""
    sfx = secrets.token_hex(3)
    adm = _admin(stack)
    ra, rb, rc = ("e2e-r%s-%s" % (x, sfx) for x in "abc")
    assert http("POST", "/identity/v3/regions", {"region": {"id": ra}}, token=adm).status == 201
    for child, parent in ((rb, ra), (rc, rb)):
        r = http("POST", "/identity/v3/regions",
                 {"region": {"id": child, "parent_region_id": parent}}, token=adm)
        assert r.status == 201, r
    for parent in (ra, rb, rc):
        r = http("PATCH", "/identity/v3/regions/" + ra,
                 {"region": {"parent_region_id": parent}}, token=adm)
        assert_error(r, 400)
    r = http("GET", "/identity/v3/regions/" + ra, token=adm)
    assert r.json["region"]["parent_region_id"] is None, r
    # a move that closes no cycle is fine
    r = http("PATCH", "/identity/v3/regions/" + rc, {"region": {"parent_region_id": ra}},
             token=adm)
    assert r.status == 200 and r.json["region"]["parent_region_id"] == ra, r
    assert_error(http("PATCH", "/identity/v3/regions/" + ra,
                      {"region": {"parent_region_id": "e2e-nosuch-" + sfx}}, token=adm), 404)
    for reg in (rc, rb, ra):
        assert http("DELETE", "/identity/v3/regions/" + reg, token=adm).status == 204


def test_role_description_is_kept(stack, os_cli, os_run, http):
    """Review F10: a role's description is stored on create and shown (Tempest's role
    tests compare it), by the API and the CLI."""
    sfx = secrets.token_hex(3)
    adm = _admin(stack)
    r = http("POST", "/identity/v3/roles",
             {"role": {"name": "e2e-rd-" + sfx, "description": "first"}}, token=adm)
    assert r.status == 201 and r.json["role"]["description"] == "first", r
    rid = r.json["role"]["id"]
    got = http("GET", "/identity/v3/roles/" + rid, token=adm).json["role"]
    assert got["description"] == "first", got
    listed = http("GET", "/identity/v3/roles", token=adm).json["roles"]
    assert [x["description"] for x in listed if x["id"] == rid] == ["first"], listed
    role = os_cli("role", "create", "--description", "by cli", "e2e-rdc-" + sfx)
    assert os_cli("role", "show", role["id"])["description"] == "by cli"
    os_run("role", "delete", role["id"])
    os_run("role", "delete", rid)


def test_effective_without_a_value_lists_implied_roles(stack, http, project_ids):
    """Tempest's client asks `role_assignments?...&effective` (no value): that is the
    effective list, with the roles the grants imply (test_roles'
    test_assignments_for_implied_roles_create_delete)."""
    adm = _admin(stack)
    u = _mk_user(stack, http, "e2e-eff-" + secrets.token_hex(3), "pw-" + secrets.token_hex(4))
    member = http("GET", "/identity/v3/roles?name=member", token=adm).json["roles"][0]["id"]
    r = http("PUT", "/identity/v3/projects/%s/users/%s/roles/%s" % (
        project_ids["demo"], u["id"], member), token=adm)
    assert r.status == 204, r
    q = "/identity/v3/role_assignments?scope.project.id=%s&user.id=%s" % (
        project_ids["demo"], u["id"])
    names = {}
    for suffix in ("", "&effective", "&effective=true"):
        r = http("GET", q + suffix + "&include_names=true", token=adm)
        assert r.status == 200, r
        names[suffix] = sorted(a["role"]["name"] for a in r.json["role_assignments"])
    assert names[""] == ["member"], names
    assert names["&effective"] == names["&effective=true"], names
    assert names["&effective"] == ["member", "reader"], names
    assert http("DELETE", "/identity/v3/users/" + u["id"], token=adm).status == 204


def test_deleting_a_role_takes_the_credentials_it_alone_held_up(stack, os_cli, os_run, http):
    """Review F15, the last path: a custom role deleted takes its grants with it, and
    with them the application credentials of users left with no role on the project."""
    sfx = secrets.token_hex(3)
    pw = "pw-" + sfx
    p = os_cli("project", "create", "--domain", "default", "e2e-acx-" + sfx)
    u = os_cli("user", "create", "--domain", "default", "--password", pw, "e2e-acx-" + sfx)
    role = os_cli("role", "create", "e2e-acx-" + sfx)
    os_run("role", "add", "--user", u["id"], "--project", p["id"], role["id"])
    r = _password_token(http, u["id"], pw, {"project": {"id": p["id"]}})
    ac = _ac_create(http, r.headers["X-Subject-Token"], u["id"], "custom")
    r = _ac_auth(http, ac)
    assert r.status == 201, r
    actok = r.headers["X-Subject-Token"]
    os_run("role", "delete", role["id"])
    assert _ac_names(stack, http, u["id"]) == []
    r = http("GET", "/identity/v3/auth/tokens", token=_admin(stack),
             headers={"X-Subject-Token": actok})
    assert_error(r, 404)
    os_run("role", "add", "--user", u["id"], "--project", p["id"], "member")
    assert_error(_ac_auth(http, ac), 401)
    os_run("user", "delete", u["id"])
    os_run("project", "delete", p["id"])


def test_leaving_or_deleting_a_group_cleans_what_it_held_up(stack, os_cli, os_run, http):
    """Review F4/F15 for groups: leaving a group revokes the member's domain-scoped
    token left with no role too; deleting a group revokes its members' project and
    domain tokens left with no role and deletes their application credentials there."""
    sfx = secrets.token_hex(3)
    pw = "pw-" + sfx
    adm = _admin(stack)
    p = os_cli("project", "create", "--domain", "default", "e2e-gd-" + sfx)
    u = os_cli("user", "create", "--domain", "default", "--password", pw, "e2e-gd-" + sfx)
    g = os_cli("group", "create", "--domain", "default", "e2e-gd-" + sfx)
    os_run("group", "add", "user", g["id"], u["id"])
    os_run("role", "add", "--group", g["id"], "--project", p["id"], "member")
    os_run("role", "add", "--group", g["id"], "--domain", "default", "reader")

    def tokens():
        r = _password_token(http, u["id"], pw, {"project": {"id": p["id"]}})
        assert r.status == 201, r
        ptok = r.headers["X-Subject-Token"]
        r = _password_token(http, u["id"], pw, {"domain": {"id": "default"}})
        assert r.status == 201, r
        return ptok, r.headers["X-Subject-Token"]

    def gone(tok):
        r = http("GET", "/identity/v3/auth/tokens", token=adm, headers={"X-Subject-Token": tok})
        return r.status == 404

    ptok, dtok = tokens()
    os_run("group", "remove", "user", g["id"], u["id"])
    assert gone(ptok) and gone(dtok)
    os_run("group", "add", "user", g["id"], u["id"])
    ptok, dtok = tokens()
    ac = _ac_create(http, ptok, u["id"], "grouped")
    actok = _ac_auth(http, ac).headers["X-Subject-Token"]
    os_run("group", "delete", g["id"])
    assert gone(ptok) and gone(dtok) and gone(actok)
    assert _ac_names(stack, http, u["id"]) == []
    os_run("user", "delete", u["id"])
    os_run("project", "delete", p["id"])


# ------------------------------------------------- issue 7: inheritance, system, domain roles
def _token_roles(r):
    return sorted(x["name"] for x in r.json["token"].get("roles", []))


def test_inherited_grants_reach_the_projects_below(stack, os_cli, os_run, http):
    """OS-INHERIT: a role inherited from a domain reaches every project of the domain,
    one inherited from a project reaches its subtree but not the project itself; both
    show in project tokens and role_assignments?effective, and go when revoked."""
    sfx = secrets.token_hex(3)
    pw = "pw-" + sfx
    adm = _admin(stack)
    d = os_cli("domain", "create", "e2e-inh-" + sfx)
    top = os_cli("project", "create", "--domain", d["id"], "e2e-inh-top-" + sfx)
    leaf = os_cli("project", "create", "--domain", d["id"], "--parent", top["id"],
                  "e2e-inh-leaf-" + sfx)
    u = os_cli("user", "create", "--domain", d["id"], "--password", pw, "e2e-inh-u-" + sfx)
    g = os_cli("group", "create", "--domain", d["id"], "e2e-inh-g-" + sfx)
    os_run("group", "add", "user", g["id"], u["id"])
    assert _password_token(http, u["id"], pw, {"project": {"id": leaf["id"]}}).status == 401
    # inherited from the domain (the real CLI's --inherited), to the user
    os_run("role", "add", "--inherited", "--user", u["id"], "--domain", d["id"], "reader")
    base = "/identity/v3/OS-INHERIT/domains/%s/users/%s/roles" % (d["id"], u["id"])
    r = http("GET", base + "/inherited_to_projects", token=adm)
    assert [x["name"] for x in r.json["roles"]] == ["reader"], r.json
    rid = r.json["roles"][0]["id"]
    assert http("HEAD", base + "/%s/inherited_to_projects" % rid, token=adm).status == 204
    for p in (top, leaf):
        r = _password_token(http, u["id"], pw, {"project": {"id": p["id"]}})
        assert r.status == 201 and _token_roles(r) == ["reader"], r
    # but not on the domain itself
    assert _password_token(http, u["id"], pw, {"domain": {"id": d["id"]}}).status == 401
    ra = http("GET", "/identity/v3/role_assignments?user.id=" + u["id"],
              token=adm).json["role_assignments"]
    assert [a["scope"] for a in ra] == [{"domain": {"id": d["id"]},
                                         "OS-INHERIT:inherited_to": "projects"}], ra
    ra = http("GET", "/identity/v3/role_assignments?effective&user.id=%s&scope.project.id=%s"
              % (u["id"], leaf["id"]), token=adm).json["role_assignments"]
    assert [(a["role"]["id"], a["scope"]) for a in ra] == [(rid, {"project": {"id": leaf["id"]}})]
    assert ra[0]["links"]["assignment"].endswith(base + "/%s/inherited_to_projects" % rid), ra
    # the CLI's own view of it
    eff = os_cli("role", "assignment", "list", "--effective", "--user", u["id"],
                 "--project", top["id"])
    assert [a["Role"] for a in eff] == [rid], eff
    # revoked: gone from tokens at once, and from the effective list
    tok = _password_token(http, u["id"], pw, {"project": {"id": leaf["id"]}}).headers[
        "X-Subject-Token"]
    os_run("role", "remove", "--inherited", "--user", u["id"], "--domain", d["id"], "reader")
    assert_error(http("GET", base + "/%s/inherited_to_projects" % rid, token=adm), 404)
    assert_error(http("GET", "/identity/v3/auth/tokens", token=adm,
                      headers={"X-Subject-Token": tok}), 404)
    assert http("GET", "/identity/v3/role_assignments?effective&user.id=" + u["id"],
                token=adm).json["role_assignments"] == []
    # inherited from a project, to the group: the subtree only
    gbase = "/identity/v3/OS-INHERIT/projects/%s/groups/%s/roles/%s/inherited_to_projects" % (
        top["id"], g["id"], rid)
    assert http("PUT", gbase, token=adm).status == 204
    assert http("HEAD", gbase, token=adm).status == 204
    r = _password_token(http, u["id"], pw, {"project": {"id": leaf["id"]}})
    assert r.status == 201 and _token_roles(r) == ["reader"], r
    assert _password_token(http, u["id"], pw, {"project": {"id": top["id"]}}).status == 401
    auth_projects = http("GET", "/identity/v3/auth/projects",
                         token=r.headers["X-Subject-Token"]).json["projects"]
    assert [p["id"] for p in auth_projects] == [leaf["id"]], auth_projects
    assert http("DELETE", gbase, token=adm).status == 204
    assert_error(http("DELETE", gbase, token=adm), 404)
    # errors: unknown target, actor, role; a member may not grant
    bogus = "0" * 32
    assert_error(http("PUT", "/identity/v3/OS-INHERIT/domains/%s/users/%s/roles/%s/"
                      "inherited_to_projects" % (bogus, u["id"], rid), token=adm), 404)
    assert_error(http("PUT", "/identity/v3/OS-INHERIT/domains/%s/users/%s/roles/%s/"
                      "inherited_to_projects" % (d["id"], u["id"], bogus), token=adm), 404)
    assert_error(http("PUT", base + "/%s/inherited_to_projects" % rid,
                      token=stack.token("demo")), 403)
    os_run("user", "delete", u["id"])
    os_run("group", "delete", g["id"])
    os_run("project", "delete", leaf["id"])
    os_run("project", "delete", top["id"])
    os_run("domain", "set", "--disable", d["id"])
    os_run("domain", "delete", d["id"])


def test_system_scope_grants_and_tokens(stack, os_cli, os_run, http):
    """A role on the system (PUT /v3/system/users/{u}/roles/{r}) gives system-scoped
    tokens; a system reader may read identity administration but not write it."""
    sfx = secrets.token_hex(3)
    pw = "pw-" + sfx
    adm = _admin(stack)
    u = os_cli("user", "create", "--domain", "default", "--password", pw, "e2e-sys-" + sfx)
    scope = {"system": {"all": True}}
    assert _password_token(http, u["id"], pw, scope).status == 401
    os_run("role", "add", "--system", "all", "--user", u["id"], "reader")
    roles = http("GET", "/identity/v3/system/users/%s/roles" % u["id"], token=adm).json["roles"]
    assert [x["name"] for x in roles] == ["reader"], roles
    rid = roles[0]["id"]
    assert http("HEAD", "/identity/v3/system/users/%s/roles/%s" % (u["id"], rid),
                token=adm).status == 204
    r = _password_token(http, u["id"], pw, scope)
    assert r.status == 201, r
    assert r.json["token"]["system"] == {"all": True} and "project" not in r.json["token"]
    assert _token_roles(r) == ["reader"], r.json
    tok = r.headers["X-Subject-Token"]
    # validation answers the same scope
    v = http("GET", "/identity/v3/auth/tokens", token=adm, headers={"X-Subject-Token": tok})
    assert v.status == 200 and v.json["token"]["system"] == {"all": True}, v
    # a system reader reads identity administration, writes nothing, reaches no project
    assert http("GET", "/identity/v3/OS-EP-FILTER/endpoint_groups", token=tok).status == 200
    assert_error(http("POST", "/identity/v3/OS-OAUTH1/consumers", {"consumer": {}},
                      token=tok), 403)
    assert_error(http("GET", SERVERS, token=tok), 403)
    ra = http("GET", "/identity/v3/role_assignments?scope.system=all&user.id=" + u["id"],
              token=adm).json["role_assignments"]
    assert [(a["scope"], a["role"]["id"]) for a in ra] == [({"system": {"all": True}}, rid)], ra
    assert_error(http("GET", "/identity/v3/role_assignments?scope.system=some", token=adm), 400)
    # the CLI asks for a system-scoped token the same way
    env = {"OS_USERNAME": u["name"], "OS_PASSWORD": pw, "OS_USER_DOMAIN_NAME": "Default",
           "OS_SYSTEM_SCOPE": "all", "OS_PROJECT_NAME": "", "OS_PROJECT_DOMAIN_NAME": ""}
    t = os_cli("token", "issue", env=env)
    assert t["user_id"] == u["id"], t
    # revoked: the system token goes with the grant
    os_run("role", "remove", "--system", "all", "--user", u["id"], "reader")
    assert_error(http("GET", "/identity/v3/auth/tokens", token=adm,
                      headers={"X-Subject-Token": tok}), 404)
    assert http("HEAD", "/identity/v3/system/users/%s/roles/%s" % (u["id"], rid),
                token=adm).status == 404
    assert_error(http("PUT", "/identity/v3/system/users/%s/roles/%s" % ("0" * 32, rid),
                      token=adm), 404)
    # through a group
    g = os_cli("group", "create", "--domain", "default", "e2e-sysg-" + sfx)
    os_run("group", "add", "user", g["id"], u["id"])
    assert http("PUT", "/identity/v3/system/groups/%s/roles/%s" % (g["id"], rid),
                token=adm).status == 204
    r = _password_token(http, u["id"], pw, scope)
    assert r.status == 201 and _token_roles(r) == ["reader"], r
    assert http("DELETE", "/identity/v3/system/groups/%s/roles/%s" % (g["id"], rid),
                token=adm).status == 204
    assert _password_token(http, u["id"], pw, scope).status == 401
    assert_error(http("POST", "/identity/v3/auth/tokens", {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {"id": u["id"],
                                                                     "password": pw}}},
        "scope": {"system": {"all": False}}}}), 400)
    os_run("group", "delete", g["id"])
    os_run("user", "delete", u["id"])


def test_domain_specific_roles(stack, os_cli, os_run, http):
    """Roles of a domain: names unique per domain, listed only with domain_id, granted
    only within their domain, never in a token themselves, only the global roles they
    imply; a global role may not imply one."""
    sfx = secrets.token_hex(3)
    pw = "pw-" + sfx
    adm = _admin(stack)
    d = os_cli("domain", "create", "e2e-dr-" + sfx)
    d2 = os_cli("domain", "create", "e2e-dr2-" + sfx)
    dr = os_cli("role", "create", "--domain", d["id"], "e2e-dr-" + sfx)
    assert dr["domain_id"] == d["id"], dr
    # the same name in another domain and globally is fine, twice in one domain is not
    os_cli("role", "create", "--domain", d2["id"], "e2e-dr-" + sfx)
    glob = os_cli("role", "create", "e2e-dr-" + sfx)
    assert_error(http("POST", "/identity/v3/roles", {"role": {
        "name": "e2e-dr-" + sfx, "domain_id": d["id"]}}, token=adm), 409)
    assert_error(http("POST", "/identity/v3/roles", {"role": {
        "name": "x" + sfx, "domain_id": "0" * 32}}, token=adm), 404)
    listed = http("GET", "/identity/v3/roles?domain_id=" + d["id"], token=adm).json["roles"]
    assert [r["id"] for r in listed] == [dr["id"]], listed
    assert dr["id"] not in [r["id"] for r in http("GET", "/identity/v3/roles",
                                                   token=adm).json["roles"]]
    # inference: domain role -> global role is fine, global -> domain role is 403
    member = os_cli("role", "show", "member")
    assert http("PUT", "/identity/v3/roles/%s/implies/%s" % (dr["id"], member["id"]),
                token=adm).status == 201
    assert_error(http("PUT", "/identity/v3/roles/%s/implies/%s" % (glob["id"], dr["id"]),
                      token=adm), 403)
    # granted on a project of its domain: the token holds member (and reader), not it
    p = os_cli("project", "create", "--domain", d["id"], "e2e-dr-p-" + sfx)
    u = os_cli("user", "create", "--domain", d["id"], "--password", pw, "e2e-dr-u-" + sfx)
    os_run("role", "add", "--user", u["id"], "--project", p["id"], dr["id"])
    r = _password_token(http, u["id"], pw, {"project": {"id": p["id"]}})
    assert r.status == 201 and _token_roles(r) == ["member", "reader"], r.json
    ra = http("GET", "/identity/v3/role_assignments?effective&user.id=" + u["id"],
              token=adm).json["role_assignments"]
    assert sorted(a["role"]["id"] for a in ra) == sorted(
        [member["id"], os_cli("role", "show", "reader")["id"]]), ra
    # not on a project of another domain
    p2 = os_cli("project", "create", "--domain", d2["id"], "e2e-dr-p2-" + sfx)
    assert_error(http("PUT", "/identity/v3/projects/%s/users/%s/roles/%s" % (
        p2["id"], u["id"], dr["id"]), token=adm), 403)
    # a role named like a built-in one in a domain is an ordinary role
    fake = os_cli("role", "create", "--domain", d["id"], "admin")
    os_run("role", "delete", fake["id"])
    os_run("user", "delete", u["id"])
    for x in (p, p2):
        os_run("project", "delete", x["id"])
    os_run("role", "delete", glob["id"])
    for x in (d, d2):
        os_run("domain", "set", "--disable", x["id"])
        os_run("domain", "delete", x["id"])
    # the domain's roles went with it
    assert_error(http("GET", "/identity/v3/roles/" + dr["id"], token=adm), 404)


def test_endpoint_groups_and_project_associations(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    adm = _admin(stack)
    svc = os_cli("service", "create", "--name", "e2e-eg-" + sfx, "e2e-type-" + sfx)
    ep = os_cli("endpoint", "create", svc["id"], "public", "http://127.0.0.1:9/e2e")
    p = os_cli("project", "create", "--domain", "default", "e2e-eg-p-" + sfx)
    body = {"endpoint_group": {"name": "e2e-eg-" + sfx, "description": "d",
                               "filters": {"service_id": svc["id"], "interface": "public"}}}
    r = http("POST", "/identity/v3/OS-EP-FILTER/endpoint_groups", body, token=adm)
    assert r.status == 201, r
    eg = r.json["endpoint_group"]
    assert eg["filters"] == {"service_id": svc["id"], "interface": "public"}, eg
    base = "/identity/v3/OS-EP-FILTER/endpoint_groups/" + eg["id"]
    assert eg in http("GET", "/identity/v3/OS-EP-FILTER/endpoint_groups",
                      token=adm).json["endpoint_groups"]
    assert http("GET", base, token=adm).json["endpoint_group"] == eg
    assert http("HEAD", base, token=adm).status == 200
    assert [e["id"] for e in http("GET", base + "/endpoints", token=adm).json["endpoints"]] \
        == [ep["id"]]
    # the real CLI sees the same group
    assert os_cli("endpoint", "group", "show", eg["id"])["name"] == "e2e-eg-" + sfx
    # project association
    assert http("PUT", base + "/projects/" + p["id"], token=adm).status == 204
    assert http("HEAD", base + "/projects/" + p["id"], token=adm).status == 204
    assert [x["id"] for x in http("GET", base + "/projects", token=adm).json["projects"]] == \
        [p["id"]]
    assert [x["id"] for x in http("GET", "/identity/v3/OS-EP-FILTER/projects/%s/endpoint_groups"
                                  % p["id"], token=adm).json["endpoint_groups"]] == [eg["id"]]
    assert http("DELETE", base + "/projects/" + p["id"], token=adm).status == 204
    assert http("HEAD", base + "/projects/" + p["id"], token=adm).status == 404
    # endpoint-project association
    pe = "/identity/v3/OS-EP-FILTER/projects/%s/endpoints/%s" % (p["id"], ep["id"])
    assert http("PUT", pe, token=adm).status == 204
    assert [x["id"] for x in http("GET", "/identity/v3/OS-EP-FILTER/endpoints/%s/projects"
                                  % ep["id"], token=adm).json["projects"]] == [p["id"]]
    assert http("DELETE", pe, token=adm).status == 204
    # update, bad filters, policy
    r = http("PATCH", base, {"endpoint_group": {"name": "e2e-eg2-" + sfx,
                                                 "filters": {"region_id": "RegionOne"}}},
             token=adm)
    assert r.status == 200 and r.json["endpoint_group"]["filters"] == {"region_id": "RegionOne"}
    assert_error(http("PATCH", base, {"endpoint_group": {"filters": {"colour": "red"}}},
                      token=adm), 400)
    assert_error(http("POST", "/identity/v3/OS-EP-FILTER/endpoint_groups", {
        "endpoint_group": {"name": "x", "filters": {"interface": "sideways"}}}, token=adm), 400)
    assert_error(http("POST", "/identity/v3/OS-EP-FILTER/endpoint_groups", {
        "endpoint_group": {"name": "x"}}, token=adm), 400)
    assert_error(http("GET", "/identity/v3/OS-EP-FILTER/endpoint_groups",
                      token=stack.token("demo")), 403)
    assert http("DELETE", base, token=adm).status == 204
    assert_error(http("GET", base, token=adm), 404)
    os_run("endpoint", "delete", ep["id"])
    os_run("service", "delete", svc["id"])
    os_run("project", "delete", p["id"])


def test_domain_configuration(stack, os_cli, os_run, http):
    sfx = secrets.token_hex(3)
    adm = _admin(stack)
    d = os_cli("domain", "create", "e2e-cfg-" + sfx)
    base = "/identity/v3/domains/%s/config" % d["id"]
    assert_error(http("GET", base, token=adm), 404)
    cfg = {"identity": {"driver": "ldap"},
           "ldap": {"url": "ldap://x.example:389/", "user_tree_dn": "ou=Users",
                    "password": "s3cret"}}
    r = http("PUT", base, {"config": cfg}, token=adm)
    assert r.status == 201, r
    shown = {"identity": {"driver": "ldap"},
             "ldap": {"url": "ldap://x.example:389/", "user_tree_dn": "ou=Users"}}
    # the sensitive password is kept but never answered
    assert r.json["config"] == shown, r.json
    assert http("GET", base, token=adm).json["config"] == shown
    assert "s3cret" not in http("GET", base + "/ldap", token=adm).text
    assert_error(http("GET", base + "/ldap/password", token=adm), 403)
    assert http("GET", base + "/ldap/url", token=adm).json["config"] == {
        "url": "ldap://x.example:389/"}
    # replacing answers 200
    assert http("PUT", base, {"config": cfg}, token=adm).status == 200
    # a group, then one option
    r = http("PATCH", base + "/identity", {"config": {"identity": {"driver": "sql",
                                                                   "list_limit": 5}}},
             token=adm)
    # a PATCH at any level answers the whole configuration, as Keystone's does
    assert r.status == 200 and r.json["config"] == dict(shown, identity={
        "driver": "sql", "list_limit": 5}), r
    r = http("PATCH", base + "/identity/driver", {"config": {"driver": "ldap"}}, token=adm)
    assert r.status == 200 and r.json["config"]["identity"] == {"driver": "ldap",
                                                                "list_limit": 5}, r
    assert http("DELETE", base + "/identity/driver", token=adm).status == 204
    assert_error(http("GET", base + "/identity/driver", token=adm), 404)
    assert http("DELETE", base + "/identity", token=adm).status == 204
    assert_error(http("GET", base + "/identity", token=adm), 404)
    # what Keystone does not take: 403; malformed: 400
    assert_error(http("PUT", base, {"config": {"colour": {"x": 1}}}, token=adm), 403)
    assert_error(http("PUT", base, {"config": {"ldap": {"colour": 1}}}, token=adm), 403)
    assert_error(http("PUT", base, {"config": "ldap"}, token=adm), 400)
    assert_error(http("PATCH", base + "/ldap", {"config": {"identity": {"driver": "x"}}},
                      token=adm), 400)
    assert_error(http("PUT", "/identity/v3/domains/%s/config" % ("0" * 32), {"config": cfg},
                      token=adm), 404)
    assert_error(http("PUT", base, {"config": cfg}, token=stack.token("demo")), 403)
    # the defaults
    dflt = http("GET", "/identity/v3/domains/config/default", token=adm).json["config"]
    assert dflt["identity"]["driver"] == "sql" and "list_limit" in dflt["identity"], dflt
    assert "url" in dflt["ldap"] and "password" not in dflt["ldap"], dflt
    assert http("GET", "/identity/v3/domains/config/ldap/url/default",
                token=adm).json["config"] == {"url": "ldap://localhost"}
    assert_error(http("GET", "/identity/v3/domains/config/ldap/password/default",
                      token=adm), 403)
    assert http("DELETE", base, token=adm).status == 204
    assert_error(http("GET", base, token=adm), 404)
    os_run("domain", "set", "--disable", d["id"])
    os_run("domain", "delete", d["id"])


def test_oauth1_consumers(stack, os_cli, os_run, http):
    adm = _admin(stack)
    r = http("POST", "/identity/v3/OS-OAUTH1/consumers", {"consumer": {"description": "e2e"}},
             token=adm)
    assert r.status == 201, r
    c = r.json["consumer"]
    assert c["description"] == "e2e" and len(c["secret"]) >= 32, c
    base = "/identity/v3/OS-OAUTH1/consumers/" + c["id"]
    shown = http("GET", base, token=adm).json["consumer"]
    assert "secret" not in shown and shown["id"] == c["id"], shown
    listed = http("GET", "/identity/v3/OS-OAUTH1/consumers", token=adm).json["consumers"]
    assert c["id"] in [x["id"] for x in listed] and all("secret" not in x for x in listed)
    # the secret is kept only as a hash
    [[h]] = stack.sql("SELECT secret_hash FROM oauth_consumers WHERE id = :'p1'", c["id"])
    assert c["secret"] not in h and h.startswith("$argon2id$"), h
    r = http("PATCH", base, {"consumer": {"description": "new"}}, token=adm)
    assert r.status == 200 and r.json["consumer"]["description"] == "new", r
    assert_error(http("PATCH", base, {"consumer": {"secret": "mine"}}, token=adm), 400)
    assert_error(http("POST", "/identity/v3/OS-OAUTH1/consumers", {"consumer": {}},
                      token=stack.token("demo")), 403)
    # the real CLI
    cc = os_cli("consumer", "create", "--description", "cli")
    assert os_cli("consumer", "show", cc["id"])["description"] == "cli"
    os_run("consumer", "delete", cc["id"])
    assert http("DELETE", base, token=adm).status == 204
    assert_error(http("GET", base, token=adm), 404)


def test_is_domain_project_is_a_domain(stack, os_cli, os_run, http):
    """POST /projects with is_domain makes a domain with the same id (Keystone keeps a
    domain as a project acting as one): listed by both APIs, changed and deleted through
    the projects API, only once disabled."""
    sfx = secrets.token_hex(3)
    adm = _admin(stack)
    r = http("POST", "/identity/v3/projects", {"project": {
        "name": "e2e-isd-" + sfx, "is_domain": True, "domain_id": None,
        "description": "acting"}}, token=adm)
    assert r.status == 201, r
    p = r.json["project"]
    assert p["is_domain"] is True and p["domain_id"] is None and p["parent_id"] is None, p
    assert p["id"] in [x["id"] for x in http("GET", "/identity/v3/projects?is_domain=True",
                                             token=adm).json["projects"]]
    assert p["id"] not in [x["id"] for x in http("GET", "/identity/v3/projects",
                                                 token=adm).json["projects"]]
    d = os_cli("domain", "show", p["id"])
    assert d["name"] == "e2e-isd-" + sfx and d["description"] == "acting", d
    assert http("GET", "/identity/v3/projects/" + p["id"], token=adm).json["project"] == p
    # a project inside it, as inside any domain
    inner = os_cli("project", "create", "--domain", p["id"], "e2e-isd-in-" + sfx)
    assert inner["domain_id"] == p["id"], inner
    # the same name again is a conflict; a domain_id or parent with is_domain is 400
    assert_error(http("POST", "/identity/v3/projects", {"project": {
        "name": "e2e-isd-" + sfx, "is_domain": True}}, token=adm), 409)
    assert_error(http("POST", "/identity/v3/projects", {"project": {
        "name": "x" + sfx, "is_domain": True, "domain_id": "default"}}, token=adm), 400)
    assert_error(http("PATCH", "/identity/v3/projects/" + p["id"], {"project": {
        "is_domain": False}}, token=adm), 400)
    # enabled: not deleted; disabled through the projects API, then deleted with its
    # projects
    assert_error(http("DELETE", "/identity/v3/projects/" + p["id"], token=adm), 403)
    r = http("PATCH", "/identity/v3/projects/" + p["id"], {"project": {"enabled": False}},
             token=adm)
    assert r.status == 200 and r.json["project"]["enabled"] is False, r
    assert os_cli("domain", "show", p["id"])["enabled"] is False
    assert http("DELETE", "/identity/v3/projects/" + p["id"], token=adm).status == 204
    assert_error(http("GET", "/identity/v3/domains/" + p["id"], token=adm), 404)
    assert_error(http("GET", "/identity/v3/projects/" + inner["id"], token=adm), 404)
    # a member reads no domain through the projects API
    assert_error(http("GET", "/identity/v3/projects/default", token=stack.token("demo")), 403)
def test_ec2_secrets_are_sealed_at_rest_and_go_with_their_user_or_project(
        stack, os_cli, os_run, http, project_ids):
    """Issue 10: the database holds no EC2 secret in the clear (nor can one be written
    behind the API), rows from before the sealing are sealed by nubo-manage db-sync,
    and a credential goes with its project or its user."""
    import subprocess
    from nubo_e2e import REPO
    sfx = secrets.token_hex(3)
    adm = _admin(stack)
    proj = os_cli("project", "create", "e2e-ec2-" + sfx)
    user = os_cli("user", "create", "--password", "pw-" + sfx, "e2e-ec2-" + sfx)
    os_run("role", "add", "--project", proj["id"], "--user", user["id"], "member")
    os_run("role", "add", "--project", project_ids["demo"], "--user", user["id"], "member")
    path = "/identity/v3/users/%s/credentials/OS-EC2" % user["id"]
    c1 = http("POST", path, {"tenant_id": proj["id"]}, token=adm).json["credential"]
    c2 = http("POST", path, {"tenant_id": project_ids["demo"]}, token=adm).json["credential"]
    ids = [hashlib.sha256(c["access"].encode()).hexdigest() for c in (c1, c2)]
    for c, cid in zip((c1, c2), ids):
        (blob,), = stack.sql("SELECT blob FROM credentials WHERE id = :'p1'", cid)
        assert blob.startswith("ae1:") and c["secret"] not in blob and c["access"] not in blob
        r = http("GET", "%s/%s" % (path, c["access"]), token=adm)
        assert r.status == 200 and r.json["credential"]["secret"] == c["secret"], r
    # plaintext cannot be written behind the API's back
    with pytest.raises(subprocess.CalledProcessError):
        stack.sql("INSERT INTO credentials (id, user_id, type, blob) VALUES"
                  " ('e2e-plain-' || :'p1', :'p2', 'totp', 'clear')", sfx, user["id"])
    # a row from before migration 0015: sealed by db-sync, still readable through the API
    stack.sql("ALTER TABLE credentials DROP CONSTRAINT credentials_blob_sealed")
    stack.sql("INSERT INTO credentials (id, user_id, type, blob) VALUES"
              " ('e2e-plain-' || :'p1', :'p2', 'totp', 'old-clear-blob')", sfx, user["id"])
    stack.sql("ALTER TABLE credentials ADD CONSTRAINT credentials_blob_sealed"
              " CHECK (blob LIKE 'ae1:%') NOT VALID")
    sync = subprocess.run([str(REPO / "build" / "bin" / "nubo-manage"), "-c", str(stack.conf),
                           "db-sync"], capture_output=True, text=True, timeout=120)
    assert sync.returncode == 0 and "sealed 1 credential" in sync.stdout, sync
    (blob,), = stack.sql("SELECT blob FROM credentials WHERE id = 'e2e-plain-' || :'p1'", sfx)
    assert blob.startswith("ae1:") and "old-clear-blob" not in blob, blob
    assert stack.sql("SELECT convalidated FROM pg_constraint"
                     " WHERE conname = 'credentials_blob_sealed'") == [["t"]]
    r = http("GET", "/identity/v3/credentials/e2e-plain-" + sfx, token=adm)
    assert r.status == 200 and r.json["credential"]["blob"] == "old-clear-blob", r
    # revoked with the project, then with the user
    os_run("project", "delete", proj["id"])
    assert stack.sql("SELECT id FROM credentials WHERE id = :'p1'", ids[0]) == []
    assert stack.sql("SELECT id FROM credentials WHERE id = :'p1'", ids[1]) != []
    os_run("user", "delete", user["id"])
    assert stack.sql("SELECT id FROM credentials WHERE user_id = :'p1'", user["id"]) == []
