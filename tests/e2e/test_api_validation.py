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
    # the CLI's --user needs 2.10, which we do not serve: it refuses before sending
    proc = stack.os_run("keypair", "create", "--user", "demo", "kp-cli-user", check=False)
    assert proc.returncode != 0


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
