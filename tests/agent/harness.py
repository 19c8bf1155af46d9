#!/usr/bin/python3
"""Drive a real nubo-compute as a fake scheduler (ZeroMQ ROUTER) and a fake image
service (HTTP), all on 127.0.0.1, and check every instance action end to end:
spawn (image download, config drive, QEMU), console, stop/start, pause/unpause,
suspend/resume, reboot, hard_reboot, repeated tasks, agent kill -9 + re-attach,
guest-initiated power-off (event), a crashed QEMU (event in error with the signal and
the last console lines), results kept until acknowledged and re-sent after kill -9,
delete; and the privilege split: the worker runs as nubo, its helper as root, QEMU as
nubo-qemu, and no zombie is left behind.

usage: tests/agent/harness.py [--agent build/bin/nubo-compute] [--image IMG.qcow2]
                              [--workdir DIR] [--driver qemu|fake] [--keep]
"""
import argparse, base64, hashlib, http.server, json, os, shutil, signal, socket
import subprocess, sys, threading, time, uuid

import zmq

AGENT_KEY = "harness-agent-key"
HOST = "node1"


def log(*a):
    print("[%7.2f]" % (time.monotonic() - T0), *a, flush=True)


T0 = time.monotonic()


class ImageServer(threading.Thread):
    """Serves one image file at /image/v2/images/<id>/file to callers with the key."""

    def __init__(self, path, image_id):
        super().__init__(daemon=True)
        data_path, iid = path, image_id
        self.hits = 0
        self.iid = image_id
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.headers.get("X-Nubo-Agent-Key") != AGENT_KEY:
                    self.send_error(401)
                    return
                if self.path not in ("/image/v2/images/%s/file" % iid,
                                     "/image/v2/images/%s/file" % outer.iid):
                    self.send_error(404)
                    return
                outer.hits += 1
                size = os.path.getsize(data_path)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                with open(data_path, "rb") as f:
                    shutil.copyfileobj(f, self.wfile)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.httpd.server_address[1]

    def run(self):
        self.httpd.serve_forever()


class Scheduler:
    def __init__(self, port):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.bind("tcp://127.0.0.1:%d" % port)
        self.console = {}  # instance id -> text
        self.events = []
        self.results = {}
        self.hellos = []
        self.heartbeats = 0
        self.last_vms = None
        self.ack = True  # acknowledge results, as the scheduler does
        self.result_count = {}  # task id -> how often its result arrived

    def send_task(self, action, instance_id, task_id=None, **body):
        task_id = task_id or str(uuid.uuid4())
        b = {"task_id": task_id, "action": action, "resource_kind": "instance",
             "resource_id": instance_id}
        if body:
            b["payload"] = body
        env = {"v": 2, "kind": "task", "id": str(uuid.uuid4()), "body": b}
        self.sock.send_multipart([HOST.encode(), json.dumps(env).encode()])
        return task_id

    def pump(self, timeout=0.2):
        if not self.sock.poll(int(timeout * 1000)):
            return
        while True:
            try:
                peer, data = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            m = json.loads(data)
            k, b = m["kind"], m["body"]
            if k in ("hello", "heartbeat"):
                self.last_vms = {v["id"]: v["state"] for v in b.get("resources", [])}
                if k == "hello":
                    self.hellos.append(b)
                else:
                    self.heartbeats += 1
            elif k == "result":
                self.results[b["task_id"]] = b
                self.result_count[b["task_id"]] = self.result_count.get(b["task_id"], 0) + 1
                if self.ack:
                    env = {"v": 2, "kind": "ack", "id": str(uuid.uuid4()),
                           "body": {"task_id": b["task_id"]}}
                    self.sock.send_multipart([peer, json.dumps(env).encode()])
            elif k == "event":
                self.events.append(b)
                log("event", b)
            elif k == "console":
                if b.get("reset"):
                    self.console[b["instance_id"]] = ""
                self.console[b["instance_id"]] = self.console.get(b["instance_id"], "") + b["data"]

    def wait(self, what, cond, timeout):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.pump()
            r = cond()
            if r:
                return r
        raise AssertionError("timed out waiting for " + what)

    def run_task(self, action, iid, timeout=120, expect_ok=True, expect_state=None, **body):
        t0 = time.monotonic()
        tid = self.send_task(action, iid, **body)
        r = self.wait("result of " + action, lambda: self.results.get(tid), timeout)
        dt = time.monotonic() - t0
        log("%-12s ok=%s state=%s %.2fs%s" % (action, r["ok"], r.get("state"), dt,
                                             " error=" + r["error"] if r.get("error") else ""))
        assert r["ok"] == expect_ok, r
        if expect_state:
            assert r.get("state") == expect_state, r
        return r, dt, tid


STATE = None  # the agent's state_dir


NUBO_CTL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy",
                        "nubo-ctl")


def qemu_pids(iid):
    """The one exact matcher (deploy/lib.sh nubo_qemu_pids, through nubo-ctl)."""
    out = subprocess.run([NUBO_CTL, "--state-dir", STATE, "qemu-pids", iid], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return sorted(int(p) for p in out.split())


def proc_status(pid):
    """uid (real) and ppid of pid, and its state letter."""
    st = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            st[k] = v.split()
    return int(st["Uid"][0]), int(st["PPid"][0]), st["State"][0]


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                if proc_status(int(p))[1] == pid:
                    out.append(int(p))
            except (OSError, KeyError):
                pass
    return out


def zombies_under(pid):
    """Zombie processes among the descendants of pid (two levels: the worker's
    children and theirs, e.g. the helper's)."""
    z = []
    for c in children(pid):
        for p in [c] + children(c):
            try:
                if proc_status(p)[2] == "Z":
                    z.append(p)
            except OSError:
                pass
    return z


def qmp(sock_path, *cmds):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    f = s.makefile("rw")
    f.readline()
    out = []
    for c in ("qmp_capabilities",) + cmds:
        f.write(json.dumps({"execute": c}) + "\n")
        f.flush()
        while True:
            line = json.loads(f.readline())
            if "event" not in line:
                out.append(line)
                break
    s.close()
    return out[1:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", default="build/bin/nubo-compute")
    ap.add_argument("--image", default="/var/lib/nubo-test/nubo-tiny.qcow2")
    ap.add_argument("--workdir", default="/tmp/nubo-harness")
    ap.add_argument("--driver", default="qemu")
    ap.add_argument("--port", type=int, default=15570)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--parallel", type=int, default=3)
    args = ap.parse_args()
    real = args.driver == "qemu"

    if os.path.exists(args.workdir):
        shutil.rmtree(args.workdir)
    os.makedirs(args.workdir)
    state = os.path.join(args.workdir, "state")
    global STATE
    STATE = state
    image_id = str(uuid.uuid4())
    md5 = hashlib.md5(open(args.image, "rb").read()).hexdigest()
    sha512 = hashlib.sha512(open(args.image, "rb").read()).hexdigest()
    img = ImageServer(args.image, image_id)
    img.start()
    conf = os.path.join(args.workdir, "nubo.conf")
    with open(conf, "w") as f:
        f.write("[bus]\nscheduler_url = tcp://127.0.0.1:%d\nagent_key = %s\n"
                "[compute]\nhost = %s\nstate_dir = %s\ndriver = %s\naccel = auto\n"
                "heartbeat_interval = 1\nstop_timeout = 20\n"
                % (args.port, AGENT_KEY, HOST, state, args.driver))
    sched = Scheduler(args.port)
    agent_log = open(os.path.join(args.workdir, "agent.log"), "a")

    def start_agent():
        return subprocess.Popen([args.agent, "-c", conf, "-d"], stdout=agent_log,
                                stderr=agent_log)

    agent = start_agent()
    try:
        sched.wait("hello", lambda: sched.hellos, 30)
        h = sched.hellos[-1]
        c = h["capacity"]
        log("hello: host=%s kind=%s accel=%s vcpus=%s ram=%s disk=%s resources=%s" % (
            h["host"], h.get("agent_kind"), c["accel"], c["vcpus"], c["ram_mb"], c["disk_gb"],
            h.get("resources")))
        # the privilege split: a root helper, the worker as nubo
        import pwd
        uid_nubo = pwd.getpwnam("nubo").pw_uid
        gid_qemu = pwd.getpwnam("nubo-qemu").pw_gid
        qemu_uids = range(2000000000, 2000000000 + 65536)  # [compute] qemu_uid_base/count
        assert proc_status(agent.pid)[0] == uid_nubo, "the worker does not run as nubo"
        helpers = [c for c in children(agent.pid) if proc_status(c)[0] == 0]
        assert len(helpers) == 1, "no root helper among the worker's children"
        log("worker pid %d runs as nubo, helper pid %d as root" % (agent.pid, helpers[0]))

        iid = str(uuid.uuid4())
        user_data = base64.b64encode(b"#!/bin/sh\necho harness-user-data-ran\n").decode()
        spawn = dict(name="harness vm, one", hostname="harness-vm", vcpus=1, ram_mb=128,
                     disk_gb=1, image_id=image_id,
                     image_url="http://127.0.0.1:%d/image/v2/images/%s/file" % (img.port, image_id),
                     image_checksum=md5, image_hash=sha512, image_format="qcow2", key_name="k1",
                     public_key="ssh-ed25519 AAAAC3Nza harness@test", user_data=user_data)

        # a bad user_data is refused with a clear error
        bad = str(uuid.uuid4())
        r, _, _ = sched.run_task("spawn", bad, expect_ok=False, **dict(spawn, user_data="!!notbase64!!"))
        assert "base64" in r["error"], r
        sched.run_task("delete", bad, expect_state="deleted")
        if real:  # a wrong checksum is refused
            bad2 = str(uuid.uuid4())
            r, _, _ = sched.run_task("spawn", bad2, expect_ok=False,
                                     **dict(spawn, image_id=str(uuid.uuid4()), image_checksum="0" * 32))
            log("  bad checksum error:", r["error"])
            sched.run_task("delete", bad2, expect_state="deleted")
            # bytes that are not the image's sha512 are refused too
            bad3 = str(uuid.uuid4())
            r, _, _ = sched.run_task("spawn", bad3, expect_ok=False,
                                     **dict(spawn, image_id=str(uuid.uuid4()),
                                            image_hash="0" * 128))
            assert "sha512" in r["error"], r
            sched.run_task("delete", bad3, expect_state="deleted")

        hits_before = img.hits
        t_spawn = time.monotonic()
        r, dt, spawn_tid = sched.run_task("spawn", iid, expect_state="running", **spawn)
        log("spawn -> running in %.2fs (image downloads so far: %d)" % (dt, img.hits))
        if real:
            pids = qemu_pids(iid)
            assert len(pids) == 1, pids
            assert proc_status(pids[0])[0] in qemu_uids, "QEMU does not run under a uid of its own"
            assert os.stat("/proc/%d" % pids[0]).st_gid == gid_qemu
            log("QEMU pid", pids[0], "runs under uid", proc_status(pids[0])[0], "group nubo-qemu")
            sched.wait("guest ready on console",
                       lambda: "nubo-guest ready" in sched.console.get(iid, ""), 180)
            log("spawn -> guest ready line in %.2fs" % (time.monotonic() - t_spawn))
            con = sched.console[iid]
            assert "harness-user-data-ran" in con, "user_data did not run"
            assert "metadata source: config-drive" in con, "config drive not read"
            assert "installed 1 ssh public key" in con, "key not installed"
            assert "nubo-guest ready harness-vm " + iid in con
            log("console: config drive read, key installed, user_data ran, hostname set")
        else:
            sched.wait("console", lambda: "spawn" in sched.console.get(iid, ""), 10)

        # the same task again: answered from the results ring, not re-executed
        sched.send_task("spawn", iid, task_id=spawn_tid, **spawn)
        time.sleep(1)
        sched.pump()
        # a new spawn task for a running instance: idempotent
        sched.run_task("spawn", iid, expect_state="running", **spawn)
        sched.wait("heartbeat lists the instance",
                   lambda: (sched.last_vms or {}).get(iid) == "running", 10)

        sched.run_task("pause", iid, expect_state="paused")
        sched.run_task("pause", iid, expect_state="paused")
        if real:
            assert qmp(state + "/instances/%s/qmp.sock" % iid, "query-status")[0]["return"]["status"] == "paused"
        sched.run_task("unpause", iid, expect_state="running")
        r, dt, _ = sched.run_task("suspend", iid, expect_state="suspended")
        mem = state + "/instances/%s/memory.state" % iid
        if real:
            assert not qemu_pids(iid), "QEMU still runs after suspend"
            log("suspend saved %d MiB of guest state in %.2fs; QEMU ended" % (
                os.path.getsize(mem) >> 20, dt))
        sched.run_task("suspend", iid, expect_state="suspended")
        sched.wait("heartbeat says suspended",
                   lambda: (sched.last_vms or {}).get(iid) == "suspended", 10)
        sched.run_task("pause", iid, expect_ok=False, expect_state="suspended")
        # the saved state survives an agent restart
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        n_hello = len(sched.hellos)
        agent = start_agent()
        sched.wait("hello after restart", lambda: len(sched.hellos) > n_hello, 30)
        vms = {v["id"]: v["state"] for v in sched.hellos[-1].get("resources", [])}
        assert vms.get(iid) == "suspended", vms
        log("agent restarted while suspended: hello lists", vms)
        n_ready = sched.console.get(iid, "").count("nubo-guest ready")
        r, dt, _ = sched.run_task("resume", iid, expect_state="running")
        if real:
            assert len(qemu_pids(iid)) == 1 and not os.path.exists(mem)
            log("resume restored the guest in %.2fs" % dt)
            # the restored guest is alive: it answers the power button (ACPI) itself
            r, dt, _ = sched.run_task("stop", iid, expect_state="shutoff")
            assert dt < 15, "restored guest did not power off by itself"
            log("restored guest powered off by ACPI in %.2fs" % dt)
            assert sched.console.get(iid, "").count("nubo-guest ready") == n_ready, \
                "the guest rebooted instead of resuming"
            sched.run_task("start", iid, expect_state="running")
            sched.wait("guest ready after start",
                       lambda: sched.console.get(iid, "").count("nubo-guest ready") > n_ready, 180)
        # stop discards a saved state
        sched.run_task("suspend", iid, expect_state="suspended")
        sched.run_task("stop", iid, expect_state="shutoff")
        assert not os.path.exists(mem)
        sched.run_task("start", iid, expect_state="running")
        if real:
            n_ready = sched.console.get(iid, "").count("nubo-guest ready")
            sched.wait("guest ready after start",
                       lambda: sched.console.get(iid, "").count("nubo-guest ready") > n_ready, 180)
        n_before = sched.console.get(iid, "").count("nubo-guest ready")
        sched.run_task("reboot", iid, expect_state="running")
        if real:
            sched.wait("guest ready again after reboot",
                       lambda: sched.console.get(iid, "").count("nubo-guest ready") > n_before, 180)
            log("reboot: guest came back")
        r, dt, _ = sched.run_task("stop", iid, expect_state="shutoff")
        if real:
            assert not qemu_pids(iid)
            log("stop took %.2fs (ACPI power-off)" % dt)
        sched.run_task("stop", iid, expect_state="shutoff")
        sched.run_task("pause", iid, expect_ok=False)
        sched.run_task("start", iid, expect_state="running")
        sched.run_task("start", iid, expect_state="running")
        n_before = sched.console.get(iid, "").count("nubo-guest ready")
        sched.run_task("hard_reboot", iid, expect_state="running")
        if real:
            sched.wait("guest ready after hard reboot",
                       lambda: sched.console.get(iid, "").count("nubo-guest ready") > n_before, 180)
            pid_before = qemu_pids(iid)

        if real:  # as if it died mid-snapshot: the guest stopped, the mark left
            qmp(state + "/instances/%s/qmp.sock" % iid, "stop")
            open(state + "/instances/%s/snapshot.stopped" % iid, "w").close()
        # kill -9 the agent; the guest keeps running; a new agent re-attaches (and
        # resumes a guest a snapshot of the dead agent left stopped: review s6 10)
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        log("agent killed with SIGKILL")
        if real:
            assert qemu_pids(iid) == pid_before, "QEMU died with the agent"
        # review s9 L5: key files an attach (psk-<node>) or a start (psk-root) of the
        # dead agent left between making and removing them go when the next one starts
        idir = state + "/instances/%s" % iid
        st = os.stat(idir)
        planted = [os.path.join(idir, d) for d in ("psk-vdb0", "psk-root")]
        for d in planted:
            os.mkdir(d, 0o711)
            with open(os.path.join(d, "keys.psk"), "w") as f:
                f.write("%s:%s\n" % (uuid.uuid4(), "ab" * 32))
            for p in (d, os.path.join(d, "keys.psk")):
                os.chown(p, st.st_uid, st.st_gid)
        n_hello = len(sched.hellos)
        sched.console.pop(iid, None)
        agent = start_agent()
        sched.wait("hello after restart", lambda: len(sched.hellos) > n_hello, 30)
        vms = {v["id"]: v["state"] for v in sched.hellos[-1].get("resources", [])}
        assert vms.get(iid) == "running", vms
        left = [d for d in planted if os.path.exists(d)]
        assert not left, "stale NBD key directories survived the restart: %s" % left
        log("restarted agent removed the stale key directories")
        if real:
            assert qmp(state + "/instances/%s/qmp.sock" % iid, "query-status")[0]["return"]["status"] == "running"
            assert not os.path.exists(state + "/instances/%s/snapshot.stopped" % iid)
        log("restarted agent re-attached: hello lists", vms)
        sched.wait("console resent (reset) after restart",
                   lambda: "nubo-guest" in sched.console.get(iid, "") if real
                   else "spawn" in sched.console.get(iid, ""), 10)
        log("console resent after restart: %d bytes" % len(sched.console[iid]))
        sched.run_task("pause", iid, expect_state="paused")
        sched.run_task("unpause", iid, expect_state="running")

        # the guest powers itself off: an event says shutoff
        if real:
            qmp(state + "/instances/%s/qmp.sock" % iid, "system_powerdown")
        else:
            open(state + "/instances/%s/fake.poweroff" % iid, "w").close()
        ev = sched.wait("shutoff event",
                        lambda: [e for e in sched.events if e["resource_id"] == iid
                                 and e["state"] == "shutoff"], 60)
        log("guest power-off reported:", ev[-1].get("reason"))
        assert "guest powered off" in ev[-1].get("reason", "") or not real, ev[-1]
        sched.run_task("start", iid, expect_state="running")
        if real:
            # a QEMU that dies is no clean power-off: error, with the signal and console
            n_ev = len(sched.events)
            os.kill(qemu_pids(iid)[0], signal.SIGKILL)
            ev = sched.wait("crash event", lambda: [e for e in sched.events[n_ev:]
                                                    if e["resource_id"] == iid], 30)
            assert ev[-1]["state"] == "error", ev[-1]
            assert "killed by signal 9" in ev[-1]["reason"], ev[-1]
            assert "last console lines" in ev[-1]["reason"], ev[-1]
            log("crash reported:", ev[-1]["reason"][:160])
            sched.wait("heartbeat says error", lambda: (sched.last_vms or {}).get(iid) == "error", 10)
            sched.run_task("hard_reboot", iid, expect_state="running")

        # a result is kept until acknowledged: not acked, agent killed, re-sent on restart
        sched.ack = False
        r, _, tid = sched.run_task("pause", iid, expect_state="paused")
        stored = os.path.join(state, "results", tid + ".json")
        assert os.path.exists(stored), "result not stored"
        agent.send_signal(signal.SIGKILL)
        agent.wait()
        sched.results.pop(tid)
        agent = start_agent()
        sched.wait("unacknowledged result re-sent after restart", lambda: tid in sched.results, 30)
        assert sched.results[tid]["ok"] and sched.results[tid]["state"] == "paused"
        sched.ack = True
        sched.send_task("pause", iid, task_id=tid)  # repeated: answered from the store, acked
        sched.wait("ack removes the stored result", lambda: not os.path.exists(stored), 10)
        log("result re-sent after kill -9 until acknowledged (%d times)" % sched.result_count[tid])
        sched.run_task("unpause", iid, expect_state="running")

        # scheduler restart: a new ROUTER on the same port gets a fresh hello
        sched.sock.close(0)
        time.sleep(1)
        sched.sock = sched.ctx.socket(zmq.ROUTER)
        sched.sock.bind("tcp://127.0.0.1:%d" % args.port)
        n_hello = len(sched.hellos)
        sched.wait("hello after scheduler restart", lambda: len(sched.hellos) > n_hello, 30)
        log("scheduler restart: agent said hello again")
        # hello only after a (re)start or reconnect: the scheduler re-sends a hello's
        # unanswered tasks, so periodic hellos would re-send long tasks again and again
        n_hello, n_beat = len(sched.hellos), sched.heartbeats
        t_end = time.monotonic() + 35
        while time.monotonic() < t_end:
            sched.pump()
        assert sched.heartbeats - n_beat >= 20, "heartbeats stopped"
        assert len(sched.hellos) == n_hello, "a periodic hello from a connected agent"
        log("35 s connected: %d heartbeats, no hello" % (sched.heartbeats - n_beat))

        sched.run_task("delete", iid, expect_state="deleted")
        assert not os.path.exists(state + "/instances/" + iid)
        if real:
            assert not qemu_pids(iid)
        sched.run_task("delete", iid, expect_state="deleted")
        sched.run_task("stop", iid, expect_ok=False, expect_state="deleted")
        sched.wait("heartbeat without the instance",
                   lambda: sched.last_vms is not None and iid not in sched.last_vms, 10)
        assert img.hits == hits_before + (1 if real else 0), "image downloaded %d times" % (img.hits - hits_before)

        # several spawns of a new image at once: one download, all run, all deleted.
        # The server serves the same bytes for every id: with its sha512 the new image
        # would hit the entry the first one made (one entry per content), so these
        # tasks carry none and the image is keyed by its id (as a spec saved before
        # image_hash existed), never by its md5
        hits_before = img.hits
        img2 = str(uuid.uuid4())
        img.iid = img2
        ids = [str(uuid.uuid4()) for _ in range(args.parallel)]
        no_hash = {k: v for k, v in spawn.items() if k != "image_hash"}
        t0 = time.monotonic()
        tids = {sched.send_task("spawn", i, **dict(
            no_hash, name="par-%d" % n, image_id=img2,
            image_url="http://127.0.0.1:%d/image/v2/images/%s/file" % (img.port, img2))): i
            for n, i in enumerate(ids)}
        sched.wait("parallel spawns", lambda: all(t in sched.results for t in tids), 120)
        for t in tids:
            assert sched.results[t]["ok"] and sched.results[t]["state"] == "running", sched.results[t]
        log("%d parallel spawns running in %.2fs, image downloads: %d" % (
            len(ids), time.monotonic() - t0, img.hits - hits_before))
        assert img.hits - hits_before == (1 if real else 0)
        if real:
            for i in ids:
                assert len(qemu_pids(i)) == 1
        tids = {sched.send_task("delete", i): i for i in ids}
        sched.wait("parallel deletes", lambda: all(t in sched.results for t in tids), 60)
        for t in tids:
            assert sched.results[t]["ok"], sched.results[t]
        if real:
            for i in ids:
                assert not qemu_pids(i)
        # every QEMU started and every program run was reaped
        z = zombies_under(agent.pid)
        assert not z, "zombies left: %s" % z
        log("no zombie processes under the agent")
        log("ALL PASSED")
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(15)
        except subprocess.TimeoutExpired:
            agent.kill()
        if not args.keep:
            for d in os.listdir(os.path.join(state, "instances")) if os.path.isdir(
                    os.path.join(state, "instances")) else []:
                for p in qemu_pids(d):
                    os.kill(p, signal.SIGKILL)


if __name__ == "__main__":
    main()
