"""nubo-net against the real kernel: bridges, VXLAN, taps, namespaces, nft and dnsmasq.
A standalone nubo-net (tests/net/netlib.py) converges to documents of
docs/netstate.md; fake VMs are namespaces behind veths named as the ports' taps.
The tests run in order on one agent (module fixture) and need root, nft, dnsmasq,
busybox (udhcpc) and socat. Run: tests/net/run.sh."""
import json
import os
import random
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netlib import NetAgent, doc_base, sh, tap_of, uid  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

NET, SUB, DHCP = uid(), uid(), uid()
P1, P2, P3 = uid(), uid(), uid()
SG_DEF, SG_WEB = uid(), uid()
ROUTER, RIF = uid(), uid()
MAC1, MAC2, MAC3 = "fa:16:3e:00:00:05", "fa:16:3e:00:00:06", "fa:16:3e:00:00:07"
# addresses only ever used inside the test's namespaces
CIDR, GW, DHCP_IP, IP1, IP2, IP3 = "10.77.1.0/24", "10.77.1.1", "10.77.1.2", "10.77.1.5", "10.77.1.6", "10.77.1.7"
EXT_CIDR_GW, EXT_GW, ROUTER_EXT, FIP = "10.78.4.1/24", "10.78.4.1", "10.78.4.10", "10.78.4.20"


VNI = random.randint(100000, 16000000)  # parallel runs must not share one


def network():
    # no VXLAN peers here: every 127/8 address is this host's, so a flood entry would
    # loop frames back into the bridge (test_vxlan_flood_entries_follow_peers has them)
    return {"id": NET, "mtu": 1450, "segmentation": {"type": "vxlan", "id": VNI},
            "peers": [],
            "subnets": [{"id": SUB, "cidr": CIDR, "gateway_ip": GW, "enable_dhcp": True,
                         "dns_nameservers": []}],
            "dhcp": {"port_id": DHCP, "mac": "fa:16:3e:00:00:02",
                     "fixed_ips": [{"subnet_id": SUB, "ip_address": DHCP_IP}],
                     "hosts": [{"mac": MAC1, "ip_address": IP1, "hostname": "vm1"},
                               {"mac": MAC2, "ip_address": IP2, "hostname": "vm2"},
                               {"mac": MAC3, "ip_address": IP3, "hostname": "vm3"}]}}


def port(pid, mac, ip, groups):
    return {"id": pid, "network_id": NET, "tap": tap_of(pid), "mac": mac, "mtu": 1450,
            "fixed_ips": [{"subnet_id": SUB, "ip_address": ip}],
            "port_security_enabled": True, "security_groups": groups,
            "allowed_address_pairs": []}


def groups(web_port=None):
    web_rules = [{"direction": "egress", "ethertype": "IPv4"}]
    if web_port:
        web_rules.append({"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp",
                          "port_range_min": web_port, "port_range_max": web_port,
                          "remote_ip_prefix": "0.0.0.0/0"})
    return [{"id": SG_DEF, "rules": [{"direction": "egress", "ethertype": "IPv4"},
                                     {"direction": "ingress", "ethertype": "IPv4",
                                      "remote_group_id": SG_DEF}],
             "member_ips": [IP1, IP2]},
            {"id": SG_WEB, "rules": web_rules, "member_ips": [IP2]}]


def router(fip=True):
    return {"id": ROUTER, "enable_snat": True,
            "gateway": {"ip_address": ROUTER_EXT, "prefixlen": 24, "gateway_ip": EXT_GW},
            "interfaces": [{"port_id": RIF, "subnet_id": SUB, "network_id": NET,
                            "mac": "fa:16:3e:00:00:01", "ip_address": GW, "prefixlen": 24}],
            "floating_ips": [{"floating_ip_address": FIP, "fixed_ip_address": IP2}] if fip else []}


def full(agent, web_port=8080, fip=True, with_p3=True):
    ports = [port(P1, MAC1, IP1, [SG_DEF]), port(P2, MAC2, IP2, [SG_DEF, SG_WEB])]
    if with_p3:
        ports.append(port(P3, MAC3, IP3, [SG_DEF]))
    doc = doc_base(agent, [network()], ports, groups(web_port), [router(fip)])
    if getattr(agent, "metadata_url", None):
        doc["metadata"] = {"url": agent.metadata_url, "secret": "s3cret"}
    return doc


@pytest.fixture(scope="module")
def env():
    for tool in ("nft", "dnsmasq", "busybox", "socat"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            pytest.skip("%s is not installed (deploy/stack.sh installs it)" % tool)
    a = NetAgent()
    try:
        a.vm1 = a.vm("vm1", tap_of(P1), MAC1)
        a.vm2 = a.vm("vm2", tap_of(P2), MAC2)
        a.out = a.outside(EXT_CIDR_GW)
        a.start()
        yield a
    finally:
        a.close()


def udhcpc(ns, iface="eth0"):
    """The address busybox udhcpc leases on iface of ns ("" when none in 4 s)."""
    script = "/tmp/nubo-udhcpc-%d.sh" % os.getpid()
    with open(script, "w") as f:
        f.write("#!/bin/sh\n[ \"$1\" = bound ] && echo \"LEASE $ip $router $mtu\"\nexit 0\n")
    os.chmod(script, 0o755)
    p = sh("busybox", "udhcpc", "-i", iface, "-n", "-q", "-f", "-t", "2", "-T", "1", "-s", script,
           ns=ns, check=False, timeout=15)
    os.unlink(script)
    for line in p.stdout.splitlines():
        if line.startswith("LEASE "):
            return line.split()[1:]
    return []


def tcp_ok(ns, ip, port, timeout=2):
    p = sh("socat", "-t", str(timeout), "-T", str(timeout), "-", "TCP:%s:%d,connect-timeout=%d" % (ip, port, timeout),
           ns=ns, check=False, input="ping\n", timeout=timeout + 5)
    return p.returncode == 0 and "ping" in p.stdout


class Listener:
    """socat echo server in ns on TCP port; print=True answers with the peer address."""

    def __init__(self, ns, port, peer=False):
        reply = "SYSTEM:echo $SOCAT_PEERADDR" if peer else "PIPE"
        # -t 10: the client sends its line and its FIN at once; socat's default 0.5 s
        # after that FIN closed the connection before a loaded box had started the
        # shell that echoes the peer's address (an empty answer, rc 0, in a CI run)
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, "socat", "-t", "10",
                                   "TCP-LISTEN:%d,reuseaddr,fork" % port, reply],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # listening, not a fixed sleep
        deadline = time.monotonic() + 10
        while ":%d " % port not in subprocess.run(
                ["ip", "netns", "exec", ns, "ss", "-Hltn"], capture_output=True,
                text=True).stdout + " ":
            assert time.monotonic() < deadline and self.p.poll() is None, \
                "socat did not listen on %d in %s" % (port, ns)
            time.sleep(0.05)

    def close(self):
        self.p.kill()
        self.p.wait()


def test_converge_builds_bridge_vxlan_taps_namespaces(env):
    ms = env.apply(full(env, web_port=None, fip=True))
    k = env.kernel()
    kinds = {name: kind for name, kind, _, _ in k["links"]}
    masters = {name: master for name, _, _, master in k["links"]}
    br = [n for n, kind in kinds.items() if kind == "bridge"]
    assert len(br) == 1, k
    vx = [n for n, kind in kinds.items() if kind == "vxlan"]
    assert len(vx) == 1 and masters[vx[0]] == br[0]
    d = sh("ip", "-j", "-d", "link", "show", vx[0]).stdout
    assert '"id":%d' % VNI in d.replace(" ", "") and '"local":"127.0.0.1"' in d.replace(" ", "")
    # the port without a VM got a persistent tap owned by the QEMU user, on the bridge
    t3 = sh("ip", "-j", "-d", "link", "show", tap_of(P3)).stdout
    assert '"info_kind":"tun"' in t3.replace(" ", "") and br[0] in t3
    with open("/sys/class/net/%s/owner" % tap_of(P3)) as f:
        assert int(f.read()) == int(sh("id", "-u", "nubo-qemu").stdout)
    # the fake VMs' taps are plugged in too
    for p in (P1, P2):
        assert '"master":"%s"' % br[0] in sh("ip", "-j", "link", "show", tap_of(p)).stdout.replace(" ", "")
    assert len(k["ns"]) == 2 and len(k["dnsmasq"]) == 1
    assert k["tables"] == ["table bridge %s_as" % env.prefix, "table inet %s_sg" % env.prefix]
    print("first converge %.1f ms" % ms)


def test_tap_opens_as_the_compute_helper_opens_it(env):
    """The compute agent's helper attaches to nubo-net's persistent tap by name
    (TUNSETIFF, IFF_TAP|IFF_NO_PI|IFF_VNET_HDR) and hands the fd to QEMU: the tap
    gets a carrier while it is held and stays (persistent) after."""
    import fcntl
    import struct
    fd = os.open("/dev/net/tun", os.O_RDWR)
    try:
        fcntl.ioctl(fd, 0x400454ca, struct.pack("16sH", tap_of(P3).encode(), 0x0002 | 0x1000 | 0x4000))
        time.sleep(0.1)
        with open("/sys/class/net/%s/carrier" % tap_of(P3)) as f:
            assert f.read().strip() == "1"
    finally:
        os.close(fd)
    assert os.path.exists("/sys/class/net/" + tap_of(P3))


def test_dhcp_leases_known_macs_only(env):
    lease = udhcpc(env.vm1)
    assert lease and lease[0] == IP1 and lease[1] == GW, lease
    sh("ip", "addr", "add", IP1 + "/24", "dev", "eth0", ns=env.vm1)
    sh("ip", "route", "add", "default", "via", GW, ns=env.vm1)
    sh("ip", "addr", "add", IP2 + "/24", "dev", "eth0", ns=env.vm2)
    sh("ip", "route", "add", "default", "via", GW, ns=env.vm2)
    # a MAC the document does not list gets no lease: a namespace on the bridge that is
    # no port (so no anti-spoofing in its way) asks
    stranger = "%s-x" % env.tprefix
    sh("ip", "netns", "add", stranger)
    env.test_ns.append(stranger)
    br = [n for n, kind, _, _ in env.kernel()["links"] if kind == "bridge"][0]
    sh("ip", "link", "add", env.tprefix + "x", "type", "veth", "peer", "name", "eth0", "netns", stranger)
    env.test_links.append(env.tprefix + "x")
    sh("ip", "link", "set", env.tprefix + "x", "master", br, "up")
    sh("ip", "-n", stranger, "link", "set", "eth0", "address", "fa:16:3e:77:77:77", "up")
    assert udhcpc(stranger) == []


def test_replugged_port_and_reused_address_lease_again(env):
    """A port unplugged and plugged again (its host entry gone and back) leases its
    address again; so does a new port (another MAC) that gets the address a deleted
    port had, although dnsmasq still holds the old port's lease for it."""
    p4, p5, mac4, mac5, ip4 = uid(), uid(), "fa:16:3e:00:00:08", "fa:16:3e:00:00:09", "10.77.1.8"
    vm = env.vm("vm4", tap_of(p4), mac4)

    def doc(pid=None, mac=None):
        d = full(env, web_port=None)
        if pid:
            d["ports"].append(port(pid, mac, ip4, [SG_DEF]))
            d["networks"][0]["dhcp"]["hosts"].append(
                {"mac": mac, "ip_address": ip4, "hostname": "vm4"})
        return d

    env.apply(doc(p4, mac4))
    assert udhcpc(vm)[:1] == [ip4], env.log()[-1500:]
    env.apply(doc())
    assert udhcpc(vm) == []
    env.apply(doc(p4, mac4))
    assert udhcpc(vm)[:1] == [ip4], env.log()[-1500:]
    # the port deleted, its address given to a new port with another MAC
    env.apply(doc())
    sh("ip", "link", "set", tap_of(p4), "down")
    sh("ip", "link", "set", tap_of(p4), "name", tap_of(p5))
    env.test_links.append(tap_of(p5))
    sh("ip", "-n", vm, "link", "set", "eth0", "address", mac5)
    env.apply(doc(p5, mac5))
    assert udhcpc(vm)[:1] == [ip4], env.log()[-1500:]
    env.apply(full(env, web_port=None))  # as the tests before left it


def test_same_group_reaches_and_spoofing_is_dropped(env):
    l = Listener(env.vm2, 7000)
    try:
        assert tcp_ok(env.vm1, IP2, 7000)
        # a spoofed source address gets nothing through
        sh("ip", "addr", "add", "10.77.1.50/24", "dev", "eth0", ns=env.vm1)
        p = sh("socat", "-T", "2", "-", "TCP:%s:7000,bind=10.77.1.50,connect-timeout=2" % IP2,
               ns=env.vm1, check=False, input="x\n", timeout=10)
        assert p.returncode != 0
        sh("ip", "addr", "del", "10.77.1.50/24", "dev", "eth0", ns=env.vm1)
        # a spoofed MAC neither
        sh("ip", "link", "set", "eth0", "address", "fa:16:3e:00:00:99", ns=env.vm1)
        sh("ip", "neigh", "flush", "all", ns=env.vm2)
        assert not tcp_ok(env.vm1, IP2, 7000)
        sh("ip", "link", "set", "eth0", "address", MAC1, ns=env.vm1)
        assert tcp_ok(env.vm1, IP2, 7000)
    finally:
        l.close()


def test_port_security_off_and_allowed_pairs_let_a_spoofed_source_through(env):
    """What test_same_group_reaches_and_spoofing_is_dropped refuses, the port's own
    settings allow: an allowed address pair (that address only) and port security off
    (any address and MAC). vm2's web rule admits anyone on 7000, so only vm1's
    anti-spoofing decides."""
    spoof, other, mac = "10.77.1.50", "10.77.1.51", "fa:16:3e:00:00:99"

    def from_addr(src):
        sh("ip", "neigh", "flush", "all", ns=env.vm2)
        p = sh("socat", "-t", "5", "-T", "5", "-",
               "TCP:%s:7000,bind=%s,connect-timeout=5" % (IP2, src),
               ns=env.vm1, check=False, input="x\n", timeout=20)
        return p.returncode == 0 and "x" in p.stdout

    def doc(pairs=(), security=True):
        d = full(env, web_port=7000)
        d["ports"][0]["allowed_address_pairs"] = list(pairs)
        if not security:
            d["ports"][0]["port_security_enabled"] = False
            d["ports"][0]["security_groups"] = []
        return d

    l = Listener(env.vm2, 7000)
    try:
        sh("ip", "addr", "add", spoof + "/24", "dev", "eth0", ns=env.vm1)
        sh("ip", "addr", "add", other + "/24", "dev", "eth0", ns=env.vm1)
        env.apply(doc())
        assert from_addr(IP1) and not from_addr(spoof)
        env.apply(doc(pairs=[{"ip_address": spoof + "/32"}]))
        assert from_addr(spoof), env.log()[-1500:]
        assert not from_addr(other)
        env.apply(doc(security=False))
        assert from_addr(spoof) and from_addr(other)
        sh("ip", "link", "set", "eth0", "address", mac, ns=env.vm1)
        assert from_addr(other)
        sh("ip", "link", "set", "eth0", "address", MAC1, ns=env.vm1)
        env.apply(doc())
        assert not from_addr(spoof) and not from_addr(other) and from_addr(IP1)
    finally:
        sh("ip", "link", "set", "eth0", "address", MAC1, ns=env.vm1, check=False)
        for a in (spoof, other):
            sh("ip", "addr", "del", a + "/24", "dev", "eth0", ns=env.vm1, check=False)
        env.apply(full(env, web_port=None))  # as the tests before left it
        l.close()


def test_vm_dhcp_server_replies_are_dropped(env):
    # vm1 answers as a DHCP server would (UDP 67 -> 68); vm2 listens on 68
    out = "/tmp/nubo-dhcp68-%d" % os.getpid()
    p = subprocess.Popen(["ip", "netns", "exec", env.vm2, "socat", "-u",
                          "UDP-RECV:68,reuseaddr", "CREATE:" + out],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        sh("socat", "-u", "-", "UDP-SENDTO:%s:68,sourceport=67" % IP2, ns=env.vm1,
           input="offer\n", check=False)
        sh("socat", "-u", "-", "UDP-SENDTO:%s:68,sourceport=1067" % IP2, ns=env.vm1,
           input="other\n", check=False)
        time.sleep(0.5)
        got = open(out).read() if os.path.exists(out) else ""
        assert "offer" not in got and "other" in got, got
    finally:
        p.kill()
        p.wait()
        if os.path.exists(out):
            os.unlink(out)


def test_security_group_rule_opens_and_closes_a_port(env):
    l = Listener(env.vm2, 8080)
    try:
        # vm3 is not in vm2's groups: only the web rule can let it in; use the
        # outside namespace through the floating IP for that, and vm1 (same default
        # group) reaches it anyway
        assert not tcp_ok(env.out, FIP, 8080)
        ms = env.apply(full(env, web_port=8080))
        assert tcp_ok(env.out, FIP, 8080), env.log()[-2000:]
        print("rule add converge %.1f ms" % ms)
        env.apply(full(env, web_port=None))
        assert not tcp_ok(env.out, FIP, 8080)
        env.apply(full(env, web_port=8080))
        assert tcp_ok(env.out, FIP, 8080)
    finally:
        l.close()


def test_router_snat_and_floating_ip(env):
    # socat waits 10 s for the answer (it leaves as soon as it has it): a local CI run
    # got an empty answer from vm2 once with 3 s, not reproduced in 9 runs since. A
    # stale neighbour entry for the floating IP in the outside namespace would do that
    # (nubo-net sends no gratuitous ARP when it adds a floating IP: a known gap)
    l = Listener(env.out, 9000, peer=True)
    try:
        # vm1 has no floating IP: it leaves through the router's own address
        p = sh("socat", "-t", "10", "-T", "10", "-", "TCP:%s:9000,connect-timeout=10" % EXT_GW,
               ns=env.vm1, input="x\n", check=False, timeout=30)
        assert ROUTER_EXT in p.stdout, p.stdout + p.stderr
        # vm2 has one: it leaves as its floating IP
        p = sh("socat", "-t", "10", "-T", "10", "-", "TCP:%s:9000,connect-timeout=10" % EXT_GW,
               ns=env.vm2, input="x\n", check=False, timeout=30)
        assert FIP in p.stdout, p.stdout + p.stderr
    finally:
        l.close()
    # disassociating stops it
    l = Listener(env.vm2, 8080)
    try:
        env.apply(full(env, web_port=8080, fip=False))
        assert not tcp_ok(env.out, FIP, 8080)
        env.apply(full(env, web_port=8080, fip=True))
        assert tcp_ok(env.out, FIP, 8080)
    finally:
        l.close()


def router_gateway(env):
    """(namespace, device, MAC) of the router's gateway address."""
    ns = [n.split()[0] for n in sh("ip", "netns", "list").stdout.splitlines()
          if n.startswith(env.prefix + "-r-")][0]
    for l in json.loads(sh("ip", "-j", "addr", "show", ns=ns).stdout):
        if any(a.get("local") == ROUTER_EXT for a in l.get("addr_info", [])):
            return ns, l["ifname"], l["address"]
    raise AssertionError("no gateway address in " + ns)


def neigh_mac(ns, ip):
    """The MAC ns's neighbour table holds for ip ("" when none)."""
    for n in json.loads(sh("ip", "-j", "neigh", "show", ip, ns=ns).stdout or "[]"):
        return n.get("lladdr", "")
    return ""


def wait_neigh(ns, ip, mac, limit=10):
    end = time.time() + limit
    while time.time() < end and neigh_mac(ns, ip) != mac:
        time.sleep(0.1)
    return neigh_mac(ns, ip)


def test_new_addresses_are_announced_by_gratuitous_arp(env):
    """A neighbour on the external network holding a floating IP or the router's
    gateway address with an old MAC learns the new one from nubo-net's gratuitous ARP
    when the address is added (nobody sends it traffic here: without the
    announcement its entry would keep the wrong MAC)."""
    wrong = "02:00:00:00:be:ef"
    env.apply(full(env, web_port=8080, fip=False))
    sh("ip", "neigh", "replace", FIP, "lladdr", wrong, "dev", "eth0", "nud", "stale", ns=env.out)
    env.apply(full(env, web_port=8080, fip=True))
    _, _, mac = router_gateway(env)
    assert wait_neigh(env.out, FIP, mac) == mac, env.log()[-1500:]
    # the router's gateway port rebuilt (a new MAC): the outside learns it at once
    env.apply(doc_base(env, [network()], full(env)["ports"], groups(8080), []))
    sh("ip", "neigh", "replace", ROUTER_EXT, "lladdr", wrong, "dev", "eth0", "nud", "stale",
       ns=env.out)
    sh("ip", "neigh", "replace", FIP, "lladdr", wrong, "dev", "eth0", "nud", "stale", ns=env.out)
    env.apply(full(env, web_port=8080))
    _, _, mac2 = router_gateway(env)
    assert wait_neigh(env.out, ROUTER_EXT, mac2) == mac2
    assert wait_neigh(env.out, FIP, mac2) == mac2
    # an address that stays is not announced again: a same-document converge sends none
    time.sleep(GARP_COUNT + 0.5)  # (once the repeats of the last announcement are over)
    sh("ip", "neigh", "replace", FIP, "lladdr", wrong, "dev", "eth0", "nud", "stale", ns=env.out)
    env.apply(full(env, web_port=8080))
    time.sleep(1)
    assert neigh_mac(env.out, FIP) == wrong
    sh("ip", "neigh", "del", FIP, "dev", "eth0", ns=env.out)
    l = Listener(env.vm2, 8080)
    try:
        assert tcp_ok(env.out, FIP, 8080)
        # the gateway link deleted behind nubo-net's back: the next converge makes it
        # again with its addresses (the namespace's applied file no longer counts),
        # and announces them with the new MAC
        gw = env.prefix + "g" + ROUTER.replace("-", "")[:10]
        sh("ip", "link", "del", gw)
        sh("ip", "neigh", "replace", FIP, "lladdr", wrong, "dev", "eth0", "nud", "stale",
           ns=env.out)
        env.apply(full(env, web_port=8080))
        _, _, mac3 = router_gateway(env)
        assert mac3 != mac2 and wait_neigh(env.out, FIP, mac3) == mac3
        assert tcp_ok(env.out, FIP, 8080)
    finally:
        l.close()


GARP_COUNT = 3  # net_garp.h NET_GARP_COUNT, NET_GARP_INTERVAL_MS 1 s apart

# Prints "<time> <op> <sender MAC> <sender IP> <target IP>" for every ARP frame eth0 of
# the namespace it runs in receives.
ARP_SNIFFER = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("eth0", 0))
while True:
    f = s.recv(2048)
    if len(f) >= 42:
        print("%.3f %d %s %s %s" % (time.time(), f[21], ":".join("%02x" % b for b in f[22:28]),
              socket.inet_ntoa(f[28:32]), socket.inet_ntoa(f[38:42])), flush=True)
"""


def test_announcements_are_repeated(env):
    """Like a real router (Neutron's send_arp_for_ha), a new address is announced
    GARP_COUNT times about a second apart, not once (one frame can be lost), and
    then no more: the outside counts the gratuitous ARPs of a new floating IP."""
    env.apply(full(env, web_port=8080, fip=False))
    time.sleep(GARP_COUNT + 0.5)  # earlier announcements are over
    out = "/tmp/nubo-garp-%d.txt" % os.getpid()
    with open(out, "w") as f:
        p = subprocess.Popen(["ip", "netns", "exec", env.out, sys.executable, "-c", ARP_SNIFFER],
                             stdout=f, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        env.apply(full(env, web_port=8080, fip=True))
        _, _, mac = router_gateway(env)

        def garps():
            with open(out) as f:
                rows = [l.split() for l in f if l.strip()]
            return [(float(r[0]), int(r[1])) for r in rows
                    if r[2] == mac and r[3] == FIP and r[4] == FIP]
        end = time.time() + 20
        while time.time() < end and len(garps()) < 2 * GARP_COUNT:
            time.sleep(0.2)
        time.sleep(2.5)  # nothing more comes
        g = garps()
    finally:
        p.kill()
        p.wait()
        os.unlink(out)
    # each time one request and one reply
    assert sorted(op for _, op in g) == [1] * GARP_COUNT + [2] * GARP_COUNT, (g, env.log()[-1500:])
    requests = [t for t, op in g if op == 1]
    gaps = [b - a for a, b in zip(requests, requests[1:])]
    assert all(0.8 <= d <= 5 for d in gaps), gaps  # spread out, not a burst


def test_vxlan_flood_entries_follow_peers(env):
    net2 = uid()
    n2 = {"id": net2, "mtu": 1450, "segmentation": {"type": "vxlan", "id": VNI + 1},
          "peers": ["127.0.0.3", "127.0.0.4"], "subnets": [], "dhcp": None}
    doc = full(env, web_port=8080)
    env.apply(dict(doc, networks=doc["networks"] + [n2]))
    vx = env.prefix + "x" + net2.replace("-", "")[:10]
    fdb = sh("bridge", "fdb", "show", "dev", vx).stdout
    assert "dst 127.0.0.3" in fdb and "dst 127.0.0.4" in fdb, fdb
    n2["peers"] = ["127.0.0.4", "127.0.0.5"]
    env.apply(dict(doc, networks=doc["networks"] + [n2]))
    fdb = sh("bridge", "fdb", "show", "dev", vx).stdout
    assert "dst 127.0.0.3" not in fdb and "dst 127.0.0.5" in fdb and "dst 127.0.0.4" in fdb, fdb
    env.apply(doc)
    assert not os.path.exists("/sys/class/net/" + vx)


class FakeMetadata:
    """nubo-api's metadata endpoint as docs/netstate.md defines it, on loopback: answers
    with the headers it got; 404 for any path under missing/."""

    def __init__(self):
        import http.server
        import threading
        seen = self.seen = []

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append((self.path, dict(self.headers)))
                if "/missing/" in self.path:
                    self.send_response(404)
                    self.end_headers()
                    return
                body = ("%s|%s|%s|%s" % (self.path, self.headers.get("X-Nubo-Network-Id"),
                                         self.headers.get("X-Forwarded-For"),
                                         self.headers.get("X-Nubo-Metadata-Secret"))).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/metadata" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def http_get(ns, path, headers=()):
    """(status, body) of GET http://169.254.169.254/PATH from ns (socat: busybox wget
    crashes inside namespaces here)."""
    req = "GET /%s HTTP/1.0\r\nHost: 169.254.169.254\r\n%s\r\n" % (
        path, "".join(h + "\r\n" for h in headers))
    p = sh("socat", "-t", "5", "-T", "5", "-", "TCP:169.254.169.254:80,connect-timeout=5", ns=ns,
           input=req, check=False, timeout=15)
    if not p.stdout.startswith("HTTP/1."):
        return 0, p.stdout + p.stderr
    head, _, body = p.stdout.partition("\n\n")  # text mode made \r\n into \n
    return int(head.split()[1]), body


def test_metadata_proxy_names_network_and_source(env):
    md = FakeMetadata()
    try:
        env.metadata_url = md.url
        env.apply(full(env, web_port=8080))
        sh("ip", "route", "replace", "169.254.169.254", "via", DHCP_IP, ns=env.vm1)
        st, body = http_get(env.vm1, "openstack/latest/meta_data.json")
        assert (st, body) == (200, "/metadata/openstack/latest/meta_data.json|%s|%s|s3cret" % (NET, IP1)), \
            body + env.log()[-1500:]
        # a guest cannot claim another address or network: its headers are not passed on
        st, body = http_get(env.vm1, "latest/meta-data/instance-id",
                            ["X-Forwarded-For: " + IP2, "X-Nubo-Network-Id: " + uid()])
        assert st == 200 and body.endswith("|%s|%s|s3cret" % (NET, IP1)), body
        assert http_get(env.vm1, "missing/x")[0] == 404
        assert http_get(env.vm1, "a/../../etc")[0] == 400
    finally:
        md.close()


def test_idempotent_and_kill9_restart_changes_nothing(env):
    before = env.kernel()
    ruleset = sh("nft", "list", "table", "inet", env.prefix + "_sg").stdout
    env.apply(full(env, web_port=8080))  # the same document again
    assert env.kernel() == before
    env.kill9()
    env.start()
    env.converged(env.generation)  # the kept document, once more
    after = env.kernel()
    assert after == before  # same links (same ifindex), namespaces, dnsmasq pid, tables
    assert sh("nft", "list", "table", "inet", env.prefix + "_sg").stdout == ruleset
    l = Listener(env.vm2, 8080)
    try:
        assert tcp_ok(env.out, FIP, 8080)
        assert tcp_ok(env.vm1, IP2, 8080)
    finally:
        l.close()


def test_removing_a_port_and_everything_leaves_nothing(env):
    env.apply(full(env, with_p3=False))
    k = env.kernel()
    assert tap_of(P3) not in [n for n, _, _, _ in k["links"]]
    assert not os.path.exists("/sys/class/net/" + tap_of(P3))
    env.apply(doc_base(env))
    k = env.kernel()
    assert k == {"links": [], "ns": [], "dnsmasq": [], "tables": []}, k
    # the fake VMs' veths (not nubo-net's) are still there, off the bridge
    assert os.path.exists("/sys/class/net/" + tap_of(P1))
