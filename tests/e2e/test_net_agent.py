"""nubo-net on a real stack: the Network API's changes reach nubo-net over the bus
(net.sync, docs/netstate.md) and become kernel objects with the stack's name prefix;
deleting them leaves nothing behind. Kernel-level behaviour (DHCP, anti-spoofing,
security groups, NAT, metadata, kill -9) is tested in tests/net/test_net_agent.py."""
import json
import os
import random
import subprocess

import pytest

from nubo_e2e import wait_for


def net_conf(stack):
    conf, sec = {}, None
    for line in stack.conf.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            sec = line.strip("[]")
        elif sec == "net" and "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            conf[k.strip()] = v.strip()
    return conf


def kernel(prefix):
    ns = sorted(n.split()[0] for n in subprocess.run(
        ["ip", "netns", "list"], capture_output=True, text=True).stdout.splitlines()
        if n.startswith(prefix + "-"))
    links = json.loads(subprocess.run(["ip", "-j", "link", "show"], capture_output=True,
                                      text=True).stdout)
    marked = sorted(l["ifname"] for l in links if l.get("ifalias") == "nubo-net:" + prefix)
    dnsmasq = []
    for pid in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if b"--interface=" + prefix.encode() in f.read():
                    dnsmasq.append(pid)
        except OSError:
            pass
    return {"ns": ns, "links": marked, "dnsmasq": dnsmasq}


@pytest.fixture
def network_api(stack, os_cli):
    services = [s["Type"] for s in os_cli("service", "list")]
    assert "network" in services, services
    assert stack.daemon_pid("nubo-net") is not None, "nubo-net is not running"
    return net_conf(stack)


def test_network_and_router_built_and_removed(stack, os_cli, os_run, network_api):
    prefix = network_api["prefix"]
    before = kernel(prefix)
    tag = "na%04d" % random.randint(0, 9999)
    cidr = "10.%d.%d.0/24" % (random.randint(100, 200), random.randint(0, 250))
    net = os_cli("network", "create", tag)
    sub = os_cli("subnet", "create", "--network", tag, "--subnet-range", cidr, tag + "-sub")
    router = os_cli("router", "create", tag + "-r")
    try:
        os_run("router", "set", "--external-gateway", "public", router["id"])
        os_run("router", "add", "subnet", router["id"], sub["id"])
        want_ns = {"%s-r-%s" % (prefix, router["id"])}

        def built():
            k = kernel(prefix)
            return want_ns <= set(k["ns"]) and any(l.startswith(prefix + "b") for l in k["links"])
        wait_for(built, 90, what="the router namespace and the network's bridge")
    finally:
        os_run("router", "remove", "subnet", router["id"], sub["id"], check=False)
        os_run("router", "delete", router["id"], check=False)
        os_run("subnet", "delete", sub["id"], check=False)
        os_run("network", "delete", net["id"], check=False)
    # what this test made is gone; the rest of the prefix may still be settling from
    # the tests before it (their teardown can end after `before` was taken)
    def gone():
        k = kernel(prefix)
        return not (want_ns & set(k["ns"])) and set(k["links"]) <= set(before["links"]) \
            and len(k["dnsmasq"]) <= len(before["dnsmasq"])
    wait_for(gone, 60, what="nothing left behind")
