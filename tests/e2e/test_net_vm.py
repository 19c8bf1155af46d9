"""Issue 8's user story end to end with REAL guests (TCG) and the real openstack CLI:

1. `server create --network` boots a guest whose NIC is a tap on the tenant network's
   bridge; it takes the port's address by DHCP (dnsmasq's lease file and the guest's
   console agree with the API);
2. the guest reads the metadata service at 169.254.169.254 (OpenStack meta_data.json,
   user_data and the EC2 latest/meta-data tree) and prints it ("nubo-guest: md ..."):
   compared with the API's values;
3. from outside (a namespace this test makes on the stack's external bridge) the
   guest's probe answers through its floating IP (DNAT); a port the guest listens on
   but the security group does not grant, and ICMP, get nothing;
4. the guest reaches the outside through the router's SNAT (the outside listener sees
   the router's gateway address, and the floating IP once one is set);
5. two guests of one network reach each other; a guest of another tenant on a network
   with the same CIDR does not;
and every bridge, namespace, nft table and dnsmasq nubo-net made is gone after the
deletes. Timings (server create -> DHCP lease, floating ip set -> first answer) are
printed as "bench: key=value" lines (bench/net_vm.sh collects them)."""
import hashlib
import json
import os
import random
import re
import subprocess
import time
import uuid

import pytest

from nubo_e2e import wait_for
from test_net_agent import kernel, net_conf

OUT_PORT = 9000  # the outside listener
BOOT_S = 600  # a TCG boot on this shared box


def sh(*args, ns=None, check=True, timeout=30, input=None):
    argv = (["ip", "netns", "exec", ns] if ns else []) + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode:
        raise AssertionError("%s: %s%s" % (" ".join(argv), p.stdout, p.stderr))
    return p


def tcp_get(ns, ip, port, timeout=3):
    """The answer of an HTTP GET / to ip:port from namespace ns ("" when none)."""
    p = sh("socat", "-t", timeout, "-T", timeout, "-",
           "TCP:%s:%d,connect-timeout=%d" % (ip, port, timeout), ns=ns, check=False,
           input="GET / HTTP/1.0\r\n\r\n", timeout=timeout + 10)
    return p.stdout if p.returncode == 0 else ""


def nft_tables(prefix):
    out = sh("nft", "list", "tables").stdout.splitlines()
    return sorted(t for t in out if (" %s_" % prefix) in t)


def snapshot(prefix):
    k = kernel(prefix)
    k["nft"] = nft_tables(prefix)
    return k


def md_lines(console):
    """{"os uuid": [...], "ec2 hostname": [...], ...} from the guest's md lines."""
    out = {}
    for line in console.splitlines():
        m = re.match(r"nubo-guest: md (os|ec2) (\S+) ?(.*)$", line.strip())
        if m:
            out.setdefault(m.group(1) + " " + m.group(2), []).append(m.group(3).strip())
    return out


def probe_lines(console, what):
    return [l.split(None, 2)[2].strip() if len(l.split(None, 2)) > 2 else ""
            for l in console.splitlines() if l.startswith("nubo-probe %s" % what)]


PEER_PROBE = """#!/bin/sh
# nubo-probe: fetch http://%(target)s/ every 2 s, print what came back
(
n=0
while [ $n -lt 200 ]; do
	r=$(timeout 5 wget -q -O - http://%(target)s/ 2>/dev/null | head -n1)
	echo "nubo-probe peer ${r:-FAIL}" >/dev/console
	n=$((n + 1))
	sleep 2
done
) </dev/null >/dev/null 2>&1 &
"""

VM1_DATA = """#!/bin/sh
# a second probe port the security group does not grant
httpd -p 8080 -h /www
# reach the outside (SNAT) every 2 s
(
n=0
while [ $n -lt 300 ]; do
	timeout 5 wget -q -O /dev/null http://%(out)s:%(port)d/vm1 2>/dev/null
	n=$((n + 1))
	sleep 2
done
) </dev/null >/dev/null 2>&1 &
echo nubo-probe started
"""

OUTSIDE_SERVER = r"""
import http.server, sys
log = open(sys.argv[2], "a", buffering=1)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        log.write("%s %s %f\n" % (self.client_address[0], self.path, __import__("time").time()))
        self.send_response(200); self.end_headers(); self.wfile.write(b"outside\n")
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(sys.argv[1])), H).serve_forever()
"""


class Outside:
    """A namespace on the stack's external bridge with the public subnet's gateway
    address and an HTTP listener that logs its clients' addresses."""

    def __init__(self, prefix, ext_bridge, addr, tag):
        self.ns = "t%s-%s" % (prefix, tag)
        self.host_end = "t%s%s" % (prefix, tag)[:15]
        self.addr = addr
        self.log = "/tmp/nubo-netvm-%s.log" % tag
        open(self.log, "w").close()
        self.proc = None
        sh("ip", "netns", "add", self.ns)
        sh("ip", "link", "add", self.host_end, "type", "veth", "peer", "name", "eth0",
           "netns", self.ns)
        sh("ip", "link", "set", self.host_end, "master", ext_bridge, "up")
        sh("ip", "-n", self.ns, "link", "set", "lo", "up")
        sh("ip", "-n", self.ns, "addr", "add", addr, "dev", "eth0")
        sh("ip", "-n", self.ns, "link", "set", "eth0", "up")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ns, "/usr/bin/python3", "-c", OUTSIDE_SERVER,
             str(OUT_PORT), self.log], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def clients(self):
        with open(self.log) as f:
            return [l.split() for l in f if l.strip()]

    def close(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        sh("ip", "link", "del", self.host_end, check=False)
        sh("ip", "netns", "del", self.ns, check=False)
        if os.path.exists(self.log):
            os.unlink(self.log)


def server_ip(s):
    """The one fixed IP of server show's addresses ({"net": ["ip"]} or "net=ip")."""
    a = s["addresses"]
    if isinstance(a, dict):
        ips = [ip for v in a.values() for ip in v]
    else:
        ips = re.findall(r"(\d+\.\d+\.\d+\.\d+)", a)
    assert len(ips) == 1, a
    return ips[0]


def lease_of(state_dir, net_id, mac):
    try:
        with open(os.path.join(state_dir, "dhcp", net_id, "leases")) as f:
            for line in f:
                w = line.split()
                if len(w) >= 3 and w[1].lower() == mac.lower():
                    return w[2]
    except OSError:
        pass
    return None


@pytest.fixture(scope="module")
def world(stack, os_cli, os_run, ids, keypair, tmp_path_factory):
    """Everything the tests look at, made once (each TCG boot costs minutes)."""
    conf = net_conf(stack)
    prefix = conf["prefix"]
    before = snapshot(prefix)
    tag = "%04d" % random.randint(0, 9999)
    third = random.randint(100, 250)
    cidr = "10.%d.%d.0/24" % (third, random.randint(0, 250))
    tmp = tmp_path_factory.mktemp("netvm")
    w = {"prefix": prefix, "before": before, "tag": tag, "cleanup": [], "bench": {}}
    outside = None
    try:
        pub = os_cli("subnet", "show", "public-subnet")
        out_addr = "%s/%s" % (pub["gateway_ip"], pub["cidr"].split("/")[1])
        outside = Outside(prefix, conf["external_bridge"], out_addr, tag)
        w["outside"] = outside

        net = os_cli("network", "create", "nv%s" % tag)
        w["cleanup"].append(("admin", ("network", "delete", net["id"])))
        sub = os_cli("subnet", "create", "--network", net["id"], "--subnet-range", cidr,
                     "nv%s-sub" % tag)
        w["cleanup"].append(("admin", ("subnet", "delete", sub["id"])))
        router = os_cli("router", "create", "nv%s-r" % tag)
        w["cleanup"].append(("admin", ("router", "delete", router["id"])))
        os_run("router", "set", "--external-gateway", "public", router["id"])
        os_run("router", "add", "subnet", router["id"], sub["id"])
        w["cleanup"].append(("admin", ("router", "remove", "subnet", router["id"], sub["id"])))
        sg = os_cli("security", "group", "create", "nv%s-web" % tag)
        w["cleanup"].append(("admin", ("security", "group", "delete", sg["id"])))
        os_run("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80",
               sg["id"])
        w.update(net=net, sub=sub, router=router, sg=sg)

        # vm1: the probe port 80 (granted) and 8080 (not), and a loop reaching outside
        ud1 = tmp / "vm1.sh"
        ud1.write_text(VM1_DATA % {"out": pub["gateway_ip"], "port": OUT_PORT})
        w["ud1_md5"] = hashlib.md5(ud1.read_bytes()).hexdigest()
        t0 = time.monotonic()
        vm1 = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                     "--network", net["id"], "--security-group", sg["id"],
                     "--key-name", keypair[0], "--user-data", ud1, "nv%s-vm1" % tag)
        w["cleanup"].append(("admin", ("server", "delete", "--wait", vm1["id"])))
        ports = os_cli("port", "list", "--device-id", vm1["id"])
        assert len(ports) == 1, ports
        port1 = os_cli("port", "show", ports[0]["ID"])
        ip1 = port1["fixed_ips"][0]["ip_address"]
        mac1 = port1["mac_address"]
        state_dir = conf["state_dir"]
        wait_for(lambda: lease_of(state_dir, net["id"], mac1), BOOT_S, 0.5,
                 "dnsmasq to lease %s to vm1" % ip1)
        w["bench"]["server_create_to_dhcp_lease_s"] = round(time.monotonic() - t0, 1)
        w.update(vm1=vm1, port1=port1, ip1=ip1, mac1=mac1, state_dir=state_dir)
        stack.wait_status(vm1["id"], "ACTIVE", timeout=BOOT_S)
        wait_for(lambda: "nubo-guest ready" in stack.console(vm1["id"]), BOOT_S, 3,
                 "vm1 to print ready")

        # vm2 on the same network (default group only) and vm3 of the demo project on
        # a network of its own with the same CIDR both fetch vm1's probe in a loop
        ud2 = tmp / "peer.sh"
        ud2.write_text(PEER_PROBE % {"target": ip1})
        vm2 = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                     "--network", net["id"], "--user-data", ud2, "nv%s-vm2" % tag)
        w["cleanup"].append(("admin", ("server", "delete", "--wait", vm2["id"])))
        dnet = os_cli("network", "create", "nv%s-demo" % tag, user="demo")
        w["cleanup"].append(("demo", ("network", "delete", dnet["id"])))
        dsub = os_cli("subnet", "create", "--network", dnet["id"], "--subnet-range", cidr,
                      "nv%s-demo-sub" % tag, user="demo")
        w["cleanup"].append(("demo", ("subnet", "delete", dsub["id"])))
        vm3 = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                     "--network", dnet["id"], "--user-data", ud2, "nv%s-vm3" % tag,
                     user="demo")
        w["cleanup"].append(("demo", ("server", "delete", "--wait", vm3["id"])))
        w.update(vm2=vm2, vm3=vm3, dnet=dnet)
        for v in (vm2, vm3):
            stack.wait_status(v["id"], "ACTIVE", timeout=BOOT_S)
        yield w
    finally:
        for fip in w.get("fips", []):
            os_run("floating", "ip", "delete", fip, check=False)
        for user, args in reversed(w["cleanup"]):
            os_run(*args, user=user, check=False, timeout=600)
        if outside:
            outside.close()
        for k, v in w["bench"].items():
            print("bench: %s=%s" % (k, v))


def test_dhcp_lease_matches_the_port(stack, world):
    """(1) the guest's NIC is a tap on the network's bridge and took its port's address
    by DHCP: dnsmasq's lease and the guest's console say the port's IP."""
    w = world
    assert lease_of(w["state_dir"], w["net"]["id"], w["mac1"]) == w["ip1"]
    s = stack.server(w["vm1"]["id"])
    assert server_ip(s) == w["ip1"]
    con = stack.console(w["vm1"]["id"])
    m = re.search(r"nubo-guest: (eth\d) (\d+\.\d+\.\d+\.\d+)/(\d+) gw (\S+)", con)
    assert m, con[-3000:]
    assert m.group(2) == w["ip1"], m.group(0)
    assert m.group(4) == w["sub"]["gateway_ip"], m.group(0)
    # the tap nubo-net plugged carries the port's MAC's peer (QEMU's side) on the bridge
    tap = "tap" + w["port1"]["id"][:11]
    link = json.loads(sh("ip", "-j", "link", "show", tap).stdout)[0]
    assert link.get("master", "").startswith(w["prefix"] + "b"), link
    assert "LOWER_UP" in link["flags"], link


def test_guest_reads_metadata_service(stack, os_cli, world, keypair):
    """(2) what the guest read from 169.254.169.254 is what the API says."""
    w = world
    vid = w["vm1"]["id"]
    con = wait_for(lambda: (lambda c: c if "nubo-guest: md done" in c or
                            "nubo-guest: md error" in c else None)(stack.console(vid)),
                   300, 3, "vm1 to print the metadata it read")
    md = md_lines(con)
    assert "nubo-guest: md error" not in con, con[-3000:]
    s = stack.server(vid)
    pub = subprocess.run(["/usr/bin/openstack", "keypair", "show", "--public-key", keypair[0]],
                         env=stack.cli_env("admin"), capture_output=True, text=True,
                         check=True).stdout.strip()
    assert md["os uuid"] == [vid], md
    assert md["os name"] == [s["name"]], md
    assert md["ec2 instance-id"] == [vid], md
    host = md["os hostname"][0]
    assert host and host.split(".")[0] == s["name"].lower().split(".")[0], md
    assert md["ec2 hostname"] == [host], md
    assert md["ec2 local-ipv4"] == [w["ip1"]], md
    assert md["os key"] == [pub], md
    assert md["ec2 public-keys/0/openssh-key"] == [pub], md
    assert md["os user_data"] == ["md5 " + w["ud1_md5"]], md


def test_floating_ip_dnat_security_group_and_snat(stack, os_cli, os_run, world):
    """(3) from outside through the FIP: port 80 (granted) answers, 8080 (the guest
    listens, the group does not grant) and ICMP do not; (4) the guest's own requests
    leave through the router's SNAT address, then as its FIP."""
    w = world
    out = w["outside"]
    router = os_cli("router", "show", w["router"]["id"])
    gw_ips = [f["ip_address"] for f in router["external_gateway_info"]["external_fixed_ips"]]
    # (4) before any FIP: the router's gateway address is the source outside
    try:
        wait_for(lambda: any(c[0] in gw_ips for c in out.clients()), 300, 2,
                 "vm1's request through the router's SNAT (%s)" % gw_ips)
    except AssertionError as e:
        rns = "%s-r-%s" % (w["prefix"], w["router"]["id"])
        raise AssertionError("%s\noutside saw %s\nrouter: %s%s\nvm1: %s" % (
            e, out.clients(), sh("ip", "-n", rns, "-br", "addr", check=False).stdout,
            sh("ip", "netns", "exec", rns, "nft", "list", "ruleset", check=False).stdout,
            stack.console(w["vm1"]["id"])[-2500:]))
    assert all(c[0] in gw_ips for c in out.clients()), out.clients()

    fip = os_cli("floating", "ip", "create", "public")
    w.setdefault("fips", []).append(fip["id"])
    addr = fip["floating_ip_address"]
    assert tcp_get(out.ns, addr, 80, timeout=2) == ""
    t0 = time.monotonic()
    os_run("floating", "ip", "set", "--port", w["port1"]["id"], fip["id"])
    first = wait_for(lambda: tcp_get(out.ns, addr, 80, timeout=2), 120, 0.2,
                     "vm1's probe through floating IP %s" % addr)
    w["bench"]["fip_set_to_first_answer_s"] = round(time.monotonic() - t0, 2)
    assert ("nubo-guest" in first and w["vm1"]["id"] in first), first
    # the guest listens on 8080 too (its user_data) but the group grants only 80
    assert tcp_get(out.ns, addr, 8080, timeout=3) == ""
    ping = sh("busybox", "ping", "-c", "2", "-W", "2", addr, ns=out.ns, check=False)
    assert ping.returncode != 0, ping.stdout
    # ... and both answer once granted (so it was the group that refused them)
    sgid = w["sg"]["id"]
    os_run("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "8080", sgid)
    os_run("security", "group", "rule", "create", "--protocol", "icmp", sgid)
    wait_for(lambda: tcp_get(out.ns, addr, 8080, timeout=2), 60, 1, "port 8080 once granted")
    wait_for(lambda: sh("busybox", "ping", "-c", "1", "-W", "2", addr, ns=out.ns,
                        check=False).returncode == 0, 60, 1, "ICMP once granted")
    # (4) with the FIP, the guest's requests leave as the FIP
    t_set = time.time()
    wait_for(lambda: any(c[0] == addr and float(c[2]) > t_set for c in out.clients()), 60, 2,
             "vm1's request leaving as its floating IP")
    # disassociated: nothing gets through any more
    os_run("floating", "ip", "unset", "--port", fip["id"])
    wait_for(lambda: tcp_get(out.ns, addr, 80, timeout=2) == "", 60, 1,
             "the FIP to stop answering")


def test_same_network_reaches_other_tenant_does_not(stack, world):
    """(5) vm2 (same network) fetches vm1's probe; vm3 (demo's network, same CIDR)
    never does."""
    w = world
    v1 = w["vm1"]["id"]

    def vm2_ok():
        return any(v1 in l for l in probe_lines(stack.console(w["vm2"]["id"]), "peer"))
    wait_for(vm2_ok, BOOT_S, 3, "vm2 to reach vm1's probe")
    # vm3 has had its tries by now: wait until it printed a few after vm2 succeeded
    n0 = len(probe_lines(stack.console(w["vm3"]["id"], user="demo"), "peer"))
    wait_for(lambda: len(probe_lines(stack.console(w["vm3"]["id"], user="demo"), "peer"))
             >= n0 + 3, BOOT_S, 3, "vm3 to try reaching vm1")
    lines = probe_lines(stack.console(w["vm3"]["id"], user="demo"), "peer")
    assert not any(v1 in l for l in lines), lines
    con3 = stack.console(w["vm3"]["id"], user="demo")
    assert re.search(r"nubo-guest: eth\d \d+\.\d+\.\d+\.\d+/\d+ gw", con3), con3[-2000:]


def test_interface_hotplug(stack, os_cli, os_run, http, world):
    """(6) Nova's os-interface on the running vm1: `server add network` hot-plugs a NIC
    on a second network (a new port, bound; the guest takes its address by DHCP on
    it: dnsmasq leases the port's IP to its MAC; the tap is on that network's
    bridge); `server remove network` unplugs it and deletes the port; `server add
    port` / `remove port` with the user's own port keep the port, unbound. Errors as
    Nova's: unknown network and port 404, a port in use 409."""
    w = world
    vm = w["vm1"]["id"]
    tag = w["tag"]
    net2 = os_cli("network", "create", "nv%s-hp" % tag)
    w["cleanup"].append(("admin", ("network", "delete", net2["id"])))
    sub2 = os_cli("subnet", "create", "--network", net2["id"], "--subnet-range",
                  "10.%d.%d.0/24" % (random.randint(100, 250), random.randint(0, 250)),
                  "nv%s-hp-sub" % tag)
    w["cleanup"].append(("admin", ("subnet", "delete", sub2["id"])))
    tok = stack.token()
    C = "/compute/v2.1/servers/%s/os-interface" % vm
    r = http("POST", C, {"interfaceAttachment": {"net_id": str(uuid.uuid4())}}, tok)
    assert r.status == 404, r
    r = http("POST", C, {"interfaceAttachment": {"port_id": str(uuid.uuid4())}}, tok)
    assert r.status == 404, r
    r = http("POST", C, {"interfaceAttachment": {"port_id": w["port1"]["id"]}}, tok)
    assert r.status == 409, r  # vm1's own port: in use

    t0 = time.monotonic()
    os_run("server", "add", "network", vm, net2["id"])
    ports = [p for p in os_cli("port", "list", "--device-id", vm)
             if p["ID"] != w["port1"]["id"]]
    assert len(ports) == 1, ports
    port2 = os_cli("port", "show", ports[0]["ID"])
    assert port2["network_id"] == net2["id"] and port2["device_owner"].startswith("compute:")
    ip2, mac2 = port2["fixed_ips"][0]["ip_address"], port2["mac_address"]
    wait_for(lambda: lease_of(w["state_dir"], net2["id"], mac2), BOOT_S, 0.5,
             "dnsmasq to lease %s to vm1's hot-plugged NIC" % ip2)
    w["bench"]["interface_attach_to_dhcp_lease_s"] = round(time.monotonic() - t0, 1)
    assert lease_of(w["state_dir"], net2["id"], mac2) == ip2
    tap = "tap" + port2["id"][:11]
    link = json.loads(sh("ip", "-j", "link", "show", tap).stdout)[0]
    assert link.get("master", "").startswith(w["prefix"] + "b"), link
    r = http("GET", C, token=tok)
    assert sorted(a["port_id"] for a in r.json["interfaceAttachments"]) == \
        sorted([w["port1"]["id"], port2["id"]]), r
    assert stack.server(vm)["status"] == "ACTIVE"

    os_run("server", "remove", "network", vm, net2["id"])
    wait_for(lambda: not os_run("port", "show", port2["id"], check=False).returncode == 0,
             120, 1, "the attach-made port to be deleted")
    wait_for(lambda: not os.path.exists("/sys/class/net/" + tap), 300, 1,
             "the hot-plugged NIC's tap to go")
    wait_for(lambda: stack.server(vm).get("OS-EXT-STS:task_state") is None, 300, 1,
             "the detach to finish")
    assert [a["port_id"] for a in http("GET", C, token=tok).json["interfaceAttachments"]] \
        == [w["port1"]["id"]]

    # the user's own port: kept on detach, unbound
    p3 = os_cli("port", "create", "--network", net2["id"], "nv%s-hp-p3" % tag)
    w["cleanup"].append(("admin", ("port", "delete", p3["id"])))
    os_run("server", "add", "port", vm, p3["id"])
    assert os_cli("port", "show", p3["id"])["device_id"] == vm
    # plugged: QEMU holds its tap and nubo-net put it on net2's bridge
    tap3 = "tap" + p3["id"][:11]

    def on_bridge():
        p = sh("ip", "-j", "link", "show", tap3, check=False)
        return p.returncode == 0 and json.loads(p.stdout)[0].get("master", "") == \
            link["master"]
    wait_for(on_bridge, 300, 1, "the user's port's tap on net2's bridge")
    os_run("server", "remove", "port", vm, p3["id"])
    # Nova's DELETE os-interface is 202: the port is unbound when the unplug is done
    wait_for(lambda: os_cli("port", "show", p3["id"])["device_id"] == "", 120, 1,
             "the user's port to be unbound")
    p3 = os_cli("port", "show", p3["id"])
    assert p3["device_id"] == "" and p3["device_owner"] == "", p3

    # a paused guest (Nova allows it): attach plugs, detach does not wait for an eject
    # no vCPU can answer; it completes (review s6 3: it blocked 60 s and failed while the
    # port was already detached)
    def finished(req):
        def done():
            r = http("GET", "/compute/v2.1/servers/%s/os-instance-actions/%s" % (vm, req),
                     token=tok)
            ev = r.json["instanceAction"]["events"] if r.status == 200 else []
            return ev and all(e["finish_time"] for e in ev) and ev
        return wait_for(done, 300, 1, "the action %s to finish" % req)
    # the detach above may still hold vm1's task queue (409 "task_state queued" then)
    wait_for(lambda: os_run("server", "pause", vm, check=False).returncode == 0, 120, 1,
             "vm1's pause to be accepted")
    wait_for(lambda: stack.server(vm)["status"] == "PAUSED", 300, 1, "vm1 paused")
    try:
        r = http("POST", C, {"interfaceAttachment": {"port_id": p3["id"]}}, tok)
        assert r.status == 200, r
        ev = finished(r.headers["x-openstack-request-id"])
        assert all(e["result"] == "Success" for e in ev), ev
        t0 = time.monotonic()
        r = http("DELETE", C + "/" + p3["id"], token=tok)
        assert r.status == 202, r
        ev = finished(r.headers["x-openstack-request-id"])
        assert all(e["result"] == "Success" for e in ev), ev
        assert time.monotonic() - t0 < 55, "the detach waited for the paused guest"
        assert stack.server(vm)["status"] == "PAUSED"
    finally:
        os_run("server", "unpause", vm)
    wait_for(lambda: stack.server(vm)["status"] == "ACTIVE", 300, 1, "vm1 unpaused")
    # vm1 itself is unharmed: its first NIC still answers DHCP renewals and it runs
    assert stack.server(vm)["status"] == "ACTIVE"


def test_zz_nothing_left_behind(stack, os_run, world):
    """After every delete, nubo-net's bridges, namespaces, nft tables and dnsmasqs of
    this test are gone (the kernel is as before)."""
    w = world
    for fip in w.pop("fips", []):
        os_run("floating", "ip", "delete", fip)
    for user, args in reversed(w["cleanup"]):
        os_run(*args, user=user, timeout=600)
    w["cleanup"] = []
    wait_for(lambda: snapshot(w["prefix"]) == w["before"], 120, 2,
             "nothing of nubo-net's left behind (before %s, now %s)"
             % (w["before"], snapshot(w["prefix"])))
