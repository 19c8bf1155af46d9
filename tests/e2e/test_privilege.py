"""Least privilege of the controller side: the daemons deploy/daemons runs as nubo
(nubo-api, nubo-scheduler) have nubo's uid and gid and nothing else (no capabilities,
no_new_privs), and the files they need are theirs to read or write and no more:
nubo.conf root:nubo 0640, the secrets root's alone, the image store nubo's, the
PostgreSQL socket reachable by group nubo only, the binaries root's."""
import grp
import os
import pwd
import stat
import subprocess

import pytest

from nubo_e2e import DAEMONS, proc_status

NUBO = pwd.getpwnam("nubo")
AS_NUBO = ["setpriv", "--reuid=nubo", "--regid=nubo", "--init-groups", "--reset-env", "--"]
UNPRIVILEGED = [d["name"] for d in DAEMONS if d["user"] == "nubo"]


def test_the_api_and_the_scheduler_are_listed_as_unprivileged():
    # the table drives everything below; a daemon moved back to root must show here
    assert {"nubo-api", "nubo-scheduler"} <= set(UNPRIVILEGED)


def owner(path):
    st = os.stat(path)
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, \
        stat.S_IMODE(st.st_mode)


@pytest.mark.parametrize("daemon", UNPRIVILEGED)
def test_daemon_runs_as_nubo_without_capabilities(stack, daemon):
    pid = stack.daemon_pid(daemon)
    assert pid, "%s is not running" % daemon
    st = proc_status(pid)
    # real, effective, saved and filesystem ids
    assert st["Uid"].split() == [str(NUBO.pw_uid)] * 4, st["Uid"]
    assert st["Gid"].split() == [str(NUBO.pw_gid)] * 4, st["Gid"]
    # no supplementary group but nubo's own (no root, no postgres, no kvm)
    assert set(st["Groups"].split()) <= {str(NUBO.pw_gid)}, st["Groups"]
    for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[caps], 16) == 0, "%s %s = %s" % (daemon, caps, st[caps])
    assert st["NoNewPrivs"] == "1"
    # the installed binary, not the checkout's
    assert os.readlink("/proc/%d/exe" % pid) == str(stack.daemon_exe(daemon))
    # a clean environment: nothing of root's (HOME, SUDO_*, OS_* ...) leaks in
    env = dict(item.split(b"=", 1) for item in
               open("/proc/%d/environ" % pid, "rb").read().split(b"\0") if b"=" in item)
    assert env.get(b"USER") == b"nubo" and env.get(b"HOME") != b"/root", env
    assert not [k for k in env if k.startswith(b"OS_") or k.startswith(b"NUBO_")], env


def test_configuration_and_secret_modes(stack):
    etc = stack.root / "etc" / "nubo"
    # nubo.conf holds the database password and the CURVE keys the daemons need
    assert owner(etc / "nubo.conf") == ("root", "nubo", 0o640)
    # the generated admin/demo passwords are root's alone
    for name in ("secrets", "openrc", "clouds.yaml"):
        assert owner(etc / name) == ("root", "root", 0o600), name
    if (etc / "nubo.conf.old").exists():
        assert owner(etc / "nubo.conf.old")[2] & 0o077 == 0


def test_nubo_reads_its_configuration_but_not_the_secrets(stack):
    etc = stack.root / "etc" / "nubo"
    ok = subprocess.run(AS_NUBO + ["cat", str(etc / "nubo.conf")], capture_output=True)
    assert ok.returncode == 0, ok.stderr
    for name in ("secrets", "openrc"):
        r = subprocess.run(AS_NUBO + ["cat", str(etc / name)], capture_output=True)
        assert r.returncode != 0 and b"Permission denied" in r.stderr, name


def test_state_the_daemons_write_is_theirs(stack):
    varlib = stack.root / "var" / "lib" / "nubo"
    assert owner(varlib / "images") == ("nubo", "nubo", 0o750)
    # images uploaded through the API (nubo-tiny, by stack.sh) are nubo's, not world-readable
    files = list((varlib / "images").iterdir())
    assert files, "no image stored"
    for f in files:
        o = owner(f)
        assert o[0] == "nubo" and o[2] & 0o007 == 0, (f, o)
    # only postgres and group nubo reach the database socket
    assert owner(varlib / "pgrun") == ("postgres", "nubo", 0o750)
    assert owner(varlib / "pgdata")[:1] == ("postgres",)
    assert owner(varlib / "pgdata")[2] & 0o077 == 0


def test_binaries_are_root_owned_and_not_writable_by_nubo(stack):
    for d in DAEMONS:
        exe = stack.daemon_exe(d["name"])
        o = owner(exe)
        assert o[0] == "root" and o[2] & 0o022 == 0, (exe, o)
    o = owner(stack.daemon_exe(DAEMONS[0]["name"]).parent)
    assert o[0] == "root" and o[2] & 0o022 == 0, o


def test_other_users_cannot_reach_the_database_socket(stack):
    sock = stack.root / "var" / "lib" / "nubo" / "pgrun"
    r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                        "--", "ls", str(sock)], capture_output=True)
    assert r.returncode != 0 and b"Permission denied" in r.stderr
