"""A forced snapshot of a volume Compute has plugged into a running server (Cinder's
`snapshot create --force`): made on the server's compute host with the guest paused for
the copy, so it holds the volume's bytes; the guest runs on with the disk plugged, and
the storage agent makes volumes from it and deletes it like its own. Without --force it
is Cinder's 400; while the server has a task under way it is a 400 with nothing made."""
import subprocess

from nubo_e2e import assert_error, wait_for
from test_volume import (qmp_devices, snap_file, vol_file, wait_gone, wait_snapshot,
                         wait_volume)
from test_volume_attach_authz import dev_of


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
