"""A throwaway nubo-net for tests and benches: runs build/bin/nubo-net as root in
standalone mode ([net] desired_file) with a random name prefix and state directory,
writes desired-state documents (docs/netstate.md) and fakes VMs as veth pairs whose
root end carries the port's tap name and whose other end lives in a test namespace
(prefix t<prefix>-, which nubo-net does not own). Everything it makes is removed by
close(); nothing leaves the namespaces it creates except loopback VXLAN."""
import json
import os
import random
import shutil
import signal
import string
import subprocess
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NUBO_NET = os.path.join(ROOT, "build", "bin", "nubo-net")


def sh(*args, check=True, ns=None, timeout=20, input=None):
    argv = list(args)
    if ns:
        argv = ["ip", "netns", "exec", ns] + argv
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    if check and p.returncode != 0:
        raise RuntimeError("%s: %s%s" % (" ".join(argv), p.stdout, p.stderr))
    return p


def uid():
    return str(uuid.uuid4())


class NetAgent:
    def __init__(self):
        self.prefix = "q" + "".join(random.choice(string.ascii_lowercase + string.digits)
                                    for _ in range(3))
        self.tprefix = "t" + self.prefix  # test namespaces and links, not nubo-net's
        self.dir = tempfile.mkdtemp(prefix="nubo-net-test-")
        os.chmod(self.dir, 0o755)
        self.state_dir = os.path.join(self.dir, "state")
        self.desired = os.path.join(self.dir, "desired.json")
        self.log_path = os.path.join(self.dir, "nubo-net.log")
        self.ext_bridge = self.prefix + "ex"
        self.generation = 0
        self.proc = None
        self.test_ns = []
        self.test_links = []
        conf = os.path.join(self.dir, "nubo.conf")
        with open(conf, "w") as f:
            f.write("[net]\nhost = test-%s\nprefix = %s\nstate_dir = %s\ndesired_file = %s\n"
                    "tunnel_ip = 127.0.0.1\nexternal_bridge = %s\nvxlan_port = %d\n"
                    % (self.prefix, self.prefix, self.state_dir, self.desired, self.ext_bridge,
                       random.randint(15000, 19999)))
        self.conf = conf
        sh("ip", "link", "add", self.ext_bridge, "type", "bridge")
        sh("ip", "link", "set", self.ext_bridge, "up")
        self.test_links.append(self.ext_bridge)

    # ---- the daemon -------------------------------------------------------------------
    def start(self):
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([NUBO_NET, "-d", "-c", self.conf], stdout=log, stderr=log)
        log.close()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def converged(self, generation, timeout=20):
        """Waits for the log line of generation; returns its agent time in ms."""
        needle = "converged generation %d in " % generation
        end = time.time() + timeout
        while time.time() < end:
            for line in self.log().splitlines():
                if needle in line:
                    return float(line.split(needle)[1].split(" ms")[0])
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError("nubo-net exited:\n" + self.log())
            time.sleep(0.02)
        raise RuntimeError("generation %d not converged:\n%s" % (generation, self.log()[-3000:]))

    def apply(self, doc, timeout=20):
        self.generation += 1
        doc = dict(doc, generation=self.generation)
        tmp = self.desired + ".tmp"
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.rename(tmp, self.desired)
        return self.converged(self.generation, timeout)

    # ---- fake VMs ---------------------------------------------------------------------
    def vm(self, name, tap, mac):
        """A namespace t<prefix>-NAME whose eth0 (MAC mac) is the far end of a veth
        whose root end is called tap (what nubo-net plugs into the bridge)."""
        ns = "%s-%s" % (self.tprefix, name)
        sh("ip", "netns", "add", ns)
        self.test_ns.append(ns)
        sh("ip", "link", "add", tap, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.test_links.append(tap)
        sh("ip", "-n", ns, "link", "set", "eth0", "address", mac, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        return ns

    def outside(self, cidr_gw):
        """A namespace on the external bridge holding the external gateway address."""
        ns = "%s-out" % self.tprefix
        sh("ip", "netns", "add", ns)
        self.test_ns.append(ns)
        veth = self.tprefix + "o"
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.test_links.append(veth)
        sh("ip", "link", "set", veth, "master", self.ext_bridge, "up")
        sh("ip", "-n", ns, "addr", "add", cidr_gw, "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        return ns

    # ---- what the kernel holds --------------------------------------------------------
    def kernel(self):
        """Everything of this prefix: links (name, kind, ifindex, master), namespaces,
        dnsmasq pids, nft tables of the root namespace."""
        links = json.loads(sh("ip", "-j", "-d", "link", "show").stdout)
        mine = sorted((l["ifname"], l.get("linkinfo", {}).get("info_kind", ""), l["ifindex"],
                       l.get("master", "")) for l in links
                      if l["ifname"].startswith(self.prefix) and l["ifname"] != self.ext_bridge
                      or l.get("ifalias", "") == "nubo-net:" + self.prefix)
        ns = sorted(n.split()[0] for n in sh("ip", "netns", "list").stdout.splitlines()
                    if n.startswith(self.prefix + "-"))
        tables = sorted(t for t in sh("nft", "list", "tables").stdout.splitlines()
                        if " %s_" % self.prefix in t)
        return {"links": mine, "ns": ns, "dnsmasq": sorted(self.dnsmasq_pids()),
                "tables": tables}

    def dnsmasq_pids(self):
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if any(a.startswith(b"--interface=" + self.prefix.encode()) for a in args):
                out.append(int(pid))
        return out

    def close(self):
        self.stop()
        # nubo-net's own leftovers, should a test have failed half way
        for pid in self.dnsmasq_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for n in sh("ip", "netns", "list").stdout.splitlines():
            n = n.split()[0] if n.strip() else ""
            if n.startswith(self.prefix + "-") or n.startswith(self.tprefix + "-"):
                sh("ip", "netns", "del", n, check=False)
        links = json.loads(sh("ip", "-j", "link", "show").stdout)
        for l in links:
            if l.get("ifalias", "") == "nubo-net:" + self.prefix or l["ifname"] in self.test_links \
                    or l["ifname"].startswith(self.prefix) or l["ifname"].startswith(self.tprefix):
                sh("ip", "link", "del", l["ifname"], check=False)
        for fam in ("bridge", "inet"):
            sh("nft", "delete", "table", fam, "%s_%s" % (self.prefix, "as" if fam == "bridge" else "sg"),
               check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def doc_base(agent, networks=(), ports=(), groups=(), routers=()):
    return {"version": 1, "host": "test", "generation": 0, "tunnel_ip": "127.0.0.1",
            "external_bridge": agent.ext_bridge, "networks": list(networks),
            "ports": list(ports), "security_groups": list(groups), "routers": list(routers)}


def tap_of(port_id):
    return "tap" + port_id[:11]
