"""Least privilege of the compute agent (issue 5, section 1): the worker that speaks the
bus runs as nubo, its privileged helper (forked before the drop) as root, and every
QEMU as nubo-qemu, sandboxed, with its files as descriptors: it names no host path and
cannot read another instance's disk, a base image or /etc/shadow. QEMUs are children
of the helper, which reaps them: relaunching one leaves no zombie. (The helper's
whitelist, its path checks and symlink refusals are proved by tests/unit/test_priv.c.)"""
import os
import pwd
import subprocess

from nubo_e2e import proc_status, wait_for

NUBO = pwd.getpwnam("nubo")
QEMU = pwd.getpwnam("nubo-qemu")
QEMU_UIDS = range(2000000000, 2000000000 + 65536)  # [compute] qemu_uid_base, qemu_uid_count
AS_QEMU = ["setpriv", "--reuid=nubo-qemu", "--regid=nubo-qemu", "--init-groups", "--"]


def ids(st, key):
    return [int(x) for x in st[key].split()]


def children(pid):
    out = []
    for p in os.listdir("/proc"):
        if p.isdigit() and proc_status(int(p)).get("PPid") == str(pid):
            out.append(int(p))
    return out


def helper_of(worker):
    roots = [c for c in children(worker) if ids(proc_status(c), "Uid") == [0] * 4]
    assert len(roots) == 1, "the worker should have exactly one root child: %s" % roots
    return roots[0]


def test_worker_runs_as_nubo_and_its_helper_as_root(stack):
    worker = stack.daemon_pid("nubo-compute")
    assert worker, "nubo-compute is not running"
    st = proc_status(worker)
    assert ids(st, "Uid") == [NUBO.pw_uid] * 4, st["Uid"]
    assert ids(st, "Gid") == [NUBO.pw_gid] * 4, st["Gid"]
    assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
    assert st["NoNewPrivs"] == "1"
    helper = helper_of(worker)
    assert proc_status(helper)["Name"] == "nubo-priv"


def test_qemu_runs_as_nubo_qemu_sandboxed_with_descriptors(stack, vm):
    worker = stack.daemon_pid("nubo-compute")
    qemu = stack.qemu_pids(vm["id"])
    assert len(qemu) == 1
    st = proc_status(qemu[0])
    uid = ids(st, "Uid")[0]
    assert uid in QEMU_UIDS and ids(st, "Uid") == [uid] * 4, st["Uid"]
    assert ids(st, "Gid") == [QEMU.pw_gid] * 4, st["Gid"]
    assert int(st["CapEff"], 16) == 0 and st["NoNewPrivs"] == "1"
    assert st["Seccomp"] == "2", "QEMU runs without its seccomp sandbox"
    # started by the helper of the running agent, which reaps it
    assert int(st["PPid"]) == helper_of(worker)
    argv = open("/proc/%d/cmdline" % qemu[0], "rb").read().split(b"\0")
    assert b"-daemonize" not in argv
    sandbox = argv[argv.index(b"-sandbox") + 1]
    for opt in (b"elevateprivileges=deny", b"spawn=deny", b"obsolete=deny"):
        assert opt in sandbox, sandbox
    # no path of the stack in its argv: every file is a descriptor
    assert not [a for a in argv if str(stack.state_dir).encode() in a], argv
    fds = {os.readlink("/proc/%d/fd/%s" % (qemu[0], fd))
           for fd in os.listdir("/proc/%d/fd" % qemu[0])}
    inst = str(stack.instance_dir(vm["id"]))
    qmp = os.stat(inst + "/qmp.sock")  # born the worker's: no chown by name afterwards
    assert (qmp.st_uid, qmp.st_gid, qmp.st_mode & 0o077) == (NUBO.pw_uid, NUBO.pw_gid, 0)
    assert inst + "/disk.qcow2" in fds and inst + "/console.log" in fds, fds


def test_qemu_user_cannot_read_disks_images_or_shadow(stack, vm):
    inst = stack.instance_dir(vm["id"])
    images = stack.state_dir / "images"
    base = [p for p in images.iterdir() if p.is_file() and "." not in p.name]
    assert base, "no cached base image"
    for path in (inst / "disk.qcow2", inst / "config.iso", base[0], "/etc/shadow"):
        r = subprocess.run(AS_QEMU + ["head", "-c", "1", str(path)], capture_output=True)
        assert r.returncode != 0 and b"Permission denied" in r.stderr, (path, r)


def test_relaunched_qemus_leave_no_zombie(stack, vm, os_run):
    worker = stack.daemon_pid("nubo-compute")
    helper = helper_of(worker)
    before = stack.qemu_pids(vm["id"])
    for _ in range(3):  # a hard reboot ends QEMU and starts a new one
        os_run("server", "reboot", "--hard", "--wait", vm["id"])
    stack.wait_status(vm["id"], "ACTIVE")
    after = stack.qemu_pids(vm["id"])
    assert len(after) == 1 and after != before

    def no_zombies():
        z = [p for p in children(worker) + children(helper)
             if proc_status(p).get("State", "").startswith("Z")]
        return not z
    wait_for(no_zombies, 10, 0.5, "no zombie children of the agent or its helper")


def as_uid(uid, *argv):
    return subprocess.run(["setpriv", "--reuid=%d" % uid, "--regid=%d" % QEMU.pw_gid,
                           "--clear-groups", "--"] + list(argv), capture_output=True)


def test_each_qemu_has_its_own_uid_and_cannot_read_another(stack, vm):
    """Processes of one uid can read each other's memory (/proc/PID/mem): a QEMU broken
    into by its guest must not reach another guest's memory or its disk descriptors."""
    other = stack.os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                         "--wait", "e2e-privsep-vm2")
    try:
        assert other["status"] == "ACTIVE", other
        a, b = stack.qemu_pids(vm["id"]), stack.qemu_pids(other["id"])
        assert len(a) == 1 and len(b) == 1
        ua, ub = (ids(proc_status(p), "Uid")[0] for p in (a[0], b[0]))
        assert ua in QEMU_UIDS and ub in QEMU_UIDS and ua != ub, (ua, ub)
        read_mem = ["/usr/bin/python3", "-c", "open('/proc/%d/mem', 'rb')" % b[0]]
        r = as_uid(ua, *read_mem)
        assert r.returncode != 0 and b"PermissionError" in r.stderr, r
        r = as_uid(ua, "ls", "/proc/%d/fd/" % b[0])
        assert r.returncode != 0, r
        # the control: the same check as QEMU b's own uid passes where ptrace is not
        # restricted further (Yama), so the refusal above is the uid's doing
        yama = "/proc/sys/kernel/yama/ptrace_scope"
        if not os.path.exists(yama) or open(yama).read().strip() == "0":
            r = as_uid(ub, *read_mem)
            assert r.returncode == 0, r
    finally:
        stack.os_run("server", "delete", "--wait", other["id"], check=False, timeout=300)
