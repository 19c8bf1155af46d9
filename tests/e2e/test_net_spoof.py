"""Issue 8's anti-spoofing with REAL guests (TCG): a guest that spoofs gets nothing
through to its neighbour, and the same guest with port security off does (so the
test can fail).

Two guests on a network of their own with a router interface (the gateway):
- the victim (a security group letting everything in, so only the spoofer's port
  decides) pings the gateway and asks DHCP for a lease every 2 s, printing its ARP
  entry of the gateway and the lease it got ("nubo-spoof v N gw|dhcp ...");
- the spoofer, every round ("nubo-spoof s N"): pings the victim from its own address
  (the legitimate traffic the oracle must see), then (a) from a second address that
  belongs to another port, (c) announces the gateway's address as its own (arping -U
  and -A), (b) changes its MAC and sends from it, and (d) runs udhcpd all along,
  offering leases from a pool of its own.
The oracle is on the victim's side: a packet socket on the victim's tap on the host
records every frame the bridge hands to the victim (PACKET_OUTGOING), and the
victim's console says what its ARP cache and DHCP client saw.

The same network's router also shows nubo-net's gratuitous ARP repeats through the
bus agent: a floating IP is announced 3 times about 1 s apart."""
import os
import random
import re
import subprocess
import sys
import time

import pytest

from nubo_e2e import wait_for
from test_net_agent import net_conf
from test_net_vm import snapshot

BOOT_S = 600  # a TCG boot on this shared box
FAKE_MAC = "02:00:5e:0f:00:01"

# Records what the host transmits into a tap (what the guest behind it receives), one
# line per frame of interest: "<kind> <ether src> <address>".
SNIFFER = r"""
import socket, struct, sys
tap, out = sys.argv[1], open(sys.argv[2], "a", buffering=1)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((tap, 0))
def mac(b):
    return ":".join("%02x" % x for x in b)
while True:
    f, a = s.recvfrom(65535)
    if a[2] != socket.PACKET_OUTGOING or len(f) < 34:
        continue
    src, et = mac(f[6:12]), struct.unpack("!H", f[12:14])[0]
    if et == 0x0806 and len(f) >= 42:
        out.write("arp %s %s %s\n" % (src, mac(f[22:28]), socket.inet_ntoa(f[28:32])))
    elif et == 0x0800:
        ihl = (f[14] & 15) * 4
        ip = socket.inet_ntoa(f[26:30])
        if f[23] == 17 and len(f) >= 14 + ihl + 4:
            sport = struct.unpack("!H", f[14 + ihl:16 + ihl])[0]
            out.write("udp %s %s %d\n" % (src, ip, sport))
        else:
            out.write("ip %s %s %d\n" % (src, ip, f[23]))
"""

VICTIM = """#!/bin/sh
cat >/run/nubo-dhcp-print <<'EOF'
#!/bin/sh
[ "$1" = bound ] && echo "nubo-spoof v $N dhcp $ip $serverid" >/dev/console
exit 0
EOF
chmod 755 /run/nubo-dhcp-print
(
n=0
while [ $n -lt 600 ]; do
	n=$((n + 1))
	ping -c 1 -W 1 %(gw)s >/dev/null 2>&1
	echo "nubo-spoof v $n gw $(ip neigh show %(gw)s dev eth0 | head -n1)"
	# a lease asked for (DISCOVER), printed, never applied
	N=$n udhcpc -i eth0 -n -q -t 2 -T 1 -s /run/nubo-dhcp-print >/dev/null 2>&1
	sleep 2
done
) </dev/null >/dev/console 2>&1 &
echo "nubo-spoof victim started"
"""

SPOOFER = """#!/bin/sh
(
sysctl -w net.ipv4.ip_nonlocal_bind=1
ip addr add %(other)s/32 dev eth0
MAC=$(cat /sys/class/net/eth0/address)
setmac() { # live when the driver can, else down and up again
	ip link set eth0 address "$1" 2>/dev/null ||
		{ ip link set eth0 down; ip link set eth0 address "$1"; ip link set eth0 up; }
}
mkdir -p /run/spoof
cat >/run/spoof/udhcpd.conf <<EOF
start %(pool_start)s
end %(pool_end)s
interface eth0
lease_file /run/spoof/leases
option subnet 255.255.255.0
option router %(self)s
option lease 600
EOF
touch /run/spoof/leases
udhcpd -f -a 100 /run/spoof/udhcpd.conf &
n=0
while [ $n -lt 600 ]; do
	n=$((n + 1))
	ping -c 1 -W 1 %(victim)s            # its own address: legitimate
	ping -c 1 -W 1 -I %(other)s %(victim)s  # (a) another port's address
	arping -U -c 1 -I eth0 -s %(gw)s %(gw)s # (c) the gateway's address as its own
	arping -A -c 1 -I eth0 -s %(gw)s %(gw)s
	setmac %(fake)s                        # (b) another MAC
	arping -c 1 -w 1 -I eth0 %(victim)s
	ping -c 1 -W 1 %(victim)s
	setmac "$MAC"
	echo "nubo-spoof s $n" >/dev/console
	sleep 1
done
) </dev/null >/dev/null 2>&1 &
echo "nubo-spoof spoofer started"
"""


def sh(*args, check=True, timeout=30):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode:
        raise AssertionError("%s: %s%s" % (" ".join(map(str, args)), p.stdout, p.stderr))
    return p


def rounds(console, who):
    """The guest's round numbers printed so far ("nubo-spoof s N" / "v N ...")."""
    return [int(m.group(1)) for m in
            re.finditer(r"^nubo-spoof %s (\d+)\b" % who, console, re.M)]


class Sniffer:
    """A packet socket on a tap of the host: the frames handed to the guest."""

    def __init__(self, tap, path):
        self.path = path
        open(path, "w").close()
        self.proc = subprocess.Popen([sys.executable, "-c", SNIFFER, tap, path],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def frames(self):
        with open(self.path) as f:
            return [l.split() for l in f if l.strip()]

    def alive(self):
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if os.path.exists(self.path):
            os.unlink(self.path)


def classify(frames, w):
    """What of the spoofer reached the victim: legit ICMP from its own address, and
    each kind of spoofing."""
    macs = {w["smac"], FAKE_MAC}
    got = {"legit": [], "ip": [], "mac": [], "arp_gw": [], "dhcp": []}
    for f in frames:
        kind, src = f[0], f[1]
        if kind == "ip" and src == w["smac"] and f[2] == w["sip"]:
            got["legit"].append(f)
        if kind in ("ip", "udp") and f[2] == w["other"]:
            got["ip"].append(f)
        if kind == "arp" and f[3] == w["other"] and f[2] in macs:
            got["ip"].append(f)
        if src == FAKE_MAC or (kind == "arp" and f[2] == FAKE_MAC):
            got["mac"].append(f)
        if kind == "arp" and f[3] == w["gw"] and f[2] in macs:
            got["arp_gw"].append(f)
        if kind == "udp" and src in macs and f[3] == "67":
            got["dhcp"].append(f)
    return got


@pytest.fixture(scope="module")
def world(stack, os_cli, os_run, tmp_path_factory):
    tag = "%04d" % random.randint(0, 9999)
    base = "10.%d.%d" % (random.randint(100, 250), random.randint(0, 250))
    tmp = tmp_path_factory.mktemp("netspoof")
    w = {"tag": tag, "cleanup": []}
    prefix = net_conf(stack)["prefix"]
    w["before"] = snapshot(prefix)
    try:
        net = os_cli("network", "create", "ns%s" % tag)
        w["cleanup"].append(("network", "delete", net["id"]))
        sub = os_cli("subnet", "create", "--network", net["id"], "--subnet-range",
                     base + ".0/24", "--allocation-pool",
                     "start=%s.10,end=%s.100" % (base, base), "ns%s-sub" % tag)
        w["cleanup"].append(("subnet", "delete", sub["id"]))
        router = os_cli("router", "create", "ns%s-r" % tag)
        w["cleanup"].append(("router", "delete", router["id"]))
        os_run("router", "add", "subnet", router["id"], sub["id"])
        w["cleanup"].append(("router", "remove", "subnet", router["id"], sub["id"]))
        sg = os_cli("security", "group", "create", "ns%s-open" % tag)
        w["cleanup"].append(("security", "group", "delete", sg["id"]))
        os_run("security", "group", "rule", "create", "--ingress", "--protocol", "any",
               "--remote-ip", "0.0.0.0/0", sg["id"])
        ports = {}
        for name, extra in (("victim", ["--security-group", sg["id"]]),
                            ("spoofer", []), ("other", [])):
            p = os_cli("port", "create", "--network", net["id"], *extra,
                       "ns%s-%s" % (tag, name))
            w["cleanup"].append(("port", "delete", p["id"]))
            ports[name] = p
        gw = sub["gateway_ip"]
        rif = [p for p in os_cli("port", "list", "--network", net["id"], "--long")
               if p["Device Owner"] == "network:router_interface"]
        assert len(rif) == 1, rif
        ip = {k: p["fixed_ips"][0]["ip_address"] for k, p in ports.items()}
        w.update(net=net, sub=sub, router=router, ports=ports, gw=gw,
                 gwmac=rif[0]["MAC Address"], vip=ip["victim"], sip=ip["spoofer"],
                 other=ip["other"], smac=ports["spoofer"]["mac_address"],
                 vmac=ports["victim"]["mac_address"])
        ud = {"victim": VICTIM % {"gw": gw},
              "spoofer": SPOOFER % {"other": ip["other"], "self": ip["spoofer"], "gw": gw,
                                    "victim": ip["victim"], "fake": FAKE_MAC,
                                    "pool_start": base + ".200", "pool_end": base + ".210"}}
        for name in ("victim", "spoofer"):
            f = tmp / (name + ".sh")
            f.write_text(ud[name])
            s = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                       "--port", ports[name]["id"], "--user-data", f,
                       "ns%s-%s" % (tag, name))
            w["cleanup"].append(("server", "delete", "--wait", s["id"]))
            w[name] = s
        for name in ("victim", "spoofer"):
            stack.wait_status(w[name]["id"], "ACTIVE", timeout=BOOT_S)
        wait_for(lambda: rounds(stack.console(w["spoofer"]["id"]), "s"), BOOT_S, 3,
                 "the spoofer's first round")
        wait_for(lambda: rounds(stack.console(w["victim"]["id"]), "v"), BOOT_S, 3,
                 "the victim's first round")
        w["sniffer"] = Sniffer("tap" + ports["victim"]["id"][:11],
                               "/tmp/nubo-netspoof-%s.log" % tag)
        yield w
    finally:
        if w.get("sniffer"):
            w["sniffer"].close()
        for args in reversed(w["cleanup"]):
            os_run(*args, check=False, timeout=600)


def wait_rounds(stack, w, who, n):
    """Waits until the guest printed n more rounds than now."""
    vid = w["spoofer" if who == "s" else "victim"]["id"]
    n0 = max(rounds(stack.console(vid), who) or [0])
    wait_for(lambda: max(rounds(stack.console(vid), who) or [0]) >= n0 + n, 300, 2,
             "%d more rounds of %s" % (n, who))
    return n0


def test_spoofing_guest_gets_nothing_through(stack, world):
    """With port security on (the default): of the spoofer's traffic the victim gets
    its legitimate pings only; the victim's ARP entry of the gateway keeps the
    router's MAC and every lease it is offered comes from Nubo's dnsmasq."""
    w = world
    sn = w["sniffer"]
    v0 = max(rounds(stack.console(w["victim"]["id"]), "v") or [0])
    # the oracle sees the spoofer's legitimate traffic (it would see the rest)
    wait_for(lambda: classify(sn.frames(), w)["legit"], 120, 1,
             "the spoofer's own pings on the victim's tap")
    wait_rounds(stack, w, "s", 4)
    wait_rounds(stack, w, "v", 3)
    assert sn.alive(), sn.proc.stderr.read()
    got = classify(sn.frames(), w)
    assert got["legit"], got
    for kind in ("ip", "mac", "arp_gw", "dhcp"):
        assert not got[kind], (kind, got[kind][:10])
    con = stack.console(w["victim"]["id"])
    gw_lines = [l for l in con.splitlines()
                if re.match(r"nubo-spoof v (\d+) gw ", l) and int(l.split()[2]) > v0]
    assert gw_lines, con[-3000:]
    for l in gw_lines:
        m = re.search(r"lladdr (\S+)", l)
        assert not m or m.group(1).lower() == w["gwmac"].lower(), (l, w["gwmac"])
    assert any("lladdr" in l for l in gw_lines), gw_lines
    dhcp = [l.split()[4:6] for l in con.splitlines()
            if re.match(r"nubo-spoof v (\d+) dhcp ", l) and int(l.split()[2]) > v0]
    assert dhcp, con[-3000:]
    for ip, sid in dhcp:
        assert ip == w["vip"] and sid not in (w["sip"], w["other"]), (ip, sid, w)


def test_control_port_security_off_lets_it_through(stack, os_run, world):
    """The same spoofer with port security off on its port: every kind of spoofing
    reaches the victim (so the test above can fail)."""
    w = world
    sn = w["sniffer"]
    os_run("port", "set", "--no-security-group", "--disable-port-security",
           w["ports"]["spoofer"]["id"])

    def all_kinds():
        got = classify(sn.frames(), w)
        return all(got[k] for k in ("ip", "mac", "arp_gw", "dhcp")) and got
    try:
        wait_for(all_kinds, 300, 2, "every kind of spoofing to reach the victim")
    except AssertionError as e:
        raise AssertionError("%s: %s" % (e, {k: len(v) for k, v in
                                             classify(sn.frames(), w).items()}))


# Prints "<time> <op> <sender IP> <target IP>" for every ARP frame the bridge it is
# bound to receives.
ARP_SNIFFER = r"""
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind((sys.argv[1], 0))
while True:
    f = s.recv(2048)
    if len(f) >= 42:
        print("%.3f %d %s %s" % (time.time(), f[21], socket.inet_ntoa(f[28:32]),
              socket.inet_ntoa(f[38:42])), flush=True)
"""


def test_floating_ip_announced_three_times(stack, os_cli, os_run, world, tmp_path):
    """nubo-net (on the bus) announces a new floating IP on the external network by
    gratuitous ARP 3 times, about a second apart (Neutron's send_arp_for_ha), from
    its loop's tick: a capture on the stack's external bridge counts them."""
    w = world
    bridge = net_conf(stack)["external_bridge"]
    os_run("router", "set", "--external-gateway", "public", w["router"]["id"])
    fip = os_cli("floating", "ip", "create", "public")
    w["cleanup"].append(("floating", "ip", "delete", fip["id"]))
    addr = fip["floating_ip_address"]
    out = tmp_path / "arp.txt"
    with open(out, "w") as f:
        p = subprocess.Popen([sys.executable, "-c", ARP_SNIFFER, bridge], stdout=f,
                             stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        os_run("floating", "ip", "set", "--port", w["ports"]["other"]["id"], fip["id"])

        def garps():
            rows = [l.split() for l in out.read_text().splitlines() if l.strip()]
            return [(float(r[0]), int(r[1])) for r in rows if r[2] == addr and r[3] == addr]
        wait_for(lambda: len(garps()) >= 6, 120, 0.5, "3 announcements of %s" % addr)
        time.sleep(3)  # and no more
        g = garps()
    finally:
        p.kill()
        p.wait()
    assert sorted(op for _, op in g) == [1, 1, 1, 2, 2, 2], g  # a request and a reply each
    t = [ts for ts, op in g if op == 1]
    assert all(0.8 <= b - a <= 10 for a, b in zip(t, t[1:])), t


def test_zz_nothing_left_behind(stack, os_run, world):
    """After the deletes nubo-net's bridges, namespaces, nft tables and dnsmasqs are
    as before this module (later modules start from a clean host)."""
    w = world
    w["sniffer"].close()
    w["sniffer"] = None
    for args in reversed(w["cleanup"]):
        os_run(*args, timeout=600)
    w["cleanup"] = []
    prefix = net_conf(stack)["prefix"]
    wait_for(lambda: snapshot(prefix) == w["before"], 120, 2,
             "nothing of nubo-net's left behind (before %s, now %s)"
             % (w["before"], snapshot(prefix)))
