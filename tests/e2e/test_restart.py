"""Restarts and crashes: the supervisor brings daemons back, a killed compute agent
re-attaches to its running QEMU (nothing lost, nothing duplicated), a scheduler that
was down drives the tasks written meanwhile, and a dead QEMU is noticed."""
import time

from nubo_e2e import kill9, pid_alive, wait_for

HEARTBEAT = 2  # [compute] heartbeat_interval of the stack (nubo.conf.example default)


def test_supervisor_respawns_a_killed_api(stack, http):
    old = stack.daemon_pid("nubo-api")
    assert old, "nubo-api is not running"
    kill9(old)

    def back():
        pid = stack.daemon_pid("nubo-api")
        if pid and pid != old:
            try:
                return http("GET", "/identity/v3", timeout=5).status == 200
            except OSError:
                return False
        return False
    wait_for(back, 30, 0.5, "nubo-api to be started again by nubo-ctl's supervisor")
    # tokens live in the database: the old ones still work
    assert http("GET", "/compute/v2.1/servers", token=stack.token("admin")).status == 200


def test_killed_compute_agent_reattaches_to_its_vm(stack, vm, os_cli, os_run):
    qemu = stack.qemu_pids(vm["id"])
    assert len(qemu) == 1
    agent = stack.daemon_pid("nubo-compute")
    assert agent

    kill9(agent)
    assert pid_alive(qemu[0]), "the VM's QEMU died with its agent"
    stack.nubo_ctl("restart", "nubo-compute")
    new = stack.daemon_pid("nubo-compute")
    assert new and new != agent

    # a few heartbeats for the agent to report and the scheduler to reconcile
    time.sleep(4 * HEARTBEAT)
    assert stack.qemu_pids(vm["id"]) == qemu, "QEMU replaced or duplicated"
    s = stack.server(vm["id"])
    assert s["status"] == "ACTIVE" and s["OS-EXT-STS:task_state"] in (None, "", "None"), s
    assert [x["ID"] for x in os_cli("server", "list") if x["Name"] == vm["name"]] == [vm["id"]]
    assert len(os_cli("hypervisor", "list")) == 1

    # the new agent controls the old QEMU (through its QMP socket)
    os_run("server", "pause", vm["id"])
    stack.wait_status(vm["id"], "PAUSED")
    os_run("server", "unpause", vm["id"])
    stack.wait_status(vm["id"], "ACTIVE")
    assert stack.qemu_pids(vm["id"]) == qemu


def test_scheduler_restart_drives_a_pending_task(stack, vm, os_run):
    stack.nubo_ctl("stop", "nubo-scheduler")
    try:
        os_run("server", "stop", vm["id"])  # the API writes the task; nobody sends it
        time.sleep(3 * HEARTBEAT)
        s = stack.server(vm["id"])
        assert s["status"] == "ACTIVE", s
        assert s["OS-EXT-STS:task_state"] == "powering-off", s
    finally:
        stack.nubo_ctl("start", "nubo-scheduler")
    stack.wait_status(vm["id"], "SHUTOFF", timeout=180)
    os_run("server", "start", vm["id"])
    stack.wait_status(vm["id"], "ACTIVE")
    assert len(stack.qemu_pids(vm["id"])) == 1


def test_a_dead_qemu_is_noticed(stack, vm, os_run):
    # last: it leaves the shared VM in ERROR. A QEMU that is killed is no clean guest
    # power-off (that stays SHUTOFF): the fault says what happened.
    qemu = stack.qemu_pids(vm["id"])
    assert len(qemu) == 1
    kill9(qemu[0])

    def left_active():
        s = stack.server(vm["id"])
        return s if s["status"] in ("SHUTOFF", "ERROR") else None
    s = wait_for(left_active, 120, 2, "the server to leave ACTIVE after its QEMU died")
    assert s["status"] == "ERROR", s
    assert s["OS-EXT-STS:power_state"] not in ("Running", 1), s
    fault = s.get("fault") or {}
    message = fault.get("message", "") if isinstance(fault, dict) else str(fault)
    assert "killed by signal 9" in message and "last console lines" in message, s
    assert stack.qemu_pids(vm["id"]) == []
    # a hard reboot recovers it (Nova allows it from ERROR)
    os_run("server", "reboot", "--hard", vm["id"])

    def active():
        s = stack.server(vm["id"])
        return s["status"] == "ACTIVE" and s.get("OS-EXT-STS:task_state") in (None, "", "None")
    wait_for(active, 120, 2, "the hard reboot to bring the server back to ACTIVE")
    assert len(stack.qemu_pids(vm["id"])) == 1
