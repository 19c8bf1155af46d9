"""Image bytes on the object store (issue 9): a stack made with NUBO_IMAGE_STORE=swift
(nubo.conf [image] store = swift), e.g.
    NUBO_IMAGE_STORE=swift NUBO_IMAGE_SEGMENT_MB=4 tests/e2e/run.sh \\
        tests/e2e/test_image_store.py tests/e2e/test_image.py
keeps every image as an object of the service project's account ("images", and a
dynamic large object of segments in "images_segments" past swift_segment_mb), seen here
with the real swift CLI as admin in that project. On a stack with the file store the
module is skipped (test_image.py covers both)."""
import configparser
import hashlib
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from nubo_e2e import wait_for

SWIFT = "/usr/bin/swift"


def _conf(stack):
    c = configparser.ConfigParser(interpolation=None, strict=False)
    c.read_string(stack.conf.read_text())
    return c


@pytest.fixture(scope="module", autouse=True)
def swift_store(stack):
    c = _conf(stack)
    if c.get("image", "store", fallback="file") != "swift":
        pytest.skip("the stack keeps images as files (NUBO_IMAGE_STORE=swift for this module)")
    return int(c.get("image", "swift_segment_mb", fallback="1024")) << 20


def _swift(stack, *args, check=True):
    """The real swift CLI as admin in the service project (the image store's account)."""
    env = stack.cli_env("admin", {"OS_PROJECT_NAME": "service"})
    proc = subprocess.run([SWIFT, *[str(a) for a in args]], env=env, capture_output=True,
                          text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError("swift %s: %s\n%s" % (args, proc.stdout, proc.stderr))
    return proc


def _listing(stack, container, prefix):
    proc = _swift(stack, "list", "--prefix", prefix, container, check=False)
    return proc.stdout.split() if proc.returncode == 0 else []


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _get_range(stack, iid, first, last):
    """(status, body bytes) of GET .../file with Range: bytes=first-last."""
    req = urllib.request.Request("%s/image/v2/images/%s/file" % (stack.api, iid), headers={
        "X-Auth-Token": stack.token(), "Range": "bytes=%d-%d" % (first, last)})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=120) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def _create(stack, name, path, fmt):
    """openstack image create --file, then the image as it is once the upload is done
    (create prints it as it was made: queued)."""
    img = stack.os_cli("image", "create", "--disk-format", fmt, "--container-format", "bare",
                       "--file", str(path), name)
    return stack.os_cli("image", "show", img["id"])


def test_small_image_is_one_object(stack, tmp_path, swift_store):
    src = tmp_path / "small.raw"
    src.write_bytes(os.urandom((1 << 20) + 7))
    img = _create(stack, "e2e-store-small", src, "raw")
    try:
        assert img["status"] == "active"
        assert _listing(stack, "images", img["id"]) == [img["id"]]
        assert _listing(stack, "images_segments", img["id"] + "/") == []
        out = tmp_path / "small.out"
        stack.os_run("image", "save", "--file", str(out), img["id"])
        assert _sha256(out) == _sha256(src)
        # the object holds the image's bytes, as the store's own client reads them
        obj = tmp_path / "small.obj"
        _swift(stack, "download", "-o", str(obj), "images", img["id"])
        assert _sha256(obj) == _sha256(src)
    finally:
        stack.os_run("image", "delete", img["id"])
    assert _listing(stack, "images", img["id"]) == []


def test_large_image_is_segmented_and_boots(stack, tmp_path, swift_store, ids):
    """nubo-tiny's bytes (more than one segment when swift_segment_mb is small) as a new
    image: byte-equal on save and on a ranged read, a server boots from it, and its
    delete removes the manifest and every segment."""
    src = tmp_path / "tiny.qcow2"
    stack.os_run("image", "save", "--file", str(src), ids["image"], timeout=300)
    size = src.stat().st_size
    img = _create(stack, "e2e-store-big", src, "qcow2")
    server = None
    try:
        assert img["status"] == "active"
        segs = _listing(stack, "images_segments", img["id"] + "/")
        want = 0 if size <= swift_store else -(-size // swift_store)
        assert len(segs) == want, (size, swift_store, segs)
        out = tmp_path / "tiny.out"
        stack.os_run("image", "save", "--file", str(out), img["id"], timeout=300)
        assert _sha256(out) == _sha256(src)
        # a range across a segment boundary (or the middle of a single object)
        cut = min(swift_store, size // 2)
        status, body = _get_range(stack, img["id"], cut - 10, cut + 9)
        assert status == 206, (status, body[:200])
        with open(src, "rb") as f:
            f.seek(cut - 10)
            assert body == f.read(20)
        server = stack.os_cli("server", "create", "--flavor", "m1.tiny", "--image", img["id"],
                              "--wait", "e2e-store-vm", timeout=600)
        assert server["status"] == "ACTIVE", server
    finally:
        if server:
            stack.os_run("server", "delete", "--wait", server["id"], check=False, timeout=300)
        stack.os_run("image", "delete", img["id"])
    assert _listing(stack, "images", img["id"]) == []
    assert _listing(stack, "images_segments", img["id"] + "/") == []


def test_refusals_are_the_same(stack, tmp_path):
    """The inspection runs before the store: a qcow2 naming a backing file is refused
    and leaves no object behind."""
    base = tmp_path / "base.raw"
    base.write_bytes(b"\0" * 65536)
    bad = tmp_path / "bad.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base),
                    str(bad)], check=True, timeout=60)
    before = _listing(stack, "images", "")
    proc = stack.os_run("image", "create", "--disk-format", "qcow2", "--container-format",
                        "bare", "--file", str(bad), "e2e-store-bad", check=False)
    assert proc.returncode != 0
    assert "backing" in proc.stdout + proc.stderr
    left = stack.os_cli("image", "list", "--name", "e2e-store-bad")
    for img in left:  # the CLI may leave the queued image behind
        assert img["Status"] == "queued", img
        stack.os_run("image", "delete", img["ID"])
    assert _listing(stack, "images", "") == before


def test_store_down_is_503(stack, tmp_path):
    """With the object store's proxy stopped, a download is a 503 (and a log line), and
    the bytes are there again once it is back."""
    src = tmp_path / "d.raw"
    src.write_bytes(os.urandom(4096))
    img = _create(stack, "e2e-store-down", src, "raw")
    tok = stack.token()
    path = "/image/v2/images/%s/file" % img["id"]
    try:
        stack.nubo_ctl("stop", "nubo-objproxy")
        r = stack.http("GET", path, token=tok)
        assert r.status == 503, r
        assert "image store (swift)" in stack.log_tail("nubo-api.log", 200)
    finally:
        stack.nubo_ctl("start", "nubo-objproxy")

    def back():
        return stack.http("GET", path, token=tok).status == 200
    wait_for(back, 60, 1, "the image to be readable again")
    stack.os_run("image", "delete", img["id"])
