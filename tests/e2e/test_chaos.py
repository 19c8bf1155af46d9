"""Chaos: nubo-compute is killed (SIGKILL) at random points while a user creates,
stops and deletes servers with the real openstack CLI. Afterwards nothing may be
stuck: every server settles, every delete completes, no QEMU is left, and
`nubo-manage audit` (no task past its deadline, quota usage equal to live
instances) is clean.

The randomness is seeded (NUBO_CHAOS_SEED, default 5; printed on failure) and
bounded: at most MAX_KILLS kills within KILL_WINDOW seconds."""
import json
import os
import random
import subprocess
import time

from nubo_e2e import REPO, kill9, wait_for

SEED = int(os.environ.get("NUBO_CHAOS_SEED", "5"))
SERVERS = 3
MAX_KILLS = 6
KILL_WINDOW = 180  # seconds after the first operation in which kills may happen
SETTLE = 300  # seconds for everything to settle once the kills stop
STABLE = ("ACTIVE", "SHUTOFF", "ERROR")


class Killer:
    """Kills nubo-compute now and then (seeded), and has the supervisor start it again
    the way an operator would (nubo-ctl restart)."""

    def __init__(self, stack, rnd):
        self.stack, self.rnd = stack, rnd
        self.start = time.monotonic()
        self.kills = []  # (seconds since start, where)

    def maybe(self, where, p=0.5, force=False):
        if len(self.kills) >= MAX_KILLS or time.monotonic() - self.start > KILL_WINDOW:
            return
        if not force and self.rnd.random() >= p:
            return
        if self.rnd.random() < 0.7:
            # mostly while the agent holds a task: once one is dispatched, a moment in
            self.in_flight(3)
            time.sleep(self.rnd.uniform(0, 1.5))
        else:
            time.sleep(self.rnd.uniform(0, 2.5))
        pid = self.stack.daemon_pid("nubo-compute")
        if not pid:
            return
        kill9(pid)
        self.kills.append((round(time.monotonic() - self.start, 1), where))
        self.stack.nubo_ctl("restart", "nubo-compute")


    def in_flight(self, timeout):
        """Waits up to timeout seconds for a task dispatched to the agent."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.stack.sql("SELECT 1 FROM tasks WHERE status = 'dispatched' LIMIT 1"):
                return True
            time.sleep(0.05)
        return False


def server_or_none(stack, sid):
    proc = stack.os_run("server", "show", sid, "-f", "json", check=False)
    if proc.returncode != 0:
        return None
    return json.loads(proc.stdout)


def settled(stack, ids):
    """All servers in a stable status with no task open, or None."""
    out = {}
    for sid in ids:
        s = stack.server(sid)
        if s["status"] not in STABLE or s.get("OS-EXT-STS:task_state") not in (None, "", "None"):
            return None
        out[sid] = s
    return out


def test_agent_kills_leave_nothing_stuck(stack, os_cli, os_run):
    rnd = random.Random(SEED)
    killer = Killer(stack, rnd)
    what = lambda: "seed %d, kills %s" % (SEED, killer.kills)
    ids = []
    for i in range(SERVERS):
        s = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                   "chaos-%d-%d" % (SEED, i))
        ids.append(s["id"])
        killer.maybe("create %d" % i, p=0.8)
    try:
        states = wait_for(lambda: settled(stack, ids), SETTLE, 2,
                          "servers to settle after create (%s)" % what())
        for sid, s in states.items():
            if s["status"] == "ACTIVE" and rnd.random() < 0.7:
                os_run("server", "stop", sid)
                killer.maybe("stop %s" % sid, p=0.8)
        wait_for(lambda: settled(stack, ids), SETTLE, 2,
                 "servers to settle after stop (%s)" % what())
        if not killer.kills:
            killer.maybe("before delete", force=True)
    finally:
        for n, sid in enumerate(ids):
            os_run("server", "delete", sid, check=False)
            killer.maybe("delete %d" % n, p=0.8)

    def all_gone():
        return all(server_or_none(stack, sid) is None for sid in ids)
    wait_for(all_gone, SETTLE, 2, "every delete to complete (%s)" % what())
    wait_for(lambda: all(stack.qemu_pids(sid) == [] for sid in ids), 60, 1,
             "no QEMU left (%s)" % what())
    assert killer.kills, "no kill happened (%s)" % what()

    # the scheduler's books agree: nothing past its deadline, quota = live instances
    audit = subprocess.run([str(REPO / "build" / "bin" / "nubo-manage"), "-c",
                            str(stack.conf), "audit"], capture_output=True, text=True,
                           timeout=60)
    assert audit.returncode == 0, "audit (%s):\n%s%s" % (what(), audit.stdout, audit.stderr)


TASK_RETRY = 60  # [scheduler] task_retry of the stack (nubo.conf.example default)


def test_agent_killed_mid_stop_finishes_without_waiting_for_the_retry(stack, os_cli, os_run):
    """kill -9 of nubo-compute while it stops a guest: the restarted agent's hello
    brings the stop back at once, so the server is SHUTOFF long before task_retry."""
    s = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny", "--wait",
               "chaos-stop")
    try:
        os_run("server", "stop", s["id"])
        wait_for(lambda: stack.sql("SELECT 1 FROM tasks WHERE resource_id = :'p1'"
                                   " AND action = 'stop' AND status = 'dispatched'", s["id"]),
                 20, 0.1, "the stop to be dispatched")
        t0 = time.monotonic()
        kill9(stack.daemon_pid("nubo-compute"))
        stack.nubo_ctl("restart", "nubo-compute")
        stack.wait_status(s["id"], "SHUTOFF", timeout=TASK_RETRY * 2)
        took = time.monotonic() - t0
        assert took < TASK_RETRY * 0.6, "SHUTOFF %.0f s after the kill (task_retry %d s)" % (
            took, TASK_RETRY)
    finally:
        os_run("server", "delete", s["id"], check=False)
        wait_for(lambda: server_or_none(stack, s["id"]) is None, 120, 2, "chaos-stop deleted")
