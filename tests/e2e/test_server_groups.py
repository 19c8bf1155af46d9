"""os-server-groups (issue 7): `openstack server group create/list/show/delete`, the
per-microversion views, `server create --hint group=`, the policies as the scheduler
enforces them on this one-host stack, members leaving on delete, quotas, bad input."""
import uuid

import pytest

from nubo_e2e import assert_error, wait_for

API = "/compute/v2.1"


def mv(v):
    return {"OpenStack-API-Version": "compute " + v}


def test_server_group_cli_crud(os_cli, os_run):
    g = os_cli("server", "group", "create", "--policy", "affinity", "e2e-sg-crud")
    assert g["name"] == "e2e-sg-crud" and "affinity" in str(g.get("policy", g.get("policies")))
    listed = [x for x in os_cli("server", "group", "list") if x["ID"] == g["id"]]
    assert len(listed) == 1 and listed[0]["Name"] == "e2e-sg-crud", listed
    shown = os_cli("server", "group", "show", g["id"])
    assert shown["id"] == g["id"] and shown["members"] in ("", [], None), shown
    os_run("server", "group", "delete", g["id"])
    assert os_run("server", "group", "show", g["id"], check=False).returncode != 0


def test_views_per_microversion(stack, http):
    tok = stack.token("admin")
    r = http("POST", API + "/os-server-groups",
             {"server_group": {"name": "e2e-sg-v", "policies": ["anti-affinity"]}}, token=tok)
    assert r.status == 200, r
    g = r.json["server_group"]
    assert set(g) == {"id", "name", "policies", "members", "metadata"}, g
    gid = g["id"]
    try:
        g = http("GET", API + "/os-server-groups/" + gid, token=tok,
                 headers=mv("2.13")).json["server_group"]
        assert g["project_id"] and g["user_id"] and g["policies"] == ["anti-affinity"], g
        g = http("GET", API + "/os-server-groups/" + gid, token=tok,
                 headers=mv("2.64")).json["server_group"]
        assert g["policy"] == "anti-affinity" and g["rules"] == {}, g
        assert "policies" not in g and "metadata" not in g, g
        r = http("POST", API + "/os-server-groups", {"server_group": {
            "name": "e2e-sg-rule", "policy": "anti-affinity",
            "rules": {"max_server_per_host": 2}}}, token=tok, headers=mv("2.64"))
        assert r.status == 200 and r.json["server_group"]["rules"] == {
            "max_server_per_host": 2}, r
        assert http("DELETE", API + "/os-server-groups/" + r.json["server_group"]["id"],
                    token=tok).status == 204
        # the demo project sees neither the admin's group nor it in its list
        demo = stack.token("demo")
        assert_error(http("GET", API + "/os-server-groups/" + gid, token=demo), 404)
        assert gid not in [x["id"] for x in http("GET", API + "/os-server-groups",
                                                 token=demo).json["server_groups"]]
        assert gid in [x["id"] for x in http("GET", API + "/os-server-groups?all_projects=1",
                                             token=tok).json["server_groups"]]
    finally:
        http("DELETE", API + "/os-server-groups/" + gid, token=tok)
    assert_error(http("GET", API + "/os-server-groups/" + gid, token=tok), 404)


@pytest.mark.parametrize("body,v", [
    ({"server_group": {"name": "x", "policies": ["affinity", "anti-affinity"]}}, None),
    ({"server_group": {"name": "x", "policies": ["soft-affinity"]}}, "2.14"),
    ({"server_group": {"name": "x", "policies": ["best-effort"]}}, None),
    ({"server_group": {"name": "x"}}, None),
    ({"server_group": {"name": " x", "policies": ["affinity"]}}, None),
    ({"server_group": {"name": "x", "policies": ["affinity"], "extra": 1}}, None),
    ({"server_group": {"name": "x", "policies": ["affinity"]}}, "2.64"),
    ({"server_group": {"name": "x", "policy": "affinity",
                       "rules": {"max_server_per_host": 2}}}, "2.64"),
    ({"server_group": {"name": "x", "policy": "anti-affinity",
                       "rules": {"max_server_per_host": 0}}}, "2.64"),
    ({"server_group": {"name": "x", "policy": "anti-affinity", "rules": {"x": 1}}}, "2.64"),
])
def test_bad_create_bodies_are_400(stack, http, body, v):
    tok = stack.token("admin")
    before = len(http("GET", API + "/os-server-groups", token=tok).json["server_groups"])
    assert_error(http("POST", API + "/os-server-groups", body, token=tok,
                      headers=mv(v) if v else None), 400)
    assert len(http("GET", API + "/os-server-groups", token=tok).json["server_groups"]) == before


def test_server_groups_quota(stack, http, project_ids):
    tok = stack.token("admin")
    demo = stack.token("demo")
    pid = project_ids["demo"]
    path = API + "/os-quota-sets/" + pid
    assert http("PUT", path, {"quota_set": {"server_groups": 1}}, token=tok).status == 200
    made = []
    try:
        r = http("POST", API + "/os-server-groups",
                 {"server_group": {"name": "q1", "policies": ["affinity"]}}, token=demo)
        assert r.status == 200, r
        made.append(r.json["server_group"]["id"])
        r = http("POST", API + "/os-server-groups",
                 {"server_group": {"name": "q2", "policies": ["affinity"]}}, token=demo)
        assert_error(r, 403)
        assert "Quota exceeded" in r.text, r
    finally:
        for gid in made:
            http("DELETE", API + "/os-server-groups/" + gid, token=demo)
        http("DELETE", path, token=tok)


def test_hint_must_name_a_visible_group(stack, http, ids):
    tok = stack.token("admin")
    base = {"name": "e2e-sg-bad", "imageRef": ids["image"], "flavorRef": ids["flavor"]}
    for hint in ({"group": "not-a-uuid"}, {"group": str(uuid.uuid4())}):
        assert_error(http("POST", API + "/servers",
                          {"server": base, "os:scheduler_hints": hint}, token=tok), 400)


def test_anti_affinity_on_one_host_and_membership(stack, os_cli, os_run, http):
    g = os_cli("server", "group", "create", "--policy", "anti-affinity", "e2e-sg-anti")
    tok = stack.token("admin")
    try:
        a = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                   "--hint", "group=" + g["id"], "--wait", "e2e-sg-a")
        assert a["status"] == "ACTIVE", a
        shown = http("GET", API + "/os-server-groups/" + g["id"], token=tok).json
        assert shown["server_group"]["members"] == [a["id"]], shown
        s = http("GET", API + "/servers/" + a["id"], token=tok,
                 headers=mv("2.71")).json["server"]
        assert s["server_groups"] == [g["id"]], s
        # the stack has one compute host, which already holds a member
        b = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                   "--hint", "group=" + g["id"], "e2e-sg-b")
        s = stack.wait_status(b["id"], "ERROR")
        assert "anti-affinity" in str(s.get("fault")), s
        os_run("server", "delete", "--wait", a["id"], timeout=300)
        os_run("server", "delete", "--wait", b["id"], timeout=300)

        def left():
            m = http("GET", API + "/os-server-groups/" + g["id"], token=tok).json
            return m["server_group"]["members"] == []
        wait_for(left, 60, 1, "deleted servers to leave the group")
    finally:
        os_run("server", "group", "delete", g["id"], check=False)


def test_affinity_places_members_together(stack, os_cli, os_run, http):
    g = os_cli("server", "group", "create", "--policy", "affinity", "e2e-sg-aff")
    made = []
    try:
        for name in ("e2e-sg-c", "e2e-sg-d"):
            s = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                       "--hint", "group=" + g["id"], "--wait", name)
            made.append(s)
            assert s["status"] == "ACTIVE", s
        hosts = {stack.server(s["id"])["OS-EXT-SRV-ATTR:host"] for s in made}
        assert len(hosts) == 1, hosts
        members = os_cli("server", "group", "show", g["id"])["members"]
        assert all(s["id"] in str(members) for s in made), members
    finally:
        for s in made:
            os_run("server", "delete", "--wait", s["id"], check=False, timeout=300)
        os_run("server", "group", "delete", g["id"], check=False)
