"""Issue 8's multi-host on one box: deploy/host-add.sh adds two "hosts" (a network
namespace each with its own nubo-compute and nubo-net, CURVE keys of its own, joined to
the controller by the management bridge); both register (`openstack hypervisor list`);
a server created with --availability-zone lands on the host of that zone; two servers of
one tenant on one network, on different hosts, reach each other over VXLAN; a server of
another tenant on a network with the same CIDR reaches neither. After the deletes no
bridge, tap or VXLAN device is left in either host's namespace, and deploy/host-del.sh
removes the hosts (namespace, veth, management bridge, the controller's settings)."""
import random
import subprocess

import pytest

from nubo_e2e import REPO, wait_for
from test_net_vm import PEER_PROBE, probe_lines, server_ip

BOOT_S = 600  # a TCG boot on this shared box
HOSTS = ("mh1", "mh2")


def sh(*args, check=True, timeout=120):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode:
        raise AssertionError("%s: %s%s" % (" ".join(map(str, args)), p.stdout, p.stderr))
    return p


def host_ns(stack, name):
    return (stack.root / "var/lib/nubo/hosts" / name / "etc/nubo/netns").read_text().strip()


def ns_links(ns):
    """The links of namespace ns but its loopback and management link."""
    out = sh("ip", "-n", ns, "-o", "link", "show").stdout
    names = [l.split(":")[1].strip().split("@")[0] for l in out.splitlines() if ":" in l]
    return sorted(n for n in names if n not in ("lo", "mgmt0"))


def ns_kinds(ns):
    """{link name: kind} of namespace ns (vxlan, bridge, tun, ...)."""
    out = sh("ip", "-n", ns, "-d", "-o", "link", "show").stdout
    kinds = {}
    for line in out.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        for k in ("vxlan", "bridge", "tun", "veth"):
            if " %s " % k in line:
                kinds[name] = k
                break
    return kinds


def hypervisors(os_cli):
    return {h["Hypervisor Hostname"]: h for h in os_cli("hypervisor", "list", "--long")}


def add_hosts(stack, os_cli, names, w, added):
    """deploy/host-add.sh for each of names, in zone "z<w's tag>-<name>" (w["zones"]),
    each appended to added once made; w["ns"] gets their namespaces; returns once all
    registered."""
    for h in names:
        zone = "z%s-%s" % (w["tag"], h)
        sh(REPO / "deploy" / "host-add.sh", "--root", stack.root, "--az", zone, h,
           timeout=300)
        added.append(h)
        w["zones"][h] = zone
    w["ns"] = {h: host_ns(stack, h) for h in names}
    wait_for(lambda: all(hypervisors(os_cli).get(h, {}).get("State") == "up"
                         for h in names), 180, 2, "the hosts to register")


def del_hosts(stack, added):
    """deploy/host-del.sh for each host add_hosts made, newest first (a fixture's
    teardown: failures are not raised)."""
    for h in reversed(added):
        sh(REPO / "deploy" / "host-del.sh", "--root", stack.root, h, check=False,
           timeout=300)


@pytest.fixture(scope="module")
def world(stack, os_cli, os_run, tmp_path_factory):
    tag = "%04d" % random.randint(0, 9999)
    w = {"cleanup": [], "tag": tag, "zones": {}}
    added = []
    try:
        add_hosts(stack, os_cli, HOSTS, w, added)

        cidr = "10.%d.%d.0/24" % (random.randint(100, 250), random.randint(0, 250))
        net = os_cli("network", "create", "mh%s" % tag)
        w["cleanup"].append(("admin", ("network", "delete", net["id"])))
        sub = os_cli("subnet", "create", "--network", net["id"], "--subnet-range", cidr,
                     "mh%s-sub" % tag)
        w["cleanup"].append(("admin", ("subnet", "delete", sub["id"])))
        # a1 (h1) serves its probe; a2 (h2) and b1 (demo, same CIDR, h2) fetch it
        a1 = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                    "--network", net["id"], "--availability-zone", w["zones"]["mh1"],
                    "mh%s-a1" % tag)
        w["cleanup"].append(("admin", ("server", "delete", "--wait", a1["id"])))
        ports = os_cli("port", "list", "--device-id", a1["id"])
        assert len(ports) == 1, ports
        ip1 = os_cli("port", "show", ports[0]["ID"])["fixed_ips"][0]["ip_address"]
        probe = tmp_path_factory.mktemp("multihost") / "peer.sh"
        probe.write_text(PEER_PROBE % {"target": ip1})
        a2 = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                    "--network", net["id"], "--availability-zone", w["zones"]["mh2"],
                    "--user-data", probe, "mh%s-a2" % tag)
        w["cleanup"].append(("admin", ("server", "delete", "--wait", a2["id"])))
        dnet = os_cli("network", "create", "mh%s-b" % tag, user="demo")
        w["cleanup"].append(("demo", ("network", "delete", dnet["id"])))
        dsub = os_cli("subnet", "create", "--network", dnet["id"], "--subnet-range", cidr,
                      "mh%s-b-sub" % tag, user="demo")
        w["cleanup"].append(("demo", ("subnet", "delete", dsub["id"])))
        b1 = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                    "--network", dnet["id"], "--availability-zone", w["zones"]["mh2"],
                    "--user-data", probe, "mh%s-b1" % tag, user="demo")
        w["cleanup"].append(("demo", ("server", "delete", "--wait", b1["id"])))
        for v in (a1, a2, b1):
            stack.wait_status(v["id"], "ACTIVE", timeout=BOOT_S)
        w.update(net=net, a1=a1, a2=a2, b1=b1, ip1=ip1)
        yield w
    finally:
        for user, args in reversed(w["cleanup"]):
            os_run(*args, user=user, check=False, timeout=600)
        del_hosts(stack, added)


def conf_value(stack, section, key):
    sec = None
    for line in stack.conf.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            sec = line.strip("[]")
        elif sec == section and "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            if k.strip() == key:
                return v.strip()
    return None


def listeners(port):
    """The local addresses that listen on TCP port (ss -ltn)."""
    out = sh("ss", "-Hltn", "sport = :%d" % port).stdout
    return sorted({l.split()[3].rsplit(":", 1)[0] for l in out.splitlines() if l.strip()})


def test_controller_listens_on_loopback_and_management_only(stack, world):
    """With hosts, the scheduler's bus and nubo-api listen on loopback and on the
    controller's management address: not on every address of the box (review s8 L5)."""
    gw = conf_value(stack, "net", "tunnel_ip")
    assert gw and gw != "127.0.0.1", gw
    bus = conf_value(stack, "bus", "scheduler_bind")
    assert bus.split(",") == ["tcp://127.0.0.1:%s" % bus.rsplit(":", 1)[1],
                              "tcp://%s:%s" % (gw, bus.rsplit(":", 1)[1])], bus
    assert conf_value(stack, "api", "listen_address") == "127.0.0.1,%s" % gw
    api_port = int(conf_value(stack, "api", "port"))
    for port in (int(bus.rsplit(":", 1)[1]), api_port):
        assert listeners(port) == sorted(["127.0.0.1", gw]), (port, listeners(port))


def test_hosts_register_with_their_zones(os_cli, world):
    hv = hypervisors(os_cli)
    for h in HOSTS:
        assert hv[h]["State"] == "up", hv
    zones = {z["Zone Name"] for z in os_cli("availability", "zone", "list", "--compute")}
    assert set(world["zones"].values()) <= zones, zones


def test_servers_land_on_the_host_of_their_zone(os_cli, world):
    for vm, h in (("a1", "mh1"), ("a2", "mh2")):
        s = os_cli("server", "show", world[vm]["id"])
        assert s["OS-EXT-SRV-ATTR:host"] == h, s
        assert s["OS-EXT-AZ:availability_zone"] == world["zones"][h], s
    s = os_cli("server", "show", world["b1"]["id"])
    assert s["OS-EXT-SRV-ATTR:host"] == "mh2", s
    # each host's nubo-net built the network's bridge and VXLAN device in its namespace
    for h in HOSTS:
        kinds = ns_kinds(world["ns"][h])
        assert "vxlan" in kinds.values() and "bridge" in kinds.values(), kinds


def test_same_tenant_reaches_across_hosts_other_tenant_does_not(stack, world):
    w = world
    a1 = w["a1"]["id"]

    def a2_ok():
        return any(a1 in l for l in probe_lines(stack.console(w["a2"]["id"]), "peer"))
    wait_for(a2_ok, BOOT_S, 3, "a2 (on mh2) to reach a1's probe (on mh1) over VXLAN")
    n0 = len(probe_lines(stack.console(w["b1"]["id"], user="demo"), "peer"))
    wait_for(lambda: len(probe_lines(stack.console(w["b1"]["id"], user="demo"), "peer"))
             >= n0 + 3, BOOT_S, 3, "b1 to try reaching a1")
    lines = probe_lines(stack.console(w["b1"]["id"], user="demo"), "peer")
    assert lines and not any(a1 in l for l in lines), lines


def test_zz_deletes_leave_nothing_and_hosts_go(stack, os_cli, os_run, world):
    w = world
    # the three servers go at once (each delete waits on its own QEMU's shutdown)
    servers = [(u, a[-1]) for u, a in w["cleanup"] if a[:2] == ("server", "delete")]
    for user, sid in servers:
        os_run("server", "delete", sid, user=user)
    def gone(sid, user):  # an API error while daemons restart is not "deleted"
        p = os_run("server", "show", sid, user=user, check=False)
        return p.returncode != 0 and "No server with a name or ID" in p.stderr
    for user, sid in servers:
        wait_for(lambda: gone(sid, user), 600, 2, "server %s to be deleted" % sid)
    for user, args in reversed(w["cleanup"]):
        if args[:2] != ("server", "delete"):
            os_run(*args, user=user, timeout=600)
    w["cleanup"] = []
    for h in HOSTS:
        ns = w["ns"][h]
        wait_for(lambda: ns_links(ns) == [], 120, 2,
                 "nothing of nubo-net's left in %s (%s)" % (ns, ns_links(ns)))
    net_log = stack.logdir / "nubo-net.log"
    mark = net_log.stat().st_size
    for h in HOSTS:
        sh(REPO / "deploy" / "host-del.sh", "--root", stack.root, h, timeout=300)
        assert sh("ip", "netns", "pids", w["ns"][h], check=False).returncode != 0
        assert not (stack.root / "var/lib/nubo/hosts" / h).exists()
    hv = hypervisors(os_cli)
    assert not set(HOSTS) & set(hv), hv
    # the controller's configuration is the single box's again
    conf = stack.conf.read_text()
    assert "tunnel_ip = 127.0.0.1" in conf, conf
    # host-del restarted the controller's daemons: the modules after this one start once
    # its compute host is up again and its restarted nubo-net has converged
    wait_for(lambda: any(v["State"] == "up" for v in hypervisors(os_cli).values()), 180, 2,
             "the controller's compute host to be up again")

    def net_converged():
        with open(net_log, "rb") as f:
            f.seek(mark)
            return b"converged generation" in f.read()
    wait_for(net_converged, 180, 1, "the restarted nubo-net to converge")
