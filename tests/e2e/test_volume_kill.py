"""Issue 9's crash cases: nubo-storage killed (-9) with a volume create sent to it and not
yet done, and nubo-compute killed (-9) with an attach sent to it and not yet done, end
in a state the controller resolves (available, in-use or error), never stuck in
creating or attaching. Each agent is held with SIGSTOP until the scheduler has sent it
the task (the row `dispatched`), then killed; the supervisor starts it again and the
scheduler sends the task again after its hello."""
import os
import signal

from nubo_e2e import kill9, wait_for
from test_volume import qmp_devices, vol_file, wait_gone, wait_volume

SETTLED = ("available", "in-use", "error")


def dispatched(stack, rid):
    """1 when a task naming rid (its resource or its payload) has been sent to an agent."""
    rows = stack.sql("SELECT count(*) FROM tasks WHERE status = 'dispatched' AND"
                     " (resource_id = :'p1' OR payload::text LIKE '%' || :'p1' || '%')", rid)
    return rows and rows[0][0] != "0"


def kill_held(stack, daemon, pid):
    """SIGKILL of the SIGSTOPped pid, then its restart by the supervisor."""
    kill9(pid)
    wait_for(lambda: stack.daemon_pid(daemon) not in (None, pid), 90, 0.5,
             "%s to be started again" % daemon)


def volume_status(stack, vid):
    return stack.os_cli("volume", "show", vid)["status"]


def test_storage_killed_mid_create(stack, os_cli, os_run):
    pid = stack.daemon_pid("nubo-storage")
    assert pid, "nubo-storage is not running"
    os.kill(pid, signal.SIGSTOP)
    vid = None
    try:
        vid = os_cli("volume", "create", "--size", "1", "e2e-kill-create")["id"]
        wait_for(lambda: dispatched(stack, vid), 60, 0.3, "the create sent to nubo-storage")
        assert volume_status(stack, vid) == "creating"
    finally:
        if vid:
            kill_held(stack, "nubo-storage", pid)
        else:
            os.kill(pid, signal.SIGCONT)
    try:
        wait_for(lambda: volume_status(stack, vid) in SETTLED, 180, 1,
                 "volume %s to leave creating" % vid)
        # the task was sent again to the new agent, which made the volume
        assert volume_status(stack, vid) == "available"
        assert vol_file(stack, vid).exists()
    finally:
        os_run("volume", "delete", vid, check=False)
        wait_gone(stack, "volume", vid)


def test_compute_killed_mid_attach(stack, os_cli, os_run, vm):
    v = os_cli("volume", "create", "--size", "1", "e2e-kill-attach")
    vid = v["id"]
    try:
        wait_volume(stack, vid, "available", timeout=180)
        pid = stack.daemon_pid("nubo-compute")
        assert pid, "nubo-compute is not running"
        os.kill(pid, signal.SIGSTOP)
        try:
            os_run("server", "add", "volume", vm["id"], vid)
            wait_for(lambda: dispatched(stack, vid), 60, 0.3,
                     "the attach sent to nubo-compute")
        finally:
            kill_held(stack, "nubo-compute", pid)
        wait_for(lambda: volume_status(stack, vid) in SETTLED, 240, 1,
                 "volume %s to leave attaching" % vid)
        # the attach sent again to the new agent plugs the disk into the running guest
        assert volume_status(stack, vid) == "in-use"
        dev = "d" + vid.replace("-", "")[:30]
        assert dev in qmp_devices(stack, vm["id"])
        assert stack.server(vm["id"])["status"] == "ACTIVE"
        os_run("server", "remove", "volume", vm["id"], vid)
        wait_volume(stack, vid, "available", timeout=180)
        assert dev not in qmp_devices(stack, vm["id"])
    finally:
        os_run("server", "remove", "volume", vm["id"], vid, check=False)
        os_run("volume", "delete", vid, check=False)
        wait_gone(stack, "volume", vid, timeout=180)
