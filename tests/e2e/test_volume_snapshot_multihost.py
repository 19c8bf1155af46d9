"""Issue 9's snapshots and clones of volumes served over NBD: a server on an added host
(a deploy/host-add.sh network namespace) boots from a volume of the controller's storage
agent and has a second volume of it attached, both served by qemu-storage-daemon. The
guest writes 1 MiB of random bytes on the data volume; a forced snapshot and a clone of
it, made while it stays attached, are copied by the storage host through the export
daemon's QMP monitor (a backup job) with the guest running on, never paused; a volume
made from the snapshot and the clone, each attached to the guest, hold the same bytes
(sha256 of the region, read by the guest over NBD). createImage of the server (a forced
snapshot of its root volume, served over NBD too) gives an image that boots and holds
what the first guest wrote on its root disk."""
import json
import random
import re

import pytest

from nubo_e2e import wait_for
from test_multihost import add_hosts, del_hosts
# the root disk's mark: where test_server_image's reader looks, past the image's data
from test_server_image import SECTOR, reader
from test_volume import wait_gone, wait_snapshot, wait_volume
from test_volume_backup import wait_backup
from test_volume_multihost import host_qmp, qsd_pids
from test_volume_snapshot_plugged import snapshot_gone

BOOT_S = 600  # a TCG boot on this shared box
HOSTS = ("ns1",)

# The guest's user data: marks its root disk (test_server_image's writer), then watches
# for SCSI disks (a plugged volume; the serial, VPD page 0x80, holds its id): on the one
# of WRITE it writes 1 MiB of random bytes at 1 MiB; on each it prints the sha256 of
# that region as read from the disk.
GUEST = """#!/bin/sh
printf 'SNAPMARK-%(tag)s' | dd of=/dev/vda bs=512 seek=%(sector)d conv=notrunc 2>/dev/null &&
	sync && echo snapmark-written
(
seen=' '
i=0
while [ $i -lt 3600 ]; do
	for d in /sys/block/sd*; do
		[ -e "$d/device/vpd_pg80" ] || continue
		n=${d##*/}
		case "$seen" in *" $n "*) continue ;; esac
		seen="$seen$n "
		ser=$(tr -dc 'a-f0-9-' <"$d/device/vpd_pg80")
		case "$ser" in *%(write)s*)
			dd if=/dev/urandom of=/dev/$n bs=65536 seek=16 count=16 conv=notrunc,fsync \
				2>/dev/null && sync && echo "nbdsnap-written $ser" ;;
		esac
		echo "nbdsnap-sum $ser $(dd if=/dev/$n bs=65536 skip=16 count=16 2>/dev/null |
			sha256sum | cut -c1-64)"
	done
	sleep 1
	i=$((i + 1))
done
) >/dev/console 2>&1 &
"""


def sums(stack, sid):
    """{serial: sha256} of the guest's nbdsnap-sum lines."""
    out = {}
    for m in re.finditer(r"nbdsnap-sum ([0-9a-f-]+) ([0-9a-f]{64})", stack.console(sid)):
        out[m.group(1)] = m.group(2)
    return out


def sum_of(stack, sid, volume_id, timeout=300):
    """The sha256 the guest printed for the disk of volume_id (its serial holds the id,
    possibly cut short)."""
    def found():
        for ser, h in sums(stack, sid).items():
            if ser and volume_id.startswith(ser[:20]):
                return h
        return None
    return wait_for(found, timeout, 3, "the guest's sum of volume %s" % volume_id)


def running(stack, sid):
    return host_qmp(stack, sid, "query-status")["return"]["status"] == "running"


@pytest.fixture(scope="module")
def world(stack, os_cli, os_run, tmp_path_factory):
    w = {"cleanup": [], "tag": "%04d" % random.randint(0, 9999), "zones": {},
         "mark": "nbs%06d" % random.randint(0, 999999)}
    added = []
    try:
        add_hosts(stack, os_cli, HOSTS, w, added)
        root = os_cli("volume", "create", "--image", "nubo-tiny", "--size", "1",
                      "nbs%s-root" % w["tag"])
        w["cleanup"].append(("volume", "delete", root["id"]))
        data = os_cli("volume", "create", "--size", "1", "nbs%s-data" % w["tag"])
        w["cleanup"].append(("volume", "delete", data["id"]))
        wait_volume(stack, root["id"], "available", timeout=300)
        wait_volume(stack, data["id"], "available", timeout=180)
        ud = tmp_path_factory.mktemp("nbs") / "guest.sh"
        ud.write_text(GUEST % {"tag": w["mark"], "sector": SECTOR, "write": data["id"][:20]})
        s = os_cli("server", "create", "--flavor", "m1.tiny", "--volume", root["id"],
                   "--availability-zone", w["zones"]["ns1"], "--user-data", ud,
                   "nbs%s-vm" % w["tag"])
        w["cleanup"].insert(0, ("server", "delete", "--wait", s["id"]))
        stack.wait_status(s["id"], "ACTIVE", timeout=BOOT_S)
        wait_for(lambda: "snapmark-written" in stack.console(s["id"]), BOOT_S, 3,
                 "the guest's mark on its root disk")
        w.update(root=root, data=data, vm=s)
        yield w
    finally:
        for args in w["cleanup"]:
            os_run(*args, check=False, timeout=600)
        del_hosts(stack, added)


def test_snapshot_and_clone_of_a_volume_served_over_nbd(stack, os_cli, os_run, world,
                                                        project_ids):
    sid, vid = world["vm"]["id"], world["data"]["id"]
    assert os_cli("server", "show", sid)["OS-EXT-SRV-ATTR:host"] == "ns1"
    os_run("server", "add", "volume", sid, vid)
    wait_volume(stack, vid, "in-use", timeout=180)
    assert len(qsd_pids(vid)) == 1, qsd_pids(vid)
    wait_for(lambda: "nbdsnap-written" in stack.console(sid), 300, 3,
             "the guest's write on the volume")
    written = sum_of(stack, sid, vid)
    pids = qsd_pids(vid)

    snap = os_cli("volume", "snapshot", "create", "--force", "--volume", vid,
                  "nbs%s-snap" % world["tag"])
    world["cleanup"].insert(1, ("volume", "snapshot", "delete", snap["id"]))
    clone = os_cli("volume", "create", "--source", vid, "--size", "1",
                   "nbs%s-clone" % world["tag"])
    world["cleanup"].insert(2, ("volume", "delete", clone["id"]))
    wait_snapshot(stack, snap["id"], "available", timeout=300)
    wait_volume(stack, clone["id"], "available", timeout=300)
    # copied by the storage host through the export, which stays the same daemon; the
    # guest ran on (never paused) with the volume plugged
    log = stack.log_tail("nubo-storage.log", 3000)
    assert "snapshot %s: create done" % snap["id"] in log, log
    assert "volume %s: create done" % clone["id"] in log, log
    assert qsd_pids(vid) == pids
    assert running(stack, sid)
    assert os_cli("server", "show", sid)["status"] == "ACTIVE"
    assert os_cli("volume", "show", vid)["status"] == "in-use"

    # a forced backup of the plugged volume is read from a copy the export's daemon
    # made, not from the pool file it writes; restored, it holds the same bytes
    bk = os_cli("volume", "backup", "create", "--force", "--name", "nbs%s-bk" % world["tag"],
                vid)
    world["cleanup"].insert(1, ("volume", "backup", "delete", bk["id"]))
    wait_backup(stack, bk["id"], "available", user="admin", timeout=300)
    log = stack.log_tail("nubo-storage.log", 3000)
    assert "backup %s: volume %s copied by its NBD export's daemon" % (bk["id"], vid) in log
    assert running(stack, sid) and qsd_pids(vid) == pids
    r = stack.http("POST", "/volume/v3/%s/backups/%s/restore" % (project_ids["admin"], bk["id"]),
                   {"restore": {"name": "nbs%s-restored" % world["tag"]}},
                   token=stack.token("admin"))
    assert r.status == 202, r
    restored = r.json["restore"]["volume_id"]
    world["cleanup"].insert(1, ("volume", "delete", restored))
    wait_volume(stack, restored, "available", timeout=300)

    fromsnap = os_cli("volume", "create", "--snapshot", snap["id"], "--size", "1",
                      "nbs%s-fromsnap" % world["tag"])
    world["cleanup"].insert(1, ("volume", "delete", fromsnap["id"]))
    wait_volume(stack, fromsnap["id"], "available", timeout=300)
    for v in (clone["id"], fromsnap["id"], restored):
        os_run("server", "add", "volume", sid, v)
        wait_volume(stack, v, "in-use", timeout=180)
        assert sum_of(stack, sid, v) == written, (v, sums(stack, sid))
    assert running(stack, sid)
    world["copies"] = [clone["id"], fromsnap["id"], restored]
    world["snap"] = snap["id"]


def test_image_of_a_server_booted_from_a_volume_of_another_host(stack, os_cli, os_run,
                                                                world, tmp_path):
    """createImage takes a forced snapshot of the root volume, served over NBD: the
    storage host copies it with the guest running; a server made from the image boots
    from a new volume made from that snapshot and reads the first guest's mark."""
    sid = world["vm"]["id"]
    # the image maps the root disk only: the data volumes leave first
    for v in [world["data"]["id"]] + world.get("copies", []):
        if os_cli("volume", "show", v)["status"] == "in-use":
            os_run("server", "remove", "volume", sid, v)
            wait_volume(stack, v, "available", timeout=180)
    image = os_cli("server", "image", "create", "--name", "nbs%s-img" % world["tag"],
                   "--wait", sid, timeout=600)
    world["cleanup"].insert(0, ("image", "delete", image["id"]))
    assert image["status"] == "active", image
    mapping = image["properties"]["block_device_mapping"]
    mapping = json.loads(mapping) if isinstance(mapping, str) else mapping
    assert len(mapping) == 1 and mapping[0]["source_type"] == "snapshot", mapping
    snap_id = mapping[0]["snapshot_id"]
    wait_snapshot(stack, snap_id, "available", timeout=300)
    assert "snapshot %s: create done" % snap_id in stack.log_tail("nubo-storage.log", 3000)
    assert running(stack, sid)
    (tmp_path / "r.sh").write_text(reader())
    c = os_cli("server", "create", "--flavor", "m1.tiny", "--image", image["id"],
               "--user-data", tmp_path / "r.sh", "nbs%s-fromimg" % world["tag"])
    try:
        stack.wait_status(c["id"], "ACTIVE", timeout=BOOT_S)

        def marked():
            for line in stack.console(c["id"]).splitlines():
                if "snapmark-read" in line:
                    return line
            return None
        try:  # a TCG boot on a loaded box: test_volume_boot allows as long
            line = wait_for(marked, 900, 3, "the new server's read of the mark")
        except AssertionError as e:
            raise AssertionError("%s; its console:\n%s" % (
                e, "\n".join(stack.console(c["id"]).splitlines()[-30:])))
        assert "SNAPMARK-" + world["mark"] in line, line
    finally:
        os_run("server", "delete", "--wait", c["id"], check=False, timeout=600)
        for [v] in stack.sql("SELECT id FROM volumes WHERE snapshot_id = :'p1'", snap_id):
            wait_volume(stack, v, "available", timeout=180)
            os_run("volume", "delete", v, check=False)
            wait_gone(stack, "volume", v)
        os_run("image", "delete", image["id"], check=False)
        os_run("volume", "snapshot", "delete", snap_id, check=False)
        snapshot_gone(stack, snap_id)
