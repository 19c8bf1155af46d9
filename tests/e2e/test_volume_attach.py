"""Compute × Block Storage attachments as Nova and Tempest expect them: volumes are
SCSI disks on the instance's virtio-scsi controller, so a detach finishes without the
guest's help (a guest still booting never acknowledged a virtio-blk unplug, and the
volume stayed `detaching`); attaching an attached volume is 400 (same or another
server); the swap PUT answers Nova's negatives; deleting a server frees its volumes."""
import json
import os
import socket
import uuid

import pytest

from nubo_e2e import assert_error, wait_for
from test_volume import qmp_devices, wait_gone, wait_volume

ATT = "/compute/v2.1/servers/%s/os-volume_attachments"


def new_volume(os_cli, name):
    v = os_cli("volume", "create", "--size", "1", name)
    return v


def new_server(stack, name):
    s = stack.os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                     "--wait", name)
    assert s["status"] == "ACTIVE", s
    return s


@pytest.fixture(scope="module")
def fresh(stack):
    """A server used right after it turned ACTIVE, as Tempest does (its guest is most
    likely still booting under TCG)."""
    s = new_server(stack, "e2e-att-fresh")
    yield s
    stack.os_run("server", "delete", "--wait", s["id"], check=False, timeout=300)


def test_detach_from_booting_guest_is_prompt(stack, os_cli, os_run, fresh, http):
    v = new_volume(os_cli, "e2e-att-prompt")
    wait_volume(stack, v["id"], "available")
    r = http("POST", ATT % fresh["id"], {"volumeAttachment": {"volumeId": v["id"]}},
             token=stack.token("admin"))
    assert r.status == 200, r
    att = r.json["volumeAttachment"]
    assert att == {"id": v["id"], "volumeId": v["id"], "serverId": fresh["id"],
                   "device": "/dev/sda"}, att
    wait_volume(stack, v["id"], "in-use", timeout=120)
    # list and show carry the same view
    r = http("GET", ATT % fresh["id"], token=stack.token("admin"))
    assert r.json["volumeAttachments"] == [att], r.json
    r = http("GET", ATT % fresh["id"] + "/" + v["id"], token=stack.token("admin"))
    assert r.json["volumeAttachment"] == att, r.json
    dev = "d" + v["id"].replace("-", "")[:30]
    assert dev in qmp_devices(stack, fresh["id"])
    os_run("server", "remove", "volume", fresh["id"], v["id"])
    # a SCSI unplug needs no guest: far under the agent's 60 s virtio-blk wait
    wait_volume(stack, v["id"], "available", timeout=30)
    assert dev not in qmp_devices(stack, fresh["id"])
    os_run("volume", "delete", v["id"])
    wait_gone(stack, "volume", v["id"])


def test_attach_attached_volume_is_400(stack, os_cli, os_run, fresh, vm, http, project_ids):
    v = new_volume(os_cli, "e2e-att-twice")
    wait_volume(stack, v["id"], "available")
    os_run("server", "add", "volume", fresh["id"], v["id"])
    try:
        wait_volume(stack, v["id"], "in-use", timeout=120)
        body = {"volumeAttachment": {"volumeId": v["id"]}}
        for server in (fresh["id"], vm["id"]):
            r = http("POST", ATT % server, body, token=stack.token("admin"))
            assert_error(r, 400)
        # still attached to the first, to it only
        r = http("GET", ATT % vm["id"], token=stack.token("admin"))
        assert r.json["volumeAttachments"] == [], r.json
        # in use: no delete
        r = http("DELETE", "/volume/v3/%s/volumes/%s" % (project_ids["admin"], v["id"]),
                 token=stack.token("admin"))
        assert_error(r, 400)
    finally:
        os_run("server", "remove", "volume", fresh["id"], v["id"], check=False)
        wait_volume(stack, v["id"], "available", timeout=60)
        os_run("volume", "delete", v["id"])


def test_swap_negatives(stack, os_cli, os_run, fresh, http):
    v = new_volume(os_cli, "e2e-att-swap")
    other = new_volume(os_cli, "e2e-att-swap2")
    wait_volume(stack, v["id"], "available")
    wait_volume(stack, other["id"], "available")
    admin = stack.token("admin")
    nothing = str(uuid.uuid4())
    # the volume of the path does not exist: 404 (Nova's VolumeNotFound)
    r = http("PUT", ATT % fresh["id"] + "/" + nothing,
             {"volumeAttachment": {"volumeId": v["id"]}}, token=admin)
    assert_error(r, 404)
    os_run("server", "add", "volume", fresh["id"], v["id"])
    try:
        wait_volume(stack, v["id"], "in-use", timeout=120)
        # the new volume does not exist: 400
        r = http("PUT", ATT % fresh["id"] + "/" + v["id"],
                 {"volumeAttachment": {"volumeId": nothing}}, token=admin)
        assert_error(r, 400)
        # no body: 400
        r = http("PUT", ATT % fresh["id"] + "/" + v["id"], {}, token=admin)
        assert_error(r, 400)
        # a volume not attached to this server: 404
        r = http("PUT", ATT % fresh["id"] + "/" + other["id"],
                 {"volumeAttachment": {"volumeId": v["id"]}}, token=admin)
        assert_error(r, 404)
        # a real swap: refused (swap_volume is off), nothing changed
        r = http("PUT", ATT % fresh["id"] + "/" + v["id"],
                 {"volumeAttachment": {"volumeId": other["id"]}}, token=admin)
        assert_error(r, 409)
        assert wait_volume(stack, v["id"], "in-use")
        assert wait_volume(stack, other["id"], "available")
        # admin only, as Nova's swap policy
        r = http("PUT", ATT % fresh["id"] + "/" + v["id"],
                 {"volumeAttachment": {"volumeId": other["id"]}}, token=stack.token("demo"))
        assert r.status in (403, 404), r
    finally:
        os_run("server", "remove", "volume", fresh["id"], v["id"], check=False)
        wait_volume(stack, v["id"], "available", timeout=60)
        os_run("volume", "delete", v["id"])
        os_run("volume", "delete", other["id"])


def test_server_delete_frees_its_volumes(stack, os_cli, os_run, http):
    s = new_server(stack, "e2e-att-del")
    v = new_volume(os_cli, "e2e-att-del")
    wait_volume(stack, v["id"], "available")
    os_run("server", "add", "volume", s["id"], v["id"])
    wait_volume(stack, v["id"], "in-use", timeout=120)
    os_run("server", "delete", "--wait", s["id"], timeout=300)
    v = wait_volume(stack, v["id"], "available", timeout=60)
    assert v["attachments"] in ([], "[]", None), v
    row = stack.sql("SELECT coalesce(attached_server, '-') || coalesce(attachment_id, '-')"
                    " || coalesce(attach_device, '-') FROM volumes WHERE id = :'p1'", v["id"])
    assert row == [["---"]], row
    os_run("volume", "delete", v["id"])
    wait_gone(stack, "volume", v["id"])


def test_nova_volume_and_snapshot_proxies(stack, http):
    """os-volumes and os-snapshots (2.1 to 2.35) in Nova's shape over Block Storage;
    404 from 2.36 on."""
    admin = stack.token("admin")
    r = http("POST", "/compute/v2.1/os-volumes",
             {"volume": {"size": 1, "display_name": "e2e-proxy", "display_description": "d"}},
             token=admin)
    assert r.status == 200, r
    v = r.json["volume"]
    assert v["displayName"] == "e2e-proxy" and v["size"] == 1, v
    assert v["attachments"] == [{}], v
    assert set(v) == {"id", "status", "size", "availabilityZone", "createdAt", "displayName",
                      "displayDescription", "volumeType", "snapshotId", "metadata",
                      "attachments"}, v
    wait_for(lambda: http("GET", "/compute/v2.1/os-volumes/" + v["id"],
                          token=admin).json["volume"]["status"] == "available",
             120, 0.5, "proxied volume available")
    r = http("GET", "/compute/v2.1/os-volumes", token=admin)
    assert v["id"] in [x["id"] for x in r.json["volumes"]], r.json
    r = http("POST", "/compute/v2.1/os-snapshots",
             {"snapshot": {"volume_id": v["id"], "display_name": "e2e-psnap"}}, token=admin)
    assert r.status == 200, r
    s = r.json["snapshot"]
    assert s["volumeId"] == v["id"] and s["displayName"] == "e2e-psnap", s
    wait_for(lambda: http("GET", "/compute/v2.1/os-snapshots/" + s["id"],
                          token=admin).json["snapshot"]["status"] == "available",
             120, 0.5, "proxied snapshot available")
    r = http("GET", "/compute/v2.1/os-snapshots/detail", token=admin)
    assert s["id"] in [x["id"] for x in r.json["snapshots"]], r.json
    # Nova's errors: unknown ids 404, a bad body 400, gone from 2.36
    assert_error(http("GET", "/compute/v2.1/os-volumes/" + str(uuid.uuid4()), token=admin),
                 404)
    assert_error(http("POST", "/compute/v2.1/os-volumes", {"volume": {"size": "x"}},
                      token=admin), 400)
    r = http("GET", "/compute/v2.1/os-volumes", token=admin,
             headers={"X-OpenStack-Nova-API-Version": "2.36"})
    assert_error(r, 404)
    r = http("DELETE", "/compute/v2.1/os-snapshots/" + s["id"], token=admin)
    assert r.status == 202, r
    wait_for(lambda: http("GET", "/compute/v2.1/os-snapshots/" + s["id"],
                          token=admin).status == 404, 120, 0.5, "proxied snapshot gone")
    r = http("DELETE", "/compute/v2.1/os-volumes/" + v["id"], token=admin)
    assert r.status == 202, r
    wait_for(lambda: http("GET", "/compute/v2.1/os-volumes/" + v["id"],
                          token=admin).status == 404, 120, 0.5, "proxied volume gone")


def test_volumes_survive_a_new_qemu(stack, os_cli, os_run, fresh):
    """A hard reboot starts a new QEMU: the in-use volume is plugged into it again (a
    hot-plugged disk lives only in the process that got it), and stays in-use."""
    v = new_volume(os_cli, "e2e-att-replug")
    wait_volume(stack, v["id"], "available")
    os_run("server", "add", "volume", fresh["id"], v["id"])
    dev = "d" + v["id"].replace("-", "")[:30]
    try:
        wait_volume(stack, v["id"], "in-use", timeout=120)
        assert dev in qmp_devices(stack, fresh["id"])
        os_run("server", "reboot", "--hard", "--wait", fresh["id"], timeout=300)
        wait_for(lambda: dev in qmp_devices(stack, fresh["id"]), 60, 0.5,
                 "the volume plugged into the new QEMU")
        assert wait_volume(stack, v["id"], "in-use")
    finally:
        os_run("server", "remove", "volume", fresh["id"], v["id"], check=False)
        wait_volume(stack, v["id"], "available", timeout=60)
        os_run("volume", "delete", v["id"])


def qmp_plant_node(stack, instance_id, node, fd):
    """What an attach interrupted after its blockdev-add leaves in QEMU: fd as a
    descriptor set marked with node's name (add-fd, SCM_RIGHTS) and a block node of that
    name on it, on one monitor connection (QEMU drops an unused set when the connection
    that added it closes). The set's id."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(str(stack.instance_dir(instance_id) / "qmp.sock"))
        f = s.makefile("r")
        f.readline()

        def call(name, args=None, fds=None):
            data = (json.dumps({"execute": name, **({"arguments": args} if args else {})})
                    + "\n").encode()
            if fds:
                socket.send_fds(s, [data], fds)
            else:
                s.sendall(data)
            while True:
                msg = json.loads(f.readline())
                if "return" in msg or "error" in msg:
                    assert "return" in msg, (name, msg)
                    return msg["return"]
        call("qmp_capabilities")
        fdset = call("add-fd", {"opaque": node}, [fd])["fdset-id"]
        call("blockdev-add", {"driver": "raw", "node-name": node,
                              "file": {"driver": "file", "filename": "/dev/fdset/%d" % fdset}})
        return fdset


def test_attach_clears_an_interrupted_attach(stack, os_cli, os_run, fresh, tmp_path):
    """An attach whose agent died after plugging the volume's block node but before its
    device finds the node name taken: the next attach removes the leftovers first."""
    v = new_volume(os_cli, "e2e-att-leftover")
    wait_volume(stack, v["id"], "available")
    node = "v" + v["id"].replace("-", "")[:30]
    junk = tmp_path / "leftover.raw"
    junk.write_bytes(b"\0" * 65536)
    fd = os.open(junk, os.O_RDWR)
    try:
        fdset = qmp_plant_node(stack, fresh["id"], node, fd)
    finally:
        os.close(fd)
    nodes = [n["node-name"] for n in stack.qmp(fresh["id"], "query-named-block-nodes")["return"]]
    assert node in nodes, nodes
    os_run("server", "add", "volume", fresh["id"], v["id"])
    dev = "d" + v["id"].replace("-", "")[:30]
    try:
        wait_volume(stack, v["id"], "in-use", timeout=120)
        assert dev in qmp_devices(stack, fresh["id"])
        # one descriptor set of the volume: the attach's own (QEMU may reuse the id)
        sets = stack.qmp(fresh["id"], "query-fdsets")["return"]
        mine = [x for x in sets if any(d.get("opaque") == node for d in x["fds"])]
        assert len(mine) == 1 and len(mine[0]["fds"]) == 1, (fdset, sets)
    finally:
        os_run("server", "remove", "volume", fresh["id"], v["id"], check=False)
        wait_volume(stack, v["id"], "available", timeout=60)
        os_run("volume", "delete", v["id"])
    nodes = [n["node-name"] for n in stack.qmp(fresh["id"], "query-named-block-nodes")["return"]]
    assert node not in nodes, nodes
