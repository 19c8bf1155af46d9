"""Issue 9's attach across hosts: two "hosts" (deploy/host-add.sh network namespaces
with their own nubo-compute) and the controller's storage agent. A volume attached to a
server on host mh1 is served to it over NBD by one qemu-storage-daemon on the
controller's management address (TLS-PSK, the attachment id as identity); the guest
writes a known pattern on it (its user-data script waits for the disk, found by the
volume id in the SCSI serial); after the detach the export is gone; attached to a
server on host mh2 the same pattern is read back. An NBD client without the key, or
with a wrong key, is refused; deleting the server and the volume leaves no
qemu-storage-daemon behind."""
import json
import os
import random
import subprocess
import uuid

import pytest

from nubo_e2e import kill9, qmp_call, wait_for
from test_multihost import add_hosts, del_hosts
from test_volume import wait_gone, wait_volume

BOOT_S = 600  # a TCG boot on this shared box
HOSTS = ("nb1", "nb2")
SECTOR = 2048

# Runs in the guest: waits for the volume's disk (its SCSI serial, VPD page 0x80, holds
# the volume id; a kernel without that page: the only sd disk), then does ACTION.
FIND = """#!/bin/sh
(
dev=''
i=0
while [ -z "$dev" ] && [ $i -lt 900 ]; do
	for d in /sys/block/sd*; do
		[ -e "$d/size" ] || continue
		if [ ! -e "$d/device/vpd_pg80" ] || grep -q '%(serial)s' "$d/device/vpd_pg80"; then
			dev=/dev/${d##*/}
		fi
	done
	[ -n "$dev" ] || sleep 1
	i=$((i + 1))
done
[ -n "$dev" ] || { echo "%(marker)s-nodisk"; exit 1; }
%(action)s
) >/dev/console 2>&1 &
"""
WRITE = ("printf 'NBDMARK-%(tag)s' | dd of=$dev bs=512 seek=" + str(SECTOR) +
         " conv=notrunc 2>/dev/null && sync && echo \"nbdmark-written $dev\"")
READ = ("echo \"nbdmark-read $(dd if=$dev bs=512 skip=" + str(SECTOR) +
        " count=1 2>/dev/null | head -c 40 | tr -dc 'A-Za-z0-9-')\"")


def console_line(stack, sid, word, timeout=BOOT_S):
    def found():
        for line in stack.console(sid).splitlines():
            if word in line:
                return line
        return None
    return wait_for(found, timeout, 3, "%r on the console of %s" % (word, sid))


def qsd_pids(volume_id):
    """Pids of the qemu-storage-daemons exporting volume_id (any stack: the id is
    unique)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"qemu-storage-daemon") and \
                any(("exports/" + volume_id).encode() in a for a in argv):
            out.append(int(p))
    return out


def export_of(stack, volume_id):
    path = stack.root / "var/lib/nubo/storage/exports" / (volume_id + ".json")
    return json.loads(path.read_text()) if path.exists() else None


def host_qmp(stack, instance_id, command, args=None):
    """One QMP command on the monitor of an instance of an added host (its compute
    state_dir is <varlib>/hc<index>)."""
    [sock] = (stack.root / "var/lib/nubo").glob("hc*/instances/%s/qmp.sock" % instance_id)
    return qmp_call(sock, command, args, timeout=30)


@pytest.fixture(scope="module")
def world(stack, os_cli, os_run, tmp_path_factory):
    tag = "%04d" % random.randint(0, 9999)
    w = {"cleanup": [], "tag": tag, "zones": {}, "mark": uuid.uuid4().hex[:16]}
    added = []
    try:
        add_hosts(stack, os_cli, HOSTS, w, added)
        vol = os_cli("volume", "create", "--size", "1", "nbd%s" % tag)
        w["cleanup"].append(("volume", "delete", vol["id"]))
        wait_volume(stack, vol["id"], "available", timeout=180)
        d = tmp_path_factory.mktemp("nbd")
        for name, action in (("write", WRITE), ("read", READ)):
            (d / name).write_text(FIND % {"serial": vol["id"][:20], "marker": "nbdmark",
                                          "action": action % {"tag": w["mark"]}})
        servers = {}
        for h, role in (("nb1", "write"), ("nb2", "read")):
            s = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                       "--availability-zone", w["zones"][h], "--user-data", d / role,
                       "nbd%s-%s" % (tag, role))
            w["cleanup"].insert(0, ("server", "delete", "--wait", s["id"]))
            servers[role] = s
        for s in servers.values():
            stack.wait_status(s["id"], "ACTIVE", timeout=BOOT_S)
        w.update(vol=vol, a=servers["write"], b=servers["read"])
        yield w
    finally:
        for args in w["cleanup"]:
            os_run(*args, check=False, timeout=600)
        del_hosts(stack, added)


def test_servers_are_on_two_hosts(os_cli, world):
    assert os_cli("server", "show", world["a"]["id"])["OS-EXT-SRV-ATTR:host"] == "nb1"
    assert os_cli("server", "show", world["b"]["id"])["OS-EXT-SRV-ATTR:host"] == "nb2"


def test_write_on_one_host_read_on_another(stack, os_cli, os_run, world):
    vid, a, b = world["vol"]["id"], world["a"]["id"], world["b"]["id"]
    os_run("server", "add", "volume", a, vid)
    wait_volume(stack, vid, "in-use", timeout=180)
    # one export of it, on the controller's management address
    ex = export_of(stack, vid)
    assert ex and ex["port"] > 0, ex
    assert len(qsd_pids(vid)) == 1, qsd_pids(vid)
    line = console_line(stack, a, "nbdmark-")
    assert "nbdmark-written /dev/sd" in line, line

    os_run("server", "remove", "volume", a, vid)
    wait_volume(stack, vid, "available", timeout=180)
    wait_for(lambda: not qsd_pids(vid) and not export_of(stack, vid), 60, 1,
             "the export of %s to stop after the detach" % vid)

    os_run("server", "add", "volume", b, vid)
    wait_volume(stack, vid, "in-use", timeout=180)
    assert len(qsd_pids(vid)) == 1, qsd_pids(vid)
    line = console_line(stack, b, "nbdmark-")
    assert "nbdmark-read NBDMARK-" + world["mark"] in line, line
    world["attached_b"] = True


def test_raw_volume_served_over_nbd(stack, os_cli, os_run, world):
    """[storage] volume_format = raw: a raw pool file plugged into the server on nb1 is
    served by a daemon that opens it with QEMU's raw driver on the file protocol; the
    bytes written in the file before the attach are read through NBD in that server's
    QEMU, and bytes its QEMU writes land in the raw file at the same offsets."""
    from test_volume import pool, with_storage_key
    before = stack.conf.read_text()
    a, vid = world["a"]["id"], None
    try:
        stack.conf.write_text(with_storage_key(before, "volume_format", "raw"))
        stack.nubo_ctl("restart", "nubo-storage", timeout=300)
        v = os_cli("volume", "create", "--size", "1", "nbdraw%s" % world["tag"])
        vid = v["id"]
        wait_volume(stack, vid, "available", timeout=180)
        path = pool(stack) / "volumes" / (vid + ".raw")
        assert path.exists() and not (pool(stack) / "volumes" / (vid + ".qcow2")).exists()
        mib = 1 << 20
        subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a %d 65536" % mib,
                        str(path)], check=True, capture_output=True, timeout=60)
        os_run("server", "add", "volume", a, vid)
        wait_volume(stack, vid, "in-use", timeout=180)
        [pid] = qsd_pids(vid)
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().decode().split("\0")
        assert "driver=file,node-name=file0,filename=%s" % path in argv, argv
        assert "driver=raw,node-name=vol0,file=file0" in argv, argv
        dev = "d" + vid.replace("-", "")[:30]
        [log] = (stack.root / "var/lib/nubo").glob("hc*/instances/%s/qemu.log" % a)

        def hmp_io(cmd, done):
            """One qemu-io command on the guest disk's own BlockBackend in the server's
            QEMU (its output goes to qemu.log); the log's new text once `done` shows."""
            start = len(log.read_text(errors="replace"))
            host_qmp(stack, a, "human-monitor-command",
                     {"command-line": "qemu-io -d %s \"%s\"" % (dev, cmd)})
            return wait_for(lambda: (lambda t: t if done in t else None)(
                log.read_text(errors="replace")[start:]), 60, 1, "qemu-io %s" % cmd)
        out = hmp_io("read -P 0x5a %d 65536" % mib, "read 65536/65536 bytes")
        assert "Pattern verification failed" not in out, out
        hmp_io("write -P 0xc3 %d 65536" % (2 * mib), "wrote 65536/65536 bytes")
        os_run("server", "remove", "volume", a, vid)
        wait_volume(stack, vid, "available", timeout=180)
        wait_for(lambda: not qsd_pids(vid), 60, 1, "the export of %s to stop" % vid)
        p = subprocess.run(["qemu-io", "-f", "raw", "-c", "read -P 0xc3 %d 65536" % (2 * mib),
                            str(path)], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0 and "Pattern verification failed" not in p.stdout, p.stdout
        assert path.stat().st_size == 1 << 30
    finally:
        stack.conf.write_text(before)
        stack.nubo_ctl("restart", "nubo-storage", timeout=300)
        if vid:
            os_run("server", "remove", "volume", a, vid, check=False)
            wait_volume(stack, vid, "available", timeout=180)
            os_run("volume", "delete", vid, check=False)
            wait_gone(stack, "volume", vid)


def test_export_outlives_its_agent_and_its_daemon_comes_back(stack, world):
    """kill -9 of nubo-storage: the restarted agent adopts the running daemon (same pid,
    same port); kill -9 of the daemon: the agent starts it again on the same port with
    the same key, and the guest's QEMU keeps its disk."""
    if not world.get("attached_b"):
        pytest.skip("the volume did not reach the second server")
    vid, b = world["vol"]["id"], world["b"]["id"]
    before = export_of(stack, vid)
    [pid] = qsd_pids(vid)
    agent = stack.daemon_pid("nubo-storage")
    kill9(agent)
    wait_for(lambda: stack.daemon_pid("nubo-storage") not in (None, agent), 60, 0.5,
             "nubo-storage to be started again")
    wait_for(lambda: "NBD exports on" in stack.log_tail("nubo-storage.log", 5), 60, 0.5,
             "the restarted nubo-storage to open its exports")
    assert qsd_pids(vid) == [pid]
    assert export_of(stack, vid) == before
    kill9(pid)
    wait_for(lambda: qsd_pids(vid) and qsd_pids(vid) != [pid], 60, 0.5,
             "the export's daemon to be started again")
    # the agent's check starts it without waiting and saves its state once a later
    # check (each second) sees it listen
    wait_for(lambda: [(export_of(stack, vid) or {}).get("pid")] == qsd_pids(vid), 60, 0.5,
             "the restarted daemon's state saved")
    after = export_of(stack, vid)
    assert after["port"] == before["port"] and after["attachment_id"] == before[
        "attachment_id"], (before, after)
    # the guest's QEMU still has the disk, and its NBD node is connected again
    dev = "d" + vid.replace("-", "")[:30]
    assert dev in [p["name"] for p in host_qmp(stack, b, "qom-list",
                                               {"path": "/machine/peripheral"})["return"]]
    node = "v" + vid.replace("-", "")[:30]

    [log] = (stack.root / "var/lib/nubo").glob("hc*/instances/%s/qemu.log" % b)

    def readable():  # HMP qemu-io prints on QEMU's stdout: its qemu.log
        before = log.read_text(errors="replace").count("read 4096/4096 bytes")
        host_qmp(stack, b, "human-monitor-command",
                 {"command-line": "qemu-io %s \"read 0 4096\"" % node})
        return log.read_text(errors="replace").count("read 4096/4096 bytes") > before
    wait_for(readable, 90, 2, "the guest's NBD disk to read again")


def test_new_qemu_gets_the_export_again(stack, os_run, world):
    """A hard reboot starts a new QEMU on nb2: the scheduler's re-plug attach takes both
    hops again and the storage host answers with the export it still serves."""
    if not world.get("attached_b"):
        pytest.skip("the volume did not reach the second server")
    vid, b = world["vol"]["id"], world["b"]["id"]
    before = export_of(stack, vid)
    pids = qsd_pids(vid)
    os_run("server", "reboot", "--hard", "--wait", b, timeout=300)
    dev = "d" + vid.replace("-", "")[:30]
    wait_for(lambda: dev in [p["name"] for p in host_qmp(
        stack, b, "qom-list", {"path": "/machine/peripheral"}).get("return", [])], 120, 1,
        "the volume plugged into the new QEMU")
    wait_volume(stack, vid, "in-use")
    assert export_of(stack, vid) == before and qsd_pids(vid) == pids


def test_nbd_client_without_the_key_is_refused(stack, world, tmp_path):
    if not world.get("attached_b"):
        pytest.skip("the volume did not reach the second server")
    vid = world["vol"]["id"]
    ex = export_of(stack, vid)
    # the controller's management address: its [net] tunnel_ip while hosts are present
    addr = [v.strip() for k, _, v in (l.partition("=") for l in
                                      stack.conf.read_text().splitlines())
            if k.strip() == "tunnel_ip"][0]
    url = "nbd://%s:%d/%s" % (addr, ex["port"], vid)
    ns = world["ns"]["nb2"]
    p = subprocess.run(["ip", "netns", "exec", ns, "qemu-img", "info", url],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, p.stdout
    assert "TLS" in p.stderr, p.stderr
    # the right identity with a key of our own: the handshake fails
    (tmp_path / "keys.psk").write_text("%s:%s\n" % (ex["attachment_id"], "ab" * 32))
    opts = ("driver=nbd,server.type=inet,server.host=%s,server.port=%d,export=%s,"
            "tls-creds=t0" % (addr, ex["port"], vid))
    p = subprocess.run(["ip", "netns", "exec", ns, "qemu-img", "info", "--image-opts",
                        "--object", "tls-creds-psk,id=t0,endpoint=client,dir=%s,username=%s"
                        % (tmp_path, ex["attachment_id"]), opts],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, p.stdout
    assert "TLS" in p.stderr, p.stderr


def test_zz_delete_leaves_no_export(stack, os_cli, os_run, world):
    vid = world["vol"]["id"]
    os_run("server", "delete", "--wait", world["b"]["id"], timeout=600)
    wait_volume(stack, vid, "available", timeout=180)
    wait_for(lambda: not qsd_pids(vid) and not export_of(stack, vid), 60, 1,
             "the export of %s to stop after its server's delete" % vid)
    os_run("volume", "delete", vid)
    wait_gone(stack, "volume", vid)
    assert not qsd_pids(vid)
