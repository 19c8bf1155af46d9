"""A forced snapshot of a volume Compute has plugged into a running server (Cinder's
`snapshot create --force`): made on the server's compute host with the guest paused for
the copy, so it holds the volume's bytes; the guest runs on with the disk plugged, and
the storage agent makes volumes from it and deletes it like its own. Without --force it
is Cinder's 400; while the server has a task under way it is a 400 with nothing made.
A clone of a plugged volume (`volume create --source`, Cinder allows it in-use) is made
the same way, grown to its size: it holds what the guest wrote on the volume. A forced
backup of a plugged volume (`volume backup create --force`) reads a point-in-time copy
the compute host makes the same way, never the pool file the guest writes: restored, it
holds the pattern the guest wrote, and no copy, snapshot or quota use is left of it (the
copy waits in the pool while the storage agent is down or restarts, and goes once its
task is over); a copy left over by a backup whose task is over is removed from the
heartbeat."""
import hashlib
import subprocess
import uuid

from nubo_e2e import assert_error, kill9, wait_for
from test_volume import (pool, qmp_devices, snap_file, virtual_size, vol_file, wait_gone,
                         wait_snapshot, wait_volume)
from test_volume_attach_authz import dev_of
from test_volume_backup import wait_backup


def qmp_status(stack, instance_id):
    """The run state QEMU reports for the instance (QMP query-status)."""
    return stack.qmp(instance_id, "query-status")["return"]["status"]


def snapshot_gone(stack, sid):
    wait_for(lambda: not snap_file(stack, sid).exists() and not stack.sql(
        "SELECT 1 FROM volume_snapshots WHERE id = :'p1'", sid), 120, 0.5, "snapshot gone")


def same_disk(a, b):
    """qemu-img compare of two qcow2 files (-U: a running QEMU holds the volume's)."""
    p = subprocess.run(["qemu-img", "compare", "-U", "-q", "-f", "qcow2", "-F", "qcow2",
                        str(a), str(b)], capture_output=True, text=True, timeout=300)
    return p.returncode == 0


def test_forced_snapshot_of_a_plugged_volume(stack, os_cli, os_run, vm, project_ids, http):
    admin = project_ids["admin"]
    snaps = "/volume/v3/%s/snapshots" % admin
    v = os_cli("volume", "create", "--image", "nubo-tiny", "--size", "1", "e2e-snap-plugged")
    wait_volume(stack, v["id"], "available", timeout=300)
    os_run("server", "add", "volume", vm["id"], v["id"])
    made = []
    try:
        wait_volume(stack, v["id"], "in-use", timeout=120)
        assert dev_of(v["id"]) in qmp_devices(stack, vm["id"])
        # without force: Cinder's 400
        p = os_run("volume", "snapshot", "create", "--volume", v["id"], "e2e-snap-noforce",
                   check=False)
        assert p.returncode != 0 and "HTTP 400" in p.stderr, p.stderr
        # the server busy with a task (a move may be under way): 400, nothing made
        before = http("GET", snaps, token=stack.token("admin")).json["snapshots"]
        stack.sql("UPDATE instances SET task_state = 'migrating' WHERE id = :'p1'", vm["id"])
        try:
            r = http("POST", snaps, {"snapshot": {"volume_id": v["id"], "force": True}},
                     token=stack.token("admin"))
        finally:
            stack.sql("UPDATE instances SET task_state = NULL WHERE id = :'p1'", vm["id"])
        assert_error(r, 400)
        assert http("GET", snaps, token=stack.token("admin")).json["snapshots"] == before
        # forced, twice: each a copy of the plugged volume, the guest running on
        for name in ("e2e-snap-plugged-1", "e2e-snap-plugged-2"):
            s = os_cli("volume", "snapshot", "create", "--force", "--volume", v["id"], name)
            made.append(s["id"])
            wait_snapshot(stack, s["id"], "available", timeout=300)
            assert snap_file(stack, s["id"]).exists()
            assert same_disk(vol_file(stack, v["id"]), snap_file(stack, s["id"]))
        assert qmp_status(stack, vm["id"]) == "running"
        assert os_cli("server", "show", vm["id"])["status"] == "ACTIVE"
        assert dev_of(v["id"]) in qmp_devices(stack, vm["id"])
        assert os_cli("volume", "show", v["id"])["status"] == "in-use"
        # the storage agent makes a volume from it
        c = os_cli("volume", "create", "--snapshot", made[0], "--size", "1", "e2e-snap-clone")
        try:
            wait_volume(stack, c["id"], "available", timeout=300)
            assert same_disk(snap_file(stack, made[0]), vol_file(stack, c["id"]))
        finally:
            os_run("volume", "delete", c["id"], check=False)
            wait_gone(stack, "volume", c["id"])
        # and deletes it, in either order, while the volume stays plugged
        for sid in reversed(made):
            os_run("volume", "snapshot", "delete", sid)
            snapshot_gone(stack, sid)
        made = []
    finally:
        for sid in made:
            os_run("volume", "snapshot", "delete", sid, check=False)
            snapshot_gone(stack, sid)
        os_run("server", "remove", "volume", vm["id"], v["id"], check=False)
        wait_volume(stack, v["id"], "available", timeout=120)
        os_run("volume", "delete", v["id"])
        wait_gone(stack, "volume", v["id"])


def guest_writer(volume_id, tag):
    """User data: in the background, wait for the volume (the guest's first SCSI disk:
    Compute plugs volumes as scsi-hd, and this server gets no other), write a marker at
    1 MiB, sync, say so, then keep writing 1 MiB blocks over the next 64 MiB for a
    while (a clone may be taken while they run) and say when done."""
    return """#!/bin/sh
(
# the volume %s
i=0
while [ $i -lt 900 ]; do
  for d in /sys/block/sd*; do
    [ -e "$d" ] || continue
    n=${d##*/}
    printf 'CLONEMARK-%s' | dd of=/dev/$n bs=512 seek=2048 conv=notrunc 2>/dev/null
    sync
    echo "clonemark-written $n"
    k=0
    while [ $k -lt 600 ]; do
      dd if=/dev/urandom of=/dev/$n bs=65536 count=16 seek=$((32 + k %% 64 * 16)) \\
        conv=notrunc 2>/dev/null
      k=$((k + 1))
    done
    sync
    echo "clonemark-done $n"
    exit 0
  done
  sleep 1
  i=$((i + 1))
done
echo "clonemark-nodisk"
) &
""" % (volume_id, tag)


def marker_at_1mib(path, tmp_path):
    """The sector at 1 MiB of a qcow2 (converted to a sparse raw file; -U: the file may
    be in use)."""
    out = tmp_path / ("mark-%s.raw" % uuid.uuid4().hex[:8])
    subprocess.run(["qemu-img", "convert", "-U", "-f", "qcow2", "-O", "raw", str(path),
                    str(out)], check=True, timeout=300)
    with open(out, "rb") as f:
        f.seek(1 << 20)
        data = f.read(512)
    out.unlink()
    return data


def test_clone_of_a_plugged_volume(stack, os_cli, os_run, project_ids, http, tmp_path):
    from test_server_image import console_line
    tag = uuid.uuid4().hex[:12]
    v = os_cli("volume", "create", "--size", "1", "e2e-clone-plugged")
    wait_volume(stack, v["id"], "available", timeout=120)
    ud = tmp_path / "w.sh"
    ud.write_text(guest_writer(v["id"], tag))
    s = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
               "--user-data", ud, "--wait", "e2e-clone-writer", timeout=600)
    clones = []
    vols = "/volume/v3/%s/volumes" % project_ids["admin"]
    try:
        assert s["status"] == "ACTIVE", s
        os_run("server", "add", "volume", s["id"], v["id"])
        wait_volume(stack, v["id"], "in-use", timeout=120)
        console_line(stack, s["id"], "clonemark-written")
        # the server busy with a task (a move may be under way): 400, nothing made
        before = len(http("GET", vols, token=stack.token("admin")).json["volumes"])
        stack.sql("UPDATE instances SET task_state = 'migrating' WHERE id = :'p1'", s["id"])
        try:
            r = http("POST", vols, {"volume": {"source_volid": v["id"], "size": 1}},
                     token=stack.token("admin"))
        finally:
            stack.sql("UPDATE instances SET task_state = NULL WHERE id = :'p1'", s["id"])
        assert_error(r, 400)
        assert len(http("GET", vols, token=stack.token("admin")).json["volumes"]) == before
        # cloned in-use while the guest writes on: grown to 2 GiB, whole, with the marker
        c = os_cli("volume", "create", "--source", v["id"], "--size", "2",
                   "e2e-clone-plugged-1")
        clones.append(c["id"])
        wait_volume(stack, c["id"], "available", timeout=300)
        f = vol_file(stack, c["id"])
        subprocess.run(["qemu-img", "check", "-q", "-f", "qcow2", str(f)], check=True,
                       timeout=120)
        assert virtual_size(f) == 2 << 30
        assert marker_at_1mib(f, tmp_path).startswith(("CLONEMARK-" + tag).encode())
        assert qmp_status(stack, s["id"]) == "running"
        assert os_cli("volume", "show", v["id"])["status"] == "in-use"
        assert dev_of(v["id"]) in qmp_devices(stack, s["id"])
        # once the guest is done writing, a clone holds exactly the volume's bytes
        console_line(stack, s["id"], "clonemark-done")
        c2 = os_cli("volume", "create", "--source", v["id"], "e2e-clone-plugged-2")
        clones.append(c2["id"])
        wait_volume(stack, c2["id"], "available", timeout=300)
        assert same_disk(vol_file(stack, v["id"]), vol_file(stack, c2["id"]))
        # the clone is the storage agent's like any volume: attached to another
        # server and deleted
        os_run("server", "add", "volume", s["id"], c2["id"])
        wait_volume(stack, c2["id"], "in-use", timeout=120)
        os_run("server", "remove", "volume", s["id"], c2["id"])
        wait_volume(stack, c2["id"], "available", timeout=120)
    finally:
        os_run("server", "delete", "--wait", s["id"], check=False, timeout=300)
        for vid in clones + [v["id"]]:
            wait_volume(stack, vid, "available", timeout=120)
            os_run("volume", "delete", vid, check=False)
            wait_gone(stack, "volume", vid)
            assert not vol_file(stack, vid).exists()


PATTERN_AT = 8 << 20    # where the guest writes its pattern on the volume
PATTERN_LEN = 4 << 20


def pattern_bytes(tag):
    """What busybox `yes BKP-<tag> | head -c PATTERN_LEN` writes."""
    line = ("BKP-%s\n" % tag).encode()
    return (line * (PATTERN_LEN // len(line) + 1))[:PATTERN_LEN]


def backup_writer(volume_id, tag):
    """User data: wait for the volume (the guest's first SCSI disk), write the pattern at
    8 MiB and sync, say so, then keep writing 64 KiB blocks of random bytes over the 64
    MiB from 16 MiB (each of the first 1024 a new qcow2 cluster: allocation, so metadata
    updates, go on while a backup is taken) for a while, and say when done."""
    return """#!/bin/sh
(
# the volume %s
i=0
while [ $i -lt 900 ]; do
  for d in /sys/block/sd*; do
    [ -e "$d" ] || continue
    n=${d##*/}
    yes 'BKP-%s' | head -c %d | dd of=/dev/$n bs=65536 seek=%d conv=notrunc,fsync \
      2>/dev/null
    sync
    echo "bkpattern-written $n"
    k=0
    while [ $k -lt 5000 ]; do
      dd if=/dev/urandom of=/dev/$n bs=65536 count=1 seek=$((256 + k * 37 %% 1024)) \
        conv=notrunc 2>/dev/null
      k=$((k + 1))
    done
    sync
    echo "bkpattern-done $n"
    exit 0
  done
  sleep 1
  i=$((i + 1))
done
echo "bkpattern-nodisk"
) &
""" % (volume_id, tag, PATTERN_LEN, PATTERN_AT // 65536)


def region_sha256(path, tmp_path, off, length):
    """sha256 of [off, off + length) of a qcow2 file's guest-visible bytes."""
    out = tmp_path / ("region-%s.raw" % uuid.uuid4().hex[:8])
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", str(path), str(out)],
                   check=True, timeout=300)
    with open(out, "rb") as f:
        f.seek(off)
        data = f.read(length)
    out.unlink()
    return hashlib.sha256(data).hexdigest()


def copies_left(stack, backup_id=None):
    """The point-in-time copies in the pool (of backup_id only when given), and what a
    copy being made or a backup's read leaves in tmp/."""
    names = [p.name for p in (pool(stack) / "copies").iterdir()]
    names += [p.name for p in (pool(stack) / "tmp").iterdir()
              if backup_id and backup_id in p.name]
    return [n for n in names if backup_id is None or backup_id in n]


def test_forced_backup_of_a_plugged_volume(stack, os_cli, os_run, project_ids, http, tmp_path):
    from test_server_image import console_line
    tag = uuid.uuid4().hex[:12]
    admin = project_ids["admin"]
    v = os_cli("volume", "create", "--size", "1", "e2e-bk-plugged")
    wait_volume(stack, v["id"], "available", timeout=120)
    ud = tmp_path / "w.sh"
    ud.write_text(backup_writer(v["id"], tag))
    s = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
               "--user-data", ud, "--wait", "e2e-bk-writer", timeout=600)
    made_bk, made_vols = [], []
    try:
        assert s["status"] == "ACTIVE", s
        os_run("server", "add", "volume", s["id"], v["id"])
        wait_volume(stack, v["id"], "in-use", timeout=120)
        console_line(stack, s["id"], "bkpattern-written")
        snaps_before = stack.sql("SELECT count(*) FROM volume_snapshots")[0][0]
        listed_before = http("GET", "/volume/v3/%s/snapshots?all_tenants=1" % admin,
                             token=stack.token("admin")).json["snapshots"]
        # forced, while the guest writes on
        bk = os_cli("volume", "backup", "create", "--force", "--name", "e2e-bk-plugged",
                    v["id"])
        made_bk.append(bk["id"])
        # the guest was still writing when the backup was asked for
        assert "bkpattern-done" not in stack.console(s["id"])
        wait_backup(stack, bk["id"], "available", user="admin", timeout=300)
        # read from the copy the compute host made with the guest paused, not from the
        # pool file beside the guest's QEMU (the old path read it with qemu-img -U)
        log = stack.log_tail("nubo-storage.log", 3000)
        assert ("backup %s: volume %s read from the point-in-time copy its compute host "
                "made" % (bk["id"], v["id"])) in log, log
        clog = stack.log_tail("nubo-compute.log", 3000)
        assert ("instance %s: backup copy %s of volume %s done" %
                (s["id"], bk["id"], v["id"])) in clog, clog
        assert ("instance %s: guest stopped for" % s["id"]) in clog, clog
        # the guest runs on with its disk; nothing of the copy is left: no file, no
        # snapshot (row, listing, quota use)
        assert qmp_status(stack, s["id"]) == "running"
        assert dev_of(v["id"]) in qmp_devices(stack, s["id"])
        assert os_cli("volume", "show", v["id"])["status"] == "in-use"
        wait_for(lambda: copies_left(stack, bk["id"]) == [], 60, 0.5, "the copy dropped")
        assert stack.sql("SELECT count(*) FROM volume_snapshots")[0][0] == snaps_before
        assert http("GET", "/volume/v3/%s/snapshots?all_tenants=1" % admin,
                    token=stack.token("admin")).json["snapshots"] == listed_before
        assert not stack.sql("SELECT 1 FROM tasks WHERE resource_id = :'p1' AND status IN"
                             " ('pending', 'dispatched')", bk["id"])
        # restored into a new volume: the guest's pattern, whole
        r = http("POST", "/volume/v3/%s/backups/%s/restore" % (admin, bk["id"]),
                 {"restore": {"name": "e2e-bk-plugged-restored"}}, token=stack.token("admin"))
        assert r.status == 202, r
        restored = r.json["restore"]["volume_id"]
        made_vols.append(restored)
        wait_volume(stack, restored, "available", timeout=300)
        f = vol_file(stack, restored)
        subprocess.run(["qemu-img", "check", "-q", "-f", "qcow2", str(f)], check=True,
                       timeout=120)
        want = hashlib.sha256(pattern_bytes(tag)).hexdigest()
        assert region_sha256(f, tmp_path, PATTERN_AT, PATTERN_LEN) == want

        # the storage agent down between the hops, then killed (-9) and started again:
        # the copy waits in copies/ (its heartbeat lists it, its task is open: kept),
        # outlives the restart (tmp/ does not) and is read and removed
        stack.nubo_ctl("stop", "nubo-storage")
        try:
            bk2 = os_cli("volume", "backup", "create", "--force", "--name",
                         "e2e-bk-plugged-2", v["id"])
            made_bk.append(bk2["id"])
            copy = pool(stack) / "copies" / ("%s.qcow2" % bk2["id"])
            wait_for(copy.exists, 120, 0.5, "the copy made while the storage agent is down")
            assert os_cli("volume", "backup", "show", bk2["id"])["status"] == "creating"
            stack.nubo_ctl("start", "nubo-storage")
            wait_for(lambda: "NBD exports on" in stack.log_tail("nubo-storage.log", 5), 60,
                     0.5, "the storage agent to start")
            kill9(stack.daemon_pid("nubo-storage"))
        finally:
            stack.nubo_ctl("restart", "nubo-storage")
        wait_backup(stack, bk2["id"], "available", user="admin", timeout=300)
        wait_for(lambda: copies_left(stack, bk2["id"]) == [], 60, 0.5, "the copy dropped")
        assert qmp_status(stack, s["id"]) == "running"
        assert stack.sql("SELECT count(*) FROM volume_snapshots")[0][0] == snaps_before
    finally:
        for b in made_bk:
            os_run("volume", "backup", "delete", b, check=False)
        os_run("server", "delete", "--wait", s["id"], check=False, timeout=300)
        for vid in made_vols + [v["id"]]:
            wait_volume(stack, vid, "available", timeout=120)
            os_run("volume", "delete", vid, check=False)
            wait_gone(stack, "volume", vid)


def test_a_leftover_backup_copy_is_removed(stack):
    """A copy in the pool's copies/ whose backup has no open task (its task ended, or an
    agent died, while or after it was made) is listed by the storage agent's heartbeat
    and removed on the scheduler's word (TASK_BACKUP_DROP)."""
    orphan = str(uuid.uuid4())
    f = pool(stack) / "copies" / ("%s.qcow2" % orphan)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(f), "1M"], check=True,
                   timeout=60)
    wait_for(lambda: not f.exists(), 120, 0.5, "the leftover copy removed")
    assert ("point-in-time copy for backup %s" % orphan) in stack.log_tail(
        "nubo-scheduler.log", 3000)
