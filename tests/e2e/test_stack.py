"""deploy/stack.sh run a second time on a running stack is idempotent, and converts an
install from before the daemons ran as nubo: configuration, image store, database
socket and binaries get their owners and modes back, the daemons come back as nubo,
and nothing the stack holds (passwords, tokens, images) changes."""
import os
import pwd
import subprocess

from nubo_e2e import NUBO_CTL, REPO, proc_status, wait_for

NUBO_UID = str(pwd.getpwnam("nubo").pw_uid)
STACK_TIMEOUT = 600


def mode(path):
    st = os.stat(path)
    return st.st_uid, st.st_gid, st.st_mode & 0o7777


def as_root_owned_install(stack):
    """Puts the stack back the way an install from before this change looked."""
    etc = stack.root / "etc" / "nubo"
    varlib = stack.root / "var" / "lib" / "nubo"
    os.chown(etc / "nubo.conf", 0, 0)
    os.chmod(etc / "nubo.conf", 0o600)
    for dirpath, _, files in os.walk(varlib / "images"):
        os.chown(dirpath, 0, 0)
        for f in files:
            os.chown(os.path.join(dirpath, f), 0, 0)
    os.chmod(varlib / "images", 0o755)
    pg = pwd.getpwnam("postgres")
    os.chown(varlib / "pgrun", pg.pw_uid, pg.pw_gid)
    os.chmod(varlib / "pgrun", 0o755)
    # the old socket mode: group postgres only (takes a PostgreSQL restart)
    pgconf = varlib / "pgdata" / "nubo.conf"
    pgconf.write_text(pgconf.read_text().replace("unix_socket_permissions = 0777",
                                                 "unix_socket_permissions = 0770"))
    stack.nubo_ctl("restart", "postgresql")
    sock = [p for p in (varlib / "pgrun").iterdir() if p.is_socket()]
    assert sock and mode(sock[0])[2] == 0o770, sock


def test_second_run_converts_an_old_install_and_changes_nothing_else(stack, http):
    etc = stack.root / "etc" / "nubo"
    varlib = stack.root / "var" / "lib" / "nubo"
    token = stack.token("admin")
    openrc = (etc / "openrc").read_bytes()
    secrets = (etc / "secrets").read_bytes()
    images = sorted(p.name for p in (varlib / "images").iterdir())
    as_root_owned_install(stack)

    proc = subprocess.run([str(REPO / "deploy" / "stack.sh"), "--root", str(stack.root),
                           "--no-deps"], capture_output=True, text=True, timeout=STACK_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "stack.sh: done" in proc.stdout, proc.stdout[-2000:]

    nubo = pwd.getpwnam("nubo")
    assert mode(etc / "nubo.conf") == (0, nubo.pw_gid, 0o640)
    assert mode(varlib / "images") == (nubo.pw_uid, nubo.pw_gid, 0o750)
    for p in (varlib / "images").iterdir():
        assert mode(p)[0] == nubo.pw_uid, p
    assert mode(varlib / "pgrun") == (pwd.getpwnam("postgres").pw_uid, nubo.pw_gid, 0o750)
    sock = [p for p in (varlib / "pgrun").iterdir() if p.is_socket()]
    assert sock and mode(sock[0])[2] == 0o777, sock
    # nothing the stack holds changed: passwords, images, tokens (the database)
    assert (etc / "openrc").read_bytes() == openrc
    assert (etc / "secrets").read_bytes() == secrets
    assert not (etc / "nubo.conf.old").exists(), "nubo.conf rewritten with other content"
    assert sorted(p.name for p in (varlib / "images").iterdir()) == images
    for d in ("nubo-api", "nubo-scheduler"):
        pid = wait_for(lambda d=d: stack.daemon_pid(d), 30, 0.5, "%s to run" % d)
        assert proc_status(pid)["Uid"].split()[0] == NUBO_UID, d
    r = http("GET", "/compute/v2.1/servers", token=token)
    assert r.status == 200, r
    status = subprocess.run([str(NUBO_CTL), "--root", str(stack.root), "status"],
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stdout + status.stderr
