"""Compute admin APIs with the real CLI (and HTTP where the CLI has no command):
host aggregates and the availability zones they make (listing and placement),
os-hosts, os-migrations, the usage audit log, server diagnostics, external events,
/extensions, os-server-password and the Compute /images proxy."""
import uuid

import pytest

from nubo_e2e import assert_error

C = "/compute/v2.1"


def _uniq(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


@pytest.fixture(scope="module")
def host(os_cli):
    hs = [h for h in os_cli("compute", "service", "list") if h["State"] == "up"]
    assert hs, "no compute service is up"
    return hs[0]["Host"]


@pytest.fixture
def aggregate(os_cli, os_run):
    made = []

    def make(*args):
        a = os_cli("aggregate", "create", *args)
        made.append(a["id"])
        return a
    yield make
    for agg_id in made:
        if os_run("aggregate", "show", agg_id, check=False).returncode != 0:
            continue  # the test deleted it
        a = os_cli("aggregate", "show", agg_id)
        for h in a.get("hosts") or []:
            os_run("aggregate", "remove", "host", agg_id, h, check=False)
        os_run("aggregate", "delete", agg_id, check=False)


def _hdr(mv):
    return {"OpenStack-API-Version": "compute %s" % mv}


# ---------------------------------------------------------------- aggregates

def test_aggregate_crud_with_cli(os_cli, os_run, aggregate, host):
    name = _uniq("agg")
    a = aggregate(name, "--zone", _uniq("az"), "--property", "ssd=true")
    assert a["name"] == name
    shown = os_cli("aggregate", "show", name)
    assert shown["properties"] in ({"ssd": "true"}, "ssd='true'"), shown
    os_run("aggregate", "set", "--name", name + "-new", "--property", "gpu=1", name)
    os_run("aggregate", "add", "host", name + "-new", host)
    shown = os_cli("aggregate", "show", name + "-new")
    assert host in shown["hosts"], shown
    listed = {x["Name"]: x for x in os_cli("aggregate", "list", "--long")}
    assert name + "-new" in listed
    # a host in it: Nova refuses to delete (400), the CLI reports the failure
    assert os_run("aggregate", "delete", name + "-new", check=False).returncode != 0
    os_run("aggregate", "remove", "host", name + "-new", host)
    os_run("aggregate", "delete", name + "-new")
    assert os_run("aggregate", "show", name + "-new", check=False).returncode != 0


def test_aggregate_http_shapes_and_errors(stack, http, aggregate, host):
    tok = stack.token("admin")
    name = _uniq("agg")
    r = http("POST", C + "/os-aggregates", {"aggregate": {"name": name}}, token=tok)
    assert r.status == 200, r.text
    a = r.json["aggregate"]
    assert isinstance(a["id"], int) and a["availability_zone"] is None
    assert "hosts" not in a and "uuid" not in a and a["deleted"] is False
    agg = "%s/os-aggregates/%d" % (C, a["id"])
    try:
        # 2.41 adds the uuid
        r = http("GET", agg, token=tok, headers=_hdr("2.41"))
        assert r.status == 200 and len(r.json["aggregate"]["uuid"]) == 36, r.text
        # duplicate name 409, bad names 400, bad ids 400/404
        assert_error(http("POST", C + "/os-aggregates", {"aggregate": {"name": name}},
                          token=tok), 409)
        for bad in ("", "a" * 256, " lead"):
            assert_error(http("POST", C + "/os-aggregates", {"aggregate": {"name": bad}},
                              token=tok), 400)
        assert_error(http("POST", C + "/os-aggregates",
                          {"aggregate": {"name": _uniq("x"), "extra": 1}}, token=tok), 400)
        assert_error(http("GET", C + "/os-aggregates/-1", token=tok), 404)
        assert_error(http("GET", C + "/os-aggregates/abc", token=tok), 400)
        # a member may not see or change aggregates
        demo = stack.token("demo")
        assert_error(http("GET", C + "/os-aggregates", token=demo), 403)
        assert_error(http("POST", agg + "/action", {"add_host": {"host": host}},
                          token=demo), 403)
        # unknown host 404, twice 409, remove unknown 404
        assert_error(http("POST", agg + "/action", {"add_host": {"host": "no-such-host"}},
                          token=tok), 404)
        r = http("POST", agg + "/action", {"add_host": {"host": host}}, token=tok)
        assert r.status == 200 and r.json["aggregate"]["hosts"] == [host], r.text
        assert_error(http("POST", agg + "/action", {"add_host": {"host": host}}, token=tok),
                     409)
        assert_error(http("POST", agg + "/action", {"remove_host": {"host": "nope"}},
                          token=tok), 404)
        assert_error(http("POST", agg + "/action", {"frobnicate": {}}, token=tok), 400)
        # not empty: delete is 400; then the host leaves, so that the zone changes below
        # never move a host that runs servers other tests left (Nova refuses that)
        assert_error(http("DELETE", agg, token=tok), 400)
        r = http("POST", agg + "/action", {"remove_host": {"host": host}}, token=tok)
        assert r.status == 200 and r.json["aggregate"]["hosts"] == [], r.text
        # metadata: set, null removes, bad key 400
        r = http("POST", agg + "/action", {"set_metadata": {"metadata": {"k": "v", "j": "w"}}},
                 token=tok)
        assert r.status == 200 and r.json["aggregate"]["metadata"] == {"k": "v", "j": "w"}
        r = http("POST", agg + "/action", {"set_metadata": {"metadata": {"k": None}}},
                 token=tok)
        assert r.json["aggregate"]["metadata"] == {"j": "w"}, r.text
        assert_error(http("POST", agg + "/action",
                          {"set_metadata": {"metadata": {"bad/key": "v"}}}, token=tok), 400)
        # update: name and zone; an empty zone is refused
        r = http("PUT", agg, {"aggregate": {"availability_zone": _uniq("z")}}, token=tok)
        assert r.status == 200 and r.json["aggregate"]["updated_at"], r.text
        assert_error(http("PUT", agg, {"aggregate": {}}, token=tok), 400)
        # a zone the scheduler cannot carry (over 63 bytes) is refused up front, by
        # update and by set_metadata: a server placed in it could never be loaded
        for body in ({"availability_zone": "z" * 64},):
            assert_error(http("PUT", agg, {"aggregate": body}, token=tok), 400)
        assert_error(http("POST", agg + "/action",
                          {"set_metadata": {"metadata": {"availability_zone": "z" * 64}}},
                          token=tok), 400)
        r = http("PUT", agg, {"aggregate": {"availability_zone": "z" * 63}}, token=tok)
        assert r.status == 200, r.text
        assert_error(http("PUT", agg, {"aggregate": {"availability_zone": None}}, token=tok),
                     400)
    finally:
        http("POST", agg + "/action", {"remove_host": {"host": host}}, token=tok)
        r = http("DELETE", agg, token=tok)
    assert r.status == 200, r.text
    assert_error(http("GET", agg, token=tok), 404)


def test_host_stays_in_one_zone(stack, http, aggregate, host):
    tok = stack.token("admin")
    a1 = aggregate(_uniq("agg"), "--zone", _uniq("za"))
    a2 = aggregate(_uniq("agg"), "--zone", _uniq("zb"))
    r = http("POST", "%s/os-aggregates/%s/action" % (C, a1["id"]),
             {"add_host": {"host": host}}, token=tok)
    assert r.status == 200, r.text
    r = http("POST", "%s/os-aggregates/%s/action" % (C, a2["id"]),
             {"add_host": {"host": host}}, token=tok)
    assert_error(r, 409)
    assert "already in availability zone" in r.text


def test_zone_follows_aggregate_and_places_server(stack, os_cli, os_run, aggregate, host, ids):
    zone = _uniq("az")
    a = aggregate(_uniq("agg"), "--zone", zone)
    # an empty zone is not available to servers
    p = os_run("server", "create", "--flavor", ids["flavor"], "--image", ids["image"],
               "--availability-zone", zone, _uniq("srv"), check=False)
    assert p.returncode != 0 and "availability zone" in p.stderr, p.stderr
    os_run("aggregate", "add", "host", a["id"], host)
    zones = {z["Zone Name"] for z in os_cli("availability", "zone", "list", "--compute")}
    assert zone in zones, zones
    longz = os_cli("availability", "zone", "list", "--compute", "--long")
    assert any(z["Zone Name"] == zone and z["Host Name"] == host for z in longz), longz
    hosts = os_cli("host", "list", "--zone", zone)
    assert [h["Host Name"] for h in hosts] == [host], hosts
    # the agent reports its own zone ("nova"): only the aggregate can put it in `zone`
    s = os_cli("server", "create", "--flavor", ids["flavor"], "--image", ids["image"],
               "--availability-zone", zone, "--wait", _uniq("srv"))
    try:
        assert s["status"] == "ACTIVE", s
        assert s["OS-EXT-AZ:availability_zone"] == zone, s
        assert s["OS-EXT-SRV-ATTR:host"] == host, s
    finally:
        os_run("server", "delete", "--wait", s["id"], check=False)
    os_run("aggregate", "remove", "host", a["id"], host)
    zones = {z["Zone Name"] for z in os_cli("availability", "zone", "list", "--compute")}
    assert zone not in zones, zones


def test_aggregate_metadata_total_is_bounded(stack, http, aggregate):
    """At most 128 metadata keys per aggregate, counted after the merge: calls that
    each carry few keys cannot grow it past that (Nova sets no bound)."""
    tok = stack.token("admin")
    a = aggregate(_uniq("agg"), "--zone", _uniq("az"))
    act = "%s/os-aggregates/%s/action" % (C, a["id"])
    for i in range(127 // 50 + 1):  # 127 keys beside availability_zone: 128 in all
        meta = {"k%03d" % j: "v" for j in range(i * 50, min(127, (i + 1) * 50))}
        r = http("POST", act, {"set_metadata": {"metadata": meta}}, token=tok)
        assert r.status == 200, r.text
    assert len(r.json["aggregate"]["metadata"]) == 128, r.text
    r = http("POST", act, {"set_metadata": {"metadata": {"one_more": "v"}}}, token=tok)
    assert_error(r, 400)
    assert "at most 128" in r.text, r.text
    shown = http("GET", "%s/os-aggregates/%s" % (C, a["id"]), token=tok).json["aggregate"]
    assert len(shown["metadata"]) == 128 and "one_more" not in shown["metadata"], shown
    # replacing a key and removing one to add another stay within the bound
    r = http("POST", act, {"set_metadata": {"metadata": {"k000": "w", "k001": None,
                                                         "one_more": "v"}}}, token=tok)
    assert r.status == 200 and len(r.json["aggregate"]["metadata"]) == 128, r.text


# ---------------------------------------------------------------- os-hosts

def test_hosts_list_and_show(stack, os_cli, http, host):
    hosts = os_cli("host", "list")
    services = {(h["Host Name"], h["Service"]) for h in hosts}
    assert (host, "compute") in services and any(s == "scheduler" for _, s in services), hosts
    shown = os_cli("host", "show", host)
    projects = [x["Project"] for x in shown]
    assert projects[:3] == ["(total)", "(used_now)", "(used_max)"], shown
    tok = stack.token("admin")
    assert http("GET", C + "/os-hosts?zone=", token=tok).json["hosts"]
    assert http("GET", C + "/os-hosts?zone=xxx", token=tok).json["hosts"] == []
    assert_error(http("GET", C + "/os-hosts/nonexistent_host", token=tok), 404)
    assert_error(http("GET", C + "/os-hosts", token=stack.token("demo")), 403)
    assert_error(http("PUT", C + "/os-hosts/" + host, {"status": "bogus"}, token=tok), 400)
    assert_error(http("PUT", C + "/os-hosts/" + host, {}, token=tok), 400)
    assert_error(http("PUT", C + "/os-hosts/" + host, {"status": "enable"}, token=tok), 501)
    assert_error(http("GET", C + "/os-hosts/%s/reboot" % host, token=tok), 501)
    # deprecated at 2.43
    assert_error(http("GET", C + "/os-hosts", token=tok, headers=_hdr("2.43")), 404)


def test_hosts_lists_only_live_schedulers(stack, http):
    """A scheduler whose heartbeat is older than its down_after_s (moved to another host,
    renamed, stopped) is no longer listed; the running one is, past several heartbeat
    periods, and a row that beats again comes back."""
    import uuid
    tok = stack.token("admin")
    stale = "e2e-gone-" + uuid.uuid4().hex[:8]
    stack.sql("INSERT INTO control_services (host, binary_name, seen_at, down_after_s)"
              " VALUES (:'p1', 'nubo-scheduler', now() - interval '1 hour', 30)", stale)

    def listed():
        r = http("GET", C + "/os-hosts", token=tok)
        assert r.status == 200, r
        return {(h["host_name"], h["service"]) for h in r.json["hosts"]}
    try:
        names = listed()
        assert (stale, "scheduler") not in names, names
        assert any(s == "scheduler" for _, s in names), names
        stack.sql("UPDATE control_services SET seen_at = now() WHERE host = :'p1'", stale)
        assert (stale, "scheduler") in listed()
    finally:
        stack.sql("DELETE FROM control_services WHERE host = :'p1'", stale)


def test_hypervisor_uptime(stack, http, os_cli):
    tok = stack.token("admin")
    hyp = http("GET", C + "/os-hypervisors", token=tok).json["hypervisors"][0]
    r = http("GET", "%s/os-hypervisors/%s/uptime" % (C, hyp["id"]), token=tok)
    assert r.status == 200, r.text
    up = r.json["hypervisor"]
    assert up["hypervisor_hostname"] == hyp["hypervisor_hostname"] and " up " in up["uptime"], up
    # the agent's host booted when the kernel says it did (within a heartbeat or two)
    with open("/proc/uptime") as f:
        host_up = float(f.read().split()[0])
    booted = stack.sql("SELECT extract(epoch FROM now() - booted_at)::int FROM agents"
                       " WHERE host = :'p1'", hyp["hypervisor_hostname"])
    assert abs(int(booted[0][0]) - host_up) < 30, (booted, host_up)
    # the CLI reads the uptime only with uptime(1)'s users and load, which Nubo does
    # not report: it shows the hypervisor without them
    shown = os_cli("hypervisor", "show", hyp["hypervisor_hostname"])
    assert shown["hypervisor_hostname"] == hyp["hypervisor_hostname"], shown
    assert_error(http("GET", C + "/os-hypervisors/999/uptime", token=tok), 404)


# ---------------------------------------------------------------- small admin APIs

def test_migrations_audit_log_extensions(stack, http):
    tok = stack.token("admin")
    r = http("GET", C + "/os-migrations", token=tok)
    assert r.status == 200 and r.json == {"migrations": []}, r.text
    assert_error(http("GET", C + "/os-migrations", token=stack.token("demo")), 403)
    r = http("GET", C + "/os-instance_usage_audit_log", token=tok)
    log = r.json["instance_usage_audit_logs"]
    assert r.status == 200 and log["num_hosts"] == log["num_hosts_not_run"] >= 1, r.text
    assert log["period_ending"].endswith("-01 00:00:00"), log
    r = http("GET", C + "/os-instance_usage_audit_log/2026-03-15%2010:00:00", token=tok)
    log = r.json["instance_usage_audit_log"]
    assert (log["period_beginning"], log["period_ending"]) == (
        "2026-02-01 00:00:00", "2026-03-01 00:00:00"), log
    assert_error(http("GET", C + "/os-instance_usage_audit_log/invalid_time", token=tok), 400)
    r = http("GET", C + "/extensions", token=stack.token("demo"))
    assert "Hosts" in [e["name"] for e in r.json["extensions"]], r.text
    r = http("GET", C + "/extensions/os-consoles", token=tok)
    assert r.json["extension"]["alias"] == "os-consoles", r.text
    assert_error(http("GET", C + "/extensions/os-nope", token=tok), 404)


def test_server_diagnostics_events_password(stack, http, vm):
    tok = stack.token("admin")
    sid = vm["id"]
    r = http("GET", "%s/servers/%s/diagnostics" % (C, sid), token=tok, headers=_hdr("2.48"))
    d = r.json
    assert r.status == 200 and d["state"] == "running" and d["memory_details"]["maximum"] > 0, \
        r.text
    assert d["num_cpus"] == len(d["cpu_details"]) and d["uptime"] >= 0, d
    r = http("GET", "%s/servers/%s/diagnostics" % (C, sid), token=tok)
    assert r.status == 200 and r.json["memory"] > 0, r.text
    assert_error(http("GET", "%s/servers/%s/diagnostics" % (C, sid),
                      token=stack.token("demo")), 403)
    ev = {"events": [{"name": "network-vif-plugged", "server_uuid": sid, "tag": "t1"}]}
    r = http("POST", C + "/os-server-external-events", ev, token=tok)
    assert r.status == 200, r.text
    assert r.json["events"][0]["code"] == 200 and r.json["events"][0]["status"] == \
        "completed", r.text
    ev["events"].append({"name": "network-changed", "server_uuid": str(uuid.uuid4())})
    r = http("POST", C + "/os-server-external-events", ev, token=tok)
    assert r.status == 207 and r.json["events"][1]["code"] == 404, r.text
    assert_error(http("POST", C + "/os-server-external-events",
                      {"events": [{"name": "bogus", "server_uuid": sid}]}, token=tok), 400)
    assert_error(http("POST", C + "/os-server-external-events", {"events": []}, token=tok), 400)
    assert_error(http("POST", C + "/os-server-external-events", ev,
                      token=stack.token("demo")), 403)
    r = http("GET", "%s/servers/%s/os-server-password" % (C, sid), token=tok)
    assert r.status == 200 and r.json == {"password": ""}, r.text
    stack.sql("INSERT INTO instance_passwords (instance_id, password) VALUES (:'p1', 'c2VjcmV0')",
              sid)
    r = http("GET", "%s/servers/%s/os-server-password" % (C, sid), token=tok)
    assert r.json == {"password": "c2VjcmV0"}, r.text
    r = http("DELETE", "%s/servers/%s/os-server-password" % (C, sid), token=tok)
    assert r.status == 204, r.text
    r = http("GET", "%s/servers/%s/os-server-password" % (C, sid), token=tok)
    assert r.json == {"password": ""}, r.text
    assert_error(http("GET", "%s/servers/%s/os-server-password" % (C, uuid.uuid4()),
                      token=tok), 404)


# ---------------------------------------------------------------- /images proxy

def test_image_proxy(stack, os_cli, os_run, http, tmp_path):
    tok, demo = stack.token("admin"), stack.token("demo")
    data = tmp_path / "img.raw"
    data.write_bytes(b"\0" * 4096)
    name = _uniq("img")
    img = os_cli("image", "create", "--file", data, "--disk-format", "raw", "--property",
                 "image_type=snapshot", "--private", name, user="demo")
    iid = img["id"]
    try:
        r = http("GET", C + "/images?name=" + name, token=demo)
        assert r.status == 200 and [i["id"] for i in r.json["images"]] == [iid], r.text
        assert {l["rel"] for l in r.json["images"][0]["links"]} == {"self", "bookmark",
                                                                    "alternate"}
        r = http("GET", C + "/images/detail?type=snapshot&status=ACTIVE", token=demo)
        found = [i for i in r.json["images"] if i["id"] == iid]
        assert found and found[0]["status"] == "ACTIVE" and found[0]["progress"] == 100, r.text
        assert found[0]["metadata"]["image_type"] == "snapshot", found
        assert found[0]["OS-EXT-IMG-SIZE:size"] == 4096, found
        r = http("GET", C + "/images?limit=1", token=demo)
        assert len(r.json["images"]) == 1 and r.json["images_links"][0]["rel"] == "next", r.text
        r = http("GET", C + "/images/" + iid, token=demo)
        assert r.status == 200 and r.json["image"]["name"] == name, r.text
        assert_error(http("GET", C + "/images/" + iid), 401)
        # metadata: merge, one key, replace, delete
        base = "%s/images/%s/metadata" % (C, iid)
        r = http("POST", base, {"metadata": {"os_distro": "debian"}}, token=demo)
        assert r.status == 200 and r.json["metadata"]["os_distro"] == "debian", r.text
        r = http("PUT", base + "/os_version", {"meta": {"os_version": "12"}}, token=demo)
        assert r.status == 200 and r.json == {"meta": {"os_version": "12"}}, r.text
        assert_error(http("PUT", base + "/a", {"meta": {"b": "1"}}, token=demo), 400)
        r = http("GET", base + "/os_version", token=demo)
        assert r.json == {"meta": {"os_version": "12"}}, r.text
        r = http("PUT", base, {"metadata": {"k": "v"}}, token=demo)
        assert r.status == 200 and r.json == {"metadata": {"k": "v"}}, r.text
        assert http("GET", base, token=demo).json == {"metadata": {"k": "v"}}
        assert_error(http("POST", base, {"metadata": {"min_ram": "5"}}, token=demo), 403)
        r = http("DELETE", base + "/k", token=demo)
        assert r.status == 204, r.text
        assert_error(http("DELETE", base + "/k", token=demo), 404)
        assert_error(http("GET", base, token=demo, headers=_hdr("2.39")), 404)
        # gone at 2.36
        assert_error(http("GET", C + "/images", token=demo, headers=_hdr("2.36")), 404)
        assert_error(http("GET", C + "/images/" + str(uuid.uuid4()), token=demo), 404)
        r = http("DELETE", C + "/images/" + iid, token=demo)
        assert r.status == 204, r.text
        assert_error(http("GET", C + "/images/" + iid, token=demo), 404)
    finally:
        os_run("image", "delete", iid, check=False)


def test_image_proxy_marker_is_glance_visible(stack, http):
    """The list marker is found with Glance's visibility rule (another project's private
    image is no marker, so its existence does not leak) and in any case (the page after
    an UPPERCASE id is the page after the id)."""
    tok, demo = stack.token("admin"), stack.token("demo")
    made = []

    def create(token, **extra):
        r = http("POST", "/image/v2/images",
                 dict({"name": _uniq("img"), "disk_format": "raw",
                       "container_format": "bare"}, **extra), token=token)
        assert r.status == 201, r.text
        made.append((r.json["id"], token))
        return r.json["id"]
    try:
        hidden = create(tok, visibility="private")
        r = http("GET", C + "/images?marker=" + hidden, token=demo)
        assert_error(r, 400)
        assert "not found" in r.text, r.text
        assert http("GET", C + "/images?marker=" + hidden, token=tok).status == 200
        create(demo, visibility="private")
        create(demo, visibility="private")
        r = http("GET", C + "/images?limit=1", token=demo)
        assert r.status == 200 and len(r.json["images"]) == 1, r.text
        first = r.json["images"][0]["id"]
        lower = http("GET", C + "/images?marker=" + first, token=demo)
        upper = http("GET", C + "/images?marker=" + first.upper(), token=demo)
        assert lower.status == 200 and upper.status == 200, upper.text
        assert lower.json["images"], lower.text
        assert [i["id"] for i in upper.json["images"]] == \
            [i["id"] for i in lower.json["images"]], upper.text
    finally:
        for iid, t in made:
            http("DELETE", "/image/v2/images/" + iid, token=t)
