#!/usr/bin/python3
"""End-to-end checks of nubo-scheduler against a real PostgreSQL and fake agents.

run.sh starts the database; this script writes rows as nubo-api would (instance +
task in the outbox, then a wake), runs the real daemon, plays compute agents over
ZeroMQ (hello, heartbeats, results, events, console) and checks every row the
scheduler writes. Each check prints "ok N - name"; the first failure prints the
scheduler log tail and exits 1.
"""
import argparse
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import zmq

MIGRATIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                          "common", "migrations")
# the newest schema version: the highest NNNN_ of common/migrations/
NEWEST = max(int(f[:4]) for f in os.listdir(MIGRATIONS) if f[:4].isdigit())

ARGS = None
CTX = zmq.Context()
AGENTS = []  # live fake agents; heartbeats are pumped from every wait loop
HEARTBEAT_S = 1
AGENT_TIMEOUT_S = 4
TASK_RETRY_S = 3
HOST_DOWN_S = 8
SPAWN_DEADLINE_S = 60


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def lit(v):
    """SQL literal of a test value (the test controls every value)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


class DB:
    def __init__(self, host, port):
        self.base = [ARGS.psql, "-h", host, "-p", str(port), "-U", "postgres", "-d", "nubo",
                     "-X", "-q", "-At", "-F", "\x1f", "-v", "ON_ERROR_STOP=1"]

    def rows(self, sql):
        out = subprocess.run(self.base + ["-c", sql], check=True, capture_output=True,
                             text=True).stdout
        return [line.split("\x1f") for line in out.splitlines()]

    def row(self, sql):
        r = self.rows(sql)
        return r[0] if r else None

    def val(self, sql):
        r = self.row(sql)
        return r[0] if r else None

    def exec(self, sql):
        self.rows(sql)


class Agent:
    """A fake compute agent: a DEALER with its host name as routing id."""

    def __init__(self, host, vcpus=4, ram_mb=8192, disk_gb=100, az="nova", keys=None,
                 kind="compute"):
        self.host, self.az, self.kind = host, az, kind
        self.exports = []  # a storage agent: volume ids it serves over NBD
        self.copies = []   # a storage agent: backup ids of point-in-time copies it holds
        self.cap = (vcpus, ram_mb, disk_gb)
        self.vms = {}  # instance id -> power state the host reports
        self.inbox = []
        self.sock = CTX.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.ROUTING_ID, host.encode())
        self.sock.setsockopt(zmq.LINGER, 0)
        # a DEALER with no connected peer (e.g. refused by CURVE) blocks on send: bound it
        self.sock.setsockopt(zmq.SNDTIMEO, 2000)
        if keys:
            server_public, public, secret = keys
            self.sock.curve_serverkey = server_public
            self.sock.curve_publickey = public
            self.sock.curve_secretkey = secret
        self.sock.connect(ARGS.bus_url)
        self.beating = True
        self.last_beat = 0.0
        AGENTS.append(self)

    def send(self, kind, body):
        env = {"v": 2, "kind": kind, "id": str(uuid.uuid4()), "body": body}
        try:
            self.sock.send(json.dumps(env).encode())
        except zmq.Again:
            pass  # nobody accepted the connection; the caller's checks tell


    def report(self, kind="heartbeat"):
        vcpus, ram, disk = self.cap
        if self.kind == "storage":
            self.send(kind, {"host": self.host, "az": self.az, "agent_kind": "storage",
                             "capacity": {"total_gb": disk, "free_gb": disk},
                             "resources": [{"kind": "attachment", "id": v, "state": "attached"}
                                           for v in self.exports] +
                                          [{"kind": "backup", "id": b, "state": "available"}
                                           for b in self.copies]})
            self.last_beat = time.time()
            return
        self.send(kind, {"host": self.host, "az": self.az, "agent_kind": "compute",
                         "capacity": {"accel": "tcg", "vcpus": vcpus, "ram_mb": ram,
                                      "disk_gb": disk},
                         "resources": [{"kind": "instance", "id": i, "state": s}
                                       for i, s in self.vms.items()]})
        self.last_beat = time.time()

    def hello(self):
        self.report("hello")

    def poll(self):
        while self.sock.poll(0):
            self.inbox.append(json.loads(self.sock.recv()))

    def take_task(self, timeout=6, action=None, instance=None):
        """The first task (matching action/instance) that arrives within timeout."""
        def find():
            self.poll()
            for m in self.inbox:
                b = m["body"]
                if m["kind"] == "task" and (action is None or b["action"] == action) and \
                        (instance is None or b["resource_id"] == instance):
                    self.inbox.remove(m)
                    return b
            return None
        return wait_for(find, timeout, "%s: task %s for %s" % (self.host, action, instance))

    def no_task(self, seconds, action=None, instance=None):
        deadline = time.time() + seconds
        while time.time() < deadline:
            pump()
            self.poll()
            for m in self.inbox:
                b = m["body"]
                if m["kind"] == "task" and (action is None or b["action"] == action) and \
                        (instance is None or b["resource_id"] == instance):
                    raise Failure("%s got an unexpected task %s" % (self.host, b))
            time.sleep(0.05)

    def result(self, task, ok=True, state=None, error=None):
        """Answers task and, when it worked, updates what this host runs."""
        after = {"spawn": "running", "start": "running", "reboot": "running",
                 "hard_reboot": "running", "unpause": "running", "resume": "running",
                 "stop": "shutoff", "pause": "paused", "suspend": "suspended",
                 "delete": "deleted"}
        if state is None:
            state = after[task["action"]] if ok else "running"
        body = {"task_id": task["task_id"], "resource_kind": "instance",
                "resource_id": task["resource_id"], "ok": ok,
                "state": state}
        if error:
            body["error"] = error
        if ok:
            if state == "deleted":
                self.vms.pop(task["resource_id"], None)
            else:
                self.vms[task["resource_id"]] = state
        self.send("result", body)

    def close(self):
        self.beating = False
        if self in AGENTS:
            AGENTS.remove(self)
        self.sock.close()


def pump():
    now = time.time()
    for a in AGENTS:
        if a.beating and now - a.last_beat >= HEARTBEAT_S:
            a.report()


def wait_for(pred, timeout=8, what="condition"):
    deadline = time.time() + timeout
    while True:
        pump()
        v = pred()
        if v:
            return v
        if time.time() > deadline:
            raise Failure("timed out waiting for " + what)
        time.sleep(0.05)


def sleep(seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        pump()
        time.sleep(0.05)


class Scheduler:
    def __init__(self, conf):
        self.conf = conf
        self.proc = None
        self.log = os.path.join(ARGS.tmp, "scheduler.log")

    def start(self):
        starts = self.text().count("agents on") if os.path.exists(self.log) else 0
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([ARGS.scheduler, "-d", "-c", self.conf], stdout=logf,
                                     stderr=logf)
        logf.close()
        wait_for(lambda: self.text().count("agents on") > starts, 10, "scheduler start")

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def stop(self, timeout=5):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("scheduler did not exit within %ds of SIGTERM" % timeout)

    def alive(self):
        return self.proc and self.proc.poll() is None


def write_conf(path, extra_bus="", cred_key=None):
    with open(path, "w") as f:
        f.write("""[database]
conninfo = host=%s port=%d dbname=nubo user=postgres
[bus]
scheduler_bind = %s
wake_bind = %s
%s
[api]
internal_url = http://127.0.0.1:8080/
[scheduler]
agent_timeout = %d
task_retry = %d
host_down_after = %d
spawn_deadline = %d
[compute]
heartbeat_interval = %d
%s""" % (ARGS.pg_host, ARGS.pg_port, ARGS.bus_url, ARGS.wake_url, extra_bus, AGENT_TIMEOUT_S,
       TASK_RETRY_S, HOST_DOWN_S, SPAWN_DEADLINE_S, HEARTBEAT_S,
       "[identity]\ncredential_key = %s\n" % cred_key if cred_key else ""))


# ---- rows as nubo-api writes them -------------------------------------------------

IMAGE = str(uuid.uuid4())
# the sha512 of no bytes: the image row's os_hash_value, the spawn's image_hash
EMPTY_SHA512 = ("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
                "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")
CRED_KEY = "00" * 32


def new_instance(db, name="vm", vcpus=1, ram=512, disk=1, az="nova", host=None,
                 status="BUILD", vm_state="building", task_state="scheduling", power=0,
                 spawn=True, deleted=False, iid=None):
    iid = iid or str(uuid.uuid4())
    db.exec("INSERT INTO instances (id, name, project_id, user_id, flavor_id, image_id, vcpus,"
            " ram_mb, disk_gb, status, vm_state, task_state, power_state, az, host, key_name,"
            " public_key, user_data, deleted) VALUES (%s)" % ", ".join(map(lit, [
                iid, name, "p1", "u1", "f1", IMAGE, vcpus, ram, disk, status, vm_state,
                task_state, power, az, host, "key1", "ssh-ed25519 AAAA test", "I2Nsb3VkLWNvbmZpZw==",
                deleted])))
    tid = new_task(db, iid, "spawn") if spawn else None
    return iid, tid


def manage(*args):
    """nubo-manage against the test database; returns its stdout."""
    return subprocess.run([ARGS.manage, "-c", ARGS.conf] + list(args), check=True,
                          capture_output=True, text=True).stdout


def new_task(db, iid, action, task_state=None, host=None):
    """A pending task, queued by common/outbox (the code nubo-api uses)."""
    if task_state:
        db.exec("UPDATE instances SET task_state = %s WHERE id = %s" % (lit(task_state), lit(iid)))
    return manage("task-add", "instance", iid, action, *([host] if host else [])).strip()


WAKE = None


def wake():
    m = {"v": 2, "kind": "wake", "id": str(uuid.uuid4()), "body": {}}
    WAKE.send(json.dumps(m).encode())


def inst(db, iid):
    r = db.row("SELECT status, vm_state, power_state, coalesce(task_state, '-'),"
               " coalesce(host, '-'), coalesce(fault_message, '-'), deleted,"
               " launched_at IS NOT NULL, terminated_at IS NOT NULL, az"
               " FROM instances WHERE id = %s" % lit(iid))
    keys = ["status", "vm_state", "power", "task_state", "host", "fault", "deleted",
            "launched", "terminated", "az"]
    return dict(zip(keys, r))


def task(db, tid):
    r = db.row("SELECT status, coalesce(host, '-'), attempts, coalesce(error, '-')"
               " FROM tasks WHERE id = %s" % lit(tid))
    return dict(zip(["status", "host", "attempts", "error"], r))


def wait_inst(db, iid, what, timeout=8, **want):
    def ok():
        i = inst(db, iid)
        return i if all(i[k] == v for k, v in want.items()) else None
    try:
        return wait_for(ok, timeout, what)
    except Failure:
        raise Failure("%s: instance is %s, want %s" % (what, inst(db, iid), want))


def wait_task(db, tid, what, timeout=8, **want):
    def ok():
        t = task(db, tid)
        return t if all(t[k] == v for k, v in want.items()) else None
    try:
        return wait_for(ok, timeout, what)
    except Failure:
        raise Failure("%s: task is %s, want %s" % (what, task(db, tid), want))


# ---- the checks --------------------------------------------------------------------

S = {}  # state shared between checks


def t_check_config(db, sched):
    out = subprocess.run([ARGS.scheduler, "-n", "-c", sched.conf], capture_output=True, text=True)
    check(out.returncode == 0, "-n on a good file: rc %d: %s" % (out.returncode, out.stderr))
    check("database.conninfo = ***" in out.stdout, "-n masks conninfo: " + out.stdout)
    check("scheduler.agent_timeout = 4" in out.stdout, "-n prints values")
    bad = os.path.join(ARGS.tmp, "bad.conf")
    with open(bad, "w") as f:
        f.write("[scheduler]\nagent_timeout = soon\n")
    out = subprocess.run([ARGS.scheduler, "-n", "-c", bad], capture_output=True, text=True)
    check(out.returncode == 1, "-n on a bad file exits 1")
    # the reason goes to stderr, or (common/daemon.c's one -n format) to stdout as "# ..."
    check("scheduler.agent_timeout: value is not an integer" in out.stdout + out.stderr,
          out.stdout + out.stderr)


def t_start_migrates(db, sched):
    sched.start()
    check(db.val("SELECT max(version) FROM schema_version") == str(NEWEST), "schema applied")
    db.exec("INSERT INTO images (id, name, status, disk_format, container_format, checksum,"
            " os_hash_algo, os_hash_value)"
            " VALUES (%s, 'cirros', 'active', 'qcow2', 'bare', 'd41d8cd98f00b204e9800998ecf8427e',"
            " 'sha512', %s)" % (lit(IMAGE), lit(EMPTY_SHA512)))


def schema_dump(dbname):
    """The schema of dbname as pg_dump prints it, without comments and settings."""
    out = subprocess.run([os.path.join(os.path.dirname(ARGS.psql), "pg_dump"), "-h",
                          ARGS.pg_host, "-p", str(ARGS.pg_port), "-U", "postgres",
                          "--schema-only", "--no-owner", dbname], check=True,
                         capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l and not l.startswith(("--", "SET ", "SELECT ", "\\restrict", "\\unrestrict"))]


def t_migrations(db, sched):
    """Numbered migrations: a version-1 database with rows upgrades to the same schema
    as a fresh one, its tasks become instance tasks, and db-sync twice is a no-op."""
    db.exec("DROP DATABASE IF EXISTS nubo_v1")
    db.exec("CREATE DATABASE nubo_v1")
    v1 = DB(ARGS.pg_host, ARGS.pg_port)
    v1.base = [a if a != "nubo" else "nubo_v1" for a in v1.base]
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "common", "migrations", "0001_initial.sql")) as f:
        v1.exec(f.read() + "CREATE TABLE schema_version (version int NOT NULL);"
                " INSERT INTO schema_version VALUES (1);")
    iid, tid = str(uuid.uuid4()), str(uuid.uuid4())
    v1.exec("INSERT INTO instances (id, name, project_id, user_id, flavor_id, image_id, vcpus,"
            " ram_mb, disk_gb) VALUES (%s, 'old', 'p', 'u', 'f', %s, 1, 64, 1);"
            " INSERT INTO tasks (id, instance_id, action) VALUES (%s, %s, 'spawn')"
            % (lit(iid), lit(IMAGE), lit(tid), lit(iid)))
    conf = os.path.join(ARGS.tmp, "v1.conf")
    with open(ARGS.conf) as f:
        text = f.read().replace("dbname=nubo ", "dbname=nubo_v1 ")
    with open(conf, "w") as f:
        f.write(text)
    for n in (1, 2):
        out = subprocess.run([ARGS.manage, "-c", conf, "db-sync"], capture_output=True,
                             text=True)
        check(out.returncode == 0 and "schema version %d" % NEWEST in out.stdout,
              "db-sync #%d of a version-1 database: %s%s" % (n, out.stdout, out.stderr))
    check(v1.val("SELECT count(*) FROM schema_version") == str(NEWEST),
          "each migration applied once")
    check(v1.row("SELECT resource_kind, resource_id, agent_kind, payload::text FROM tasks"
                 " WHERE id = %s" % lit(tid)) == ["instance", iid, "compute", "{}"],
          "a version-1 task becomes an instance task of a compute agent")
    fresh, upgraded = schema_dump("nubo"), schema_dump("nubo_v1")
    diff = [l for l in set(fresh) ^ set(upgraded)]
    check(fresh == upgraded, "fresh and upgraded schemas differ: %s" % diff[:6])
    db.exec("DROP DATABASE nubo_v1")


def t_wake_bind_loopback(db, sched):
    """The wake socket takes no network input: a non-loopback wake_bind is refused."""
    for bad in ("tcp://0.0.0.0:5571", "tcp://10.1.2.3:5571", "tcp://*:5571",
                "tcp://127.0.0.1.evil:1"):
        conf = os.path.join(ARGS.tmp, "wake.conf")
        with open(ARGS.conf) as f:
            text = f.read().replace("wake_bind = %s" % ARGS.wake_url, "wake_bind = %s" % bad)
        with open(conf, "w") as f:
            f.write(text)
        out = subprocess.run([ARGS.scheduler, "-n", "-c", conf], capture_output=True, text=True)
        said = out.stdout + out.stderr
        check(out.returncode != 0 and "bus.wake_bind: value must be ipc://" in said,
              "wake_bind %s refused (rc %d: %s)" % (bad, out.returncode, said.strip()))


def t_no_host_is_up(db, sched):
    iid, tid = new_instance(db, name="lonely")
    wake()
    sleep(1)
    check(task(db, tid)["status"] == "pending", "spawn waits while agents may still say hello")
    wait_inst(db, iid, "no host up -> ERROR", status="ERROR", vm_state="error",
              task_state="-", fault="no compute host is up", host="-")
    wait_task(db, tid, "spawn failed", status="failed", error="no compute host is up")


def t_agent_registers(db, sched):
    a = Agent("node1", vcpus=4, ram_mb=8192, disk_gb=100)
    a.hello()
    S["node1"] = a
    wait_for(lambda: db.row("SELECT state, accel, az, vcpus, ram_mb, disk_gb FROM agents"
                            " WHERE host = 'node1'") == ["up", "tcg", "nova", "4", "8192", "100"],
             5, "agents row for node1")


def t_spawn(db, sched):
    a = S["node1"]
    iid, tid = new_instance(db, name="Web Server_1", vcpus=1, ram=2048, disk=10)
    t0 = time.time()
    wake()
    t = a.take_task(action="spawn", instance=iid)
    S["wake_latency"] = time.time() - t0
    check(t["task_id"] == tid, "task id is the outbox row's")
    want = {"name": "Web Server_1", "hostname": "web-server-1", "vcpus": 1, "ram_mb": 2048,
            "disk_gb": 10, "image_id": IMAGE,
            "image_url": "http://127.0.0.1:8080/image/v2/images/%s/file" % IMAGE,
            "image_checksum": "d41d8cd98f00b204e9800998ecf8427e", "image_format": "qcow2",
            "image_hash": EMPTY_SHA512,
            "key_name": "key1", "public_key": "ssh-ed25519 AAAA test",
            "user_data": "I2Nsb3VkLWNvbmZpZw=="}
    for k, v in want.items():
        got = t.get("payload", {}).get(k)
        check(got == v, "spawn field %s: %r, want %r" % (k, got, v))
    # the task leaves just before COMMIT: wait for the rows
    wait_inst(db, iid, "placed and spawning", host="node1", task_state="spawning",
              status="BUILD")
    wait_task(db, tid, "task dispatched", status="dispatched", host="node1", attempts="1")
    a.result(t, ok=True, state="running")
    wait_inst(db, iid, "spawn ok -> ACTIVE", status="ACTIVE", vm_state="active", power="1",
              task_state="-", launched="t", fault="-")
    wait_task(db, tid, "spawn done", status="done")
    S["vm1"] = iid


def t_no_host_fits(db, sched):
    iid, tid = new_instance(db, name="huge", vcpus=1, ram=65536, disk=1)
    wake()
    why = "no host has 65536 MB RAM free: node1 has 10240 MB"
    wait_inst(db, iid, "too big -> ERROR", status="ERROR", fault=why, host="-", task_state="-")
    wait_task(db, tid, "spawn failed", status="failed", error=why)
    iid2, tid2 = new_instance(db, name="wide", vcpus=128, ram=512, disk=1)
    wake()
    wait_inst(db, iid2, "too many vCPUs -> ERROR", status="ERROR",
              fault="no host has 128 vCPUs free: node1 has 63")
    iid3, _ = new_instance(db, name="deep", vcpus=1, ram=512, disk=500)
    wake()
    wait_inst(db, iid3, "too much disk -> ERROR", status="ERROR",
              fault="no host has 500 GB disk free: node1 has 90 GB")
    S["unplaced"] = iid


def t_delete_unplaced(db, sched):
    iid = S["unplaced"]
    tid = new_task(db, iid, "delete", task_state="deleting")
    wake()
    wait_inst(db, iid, "never placed -> deleted directly", status="DELETED", deleted="t",
              terminated="t", task_state="-", vm_state="deleted")
    wait_task(db, tid, "delete done", status="done")
    S["node1"].no_task(0.5, instance=iid)


def t_stop_start(db, sched):
    a, iid = S["node1"], S["vm1"]
    tid = new_task(db, iid, "stop", task_state="powering-off")
    wake()
    t = a.take_task(action="stop", instance=iid)
    check(t["task_id"] == tid and "payload" not in t, "stop task carries no spawn payload")
    a.result(t)
    wait_inst(db, iid, "stop ok -> SHUTOFF", status="SHUTOFF", vm_state="stopped", power="4",
              task_state="-")
    wait_task(db, tid, "stop done", status="done")
    tid = new_task(db, iid, "start", task_state="powering-on")
    wake()
    a.result(a.take_task(action="start", instance=iid))
    wait_inst(db, iid, "start ok -> ACTIVE", status="ACTIVE", vm_state="active", power="1",
              task_state="-")


def t_failed_action_keeps_state(db, sched):
    a, iid = S["node1"], S["vm1"]
    tid = new_task(db, iid, "pause", task_state="pausing")
    wake()
    a.result(a.take_task(action="pause", instance=iid), ok=False, state="running",
             error="pause is not supported here")
    wait_task(db, tid, "pause failed", status="failed", error="pause is not supported here")
    wait_inst(db, iid, "failed pause keeps ACTIVE", status="ACTIVE", vm_state="active",
              power="1", task_state="-", fault="pause is not supported here")
    # the next success clears the fault
    tid = new_task(db, iid, "suspend", task_state="suspending")
    wake()
    a.result(a.take_task(action="suspend", instance=iid))
    wait_inst(db, iid, "suspend ok", status="SUSPENDED", vm_state="suspended", power="7",
              fault="-")
    tid = new_task(db, iid, "resume", task_state="resuming")
    wake()
    a.result(a.take_task(action="resume", instance=iid))
    wait_inst(db, iid, "resume ok", status="ACTIVE", power="1", task_state="-")


def t_boot_volume_recheck(db, sched):
    """Review bfv 1: a start (any action that opens the root disk anew) of a
    volume-backed server whose boot volume is no longer attached to it is not sent: it
    fails and the server stays as it was; once the volume is its own again, it starts."""
    a, iid = S["node1"], S["vm1"]
    tid = new_task(db, iid, "stop", task_state="powering-off")
    wake()
    a.result(a.take_task(action="stop", instance=iid))
    wait_inst(db, iid, "stop ok", status="SHUTOFF", task_state="-")
    vol = str(uuid.uuid4())
    db.exec("INSERT INTO volumes (id, project_id, user_id, size_gb, status, type_id, host)"
            " VALUES (%s, 'p1', 'u1', 1, 'available', (SELECT id FROM volume_types LIMIT 1),"
            " 'st1')" % lit(vol))
    db.exec("UPDATE instances SET boot_volume_id = %s WHERE id = %s" % (lit(vol), lit(iid)))
    try:
        tid = new_task(db, iid, "start", task_state="powering-on")
        wake()
        wait_task(db, tid, "start of a detached boot volume fails", status="failed")
        check("not attached to instance" in task(db, tid)["error"], "why: %s" % task(db, tid))
        wait_inst(db, iid, "stays SHUTOFF", status="SHUTOFF", task_state="-")
        db.exec("UPDATE volumes SET attached_server = %s, status = 'in-use' WHERE id = %s"
                % (lit(iid), lit(vol)))
        tid = new_task(db, iid, "start", task_state="powering-on")
        wake()
        t = a.take_task(action="start", instance=iid)
        check(t["task_id"] == tid, "the failed start was never sent")
        a.result(t)
        wait_inst(db, iid, "start ok", status="ACTIVE", task_state="-")
    finally:
        db.exec("UPDATE instances SET boot_volume_id = NULL WHERE id = %s" % lit(iid))
        db.exec("DELETE FROM volumes WHERE id = %s" % lit(vol))


def t_clone_of_a_plugged_volume_goes_to_its_compute_host(db, sched):
    """A clone of a volume Compute has plugged into a server of the same machine is sent
    to the server's compute host (the storage agent cannot open a file a running QEMU
    holds), with the server and the volume's storage host in the payload; the clone is
    placed on that storage host, and the compute host's result makes it available. A
    volume plugged into a server of another machine is served to it over NBD: its clone
    and its forced snapshot go to its storage host (which copies it through the export),
    naming no server, and the storage host's result makes them available."""
    a, iid = S["node1"], S["vm1"]
    src, vid = str(uuid.uuid4()), str(uuid.uuid4())
    clone2, snap = str(uuid.uuid4()), str(uuid.uuid4())
    vtype = "(SELECT id FROM volume_types LIMIT 1)"
    db.exec("INSERT INTO volumes (id, project_id, user_id, size_gb, status, type_id, host,"
            " attached_server, attach_compute) VALUES (%s, 'p1', 'u1', 1, 'in-use', %s,"
            " 'node1-storage', %s, true)" % (lit(src), vtype, lit(iid)))
    db.exec("INSERT INTO volumes (id, project_id, user_id, size_gb, status, type_id,"
            " source_volid) VALUES (%s, 'p1', 'u1', 2, 'creating', %s, %s)"
            % (lit(vid), vtype, lit(src)))
    st = Agent("st1", kind="storage")
    try:
        manage("task-add", "volume", vid, "create")
        wake()
        t = a.take_task(action="create", instance=vid)
        p = t.get("payload", {})
        check(t["resource_kind"] == "volume" and p.get("instance_id") == iid and
              p.get("storage_host") == "node1-storage" and p.get("source") == "volume" and
              p.get("source_id") == src and p.get("size_gb") == 2, "payload %s" % t)
        check(db.val("SELECT host FROM volumes WHERE id = %s" % lit(vid)) ==
              "node1-storage", "the clone is placed on the source's storage host")
        a.send("result", {"task_id": t["task_id"], "resource_kind": "volume",
                          "resource_id": vid, "ok": True, "state": "available"})
        wait_for(lambda: db.val("SELECT status FROM volumes WHERE id = %s" % lit(vid)) ==
                 "available", what="the clone available")

        # the volume on another machine's storage agent, served to the server over NBD
        st.hello()
        wait_for(lambda: db.val("SELECT count(*) FROM agents WHERE host = 'st1'") == "1", 8,
                 "the storage agent to register")
        db.exec("UPDATE volumes SET host = 'st1' WHERE id = %s" % lit(src))
        db.exec("INSERT INTO volumes (id, project_id, user_id, size_gb, status, type_id,"
                " source_volid) VALUES (%s, 'p1', 'u1', 1, 'creating', %s, %s)"
                % (lit(clone2), vtype, lit(src)))
        db.exec("INSERT INTO volume_snapshots (id, project_id, user_id, volume_id, size_gb,"
                " status) VALUES (%s, 'p1', 'u1', %s, 1, 'creating')" % (lit(snap), lit(src)))
        for kind, rid in (("volume", clone2), ("snapshot", snap)):
            manage("task-add", kind, rid, "create")
            wake()
            t = st.take_task(action="create", instance=rid)
            p = t.get("payload", {})
            check(t["resource_kind"] == kind and not p.get("instance_id") and
                  not p.get("storage_host"), "to the storage host, no server: %s" % t)
            a.no_task(0.3, action="create", instance=rid)
            st.send("result", {"task_id": t["task_id"], "resource_kind": kind,
                               "resource_id": rid, "ok": True, "state": "available"})
        check(db.val("SELECT host FROM volumes WHERE id = %s" % lit(clone2)) == "st1",
              "the clone is placed on the source's storage host")
        wait_for(lambda: db.val("SELECT status FROM volumes WHERE id = %s" % lit(clone2)) ==
                 "available" and db.val("SELECT status FROM volume_snapshots WHERE id = %s"
                                        % lit(snap)) == "available",
                 what="the clone and the snapshot available")
    finally:
        st.close()
        db.exec("DELETE FROM tasks WHERE resource_id IN (%s, %s, %s, %s)"
                % (lit(src), lit(vid), lit(clone2), lit(snap)))
        db.exec("DELETE FROM volume_snapshots WHERE id = %s" % lit(snap))
        db.exec("DELETE FROM volumes WHERE id IN (%s, %s, %s)"
                % (lit(vid), lit(clone2), lit(src)))


def t_backup_of_a_plugged_volume_copies_first(db, sched):
    """Issue 9: a forced backup of a volume a server of the same machine has plugged is
    one task in two hops: a copy on the server's compute host (the volume, the server and
    the storage host; no credentials), sent again to the same host after a scheduler
    restart; then, once copied, the create to the storage host with copied set and the
    owner's token. A failed copy makes the backup error with the reason. A copy the
    storage host lists whose backup has no open task gets a drop (a task with no row);
    one whose backup's task is open does not."""
    a, iid = S["node1"], S["vm1"]
    vol, bk, bk2, bk3 = (str(uuid.uuid4()) for _ in range(4))
    vtype = "(SELECT id FROM volume_types LIMIT 1)"
    db.exec("INSERT INTO volumes (id, project_id, user_id, size_gb, status, type_id, host,"
            " attached_server, attach_compute) VALUES (%s, 'p1', 'u1', 1, 'in-use', %s,"
            " 'node1-storage', %s, true)" % (lit(vol), vtype, lit(iid)))
    st = Agent("node1-storage", kind="storage")
    payload = json.dumps({"token": "nubs-secret", "swift_url": "http://127.0.0.1:1/v1/AUTH_p1",
                          "force": True})

    def backup(bid):
        db.exec("INSERT INTO volume_backups (id, project_id, user_id, volume_id, size_gb,"
                " container) VALUES (%s, 'p1', 'u1', %s, 1, 'volumebackups')"
                % (lit(bid), lit(vol)))
        tid = str(uuid.uuid4())
        db.exec("INSERT INTO tasks (id, resource_kind, resource_id, agent_kind, action,"
                " payload, status) VALUES (%s, 'backup', %s, 'storage', 'create', %s::jsonb,"
                " 'pending')" % (lit(tid), lit(bid), lit(payload)))
        wake()
        return tid

    def bstatus(bid):
        return db.val("SELECT status FROM volume_backups WHERE id = %s" % lit(bid))
    try:
        st.hello()
        wait_for(lambda: db.val("SELECT count(*) FROM agents WHERE host = 'node1-storage'")
                 == "1", 8, "the storage agent to register")
        tid = backup(bk)
        t = a.take_task(action="copy", instance=bk)
        p = t.get("payload", {})
        check(t["task_id"] == tid and t["resource_kind"] == "backup" and
              p.get("volume_id") == vol and p.get("instance_id") == iid and
              p.get("storage_host") == "node1-storage" and "token" not in json.dumps(t),
              "the copy to the compute host: %s" % t)
        st.no_task(0.3, instance=bk)
        # the scheduler restarts while the copy is made: the same hop goes to the same host
        check(sched.stop() == 0, "SIGTERM exits 0")
        sched.start()
        t = a.take_task(action="copy", instance=bk, timeout=10)
        check(t["task_id"] == tid and t["payload"].get("instance_id") == iid,
              "the copy sent again: %s" % t)
        # sent twice (an ack lost on a reconnect): the second is no answer to the read
        # hop (review s12 H1: it made the backup available with nothing read)
        for _ in range(2):
            a.send("result", {"task_id": tid, "resource_kind": "backup", "resource_id": bk,
                              "ok": True, "state": "available"})
        t = st.take_task(action="create", instance=bk)
        p = t.get("payload", {})
        check(t["task_id"] == tid and p.get("copied") is True and p.get("volume_id") == vol
              and p.get("token") == "nubs-secret", "the read of the copy: %s" % t)
        check(bstatus(bk) == "creating", "creating until the storage host answers")
        # a copy listed while its backup's task is open stays
        st.copies.append(bk)
        st.report()
        st.no_task(1.5, action="drop-copy", instance=bk)
        st.send("result", {"task_id": tid, "resource_kind": "backup", "resource_id": bk,
                           "ok": True, "state": "available", "count": 2})
        wait_for(lambda: bstatus(bk) == "available", what="the backup available")
        wait_task(db, tid, "backup done", status="done")
        check(db.val("SELECT payload ? 'token' FROM tasks WHERE id = %s" % lit(tid)) == "f",
              "the token left the task")
        # listed once its task is over (the storage host died before removing it): dropped
        t = st.take_task(action="drop-copy", instance=bk, timeout=10)
        check(t["resource_kind"] == "backup" and t["task_id"] != tid, "the drop: %s" % t)
        st.copies.remove(bk)

        # a copy that fails: the backup is error with the compute host's reason
        tid2 = backup(bk2)
        t = a.take_task(action="copy", instance=bk2)
        a.send("result", {"task_id": tid2, "resource_kind": "backup", "resource_id": bk2,
                          "ok": False, "state": "error", "error": "disk full"})
        wait_for(lambda: bstatus(bk2) == "error", what="the backup error")
        reason = db.val("SELECT fail_reason FROM volume_backups WHERE id = %s" % lit(bk2))
        check("point-in-time copy" in reason and "disk full" in reason, reason)
        st.no_task(0.5, action="create", instance=bk2)

        # the volume unplugged from the server during the copy (and plugged into another
        # that may have written it): no point-in-time copy, the backup is error
        tid3 = backup(bk3)
        t = a.take_task(action="copy", instance=bk3)
        db.exec("UPDATE volumes SET attached_server = %s WHERE id = %s"
                % (lit(str(uuid.uuid4())), lit(vol)))
        a.send("result", {"task_id": tid3, "resource_kind": "backup", "resource_id": bk3,
                          "ok": True, "state": "available"})
        wait_for(lambda: bstatus(bk3) == "error", what="the backup error")
        reason = db.val("SELECT fail_reason FROM volume_backups WHERE id = %s" % lit(bk3))
        check("detached" in reason, reason)
        st.no_task(0.5, action="create", instance=bk3)
    finally:
        st.close()
        db.exec("DELETE FROM tasks WHERE resource_id IN (%s, %s, %s)"
                % (lit(bk), lit(bk2), lit(bk3)))
        db.exec("DELETE FROM volume_backups WHERE id IN (%s, %s, %s)"
                % (lit(bk), lit(bk2), lit(bk3)))
        db.exec("DELETE FROM volumes WHERE id = %s" % lit(vol))


def t_attach_across_hosts(db, sched):
    """Issue 9: a volume of another machine's storage agent is attached in two hops of
    one task: the storage host first (attachment id and the key derived from the
    credential key), then the compute host with the export's address; a detach goes to
    the compute host and then stops the export; an export the storage host still lists
    for a volume no longer attached gets a stop from its heartbeat; a volume of the same
    machine goes straight to the compute host."""
    a, iid = S["node1"], S["vm1"]
    st = Agent("st1", kind="storage")
    st.hello()
    wait_for(lambda: db.val("SELECT count(*) FROM agents WHERE host = 'st1'") == "1", 8,
             "the storage agent to register")
    vol, att = str(uuid.uuid4()), str(uuid.uuid4())
    db.exec("INSERT INTO volumes (id, project_id, user_id, size_gb, status, type_id, host,"
            " attached_server, attachment_id) VALUES (%s, 'p1', 'u1', 1, 'attaching',"
            " (SELECT id FROM volume_types LIMIT 1), 'st1', %s, %s)"
            % (lit(vol), lit(iid), lit(att)))
    psk = hmac.new(bytes.fromhex(CRED_KEY), ("nbd-psk:" + att).encode(),
                   hashlib.sha256).hexdigest()
    try:
        # without [identity] credential_key there is no export key: the attach fails
        tid = manage("task-add", "attachment", vol, "attach").strip()
        wake()
        wait_task(db, tid, "attach without a credential key fails", status="failed")
        check("credential_key" in task(db, tid)["error"], "why: %s" % task(db, tid))
        check(db.val("SELECT status FROM volumes WHERE id = %s" % lit(vol)) == "available",
              "the volume is available again")
        st.no_task(0.5, action="attach", instance=vol)
        write_conf(sched.conf, cred_key=CRED_KEY)
        sched.stop()
        sched.start()
        db.exec("UPDATE volumes SET status = 'attaching', attached_server = %s,"
                " attachment_id = %s WHERE id = %s" % (lit(iid), lit(att), lit(vol)))
        tid = manage("task-add", "attachment", vol, "attach").strip()
        wake()
        t = st.take_task(action="attach", instance=vol)
        p = t["payload"]
        check(t["task_id"] == tid and p["instance_id"] == iid, "first hop: %s" % t)
        check(p["attachment_id"] == att and p["psk"] == psk, "the export's key: %s" % p)
        check(not p.get("nbd_port"), "no export yet: %s" % p)
        a.no_task(0.5, action="attach", instance=vol)
        st.exports.append(vol)
        st.send("result", {"task_id": tid, "resource_kind": "attachment", "resource_id": vol,
                           "ok": True, "state": "attached", "export_host": "10.0.0.9",
                           "export_port": 10811})
        t = a.take_task(action="attach", instance=vol)
        p = t["payload"]
        check(t["task_id"] == tid, "second hop is the same task: %s" % t)
        check(p["nbd_host"] == "10.0.0.9" and p["nbd_port"] == 10811 and p["psk"] == psk and
              p["attachment_id"] == att, "second hop: %s" % p)
        a.send("result", {"task_id": tid, "resource_kind": "attachment", "resource_id": vol,
                          "ok": True, "state": "attached"})
        wait_task(db, tid, "attach done", status="done", host="node1")
        check(db.row("SELECT status FROM volumes WHERE id = %s" % lit(vol))[0] == "in-use",
              "the volume is in-use")
        # the heartbeat lists the export of an attached volume: no stop
        st.no_task(2.5, action="detach", instance=vol)

        db.exec("UPDATE volumes SET status = 'detaching' WHERE id = %s" % lit(vol))
        tid = manage("task-add", "attachment", vol, "detach").strip()
        wake()
        t = a.take_task(action="detach", instance=vol)
        check(not t["payload"].get("psk"), "a detach carries no key: %s" % t)
        a.send("result", {"task_id": tid, "resource_kind": "attachment", "resource_id": vol,
                          "ok": True, "state": "detached"})
        wait_task(db, tid, "detach done", status="done")
        t = st.take_task(action="detach", instance=vol)
        check(t["payload"].get("attachment_id") == att and t["task_id"] != tid,
              "the export's stop names its attachment: %s" % t)
        # the stop was lost: the heartbeat check sends one for whatever is exported
        t = st.take_task(timeout=20, action="detach", instance=vol)
        check(not t["payload"].get("attachment_id"), "heartbeat stop: %s" % t)
        st.exports.remove(vol)

        # same machine: straight to the compute host, no key
        db.exec("UPDATE volumes SET status = 'attaching', host = 'node1-storage',"
                " attached_server = %s, attachment_id = %s WHERE id = %s"
                % (lit(iid), lit(str(uuid.uuid4())), lit(vol)))
        tid = manage("task-add", "attachment", vol, "attach").strip()
        wake()
        t = a.take_task(action="attach", instance=vol)
        check(not t["payload"].get("psk") and not t["payload"].get("nbd_port"),
              "a local attach: %s" % t)
        a.send("result", {"task_id": tid, "resource_kind": "attachment", "resource_id": vol,
                          "ok": True, "state": "attached"})
        wait_task(db, tid, "local attach done", status="done")
        st.no_task(0.5, action="attach", instance=vol)
        # review s9 L1: an export left of the volume is not wanted by a storage host
        # that no longer holds it, nor by the one that does while its server is on
        # the same machine (the server opens the file, which the export would lock)
        st2 = Agent("node1-storage", kind="storage")
        st2.hello()
        wait_for(lambda: db.val("SELECT count(*) FROM agents WHERE host = 'node1-storage'")
                 == "1", 8, "the local storage agent to register")
        st.exports.append(vol)
        st2.exports.append(vol)
        for agent in (st, st2):
            t = agent.take_task(timeout=20, action="detach", instance=vol)
            check(not t["payload"].get("attachment_id"), "stale export stop: %s" % t)
        st2.close()
    finally:
        st.close()
        db.exec("DELETE FROM volumes WHERE id = %s" % lit(vol))
        write_conf(sched.conf)  # the checks after this one run without the key
        sched.stop()
        sched.start()


def t_boot_volume_across_hosts(db, sched):
    """Issue 9: a server booting from a volume of another machine's storage agent: the
    spawn waits while an attach task of the boot volume takes one hop (the storage host
    exports it for the boot volume's attachment id with the derived key), then goes to
    the compute host with the export and the key; a failed export fails the spawn and
    leaves the volume the server's (its export stopped); a delete of the server stops
    the export."""
    a = S["node1"]
    write_conf(sched.conf, cred_key=CRED_KEY)
    sched.stop()
    sched.start()
    st = Agent("st3", kind="storage")
    st.hello()
    wait_for(lambda: db.val("SELECT count(*) FROM agents WHERE host = 'st3'") == "1", 8,
             "the storage agent to register")
    made = []

    def bfv():
        iid, _ = new_instance(db, name="bfv", host="node1", spawn=False)
        vol, att = str(uuid.uuid4()), str(uuid.uuid4())
        db.exec("INSERT INTO volumes (id, project_id, user_id, size_gb, status, type_id, host,"
                " attached_server, attachment_id) VALUES (%s, 'p1', 'u1', 1, 'in-use',"
                " (SELECT id FROM volume_types LIMIT 1), 'st3', %s, %s)"
                % (lit(vol), lit(iid), lit(att)))
        db.exec("UPDATE instances SET boot_volume_id = %s, image_id = '' WHERE id = %s"
                % (lit(vol), lit(iid)))
        made.append((iid, vol))
        return iid, vol, att, new_task(db, iid, "spawn")

    try:
        iid, vol, att, tid = bfv()
        psk = hmac.new(bytes.fromhex(CRED_KEY), ("nbd-psk:" + att).encode(),
                       hashlib.sha256).hexdigest()
        wake()
        t = st.take_task(action="attach", instance=vol)
        check(t["task_id"] != tid and t["payload"]["attachment_id"] == att and
              t["payload"]["psk"] == psk, "the boot volume's export is asked for: %s" % t)
        a.no_task(0.5, action="spawn", instance=iid)
        check(task(db, tid)["status"] == "pending", "the spawn waits: %s" % task(db, tid))
        st.exports.append(vol)
        st.send("result", {"task_id": t["task_id"], "resource_kind": "attachment",
                           "resource_id": vol, "ok": True, "state": "attached",
                           "export_host": "10.0.0.9", "export_port": 10812})
        s = a.take_task(action="spawn", instance=iid)
        p = s["payload"]
        check(s["task_id"] == tid and p["boot_volume_id"] == vol and
              p["nbd_host"] == "10.0.0.9" and p["nbd_port"] == 10812 and
              p["attachment_id"] == att and p["psk"] == psk, "the spawn: %s" % p)
        st.no_task(0.5, action="attach", instance=vol)
        a.result(s, ok=True, state="running")
        wait_inst(db, iid, "spawn ok -> ACTIVE", status="ACTIVE", task_state="-")
        check(db.val("SELECT status FROM volumes WHERE id = %s" % lit(vol)) == "in-use",
              "the boot volume stays in-use")

        # the export fails: so does the spawn; the root disk is not detached
        iid2, vol2, att2, tid2 = bfv()
        wake()
        t = st.take_task(action="attach", instance=vol2)
        st.send("result", {"task_id": t["task_id"], "resource_kind": "attachment",
                           "resource_id": vol2, "ok": False, "state": "error",
                           "error": "no free port"})
        wait_task(db, tid2, "the spawn fails", status="failed")
        check("could not export the volume: no free port" in task(db, tid2)["error"],
              "why: %s" % task(db, tid2))
        check(db.row("SELECT status, attached_server FROM volumes WHERE id = %s"
                     % lit(vol2)) == ["in-use", iid2], "the volume stays the server's")
        t = st.take_task(action="detach", instance=vol2)
        check(t["payload"].get("attachment_id") == att2, "its export is stopped: %s" % t)
        a.no_task(0.5, action="spawn", instance=iid2)
        tid2 = new_task(db, iid2, "delete", task_state="deleting")
        wake()
        a.result(a.take_task(action="delete", instance=iid2), ok=True, state="deleted")
        wait_task(db, tid2, "delete of the failed server done", status="done")

        # the server's delete stops its boot volume's export
        tid = new_task(db, iid, "delete", task_state="deleting")
        wake()
        a.result(a.take_task(action="delete", instance=iid), ok=True, state="deleted")
        wait_task(db, tid, "delete done", status="done")
        t = st.take_task(action="detach", instance=vol)
        check(t["payload"].get("attachment_id") == att, "the export's stop: %s" % t)
        st.exports.remove(vol)
    finally:
        st.close()
        for iid, vol in made:
            db.exec("UPDATE instances SET boot_volume_id = NULL WHERE id = %s" % lit(iid))
            db.exec("DELETE FROM volumes WHERE id = %s" % lit(vol))
        write_conf(sched.conf)
        sched.stop()
        sched.start()


def t_failed_spawn_is_error(db, sched):
    a = S["node1"]
    iid, tid = new_instance(db, name="broken")
    wake()
    a.result(a.take_task(action="spawn", instance=iid), ok=False, state="deleted",
             error="qemu-img: image is corrupt")
    wait_inst(db, iid, "failed spawn -> ERROR", status="ERROR", vm_state="error", power="0",
              fault="qemu-img: image is corrupt", task_state="-", host="node1")
    wait_task(db, tid, "spawn failed", status="failed", error="qemu-img: image is corrupt")
    # deleting an ERROR instance on a host goes to that host
    tid = new_task(db, iid, "delete", task_state="deleting")
    wake()
    a.result(a.take_task(action="delete", instance=iid))
    wait_inst(db, iid, "delete of ERROR", status="DELETED", deleted="t")


def t_disk_qos(db, sched):
    """The spawn payload carries the root disk's I/O limits from the instance's copy of
    its flavor's extra specs (quota:disk_*, other specs left out); a stored value QEMU
    would refuse (written beside the API) fails the spawn, naming the key."""
    a = S["node1"]
    iid, tid = new_instance(db, name="limited", spawn=False)
    db.exec("UPDATE instances SET flavor_name = 'f-qos', flavor_extra_specs ="
            " '{\"quota:disk_read_bytes_sec\": \"1048576\", \"quota:disk_write_iops_sec\":"
            " \"50\", \"hw:cpu_policy\": \"shared\"}' WHERE id = %s" % lit(iid))
    tid = new_task(db, iid, "spawn")
    wake()
    t = a.take_task(action="spawn", instance=iid)
    got = t.get("payload", {}).get("disk_qos")
    check(got == {"read_bytes_sec": 1048576, "write_iops_sec": 50}, "disk_qos: %r" % got)
    a.result(t, ok=False, state="deleted", error="test: not started")
    wait_task(db, tid, "spawn closed", status="failed")
    db.exec("UPDATE instances SET deleted = true, status = 'DELETED' WHERE id = %s" % lit(iid))

    iid, tid = new_instance(db, name="bad-limits", spawn=False)
    db.exec("UPDATE instances SET flavor_name = 'f-bad', flavor_extra_specs ="
            " '{\"quota:disk_total_bytes_sec\": \"abc\"}' WHERE id = %s" % lit(iid))
    tid = new_task(db, iid, "spawn")
    wake()
    wait_task(db, tid, "a spawn with bad limits fails unsent", status="failed")
    err = task(db, tid)["error"]
    check("f-bad" in err and "quota:disk_total_bytes_sec" in err, "why: %s" % err)
    wait_inst(db, iid, "ERROR", status="ERROR")
    db.exec("UPDATE instances SET deleted = true, status = 'DELETED' WHERE id = %s" % lit(iid))


def t_retry(db, sched):
    a, iid = S["node1"], S["vm1"]
    tid = new_task(db, iid, "reboot", task_state="rebooting")
    wake()
    first = a.take_task(action="reboot", instance=iid)
    again = a.take_task(action="reboot", instance=iid, timeout=TASK_RETRY_S + 4)
    check(again["task_id"] == first["task_id"] == tid, "the same task is sent again")
    check(task(db, tid)["attempts"] == "2", "attempts counts sends: %s" % task(db, tid))
    a.result(again)
    a.result(first)  # a late duplicate answer changes nothing
    wait_task(db, tid, "reboot done", status="done")
    wait_inst(db, iid, "reboot ok", status="ACTIVE", task_state="-")


def t_retry_until_deadline(db, sched):
    """A task without a result is sent again until its deadline, however many sends that
    takes: a cap on sends (10 x task_retry = 600 s) failed long spawns before their
    900 s deadline."""
    a, iid = S["node1"], S["vm1"]
    tid = new_task(db, iid, "reboot", task_state="rebooting")
    wake()
    a.take_task(action="reboot", instance=iid)
    db.exec("UPDATE tasks SET attempts = 10 WHERE id = %s" % lit(tid))
    again = a.take_task(action="reboot", instance=iid, timeout=TASK_RETRY_S + 4)
    check(again["task_id"] == tid, "sent again after 10 sends")
    check(task(db, tid)["status"] == "dispatched", "still open: %s" % task(db, tid))
    a.result(again)
    wait_task(db, tid, "reboot done", status="done")
    wait_inst(db, iid, "reboot ok", status="ACTIVE", task_state="-")


def t_console(db, sched):
    a, iid = S["node1"], S["vm1"]

    def log():
        # newlines shown as '~' so psql's line-based output keeps one row
        return db.val("SELECT translate(log, E'\\n', '~') FROM instance_console"
                      " WHERE instance_id = %s" % lit(iid))

    def length():
        return db.val("SELECT length(log) FROM instance_console WHERE instance_id = %s"
                      % lit(iid))
    a.send("console", {"instance_id": iid, "data": "hello\n"})
    a.send("console", {"instance_id": iid, "data": "wor\x01ld\n"})
    wait_for(lambda: log() == "hello~wor?ld~", 5, "console appended and sanitised")
    a.send("console", {"instance_id": iid, "reset": True, "data": "fresh boot\n"})
    wait_for(lambda: log() == "fresh boot~", 5, "console reset")
    for n in range(5):
        a.send("console", {"instance_id": iid, "data": chr(ord("a") + n) * 60000})
    wait_for(lambda: length() == str(256 * 1024), 5, "console kept to 256 KiB")
    check(db.val("SELECT right(log, 1) || left(log, 1) FROM instance_console WHERE"
                 " instance_id = %s" % lit(iid)) == "ea", "the tail is kept")
    # another host cannot write this instance's console
    b = Agent("intruder", ram_mb=1)
    b.beating = False
    b.send("console", {"instance_id": iid, "reset": True, "data": "pwned"})
    wait_for(lambda: "console for %s from intruder: not an instance of that host" % iid
             in sched.text(), 5, "console from another host refused")
    b.close()
    check(length() == str(256 * 1024), "console of another host's instance is unchanged")


def t_events(db, sched):
    a, iid = S["node1"], S["vm1"]
    a.vms[iid] = "paused"
    a.send("event", {"resource_kind": "instance", "resource_id": iid, "state": "paused", "reason": "guest paused"})
    wait_inst(db, iid, "event paused", status="PAUSED", vm_state="paused", power="3")
    a.vms[iid] = "running"
    a.send("event", {"resource_kind": "instance", "resource_id": iid, "state": "running"})
    wait_inst(db, iid, "event running", status="ACTIVE", power="1")
    # an event while a task is open is left to the task's result
    tid = new_task(db, iid, "stop", task_state="powering-off")
    wake()
    t = a.take_task(action="stop", instance=iid)
    a.send("event", {"resource_kind": "instance", "resource_id": iid, "state": "error", "reason": "should be ignored"})
    sleep(0.5)
    check(inst(db, iid)["status"] == "ACTIVE", "event ignored while a task is open")
    a.result(t)
    wait_inst(db, iid, "stop ok", status="SHUTOFF")
    wait_task(db, tid, "stop done", status="done")
    a.vms[iid] = "error"
    a.send("event", {"resource_kind": "instance", "resource_id": iid, "state": "error", "reason": "QEMU exited"})
    wait_inst(db, iid, "event error -> ERROR", status="ERROR", power="6",
              fault="instance failed on host node1: QEMU exited")
    # ERROR is sticky; only the power state follows
    a.vms[iid] = "running"
    a.send("event", {"resource_kind": "instance", "resource_id": iid, "state": "running"})
    wait_inst(db, iid, "ERROR keeps status", status="ERROR", power="1")
    # a start moves it on again
    new_task(db, iid, "start", task_state="powering-on")
    wake()
    a.result(a.take_task(action="start", instance=iid))
    wait_inst(db, iid, "start from ERROR", status="ACTIVE", fault="-")


def t_reconcile(db, sched):
    a, iid = S["node1"], S["vm1"]
    # the guest powered itself off: after the settle time the report wins
    a.vms[iid] = "shutoff"
    wait_inst(db, iid, "reported shutoff wins", timeout=10, status="SHUTOFF", vm_state="stopped",
              power="4")
    a.vms[iid] = "running"
    wait_inst(db, iid, "reported running wins", timeout=10, status="ACTIVE", power="1")
    # the database expects an instance the host does not run
    gone, _ = new_instance(db, name="gone", host="node1", status="ACTIVE", vm_state="active",
                           task_state=None, power=1, spawn=False)
    wait_inst(db, gone, "vanished -> ERROR", timeout=10, status="ERROR", power="0",
              fault="instance vanished from host node1")
    # the host runs an instance the database never had: a delete without a row
    stray = str(uuid.uuid4())
    a.vms[stray] = "running"
    t = a.take_task(action="delete", instance=stray, timeout=5)
    check(db.val("SELECT count(*) FROM tasks WHERE id = %s" % lit(t["task_id"])) == "0",
          "no task row for an unknown instance")
    a.result(t)
    check(stray not in a.vms, "fake agent deleted it")
    # the host runs an instance the database has deleted: a delete task row is queued
    dead, _ = new_instance(db, name="dead", host="node1", status="DELETED", vm_state="deleted",
                           task_state=None, spawn=False, deleted=True)
    a.vms[dead] = "running"
    t = a.take_task(action="delete", instance=dead, timeout=5)
    row = db.row("SELECT action, host, status FROM tasks WHERE id = %s" % lit(t["task_id"]))
    check(row == ["delete", "node1", "dispatched"], "queued delete task row: %s" % row)
    a.result(t)
    wait_task(db, t["task_id"], "stray delete done", status="done")
    check(inst(db, dead)["status"] == "DELETED", "a deleted row stays deleted")
    # the host runs a copy of an instance placed on another host
    other, _ = new_instance(db, name="elsewhere", host="node9", status="ACTIVE",
                            vm_state="active", task_state=None, power=1, spawn=False)
    a.vms[other] = "running"
    t = a.take_task(action="delete", instance=other, timeout=5)
    a.result(t)
    wait_task(db, t["task_id"], "copy delete done", status="done")
    i = inst(db, other)
    check(i["status"] == "ACTIVE" and i["host"] == "node9", "the real one is untouched: %s" % i)
    a.no_task(1.5, action="delete")


def t_agent_down(db, sched):
    a, iid = S["node1"], S["vm1"]
    a.beating = False
    wait_for(lambda: db.val("SELECT state FROM agents WHERE host = 'node1'") == "down",
             AGENT_TIMEOUT_S + 4, "node1 marked down")
    check("agent node1 is down" in sched.text(), "down is logged")
    tid = new_task(db, iid, "stop", task_state="powering-off")
    wake()
    sleep(1.5)
    check(task(db, tid)["status"] == "pending", "task for a down host stays pending")
    a.beating = True
    t = a.take_task(action="stop", instance=iid)
    check(db.val("SELECT state FROM agents WHERE host = 'node1'") == "up", "node1 back up")
    a.result(t)
    wait_inst(db, iid, "stop after return", status="SHUTOFF")
    new_task(db, iid, "start", task_state="powering-on")
    wake()
    a.result(a.take_task(action="start", instance=iid))
    wait_inst(db, iid, "start", status="ACTIVE", task_state="-")


def t_placement(db, sched):
    b = Agent("node2", vcpus=8, ram_mb=16384, disk_gb=200, az="az1")
    b.hello()
    S["node2"] = b
    wait_for(lambda: db.val("SELECT state FROM agents WHERE host = 'node2'") == "up", 5,
             "node2 registered")
    iid, _ = new_instance(db, name="anywhere", ram=1024)
    wake()
    b.result(b.take_task(action="spawn", instance=iid))
    wait_inst(db, iid, "most free RAM wins, default zone means any", status="ACTIVE",
              host="node2", az="az1")
    iid, _ = new_instance(db, name="zoned", ram=512, az="az1")
    wake()
    b.result(b.take_task(action="spawn", instance=iid))
    wait_inst(db, iid, "zone az1", status="ACTIVE", host="node2", az="az1")
    iid, _ = new_instance(db, name="nozone", az="az9")
    wake()
    wait_inst(db, iid, "unknown zone -> ERROR", status="ERROR",
              fault='no host is in availability zone "az9": node1 is in "nova", node2 is in "az1"')
    # usage counts: fill node2 so node1 has more free RAM
    iid, _ = new_instance(db, name="big", ram=20000)
    wake()
    b.result(b.take_task(action="spawn", instance=iid))
    wait_inst(db, iid, "big on node2", status="ACTIVE", host="node2")
    iid, _ = new_instance(db, name="after", ram=512)
    wake()
    S["node1"].result(S["node1"].take_task(action="spawn", instance=iid))
    wait_inst(db, iid, "usage moves the next one to node1", status="ACTIVE", host="node1")


def t_aggregate_zones(db, sched):
    """An aggregate's availability_zone overrides the zone an agent reports (migration
    0009's compute_host_zones): placement and the instance's recorded zone follow it."""
    check(db.val("SELECT count(*) FROM control_services WHERE binary_name = 'nubo-scheduler'")
          == "1", "the scheduler recorded its host in control_services")
    db.exec("INSERT INTO aggregates (name) VALUES ('agg1'), ('agg2')")
    db.exec("INSERT INTO aggregate_hosts (aggregate_id, host) SELECT id, 'node1' FROM"
            " aggregates WHERE name = 'agg1'")
    db.exec("INSERT INTO aggregate_metadata (aggregate_id, key, value) SELECT id,"
            " 'availability_zone', 'agz' FROM aggregates WHERE name = 'agg1'")
    iid, _ = new_instance(db, name="in-agz", ram=256, az="agz")
    wake()
    S["node1"].result(S["node1"].take_task(action="spawn", instance=iid))
    wait_inst(db, iid, "the aggregate's zone puts it on node1", status="ACTIVE", host="node1",
              az="agz")
    # an aggregate without a zone changes nothing; one with a zone takes node2 out of az1
    db.exec("INSERT INTO aggregate_hosts (aggregate_id, host) SELECT id, 'node2' FROM"
            " aggregates WHERE name = 'agg2'")
    iid, _ = new_instance(db, name="still-az1", ram=256, az="az1")
    wake()
    S["node2"].result(S["node2"].take_task(action="spawn", instance=iid))
    wait_inst(db, iid, "no zone in agg2: node2 stays in az1", status="ACTIVE", host="node2")
    db.exec("INSERT INTO aggregate_metadata (aggregate_id, key, value) SELECT id,"
            " 'availability_zone', 'agz2' FROM aggregates WHERE name = 'agg2'")
    iid, _ = new_instance(db, name="lost-az1", az="az1")
    wake()
    wait_inst(db, iid, "az1 is empty now -> ERROR", status="ERROR",
              fault='no host is in availability zone "az1": node1 is in "agz", node2 is in'
                    ' "agz2"')
    db.exec("DELETE FROM aggregates WHERE name IN ('agg1', 'agg2')")


def t_volume_locality(db, sched):
    """Issue 9 (s10): a server booting from a volume prefers the compute host on the
    volume's machine (hc1, beside its storage agent hc1-storage) over hosts with more
    free RAM, and lands elsewhere (over NBD) when that host is full or down; a boot
    volume made for an unplaced server goes where the server will be placed (the
    machine with both agents), not to the storage host with the most space (st9), and
    elsewhere when the server cannot go there; the local_to_instance hint puts a volume
    on the server's machine or fails it with the reason."""
    write_conf(sched.conf, cred_key=CRED_KEY)
    sched.stop()
    sched.start()
    hc = Agent("hc1", vcpus=4, ram_mb=2048, disk_gb=100)  # less free RAM than node1/node2
    hcs = Agent("hc1-storage", kind="storage", disk_gb=50)
    st9 = Agent("st9", kind="storage", disk_gb=500)
    for x in (hc, hcs, st9):
        x.hello()
    wait_for(lambda: db.val("SELECT count(*) FROM agents WHERE host IN ('hc1', 'hc1-storage',"
                            " 'st9') AND state = 'up'") == "3", 8, "hc1 and st9 registered")
    vtype = "(SELECT id FROM volume_types LIMIT 1)"
    made_i, made_v = [], []

    def server(ram=512, vol_host="hc1-storage", status="available"):
        """An unplaced server booting from a volume of vol_host (None: still to be made)."""
        iid, _ = new_instance(db, name="loc", ram=ram, spawn=False)
        vol = str(uuid.uuid4())
        db.exec("INSERT INTO volumes (id, project_id, user_id, size_gb, status, type_id, host,"
                " attached_server, attachment_id) VALUES (%s, 'p1', 'u1', 2, %s, %s, %s, %s,"
                " %s)" % (lit(vol), lit(status), vtype, lit(vol_host), lit(iid),
                          lit(str(uuid.uuid4()))))
        db.exec("UPDATE instances SET boot_volume_id = %s, image_id = '' WHERE id = %s"
                % (lit(vol), lit(iid)))
        made_i.append(iid)
        made_v.append(vol)
        return iid, vol

    def vhost(vol):
        return db.val("SELECT coalesce(host, '') FROM volumes WHERE id = %s" % lit(vol))

    def volume_made(agent, vol):
        t = agent.take_task(action="create", instance=vol)
        agent.send("result", {"task_id": t["task_id"], "resource_kind": "volume",
                              "resource_id": vol, "ok": True, "state": "available"})
        # a spawn waiting for it may take it in-use at once
        wait_for(lambda: db.val("SELECT status FROM volumes WHERE id = %s" % lit(vol)) in
                 ("available", "in-use"), what="volume %s made" % vol)

    try:
        # the volume's machine wins over more free RAM; no export: the disk is local
        iid, vol = server()
        new_task(db, iid, "spawn")
        wake()
        t = hc.take_task(action="spawn", instance=iid)
        check(not t["payload"].get("nbd_port") and t["payload"]["boot_volume_id"] == vol,
              "a local root disk: %s" % t["payload"])
        hc.result(t)
        wait_inst(db, iid, "on the volume's machine", status="ACTIVE", host="hc1")
        hcs.no_task(0.3, action="attach", instance=vol)

        # hc1 is full for this one (4000 MB > 2048 * 1.5 - 512): elsewhere, over NBD
        iid, vol = server(ram=4000)
        new_task(db, iid, "spawn")
        wake()
        t = hcs.take_task(action="attach", instance=vol)
        check(t["payload"].get("psk"), "the export is asked for: %s" % t)
        where = inst(db, iid)["host"]
        check(where in ("node1", "node2"), "a full volume host lets it land elsewhere: %s"
              % where)

        # a new boot volume for an unplaced server: beside where the server will go
        iid, vol = server(vol_host=None, status="creating")
        manage("task-add", "volume", vol, "create")
        new_task(db, iid, "spawn")
        wake()
        volume_made(hcs, vol)
        check(vhost(vol) == "hc1-storage", "the volume goes to the server's machine, not st9:"
              " %s" % vhost(vol))
        wake()
        t = hc.take_task(action="spawn", instance=iid)
        check(not t["payload"].get("nbd_port"), "and the server with it: %s" % t["payload"])
        hc.result(t)
        # Compute makes the root volume (naming the server to be) just before the
        # server's row: its create waits for the row, then goes beside the server
        iid, vol = str(uuid.uuid4()), str(uuid.uuid4())
        db.exec("INSERT INTO volumes (id, project_id, user_id, size_gb, status, type_id)"
                " VALUES (%s, 'p1', 'u1', 2, 'creating', %s)" % (lit(vol), vtype))
        made_v.append(vol)
        db.exec("INSERT INTO tasks (id, resource_id, resource_kind, agent_kind, action,"
                " payload) VALUES (%s, %s, 'volume', 'storage', 'create', %s::jsonb)"
                % (lit(str(uuid.uuid4())), lit(vol), lit(json.dumps({"boot_server": iid}))))
        wake()
        for agent in (hcs, st9):
            agent.no_task(0.7, action="create", instance=vol)
        check(vhost(vol) == "", "not placed before its server's row: %s" % vhost(vol))
        new_instance(db, name="loc", spawn=False, iid=iid)
        made_i.append(iid)
        db.exec("UPDATE volumes SET attached_server = %s, attachment_id = %s WHERE id = %s"
                % (lit(iid), lit(str(uuid.uuid4())), lit(vol)))
        db.exec("UPDATE instances SET boot_volume_id = %s, image_id = '' WHERE id = %s"
                % (lit(vol), lit(iid)))
        wake()
        volume_made(hcs, vol)
        check(vhost(vol) == "hc1-storage", "beside its server once there: %s" % vhost(vol))
        # the server will not fit on hc1: the volume takes the most space (st9)
        iid, vol = server(ram=4000, vol_host=None, status="creating")
        manage("task-add", "volume", vol, "create")
        wake()
        volume_made(st9, vol)
        check(vhost(vol) == "st9", "most free space when the server goes elsewhere: %s"
              % vhost(vol))

        # local_to_instance: the server's machine, or an error that says why
        def hinted(server_id):
            vol = str(uuid.uuid4())
            db.exec("INSERT INTO volumes (id, project_id, user_id, size_gb, status, type_id)"
                    " VALUES (%s, 'p1', 'u1', 1, 'creating', %s)" % (lit(vol), vtype))
            made_v.append(vol)
            db.exec("INSERT INTO tasks (id, resource_id, resource_kind, agent_kind, action,"
                    " payload) VALUES (%s, %s, 'volume', 'storage', 'create', %s::jsonb)"
                    % (lit(str(uuid.uuid4())), lit(vol),
                       lit(json.dumps({"local_to_instance": server_id}))))
            wake()
            return vol

        on_hc1 = made_i[0]
        vol = hinted(on_hc1)
        volume_made(hcs, vol)
        check(vhost(vol) == "hc1-storage", "hint: the server's machine: %s" % vhost(vol))

        def fault(vol):
            wait_for(lambda: db.val("SELECT status FROM volumes WHERE id = %s" % lit(vol)) ==
                     "error", what="hinted volume %s in error" % vol)
            return db.val("SELECT fault FROM volumes WHERE id = %s" % lit(vol))

        elsewhere = made_i[1]  # on node1 or node2: no storage agent there
        f = fault(hinted(elsewhere))
        check(f.startswith("No valid backend was found. local_to_instance: no storage host runs"
                           " on the server's machine: ") and "st9 is on another" in f,
              "hint, no storage agent on its machine: %s" % f)
        unplaced, _ = new_instance(db, name="unplaced", spawn=False)
        made_i.append(unplaced)
        f = fault(hinted(unplaced))
        check(f == "No valid backend was found. local_to_instance: server %s has no host yet"
              % unplaced, "hint, unplaced server: %s" % f)
        hcs.cap = (0, 0, 0)  # hc1-storage is full now
        hcs.report()
        wait_for(lambda: db.val("SELECT disk_gb FROM agents WHERE host = 'hc1-storage'") ==
                 "0", 8, "hc1-storage reported full")
        f = fault(hinted(on_hc1))
        check(f == "No valid backend was found. local_to_instance: no storage host has 1 GB"
              " free: hc1-storage has 0 GB", "hint, its machine full: %s" % f)
        hcs.cap = (0, 0, 50)

        # hc1 down: the server lands elsewhere
        hc.close()
        wait_for(lambda: db.val("SELECT state FROM agents WHERE host = 'hc1'") == "down",
                 AGENT_TIMEOUT_S + 8, "hc1 down")
        iid, vol = server()
        new_task(db, iid, "spawn")
        wake()
        hcs.take_task(action="attach", instance=vol)
        check(inst(db, iid)["host"] in ("node1", "node2"),
              "a down volume host lets it land elsewhere: %s" % inst(db, iid)["host"])
    finally:
        for x in (hc, hcs, st9):
            x.close()
        db.exec("UPDATE tasks SET status = 'done' WHERE status IN ('pending', 'dispatched')"
                " AND resource_id IN (%s)" % ", ".join(lit(v) for v in made_i + made_v))
        for iid in made_i:
            db.exec("UPDATE instances SET boot_volume_id = NULL, deleted = true, status ="
                    " 'DELETED', vm_state = 'deleted', task_state = NULL WHERE id = %s"
                    % lit(iid))
        for vol in made_v:
            db.exec("DELETE FROM tasks WHERE resource_id = %s" % lit(vol))
            db.exec("DELETE FROM volumes WHERE id = %s" % lit(vol))
        write_conf(sched.conf)
        sched.stop()
        sched.start()
        wait_for(lambda: db.val("SELECT count(*) FROM agents WHERE host IN ('hc1',"
                                " 'hc1-storage', 'st9') AND state = 'up'") == "0",
                 AGENT_TIMEOUT_S + 8, "hc1 and st9 down")


def t_bad_messages(db, sched):
    raw = CTX.socket(zmq.DEALER)
    raw.setsockopt(zmq.ROUTING_ID, b"garbage")
    raw.setsockopt(zmq.LINGER, 0)
    raw.connect(ARGS.bus_url)
    raw.send(b"not json")
    raw.send(b'{"v":2,"kind":"hello","id":"x","body":{}}')
    raw.send_multipart([b"a", b"b"])
    raw.send(json.dumps({"v": 2, "kind": "hello", "id": str(uuid.uuid4()),
                         "body": {"host": "node1", "agent_kind": "compute",
                                  "capacity": {"accel": "tcg", "vcpus": 1, "ram_mb": 1,
                                               "disk_gb": 1}}}).encode())
    raw.send(json.dumps({"v": 2, "kind": "result", "id": str(uuid.uuid4()),
                         "body": {"task_id": str(uuid.uuid4()),
                                  "resource_kind": "instance",
                                  "resource_id": str(uuid.uuid4()), "ok": True}}).encode())
    wait_for(lambda: 'names host "node1": ignored' in sched.text(), 5, "impostor refused")
    raw.close()
    check(sched.alive(), "scheduler survives bad messages")
    check(db.val("SELECT ram_mb FROM agents WHERE host = 'node1'") == "8192",
          "a peer cannot speak for another host")
    # a result from the wrong host is ignored
    a, b, iid = S["node1"], S["node2"], S["vm1"]
    tid = new_task(db, iid, "reboot", task_state="rebooting")
    wake()
    t = a.take_task(action="reboot", instance=iid)
    b.result(t, ok=False, error="not mine")
    sleep(0.5)
    check(task(db, tid)["status"] == "dispatched", "a result from another host is ignored")
    a.result(t)
    wait_task(db, tid, "reboot done", status="done")


def t_restart(db, sched):
    a, iid = S["node1"], S["vm1"]
    tid = new_task(db, iid, "reboot", task_state="rebooting")
    wake()
    first = a.take_task(action="reboot", instance=iid)
    rc = sched.stop()
    check(rc == 0, "SIGTERM exits 0 (rc %s)" % rc)
    check(task(db, tid)["status"] == "dispatched", "unanswered task stays dispatched")
    new_iid, new_tid = new_instance(db, name="while-down", ram=256)
    sleep(1)
    sched.start()
    again = a.take_task(action="reboot", instance=iid, timeout=6)
    check(again["task_id"] == first["task_id"], "dispatched task re-driven after restart")
    a.result(again)
    wait_task(db, tid, "re-driven reboot done", status="done")
    # the spawn written while the scheduler was down is placed on some host
    def spawn_seen():
        for ag in (S["node1"], S["node2"]):
            ag.poll()
            for m in ag.inbox:
                if m["kind"] == "task" and m["body"]["resource_id"] == new_iid:
                    ag.inbox.remove(m)
                    return ag, m["body"]
        return None
    ag, t = wait_for(spawn_seen, 8, "pending spawn after restart")
    ag.result(t)
    wait_inst(db, new_iid, "spawn after restart", status="ACTIVE", host=ag.host)
    wait_task(db, new_tid, "spawn done", status="done")


def t_delete_overtakes_spawn(db, sched):
    a = S["node1"]
    iid, tid = new_instance(db, name="short-lived")
    wake()
    spawn = a.take_task(action="spawn", instance=iid)
    # no answer: the user deletes it while it builds; the delete does not wait
    did = new_task(db, iid, "delete", task_state="deleting")
    wake()
    a.result(a.take_task(action="delete", instance=iid))
    wait_inst(db, iid, "deleted while building", status="DELETED", deleted="t")
    # the unanswered spawn is not sent again (it would bring the guest back)
    wait_task(db, tid, "overtaken spawn closed", timeout=TASK_RETRY_S + 4, status="failed",
              error="instance was deleted")
    a.no_task(0.5, action="spawn", instance=iid)
    a.result(spawn)  # a late answer changes nothing
    sleep(0.5)
    check(inst(db, iid)["status"] == "DELETED", "late spawn result ignored")
    check(task(db, did)["status"] == "done", "delete done")


def t_db_outage(db, sched):
    a, iid = S["node1"], S["vm1"]
    subprocess.run([ARGS.pg_ctl, "stop"], check=True, capture_output=True)
    sleep(3)  # ticks and heartbeats fail meanwhile
    check(sched.alive(), "scheduler survives the database going away")
    subprocess.run([ARGS.pg_ctl, "start"], check=True, capture_output=True)
    wait_for(lambda: "database connection is back" in sched.text(), 8, "reconnect")
    check(sched.text().count("database connection lost") == 1,
          "the outage is logged once: %d" % sched.text().count("database connection lost"))
    tid = new_task(db, iid, "reboot", task_state="rebooting")
    wake()
    a.result(a.take_task(action="reboot", instance=iid))
    wait_task(db, tid, "reboot after outage", status="done")


def t_delete(db, sched):
    a, iid = S["node1"], S["vm1"]
    tid = new_task(db, iid, "delete", task_state="deleting")
    wake()
    a.result(a.take_task(action="delete", instance=iid))
    wait_inst(db, iid, "delete ok", status="DELETED", vm_state="deleted", power="0",
              deleted="t", terminated="t", task_state="-")
    wait_task(db, tid, "delete done", status="done")
    sleep(2)
    check(inst(db, iid)["status"] == "DELETED", "heartbeats after delete change nothing")


def placed(db, name, host, status="ACTIVE", vm_state="active", power=1):
    """An instance already running on host, with no task (as after its spawn)."""
    iid, _ = new_instance(db, name=name, host=host, status=status, vm_state=vm_state,
                          task_state=None, power=power, spawn=False)
    return iid


def t_resend_on_hello(db, sched):
    """kill -9 of an agent mid-task: its hello brings the task again at once (not after
    task_retry), and a recorded result is acked."""
    a = Agent("node9")
    a.hello()
    wait_for(lambda: db.val("SELECT state FROM agents WHERE host = 'node9'") == "up", 5,
             "node9 registered")
    iid = placed(db, "crashy", "node9")
    a.vms[iid] = "running"
    tid = new_task(db, iid, "stop", task_state="powering-off")
    wake()
    t = a.take_task(action="stop", instance=iid)
    a.close()  # the agent dies without answering
    b = Agent("node9")
    b.vms[iid] = "running"
    t0 = time.time()
    b.hello()
    again = b.take_task(timeout=TASK_RETRY_S, action="stop", instance=iid)
    took = time.time() - t0
    check(again["task_id"] == tid and took < TASK_RETRY_S - 1,
          "unanswered task re-sent %.2f s after hello (retry timer is %d s)"
          % (took, TASK_RETRY_S))
    b.result(again)
    wait_inst(db, iid, "stop recorded", status="SHUTOFF", task_state="-")

    def acked():
        b.poll()
        return any(m["kind"] == "ack" and m["body"]["task_id"] == tid for m in b.inbox)
    wait_for(acked, 5, "ack of the recorded result")
    # a result for a task that does not exist is acked too (it can never be recorded)
    ghost = str(uuid.uuid4())
    b.send("result", {"task_id": ghost, "resource_kind": "instance", "resource_id": iid,
                      "ok": True})

    def ghost_acked():
        b.poll()
        return any(m["kind"] == "ack" and m["body"]["task_id"] == ghost for m in b.inbox)
    wait_for(ghost_acked, 5, "ack of an unknown task's result")
    S["node9"], S["crashy"] = b, iid


def t_deadline(db, sched):
    """A task past its deadline fails and says what timed out where; a spawn's instance
    goes to ERROR, a power action's keeps its state with the fault."""
    b = S["node9"]
    iid, tid = new_instance(db, name="slow", host="node9")
    db.exec("UPDATE tasks SET deadline = now() + interval '2 seconds' WHERE id = %s" % lit(tid))
    wake()
    b.take_task(action="spawn", instance=iid)  # never answered
    i = wait_inst(db, iid, "spawn past its deadline -> ERROR", timeout=10, status="ERROR",
                  task_state="-")
    check("spawn of instance %s on host node9 timed out after" % iid in i["fault"],
          "fault says what timed out where: %s" % i["fault"])
    check(task(db, tid)["status"] == "failed", "overdue task failed")
    iid2 = S["crashy"]
    tid2 = new_task(db, iid2, "start", task_state="powering-on")
    db.exec("UPDATE tasks SET deadline = now() + interval '2 seconds' WHERE id = %s"
            % lit(tid2))
    wake()
    b.take_task(action="start", instance=iid2)
    i = wait_inst(db, iid2, "start past its deadline keeps SHUTOFF", timeout=10,
                  status="SHUTOFF", task_state="-")
    check("start of instance" in i["fault"] and "timed out" in i["fault"],
          "power action fault: %s" % i["fault"])
    # every open task carries a deadline
    nid, ntid = new_instance(db, name="stamped", host="node9")
    wait_for(lambda: db.val("SELECT deadline IS NOT NULL FROM tasks WHERE id = %s"
                            % lit(ntid)) == "t", 5, "deadline stamped")
    check(db.val("SELECT round(extract(epoch FROM deadline - created_at)) FROM tasks"
                 " WHERE id = %s" % lit(ntid)) == "60", "spawn_deadline from the config")
    b.result(b.take_task(action="spawn", instance=nid))
    wait_inst(db, nid, "spawn in time", status="ACTIVE")


def t_host_gone_delete(db, sched):
    """A delete on a host down longer than host_down_after completes without it (quota
    freed); when the host returns, its leftover gets a delete."""
    b = S["node9"]
    iid = S["crashy"]
    project_live = lambda: db.val("SELECT count(*) FROM instances WHERE id = %s AND NOT deleted"
                                  % lit(iid))
    b.beating = False
    wait_for(lambda: db.val("SELECT state FROM agents WHERE host = 'node9'") == "down",
             AGENT_TIMEOUT_S + 4, "node9 down")
    tid = new_task(db, iid, "delete", task_state="deleting")
    wake()
    sleep(1.5)
    check(task(db, tid)["status"] == "pending", "delete waits while the host may come back")
    wait_inst(db, iid, "delete completes without the host", timeout=HOST_DOWN_S + 8,
              status="DELETED", deleted="t", task_state="-")
    t = task(db, tid)
    check(t["status"] == "done" and "host node9 is down" in t["error"],
          "task done with a note: %s" % t)
    check(project_live() == "0", "the quota is free")
    # the host comes back still running it: reconcile queues a delete for the leftover
    b.beating = True
    b.hello()
    d = b.take_task(timeout=10, action="delete", instance=iid)
    b.result(d)


def t_restart_is_not_host_gone(db, sched):
    """A scheduler that was down finds stale last_seen rows: it does not call a host gone
    (and delete without it) before its agents had agent_timeout to say hello."""
    b = S["node9"]
    iid = placed(db, "survivor", "node9")
    b.vms[iid] = "running"
    sleep(2 * HEARTBEAT_S)
    sched.stop()
    b.beating = False
    db.exec("UPDATE agents SET last_seen = now() - interval '1 hour' WHERE host = 'node9'")
    tid = new_task(db, iid, "delete", task_state="deleting")
    sched.start()
    sleep(AGENT_TIMEOUT_S - 1.5)
    check(task(db, tid)["status"] == "pending" and inst(db, iid)["deleted"] == "f",
          "delete waits for the agent after a scheduler restart: %s" % task(db, tid))
    b.beating = True
    b.result(b.take_task(timeout=10, action="delete", instance=iid))
    wait_inst(db, iid, "deleted by its agent", status="DELETED", deleted="t")
    check(task(db, tid)["error"] == "-", "deleted by the agent, not without it")


def t_restart_then_deadline(db, sched):
    """A deadline that passed while the scheduler was down does not fail a task its
    agent answers once it is re-sent after the restart."""
    b = S["node9"]
    iid = placed(db, "late", "node9")
    b.vms[iid] = "running"
    tid = new_task(db, iid, "stop", task_state="powering-off")
    wake()
    b.take_task(action="stop", instance=iid)  # dispatched, not answered
    sched.stop()
    db.exec("UPDATE tasks SET deadline = now() - interval '1 minute' WHERE id = %s" % lit(tid))
    sched.start()
    b.result(b.take_task(timeout=TASK_RETRY_S + 3, action="stop", instance=iid))
    wait_task(db, tid, "the re-sent stop is recorded, not timed out", status="done")
    wait_inst(db, iid, "stopped", status="SHUTOFF", fault="-")


def t_audit(db, sched):
    """nubo-manage audit: clean now; a stuck instance or an overdue task makes it fail."""
    out = subprocess.run([ARGS.manage, "-c", ARGS.conf, "audit"], capture_output=True,
                         text=True)
    check(out.returncode == 0 and "clean" in out.stdout,
          "audit after the checks: rc %d: %s%s" % (out.returncode, out.stdout, out.stderr))
    iid = placed(db, "stuck", "nowhere")
    db.exec("UPDATE instances SET task_state = 'deleting', updated_at = now() - interval '1 hour'"
            " WHERE id = %s" % lit(iid))
    out = subprocess.run([ARGS.manage, "-c", ARGS.conf, "audit"], capture_output=True,
                         text=True)
    check(out.returncode == 1 and iid in out.stdout and "quota usage differs" in out.stdout,
          "a stuck delete is found (rc %d): %s" % (out.returncode, out.stdout))
    db.exec("UPDATE instances SET deleted = true, status = 'DELETED', task_state = NULL"
            " WHERE id = %s" % lit(iid))
    tid = new_task(db, S["vm1"], "stop")
    db.exec("UPDATE tasks SET deadline = now() - interval '1 second', status = 'dispatched',"
            " host = 'nowhere' WHERE id = %s" % lit(tid))
    out = subprocess.run([ARGS.manage, "-c", ARGS.conf, "audit"], capture_output=True,
                         text=True)
    check(out.returncode == 1 and "past its deadline: " + tid in out.stdout,
          "an overdue task is found: %s" % out.stdout)
    db.exec("UPDATE tasks SET status = 'failed' WHERE id = %s" % lit(tid))


def t_stop_clean(db, sched):
    for ag in list(AGENTS):
        ag.close()
    rc = sched.stop()
    check(rc == 0, "SIGTERM exits 0 (rc %s)" % rc)
    check("stopping" in sched.text(), "stop logged")


def t_curve(db, sched):
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    conf = os.path.join(ARGS.tmp, "curve.conf")
    bound_public, bound_secret = zmq.curve_keypair()
    write_conf(conf, "curve_server_secret = %s\ncurve_allowed_clients = %s,bound=%s\n"
               % (server_secret.decode(), client_public.decode(), bound_public.decode()))
    sc = Scheduler(conf)
    sc.start()
    try:
        a = Agent("curvy", keys=(server_public, client_public, client_secret))
        a.hello()
        wait_for(lambda: db.val("SELECT state FROM agents WHERE host = 'curvy'") == "up", 5,
                 "agent over CURVE registered")
        other_public, other_secret = zmq.curve_keypair()
        b = Agent("uninvited", keys=(server_public, other_public, other_secret))
        b.hello()
        sleep(1.5)
        check(db.val("SELECT count(*) FROM agents WHERE host = 'uninvited'") == "0",
              "a client key not allowed is refused")
        # a key bound to host "bound" may not pose as another host
        c = Agent("impostor", keys=(server_public, bound_public, bound_secret))
        c.hello()
        d = Agent("bound", keys=(server_public, bound_public, bound_secret))
        d.hello()
        wait_for(lambda: db.val("SELECT state FROM agents WHERE host = 'bound'") == "up", 5,
                 "a host-bound key registers under its own host name")
        check(db.val("SELECT count(*) FROM agents WHERE host = 'impostor'") == "0",
              "a host-bound key cannot claim another host name")
        check("authenticated as \"bound\"" in sc.text(), "the impostor is logged")
        for x in (a, b, c, d):
            x.close()
    finally:
        rc = sc.stop()
    check(rc == 0, "SIGTERM with CURVE exits 0 (rc %s)" % rc)


def t_volume_zones(db, sched):
    """Issue 9: storage hosts in two zones (the zone each storage agent reports). A volume
    whose create names a zone (the task payload's availability_zone, as nubo-api writes
    it) goes to a host in that zone even when another zone's host has more room, and its
    row takes that zone; one that names none goes to the most room and takes that host's
    zone; a copy stays with its source (its zone too); a zone no up host is in fails the
    volume with the zone filter's reason."""
    za = Agent("za1-storage", kind="storage", disk_gb=50, az="zone-a")
    zb = Agent("zb1-storage", kind="storage", disk_gb=500, az="zone-b")
    for x in (za, zb):
        x.hello()
    wait_for(lambda: db.val("SELECT count(*) FROM agents WHERE host IN ('za1-storage',"
                            " 'zb1-storage') AND state = 'up'") == "2", 8,
             "the storage agents of two zones registered")
    check(db.val("SELECT az FROM agents WHERE host = 'za1-storage'") == "zone-a",
          "a storage agent's zone is recorded")
    vtype = "(SELECT id FROM volume_types LIMIT 1)"
    made = []

    def create(zone=None, source=None):
        vol = str(uuid.uuid4())
        db.exec("INSERT INTO volumes (id, project_id, user_id, size_gb, status, type_id,"
                " source_volid, az) VALUES (%s, 'p1', 'u1', 2, 'creating', %s, %s, %s)"
                % (lit(vol), vtype, lit(source), lit(zone or "nova")))
        made.append(vol)
        payload = {"availability_zone": zone} if zone else {}
        db.exec("INSERT INTO tasks (id, resource_id, resource_kind, agent_kind, action,"
                " payload) VALUES (%s, %s, 'volume', 'storage', 'create', %s::jsonb)"
                % (lit(str(uuid.uuid4())), lit(vol), lit(json.dumps(payload))))
        wake()
        return vol

    def made_on(agent, vol):
        t = agent.take_task(action="create", instance=vol)
        agent.send("result", {"task_id": t["task_id"], "resource_kind": "volume",
                              "resource_id": vol, "ok": True, "state": "available"})
        wait_for(lambda: db.val("SELECT status FROM volumes WHERE id = %s" % lit(vol)) ==
                 "available", what="volume %s made" % vol)
        return tuple(db.row("SELECT host, az FROM volumes WHERE id = %s" % lit(vol)))

    try:
        vol = create("zone-a")
        got = made_on(za, vol)
        check(got == ("za1-storage", "zone-a"), "zone-a, though zone-b has more room: %s"
              % (got,))
        vol = create()
        got = made_on(zb, vol)
        check(got == ("zb1-storage", "zone-b"), "no zone: the most room, and its zone: %s"
              % (got,))
        src = made[0]
        vol = create(source=src)
        got = made_on(za, vol)
        check(got == ("za1-storage", "zone-a"), "a copy stays in its source's zone: %s"
              % (got,))
        vol = create("zone-c")
        wait_for(lambda: db.val("SELECT status FROM volumes WHERE id = %s" % lit(vol)) ==
                 "error", what="a volume of a zone nobody is in fails")
        f = db.val("SELECT fault FROM volumes WHERE id = %s" % lit(vol))
        check(f.startswith('No valid backend was found. no storage host is in availability'
                           ' zone "zone-c": ') and 'za1-storage is in "zone-a"' in f and
              'zb1-storage is in "zone-b"' in f, "the zone filter's reason: %s" % f)
        # zone-a's only host down: a zone-a volume waits for none elsewhere, it fails
        za.close()
        wait_for(lambda: db.val("SELECT state FROM agents WHERE host = 'za1-storage'") ==
                 "down", AGENT_TIMEOUT_S + 8, "za1-storage down")
        vol = create("zone-a")
        wait_for(lambda: db.val("SELECT status FROM volumes WHERE id = %s" % lit(vol)) ==
                 "error", what="a zone-a volume with zone-a down fails")
        zb.no_task(0.3, action="create", instance=vol)
        f = db.val("SELECT fault FROM volumes WHERE id = %s" % lit(vol))
        check('no storage host is in availability zone "zone-a"' in f, "zone-a down: %s" % f)
    finally:
        for x in (za, zb):
            x.close()
        for vol in reversed(made):
            db.exec("DELETE FROM tasks WHERE resource_id = %s" % lit(vol))
            db.exec("DELETE FROM volumes WHERE id = %s" % lit(vol))


CHECKS = [t_check_config, t_start_migrates, t_no_host_is_up, t_agent_registers, t_spawn,
          t_no_host_fits, t_delete_unplaced, t_stop_start, t_failed_action_keeps_state, t_boot_volume_recheck,
          t_clone_of_a_plugged_volume_goes_to_its_compute_host,
          t_backup_of_a_plugged_volume_copies_first, t_attach_across_hosts,
          t_boot_volume_across_hosts,
          t_failed_spawn_is_error, t_disk_qos, t_retry, t_retry_until_deadline, t_console, t_events,
          t_reconcile, t_agent_down,
          t_placement, t_aggregate_zones, t_volume_locality, t_volume_zones, t_bad_messages, t_restart, t_delete_overtakes_spawn,
          t_db_outage,
          t_delete, t_resend_on_hello, t_deadline, t_host_gone_delete,
          t_restart_is_not_host_gone, t_restart_then_deadline, t_audit, t_migrations,
          t_wake_bind_loopback, t_stop_clean,
          t_curve]


def main():
    global ARGS, WAKE
    p = argparse.ArgumentParser()
    p.add_argument("--scheduler", required=True)
    p.add_argument("--tmp", required=True)
    p.add_argument("--pg-host", required=True)
    p.add_argument("--pg-port", type=int, required=True)
    p.add_argument("--psql", default="psql")
    p.add_argument("--pg-ctl", required=True, help="script taking stop|start")
    p.add_argument("--only", help="comma-separated check names (the others still run first)")
    p.add_argument("--manage", help="nubo-manage (default: beside the scheduler)")
    ARGS = p.parse_args()
    ARGS.manage = ARGS.manage or os.path.join(os.path.dirname(ARGS.scheduler), "nubo-manage")
    ARGS.bus_url = "tcp://127.0.0.1:%d" % free_port()
    ARGS.wake_url = "tcp://127.0.0.1:%d" % free_port()
    conf = os.path.join(ARGS.tmp, "nubo.conf")
    ARGS.conf = conf
    write_conf(conf)
    db = DB(ARGS.pg_host, ARGS.pg_port)
    sched = Scheduler(conf)
    WAKE = CTX.socket(zmq.PUSH)
    WAKE.setsockopt(zmq.LINGER, 0)
    WAKE.connect(ARGS.wake_url)
    n = 0
    try:
        for n, fn in enumerate(CHECKS, 1):
            fn(db, sched)
            print("ok %d - %s" % (n, fn.__name__[2:]), flush=True)
    except (Failure, subprocess.CalledProcessError) as e:
        print("not ok %d - %s: %s" % (n, CHECKS[n - 1].__name__[2:], e), flush=True)
        print("---- scheduler log (tail) ----")
        print("\n".join(sched.text().splitlines()[-40:]) if os.path.exists(sched.log) else "")
        return 1
    finally:
        if sched.alive():
            sched.proc.kill()
            sched.proc.wait()
        for ag in list(AGENTS):
            ag.close()
        WAKE.close()
        CTX.term()
    print("# all %d checks passed; wake-to-dispatch %.0f ms" % (len(CHECKS),
                                                              S.get("wake_latency", 0) * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
