"""Image v2 as Glance clients use it (issue 7, issue 9's image parts): raw images of any
size, checksums, Range downloads, members and the shared visibility rules,
deactivate/reactivate, protected images, both JSON-patch media types, properties, and
the inspection of uploads. The real openstack CLI where it has the command, HTTP
otherwise."""
import hashlib
import json
import os
import subprocess
import threading
import urllib.error
import urllib.request
import uuid

import pytest

from nubo_e2e import assert_error, wait_for

V2 = "/image/v2"
PATCH21 = "application/openstack-images-v2.1-json-patch"
PATCH20 = "application/openstack-images-v2.0-json-patch"


def _create(stack, name, path, fmt="raw", user="admin"):
    return stack.os_cli("image", "create", "--disk-format", fmt, "--container-format", "bare",
                        "--file", str(path), name, user=user)


def _delete(stack, iid, user="admin"):
    stack.os_run("image", "set", "--unprotected", iid, user="admin", check=False)
    stack.os_run("image", "delete", iid, user=user, check=False)


def _patch(stack, iid, ops, token, media=PATCH21):
    return stack.http("PATCH", "%s/images/%s" % (V2, iid), raw=json.dumps(ops).encode(),
                      token=token, headers={"Content-Type": media})


def _new_image(stack, token, **attrs):
    body = {"name": "e2e-img-%s" % uuid.uuid4().hex[:8], "disk_format": "raw",
            "container_format": "bare"}
    body.update(attrs)
    r = stack.http("POST", "%s/images" % V2, body, token=token)
    assert r.status == 201, r
    return r.json


def _upload(stack, iid, data, token):
    return stack.http("PUT", "%s/images/%s/file" % (V2, iid), raw=data, token=token,
                      headers={"Content-Type": "application/octet-stream"})


# ---------------------------------------------------------------- raw of any size

def test_raw_image_of_any_size_with_the_cli(stack, tmp_path):
    """`openstack image create --file /etc/os-release --disk-format raw` (not a multiple
    of 512 bytes) was refused; Glance takes it and reports the byte size as virtual."""
    data = open("/etc/os-release", "rb").read()
    assert len(data) % 512, "the test needs a size that is not whole sectors"
    img = _create(stack, "e2e-osrel", "/etc/os-release")
    try:
        shown = stack.os_cli("image", "show", img["id"])
        assert shown["status"] == "active"
        assert shown["size"] == len(data)
        assert shown["virtual_size"] == len(data)
        assert shown["checksum"] == hashlib.md5(data).hexdigest()
        # the CLI's show leaves the hashes out: Glance's JSON has them
        raw = stack.http("GET", "%s/images/%s" % (V2, img["id"]), token=stack.token()).json
        assert raw["os_hash_algo"] == "sha512"
        assert raw["os_hash_value"] == hashlib.sha512(data).hexdigest()
        out = tmp_path / "back"
        stack.os_run("image", "save", "--file", str(out), img["id"])
        assert out.read_bytes() == data
        # list carries the hashes too
        r = stack.http("GET", "%s/images?name=e2e-osrel" % V2, token=stack.token())
        listed = [i for i in r.json["images"] if i["id"] == img["id"]]
        assert listed and listed[0]["os_hash_value"] == hashlib.sha512(data).hexdigest()
    finally:
        _delete(stack, img["id"])


@pytest.mark.parametrize("size", [1, 511, 513, 100001])
def test_raw_odd_sizes_over_http(stack, size):
    tok = stack.token()
    img = _new_image(stack, tok)
    try:
        data = bytes((i * 7 + 3) & 0xff for i in range(size))
        r = _upload(stack, img["id"], data, tok)
        assert r.status == 204, r
        shown = stack.http("GET", "%s/images/%s" % (V2, img["id"]), token=tok).json
        assert (shown["status"], shown["size"], shown["virtual_size"]) == ("active", size, size)
    finally:
        _delete(stack, img["id"])


def test_schemas_carry_hashes_and_members(stack):
    tok = stack.token()
    s = stack.http("GET", "%s/schemas/image" % V2, token=tok).json
    for key in ("checksum", "os_hash_algo", "os_hash_value"):
        assert key in s["properties"], key
    m = stack.http("GET", "%s/schemas/member" % V2, token=tok)
    assert m.status == 200 and m.json["name"] == "member"
    assert m.json["properties"]["status"]["enum"] == ["pending", "accepted", "rejected"]
    ms = stack.http("GET", "%s/schemas/members" % V2, token=tok)
    assert ms.status == 200 and ms.json["name"] == "members"
    assert ms.json["properties"]["members"]["items"]["name"] == "member"


# ---------------------------------------------------------------- Range downloads

@pytest.fixture(scope="module")
def ranged_image(stack):
    """An active raw image of 10 MiB + 3 bytes (more than the in-memory range bound)."""
    tok = stack.token()
    img = _new_image(stack, tok)
    data = os.urandom((10 << 20) + 3)
    assert _upload(stack, img["id"], data, tok).status == 204
    yield img["id"], data
    _delete(stack, img["id"])


@pytest.mark.parametrize("header,start,end", [
    ("bytes=0-9", 0, 9),
    ("bytes=100-", 100, None),
    ("bytes=-5", None, None),
    ("bytes=5-99999999999", 5, None),
    ("bytes=1048576-10485760", 1048576, 10485760),
])
def test_range_download(stack, ranged_image, header, start, end):
    iid, data = ranged_image
    size = len(data)
    if start is None:
        start = size - 5
    if end is None:
        end = size - 1
    status, headers, body = _get_bytes(stack, iid, {"Range": header})
    assert status == 206, (status, body[:200])
    assert headers["Content-Range"] == "bytes %d-%d/%d" % (start, end, size)
    assert body == data[start:end + 1]


def test_range_not_satisfiable_and_whole(stack, ranged_image):
    iid, data = ranged_image
    status, headers, _ = _get_bytes(stack, iid, {"Range": "bytes=%d-" % len(data)})
    assert status == 416
    assert headers["Content-Range"] == "bytes */%d" % len(data)
    status, headers, body = _get_bytes(stack, iid, {"Range": "bytes=0-1,5-6"})
    assert status == 200 and body == data  # several ranges: the whole body
    status, headers, body = _get_bytes(stack, iid, {})
    assert status == 200 and body == data
    assert headers["Content-MD5"] == hashlib.md5(data).hexdigest()


def _get_bytes(stack, iid, headers, token=None):
    """(status, headers, body) of a download, the body as bytes."""
    h = {"X-Auth-Token": token or stack.token()}
    h.update(headers)
    req = urllib.request.Request("%s%s/images/%s/file" % (stack.api, V2, iid), headers=h)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=120) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# ---------------------------------------------------------------- members

@pytest.fixture(scope="module")
def projects(stack):
    """Two extra projects with a member user each: 'mem' (shared with) and 'other'."""
    out = {}
    for tag in ("mem", "other"):
        name = "e2e-img-%s" % tag
        password = "pw-%s" % uuid.uuid4().hex
        stack.os_run("project", "create", name, check=False)
        pid = stack.os_cli("project", "show", name)["id"]
        stack.os_run("user", "delete", name, check=False)
        stack.os_run("user", "create", "--project", name, "--password", password, name)
        stack.os_run("role", "add", "--user", name, "--project", name, "member")
        env = {"OS_USERNAME": name, "OS_PASSWORD": password, "OS_PROJECT_NAME": name}
        tok = stack.token(name, name, password=password)
        out[tag] = {"id": pid, "env": env, "token": tok, "name": name}
    return out


def _cli_as(stack, p, *args, check=True):
    return stack.os_run(*args, user="demo", env=p["env"], check=check)


def _listed(stack, token, query=""):
    r = stack.http("GET", "%s/images?limit=1000%s" % (V2, query), token=token)
    assert r.status == 200, r
    return {i["id"] for i in r.json["images"]}


def test_members_share_an_image(stack, projects, tmp_path):
    mem, other = projects["mem"], projects["other"]
    path = tmp_path / "shared.raw"
    path.write_bytes(b"shared bytes" * 100)
    img = _create(stack, "e2e-shared", path, user="demo")
    iid = img["id"]
    demo = stack.token("demo")
    try:
        stack.os_run("image", "set", "--shared", iid, user="demo")
        # before it is added, the other project does not know it exists
        assert_error(stack.http("GET", "%s/images/%s" % (V2, iid), token=mem["token"]), 404)
        added = stack.os_cli("image", "add", "project", iid, mem["id"], user="demo")
        assert added["status"] == "pending"
        # pending: visible by id, but not listed unless asked for
        r = stack.http("GET", "%s/images/%s" % (V2, iid), token=mem["token"])
        assert r.status == 200 and r.json["visibility"] == "shared"
        assert iid not in _listed(stack, mem["token"])
        assert iid in _listed(stack, mem["token"], "&member_status=pending")
        assert iid in _listed(stack, mem["token"], "&member_status=all&visibility=shared")
        # the member answers for itself with the CLI; then it is listed
        _cli_as(stack, mem, "image", "set", "--accept", iid)
        assert iid in _listed(stack, mem["token"])
        assert iid in _listed(stack, mem["token"], "&visibility=shared")
        assert iid not in _listed(stack, mem["token"], "&member_status=pending")
        listing = json.loads(_cli_as(stack, mem, "image", "list", "-f", "json").stdout)
        assert iid in {i["ID"] for i in listing}
        # the member downloads it
        status, _, body = _get_bytes_as(stack, iid, mem["token"])
        assert status == 200 and body == path.read_bytes()
        # member list: the owner sees all, the member its own entry
        members = stack.os_cli("image", "member", "list", iid, user="demo")
        assert [(m["Member ID"], m["Status"]) for m in members] == [(mem["id"], "accepted")]
        r = stack.http("GET", "%s/images/%s/members" % (V2, iid), token=mem["token"])
        assert r.status == 200 and [m["member_id"] for m in r.json["members"]] == [mem["id"]]
        assert r.json["schema"] == "/v2/schemas/members"
        r = stack.http("GET", "%s/images/%s/members/%s" % (V2, iid, mem["id"]),
                       token=mem["token"])
        assert r.status == 200 and r.json["status"] == "accepted"
        assert r.json["image_id"] == iid and r.json["schema"] == "/v2/schemas/member"
        # a non-member gets 404 everywhere
        for path_ in ("/images/%s" % iid, "/images/%s/members" % iid,
                      "/images/%s/members/%s" % (iid, mem["id"]), "/images/%s/file" % iid):
            assert_error(stack.http("GET", V2 + path_, token=other["token"]), 404)
        assert iid not in _listed(stack, other["token"], "&member_status=all")
        # only the member sets its status; only the owner adds and removes
        r = stack.http("PUT", "%s/images/%s/members/%s" % (V2, iid, mem["id"]),
                       {"status": "rejected"}, token=demo)
        assert_error(r, 403)
        r = stack.http("POST", "%s/images/%s/members" % (V2, iid), {"member": other["id"]},
                       token=mem["token"])
        assert_error(r, 403)
        assert_error(stack.http("DELETE", "%s/images/%s/members/%s" % (V2, iid, mem["id"]),
                                token=mem["token"]), 403)
        r = stack.http("PUT", "%s/images/%s/members/%s" % (V2, iid, mem["id"]),
                       {"status": "bogus"}, token=mem["token"])
        assert_error(r, 400)
        # duplicate add
        r = stack.http("POST", "%s/images/%s/members" % (V2, iid), {"member": mem["id"]},
                       token=demo)
        assert_error(r, 409)
        # rejected: still visible by id, not listed
        _cli_as(stack, mem, "image", "set", "--reject", iid)
        assert stack.http("GET", "%s/images/%s" % (V2, iid), token=mem["token"]).status == 200
        assert iid not in _listed(stack, mem["token"])
        assert iid in _listed(stack, mem["token"], "&member_status=rejected")
        # private: membership grants nothing
        stack.os_run("image", "set", "--private", iid, user="demo")
        assert_error(stack.http("GET", "%s/images/%s" % (V2, iid), token=mem["token"]), 404)
        r = stack.http("GET", "%s/images/%s/members" % (V2, iid), token=demo)
        assert_error(r, 403)
        stack.os_run("image", "set", "--shared", iid, user="demo")
        # the owner removes the member: 404 again
        stack.os_run("image", "remove", "project", iid, mem["id"], user="demo")
        assert_error(stack.http("GET", "%s/images/%s" % (V2, iid), token=mem["token"]), 404)
        assert_error(stack.http("DELETE", "%s/images/%s/members/%s" % (V2, iid, mem["id"]),
                                token=demo), 404)
        # bad bodies
        r = stack.http("POST", "%s/images/%s/members" % (V2, iid), {"nope": 1}, token=demo)
        assert_error(r, 400)
        r = stack.http("POST", "%s/images/%s/members" % (V2, iid), {"member": ""}, token=demo)
        assert_error(r, 400)
    finally:
        _delete(stack, iid, user="demo")


def test_a_member_boots_a_shared_image(stack, projects, ids, tmp_path):
    """Compute decides who may boot an image by the image service's one visibility
    rule (image_for_boot): a member of a shared image boots it, a non-member is told
    the image does not exist."""
    mem, other = projects["mem"], projects["other"]
    path = tmp_path / "boot.raw"
    path.write_bytes(b"\0" * 65536)
    iid = _create(stack, "e2e-shared-boot", path, user="demo")["id"]
    body = {"server": {"name": "e2e-shared-boot", "imageRef": iid,
                       "flavorRef": ids["flavor"]}}
    sid = None
    try:
        stack.os_run("image", "set", "--shared", iid, user="demo")
        stack.os_cli("image", "add", "project", iid, mem["id"], user="demo")
        _cli_as(stack, mem, "image", "set", "--accept", iid)
        r = stack.http("POST", "/compute/v2.1/servers", body, token=mem["token"])
        assert r.status == 202, r
        sid = r.json["server"]["id"]
        r = stack.http("POST", "/compute/v2.1/servers", body, token=other["token"])
        assert_error(r, 400)
        assert r.json["badRequest"]["message"] == "Image %s could not be found." % iid, r
    finally:
        if sid:
            path_ = "/compute/v2.1/servers/" + sid
            assert stack.http("DELETE", path_, token=mem["token"]).status == 204
            wait_for(lambda: stack.http("GET", path_, token=mem["token"]).status == 404, 120,
                     what="server %s gone" % sid)
        _delete(stack, iid, user="demo")


def test_members_only_on_shared_images(stack):
    demo = stack.token("demo")
    img = _new_image(stack, demo, visibility="private")
    try:
        r = stack.http("POST", "%s/images/%s/members" % (V2, img["id"]), {"member": "x"},
                       token=demo)
        assert_error(r, 403)
    finally:
        _delete(stack, img["id"], user="demo")


def test_community_images(stack, projects):
    demo, other = stack.token("demo"), projects["other"]
    img = _new_image(stack, demo, visibility="community")
    iid = img["id"]
    try:
        assert stack.http("GET", "%s/images/%s" % (V2, iid), token=other["token"]).status == 200
        # listed to others only when they ask for community images
        assert iid not in _listed(stack, other["token"])
        assert iid in _listed(stack, other["token"], "&visibility=community")
        assert iid in _listed(stack, other["token"], "&visibility=all")
        assert iid in _listed(stack, demo)  # its owner sees it in the default list
        # not the owner: no change
        assert_error(_patch(stack, iid, [{"op": "replace", "path": "/name", "value": "x"}],
                            other["token"]), 403)
    finally:
        _delete(stack, iid, user="demo")


def _get_bytes_as(stack, iid, token):
    return _get_bytes(stack, iid, {}, token)


# ---------------------------------------------------------------- deactivate, protected

def test_deactivate_and_reactivate(stack, projects, ids, tmp_path):
    path = tmp_path / "d.raw"
    path.write_bytes(b"d" * 4096)
    img = _create(stack, "e2e-deact", path, user="demo")
    iid = img["id"]
    try:
        stack.os_run("image", "set", "--public", iid)  # admin publishes it
        other = projects["other"]
        # only the owner or an admin
        r = stack.http("POST", "%s/images/%s/actions/deactivate" % (V2, iid),
                       token=other["token"])
        assert_error(r, 403)
        stack.os_run("image", "set", "--deactivate", iid, user="demo")
        assert stack.os_cli("image", "show", iid, user="demo")["status"] == "deactivated"
        # again: nothing changes
        r = stack.http("POST", "%s/images/%s/actions/deactivate" % (V2, iid),
                       token=stack.token("demo"))
        assert r.status == 204, r
        # no download for non-admins, admins still may
        status, _, _ = _get_bytes_as(stack, iid, stack.token("demo"))
        assert status == 403
        status, _, body = _get_bytes_as(stack, iid, stack.token())
        assert status == 200 and body == path.read_bytes()
        # servers do not boot from it, for that reason (any other refusal is a 400 too)
        r = stack.http("POST", "/compute/v2.1/servers",
                       {"server": {"name": "e2e-deact", "imageRef": iid,
                                   "flavorRef": ids["flavor"]}}, token=stack.token("demo"))
        assert_error(r, 400)
        assert r.json["badRequest"]["message"] == "Image %s is not active." % iid, r
        stack.os_run("image", "set", "--activate", iid, user="demo")
        assert stack.os_cli("image", "show", iid, user="demo")["status"] == "active"
        status, _, _ = _get_bytes_as(stack, iid, stack.token("demo"))
        assert status == 200
        # a queued image cannot be deactivated
        q = _new_image(stack, stack.token("demo"))
        try:
            r = stack.http("POST", "%s/images/%s/actions/deactivate" % (V2, q["id"]),
                           token=stack.token("demo"))
            assert_error(r, 403)
            r = stack.http("POST", "%s/images/%s/actions/reactivate" % (V2, q["id"]),
                           token=stack.token("demo"))
            assert_error(r, 403)
        finally:
            _delete(stack, q["id"], user="demo")
    finally:
        _delete(stack, iid, user="demo")


def test_protected_image_cannot_be_deleted(stack):
    tok = stack.token("demo")
    img = _new_image(stack, tok)
    iid = img["id"]
    try:
        stack.os_run("image", "set", "--protected", iid, user="demo")
        assert stack.os_run("image", "delete", iid, user="demo", check=False).returncode != 0
        assert_error(stack.http("DELETE", "%s/images/%s" % (V2, iid), token=tok), 403)
        stack.os_run("image", "set", "--unprotected", iid, user="demo")
        stack.os_run("image", "delete", iid, user="demo")
        assert_error(stack.http("GET", "%s/images/%s" % (V2, iid), token=tok), 404)
    finally:
        _delete(stack, iid, user="demo")


# ---------------------------------------------------------------- PATCH and properties

def test_both_patch_media_types(stack):
    tok = stack.token("demo")
    img = _new_image(stack, tok)
    iid = img["id"]
    try:
        r = _patch(stack, iid, [{"op": "replace", "path": "/name", "value": "n21"},
                                {"op": "add", "path": "/hw_a", "value": "1"}], tok)
        assert r.status == 200 and r.json["name"] == "n21" and r.json["hw_a"] == "1", r
        # the older draft names the operation by its key
        r = _patch(stack, iid, [{"replace": "/name", "value": "n20"},
                                {"add": "/hw_b", "value": "2"},
                                {"remove": "/hw_a"}], tok, media=PATCH20)
        assert r.status == 200, r
        assert r.json["name"] == "n20" and r.json["hw_b"] == "2" and "hw_a" not in r.json
        # the v2.1 shape under the v2.0 type (and the reverse) is refused
        assert_error(_patch(stack, iid, [{"op": "replace", "path": "/name", "value": "x"}],
                            tok, media=PATCH20), 400)
        assert_error(_patch(stack, iid, [{"replace": "/name", "value": "x"}], tok), 400)
        assert_error(_patch(stack, iid, [{"replace": "/name", "add": "/x", "value": "x"}],
                            tok, media=PATCH20), 400)
        assert_error(_patch(stack, iid, [{"op": "replace", "path": "name", "value": "x"}],
                            tok), 400)
        r = _patch(stack, iid, [], tok, media="application/json-patch+json")
        assert_error(r, 415)
        assert "openstack-images-v2.0-json-patch" in r.headers.get("Accept-Patch", "")
    finally:
        _delete(stack, iid, user="demo")


def test_properties_set_and_unset_with_the_cli(stack):
    img = _new_image(stack, stack.token("demo"))
    iid = img["id"]
    try:
        stack.os_run("image", "set", "--property", "hw_disk_bus=virtio", "--property",
                     "os_distro=debian", iid, user="demo")
        shown = stack.os_cli("image", "show", iid, user="demo")
        props = shown.get("properties") or {}
        assert props.get("hw_disk_bus") == "virtio" and props.get("os_distro") == "debian"
        stack.os_run("image", "unset", "--property", "hw_disk_bus", iid, user="demo")
        props = stack.os_cli("image", "show", iid, user="demo").get("properties") or {}
        assert "hw_disk_bus" not in props and props.get("os_distro") == "debian"
    finally:
        _delete(stack, iid, user="demo")


# ---------------------------------------------------------------- inspection of uploads

def _qemu_img(*args):
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


@pytest.fixture
def bad_images(tmp_path):
    """name -> (path, disk_format it claims); made with qemu-img here."""
    d = tmp_path
    _qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/shadow",
              str(d / "backing.qcow2"), "1M")
    _qemu_img("create", "-q", "-f", "qcow2", "-o", "data_file=%s" % (d / "data.raw"),
              str(d / "datafile.qcow2"), "1M")
    _qemu_img("create", "-q", "-f", "vmdk", str(d / "disk.vmdk"), "1M")
    (d / "descriptor.vmdk").write_text(
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
        "createType=\"monolithicFlat\"\nRW 2048 FLAT \"/etc/shadow\" 0\n")
    _qemu_img("create", "-q", "-f", "qcow2", str(d / "plain.qcow2"), "1M")
    _qemu_img("create", "-q", "-f", "qcow2", str(d / "huge.qcow2"), "2P")
    (d / "plain.raw").write_bytes(b"\0" * 4096)
    return {
        "backing file": (d / "backing.qcow2", "qcow2"),
        "external data file": (d / "datafile.qcow2", "qcow2"),
        "vmdk as raw": (d / "disk.vmdk", "raw"),
        "vmdk descriptor as raw": (d / "descriptor.vmdk", "raw"),
        "qcow2 as raw": (d / "plain.qcow2", "raw"),
        "raw as qcow2": (d / "plain.raw", "qcow2"),
        "virtual size over the bound": (d / "huge.qcow2", "qcow2"),
    }


@pytest.mark.parametrize("case", [
    "backing file", "external data file", "vmdk as raw", "vmdk descriptor as raw",
    "qcow2 as raw", "raw as qcow2", "virtual size over the bound"])
def test_unsafe_uploads_are_refused_and_the_image_stays_queued(stack, bad_images, case):
    path, fmt = bad_images[case]
    tok = stack.token("demo")
    img = _new_image(stack, tok, disk_format=fmt)
    try:
        r = _upload(stack, img["id"], path.read_bytes(), tok)
        assert_error(r, 400)
        shown = stack.http("GET", "%s/images/%s" % (V2, img["id"]), token=tok).json
        # as Glance restores it: queued, no size or checksum, data may be sent again
        assert shown["status"] == "queued", shown
        assert shown["size"] is None and shown["checksum"] is None
        good = path.parent / ("plain.raw" if fmt == "raw" else "plain.qcow2")
        assert _upload(stack, img["id"], good.read_bytes(), tok).status == 204
    finally:
        _delete(stack, img["id"], user="demo")


def test_unsafe_upload_with_the_cli(stack, bad_images):
    path, fmt = bad_images["backing file"]
    proc = stack.os_run("image", "create", "--disk-format", fmt, "--container-format", "bare",
                        "--file", str(path), "e2e-evil", user="demo", check=False)
    try:
        assert proc.returncode != 0
        assert "backing" in (proc.stdout + proc.stderr)
    finally:
        for i in stack.os_cli("image", "list", "--name", "e2e-evil", user="demo"):
            _delete(stack, i["ID"], user="demo")


# ---------------------------------------------------------------- metadata definitions
# (the CLI of Debian 12 has no metadef commands: HTTP)

MD = V2 + "/metadefs"


def test_metadef_namespace_and_items(stack):
    admin, demo = stack.token(), stack.token("demo")
    rtypes = stack.http("GET", MD + "/resource_types", token=demo)
    assert rtypes.status == 200
    rt = rtypes.json["resource_types"][0]["name"]
    ns = "e2e-ns-%s" % uuid.uuid4().hex[:8]
    body = {"namespace": ns, "display_name": "E2E", "description": "d", "visibility": "public",
            "protected": True, "resource_type_associations": [{"name": rt}],
            "properties": {"hw_x": {"title": "X", "type": "string"}},
            "tags": [{"name": "t0"}]}
    # only admins define them
    assert_error(stack.http("POST", MD + "/namespaces", body, token=demo), 403)
    r = stack.http("POST", MD + "/namespaces", body, token=admin)
    assert r.status == 201, r
    try:
        assert r.json["namespace"] == ns and r.json["protected"] is True
        shown = stack.http("GET", MD + "/namespaces/%s" % ns, token=demo)
        assert shown.status == 200, shown
        assert [a["name"] for a in shown.json["resource_type_associations"]] == [rt]
        assert shown.json["properties"]["hw_x"]["title"] == "X"
        listed = stack.http("GET", MD + "/namespaces", token=demo).json["namespaces"]
        assert ns in [n["namespace"] for n in listed]
        assert_error(stack.http("DELETE", MD + "/namespaces/%s" % ns, token=admin), 403)
        # objects: create, rename, show, list, delete
        base = MD + "/namespaces/%s" % ns
        r = stack.http("POST", base + "/objects", {"name": "o1", "description": "x"},
                       token=admin)
        assert r.status == 201 and r.json["name"] == "o1", r
        assert_error(stack.http("POST", base + "/objects", {"name": "o1"}, token=admin), 409)
        r = stack.http("PUT", base + "/objects/o1", {"name": "o2"}, token=admin)
        assert r.status == 200 and r.json["name"] == "o2", r
        assert stack.http("GET", base + "/objects/o2", token=demo).json["name"] == "o2"
        assert_error(stack.http("GET", base + "/objects/o1", token=demo), 404)
        names = [o["name"] for o in stack.http("GET", base + "/objects", token=demo)
                 .json["objects"]]
        assert names == ["o2"]
        assert stack.http("DELETE", base + "/objects/o2", token=admin).status == 204
        # tags: replace all, add one, rename, clear
        r = stack.http("POST", base + "/tags", {"tags": [{"name": "a"}, {"name": "b"}]},
                       token=admin)
        assert r.status == 201, r
        assert stack.http("POST", base + "/tags/c", token=admin).status == 201
        r = stack.http("PUT", base + "/tags/c", {"name": "d"}, token=admin)
        assert r.status == 200 and r.json["name"] == "d"
        tags = sorted(t["name"] for t in stack.http("GET", base + "/tags", token=demo)
                      .json["tags"])
        assert tags == ["a", "b", "d"]
        assert stack.http("DELETE", base + "/tags", token=admin).status == 204
        assert stack.http("GET", base + "/tags", token=demo).json["tags"] == []
        # properties list as a map
        props = stack.http("GET", base + "/properties", token=demo).json["properties"]
        assert props["hw_x"]["type"] == "string"
        # unknown collection
        assert_error(stack.http("GET", base + "/nope", token=demo), 404)
        # private: others do not see it
        r = stack.http("PUT", MD + "/namespaces/%s" % ns,
                       {"namespace": ns, "visibility": "private", "protected": False},
                       token=admin)
        assert r.status == 200 and r.json["visibility"] == "private", r
        assert_error(stack.http("GET", MD + "/namespaces/%s" % ns, token=demo), 404)
    finally:
        stack.http("PUT", MD + "/namespaces/%s" % ns,
                   {"namespace": ns, "protected": False}, token=admin)
        assert stack.http("DELETE", MD + "/namespaces/%s" % ns, token=admin).status == 204
    assert_error(stack.http("GET", MD + "/namespaces/%s" % ns, token=admin), 404)


@pytest.mark.parametrize("schema,name", [
    ("namespace", "namespace"), ("namespaces", "namespaces"), ("object", "object"),
    ("objects", "objects"), ("property", "property"), ("properties", "properties"),
    ("tag", "tag"), ("tags", "tags"), ("resource_type", "resource_type_association"),
    ("resource_types", "resource_type_associations")])
def test_metadef_schemas(stack, schema, name):
    r = stack.http("GET", "%s/schemas/metadefs/%s" % (V2, schema), token=stack.token("demo"))
    assert r.status == 200 and r.json["name"] == name, r


# ---------------------------------------------------------------- image_size_total

def test_image_size_total_quota(stack, projects):
    """A project's image_size_total (MiB; a quotas row, as no Keystone limits API
    exists yet) bounds the bytes its images hold: the upload that would pass it gets
    Glance's 413 and its image goes back to queued; deleting frees the room; at the
    limit not even the first byte is stored."""
    p = projects["other"]
    tok = p["token"]
    stack.sql("INSERT INTO quotas (project_id, resource, hard_limit) VALUES (:'p1',"
              " 'image_size_total', 1) ON CONFLICT (project_id, resource) DO UPDATE SET"
              " hard_limit = 1", p["id"])
    made = []
    try:
        a = _new_image(stack, tok)
        made.append(a["id"])
        assert _upload(stack, a["id"], b"a" * (600 << 10), tok).status == 204
        b = _new_image(stack, tok)
        made.append(b["id"])
        r = _upload(stack, b["id"], b"b" * (600 << 10), tok)
        assert_error(r, 413)
        assert "image_size_total" in r.text
        shown = stack.http("GET", "%s/images/%s" % (V2, b["id"]), token=tok).json
        assert shown["status"] == "queued" and shown["size"] is None
        # what fits still does: now exactly at the limit (1 MiB)
        assert _upload(stack, b["id"], b"b" * (424 << 10), tok).status == 204
        # at the limit, the next upload is refused before its body is stored
        c = _new_image(stack, tok)
        made.append(c["id"])
        assert_error(_upload(stack, c["id"], b"c", tok), 413)
        assert stack.http("DELETE", "%s/images/%s" % (V2, a["id"]), token=tok).status == 204
        assert _upload(stack, c["id"], b"c" * (600 << 10), tok).status == 204
    finally:
        stack.sql("DELETE FROM quotas WHERE project_id = :'p1' AND"
                  " resource = 'image_size_total'", p["id"])
        for iid in made:
            stack.http("DELETE", "%s/images/%s" % (V2, iid), token=stack.token())


# ---------------------------------------------------------------- image count

def test_image_count_limit_holds_under_parallel_creates(stack, projects):
    """A project holds at most 100 images (Glance's image_count_total; admins are not
    bound): the count and the insert run under the owner's quota lock, so creates sent
    together cannot pass the count together."""
    p = projects["mem"]
    tok = p["token"]

    def owned():
        r = stack.http("GET", "%s/images?limit=1000&owner=%s&visibility=all" % (V2, p["id"]),
                       token=tok)
        assert r.status == 200, r
        return [i["id"] for i in r.json["images"]]

    made = []
    try:
        while len(owned()) < 96:
            made.append(_new_image(stack, tok)["id"])
        results = [None] * 16

        def create(i):
            results[i] = stack.http("POST", "%s/images" % V2, {"name": "e2e-count-%d" % i},
                                    token=tok)
        threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        made += [r.json["id"] for r in results if r.status == 201]
        assert sorted(r.status for r in results) == [201] * 4 + [413] * 12, results
        for r in results:
            if r.status == 413:
                assert_error(r, 413)
                assert "Maximum number of images (100) exceeded." in r.text, r
        assert len(owned()) == 100
    finally:
        for iid in made:
            stack.http("DELETE", "%s/images/%s" % (V2, iid), token=stack.token())
