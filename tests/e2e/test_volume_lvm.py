"""The storage agent's LVM backend ([storage] backend = lvm) with the real openstack CLI.
Runs only under tests/e2e/lvm.sh, which makes a volume group on a loop device and
brings up a stack (NUBO_E2E_LVM_VG names the group); elsewhere every test skips.

Every LV is a device-mapper device. On a kernel without device-mapper (`dmsetup
version` fails: no dm_mod, as on some VM kernels and this CI box) vgs still reads the
group but no LV can be made, and nubo-storage with backend = lvm refuses to start,
naming that reason: lvm.sh then brings the stack up on the file pool, and only what
needs an LV skips, by that same detection (needs_dm). What runs either way: a missing
group is refused at start; on a kernel without device-mapper, the refusal for it; with
device-mapper, the agent's start line and the data path (create, extend, snapshot,
clone, delete, attach)."""
import os
import re
import shutil
import subprocess
import uuid

import pytest

from nubo_e2e import wait_for
from test_volume import qmp_devices, wait_gone, wait_snapshot, wait_volume
from test_volume_multihost import FIND

VG = os.environ.get("NUBO_E2E_LVM_VG", "")
LVMCONF = "activation{udev_sync=0 udev_rules=0}"
BOOT_S = 600
MARK_SECTOR = 2048

pytestmark = pytest.mark.skipif(not VG, reason="needs tests/e2e/lvm.sh (a volume group)")


def dmsetup_version():
    """(answers, output) of `dmsetup version`: the kernel's device-mapper answers only
    when it exits 0 with its "Driver version:" line (the agent's own check, lvm_dm)."""
    try:
        p = subprocess.run(["dmsetup", "version"], capture_output=True, text=True,
                           timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, str(e)
    out = p.stdout + p.stderr
    return p.returncode == 0 and "Driver version:" in out, out


HAVE_DM, DM_OUT = dmsetup_version()

needs_dm = pytest.mark.skipif(not HAVE_DM, reason="no device-mapper in this kernel "
                              "(`dmsetup version` fails): no LV can be made or activated")


def storage_lines(text):
    """(index, key, value) of each key = value line of text's [storage] section."""
    section = None
    for i, line in enumerate(text.splitlines()):
        m = re.match(r"\s*\[([^\]]+)\]", line)
        if m:
            section = m.group(1)
        elif section == "storage" and "=" in line and not line.lstrip().startswith("#"):
            key, _, value = (x.strip() for x in line.partition("="))
            yield i, key, value


def lvm_conf(stack, tmp_path, vg):
    """A copy of the stack's nubo.conf whose [storage] is backend = lvm on group vg,
    with a pool directory of its own beside the stack's (where the agent's user can
    reach it; the running agent keeps the stack's). Returns (conf, pool)."""
    text = stack.conf.read_text()
    lines = text.splitlines()
    pool = next(v for _, k, v in storage_lines(text) if k == "state_dir")
    pool += "-lvm-" + uuid.uuid4().hex[:8]
    want = {"backend": "lvm", "volume_group": vg, "state_dir": pool}
    for i, key, _ in storage_lines(text):
        if key in want:
            lines[i] = "%s = %s" % (key, want.pop(key))
    assert not want, "the stack's [storage] lacks %s" % want
    conf = tmp_path / "nubo.conf"
    conf.write_text("\n".join(lines) + "\n")
    os.chmod(tmp_path, 0o755)
    return conf, pool


def storage_start_refused(stack, tmp_path, vg):
    """Runs nubo-storage with backend = lvm on group vg, which must exit at start;
    returns what it said."""
    conf, pool = lvm_conf(stack, tmp_path, vg)
    exe = stack.daemon_exe("nubo-storage")
    try:
        p = subprocess.run([exe, "-c", str(conf)], capture_output=True, text=True,
                           timeout=120)
    finally:
        shutil.rmtree(pool, ignore_errors=True)
    assert p.returncode != 0, (p.stdout, p.stderr)
    return p.stdout + p.stderr


def lvs():
    p = subprocess.run(["lvs", "--config", LVMCONF, "--noheadings", "-o", "lv_name", VG],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1"))
    assert p.returncode == 0, p.stderr
    return set(p.stdout.split())


def dev(kind, ident):
    return "/dev/%s/%s-%s" % (VG, kind, ident)


def dev_size(path):
    return int(subprocess.check_output(["blockdev", "--getsize64", path], text=True))


def read_mark(path, tag):
    with open(path, "rb") as f:
        f.seek(MARK_SECTOR * 512)
        return f.read(len(tag))


def write_mark(path, tag):
    with open(path, "r+b") as f:
        f.seek(MARK_SECTOR * 512)
        f.write(tag)
        f.flush()
        os.fsync(f.fileno())


@needs_dm
def test_agent_reports_the_group(stack):
    """The agent started on the group: its start line names it with the group's size
    (vgs through the privileged helper: the loop device is 4 GiB)."""
    def started():
        log = (stack.logdir / "nubo-storage.log").read_text()
        return re.findall(r"LVM volume group %s: \d+ volumes, \d+ snapshots, (\d+) of "
                          r"(\d+) GiB free" % re.escape(VG), log)
    found = wait_for(started, 120, 1, "nubo-storage's start line")
    free, total = map(int, found[-1])
    assert 2 <= total <= 4 and free <= total, found


def test_missing_group_refuses_to_start(stack, tmp_path):
    """A group that is not there: nubo-storage exits at start, naming it (vgs fails,
    whatever the kernel)."""
    missing = "nubo-missing-" + uuid.uuid4().hex[:8]
    out = storage_start_refused(stack, tmp_path, missing)
    assert "volume group %s (storage.backend = lvm)" % missing in out, out
    assert "vgs failed" in out, out


@pytest.mark.skipif(HAVE_DM, reason="this kernel has device-mapper: the agent starts")
def test_no_device_mapper_refuses_to_start(stack, tmp_path):
    """The group is there (vgs answers) but the kernel has no device-mapper: nubo-storage
    exits at start with that reason and dmsetup's own words, instead of failing every
    volume create later."""
    out = storage_start_refused(stack, tmp_path, VG)
    assert "volume group %s (storage.backend = lvm): no device-mapper in the kernel" % VG \
        in out, out
    reason = next((ln.strip() for ln in DM_OUT.splitlines()
                   if ln.strip() and not ln.strip().startswith("Library version:")), None)
    assert reason and reason in out, (reason, out)


@needs_dm
def test_volume_lifecycle(stack, os_cli, os_run):
    """create, extend, snapshot, volume from the snapshot, clone, delete (one of them
    deactivated first): each an LV of the group, copies byte for byte, nothing left
    behind."""
    v = os_cli("volume", "create", "--size", "1", "e2e-lvm-a")
    wait_volume(stack, v["id"], "available")
    assert "vol-" + v["id"] in lvs()
    assert dev_size(dev("vol", v["id"])) == 1 << 30
    # a new volume reads as zeroes (thick LVs reuse extents)
    assert read_mark(dev("vol", v["id"]), b"\0" * 16) == b"\0" * 16
    os_run("volume", "set", "--size", "2", v["id"])
    wait_for(lambda: stack.os_cli("volume", "show", v["id"])["size"] == 2, 120, 0.5,
             "volume extended")
    wait_volume(stack, v["id"], "available")
    assert dev_size(dev("vol", v["id"])) == 2 << 30
    tag = b"LVMMARK-" + uuid.uuid4().hex[:8].encode()
    write_mark(dev("vol", v["id"]), tag)

    s = os_cli("volume", "snapshot", "create", "--volume", v["id"], "e2e-lvm-s")
    wait_snapshot(stack, s["id"], "available")
    assert "snap-" + s["id"] in lvs()
    assert read_mark(dev("snap", s["id"]), tag) == tag

    fs = os_cli("volume", "create", "--snapshot", s["id"], "--size", "3", "e2e-lvm-fs")
    wait_volume(stack, fs["id"], "available")
    assert read_mark(dev("vol", fs["id"]), tag) == tag
    assert dev_size(dev("vol", fs["id"])) == 3 << 30

    c = os_cli("volume", "create", "--source", v["id"], "--size", "2", "e2e-lvm-c")
    wait_volume(stack, c["id"], "available")
    assert read_mark(dev("vol", c["id"]), tag) == tag

    # an inactive LV (no /dev node: a reboot without udev, or an admin's lvchange -an)
    # is still there: its delete must remove it, not take the missing node for a
    # missing LV (review s10 M2)
    subprocess.run(["lvchange", "--config", LVMCONF, "-q", "-an", "%s/vol-%s" % (VG, c["id"])],
                   check=True, timeout=120, env=dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1"))
    assert not os.path.exists(dev("vol", c["id"]))
    assert "vol-" + c["id"] in lvs()
    for vol in (fs, c):
        os_run("volume", "delete", vol["id"])
        wait_gone(stack, "volume", vol["id"])
    os_run("volume", "snapshot", "delete", s["id"])
    wait_gone(stack, "volume snapshot", s["id"])
    os_run("volume", "delete", v["id"])
    wait_gone(stack, "volume", v["id"])
    left = {n for n in lvs() if any(i in n for i in (v["id"], s["id"], fs["id"], c["id"]))}
    assert not left, left


# Runs in the guest (test_volume_multihost's script): prints what the volume holds at
# the mark.
READ_MARK = ('echo "lvmmark-read $(dd if=$dev bs=512 skip=%d count=1 2>/dev/null | '
             "head -c 40 | tr -dc 'A-Za-z0-9-')\"")


@needs_dm
def test_attach_guest_sees_the_lv(stack, os_cli, os_run, tmp_path):
    """An LV attached to a running instance: QEMU gets the block device as a raw node
    by descriptor, and the guest reads the bytes the host wrote into the LV."""
    v = os_cli("volume", "create", "--size", "1", "e2e-lvm-att")
    wait_volume(stack, v["id"], "available")
    tag = b"LVMMARK-" + uuid.uuid4().hex[:8].encode()
    write_mark(dev("vol", v["id"]), tag)
    ud = tmp_path / "find.sh"
    ud.write_text(FIND % {"serial": v["id"][:20], "marker": "lvmmark",
                          "action": READ_MARK % MARK_SECTOR})
    s = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
               "--user-data", str(ud), "--wait", "e2e-lvm-vm", timeout=BOOT_S)
    try:
        assert s["status"] == "ACTIVE", s
        os_run("server", "add", "volume", s["id"], v["id"])
        wait_volume(stack, v["id"], "in-use", timeout=120)
        assert "d" + v["id"].replace("-", "")[:30] in qmp_devices(stack, s["id"])
        nodes = stack.qmp(s["id"], "query-named-block-nodes")["return"]
        drivers = {n["node-name"]: n["drv"] for n in nodes}
        assert "raw" in drivers.values(), drivers

        def seen():
            for line in stack.console(s["id"]).splitlines():
                if "lvmmark-" in line:
                    return line
            return None
        line = wait_for(seen, BOOT_S, 3, "the guest's read of the volume")
        assert tag.decode() in line, line
        os_run("server", "remove", "volume", s["id"], v["id"])
        wait_volume(stack, v["id"], "available", timeout=120)
    finally:
        os_run("server", "delete", "--wait", s["id"], check=False, timeout=300)
    os_run("volume", "delete", v["id"])
    wait_gone(stack, "volume", v["id"])
    assert "vol-" + v["id"] not in lvs()
