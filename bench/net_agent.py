#!/usr/bin/python3
"""bench/net_agent.py: nubo-net's agent time for the issue's three network events, on
this box, with the standalone agent of tests/net/netlib.py (root; build first).

    sudo bench/net_agent.py [--rounds N]

Prints key=value lines (medians over N rounds, default 5):
  port_wired_agent_ms   converge of a document with one port more: persistent tap made,
                        plugged into the bridge, nft tables replaced, dnsmasq reloaded
  port_wired_wall_ms    document written -> converge logged (adds the 50 ms file poll)
  fip_live_agent_ms     converge of a document with a floating IP more (address on the
                        router's gateway, NAT table replaced in one transaction)
  fip_live_wall_ms      document written -> first TCP answer through the floating IP
                        from a namespace on the external bridge
  rule_change_agent_ms  converge of a document with one security group rule more
  rule_change_wall_ms   document written -> the port answers
  rule_change_nft_transactions  nft -f runs for the rule change (the issue: one)
  port_wired_step_<step>_ms, fip_live_step_<step>_ms  the agent time of those two
                        converges per step (read, remove, add, fdb, namespaces, nft,
                        dhcp; namespaces includes the gratuitous ARPs of a new address)
The agent times are what nubo-net logs ("converged generation N in X ms")."""
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "net"))
import test_net_agent as T  # noqa: E402
from netlib import NetAgent, sh, tap_of, uid  # noqa: E402


def wait_tcp(ns, ip, port, limit=10):
    t0 = time.time()
    while time.time() - t0 < limit:
        if T.tcp_ok(ns, ip, port, timeout=1):
            return
    raise RuntimeError("no answer from %s:%d" % (ip, port))


def steps(a):
    """The last converge's time per step (nubo-net's debug line "converge steps (ms):
    read 1, remove 2, ..."): where the agent time goes."""
    line = [x for x in a.log().splitlines() if "converge steps (ms):" in x][-1]
    return {k: float(v) for k, v in (p.strip().rsplit(" ", 1)
                                     for p in line.split("converge steps (ms):")[1].split(","))}


def main():
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 5
    a = NetAgent()
    r = {k: [] for k in ("port_wired_agent_ms", "port_wired_wall_ms", "fip_live_agent_ms",
                         "fip_live_wall_ms", "rule_change_agent_ms", "rule_change_wall_ms",
                         "rule_change_nft_transactions")}
    try:
        a.vm2 = a.vm("vm2", tap_of(T.P2), T.MAC2)
        a.out = a.outside(T.EXT_CIDR_GW)
        a.start()
        base = T.full(a, web_port=None, fip=False, with_p3=False)
        a.apply(base)
        sh("ip", "addr", "add", T.IP2 + "/24", "dev", "eth0", ns=a.vm2)
        sh("ip", "route", "add", "default", "via", T.GW, ns=a.vm2)
        listener = T.Listener(a.vm2, 8080)
        for _ in range(rounds):
            # a port more (its tap made by nubo-net), then gone again
            pid = uid()
            doc = T.full(a, web_port=None, fip=False, with_p3=False)
            doc["ports"].append(T.port(pid, "fa:16:3e:00:01:01", "10.77.1.40", [T.SG_DEF]))
            t0 = time.time()
            r["port_wired_agent_ms"].append(a.apply(doc))
            r["port_wired_wall_ms"].append((time.time() - t0) * 1e3)
            for k, v in steps(a).items():
                r.setdefault("port_wired_step_%s_ms" % k, []).append(v)
            assert os.path.exists("/sys/class/net/" + tap_of(pid))
            a.apply(base)
            # a security group rule more (the floating IP is there already)
            a.apply(T.full(a, web_port=None, fip=True, with_p3=False))
            t0 = time.time()
            r["rule_change_agent_ms"].append(a.apply(T.full(a, web_port=8080, fip=True,
                                                            with_p3=False)))
            log = [x for x in a.log().splitlines() if "converged generation" in x][-1]
            r["rule_change_nft_transactions"].append(int(log.split(" nft ")[1].split(",")[0]))
            wait_tcp(a.out, T.FIP, 8080)
            r["rule_change_wall_ms"].append((time.time() - t0) * 1e3)
            # a floating IP more (the rule is there already)
            a.apply(T.full(a, web_port=8080, fip=False, with_p3=False))
            t1 = time.time()
            r["fip_live_agent_ms"].append(a.apply(T.full(a, web_port=8080, fip=True,
                                                         with_p3=False)))
            wait_tcp(a.out, T.FIP, 8080)
            r["fip_live_wall_ms"].append((time.time() - t1) * 1e3)
            for k, v in steps(a).items():
                r.setdefault("fip_live_step_%s_ms" % k, []).append(v)
            a.apply(base)
        listener.close()
    finally:
        a.close()
    print("rounds=%d" % rounds)
    for k, v in r.items():
        print("%s=%.1f" % (k, statistics.median(v)))


if __name__ == "__main__":
    main()
