"""[storage] volume_format = raw (issue 9) end to end with the real `openstack` CLI: with
the file pool switched to raw (nubo-storage restarted; put back at the end), empty
volumes, volumes from an image, snapshots, clones, volumes from snapshots and restored
backups are sparse raw files <id>.raw (`qemu-img info`), with the bytes of their source
(`qemu-img compare`); extend grows them; a qcow2 volume made before the switch keeps its
file and format and is still extended, snapshotted (into raw) and backed up."""
import json
import subprocess

from nubo_e2e import wait_for
from test_volume import pool, wait_gone, wait_snapshot, wait_volume, with_storage_key
from test_volume_backup import wait_backup

GIB = 1 << 30
MIB = 1 << 20
USER = "demo"


def pool_file(stack, kind, rid):
    """The one file of rid in volumes/ or snapshots/, whatever its format, and that
    format (from the name)."""
    found = [p for p in (pool(stack) / kind).iterdir() if p.name.split(".")[0] == rid]
    assert len(found) == 1, found
    return found[0], found[0].suffix[1:]


def info(path):
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", str(path)], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return json.loads(out)


def assert_raw(stack, kind, rid, size_gb):
    path, fmt = pool_file(stack, kind, rid)
    assert fmt == "raw" and path.name == rid + ".raw", path
    i = info(path)
    assert i["format"] == "raw" and i["virtual-size"] == size_gb * GIB, i
    assert path.stat().st_blocks * 512 < path.stat().st_size, "not sparse"
    return path


def write(path, fmt, pattern, offset, length):
    subprocess.run(["qemu-io", "-f", fmt, "-c",
                    "write -P 0x%02x %d %d" % (pattern, offset, length), str(path)],
                   check=True, capture_output=True, timeout=60)


def compare(a, afmt, b, bfmt, same=True):
    p = subprocess.run(["qemu-img", "compare", "-U", "-f", afmt, "-F", bfmt, str(a), str(b)],
                       capture_output=True, text=True, timeout=300)
    assert (p.returncode == 0) == same, (a, b, p.stdout, p.stderr)


def test_raw_volume_files(stack, os_cli, os_run, ids, http, project_ids):
    before = stack.conf.read_text()
    vols, snaps, bks = [], [], []

    def volume(*args, size=1, name="e2e-raw"):
        v = os_cli("volume", "create", "--size", str(size), *args, name, user=USER)
        vols.append(v["id"])
        return wait_volume(stack, v["id"], "available", user=USER, timeout=300)["id"]

    def snapshot(vid, name):
        s = os_cli("volume", "snapshot", "create", "--volume", vid, name, user=USER)
        snaps.append(s["id"])
        return wait_snapshot(stack, s["id"], "available", user=USER, timeout=300)["id"]

    try:
        old = volume(name="e2e-raw-old")          # qcow2: made before the switch
        old_path, fmt = pool_file(stack, "volumes", old)
        assert fmt == "qcow2" and info(old_path)["format"] == "qcow2"
        write(old_path, "qcow2", 0x3c, 0, MIB)

        stack.conf.write_text(with_storage_key(before, "volume_format", "raw"))
        stack.nubo_ctl("restart", "nubo-storage", timeout=300)

        empty = volume(name="e2e-raw-empty")
        e = assert_raw(stack, "volumes", empty, 1)
        write(e, "raw", 0xa5, 4 * MIB, MIB)

        img = volume("--image", ids["image"], name="e2e-raw-img")
        img_path = assert_raw(stack, "volumes", img, 1)
        src = stack.root / "var" / "lib" / "nubo" / "images" / ids["image"]
        src_fmt = os_cli("image", "show", ids["image"])["disk_format"]
        compare(src, src_fmt, img_path, "raw")

        # snapshot, clone, volume from the snapshot: raw, the same bytes
        s = snapshot(empty, "e2e-raw-snap")
        s_path = assert_raw(stack, "snapshots", s, 1)
        compare(e, "raw", s_path, "raw")
        clone = volume("--source", empty, name="e2e-raw-clone")
        compare(e, "raw", assert_raw(stack, "volumes", clone, 1), "raw")
        from_snap = volume("--snapshot", s, size=2, name="e2e-raw-from-snap")
        compare(e, "raw", assert_raw(stack, "volumes", from_snap, 2), "raw")
        write(e, "raw", 0x11, 0, 4096)              # copies are independent
        compare(e, "raw", s_path, "raw", same=False)

        os_run("volume", "set", "--size", "2", empty, user=USER)
        wait_for(lambda: os_cli("volume", "show", empty, user=USER)["size"] == 2 or None,
                 300, 0.5, "extend of the raw volume")
        wait_volume(stack, empty, "available", user=USER)
        assert_raw(stack, "volumes", empty, 2)

        # the qcow2 volume from before: still found, extended in qcow2, snapshotted into raw
        os_run("volume", "set", "--size", "2", old, user=USER)
        wait_for(lambda: os_cli("volume", "show", old, user=USER)["size"] == 2 or None,
                 300, 0.5, "extend of the qcow2 volume")
        wait_volume(stack, old, "available", user=USER)
        assert pool_file(stack, "volumes", old) == (old_path, "qcow2")
        assert info(old_path)["format"] == "qcow2" and info(old_path)["virtual-size"] == 2 * GIB
        s_old = snapshot(old, "e2e-raw-snap-old")
        compare(old_path, "qcow2", assert_raw(stack, "snapshots", s_old, 2), "raw")

        # backups of a raw and of a qcow2 volume, each restored to a new raw volume
        demo, tok = project_ids["demo"], stack.token(USER)
        for vid, path, fmt in ((empty, e, "raw"), (old, old_path, "qcow2")):
            b = os_cli("volume", "backup", "create", "--name", "e2e-raw-bk", vid, user=USER)
            bks.append(b["id"])
            wait_backup(stack, b["id"], "available", timeout=300)
            r = http("POST", "/volume/v3/%s/backups/%s/restore" % (demo, b["id"]),
                     {"restore": {"name": "e2e-raw-restored"}}, token=tok)
            assert r.status == 202, r
            vols.append(r.json["restore"]["volume_id"])
            wait_volume(stack, vols[-1], "available", user=USER, timeout=300)
            wait_backup(stack, b["id"], "available")
            compare(path, fmt, assert_raw(stack, "volumes", vols[-1], 2), "raw")

        # deletes find the raw files and the qcow2 one
        for sid in snaps:
            os_run("volume", "snapshot", "delete", sid, user=USER)
        for sid in snaps:
            wait_gone(stack, "volume snapshot", sid, user=USER)
        assert not [p for p in (pool(stack) / "snapshots").iterdir()
                    if p.name.split(".")[0] in snaps]
        snaps = []
    finally:
        stack.conf.write_text(before)
        stack.nubo_ctl("restart", "nubo-storage", timeout=300)
        for b in bks:
            os_run("volume", "backup", "delete", "--force", b, check=False)
        for sid in snaps:
            os_run("volume", "snapshot", "delete", sid, user=USER, check=False)
        for sid in snaps:
            wait_gone(stack, "volume snapshot", sid, user=USER)
        for vid in vols:
            os_run("volume", "delete", vid, user=USER, check=False)
        for vid in vols:
            wait_gone(stack, "volume", vid, user=USER)
    # the raw files went with their volumes
    assert not [p for p in (pool(stack) / "volumes").iterdir() if p.name.split(".")[0] in vols]


def test_raw_volume_attached_and_copied_in_use(stack, os_cli, os_run):
    """A raw volume plugged into a running server of this machine (nubo-compute opens the
    pool file itself: QEMU's raw driver on the file protocol), then snapshotted in use
    (--force: the compute agent copies it with the guest paused) into a raw snapshot with
    its bytes, then unplugged; a server booted from a raw volume made from the image
    (the privileged helper opens <id>.raw; QEMU's raw driver on the file protocol)."""
    from test_volume import qmp_devices
    before = stack.conf.read_text()
    made, snaps, server, boot_server = [], [], None, None
    try:
        stack.conf.write_text(with_storage_key(before, "volume_format", "raw"))
        stack.nubo_ctl("restart", "nubo-storage", timeout=300)
        # nubo-compute reads [storage] volume_format for the copies it makes
        stack.nubo_ctl("restart", "nubo-compute", timeout=300)
        v = os_cli("volume", "create", "--size", "1", "e2e-raw-att")
        made.append(v["id"])
        wait_volume(stack, v["id"], "available", timeout=300)
        path = assert_raw(stack, "volumes", v["id"], 1)
        write(path, "raw", 0x77, 2 * MIB, MIB)
        server = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                        "--wait", "e2e-raw-att-srv", timeout=600)
        assert server["status"] == "ACTIVE", server
        os_run("server", "add", "volume", server["id"], v["id"])
        wait_volume(stack, v["id"], "in-use", timeout=180)
        dev = "d" + v["id"].replace("-", "")[:30]
        assert dev in qmp_devices(stack, server["id"])
        s = os_cli("volume", "snapshot", "create", "--force", "--volume", v["id"],
                   "e2e-raw-att-snap")
        snaps.append(s["id"])
        wait_snapshot(stack, s["id"], "available", timeout=300)
        compare(path, "raw", assert_raw(stack, "snapshots", s["id"], 1), "raw")
        os_run("server", "remove", "volume", server["id"], v["id"])
        wait_volume(stack, v["id"], "available", timeout=120)
        assert dev not in qmp_devices(stack, server["id"])
        # boot from a raw volume made from the image: QEMU's raw driver on a file
        boot = os_cli("volume", "create", "--image", "nubo-tiny", "--size", "1",
                      "e2e-raw-boot")
        made.append(boot["id"])
        wait_volume(stack, boot["id"], "available", timeout=300)
        assert_raw(stack, "volumes", boot["id"], 1)
        bs = os_cli("server", "create", "--flavor", "m1.tiny", "--volume", boot["id"],
                    "--wait", "e2e-raw-boot-srv", timeout=600)
        boot_server = bs["id"]
        assert bs["status"] == "ACTIVE", bs
        nodes = {n["node-name"]: n["drv"] for n in
                 stack.qmp(bs["id"], "query-named-block-nodes", {"flat": True})["return"]}
        assert nodes.get("disk0") == "raw" and nodes.get("disk0-file") == "file", nodes
    finally:
        stack.conf.write_text(before)
        stack.nubo_ctl("restart", "nubo-storage", timeout=300)
        stack.nubo_ctl("restart", "nubo-compute", timeout=300)
        for sid in (server and server["id"], boot_server):
            if sid:
                os_run("server", "delete", "--wait", sid, check=False, timeout=300)
        for sid in snaps:
            os_run("volume", "snapshot", "delete", sid, check=False)
        for sid in snaps:
            wait_gone(stack, "volume snapshot", sid)
        for vid in made:
            os_run("volume", "delete", vid, check=False)
        for vid in made:
            wait_gone(stack, "volume", vid)
