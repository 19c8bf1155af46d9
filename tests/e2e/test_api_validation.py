"""Create bodies validated as Nova 2.1 and Glance validate them, and the flavor/image
size rules Nova applies at boot: a 100 TiB qcow2 never boots on m1.tiny."""
import json
import subprocess

import pytest

from nubo_e2e import CliError, assert_error


def _server_body(ids, **extra):
    server = {"name": "validation", "imageRef": ids["image"], "flavorRef": ids["flavor"],
              "min_count": 1, "max_count": 1}
    server.update(extra)
    return {"server": server}


def test_unknown_server_property_is_400(stack, ids):
    r = stack.http("POST", "/compute/v2.1/servers", _server_body(ids, bogus="x"),
                   token=stack.token())
    assert_error(r, 400)
    assert "Additional properties are not allowed ('bogus' was unexpected)" in r.text
    body = _server_body(ids)
    body["extra"] = 1
    r = stack.http("POST", "/compute/v2.1/servers", body, token=stack.token())
    assert_error(r, 400)
    # an unknown key inside a network entry (tag is 2.32+)
    r = stack.http("POST", "/compute/v2.1/servers",
                   _server_body(ids, networks=[{"uuid": ids["image"], "tag": "x"}]),
                   token=stack.token())
    assert_error(r, 400)
    assert not [s for s in stack.os_cli("server", "list") if s["Name"] == "validation"]


def test_keypair_user_id_is_refused_at_2_1(stack):
    r = stack.http("POST", "/compute/v2.1/os-keypairs",
                   {"keypair": {"name": "kp-user-id", "user_id": "someone"}},
                   token=stack.token())
    assert_error(r, 400)
    assert "user_id" in r.text
    r = stack.http("GET", "/compute/v2.1/os-keypairs/kp-user-id", token=stack.token())
    assert r.status == 404
    # from 2.10 on (served since issue 7) an admin makes a key pair for another user:
    # the CLI's --user negotiates it, and the pair is the named user's, not the admin's
    proc = stack.os_run("keypair", "create", "--user", "demo", "kp-cli-user")
    try:
        assert "PRIVATE KEY" in proc.stdout
        kp = stack.os_cli("keypair", "show", "--user", "demo", "kp-cli-user")
        assert kp["user_id"] == stack.os_cli("user", "show", "demo")["id"]
        assert "kp-cli-user" not in [k["Name"] for k in stack.os_cli("keypair", "list")]
    finally:
        stack.os_run("keypair", "delete", "--user", "demo", "kp-cli-user", check=False)


def test_unknown_flavor_property_is_400(stack):
    r = stack.http("POST", "/compute/v2.1/flavors",
                   {"flavor": {"name": "v-bogus", "ram": 64, "vcpus": 1, "disk": 1,
                               "bogus": True}},
                   token=stack.token())
    assert_error(r, 400)
    r = stack.http("POST", "/compute/v2.1/flavors",
                   {"flavor": {"name": "v-rxtx", "ram": 64, "vcpus": 1, "disk": 1,
                               "rxtx_factor": "0"}},
                   token=stack.token())
    assert_error(r, 400)


def test_glance_keeps_extra_string_properties(stack):
    r = stack.http("POST", "/image/v2/images",
                   {"name": "v-props", "disk_format": "raw", "container_format": "bare",
                    "hw_note": "kept"}, token=stack.token())
    assert r.status == 201, r.text
    img = r.json
    try:
        assert img["hw_note"] == "kept"
        r = stack.http("POST", "/image/v2/images",
                       {"name": "v-props2", "disk_format": "raw", "container_format": "bare",
                        "hw_number": 5}, token=stack.token())
        assert r.status == 400, r.text
    finally:
        stack.http("DELETE", "/image/v2/images/%s" % img["id"], token=stack.token())


@pytest.fixture
def image_file(tmp_path):
    def make(name, size, fmt="qcow2"):
        path = tmp_path / name
        subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), size], check=True)
        return path
    return make


def _upload(stack, name, path, fmt="qcow2"):
    return stack.os_cli("image", "create", "--disk-format", fmt, "--container-format", "bare",
                        "--file", str(path), name)


def test_image_larger_than_the_flavor_disk_does_not_boot(stack, ids, image_file):
    img = _upload(stack, "v-huge", image_file("huge.qcow2", "100T"))
    try:
        shown = stack.os_cli("image", "show", img["id"])
        assert shown["virtual_size"] == 100 << 40
        r = stack.http("POST", "/compute/v2.1/servers",
                       {"server": {"name": "v-huge", "imageRef": img["id"],
                                   "flavorRef": ids["flavor"]}}, token=stack.token())
        assert_error(r, 400)
        fault = r.json["badRequest"]["message"]
        assert fault == ("Flavor's disk is too small for requested image. Flavor disk is "
                         "1073741824 bytes, image is 109951162777600 bytes."), fault
        with pytest.raises(CliError) as e:
            stack.os_cli("server", "create", "--flavor", "m1.tiny", "--image", img["id"],
                         "v-huge-cli")
        assert "Flavor's disk is too small" in e.value.proc.stderr
        assert not [s for s in stack.os_cli("server", "list") if s["Name"].startswith("v-huge")]
    finally:
        stack.os_run("image", "delete", img["id"], check=False)


def test_zero_disk_flavor_boots_from_an_image_for_admins_only(stack, ids):
    """On a zero-disk flavor the root disk would take the image's virtual size, so
    (as in Nova) only admins may boot from an image there."""
    fl = stack.os_cli("flavor", "create", "--ram", "128", "--disk", "0", "--vcpus", "1",
                      "v-zero-disk")
    try:
        body = {"server": {"name": "v-zero", "imageRef": ids["image"], "flavorRef": fl["id"]}}
        r = stack.http("POST", "/compute/v2.1/servers", body, token=stack.token("demo"))
        assert_error(r, 403)
        assert r.json["forbidden"]["message"] == \
            "Only volume-backed servers are allowed for flavors with zero disk."
        assert not [s for s in stack.os_cli("server", "list", user="demo")
                    if s["Name"] == "v-zero"]
    finally:
        stack.os_run("flavor", "delete", fl["id"], check=False)


def test_image_min_disk_and_min_ram(stack, ids, image_file):
    img = _upload(stack, "v-min", image_file("small.raw", "1M", "raw"), fmt="raw")
    try:
        stack.os_run("image", "set", "--min-disk", "5", img["id"])
        r = stack.http("POST", "/compute/v2.1/servers",
                       {"server": {"name": "v-min", "imageRef": img["id"],
                                   "flavorRef": ids["flavor"]}}, token=stack.token())
        assert_error(r, 400)
        assert "minimum size specified in image metadata" in r.text
        stack.os_run("image", "set", "--min-disk", "0", "--min-ram", "1000000", img["id"])
        r = stack.http("POST", "/compute/v2.1/servers",
                       {"server": {"name": "v-min", "imageRef": img["id"],
                                   "flavorRef": ids["flavor"]}}, token=stack.token())
        assert_error(r, 400)
        assert json.loads(r.text)["badRequest"]["message"] == \
            "Flavor's memory is too small for requested image."
    finally:
        stack.os_run("image", "delete", img["id"], check=False)


def test_server_metadata_through_the_cli_and_bad_bodies(stack, vm):
    sid = vm["id"]
    stack.os_run("server", "set", "--property", "role=web", "--property", "tier=1", sid)
    props = stack.os_cli("server", "show", sid)["properties"]
    if isinstance(props, str):  # older clients print k='v' pairs
        assert "role='web'" in props and "tier='1'" in props, props
    else:
        assert props.get("role") == "web" and props.get("tier") == "1", props
    r = stack.http("GET", "/compute/v2.1/servers/%s/metadata/role" % sid, token=stack.token())
    assert r.status == 200 and r.json == {"meta": {"role": "web"}}, r
    for body in ({"metadata": {"k": 1}},             # values are strings
                 {"metadata": {"bad/key": "x"}},      # Nova's key charset
                 {"metadata": {"k": "v"}, "x": 1},   # nothing beside "metadata"
                 {"meta": {"k": "v"}},               # the wrong wrapper
                 ["k"]):
        r = stack.http("POST", "/compute/v2.1/servers/%s/metadata" % sid, body,
                       token=stack.token())
        assert_error(r, 400)
    r = stack.http("PUT", "/compute/v2.1/servers/%s/metadata/role" % sid,
                   {"meta": {"other": "x"}}, token=stack.token())
    assert_error(r, 400)
    r = stack.http("POST", "/compute/v2.1/servers/%s/metadata" % sid,
                   {"metadata": {"m%d" % i: "v" for i in range(130)}}, token=stack.token())
    assert_error(r, 403)
    stack.os_run("server", "unset", "--property", "role", "--property", "tier", sid)
    r = stack.http("GET", "/compute/v2.1/servers/%s/metadata" % sid, token=stack.token())
    assert r.json == {"metadata": {}}, r


def test_server_create_metadata_is_validated(stack, ids):
    for md in ({"k": 1}, {"": "v"}, {"a b/c": "v"}, ["x"]):
        r = stack.http("POST", "/compute/v2.1/servers", _server_body(ids, metadata=md),
                       token=stack.token())
        assert_error(r, 400)


def test_flavor_extra_specs(stack):
    f = stack.os_cli("flavor", "create", "--ram", "64", "--vcpus", "1", "--disk", "1",
                     "--property", "hw:cpu_policy=shared", "v-specs")
    try:
        fid = f["id"]
        r = stack.http("POST", "/compute/v2.1/flavors/%s/os-extra_specs" % fid,
                       {"extra_specs": {"n": 2, "flag": True}}, token=stack.token())
        assert r.status == 200, r
        assert r.json == {"extra_specs": {"n": "2", "flag": "True"}}, r
        r = stack.http("GET", "/compute/v2.1/flavors/%s/os-extra_specs" % fid,
                       token=stack.token())
        assert r.json["extra_specs"] == {"hw:cpu_policy": "shared", "n": "2", "flag": "True"}
        r = stack.http("PUT", "/compute/v2.1/flavors/%s/os-extra_specs/n" % fid, {"n": "3"},
                       token=stack.token())
        assert r.status == 200 and r.json == {"n": "3"}, r
        for method, path, body in (
                ("POST", "", {"extra_specs": {"a": None}}),
                ("POST", "", {"extra_specs": {"bad/key": "x"}}),
                ("POST", "", {"extra_specs": {"a": "b"}, "more": 1}),
                ("POST", "", {"extra_specs": {}}),
                ("PUT", "/n", {"m": "1"}),
                ("PUT", "/n", {"n": "1", "m": "2"})):
            r = stack.http(method, "/compute/v2.1/flavors/%s/os-extra_specs%s" % (fid, path),
                           body, token=stack.token())
            assert_error(r, 400)
    finally:
        stack.os_run("flavor", "delete", "v-specs", check=False)


def _patch(stack, iid, ops):
    return stack.http("PATCH", "/image/v2/images/%s" % iid, raw=json.dumps(ops).encode(),
                      token=stack.token(),
                      headers={"Content-Type": "application/openstack-images-v2.1-json-patch"})


def test_glance_attributes_are_typed_as_glance_types_them(stack):
    tok = stack.token()
    base = {"disk_format": "raw", "container_format": "bare"}
    for bad in ({"protected": "true"}, {"min_disk": "1"}, {"min_ram": -1},
                {"visibility": None}, {"tags": ["a/b"]}, {"tags": "a"}, {"os_hidden": 1},
                {"id": "not-a-uuid"}, {"name": 5}):
        r = stack.http("POST", "/image/v2/images", dict(base, **bad), token=tok)
        assert r.status == 400, (bad, r)
    r = stack.http("POST", "/image/v2/images",
                   dict(base, name=None, tags=["a", "b", "a"], min_disk=2, protected=False),
                   token=tok)
    assert r.status == 201, r
    img = r.json
    try:
        assert img["name"] is None and sorted(img["tags"]) == ["a", "b"] and img["min_disk"] == 2
        r = _patch(stack, img["id"], [{"op": "replace", "path": "/name", "value": "v-attrs"},
                                      {"op": "add", "path": "/tags/-", "value": "c"},
                                      {"op": "add", "path": "/hw_x", "value": "1"}])
        assert r.status == 200, r
        assert r.json["name"] == "v-attrs" and "c" in r.json["tags"] and r.json["hw_x"] == "1"
        for ops in ([{"op": "add", "path": "/hw_y", "value": 1}],
                    [{"op": "replace", "path": "/min_ram", "value": "5"}],
                    [{"op": "add", "path": "/tags/-", "value": ""}],
                    [{"op": "replace", "path": "/protected", "value": None}]):
            r = _patch(stack, img["id"], ops)
            assert r.status == 400, (ops, r)
        r = _patch(stack, img["id"], [{"op": "remove", "path": "/hw_x"},
                                      {"op": "remove", "path": "/name"}])
        assert r.status == 200 and "hw_x" not in r.json and r.json["name"] is None, r
        stack.os_run("image", "set", "--property", "os_distro=debian", "--tag", "t1",
                     img["id"])
        shown = stack.os_cli("image", "show", img["id"])
        assert "t1" in shown["tags"]
    finally:
        stack.http("DELETE", "/image/v2/images/%s" % img["id"], token=tok)
