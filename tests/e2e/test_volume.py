"""Block Storage v3 and nubo-storage end to end with the real `openstack` CLI: volumes
(empty, from a snapshot, from a volume, from an image), extend, metadata, snapshots,
types, quotas (413 with nothing created, also under concurrency), Cinder's error shapes
and state rules. Byte equality is checked on the pool files themselves (qemu-img
convert to raw, sha256; qemu-img compare for images)."""
import concurrent.futures
import hashlib
import re
import subprocess
import time

import pytest

from nubo_e2e import assert_error, wait_for

GIB = 1 << 30


def pool(stack):
    return stack.root / "var" / "lib" / "nubo" / "storage"


def vol_file(stack, vid):
    return pool(stack) / "volumes" / ("%s.qcow2" % vid)


def snap_file(stack, sid):
    return pool(stack) / "snapshots" / ("%s.qcow2" % sid)


def raw_sha256(path, tmp_path):
    out = tmp_path / (path.name + ".raw")
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(out)],
                   check=True, timeout=300)
    h = hashlib.sha256()
    with open(out, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    out.unlink()
    return h.hexdigest()


def virtual_size(path):
    import json
    info = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)], check=True,
                          capture_output=True, text=True, timeout=60).stdout
    return json.loads(info)["virtual-size"]


def wait_volume(stack, ref, status, user="admin", timeout=120):
    def check():
        v = stack.os_cli("volume", "show", ref, user=user)
        assert v["status"] not in ("error", "error_extending", "error_deleting") or \
            status.startswith("error"), "volume %s: %s" % (ref, v)
        return v if v["status"] == status else None
    return wait_for(check, timeout, 0.5, "volume %s %s" % (ref, status))


def wait_gone(stack, kind, ref, user="admin", timeout=120):
    def check():
        p = stack.os_run(kind, "show", ref, user=user, check=False)
        return p.returncode != 0 and ("No " in p.stderr or "could not be found" in p.stderr)
    wait_for(check, timeout, 0.5, "%s %s gone" % (kind, ref))


def wait_snapshot(stack, ref, status, user="admin", timeout=120):
    def check():
        s = stack.os_cli("volume", "snapshot", "show", ref, user=user)
        assert s["status"] != "error", s
        return s if s["status"] == status else None
    return wait_for(check, timeout, 0.5, "snapshot %s %s" % (ref, status))


def delete_all(stack, sids, vids, user):
    """Deletes USER's snapshots sids, then volumes vids, waiting for each to go (a test's
    clean-up: errors are not checked, what was never made is simply not found)."""
    for sid in sids:
        stack.os_run("volume", "snapshot", "delete", sid, user=user, check=False)
    for sid in sids:
        wait_for(lambda: stack.os_run("volume", "snapshot", "show", sid, user=user,
                                      check=False).returncode != 0, 120, 0.5, "snapshot gone")
    for vid in vids:
        stack.os_run("volume", "delete", vid, user=user, check=False)
    for vid in vids:
        wait_gone(stack, "volume", vid, user=user)


def made_volume(stack, vids, *args, user="demo"):
    """`openstack volume create ARGS` as USER, its id kept in vids for delete_all, once
    available: the volume's view."""
    v = stack.os_cli("volume", "create", *args, user=user)
    vids.append(v["id"])
    wait_volume(stack, v["id"], "available", user=user)
    return v


def made_snapshot(stack, sids, vid, name, user="demo"):
    """A snapshot NAME of volume vid as USER, its id kept in sids for delete_all, once
    available: the snapshot's view."""
    s = stack.os_cli("volume", "snapshot", "create", "--volume", vid, name, user=user)
    sids.append(s["id"])
    wait_snapshot(stack, s["id"], "available", user=user)
    return s


def qemu_io_write(path, pattern, offset, length):
    subprocess.run(["qemu-io", "-f", "qcow2", "-c",
                    "write -P 0x%02x %d %d" % (pattern, offset, length), str(path)],
                   check=True, capture_output=True, timeout=60)


def test_version_documents(http):
    r = http("GET", "/volume")
    assert r.status == 300, r
    v = r.json["versions"][0]
    assert v["id"] == "v3.0" and v["status"] == "CURRENT"
    assert v["min_version"] == "3.0" and v["version"] == "3.0"
    r = http("GET", "/volume/v3")
    assert r.status == 200 and r.json["versions"][0]["id"] == "v3.0"


def test_catalog_has_block_storage(os_cli):
    types = {s["Type"] for s in os_cli("catalog", "list")}
    assert {"volumev3", "block-storage"} <= types


def test_microversion_header(stack, project_ids, http):
    tok = stack.token("admin")
    base = "/volume/v3/%s/volumes" % project_ids["admin"]
    r = http("GET", base, token=tok, headers={"OpenStack-API-Version": "volume 3.0"})
    assert r.status == 200 and r.headers["OpenStack-API-Version"] == "volume 3.0"
    r = http("GET", base, token=tok, headers={"OpenStack-API-Version": "volume 3.70"})
    assert_error(r, 406)
    r = http("GET", base, token=tok, headers={"OpenStack-API-Version": "volume x"})
    assert_error(r, 400)


def test_volume_lifecycle(stack, os_cli, os_run):
    v = os_cli("volume", "create", "--size", "1", "--description", "first", "e2e-v1",
               user="demo")
    assert v["status"] == "creating" and v["size"] == 1
    v = wait_volume(stack, v["id"], "available", user="demo")
    assert vol_file(stack, v["id"]).is_file()
    assert virtual_size(vol_file(stack, v["id"])) == GIB
    assert v["bootable"] == "false" and v["type"] == "__DEFAULT__"
    names = [x["Name"] for x in os_cli("volume", "list", user="demo")]
    assert "e2e-v1" in names
    # another project does not see it
    assert "e2e-v1" not in [x["Name"] for x in os_cli("volume", "list")]
    # update name, description, metadata
    os_run("volume", "set", "--name", "e2e-v1b", "--property", "k=v", "e2e-v1", user="demo")
    v = os_cli("volume", "show", "e2e-v1b", user="demo")
    assert v["properties"] in ({"k": "v"}, "k='v'")
    os_run("volume", "unset", "--property", "k", "e2e-v1b", user="demo")
    v = os_cli("volume", "show", "e2e-v1b", user="demo")
    assert v["properties"] in ({}, "")
    # extend: larger only
    os_run("volume", "set", "--size", "2", "e2e-v1b", user="demo")
    v = wait_volume(stack, "e2e-v1b", "available", user="demo")
    assert v["size"] == 2
    assert virtual_size(vol_file(stack, v["id"])) == 2 * GIB
    p = os_run("volume", "set", "--size", "1", "e2e-v1b", user="demo", check=False)
    assert p.returncode != 0
    # delete leaves nothing
    os_run("volume", "delete", "e2e-v1b", user="demo")
    wait_gone(stack, "volume", v["id"], user="demo")
    assert not vol_file(stack, v["id"]).exists()
    assert stack.sql("SELECT count(*) FROM volumes WHERE id = :'p1'", v["id"]) == [["0"]]


def test_extend_refusals_have_cinder_shape(stack, project_ids, http, os_cli):
    v = os_cli("volume", "create", "--size", "1", "e2e-ext", user="demo")
    wait_volume(stack, v["id"], "available", user="demo")
    tok = stack.token("demo")
    base = "/volume/v3/%s/volumes/%s" % (project_ids["demo"], v["id"])
    r = http("POST", base + "/action", {"os-extend": {"new_size": 1}}, token=tok)
    assert_error(r, 400)
    assert "badRequest" in r.json and "greater than current size" in r.json["badRequest"]["message"]
    r = http("POST", base + "/action", {"os-extend": {"new_size": "x"}}, token=tok)
    assert_error(r, 400)
    r = http("POST", base + "/action", {"os-reset_status": {"status": "error"}}, token=tok)
    assert_error(r, 403)
    r = http("GET", "/volume/v3/%s/volumes/%s" % (project_ids["demo"],
                                                 "00000000-0000-0000-0000-000000000000"),
             token=tok)
    assert_error(r, 404)
    assert "itemNotFound" in r.json
    r = http("POST", "/volume/v3/%s/volumes" % project_ids["demo"], {"volume": {"size": 0}},
             token=tok)
    assert_error(r, 400)
    stack.os_run("volume", "delete", v["id"], user="demo")
    wait_gone(stack, "volume", v["id"], user="demo")


def test_snapshot_and_clones_are_byte_equal(stack, os_cli, os_run, tmp_path):
    v = os_cli("volume", "create", "--size", "1", "e2e-src", user="demo")
    wait_volume(stack, v["id"], "available", user="demo")
    src = vol_file(stack, v["id"])
    qemu_io_write(src, 0xab, 0, 1 << 20)
    qemu_io_write(src, 0x5c, 512 << 20, 4096)
    before = raw_sha256(src, tmp_path)
    s = os_cli("volume", "snapshot", "create", "--volume", "e2e-src", "e2e-s1", user="demo")
    wait_snapshot(stack, s["id"], "available", user="demo")
    assert raw_sha256(snap_file(stack, s["id"]), tmp_path) == before
    # the volume changes after the snapshot; the snapshot does not
    qemu_io_write(src, 0x11, 0, 4096)
    assert raw_sha256(snap_file(stack, s["id"]), tmp_path) == before
    # delete of a volume with snapshots: 400
    p = os_run("volume", "delete", "e2e-src", user="demo", check=False)
    assert p.returncode != 0 and "snapshot" in p.stderr.lower(), p.stderr
    from_snap = os_cli("volume", "create", "--snapshot", "e2e-s1", "e2e-from-snap", user="demo")
    wait_volume(stack, from_snap["id"], "available", user="demo")
    assert from_snap["size"] == 1
    assert raw_sha256(vol_file(stack, from_snap["id"]), tmp_path) == before
    after = raw_sha256(src, tmp_path)
    clone = os_cli("volume", "create", "--source", "e2e-src", "e2e-clone", user="demo")
    wait_volume(stack, clone["id"], "available", user="demo")
    assert raw_sha256(vol_file(stack, clone["id"]), tmp_path) == after
    # a larger copy keeps the bytes and grows
    big = os_cli("volume", "create", "--snapshot", "e2e-s1", "--size", "2", "e2e-big",
                 user="demo")
    wait_volume(stack, big["id"], "available", user="demo")
    assert virtual_size(vol_file(stack, big["id"])) == 2 * GIB
    # a smaller one is refused
    p = os_run("volume", "create", "--source", "e2e-big", "--size", "1", "e2e-small",
               user="demo", check=False)
    assert p.returncode != 0
    # snapshot delete leaves nothing, then the volume can go
    os_run("volume", "snapshot", "delete", "e2e-s1", user="demo")
    wait_for(lambda: not snap_file(stack, s["id"]).exists() and not stack.sql(
        "SELECT 1 FROM volume_snapshots WHERE id = :'p1'", s["id"]), 60, 0.5, "snapshot gone")
    for vid in (from_snap["id"], clone["id"], big["id"], v["id"]):
        os_run("volume", "delete", vid, user="demo")
    for vid in (from_snap["id"], clone["id"], big["id"], v["id"]):
        wait_gone(stack, "volume", vid, user="demo")
        assert not vol_file(stack, vid).exists()


def test_volume_from_image(stack, os_cli, os_run, ids):
    v = os_cli("volume", "create", "--image", "nubo-tiny", "--size", "1", "e2e-bootvol",
               user="demo")
    v = wait_volume(stack, v["id"], "available", user="demo", timeout=300)
    assert v["bootable"] == "true"
    img = stack.root / "var" / "lib" / "nubo" / "images" / ids["image"]
    fmt = os_cli("image", "show", ids["image"])["disk_format"]
    # same guest-visible bytes; the volume's tail is zeros
    subprocess.run(["qemu-img", "compare", "-f", fmt, "-F", "qcow2", str(img),
                    str(vol_file(stack, v["id"]))], check=True, capture_output=True,
                   timeout=300)
    os_run("volume", "delete", v["id"], user="demo")
    wait_gone(stack, "volume", v["id"], user="demo")


def with_storage_key(text, key, value):
    """nubo.conf text with key = value in its [storage] section (replacing the line the
    section has, else first in it)."""
    head, sep, rest = text.partition("[storage]\n")
    assert sep, "the stack's nubo.conf has no [storage]"
    section, nxt, tail = rest.partition("\n[")
    line = re.compile(r"(?m)^%s\s*=.*$" % re.escape(key))
    if line.search(section):
        section = line.sub("%s = %s" % (key, value), section, count=1)
    else:
        section = "%s = %s\n%s" % (key, value, section)
    return head + sep + section + nxt + tail


def test_volumes_from_image_share_the_cached_download(stack, os_cli, os_run, ids, tmp_path):
    """The storage agent's image cache (common/image_cache.c): volumes made from two
    images with the same bytes download them once (one entry, named by the images'
    sha512, os_hash_value, never by their md5; never replaced: a download renames a
    new file into place), and with [storage] image_cache_max_mb = 4 a third image of
    2 MiB evicts the first one's entry (11 MiB), no longer used by anything, once its
    volume is made, and stays itself (nubo-storage restarted; put back at the end)."""
    import os
    image = os_cli("image", "show", ids["image"])
    # the client shows os_hash_* among the properties
    md5, sha512 = image["checksum"], image["properties"]["os_hash_value"]
    assert image["properties"]["os_hash_algo"] == "sha512" and len(sha512) == 128
    cache = pool(stack) / "images"
    entry = cache / sha512
    same = os_cli("image", "create", "--disk-format", image["disk_format"],
                  "--container-format", "bare", "--file",
                  str(stack.root / "var" / "lib" / "nubo" / "images" / ids["image"]),
                  "e2e-cache-same", user="demo")
    other_file = tmp_path / "other.raw"
    other_file.write_bytes(os.urandom(2 << 20))
    other = os_cli("image", "create", "--disk-format", "raw", "--container-format", "bare",
                   "--file", str(other_file), "e2e-cache-other", user="demo")
    same = os_cli("image", "show", same["id"], user="demo")
    other = os_cli("image", "show", other["id"], user="demo")
    assert same["checksum"] == md5 and same["id"] != ids["image"]
    assert same["properties"]["os_hash_value"] == sha512
    before = stack.conf.read_text()
    vols = []
    try:
        v = os_cli("volume", "create", "--image", ids["image"], "--size", "1", "e2e-cache-1",
                   user="demo")
        vols.append(v["id"])
        wait_volume(stack, v["id"], "available", user="demo", timeout=300)
        inode = entry.stat().st_ino
        assert entry.stat().st_nlink == 1  # the volume's link went once it was copied
        assert not (cache / md5).exists() and not (cache / ids["image"]).exists()
        v = os_cli("volume", "create", "--image", same["id"], "--size", "1", "e2e-cache-2",
                   user="demo")
        vols.append(v["id"])
        wait_volume(stack, v["id"], "available", user="demo", timeout=300)
        assert entry.stat().st_ino == inode, "the image was downloaded again"
        assert not [p.name for p in (pool(stack) / "tmp").iterdir() if p.name.endswith(".image")]
        # the same bytes in both volumes
        subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F", "qcow2",
                        str(vol_file(stack, vols[0])), str(vol_file(stack, vols[1]))],
                       check=True, capture_output=True, timeout=300)
        stack.conf.write_text(with_storage_key(before, "image_cache_max_mb", "4"))
        stack.nubo_ctl("restart", "nubo-storage", timeout=300)
        assert entry.exists()  # a start evicts nothing
        v = os_cli("volume", "create", "--image", other["id"], "--size", "1", "e2e-cache-3",
                   user="demo")
        vols.append(v["id"])
        wait_volume(stack, v["id"], "available", user="demo", timeout=300)
        assert (cache / other["properties"]["os_hash_value"]).exists()  # within the bound
        assert not entry.exists() and not (cache / (sha512 + ".info")).exists()
    finally:
        stack.conf.write_text(before)
        stack.nubo_ctl("restart", "nubo-storage", timeout=300)
        for vid in vols:
            os_run("volume", "delete", vid, user="demo", check=False)
        for vid in vols:
            wait_gone(stack, "volume", vid, user="demo")
        os_run("image", "delete", same["id"], other["id"], user="demo", check=False)


def test_types(stack, os_cli, os_run):
    names = [t["Name"] for t in os_cli("volume", "type", "list", user="demo")]
    assert "__DEFAULT__" in names
    t = os_cli("volume", "type", "create", "--property", "volume_backend_name=pool",
               "e2e-fast")
    assert t["name"] == "e2e-fast"
    p = os_run("volume", "type", "create", "e2e-denied", user="demo", check=False)
    assert p.returncode != 0 and "403" in p.stderr, p.stderr
    v = os_cli("volume", "create", "--size", "1", "--type", "e2e-fast", "e2e-typed")
    assert v["type"] == "e2e-fast"
    wait_volume(stack, v["id"], "available")
    # a copy with no type named keeps its source's (Cinder's _extract_volume_type)
    s = os_cli("volume", "snapshot", "create", "--volume", v["id"], "e2e-typed-s")
    wait_snapshot(stack, s["id"], "available")
    copies = [os_cli("volume", "create", "--snapshot", s["id"], "e2e-typed-from-snap"),
              os_cli("volume", "create", "--source", v["id"], "e2e-typed-clone")]
    assert [c["type"] for c in copies] == ["e2e-fast", "e2e-fast"], copies
    named = os_cli("volume", "create", "--source", v["id"], "--type", "__DEFAULT__",
                   "e2e-typed-clone-default")
    assert named["type"] == "__DEFAULT__", named
    copies.append(named)
    # a type in use stays
    p = os_run("volume", "type", "delete", "e2e-fast", check=False)
    assert p.returncode != 0
    for c in copies:
        wait_volume(stack, c["id"], "available")
        os_run("volume", "delete", c["id"])
    os_run("volume", "snapshot", "delete", s["id"])
    wait_for(lambda: os_run("volume", "snapshot", "show", s["id"], check=False).returncode != 0,
             120, 0.5, "snapshot gone")
    os_run("volume", "delete", v["id"])


def type_usage(http, stack, project, *types):
    """(volumes, gigabytes, snapshots) in use by project for each of types, from its
    os-quota-sets show with usage."""
    qs = http("GET", "/volume/v3/%s/os-quota-sets/%s?usage=True" % (project, project),
              token=stack.token("demo")).json["quota_set"]
    return [tuple(qs["%s_%s" % (k, t)]["in_use"] for k in ("volumes", "gigabytes", "snapshots"))
            for t in types]


def test_retype_takes_the_snapshots_and_their_copies_along(stack, os_cli, os_run, project_ids,
                                                         http):
    """Cinder keeps a snapshot's volume_type_id equal to its volume's: a retype sets it on
    the volume's snapshots too and moves their quota (VolumeManager.retype,
    get_volume_type_reservation), so a volume made from a snapshot taken before the retype
    gets the new type and counts against the new type's quotas; a type named for the copy
    wins (one backend: Cinder's _retype_is_possible)."""
    demo = project_ids["demo"]
    os_run("volume", "type", "create", "e2e-st1")
    os_run("volume", "type", "create", "e2e-st2")
    vids, sids = [], []
    try:
        v = made_volume(stack, vids, "--size", "1", "--type", "e2e-st1", "e2e-st-v")
        s = made_snapshot(stack, sids, v["id"], "e2e-st-s")
        assert type_usage(http, stack, demo, "e2e-st1", "e2e-st2") == [(1, 2, 1), (0, 0, 0)]

        os_run("volume", "set", "--type", "e2e-st2", "--retype-policy", "never", v["id"],
               user="demo")
        assert os_cli("volume", "show", v["id"], user="demo")["type"] == "e2e-st2"
        # the snapshot and its gigabytes went with the volume
        assert type_usage(http, stack, demo, "e2e-st1", "e2e-st2") == [(0, 0, 0), (1, 2, 1)]

        # its copy is charged to the new type: refused when that type is full ...
        os_run("quota", "set", "--volumes", "1", "--volume-type", "e2e-st2", "demo")
        p = os_run("volume", "create", "--snapshot", s["id"], "e2e-st-full", user="demo",
                   check=False)
        assert p.returncode != 0 and "413" in p.stderr and "'volumes_e2e-st2'" in p.stderr, \
            p.stderr
        # ... and made of the new type when there is room
        os_run("quota", "set", "--volumes", "2", "--volume-type", "e2e-st2", "demo")
        c = os_cli("volume", "create", "--snapshot", s["id"], "e2e-st-copy", user="demo")
        vids.append(c["id"])
        assert c["type"] == "e2e-st2", c
        assert type_usage(http, stack, demo, "e2e-st1", "e2e-st2") == [(0, 0, 0), (2, 3, 1)]

        # a type named for the copy wins, and the copy counts against that type
        n = os_cli("volume", "create", "--snapshot", s["id"], "--type", "e2e-st1",
                   "e2e-st-named", user="demo")
        vids.append(n["id"])
        assert n["type"] == "e2e-st1", n
        assert type_usage(http, stack, demo, "e2e-st1", "e2e-st2") == [(1, 1, 0), (2, 3, 1)]
        for vid in vids[1:]:
            wait_volume(stack, vid, "available", user="demo")
            assert os_cli("volume", "show", vid, user="demo")["type"] == \
                ("e2e-st2" if vid == c["id"] else "e2e-st1")
    finally:
        delete_all(stack, sids, vids, user="demo")
        for name in ("e2e-st1", "e2e-st2"):
            os_run("volume", "type", "delete", name, check=False)


def test_delete_in_use_is_400(stack, os_cli, os_run, project_ids, http):
    v = os_cli("volume", "create", "--size", "1", "e2e-inuse")
    wait_volume(stack, v["id"], "available")
    # no attachment API in this slice: an admin puts it in-use by reset-status
    os_run("volume", "set", "--state", "in-use", v["id"])
    r = http("DELETE", "/volume/v3/%s/volumes/%s" % (project_ids["admin"], v["id"]),
             token=stack.token("admin"))
    assert_error(r, 400)
    assert "badRequest" in r.json
    os_run("volume", "set", "--state", "available", v["id"])
    os_run("volume", "delete", v["id"])
    wait_gone(stack, "volume", v["id"])


def count_volumes(stack, project_id):
    return int(stack.sql("SELECT count(*) FROM volumes WHERE project_id = :'p1'",
                         project_id)[0][0])


def test_over_quota_is_413_with_nothing_created(stack, os_cli, os_run, project_ids, http):
    demo = project_ids["demo"]
    tok = stack.token("demo")
    before = count_volumes(stack, demo)
    used_gb = http("GET", "/volume/v3/%s/os-quota-sets/%s?usage=True" % (demo, demo),
                   token=tok).json["quota_set"]["gigabytes"]["in_use"]
    # room for two more volumes and 3 GB beyond what demo uses now (a limit below that
    # is refused, as Cinder does)
    os_run("quota", "set", "--gigabytes", str(used_gb + 3), "--volumes", str(before + 2), "demo")
    try:
        r = http("POST", "/volume/v3/%s/volumes" % demo, {"volume": {"size": 5}}, token=tok)
        assert_error(r, 413)
        assert "overLimit" in r.json and "gigabytes" in r.json["overLimit"]["message"]
        assert count_volumes(stack, demo) == before
        p = os_run("volume", "create", "--size", "5", "e2e-toobig", user="demo", check=False)
        assert p.returncode != 0 and "413" in p.stderr, p.stderr
        assert count_volumes(stack, demo) == before
        # concurrency: eight creates of 1 GB against volumes=2: exactly the room fits
        room = 2

        def create(i):
            return http("POST", "/volume/v3/%s/volumes" % demo,
                        {"volume": {"size": 1, "name": "e2e-race-%d" % i}}, token=tok).status
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(create, range(8)))
        assert codes.count(202) == room, codes
        assert codes.count(413) == 8 - room, codes
        assert count_volumes(stack, demo) == before + room
    finally:
        for row in stack.sql("SELECT id FROM volumes WHERE name LIKE 'e2e-race-%'"):
            wait_volume(stack, row[0], "available", user="demo")
            os_run("volume", "delete", row[0], user="demo")
        os_run("quota", "set", "--gigabytes", "1000", "--volumes", "10", "demo")


def test_quota_show_and_limits(stack, os_cli, project_ids, http):
    q = os_cli("quota", "show", "demo")
    text = str(q)
    assert "volumes" in text and "gigabytes" in text
    r = http("GET", "/volume/v3/%s/limits" % project_ids["demo"], token=stack.token("demo"))
    assert r.status == 200
    assert r.json["limits"]["absolute"]["maxTotalVolumes"] >= 0


def volume_action(http, stack, project, vid, body, user="demo"):
    return http("POST", "/volume/v3/%s/volumes/%s/action" % (project, vid), body,
                token=stack.token(user))


def test_quota_per_volume_type(stack, os_cli, os_run, project_ids, http):
    """Cinder's per-type quotas: volumes_<type>, gigabytes_<type>, snapshots_<type> are
    listed for every type (-1 by default), set with `quota set --volume-type`, and
    enforced by create, snapshot, extend and retype with Cinder's 413 naming the quota;
    they follow a type's rename and go with its delete."""
    demo = project_ids["demo"]
    tok = stack.token("demo")
    base = "/volume/v3/%s" % demo
    os_run("volume", "type", "create", "e2e-qt")
    vids, sids = [], []
    try:
        q = os_cli("quota", "show", "demo")
        assert q["volumes_e2e-qt"] == -1 and q["gigabytes_e2e-qt"] == -1, q
        assert q["snapshots_e2e-qt"] == -1 and q["volumes___DEFAULT__"] == -1, q
        d = os_cli("quota", "show", "--default", "demo")
        assert d["volumes_e2e-qt"] == -1 and d["volumes"] == 10, d
        os_run("quota", "set", "--volumes", "1", "--gigabytes", "3", "--snapshots", "1",
               "--volume-type", "e2e-qt", "demo")
        q = os_cli("quota", "show", "demo")
        assert (q["volumes_e2e-qt"], q["gigabytes_e2e-qt"], q["snapshots_e2e-qt"]) == \
            (1, 3, 1), q
        assert q["volumes"] == 10, q  # the global one is untouched
        # a type that does not exist is Cinder's 400
        r = http("PUT", "/volume/v3/%s/os-quota-sets/%s" % (project_ids["admin"], demo),
                 {"quota_set": {"volumes_e2e-nosuch": 1}}, token=stack.token("admin"))
        assert_error(r, 400)
        assert r.json["badRequest"]["message"] == \
            "Invalid input received: Bad key(s) in quota set: volumes_e2e-nosuch", r.json
        r = http("PUT", "/volume/v3/%s/os-quota-class-sets/default" % project_ids["admin"],
                 {"quota_class_set": {"snapshots_e2e-nosuch": 1}}, token=stack.token("admin"))
        assert_error(r, 400)
        assert "Bad key(s) in quota class set: snapshots_e2e-nosuch" in \
            r.json["badRequest"]["message"], r.json
        # a non-admin may not set them
        r = http("PUT", "%s/os-quota-sets/%s" % (base, demo),
                 {"quota_set": {"volumes_e2e-qt": 5}}, token=tok)
        assert r.status == 403, r

        v = made_volume(stack, vids, "--size", "1", "--type", "e2e-qt", "e2e-qt-1")
        before = count_volumes(stack, demo)
        r = http("POST", base + "/volumes",
                 {"volume": {"size": 1, "volume_type": "e2e-qt"}}, token=tok)
        assert_error(r, 413)
        assert r.json["overLimit"]["message"] == (
            "VolumeLimitExceeded: Maximum number of volumes allowed (1) exceeded for "
            "quota 'volumes_e2e-qt'."), r.json
        assert count_volumes(stack, demo) == before
        p = os_run("volume", "create", "--size", "1", "--type", "e2e-qt", "e2e-qt-2",
                   user="demo", check=False)
        assert p.returncode != 0 and "413" in p.stderr and "volumes_e2e-qt" in p.stderr, \
            p.stderr
        assert count_volumes(stack, demo) == before
        # another type is not limited by it
        v2 = made_volume(stack, vids, "--size", "1", "e2e-qt-dflt")

        # snapshots count against snapshots_<type> and gigabytes_<type> of their volume
        s = made_snapshot(stack, sids, v["id"], "e2e-qt-s1")
        r = http("POST", base + "/snapshots",
                 {"snapshot": {"volume_id": v["id"], "name": "e2e-qt-s2"}}, token=tok)
        assert_error(r, 413)
        assert r.json["overLimit"]["message"] == (
            "SnapshotLimitExceeded: Maximum number of snapshots allowed (1) exceeded")
        r = http("GET", "/volume/v3/%s/os-quota-sets/%s?usage=True" % (demo, demo),
                 token=tok)
        assert r.status == 200, r
        qs = r.json["quota_set"]
        assert qs["volumes_e2e-qt"] == {"limit": 1, "in_use": 1, "reserved": 0,
                                        "allocated": 0}, qs
        assert qs["gigabytes_e2e-qt"]["in_use"] == 2 and qs["snapshots_e2e-qt"]["in_use"] == 1
        assert qs["volumes___DEFAULT__"]["in_use"] >= 1 and qs["volumes"]["in_use"] >= 2
        # extend: 1 GB volume + 1 GB snapshot, to 3 GB is 4 > gigabytes_e2e-qt 3
        r = volume_action(http, stack, demo, v["id"], {"os-extend": {"new_size": 3}})
        assert_error(r, 413)
        assert "allowed gigabytes_e2e-qt quota. Requested 2G, quota is 3G and 2G has been " \
            "consumed." in r.json["overLimit"]["message"], r.json
        assert os_cli("volume", "show", v["id"], user="demo")["size"] == 1
        # retype into the full type is refused; the volume keeps its type
        r = volume_action(http, stack, demo, v2["id"], {"os-retype": {"new_type": "e2e-qt"}})
        assert_error(r, 413)
        assert "'volumes_e2e-qt'" in r.json["overLimit"]["message"], r.json
        assert os_cli("volume", "show", v2["id"], user="demo")["type"] == "__DEFAULT__"
        # /limits stays Cinder's: no per-type entries
        r = http("GET", base + "/limits", token=tok)
        assert not [k for k in r.json["limits"]["absolute"] if "e2e-qt" in k], r.json

        os_run("volume", "snapshot", "delete", s["id"], user="demo")
        wait_for(lambda: os_run("volume", "snapshot", "show", s["id"], user="demo",
                                check=False).returncode != 0, 120, 0.5, "snapshot gone")
        sids.remove(s["id"])
        # room again (a retype moves the usage): v2 into e2e-qt needs volumes_e2e-qt 2
        os_run("quota", "set", "--volumes", "2", "--volume-type", "e2e-qt", "demo")
        r = volume_action(http, stack, demo, v2["id"], {"os-retype": {"new_type": "e2e-qt"}})
        assert r.status == 202, r
        qs = http("GET", "/volume/v3/%s/os-quota-sets/%s?usage=True" % (demo, demo),
                  token=tok).json["quota_set"]
        assert qs["volumes_e2e-qt"]["in_use"] == 2 and qs["gigabytes_e2e-qt"]["in_use"] == 2
        # no limit below what is in use (Cinder's _validate_existing_resource), per type
        # and global, and nothing of the set is written
        p = os_run("quota", "set", "--volumes", "1", "--volume-type", "e2e-qt", "demo",
                   check=False)
        assert p.returncode != 0 and "Quota volumes_e2e-qt limit must be equal or greater " \
            "than existing resources. Current usage is 2 and the requested limit is 1." \
            in p.stderr, p.stderr
        r = http("PUT", "/volume/v3/%s/os-quota-sets/%s" % (project_ids["admin"], demo),
                 {"quota_set": {"snapshots": 7, "volumes": 1}}, token=stack.token("admin"))
        assert_error(r, 400)
        assert "Quota volumes limit must be equal or greater than existing resources." in \
            r.json["badRequest"]["message"], r.json
        q = os_cli("quota", "show", "demo")
        assert q["volumes_e2e-qt"] == 2 and q["snapshots"] != 7, q

        # a renamed type keeps its quotas under the new name
        os_run("volume", "type", "set", "--name", "e2e-qt2", "e2e-qt")
        q = os_cli("quota", "show", "demo")
        assert q["volumes_e2e-qt2"] == 2 and "volumes_e2e-qt" not in q, q
    finally:
        delete_all(stack, sids, vids, user="demo")
        for name in ("e2e-qt2", "e2e-qt"):
            os_run("volume", "type", "delete", name, check=False)
    # a deleted type's quotas are gone from listings and from the table
    q = os_cli("quota", "show", "demo")
    assert not [k for k in q if "e2e-qt" in k], q
    assert stack.sql("SELECT count(*) FROM quotas WHERE resource LIKE '%e2e-qt%'")[0][0] == "0"


class TypeLocker:
    """A psql session that holds a volume type's row (as a rename or a delete of the type
    does while its transaction runs) until commit(sql) ends it."""

    def __init__(self, stack, type_id):
        import os
        self.stack = stack
        env = dict(os.environ, PGAPPNAME="e2e-type-locker")
        self.p = subprocess.Popen(stack.psql_args(), stdin=subprocess.PIPE, text=True,
                                  stdout=subprocess.DEVNULL, env=env)
        self.p.stdin.write("BEGIN;\nSELECT 1 FROM volume_types WHERE id = '%s' FOR UPDATE;\n"
                           % type_id)
        self.p.stdin.flush()
        wait_for(lambda: self.count("state = 'idle in transaction'") == 1, 30, 0.2,
                 "the locker holds the type")

    def count(self, where):
        return int(self.stack.sql("SELECT count(*) FROM pg_stat_activity WHERE "
                                  "application_name = 'e2e-type-locker' AND " + where)[0][0])

    def waiters(self):
        return int(self.stack.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
            "application_name <> 'e2e-type-locker'")[0][0])

    def commit(self, sql=""):
        self.p.stdin.write(sql + "\nCOMMIT;\n")
        self.p.stdin.close()
        assert self.p.wait(timeout=30) == 0


def test_quota_work_waits_for_a_type_rename_or_delete(stack, os_cli, os_run, project_ids, http):
    """Review s11 L1 and L2: a reservation and a quota set hold the volume type's row, so a
    rename or a delete of the type (which moves or removes its quota rows) waits for them
    or they for it: a snapshot asked while a rename of a full type is under way is
    refused by the renamed quota, and a quota set of a type being deleted is Cinder's 400
    with no row left for a later type of the same name."""
    demo = project_ids["demo"]
    admin_tok = stack.token("admin")
    os_run("volume", "type", "create", "e2e-lk")
    tid = os_cli("volume", "type", "show", "e2e-lk")["id"]
    vids, sids = [], []
    try:
        os_run("quota", "set", "--snapshots", "1", "--volume-type", "e2e-lk", "demo")
        v = made_volume(stack, vids, "--size", "1", "--type", "e2e-lk", "e2e-lk-v")
        s = made_snapshot(stack, sids, v["id"], "e2e-lk-s1")

        # a snapshot while the type is being renamed waits for the rename, then meets the
        # quota under its new name
        lock = TypeLocker(stack, tid)
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            f = ex.submit(http, "POST", "/volume/v3/%s/snapshots" % demo,
                          {"snapshot": {"volume_id": v["id"], "name": "e2e-lk-s2"}},
                          token=stack.token("demo"))
            try:
                wait_for(lambda: lock.waiters() >= 1, 30, 0.2, "the snapshot waits")
                assert not f.done()
            finally:
                lock.commit("UPDATE volume_types SET name = 'e2e-lk2' WHERE id = '%s';"
                            " UPDATE quotas SET resource = 'snapshots_e2e-lk2' WHERE"
                            " resource = 'snapshots_e2e-lk';" % tid)
            r = f.result(timeout=60)
        assert_error(r, 413)
        assert r.json["overLimit"]["message"].startswith("SnapshotLimitExceeded"), r.json
        assert [x["Name"] for x in os_cli("volume", "snapshot", "list", user="demo")
                if x["Name"].startswith("e2e-lk")] == ["e2e-lk-s1"]

        # a quota set of a type that a delete holds: the delete wins, the set is refused
        # and leaves no row
        lock = TypeLocker(stack, tid)
        with concurrent.futures.ThreadPoolExecutor(1) as ex:
            f = ex.submit(http, "PUT", "/volume/v3/%s/os-quota-sets/%s"
                          % (project_ids["admin"], demo),
                          {"quota_set": {"volumes_e2e-lk2": 7}}, token=admin_tok)
            try:
                wait_for(lambda: lock.waiters() >= 1, 30, 0.2, "the quota set waits")
                assert not f.done()
            finally:
                lock.commit("UPDATE volume_types SET name = 'e2e-lk3' WHERE id = '%s';" % tid)
            r = f.result(timeout=60)
        assert_error(r, 400)
        assert "Bad key(s) in quota set: volumes_e2e-lk2" in r.json["badRequest"]["message"]
        assert stack.sql("SELECT count(*) FROM quotas WHERE resource = 'volumes_e2e-lk2'")[0][0] \
            == "0"
    finally:
        delete_all(stack, sids, vids, user="demo")
        for name in ("e2e-lk3", "e2e-lk2", "e2e-lk"):
            os_run("volume", "type", "delete", name, check=False)


def test_quota_per_volume_type_concurrency(stack, os_cli, os_run, project_ids, http):
    """Eight parallel creates of one type against volumes_<type> = 2: exactly two are
    made, six are 413, under the project row lock the global quotas take."""
    demo = project_ids["demo"]
    tok = stack.token("demo")
    os_run("volume", "type", "create", "e2e-qc")
    try:
        os_run("quota", "set", "--volumes", "2", "--volume-type", "e2e-qc", "demo")
        type_id = os_cli("volume", "type", "show", "e2e-qc")["id"]

        def create(i):
            return http("POST", "/volume/v3/%s/volumes" % demo,
                        {"volume": {"size": 1, "volume_type": "e2e-qc",
                                    "name": "e2e-qc-%d" % i}}, token=tok).status
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            codes = list(ex.map(create, range(8)))
        assert codes.count(202) == 2 and codes.count(413) == 6, codes
        made = stack.sql("SELECT id FROM volumes WHERE type_id = :'p1'", type_id)
        assert len(made) == 2, made
    finally:
        rows = stack.sql("SELECT id FROM volumes WHERE name LIKE 'e2e-qc-%'")
        for row in rows:
            wait_volume(stack, row[0], "available", user="demo")
            os_run("volume", "delete", row[0], user="demo")
        for row in rows:
            wait_gone(stack, "volume", row[0], user="demo")
        os_run("volume", "type", "delete", "e2e-qc", check=False)


def qmp_devices(stack, instance_id):
    """The ids of the devices plugged into the instance's QEMU (QMP qom-list)."""
    ret = stack.qmp(instance_id, "qom-list", {"path": "/machine/peripheral"})
    return [p["name"] for p in ret.get("return", [])]


@pytest.mark.xfail(strict=False, reason="the guest-side view of a hot-plugged disk is not "
                   "yet proven: the tiny guest printed nothing within 180 s on the loaded "
                   "CI box (PCI hotplug of the guest, or its uevent script)")
def test_guest_sees_attached_disk(stack, os_cli, os_run, vm):
    v = os_cli("volume", "create", "--size", "1", "e2e-guest")
    wait_volume(stack, v["id"], "available")
    os_run("server", "add", "volume", vm["id"], v["id"])
    try:
        wait_volume(stack, v["id"], "in-use", timeout=120)
        serial = v["id"][:20]
        line = wait_for(lambda: [ln for ln in stack.console(vm["id"]).splitlines()
                                 if "nubo-guest: disk add" in ln and serial in ln],
                        120, 2, "the guest to see the new disk")
        assert "sectors=2097152" in line[0], line
    finally:
        os_run("server", "remove", "volume", vm["id"], v["id"], check=False)
        wait_volume(stack, v["id"], "available", timeout=180)
        os_run("volume", "delete", v["id"])


def test_attach_to_running_vm_and_detach(stack, os_cli, os_run, vm, project_ids, http):
    """`server add volume` hot-plugs the pool file into the running instance's QEMU (a
    SCSI disk whose serial is the volume id); in-use volumes are not deleted;
    `server remove volume` unplugs it."""
    v = os_cli("volume", "create", "--size", "1", "e2e-att")
    wait_volume(stack, v["id"], "available")
    os_run("server", "add", "volume", vm["id"], v["id"])
    v = wait_volume(stack, v["id"], "in-use", timeout=120)
    att = v["attachments"]
    att = att if isinstance(att, list) else eval(att)  # noqa: S307 (the CLI's repr)
    assert att and att[0]["server_id"] == vm["id"], att
    listed = os_cli("server", "volume", "list", vm["id"])
    assert [a["Volume ID"] for a in listed] == [v["id"]], listed
    # QEMU has the disk device with the volume as its serial
    dev = "d" + v["id"].replace("-", "")[:30]
    assert dev in qmp_devices(stack, vm["id"])
    # in use: no delete (400), no second attach to the same server (400, as Nova)
    r = http("DELETE", "/volume/v3/%s/volumes/%s" % (project_ids["admin"], v["id"]),
             token=stack.token("admin"))
    assert_error(r, 400)
    r = http("POST", "/compute/v2.1/servers/%s/os-volume_attachments" % vm["id"],
             {"volumeAttachment": {"volumeId": v["id"]}}, token=stack.token("admin"))
    assert_error(r, 400)
    os_run("server", "remove", "volume", vm["id"], v["id"])
    wait_volume(stack, v["id"], "available", timeout=180)
    assert dev not in qmp_devices(stack, vm["id"])
    assert os_cli("server", "volume", "list", vm["id"]) in ([], None)
    os_run("volume", "delete", v["id"])
    wait_gone(stack, "volume", v["id"])
    assert not vol_file(stack, v["id"]).exists()


def test_attach_bookkeeping_actions_and_cascade_delete(stack, os_cli, os_run, project_ids, http):
    """Cinder's attach-marking actions (os-reserve/unreserve, os-attach/detach,
    os-update_readonly_flag) move only the status; 404 for an unknown volume; a cascade
    delete takes the snapshots with the volume."""
    demo = project_ids["demo"]
    tok = stack.token("demo")
    v = os_cli("volume", "create", "--size", "1", "e2e-marks", user="demo")
    wait_volume(stack, v["id"], "available", user="demo")
    act = "/volume/v3/%s/volumes/%s/action" % (demo, v["id"])
    assert http("POST", act, {"os-reserve": None}, token=tok).status == 202
    assert os_cli("volume", "show", v["id"], user="demo")["status"] == "attaching"
    assert_error(http("POST", act, {"os-reserve": None}, token=tok), 400)
    assert http("POST", act, {"os-unreserve": None}, token=tok).status == 202
    assert os_cli("volume", "show", v["id"], user="demo")["status"] == "available"
    r = http("POST", "/volume/v3/%s/volumes/%s/action" % (demo, "0" * 8 + "-0000-4000-8000-" +
                                                          "0" * 12), {"os-reserve": None},
             token=tok)
    assert_error(r, 404)
    srv = "11111111-2222-4333-8444-555555555555"
    # an instance that does not exist (or is another project's) is no target: 400
    assert_error(http("POST", act, {"os-attach": {"instance_uuid": srv,
                                                  "mountpoint": "/dev/vdb"}}, token=tok), 400)
    srv = "e2e-host"
    assert http("POST", act, {"os-attach": {"host_name": srv, "mountpoint": "/dev/vdb"}},
                token=tok).status == 202
    shown = os_cli("volume", "show", v["id"], user="demo")
    assert shown["status"] == "in-use" and srv in str(shown["attachments"]), shown
    assert_error(http("DELETE", "/volume/v3/%s/volumes/%s" % (demo, v["id"]), token=tok), 400)
    assert http("POST", act, {"os-detach": {}}, token=tok).status == 202
    assert os_cli("volume", "show", v["id"], user="demo")["status"] == "available"
    assert http("POST", act, {"os-update_readonly_flag": {"readonly": True}},
                token=tok).status == 202
    r = http("GET", "/volume/v3/%s/volumes/%s" % (demo, v["id"]), token=tok)
    assert r.json["volume"]["metadata"]["readonly"] == "True"
    s = os_cli("volume", "snapshot", "create", "--volume", v["id"], "e2e-marks-snap",
               user="demo")
    wait_snapshot(stack, s["id"], "available", user="demo")
    assert_error(http("DELETE", "/volume/v3/%s/volumes/%s" % (demo, v["id"]), token=tok), 400)
    r = http("DELETE", "/volume/v3/%s/volumes/%s?cascade=true" % (demo, v["id"]), token=tok)
    assert r.status == 202, r
    wait_gone(stack, "volume", v["id"], user="demo")
    wait_gone(stack, "volume snapshot", s["id"], user="demo")
    wait_for(lambda: not vol_file(stack, v["id"]).exists() and
             not snap_file(stack, s["id"]).exists(), 60, 0.5, "files removed")


def test_busy_storage_agent_keeps_the_state_moves(stack, os_cli, project_ids, http):
    """While the storage agent still works on a snapshot, its owner cannot report it
    available (os-update_snapshot_status is 400: the file may be half written), and a
    cascade delete sends the volume's delete only after its snapshots' deletes are done
    (the volume's row going first would take theirs along, and a snapshot task not yet
    sent would then leave its file behind). The agent is held with SIGSTOP."""
    import os
    import signal
    demo = project_ids["demo"]
    tok = stack.token("demo")
    v = os_cli("volume", "create", "--size", "1", "e2e-busy", user="demo")
    wait_volume(stack, v["id"], "available", user="demo")
    pid = stack.daemon_pid("nubo-storage")
    assert pid, "nubo-storage is not running"
    base = "/volume/v3/%s/snapshots" % demo
    os.kill(pid, signal.SIGSTOP)
    try:
        r = http("POST", base, {"snapshot": {"volume_id": v["id"], "name": "e2e-busy-s"}},
                 token=tok)
        assert r.status == 202, r
        sid = r.json["snapshot"]["id"]
        r = http("POST", "%s/%s/action" % (base, sid),
                 {"os-update_snapshot_status": {"status": "available"}}, token=tok)
        assert_error(r, 400)
        assert os_cli("volume", "snapshot", "show", sid, user="demo")["status"] == "creating"
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_snapshot(stack, sid, "available", user="demo")
    os.kill(pid, signal.SIGSTOP)
    try:
        r = http("DELETE", "/volume/v3/%s/volumes/%s?cascade=true" % (demo, v["id"]),
                 token=tok)
        assert r.status == 202, r

        def snapshot_task_sent():
            rows = stack.sql("SELECT status FROM tasks WHERE resource_kind = 'snapshot'"
                             " AND resource_id = :'p1' AND action = 'delete'", sid)
            return rows and rows[0][0] == "dispatched"
        wait_for(snapshot_task_sent, 60, 0.5, "snapshot delete sent")
        time.sleep(3)  # a few scheduler passes
        rows = stack.sql("SELECT status FROM tasks WHERE resource_kind = 'volume'"
                         " AND resource_id = :'p1' AND action = 'delete'", v["id"])
        assert rows == [["pending"]], rows
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_gone(stack, "volume", v["id"], user="demo")
    wait_gone(stack, "volume snapshot", sid, user="demo")
    wait_for(lambda: not vol_file(stack, v["id"]).exists() and
             not snap_file(stack, sid).exists(), 60, 0.5, "files removed")


def test_lists_page_past_the_cap_and_refuse_an_unknown_marker(stack, project_ids, http):
    """Volume and snapshot lists page in SQL: a list longer than Cinder's osapi_max_limit
    (1000) is cut there with a next link, and the links (also under a sort with NULL or
    tied keys) walk every row once; an unknown marker is refused (volumes 400 as Cinder,
    snapshots 404 as Tempest expects) instead of restarting the list. The 1001 rows of a
    project of their own are written straight to the database (no storage behind them)."""
    import uuid
    admin = project_ids["admin"]
    tok = stack.token()
    proj = "e2e-paging-" + uuid.uuid4().hex[:8]
    stack.sql("INSERT INTO volumes (id, project_id, user_id, name, size_gb, status, type_id)"
              " SELECT :'p1' || '-' || lpad(g::text, 5, '0'), :'p1', 'e2e',"
              " CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || (g % 7) END, 1, 'available',"
              " (SELECT id FROM volume_types ORDER BY id LIMIT 1)"
              " FROM generate_series(1, 1001) g", proj)
    vid = proj + "-00001"
    stack.sql("INSERT INTO volume_snapshots (id, project_id, user_id, volume_id, name,"
              " size_gb, status) SELECT :'p1' || '-s' || lpad(g::text, 5, '0'), :'p1', 'e2e',"
              " :'p2', CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || (g % 7) END, 1, 'available'"
              " FROM generate_series(1, 1001) g", proj, vid)
    base = "/volume/v3/%s" % admin

    def walk(path, key):
        ids, pages = [], 0
        while path:
            r = http("GET", path, token=tok)
            assert r.status == 200, r
            ids += [x["id"] for x in r.json[key]]
            pages += 1
            links = r.json.get(key + "_links") or []
            nxt = [x["href"] for x in links if x["rel"] == "next"]
            path = nxt[0][nxt[0].index("/volume/v3/"):] if nxt else None
            assert pages <= 10, "the links do not end"
        return ids, pages

    try:
        vq = "%s/volumes%%s?all_tenants=1&project_id=%s" % (base, proj)
        sq = "%s/snapshots%%s?all_tenants=1&volume_id=%s" % (base, vid)
        for q, key in ((vq, "volumes"), (sq, "snapshots")):
            ids, pages = walk(q % "", key)
            assert len(ids) == 1001 and len(set(ids)) == 1001 and pages == 2, (len(ids), pages)
            for sort in ("name:asc", "updated_at:desc", "id:asc"):
                ids, pages = walk(q % "/detail" + "&limit=300&sort=" + sort, key)
                assert len(ids) == 1001 and len(set(ids)) == 1001 and pages == 4, \
                    (sort, len(ids), pages)
                if sort == "id:asc":
                    assert ids == sorted(ids)
        gone = str(uuid.uuid4())
        assert_error(http("GET", "%s/volumes?marker=%s" % (base, gone), token=tok), 400)
        assert_error(http("GET", "%s/snapshots?marker=%s" % (base, gone), token=tok), 404)
    finally:
        stack.sql("DELETE FROM volume_snapshots WHERE project_id = :'p1'", proj)
        stack.sql("DELETE FROM volumes WHERE project_id = :'p1'", proj)
