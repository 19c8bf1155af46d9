"""Issue 9's boot from a volume of another machine: a volume made from nubo-tiny on the
controller's storage agent is the root disk of a server on an added host (a
deploy/host-add.sh network namespace). The scheduler has the controller's storage agent
export it first (one qemu-storage-daemon, TLS-PSK with the boot volume's attachment id
as identity), then the host's QEMU boots from the nbd node; the guest prints its ready
line, and again after a hard reboot (a new QEMU, the same export). Deleting the server
stops the export; the volume (kept by the CLI's mapping) is
available again and deletable."""
import random

import pytest

from nubo_e2e import wait_for
from test_multihost import add_hosts, del_hosts, hypervisors
from test_volume import wait_gone, wait_volume
from test_volume_multihost import export_of, qsd_pids

BOOT_S = 600  # a TCG boot on this shared box
HOSTS = ("nbb1",)


def qemu_argv(stack, instance_id):
    """The argv of the instance's QEMU on an added host (its instance directory is
    <varlib>/hc<index>/instances/<id>, QEMU's working directory)."""
    [d] = (stack.root / "var/lib/nubo").glob("hc*/instances/%s" % instance_id)
    for pid in (d / "qemu.pid").read_text().split():
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return [a.decode() for a in f.read().split(b"\0") if a]
    return []


@pytest.fixture(scope="module")
def world(stack, os_cli, os_run):
    w = {"cleanup": [], "tag": "%04d" % random.randint(0, 9999), "zones": {}}
    added = []
    try:
        add_hosts(stack, os_cli, HOSTS, w, added)
        vol = os_cli("volume", "create", "--image", "nubo-tiny", "--size", "1",
                     "nbb%s" % w["tag"])
        w["cleanup"].append(("volume", "delete", vol["id"]))
        wait_volume(stack, vol["id"], "available", timeout=300)
        w["vol"] = vol
        yield w
    finally:
        for args in w["cleanup"]:
            stack.os_run(*args, check=False, timeout=600)
        del_hosts(stack, added)


def test_boots_from_a_volume_of_another_machine(stack, os_cli, os_run, world):
    vid = world["vol"]["id"]
    name = "nbb%s-vm" % world["tag"]
    s = os_cli("server", "create", "--flavor", "m1.tiny", "--volume", vid,
               "--availability-zone", world["zones"]["nbb1"], name)
    sid = s["id"]
    world["cleanup"].insert(0, ("server", "delete", "--wait", sid))
    stack.wait_status(sid, "ACTIVE", timeout=BOOT_S)
    assert os_cli("server", "show", sid)["OS-EXT-SRV-ATTR:host"] == "nbb1"
    # one export, on the controller; the host's QEMU reads it over NBD with TLS
    ex = export_of(stack, vid)
    assert ex and ex["port"] > 0, ex
    assert len(qsd_pids(vid)) == 1, qsd_pids(vid)
    argv = qemu_argv(stack, sid)
    nbd = [a for a in argv if a.startswith("driver=nbd,")]
    assert nbd and "export=%s" % vid in nbd[0] and "tls-creds=disk0-tls" in nbd[0], argv
    assert any(a.startswith("tls-creds-psk,") and "username=%s" % ex["attachment_id"] in a
               for a in argv), argv
    # the key was read at start and is gone from the instance directory
    [d] = (stack.root / "var/lib/nubo").glob("hc*/instances/%s" % sid)
    assert not (d / "psk-root").exists()

    def ready():
        text = stack.console(sid)
        return text if "nubo-guest ready" in text else None
    text = wait_for(ready, BOOT_S, 3, "the guest's ready line on the console")
    line = next(x for x in text.splitlines() if "nubo-guest ready" in x)
    assert sid in line, line
    v = os_cli("volume", "show", vid)
    assert v["status"] == "in-use" and [a["server_id"] for a in v["attachments"]] == [sid]

    # a new QEMU (hard reboot) boots from the same export with the key kept in its
    # spec: same daemon, same port, the guest ready again
    pids = qsd_pids(vid)
    os_run("server", "reboot", "--hard", "--wait", sid, timeout=BOOT_S)
    argv = qemu_argv(stack, sid)
    assert [a for a in argv if a.startswith("driver=nbd,")] == nbd, argv
    assert qsd_pids(vid) == pids and export_of(stack, vid) == ex
    assert not (d / "psk-root").exists()
    wait_for(lambda: stack.console(sid).count("nubo-guest ready") >= 2, BOOT_S, 3,
             "the guest's ready line after the hard reboot")

    os_run("server", "delete", "--wait", sid, timeout=600)
    world["cleanup"].pop(0)
    wait_volume(stack, vid, "available", timeout=180)
    wait_for(lambda: not qsd_pids(vid) and not export_of(stack, vid), 120, 1,
             "the export of %s to stop after its server's delete" % vid)
    os_run("volume", "delete", vid)
    world["cleanup"].pop()
    wait_gone(stack, "volume", vid)


def test_placement_beside_the_volume_and_local_to_instance(stack, os_cli, os_run, world):
    """Issue 9 (s10): the controller runs both agents, the added host only Compute.
    Cinder's local_to_instance hint (sent by `openstack volume create --hint`) puts a
    volume on the server's machine, or fails it saying why when no storage agent runs
    there; a malformed or unknown server is a 400. With both hosts in one zone and the
    added host holding more free RAM, a server made with --boot-from-volume lands on
    the controller with its new root volume (no NBD export), where free RAM alone
    would have chosen the added host."""
    tag, zone = world["tag"], world["zones"]["nbb1"]
    [ctrl] = [h for h, row in hypervisors(os_cli).items()
              if h not in HOSTS and row.get("State") == "up"]

    def server(name, *args):
        s = os_cli("server", "create", "--flavor", "m1.tiny", *args, "nbl%s-%s" % (tag, name))
        world["cleanup"].insert(0, ("server", "delete", "--wait", s["id"]))
        stack.wait_status(s["id"], "ACTIVE", timeout=BOOT_S)
        return s["id"]

    def hinted(name, sid):
        v = os_cli("volume", "create", "--size", "1", "--hint", "local_to_instance=%s" % sid,
                   "nbl%s-%s" % (tag, name))
        world["cleanup"].append(("volume", "delete", v["id"]))
        return v["id"]

    def aggregate(name, zone_name):
        a = os_cli("aggregate", "create", "--zone", zone_name, "nbl%s-%s" % (tag, name))
        world["cleanup"].append(("aggregate", "delete", a["id"]))
        os_run("aggregate", "add", "host", a["id"], ctrl)
        world["cleanup"].insert(0, ("aggregate", "remove", "host", a["id"], ctrl))
        return a["id"]

    # the hint: the server's machine or an error saying why
    far = server("far", "--image", "nubo-tiny", "--availability-zone", zone)
    assert os_cli("server", "show", far)["OS-EXT-SRV-ATTR:host"] == "nbb1"
    vid = hinted("far", far)
    wait_volume(stack, vid, "error", timeout=120)
    [[fault]] = stack.sql("SELECT fault FROM volumes WHERE id = :'p1'", vid)
    assert fault == ("No valid backend was found. local_to_instance: no storage host runs on"
                     " the server's machine: %s-storage is on another" % ctrl), fault
    for hint, why in (("local_to_instance=nope", "local_to_instance must be a UUID"),
                      ("local_to_instance=00000000-0000-4000-8000-000000000000",
                       "could not be found")):
        p = os_run("volume", "create", "--size", "1", "--hint", hint, "nbl%s-bad" % tag,
                   check=False)
        assert p.returncode != 0 and why in p.stderr, (p.stdout, p.stderr)
    agg = aggregate("c", "zc%s" % tag)
    near = server("near", "--image", "nubo-tiny", "--availability-zone", "zc%s" % tag)
    assert os_cli("server", "show", near)["OS-EXT-SRV-ATTR:host"] == ctrl
    vid = hinted("near", near)
    wait_volume(stack, vid, "available", timeout=120)
    assert os_cli("volume", "show", vid)["os-vol-host-attr:host"].startswith(ctrl + "-storage@")

    # both hosts in one zone; the added host has more free RAM (near runs on ctrl)
    os_run("server", "delete", "--wait", far, timeout=600)
    os_run("aggregate", "remove", "host", agg, ctrl)
    aggregate("z", zone)
    hv = hypervisors(os_cli)
    sid = server("bfv", "--image", "nubo-tiny", "--boot-from-volume", "1",
                 "--availability-zone", zone)
    s = os_cli("server", "show", sid)
    assert s["OS-EXT-SRV-ATTR:host"] == ctrl, (s["OS-EXT-SRV-ATTR:host"], hv)
    [[root]] = stack.sql("SELECT boot_volume_id FROM instances WHERE id = :'p1'", sid)
    assert os_cli("volume", "show", root)["os-vol-host-attr:host"].startswith(ctrl + "-storage@")
    assert export_of(stack, root) is None and not qsd_pids(root)
