"""Disk I/O limits (issue 9's QoS): a flavor's quota:disk_* extra specs throttle the
server's root disk and a volume type's front-end QoS specs throttle its volumes, as
QEMU block throttling (a throttle-group object and a throttle filter node); the guest
reads a limited disk slower by the limit; values QEMU would refuse are 400 where they
are set. The guest times its own reads (a user-data loop that reads 8 MiB of each disk
it has or gets with O_DIRECT and prints the guest's uptime before and after)."""
import re

import pytest

from nubo_e2e import assert_error, wait_for
from test_volume import wait_gone, wait_volume

LIMIT = 2 * 1024 * 1024  # bytes per second
MOVE = 8                 # MiB read: 4 s at the limit (QEMU lets a tenth of it pass at once)
SLOW = 3.0               # seconds a limited read takes at least, on any box

# skip 4096 blocks of 64 KiB: 256 MiB into the disk, past the tiny image's bytes
GUEST = """#!/bin/sh
(
seen=
while :; do
	for d in vda sda sdb sdc; do
		[ -b /dev/$d ] || continue
		case " $seen " in *" $d "*) continue ;; esac
		seen="$seen $d"
		s=$(cut -d' ' -f1 /proc/uptime)
		dd if=/dev/$d of=/dev/null bs=65536 count=%d skip=4096 iflag=direct 2>/dev/null
		e=$(cut -d' ' -f1 /proc/uptime)
		echo "nubo-qos: $d $s $e"
	done
	sleep 1
done
) </dev/null >/dev/console 2>&1 &
exit 0
""" % (MOVE * 16)


def read_seconds(stack, server, dev, timeout=300):
    """How long the guest took to read MOVE MiB of dev (its console line)."""
    pat = re.compile(r"nubo-qos: %s ([0-9.]+) ([0-9.]+)" % dev)

    def seen():
        m = pat.search(stack.console(server))
        return float(m.group(2)) - float(m.group(1)) if m else None
    return wait_for(seen, timeout, 2, "the guest's timed read of /dev/" + dev)


def throttle_limits(stack, server, node, group):
    """QEMU's view: node is a throttle filter, and group's limits."""
    nodes = stack.qmp(server, "query-named-block-nodes")["return"]
    drv = {n["node-name"]: n["drv"] for n in nodes}
    assert drv.get(node) == "throttle", drv
    ret = stack.qmp(server, "qom-get", {"path": "/objects/" + group, "property": "limits"})
    return ret["return"]


def volume_ids(vid):
    """QEMU's ids of an attached volume (compute-agent/vm_volume.h)."""
    hexid = vid.replace("-", "")[:30]
    return {"node": "v" + hexid, "dev": "d" + hexid, "throttle": "t" + hexid,
            "group": "g" + hexid}


@pytest.fixture(scope="module")
def qos_types(stack, os_cli, os_run):
    """A flavor limited to LIMIT bytes/s in total, and a volume type whose front-end QoS
    spec limits its volumes the same, made with the CLI as an admin would."""
    tiny = os_cli("flavor", "show", "m1.tiny")
    flavor = os_cli("flavor", "create", "--ram", str(tiny["ram"]), "--disk", "1", "--vcpus",
                    "1", "--property", "quota:disk_total_bytes_sec=%d" % LIMIT, "e2e-qos")
    qos = os_cli("volume", "qos", "create", "--consumer", "front-end", "--property",
                 "total_bytes_sec=%d" % LIMIT, "e2e-qos")
    vtype = os_cli("volume", "type", "create", "e2e-qos")
    os_run("volume", "qos", "associate", qos["id"], vtype["id"])
    yield {"flavor": flavor, "qos": qos, "type": vtype}
    os_run("volume", "qos", "disassociate", "--volume-type", vtype["id"], qos["id"],
           check=False)
    os_run("volume", "type", "delete", vtype["id"], check=False)
    os_run("volume", "qos", "delete", qos["id"], check=False)
    os_run("flavor", "delete", flavor["id"], check=False)


def test_limits_refused_where_set(stack, http, project_ids):
    """What QEMU would refuse is 400 at the API, and nothing is stored."""
    admin = stack.token("admin")
    r = http("POST", "/compute/v2.1/flavors",
             {"flavor": {"name": "e2e-qos-bad", "ram": 64, "vcpus": 1, "disk": 1}},
             token=admin)
    assert r.status == 200, r
    fid = r.json["flavor"]["id"]
    specs = "/compute/v2.1/flavors/%s/os-extra_specs" % fid
    try:
        for bad in ("-1", "abc", "1.5", "1e6", "", "1000000000000001"):
            r = http("POST", specs, {"extra_specs": {"quota:disk_read_bytes_sec": bad}},
                     token=admin)
            assert_error(r, 400)
            assert "quota:disk_read_bytes_sec" in r.text, r
        r = http("POST", specs, {"extra_specs": {"quota:disk_read_bytes_sec": "1048576",
                                                 "hw:cpu_policy": "shared"}}, token=admin)
        assert r.status == 200, r
        # a total beside the read limit already there: the merged set is refused
        r = http("PUT", specs + "/quota:disk_total_bytes_sec",
                 {"quota:disk_total_bytes_sec": "5"}, token=admin)
        assert_error(r, 400)
        assert "cannot be set together" in r.text, r
        r = http("POST", specs, {"extra_specs": {"quota:disk_read_bytes_sec_max": "10"}},
                 token=admin)
        assert_error(r, 400)  # a burst below its average
        r = http("GET", specs, token=admin)
        assert r.json["extra_specs"] == {"quota:disk_read_bytes_sec": "1048576",
                                         "hw:cpu_policy": "shared"}, r.json
    finally:
        http("DELETE", "/compute/v2.1/flavors/" + fid, token=admin)

    base = "/volume/v3/%s/qos-specs" % project_ids["admin"]
    r = http("POST", base, {"qos_specs": {"name": "e2e-qos-bad", "consumer": "front-end",
                                          "total_iops_sec": "-5"}}, token=admin)
    assert_error(r, 400)
    assert "total_iops_sec" in r.text, r
    r = http("POST", base, {"qos_specs": {"name": "e2e-qos-bad", "consumer": "both",
                                          "read_iops_sec": "100", "read_iops_sec_max": "200",
                                          "iops_bytes": "any"}}, token=admin)
    assert r.status == 200, r  # a key that is not a front-end limit is the back end's
    qid = r.json["qos_specs"]["id"]
    try:
        r = http("PUT", base + "/" + qid, {"qos_specs": {"total_iops_sec": "5"}}, token=admin)
        assert_error(r, 400)
        # unsetting the average would leave its burst alone
        r = http("PUT", base + "/" + qid + "/delete_keys", {"keys": ["read_iops_sec"]},
                 token=admin)
        assert_error(r, 400)
        r = http("GET", base + "/" + qid, token=admin)
        assert r.json["qos_specs"]["specs"] == {"read_iops_sec": "100",
                                                "read_iops_sec_max": "200",
                                                "iops_bytes": "any"}, r.json
    finally:
        http("DELETE", base + "/" + qid + "?force=True", token=admin)


def test_limited_disks_are_slower_by_the_limit(stack, os_cli, os_run, qos_types, tmp_path):
    """A server of the limited flavor: its root disk reads at the limit; a plain volume
    attached to it reads fast; a volume of the limited type reads at the limit again.
    QEMU shows the throttle nodes and their limits, and a detach leaves none behind."""
    script = tmp_path / "qos.sh"
    script.write_text(GUEST)
    s = os_cli("server", "create", "--flavor", qos_types["flavor"]["id"], "--image",
               "nubo-tiny", "--user-data", str(script), "--wait", "e2e-qos", timeout=900)
    assert s["status"] == "ACTIVE", s
    plain = os_cli("volume", "create", "--size", "1", "e2e-qos-plain")
    limited = os_cli("volume", "create", "--size", "1", "--type", qos_types["type"]["id"],
                     "e2e-qos-limited")
    try:
        limits = throttle_limits(stack, s["id"], "disk0-throttle", "disk0-tg")
        assert limits["bps-total"] == LIMIT, limits
        root = read_seconds(stack, s["id"], "vda")
        assert root >= SLOW, "the root disk read %d MiB in %.2f s at %d B/s" % (
            MOVE, root, LIMIT)

        wait_volume(stack, plain["id"], "available")
        os_run("server", "add", "volume", s["id"], plain["id"])
        wait_volume(stack, plain["id"], "in-use", timeout=120)
        fast = read_seconds(stack, s["id"], "sda")
        # no throttle node for a volume without QoS
        nodes = [n["node-name"] for n in
                 stack.qmp(s["id"], "query-named-block-nodes")["return"]]
        assert volume_ids(plain["id"])["throttle"] not in nodes, nodes

        wait_volume(stack, limited["id"], "available")
        os_run("server", "add", "volume", s["id"], limited["id"])
        wait_volume(stack, limited["id"], "in-use", timeout=120)
        ids = volume_ids(limited["id"])
        limits = throttle_limits(stack, s["id"], ids["throttle"], ids["group"])
        assert limits["bps-total"] == LIMIT, limits
        slow = read_seconds(stack, s["id"], "sdb")
        assert slow >= SLOW, "the limited volume read %d MiB in %.2f s" % (MOVE, slow)
        # the same read without a limit is faster by far
        print("read %d MiB: root %.2f s, plain volume %.2f s, limited volume %.2f s"
              % (MOVE, root, fast, slow))
        assert fast < slow - 1.0 and fast < root - 1.0, (fast, slow, root)

        os_run("server", "remove", "volume", s["id"], limited["id"])
        wait_volume(stack, limited["id"], "available", timeout=60)
        nodes = [n["node-name"] for n in
                 stack.qmp(s["id"], "query-named-block-nodes")["return"]]
        assert ids["throttle"] not in nodes and ids["node"] not in nodes, nodes
        objs = [o["name"] for o in
                stack.qmp(s["id"], "qom-list", {"path": "/objects"})["return"]]
        assert ids["group"] not in objs and "disk0-tg" in objs, objs
    finally:
        os_run("server", "delete", "--wait", s["id"], check=False, timeout=300)
        for v in (plain, limited):
            wait_volume(stack, v["id"], "available", timeout=120)
            os_run("volume", "delete", v["id"], check=False)
            wait_gone(stack, "volume", v["id"])


def test_boot_volume_takes_its_type_limits(stack, os_cli, os_run, qos_types):
    """A server booted from a volume: its root disk is the volume, throttled by the
    volume type's QoS (Nova applies a flavor's quota:disk_* to local disks only)."""
    vol = os_cli("volume", "create", "--image", "nubo-tiny", "--size", "1", "--type",
                 qos_types["type"]["id"], "e2e-qos-boot")
    wait_volume(stack, vol["id"], "available", timeout=180)
    s = os_cli("server", "create", "--flavor", "m1.tiny", "--volume", vol["id"], "--wait",
               "e2e-qos-boot", timeout=900)
    try:
        assert s["status"] == "ACTIVE", s
        limits = throttle_limits(stack, s["id"], "disk0-throttle", "disk0-tg")
        assert limits["bps-total"] == LIMIT, limits
    finally:
        os_run("server", "delete", "--wait", s["id"], check=False, timeout=300)
        wait_volume(stack, vol["id"], "available", timeout=120)
        os_run("volume", "delete", vol["id"], check=False)
        wait_gone(stack, "volume", vol["id"])
