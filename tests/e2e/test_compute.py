"""Compute v2.1 and images through the real openstack CLI: the flow of issue 2's "What
a user can do" on real (TCG) VMs, then tenancy, quotas and bad input.

The tests of a section run in file order and share the session VM (see conftest)."""
import secrets
import threading

import pytest

from nubo_e2e import assert_error, wait_for

API = "/compute/v2.1"
PUBKEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJMj+TqwI7G0HeS3tONupKwOaN7URMLfkBGKqN2+vp2b"
          " e2e@nubo")


# ------------------------------------------------------------------ catalog of things
def test_flavor_list(os_cli):
    flavors = {f["Name"]: f for f in os_cli("flavor", "list")}
    assert {"m1.tiny", "m1.small", "m1.medium", "m1.large"} <= set(flavors)
    tiny = flavors["m1.tiny"]
    assert (tiny["VCPUs"], tiny["RAM"], tiny["Disk"]) == (1, 512, 1)
    assert flavors["m1.small"]["RAM"] > tiny["RAM"]
    # members see them too
    assert "m1.tiny" in {f["Name"] for f in os_cli("flavor", "list", user="demo")}


def test_flavor_create_show_delete_by_admin(os_cli, os_run):
    f = os_cli("flavor", "create", "--ram", "128", "--vcpus", "1", "--disk", "1", "e2e.flavor")
    assert (f["name"], f["ram"], f["vcpus"], f["disk"]) == ("e2e.flavor", 128, 1, 1)
    assert os_cli("flavor", "show", "e2e.flavor")["id"] == f["id"]
    os_run("flavor", "delete", "e2e.flavor")
    assert os_run("flavor", "show", "e2e.flavor", check=False).returncode != 0


def test_image_list_shows_the_guest_image(os_cli):
    images = {i["Name"]: i for i in os_cli("image", "list")}
    assert images["nubo-tiny"]["Status"] == "active"
    img = os_cli("image", "show", "nubo-tiny")
    assert img["disk_format"] == "qcow2" and img["visibility"] == "public"
    assert "nubo-tiny" in {i["Name"] for i in os_cli("image", "list", user="demo")}


def test_image_upload_and_download(stack, os_cli, os_run, tmp_path):
    src = tmp_path / "blob.raw"
    src.write_bytes(bytes(range(256)) * 4096)  # 1 MiB raw disk
    img = os_cli("image", "create", "--disk-format", "raw", "--container-format", "bare",
                 "--file", src, "e2e-raw", user="demo")
    try:
        assert os_cli("image", "show", img["id"], user="demo")["status"] == "active"
        out = tmp_path / "back.raw"
        os_run("image", "save", "--file", out, img["id"], user="demo")
        assert out.read_bytes() == src.read_bytes()
    finally:
        os_run("image", "delete", img["id"], user="demo")


def test_limits_and_availability_zones(os_cli):
    limits = {x["Name"]: x["Value"] for x in os_cli("limits", "show", "--absolute")}
    assert limits["maxTotalInstances"] >= 1 and "totalInstancesUsed" in limits
    zones = os_cli("availability", "zone", "list", "--compute")
    assert any(z["Zone Name"] == "nova" for z in zones), zones


def test_hypervisors_admin_only(stack, os_cli, http):
    hv = os_cli("hypervisor", "list")
    assert len(hv) >= 1 and hv[0]["State"] == "up", hv
    assert_error(http("GET", API + "/os-hypervisors", token=stack.token("demo")), 403)


# ------------------------------------------------------------------ keypairs
def test_keypair_create_returns_the_private_key(stack, keypair, os_cli, http):
    name, private = keypair
    assert "PRIVATE KEY-----" in private
    kp = {k["Name"]: k for k in os_cli("keypair", "list")}
    assert name in kp and kp[name]["Fingerprint"]
    # the private key is given once, never stored or shown again
    assert not os_cli("keypair", "show", name).get("private_key")
    r = http("GET", API + "/os-keypairs/" + name, token=stack.token("admin"))
    assert r.status == 200 and "PRIVATE KEY" not in r.text, r


def test_keypair_import_and_delete(os_cli, os_run, tmp_path):
    pub = tmp_path / "k.pub"
    pub.write_text(PUBKEY + "\n")
    kp = os_cli("keypair", "create", "--public-key", pub, "e2e-imported", user="demo")
    assert kp["name"] == "e2e-imported" and kp["fingerprint"]
    shown = os_run("keypair", "show", "--public-key", "e2e-imported", user="demo").stdout
    assert shown.strip() == PUBKEY
    # keypairs belong to their user
    assert "e2e-imported" not in {k["Name"] for k in os_cli("keypair", "list")}
    os_run("keypair", "delete", "e2e-imported", user="demo")
    assert "e2e-imported" not in {k["Name"] for k in os_cli("keypair", "list", user="demo")}


def test_keypair_needs_a_project_scoped_token(stack, os_cli, os_run, http):
    """A user without a default project logs in unscoped; such a token has no project
    whose key_pairs quota could count the key, so it may not create one."""
    uname, pw = "e2e-unscoped-" + secrets.token_hex(3), "pw-" + secrets.token_hex(8)
    os_cli("user", "create", "--domain", "default", "--password", pw, uname)
    os_run("role", "add", "--user", uname, "--project", "demo", "member")
    try:
        r = http("POST", "/identity/v3/auth/tokens", {"auth": {"identity": {
            "methods": ["password"], "password": {"user": {
                "name": uname, "domain": {"name": "Default"}, "password": pw}}}}})
        assert r.status == 201 and "project" not in r.json["token"], r
        r = http("POST", API + "/os-keypairs", {"keypair": {"name": "e2e-unscoped"}},
                 token=r.headers["X-Subject-Token"])
        assert_error(r, 403)
    finally:
        os_run("user", "delete", uname)


def test_upload_into_a_foreign_image_is_refused(stack, http):
    adm, demo = stack.token("admin"), stack.token("demo")
    r = http("POST", "/image/v2/images", {"name": "e2e-foreign", "disk_format": "raw",
                                           "container_format": "bare", "visibility": "public"},
             token=adm)
    assert r.status == 201, r
    img = r.json["id"]
    try:
        r = http("PUT", "/image/v2/images/%s/file" % img, token=demo, raw=b"\0" * (1 << 20),
                 headers={"Content-Type": "application/octet-stream"})
        assert r.status == 403, r
        assert http("GET", "/image/v2/images/" + img, token=adm).json["status"] == "queued"
        leftovers = list((stack.root / "var" / "lib" / "nubo" / "images").glob(".upload-*"))
        assert leftovers == [], leftovers
    finally:
        http("DELETE", "/image/v2/images/" + img, token=adm)


def test_keypair_bad_input(stack, http):
    tok = stack.token("demo")
    r = http("POST", API + "/os-keypairs",
             {"keypair": {"name": "bad", "public_key": "ssh-rsa not-base64!"}}, token=tok)
    assert_error(r, 400)
    assert_error(http("POST", API + "/os-keypairs", {"keypair": {"name": "x" * 300}}, token=tok),
                 400)


# ------------------------------------------------------------------ the session VM
def test_server_create_wait_is_active(vm, os_cli, keypair):
    assert vm["status"] == "ACTIVE"
    s = os_cli("server", "show", vm["id"])
    assert s["name"] == "e2e-vm1" and s["key_name"] == keypair[0]
    assert s["flavor"].startswith("m1.tiny") and s["image"].startswith("nubo-tiny")
    assert s["OS-EXT-STS:vm_state"] == "active" and s["OS-EXT-STS:power_state"] in ("Running", 1)
    assert s["OS-EXT-SRV-ATTR:host"]
    listed = [x for x in os_cli("server", "list") if x["ID"] == vm["id"]]
    assert len(listed) == 1 and listed[0]["Status"] == "ACTIVE"


def test_one_qemu_runs_the_vm(stack, vm):
    assert len(stack.qemu_pids(vm["id"])) == 1
    d = stack.instance_dir(vm["id"])
    assert (d / "disk.qcow2").is_file() and (d / "console.log").is_file()


def test_console_log_shows_ready_line_and_user_data(stack, vm):
    def ready():
        text = stack.console(vm["id"])
        return text if "nubo-guest ready" in text and "hello-from-userdata" in text else None
    text = wait_for(ready, 300, 3, "the guest's ready line and user-data output on the console")
    line = next(x for x in text.splitlines() if "nubo-guest ready" in x)
    assert vm["id"] in line, line
    assert "e2e-vm1" in line, line


@pytest.mark.parametrize("action,status", [
    ("stop", "SHUTOFF"), ("start", "ACTIVE"), ("reboot", "ACTIVE"), ("pause", "PAUSED"),
    ("unpause", "ACTIVE"), ("suspend", "SUSPENDED"), ("resume", "ACTIVE")])
def test_server_action(stack, vm, os_run, action, status):
    os_run("server", action, vm["id"])
    s = stack.wait_status(vm["id"], status)
    assert s["OS-EXT-STS:vm_state"] == status.lower().replace("shutoff", "stopped"), s
    if status == "ACTIVE":
        assert len(stack.qemu_pids(vm["id"])) == 1


def test_action_in_the_wrong_state_is_409(stack, vm, http):
    tok = stack.token("admin")
    path = "%s/servers/%s/action" % (API, vm["id"])
    assert_error(http("POST", path, {"os-start": None}, token=tok), 409)
    assert_error(http("POST", path, {"unpause": None}, token=tok), 409)
    assert_error(http("POST", path, {"resume": None}, token=tok), 409)
    assert stack.server(vm["id"])["status"] == "ACTIVE"


def test_console_output_api(stack, vm, http):
    r = http("POST", "%s/servers/%s/action" % (API, vm["id"]),
             {"os-getConsoleOutput": {"length": 5}}, token=stack.token("admin"))
    assert r.status == 200, r
    assert len(r.json["output"].splitlines()) <= 5
    # Nova's (and Tempest's) count: the log split at newlines, the final one included
    r = http("POST", "%s/servers/%s/action" % (API, vm["id"]),
             {"os-getConsoleOutput": {"length": 3}}, token=stack.token("admin"))
    assert len(r.json["output"].split("\n")) == 3, r


# ------------------------------------------------------------------ tenancy
def test_another_tenant_gets_404(stack, vm, os_cli, os_run, http):
    tok = stack.token("demo")
    path = "%s/servers/%s" % (API, vm["id"])
    assert_error(http("GET", path, token=tok), 404)
    assert_error(http("DELETE", path, token=tok), 404)
    assert_error(http("POST", path + "/action", {"os-stop": None}, token=tok), 404)
    assert vm["id"] not in {s["ID"] for s in os_cli("server", "list", user="demo")}
    r = http("GET", API + "/servers/detail?all_tenants=1", token=tok)
    assert r.status in (200, 403), r
    if r.status == 200:
        assert vm["id"] not in {s["id"] for s in r.json["servers"]}
    proc = os_run("server", "show", vm["id"], user="demo", check=False)
    assert proc.returncode != 0
    assert stack.server(vm["id"])["status"] == "ACTIVE"


# ------------------------------------------------------------------ quotas
@pytest.fixture
def demo_quota(stack, project_ids):
    """Sets demo's compute quotas for one test and puts the old ones back."""
    path = "%s/os-quota-sets/%s" % (API, project_ids["demo"])
    old = stack.http("GET", path, token=stack.token("admin")).json["quota_set"]

    def set_quota(**kw):
        args = []
        for k, v in kw.items():
            args += ["--" + k, str(v)]
        stack.os_run("quota", "set", *args, "demo")
    yield set_quota
    stack.os_run("quota", "set", "--instances", old["instances"], "--cores", old["cores"],
                 "--ram", old["ram"], "demo")


def demo_servers(stack):
    return stack.os_cli("server", "list", user="demo")


def delete_and_check_gone(stack, server_id, user):
    """server delete --wait; then no QEMU and no instance directory are left."""
    stack.os_run("server", "delete", "--wait", server_id, user=user)
    wait_for(lambda: not stack.qemu_pids(server_id), 30, 1, "QEMU of %s to exit" % server_id)
    wait_for(lambda: not stack.instance_dir(server_id).exists(), 30, 1,
             "instance dir of %s to be removed" % server_id)
    assert stack.os_run("server", "show", server_id, user=user, check=False).returncode != 0
    assert stack.http("GET", "%s/servers/%s" % (API, server_id),
                      token=stack.token(user)).status == 404


def test_over_quota_is_403_and_creates_nothing(stack, os_cli, os_run, demo_quota, http, ids):
    assert demo_servers(stack) == []
    demo_quota(instances=1)
    s = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny", "--wait",
               "e2e-q1", user="demo")
    assert s["status"] == "ACTIVE"
    assert len(stack.qemu_pids(s["id"])) == 1

    proc = os_run("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny", "e2e-q2",
                  user="demo", check=False)
    assert proc.returncode != 0 and "403" in proc.stderr, proc.stderr
    body = {"server": {"name": "e2e-q3", "imageRef": ids["image"], "flavorRef": ids["flavor"]}}
    r = http("POST", API + "/servers", body, token=stack.token("demo"))
    assert_error(r, 403)
    assert "quota" in r.json["forbidden"]["message"].lower(), r
    assert [x["Name"] for x in demo_servers(stack)] == ["e2e-q1"]

    # the flow's last step: delete --wait, and nothing of the VM is left on the host
    delete_and_check_gone(stack, s["id"], "demo")
    assert demo_servers(stack) == []


def test_ram_quota_is_enforced(stack, demo_quota, http, ids):
    demo_quota(ram=256)
    body = {"server": {"name": "e2e-ram", "imageRef": ids["image"], "flavorRef": ids["flavor"]}}
    assert_error(http("POST", API + "/servers", body, token=stack.token("demo")), 403)
    assert demo_servers(stack) == []


def test_concurrent_creates_respect_the_quota(stack, demo_quota, http, ids):
    assert demo_servers(stack) == []
    demo_quota(instances=1)
    tok = stack.token("demo")
    n = 3
    barrier = threading.Barrier(n)
    results = [None] * n

    def create(i):
        body = {"server": {"name": "e2e-c%d" % i, "imageRef": ids["image"],
                           "flavorRef": ids["flavor"]}}
        barrier.wait()
        results[i] = http("POST", API + "/servers", body, token=tok)
    threads = [threading.Thread(target=create, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    statuses = sorted(r.status for r in results)
    assert statuses == [202, 403, 403], results
    servers = demo_servers(stack)
    assert len(servers) == 1, servers
    won = next(r for r in results if r.status == 202).json["server"]["id"]
    assert servers[0]["ID"] == won
    stack.wait_status(won, "ACTIVE", user="demo")
    delete_and_check_gone(stack, won, "demo")


# ------------------------------------------------------------------ bad input
def test_unknown_flavor_or_image(stack, os_run, http, ids):
    before = demo_servers(stack)
    tok = stack.token("demo")
    for body in (
            {"server": {"name": "e2e-bad", "imageRef": ids["image"], "flavorRef": "no-such-flavor"}},
            {"server": {"name": "e2e-bad", "imageRef": ids["image"],
                        "flavorRef": "7b2e4b0a-0000-4000-8000-000000000000"}},
            {"server": {"name": "e2e-bad", "imageRef": "7b2e4b0a-0000-4000-8000-000000000001",
                        "flavorRef": ids["flavor"]}},
            {"server": {"name": "e2e-bad", "imageRef": "not-an-image", "flavorRef": ids["flavor"]}}):
        r = http("POST", API + "/servers", body, token=tok)
        assert r.status in (400, 404), (body, r)
        assert_error(r, r.status)
    for args in (("--flavor", "no-such-flavor", "--image", "nubo-tiny"),
                 ("--flavor", "m1.tiny", "--image", "no-such-image")):
        proc = os_run("server", "create", *args, "e2e-bad", user="demo", check=False)
        assert proc.returncode != 0, proc.stdout
    assert demo_servers(stack) == before


def test_no_host_fits_is_error_with_a_reason(stack, os_cli, os_run):
    """A flavor larger than any host (after the RAM overcommit ratio) cannot be placed:
    the server goes to ERROR and its fault says why, naming the host."""
    hv = os_cli("hypervisor", "list", "--long")[0]
    ram = int(hv["Memory MB"]) * 2 + 1024  # above the default 1.5 ratio
    quota = os_cli("quota", "show", "admin")
    if int(quota.get("ram", 0)) != -1:
        os_run("quota", "set", "--ram", "-1", "admin")  # placement, not quota, must refuse
    name = "e2e.huge"
    os_run("flavor", "create", "--ram", str(ram), "--disk", "1", "--vcpus", "1", name)
    try:
        sid = os_cli("server", "create", "--flavor", name, "--image", "nubo-tiny",
                     "e2e-nohost")["id"]
        s = stack.wait_status(sid, "ERROR", timeout=120)
        fault = s.get("fault") or {}
        assert "no host has %d MB RAM free" % ram in fault.get("message", ""), s
        assert hv["Hypervisor Hostname"] in fault["message"], s
        stack.os_run("server", "delete", "--wait", sid)
        # a multiple create with a name of the longest length: the "-N" suffixes still
        # fit 255 bytes, so the failure is placement's, not a message bound's
        long = "n" * 255
        os_run("server", "create", "--flavor", name, "--image", "nubo-tiny", "--min", "2",
               "--max", "2", long)
        tok = stack.token("admin")
        r = stack.http("GET", API + "/servers/detail?name=^nnnn", token=tok)
        made = [x for x in r.json["servers"] if x["name"].startswith("nnnn")]
        assert len(made) == 2, made
        for x in made:
            assert len(x["name"]) <= 255 and x["name"].endswith(("-1", "-2")), x["name"]
            e = stack.wait_status(x["id"], "ERROR", timeout=120)
            assert "no host has" in e["fault"]["message"], e
            stack.os_run("server", "delete", "--wait", x["id"])
    finally:
        os_run("flavor", "delete", name)


def test_unknown_server_is_404(stack, http, os_run):
    tok = stack.token("admin")
    for ref in ("7b2e4b0a-0000-4000-8000-000000000002", "no-such-server"):
        assert_error(http("GET", "%s/servers/%s" % (API, ref), token=tok), 404)
        assert_error(http("DELETE", "%s/servers/%s" % (API, ref), token=tok), 404)
        assert_error(http("POST", "%s/servers/%s/action" % (API, ref), {"os-stop": None},
                          token=tok), 404)
    assert_error(http("GET", API + "/flavors/no-such-flavor", token=tok), 404)
    assert_error(http("GET", API + "/os-keypairs/no-such-key", token=tok), 404)
    assert os_run("server", "show", "no-such-server", check=False).returncode != 0


@pytest.mark.parametrize("raw", [b"{", b'{"server": ', b"not json", b"[]", b"null", b"\xff\xfe",
                                 b'{"server": []}', b'{"server": {"name": 5}}', b"{}"])
def test_malformed_server_create_is_400(stack, http, raw):
    assert_error(http("POST", API + "/servers", raw=raw, token=stack.token("demo")), 400)


def test_invalid_server_fields_are_400(stack, http, ids):
    tok = stack.token("demo")
    base = {"name": "e2e-inv", "imageRef": ids["image"], "flavorRef": ids["flavor"]}
    for extra in ({"name": ""}, {"name": "x" * 256}, {"min_count": 0}, {"min_count": "a"},
                  {"user_data": "!!!not base64!!!"}, {"user_data": "A" * (200 * 1024)},
                  {"key_name": "no-such-key"}, {"imageRef": None}):
        r = http("POST", API + "/servers", {"server": dict(base, **extra)}, token=tok)
        assert r.status == 400, (extra, r)
        assert_error(r, 400)
    assert demo_servers(stack) == []


def test_malformed_bodies_elsewhere_are_400(stack, http, vm):
    admin = stack.token("admin")
    assert_error(http("POST", API + "/flavors", raw=b"{", token=admin), 400)
    assert_error(http("POST", API + "/flavors", {"flavor": {"name": "x", "ram": "lots"}},
                      token=admin), 400)
    assert_error(http("POST", API + "/os-keypairs", raw=b"[1,", token=admin), 400)
    action = "%s/servers/%s/action" % (API, vm["id"])
    assert_error(http("POST", action, raw=b"{", token=admin), 400)
    assert_error(http("POST", action, {"os-no-such-action": None}, token=admin), 400)
    assert_error(http("POST", action, {}, token=admin), 400)


def test_oversized_body_is_refused(stack, http):
    big = b'{"server": {"name": "' + b"a" * (8 * 1024 * 1024) + b'"}}'
    try:
        r = http("POST", API + "/servers", raw=big, token=stack.token("demo"), timeout=120)
    except OSError:
        pass  # answered early and closed while we were still sending: refused too
    else:
        assert r.status in (400, 413), r
    assert http("GET", "/identity/v3").status == 200
    assert demo_servers(stack) == []


# ------------------------------------------------------------------ issue 7: conformance
def mv(v):
    """The header asking for compute microversion v."""
    return {"OpenStack-API-Version": "compute " + v}


def test_microversion_negotiation(stack, http):
    tok = stack.token("admin")
    r = http("GET", API + "/flavors", token=tok)
    assert r.status == 200 and r.headers["OpenStack-API-Version"] == "compute 2.1", r
    assert r.headers["X-OpenStack-Nova-API-Version"] == "2.1"
    doc = http("GET", "/compute/v2.1").json["version"]
    top = doc["version"]
    r = http("GET", API + "/flavors", token=tok, headers=mv("latest"))
    assert r.headers["OpenStack-API-Version"] == "compute " + top, (r.headers, doc)
    r = http("GET", API + "/flavors", token=tok,
             headers={"X-OpenStack-Nova-API-Version": "latest"})
    assert r.headers["X-OpenStack-Nova-API-Version"] == top
    major, minor = top.split(".")
    assert_error(http("GET", API + "/flavors", token=tok,
                      headers=mv("%s.%d" % (major, int(minor) + 1))), 406)
    assert_error(http("GET", API + "/flavors", token=tok, headers=mv("2.0")), 406)
    r = http("GET", API + "/flavors", token=tok, headers=mv("2.x"))
    assert_error(r, 400)
    assert "MajorNum.MinorNum" in r.json["badRequest"]["message"]


def test_ips_update_and_access_ips(stack, vm, http):
    tok = stack.token("admin")
    path = "%s/servers/%s" % (API, vm["id"])
    r = http("GET", path + "/ips", token=tok)
    assert r.status == 200 and r.json == {"addresses": {}}, r
    assert_error(http("GET", path + "/ips/private", token=tok), 404)
    r = http("PUT", path, {"server": {"accessIPv6": "2001:DB8:0:0::1", "accessIPv4": "10.0.0.9"}},
             token=tok)
    assert r.status == 200, r
    s = r.json["server"]
    assert s["accessIPv6"] == "2001:db8::1" and s["accessIPv4"] == "10.0.0.9", s
    for only_show in ("OS-EXT-STS:vm_state", "key_name", "security_groups",
                      "OS-EXT-SRV-ATTR:host", "OS-EXT-AZ:availability_zone"):
        assert only_show not in s, s
    assert_error(http("PUT", path, {"server": {"accessIPv4": "10.0.0.300"}}, token=tok), 400)
    assert_error(http("PUT", path, {"server": {"accessIPv6": "fe80::zz"}}, token=tok), 400)
    assert_error(http("PUT", path, {"server": {"description": "d"}}, token=tok), 400)
    r = http("PUT", path, {"server": {"description": "front"}}, token=tok, headers=mv("2.19"))
    assert r.status == 200 and r.json["server"]["description"] == "front", r
    r = http("GET", path, token=tok, headers=mv("2.19"))
    assert r.json["server"]["description"] == "front", r
    http("PUT", path, {"server": {"accessIPv4": "0.0.0.0", "accessIPv6": "::",
                                  "description": None}}, token=tok, headers=mv("2.19"))


def test_lock_refuses_actions_of_non_admins(stack, vm, http, project_ids):
    admin = stack.token("admin")
    path = "%s/servers/%s" % (API, vm["id"])
    r = http("POST", path + "/action", {"lock": None}, token=admin)
    assert r.status == 202, r
    try:
        r = http("GET", path, token=admin, headers=mv("2.9"))
        assert r.json["server"]["locked"] is True, r
        assert "locked" not in http("GET", path, token=admin).json["server"]
        # an admin may still act on it; the action list records it all
        r = http("POST", path + "/action", {"os-getConsoleOutput": {"length": 1}}, token=admin)
        assert r.status == 200, r
    finally:
        assert http("POST", path + "/action", {"unlock": None}, token=admin).status == 202
    assert http("GET", path, token=admin, headers=mv("2.9")).json["server"]["locked"] is False
    r = http("GET", path + "/os-instance-actions", token=admin)
    acts = [a["action"] for a in r.json["instanceActions"]]
    assert acts[:2] == ["unlock", "lock"] and acts[-1] == "create", acts


def test_instance_actions_have_finished_events(stack, vm, http):
    tok = stack.token("admin")
    path = "%s/servers/%s" % (API, vm["id"])
    r = http("GET", path + "/os-instance-actions", token=tok)
    assert r.status == 200, r
    acts = r.json["instanceActions"]
    create = [a for a in acts if a["action"] == "create"][0]
    assert create["request_id"].startswith("req-") and create["instance_uuid"] == vm["id"]
    r = http("GET", path + "/os-instance-actions/" + create["request_id"], token=tok)
    assert r.status == 200, r
    ev = r.json["instanceAction"]["events"]
    assert ev[0]["event"] == "compute__do_build_and_run_instance", ev
    assert ev[0]["result"] == "Success" and ev[0]["finish_time"], ev
    assert_error(http("GET", path + "/os-instance-actions/req-nope", token=tok), 404)
    # the stop/start of test_server_action, when it ran first, finished too
    for a in acts:
        if a["action"] in ("stop", "start", "reboot", "pause", "unpause", "suspend", "resume"):
            r = http("GET", path + "/os-instance-actions/" + a["request_id"], token=tok)
            e = r.json["instanceAction"]["events"][0]
            assert e["event"] == "compute_%s_instance" % a["action"], e
            assert e["result"] == "Success", e


def test_quota_class_sets_feed_the_defaults(stack, http, project_ids):
    admin = stack.token("admin")
    r = http("GET", API + "/os-quota-class-sets/default", token=admin)
    assert r.status == 200, r
    q = r.json["quota_class_set"]
    assert q["id"] == "default" and q["instances"] == 10 and "floating_ips" in q, q
    # Nova's os-quota-class-sets:show is admin-only, as its update
    assert_error(http("GET", API + "/os-quota-class-sets/default", token=stack.token("demo")),
                 403)
    assert_error(http("PUT", API + "/os-quota-class-sets/default",
                      {"quota_class_set": {"key_pairs": 99}}, token=stack.token("demo")), 403)
    r = http("PUT", API + "/os-quota-class-sets/default",
             {"quota_class_set": {"key_pairs": 77}}, token=admin)
    assert r.status == 200 and r.json["quota_class_set"]["key_pairs"] == 77, r
    try:
        r = http("GET", API + "/os-quota-sets/%s/defaults" % project_ids["demo"], token=admin)
        assert r.json["quota_set"]["key_pairs"] == 77, r
        r = http("GET", API + "/os-quota-sets/%s" % project_ids["demo"], token=admin)
        assert r.json["quota_set"]["key_pairs"] == 77, r
    finally:
        http("PUT", API + "/os-quota-class-sets/default",
             {"quota_class_set": {"key_pairs": 100}}, token=admin)
    assert_error(http("PUT", API + "/os-quota-class-sets/default",
                      {"quota_class_set": {"bogus": 1}}, token=admin), 400)


def test_flavor_is_public_takes_nova_booleans(stack, http):
    admin = stack.token("admin")
    for v in ("f", "False", "0", "no", "off", "n"):
        r = http("GET", API + "/flavors/detail?is_public=" + v, token=admin)
        assert r.status == 200, (v, r)
        assert all(not f["os-flavor-access:is_public"] for f in r.json["flavors"]), (v, r)
    for v in ("t", "TRUE", "1", "yes", "on", "y"):
        r = http("GET", API + "/flavors/detail?is_public=" + v, token=admin)
        assert r.status == 200 and r.json["flavors"], (v, r)
    r = http("GET", API + "/flavors/detail?is_public=none", token=admin)
    assert r.status == 200, r
    assert_error(http("GET", API + "/flavors/detail?is_public=maybe", token=admin), 400)


# ------------------------------------------------------------------ microversion steps
def get(http, tok, path, v):
    return http("GET", API + path, token=tok, headers=mv(v))


def test_keypair_microversions(stack, http):
    admin, demo = stack.token("admin"), stack.token("demo")
    r = http("POST", API + "/os-keypairs", {"keypair": {"name": "mv-k1"}}, token=admin)
    assert r.status == 200 and "type" not in r.json["keypair"], r  # 2.1
    assert_error(http("POST", API + "/os-keypairs", {"keypair": {"name": "x", "type": "ssh"}},
                      token=admin), 400)
    r = http("POST", API + "/os-keypairs", {"keypair": {"name": "mv-k2", "type": "ssh"}},
             token=admin, headers=mv("2.2"))
    assert r.status == 201 and r.json["keypair"]["type"] == "ssh", r
    assert get(http, admin, "/os-keypairs/mv-k2", "2.2").json["keypair"]["type"] == "ssh"
    assert "type" not in get(http, admin, "/os-keypairs/mv-k2", "2.1").json["keypair"]
    # 2.35: paging by name
    r = get(http, admin, "/os-keypairs?limit=1", "2.35")
    assert len(r.json["keypairs"]) == 1 and "marker=" in r.json["keypairs_links"][0]["href"], r
    first = r.json["keypairs"][0]["keypair"]["name"]
    r = get(http, admin, "/os-keypairs?limit=1&marker=" + first, "2.35")
    assert r.json["keypairs"][0]["keypair"]["name"] > first, r
    assert_error(get(http, admin, "/os-keypairs?marker=nope-none", "2.35"), 400)
    # 2.10: an admin names the user; a member may not
    me = stack.http("GET", "/identity/v3/auth/tokens", token=admin,
                    headers={"X-Subject-Token": admin}).json["token"]["user"]["id"]
    r = get(http, demo, "/os-keypairs?user_id=" + me, "2.10")
    assert_error(r, 403)
    r = get(http, demo, "/os-keypairs?user_id=" + me, "2.9")  # ignored before 2.10
    assert r.status == 200 and "mv-k1" not in str(r.json), r
    # 2.2's x509 type: generated (key and certificate), and imported
    r = http("POST", API + "/os-keypairs", {"keypair": {"name": "mv-x1", "type": "x509"}},
             token=admin, headers=mv("2.2"))
    assert r.status == 201, r
    kp = r.json["keypair"]
    assert kp["type"] == "x509" and "BEGIN CERTIFICATE" in kp["public_key"], kp
    assert "PRIVATE KEY" in kp["private_key"] and len(kp["fingerprint"]) == 59, kp
    r = http("POST", API + "/os-keypairs", {"keypair": {"name": "mv-x2", "type": "x509",
                                                        "public_key": kp["public_key"]}},
             token=admin, headers=mv("2.2"))
    assert r.status == 201 and r.json["keypair"]["fingerprint"] == kp["fingerprint"], r
    assert_error(http("POST", API + "/os-keypairs", {"keypair": {
        "name": "mv-x3", "type": "x509", "public_key": "not a certificate"}}, token=admin,
        headers=mv("2.2")), 400)
    assert_error(http("POST", API + "/os-keypairs", {"keypair": {"name": "mv-x4", "type": "pgp"}},
                      token=admin, headers=mv("2.2")), 400)
    for k in ("mv-x1", "mv-x2"):
        assert http("DELETE", API + "/os-keypairs/" + k, token=admin,
                    headers=mv("2.2")).status == 204
    assert http("DELETE", API + "/os-keypairs/mv-k1", token=admin).status == 202
    assert http("DELETE", API + "/os-keypairs/mv-k2", token=admin,
                headers=mv("2.2")).status == 204


def test_keypair_of_another_user(stack, http, project_ids):
    """2.10: an admin's key pair for a user that does not exist is a 400, and one for
    another user counts that user's keys against key_pairs, not the admin's."""
    admin, v = stack.token("admin"), mv("2.10")
    kp = lambda name, uid: {"keypair": {"name": name, "user_id": uid, "public_key": PUBKEY}}
    r = http("POST", API + "/os-keypairs", kp("e2e-ku", "no-such-user"), token=admin, headers=v)
    assert_error(r, 400)
    assert r.json["badRequest"]["message"] == "User no-such-user could not be found.", r
    demo = stack.os_cli("user", "show", "demo")["id"]
    count = lambda q: len(get(http, admin, "/os-keypairs" + q, "2.10").json["keypairs"])
    made = ["e2e-ku-%d" % i for i in range(count("") + 1)]
    quota = API + "/os-quota-sets/" + project_ids["admin"]
    before = http("GET", quota, token=admin).json["quota_set"]["key_pairs"]
    try:
        for name in made:
            r = http("POST", API + "/os-keypairs", kp(name, demo), token=admin, headers=v)
            assert r.status == 201, r
        # demo now holds more keys than the admin: a limit between the two
        held = count("?user_id=" + demo)
        assert held > count("")
        r = http("PUT", quota, {"quota_set": {"key_pairs": held}}, token=admin)
        assert r.status == 200, r
        r = http("POST", API + "/os-keypairs", kp("e2e-ku-x", demo), token=admin, headers=v)
        assert_error(r, 403)
        assert "too many key pairs" in r.text, r
        me = stack.http("GET", "/identity/v3/auth/tokens", token=admin,
                        headers={"X-Subject-Token": admin}).json["token"]["user"]["id"]
        r = http("POST", API + "/os-keypairs", kp("e2e-ku-mine", me), token=admin, headers=v)
        assert r.status == 201, r
        assert http("DELETE", API + "/os-keypairs/e2e-ku-mine", token=admin,
                    headers=v).status == 204
    finally:
        http("PUT", quota, {"quota_set": {"key_pairs": before}}, token=admin)
        for name in made:
            http("DELETE", API + "/os-keypairs/%s?user_id=%s" % (name, demo), token=admin,
                 headers=v)


def test_limits_and_quota_microversions(stack, http, project_ids):
    tok = stack.token("admin")
    ab = lambda v: get(http, tok, "/limits", v).json["limits"]["absolute"]
    assert {"maxSecurityGroups", "maxImageMeta", "maxPersonality"} <= set(ab("2.1"))
    assert "maxSecurityGroups" not in ab("2.36") and "maxImageMeta" in ab("2.36")
    assert "maxImageMeta" not in ab("2.39") and "maxPersonality" in ab("2.39")
    assert "maxPersonality" not in ab("2.57") and "maxTotalInstances" in ab("2.57")
    q = lambda v: get(http, tok, "/os-quota-sets/" + project_ids["demo"], v).json["quota_set"]
    assert "floating_ips" in q("2.35") and "floating_ips" not in q("2.36")
    assert "injected_files" in q("2.56") and "injected_files" not in q("2.57")
    assert_error(http("PUT", API + "/os-quota-sets/" + project_ids["demo"],
                      {"quota_set": {"floating_ips": 5}}, token=tok, headers=mv("2.36")), 400)
    c = lambda v: get(http, tok, "/os-quota-class-sets/default", v).json["quota_class_set"]
    assert "floating_ips" in c("2.49") and "server_groups" not in c("2.49")
    assert "floating_ips" not in c("2.50") and "server_groups" in c("2.50")
    assert "injected_files" not in c("2.57")


def test_hypervisor_and_service_microversions(stack, http):
    tok = stack.token("admin")
    h = get(http, tok, "/os-hypervisors/detail", "2.1").json["hypervisors"][0]
    assert isinstance(h["cpu_info"], str) and isinstance(h["id"], int), h
    h = get(http, tok, "/os-hypervisors/detail", "2.28").json["hypervisors"][0]
    assert isinstance(h["cpu_info"], dict), h
    r = get(http, tok, "/os-hypervisors?limit=1", "2.33")
    assert len(r.json["hypervisors"]) == 1 and r.json["hypervisors_links"], r
    r = get(http, tok, "/os-hypervisors?limit=1", "2.32")
    assert "hypervisors_links" not in r.json, r
    h = get(http, tok, "/os-hypervisors/detail", "2.53").json["hypervisors"][0]
    assert len(h["id"]) == 36 and len(h["service"]["id"]) == 36, h
    r = get(http, tok, "/os-hypervisors/" + h["id"] + "?with_servers=1", "2.53")
    assert r.status == 200 and r.json["hypervisor"]["id"] == h["id"], r
    name = h["hypervisor_hostname"]
    assert_error(get(http, tok, "/os-hypervisors/%s/search" % name, "2.53"), 404)
    assert get(http, tok, "/os-hypervisors/%s/search" % name, "2.52").status == 200
    r = get(http, tok, "/os-hypervisors?hypervisor_hostname_pattern=" + name, "2.53")
    assert r.json["hypervisors"][0]["id"] == h["id"], r
    s = get(http, tok, "/os-services", "2.1").json["services"][0]
    assert "forced_down" not in s and isinstance(s["id"], int), s
    s = get(http, tok, "/os-services", "2.11").json["services"][0]
    assert s["forced_down"] is False, s
    assert len(get(http, tok, "/os-services", "2.53").json["services"][0]["id"]) == 36


def test_flavor_microversions(stack, http):
    tok = stack.token("admin")
    body = {"flavor": {"name": "mv-fl", "ram": 64, "vcpus": 1, "disk": 1,
                       "description": "small one"}}
    assert_error(http("POST", API + "/flavors", body, token=tok, headers=mv("2.54")), 400)
    r = http("POST", API + "/flavors", body, token=tok, headers=mv("2.55"))
    assert r.status == 200 and r.json["flavor"]["description"] == "small one", r
    fid = r.json["flavor"]["id"]
    try:
        assert "description" not in get(http, tok, "/flavors/" + fid, "2.54").json["flavor"]
        r = get(http, tok, "/flavors", "2.55")
        assert any(f.get("description") == "small one" for f in r.json["flavors"]), r
        assert_error(http("PUT", API + "/flavors/" + fid, {"flavor": {"description": "x"}},
                          token=tok, headers=mv("2.54")), 404)
        r = http("PUT", API + "/flavors/" + fid, {"flavor": {"description": "tiny"}},
                 token=tok, headers=mv("2.55"))
        assert r.status == 200 and r.json["flavor"]["description"] == "tiny", r
        http("POST", API + "/flavors/%s/os-extra_specs" % fid,
             {"extra_specs": {"hw:cpu_policy": "shared"}}, token=tok)
        assert "extra_specs" not in get(http, tok, "/flavors/" + fid, "2.60").json["flavor"]
        f = get(http, tok, "/flavors/" + fid, "2.61").json["flavor"]
        assert f["extra_specs"] == {"hw:cpu_policy": "shared"} and f["swap"] == "", f
    finally:
        http("DELETE", API + "/flavors/" + fid, token=tok)


def test_server_view_microversions(stack, vm, http):
    tok = stack.token("admin")
    path = "/servers/" + vm["id"]
    s = get(http, tok, path, "2.1").json["server"]
    assert "id" in s["flavor"] and "locked" not in s and "tags" not in s, s
    assert "OS-EXT-SRV-ATTR:reservation_id" not in s, s
    s = get(http, tok, path, "2.3").json["server"]
    assert s["OS-EXT-SRV-ATTR:reservation_id"].startswith("r-"), s
    assert s["OS-EXT-SRV-ATTR:hostname"] == "e2e-vm1", s
    assert s["OS-EXT-SRV-ATTR:root_device_name"] == "/dev/vda", s
    s = get(http, tok, path, "2.16").json["server"]
    assert s["host_status"] == "UP" and s["locked"] is False, s
    s = get(http, tok, path, "2.47").json["server"]
    assert s["flavor"]["original_name"] == "m1.tiny" and "id" not in s["flavor"], s
    assert s["tags"] == [] and "description" in s, s
    s = get(http, tok, path, "2.73").json["server"]
    assert s["server_groups"] == [] and s["locked_reason"] is None, s
    assert s["trusted_image_certificates"] is None, s
    d = get(http, tok, "/servers/detail", "2.73").json["servers"]
    mine = [x for x in d if x["id"] == vm["id"]][0]
    assert "server_groups" not in mine and mine["flavor"]["original_name"] == "m1.tiny"


def test_server_tags_microversions(stack, vm, http):
    tok = stack.token("admin")
    path = API + "/servers/%s/tags" % vm["id"]
    assert_error(http("GET", path, token=tok, headers=mv("2.25")), 404)
    h = mv("2.26")
    r = http("PUT", path, {"tags": ["red", "blue"]}, token=tok, headers=h)
    assert r.status == 200 and r.json == {"tags": ["blue", "red"]}, r
    try:
        r = http("PUT", path + "/green", token=tok, headers=h)
        assert r.status == 201 and r.headers["Location"].endswith("/tags/green"), r
        assert http("PUT", path + "/green", token=tok, headers=h).status == 204
        assert http("GET", path + "/green", token=tok, headers=h).status == 204
        assert_error(http("GET", path + "/nope", token=tok, headers=h), 404)
        assert_error(http("PUT", path, {"tags": ["a/b"]}, token=tok, headers=h), 400)
        ids = lambda q: {x["id"] for x in get(http, tok, "/servers?" + q, "2.26").json["servers"]}
        assert vm["id"] in ids("tags=red,green")
        assert vm["id"] not in ids("tags=red,nope")
        assert vm["id"] in ids("tags-any=nope,blue")
        assert vm["id"] not in ids("not-tags=red")
        assert vm["id"] in ids("not-tags-any=nope")
        assert vm["id"] in {x["id"] for x in get(http, tok, "/servers?tags=nope",
                                                  "2.25").json["servers"]}
        assert http("DELETE", path + "/green", token=tok, headers=h).status == 204
        assert_error(http("DELETE", path + "/green", token=tok, headers=h), 404)
    finally:
        assert http("DELETE", path, token=tok, headers=h).status == 204
    assert http("GET", path, token=tok, headers=h).json == {"tags": []}


def test_server_list_filter_microversions(stack, vm, http):
    tok = stack.token("admin")
    ids = lambda q, v: {x["id"] for x in get(http, tok, "/servers?" + q, v).json["servers"]}
    assert get(http, tok, "/servers?status=bogus", "2.37").json["servers"] == []
    assert_error(get(http, tok, "/servers?status=bogus", "2.38"), 400)
    assert vm["id"] in ids("status=active", "2.38")
    assert vm["id"] not in ids("ip6=::1", "2.5")
    assert vm["id"] not in ids("ip=10.", "2.1")
    assert vm["id"] in ids("changes-before=2000-01-01T00:00:00Z", "2.65")
    assert vm["id"] not in ids("changes-before=2000-01-01T00:00:00Z", "2.66")
    assert_error(get(http, tok, "/servers?changes-since=2030-01-01T00:00:00Z"
                                "&changes-before=2020-01-01T00:00:00Z", "2.66"), 400)
    assert vm["id"] in ids("locked=false", "2.73")
    assert vm["id"] not in ids("locked=true", "2.73")


def test_server_create_schema_microversions(stack, http, ids):
    """Each of these is refused while the body is parsed: no server is made."""
    tok = stack.token("admin")
    base = {"name": "mv-x", "imageRef": ids["image"], "flavorRef": ids["flavor"]}
    cases = [("2.18", {"description": "d"}), ("2.37", {}), ("2.36", {"networks": "auto"}),
             ("2.51", {"networks": "none", "tags": ["a"]}),
             ("2.52", {"networks": "none", "tags": ["a,b"]}),
             ("2.57", {"networks": "none", "personality": []}),
             ("2.63", {"networks": "none", "trusted_image_certificates": ["c1"]}),
             ("2.31", {"networks": [{"uuid": "00000000-0000-4000-8000-000000000001",
                                     "tag": "nic1"}]}),
             ("2.37", {"networks": [{"uuid": "00000000-0000-4000-8000-000000000001",
                                     "tag": "nic1"}]}),
             # only "default" exists (Tempest's test_create_with_nonexistent_security_group)
             ("2.1", {"security_groups": [{"name": "no-such-group"}]}),
             # Tempest's test_invalid_access_ip_v4_address / test_invalid_ip_v6_address
             ("2.1", {"accessIPv4": "1.1.1.1.1.1"}),
             ("2.1", {"accessIPv6": "notanipv6"})]
    before = len(get(http, tok, "/servers", "2.1").json["servers"])
    for v, extra in cases:
        r = http("POST", API + "/servers", {"server": dict(base, **extra)}, token=tok,
                 headers=mv(v))
        assert_error(r, 400)
    assert len(get(http, tok, "/servers", "2.1").json["servers"]) == before


def test_lock_reason_and_action_microversions(stack, vm, http):
    tok = stack.token("admin")
    path = API + "/servers/%s/action" % vm["id"]
    assert_error(http("POST", path, {"lock": {"locked_reason": "x"}}, token=tok,
                      headers=mv("2.72")), 400)
    assert http("POST", path, {"lock": {"locked_reason": "audit"}}, token=tok,
                headers=mv("2.73")).status == 202
    try:
        s = get(http, tok, "/servers/" + vm["id"], "2.73").json["server"]
        assert s["locked"] is True and s["locked_reason"] == "audit", s
    finally:
        assert http("POST", path, {"unlock": None}, token=tok).status == 202
    acts = get(http, tok, "/servers/%s/os-instance-actions" % vm["id"], "2.58").json
    assert "updated_at" in acts["instanceActions"][0], acts
    assert "updated_at" not in get(http, tok, "/servers/%s/os-instance-actions" % vm["id"],
                                   "2.57").json["instanceActions"][0]
    r = get(http, tok, "/servers/%s/os-instance-actions?limit=1" % vm["id"], "2.58")
    assert len(r.json["instanceActions"]) == 1 and r.json["links"], r
    req = r.json["instanceActions"][0]["request_id"]
    r = get(http, tok, "/servers/%s/os-instance-actions?limit=1&marker=%s" % (vm["id"], req),
            "2.58")
    assert r.json["instanceActions"][0]["request_id"] != req, r
    create = [a for a in acts["instanceActions"] if a["action"] == "create"][0]
    ev = get(http, tok, "/servers/%s/os-instance-actions/%s" % (vm["id"], create["request_id"]),
             "2.62").json["instanceAction"]["events"][0]
    assert ev["host"] and len(ev["hostId"]) == 56, ev


def test_usage_paging_microversion(stack, vm, http):
    tok = stack.token("admin")
    q = "/os-simple-tenant-usage?start=2000-01-01T00:00:00&limit=1"
    r = get(http, tok, q, "2.40")
    assert r.status == 200 and r.json["tenant_usages_links"], r
    assert "tenant_usages_links" not in get(http, tok, q, "2.39").json


def test_locked_server_refuses_its_owner(stack, http, ids):
    """A member's own server, locked: its actions and delete are 409 for the member (not
    for an admin); a lock an admin set is the admin's to lift (403 for the member)."""
    demo, admin = stack.token("demo"), stack.token("admin")
    # made at 2.73 with what 2.19 (description), 2.37 (networks) and 2.52 (tags) add
    r = http("POST", API + "/servers", {"server": {
        "name": "e2e-locked", "imageRef": ids["image"], "flavorRef": ids["flavor"],
        "description": "locked one", "networks": "none", "tags": ["t1", "t2"]}},
        token=demo, headers=mv("2.73"))
    assert r.status == 202, r
    sid = r.json["server"]["id"]
    s = http("GET", API + "/servers/" + sid, token=demo, headers=mv("2.73")).json["server"]
    assert s["description"] == "locked one" and s["tags"] == ["t1", "t2"], s
    act = API + "/servers/%s/action" % sid
    try:
        assert http("POST", act, {"lock": None}, token=demo).status == 202
        r = http("POST", act, {"os-stop": None}, token=demo)
        assert_error(r, 409)
        assert r.json["conflictingRequest"]["message"] == "Instance %s is locked" % sid, r
        assert_error(http("DELETE", API + "/servers/" + sid, token=demo), 409)
        assert_error(http("PUT", API + "/servers/%s/metadata/k" % sid, {"meta": {"k": "v"}},
                          token=demo), 409)
        assert http("POST", act, {"unlock": None}, token=demo).status == 202
        assert http("POST", act, {"lock": None}, token=admin).status == 202
        assert_error(http("POST", act, {"unlock": None}, token=demo), 403)
        assert http("POST", act, {"unlock": None}, token=admin).status == 202
        acts = http("GET", API + "/servers/%s/os-instance-actions" % sid, token=demo).json
        names = [a["action"] for a in acts["instanceActions"]]
        assert names == ["unlock", "lock", "unlock", "lock", "create"], names
        # 2.51: a member sees the events of its server's actions, before it only admins
        create = acts["instanceActions"][-1]["request_id"]
        one = API + "/servers/%s/os-instance-actions/%s" % (sid, create)
        assert "events" not in http("GET", one, token=demo, headers=mv("2.50")).json[
            "instanceAction"]
        ev = http("GET", one, token=demo, headers=mv("2.51")).json["instanceAction"]["events"]
        assert ev[0]["event"] == "compute__do_build_and_run_instance", ev
        assert "traceback" not in ev[0], ev
    finally:
        http("POST", act, {"unlock": None}, token=admin)
        assert http("DELETE", API + "/servers/" + sid, token=demo).status == 204
    # 2.21: the actions of a deleted server stay readable
    path = API + "/servers/%s/os-instance-actions" % sid
    wait_for(lambda: http("GET", API + "/servers/" + sid, token=demo).status == 404, 300,
             what="server gone")
    assert_error(http("GET", path, token=demo, headers=mv("2.20")), 404)
    r = http("GET", path, token=demo, headers=mv("2.21"))
    assert r.status == 200 and r.json["instanceActions"][0]["action"] == "delete", r


def test_flavor_access_shares_a_private_flavor(stack, http, project_ids):
    admin, demo = stack.token("admin"), stack.token("demo")
    r = http("POST", API + "/flavors", {"flavor": {"name": "e2e-private", "ram": 64, "vcpus": 1,
                                                   "disk": 1, "os-flavor-access:is_public": False}},
             token=admin)
    assert r.status == 200, r
    fid = r.json["flavor"]["id"]
    act = API + "/flavors/%s/action" % fid
    share = {"addTenantAccess": {"tenant": project_ids["demo"]}}
    try:
        assert http("GET", API + "/flavors/%s/os-flavor-access" % fid,
                    token=admin).json == {"flavor_access": []}
        assert_error(http("GET", API + "/flavors/" + fid, token=demo), 404)
        assert_error(http("POST", act, share, token=demo), 403)
        r = http("POST", act, share, token=admin)
        assert r.status == 200 and r.json["flavor_access"] == [
            {"flavor_id": fid, "tenant_id": project_ids["demo"]}], r
        assert_error(http("POST", act, share, token=admin), 409)
        assert http("GET", API + "/flavors/" + fid, token=demo).status == 200
        assert fid in {f["id"] for f in http("GET", API + "/flavors/detail",
                                             token=demo).json["flavors"]}
        r = http("POST", act, {"removeTenantAccess": {"tenant": project_ids["demo"]}},
                 token=admin)
        assert r.status == 200 and r.json["flavor_access"] == [], r
        assert_error(http("POST", act, {"removeTenantAccess": {"tenant": project_ids["demo"]}},
                          token=admin), 404)
        assert fid not in {f["id"] for f in http("GET", API + "/flavors/detail",
                                                 token=demo).json["flavors"]}
        # a public flavor has no access list, and from 2.7 takes no access
        pub = http("GET", API + "/flavors/detail", token=admin).json["flavors"][0]["id"]
        assert_error(http("GET", API + "/flavors/%s/os-flavor-access" % pub, token=admin), 404)
        assert_error(http("POST", API + "/flavors/%s/action" % pub, share, token=admin,
                          headers=mv("2.7")), 409)
    finally:
        http("DELETE", API + "/flavors/" + fid, token=admin)


def test_return_reservation_id(stack, http, ids):
    """return_reservation_id answers the reservation, not the server; the list filters
    by it (Tempest's test_multiple_create_with_reservation_return)."""
    tok = stack.token("admin")
    r = http("POST", API + "/servers", {"server": {
        "name": "e2e-resv", "imageRef": ids["image"], "flavorRef": ids["flavor"],
        "return_reservation_id": True}}, token=tok)
    assert r.status == 202 and set(r.json) == {"reservation_id"}, r
    resv = r.json["reservation_id"]
    found = http("GET", API + "/servers?reservation_id=" + resv, token=tok).json["servers"]
    assert len(found) == 1 and found[0]["name"] == "e2e-resv", found
    assert http("DELETE", API + "/servers/" + found[0]["id"], token=tok).status == 204
    s = http("GET", API + "/servers/%s" % found[0]["id"], token=tok, headers=mv("2.3"))
    assert s.status == 404 or s.json["server"]["OS-EXT-SRV-ATTR:reservation_id"] == resv, s
