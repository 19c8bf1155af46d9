"""Compute x Networking (issues 7 and 8): Nova's network proxies over the Network API.
os-floating-ips / os-floating-ip-pools and the addFloatingIp / removeFloatingIp server
actions, /servers/{id}/ips, the ip / ip6 list filters, multi-NIC servers (a network
twice) and the security group proxy (cidr as given, non-UUID ids, all_tenants, a server
left without groups). Plain HTTP where Nova's codes matter; servers are not waited for:
their ports exist from the create on."""
import uuid

import pytest

from nubo_e2e import assert_error

API = "/compute/v2.1"


def mv(v):
    return {"OpenStack-API-Version": "compute " + v}


def act(http, tok, sid, body):
    return http("POST", "%s/servers/%s/action" % (API, sid), body, token=tok)


@pytest.fixture(scope="module")
def net(stack):
    """Two networks of the admin project (one with a router to public), and two servers:
    s1 on net A, s2 on A, B and A again (Nova keeps a network given twice)."""
    tag = uuid.uuid4().hex[:6]
    names = {"a": "cn-a-" + tag, "b": "cn-b-" + tag, "r": "cn-r-" + tag}
    stack.os_cli("network", "create", names["a"])
    stack.os_cli("subnet", "create", "--network", names["a"], "--subnet-range",
                 "10.77.1.0/24", names["a"] + "-s")
    stack.os_cli("network", "create", names["b"])
    stack.os_cli("subnet", "create", "--network", names["b"], "--subnet-range",
                 "10.78.1.0/24", names["b"] + "-s")
    stack.os_cli("router", "create", names["r"])
    stack.os_run("router", "set", "--external-gateway", "public", names["r"])
    stack.os_run("router", "add", "subnet", names["r"], names["a"] + "-s")
    s1 = stack.os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                      "--network", names["a"], "cn-s1-" + tag)
    s2 = stack.os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                      "--network", names["a"], "--network", names["b"], "--network",
                      names["a"], "cn-s2-" + tag)
    yield dict(names, s1=s1["id"], s2=s2["id"])
    for s in (s1, s2):
        stack.os_run("server", "delete", "--wait", s["id"], check=False, timeout=300)
    stack.os_run("router", "remove", "subnet", names["r"], names["a"] + "-s", check=False)
    stack.os_run("router", "delete", names["r"], check=False)
    for n in ("a", "b"):
        stack.os_run("network", "delete", names[n], check=False)


def ips(http, tok, sid):
    r = http("GET", "%s/servers/%s/ips" % (API, sid), token=tok)
    assert r.status == 200, r
    return r.json["addresses"]


def test_ips_and_multi_nic(stack, http, net):
    tok = stack.token("admin")
    a1 = ips(http, tok, net["s1"])
    assert list(a1) == [net["a"]] and len(a1[net["a"]]) == 1
    assert a1[net["a"]][0]["version"] == 4 and a1[net["a"]][0]["addr"].startswith("10.77.1.")
    assert set(a1[net["a"]][0]) == {"version", "addr"}  # /ips has no OS-EXT keys
    a2 = ips(http, tok, net["s2"])
    assert sorted(a2) == sorted([net["a"], net["b"]])
    assert len(a2[net["a"]]) == 2 and all(x["addr"].startswith("10.77.1.") for x in a2[net["a"]])
    assert len(a2[net["b"]]) == 1 and a2[net["b"]][0]["addr"].startswith("10.78.1.")
    r = http("GET", "%s/servers/%s/ips/%s" % (API, net["s2"], net["b"]), token=tok)
    assert r.status == 200 and r.json == {net["b"]: a2[net["b"]]}, r
    assert_error(http("GET", "%s/servers/%s/ips/no-such-net" % (API, net["s2"]), token=tok), 404)
    # the server views agree with /ips
    shown = stack.os_cli("server", "show", net["s2"])
    assert net["b"] in str(shown["addresses"])


def test_list_filtered_by_ip(stack, http, net):
    tok = stack.token("admin")
    addr1 = ips(http, tok, net["s1"])[net["a"]][0]["addr"]
    addr2 = ips(http, tok, net["s2"])[net["b"]][0]["addr"]

    def listed(q):
        r = http("GET", "%s/servers?all_tenants=1&%s" % (API, q), token=tok)
        assert r.status == 200, r
        return {s["id"] for s in r.json["servers"]}
    ours = {net["s1"], net["s2"]}
    assert listed("ip=%s$" % addr1.replace(".", "%5C.")) & ours == {net["s1"]}
    assert listed("ip=%s$" % addr2.replace(".", "%5C.")) & ours == {net["s2"]}
    assert listed("ip=10.7") & ours == ours  # a regular expression, as Nova's
    assert listed("ip=10.99.") & ours == set()
    assert listed("ip6=10.77") & ours == set()  # IPv4 addresses are not ip6's


def test_floating_ip_proxy(stack, http, net):
    tok = stack.token("admin")
    pools = http("GET", API + "/os-floating-ip-pools", token=tok)
    assert pools.status == 200 and {"name": "public"} in pools.json["floating_ip_pools"]
    assert_error(http("POST", API + "/os-floating-ips", {"pool": "no-such-pool"}, tok), 404)
    r = http("POST", API + "/os-floating-ips", {"pool": "public"}, tok)
    assert r.status == 200, r
    fip = r.json["floating_ip"]
    assert set(fip) == {"id", "ip", "pool", "fixed_ip", "instance_id"}
    assert fip["pool"] == "public" and fip["fixed_ip"] is None and fip["instance_id"] is None
    r = http("GET", "%s/os-floating-ips/%s" % (API, fip["id"]), token=tok)
    assert r.status == 200 and r.json["floating_ip"] == fip
    assert fip in http("GET", API + "/os-floating-ips", token=tok).json["floating_ips"]
    # by the pool's id too; the Network API sees the same address
    r = http("POST", API + "/os-floating-ips",
             {"pool": stack.os_cli("network", "show", "public")["id"]}, tok)
    assert r.status == 200, r
    fip2 = r.json["floating_ip"]
    assert stack.os_cli("floating", "ip", "show", fip2["ip"])["id"] == fip2["id"]

    # associate: the server's fixed address gets it; the server shows it
    addr1 = ips(http, tok, net["s1"])[net["a"]][0]["addr"]
    r = act(http, tok, net["s1"], {"addFloatingIp": {"address": fip["ip"]}})
    assert r.status == 202, r
    shown = http("GET", "%s/os-floating-ips/%s" % (API, fip["id"]), token=tok).json
    assert shown["floating_ip"]["instance_id"] == net["s1"]
    assert shown["floating_ip"]["fixed_ip"] == addr1
    assert {"version": 4, "addr": fip["ip"]} in ips(http, tok, net["s1"])[net["a"]]
    r = http("GET", "%s/servers?ip=%s$" % (API, fip["ip"].replace(".", "%5C.")), token=tok)
    assert [s["id"] for s in r.json["servers"]] == [net["s1"]]
    # a second floating IP on the same fixed address: 400
    assert_error(act(http, tok, net["s1"], {"addFloatingIp": {"address": fip2["ip"]}}), 400)
    # bad and unknown addresses, a fixed address the server lacks
    assert_error(act(http, tok, net["s1"], {"addFloatingIp": {"address": ""}}), 400)
    assert_error(act(http, tok, net["s1"], {"addFloatingIp": {"address": "0.0.0.0"}}), 404)
    assert_error(act(http, tok, net["s1"], {"addFloatingIp": {"address": fip2["ip"],
                                                              "fixed_address": "10.1.2.3"}}), 400)
    assert_error(act(http, tok, net["s1"], {"removeFloatingIp": {"address": "0.0.0.0"}}), 404)
    assert_error(act(http, tok, net["s2"], {"removeFloatingIp": {"address": fip["ip"]}}), 409)
    # re-associated to another server: the first one no longer has it
    r = act(http, tok, net["s2"], {"addFloatingIp": {"address": fip["ip"]}})
    assert r.status == 202, r
    assert_error(act(http, tok, net["s1"], {"removeFloatingIp": {"address": fip["ip"]}}), 409)
    # s2's NIC on B has no router to public: Nova's 400
    addr_b = ips(http, tok, net["s2"])[net["b"]][0]["addr"]
    assert_error(act(http, tok, net["s2"], {"addFloatingIp": {"address": fip2["ip"],
                                                              "fixed_address": addr_b}}), 400)
    r = act(http, tok, net["s2"], {"removeFloatingIp": {"address": fip["ip"]}})
    assert r.status == 202, r
    assert http("GET", "%s/os-floating-ips/%s" % (API, fip["id"]),
                token=tok).json["floating_ip"]["instance_id"] is None
    # delete (an associated one is disassociated first)
    assert act(http, tok, net["s1"], {"addFloatingIp": {"address": fip2["ip"]}}).status == 202
    for f in (fip, fip2):
        r = http("DELETE", "%s/os-floating-ips/%s" % (API, f["id"]), token=tok)
        assert r.status == 202, r
        assert_error(http("GET", "%s/os-floating-ips/%s" % (API, f["id"]), token=tok), 404)
    assert_error(http("DELETE", "%s/os-floating-ips/%s" % (API, fip["id"]), token=tok), 404)
    assert ips(http, tok, net["s1"])[net["a"]] == [{"version": 4, "addr": addr1}]
    # gone at 2.36 (the proxies) and 2.44 (the actions), as in Nova
    assert_error(http("GET", API + "/os-floating-ips", token=tok, headers=mv("2.36")), 404)
    assert_error(http("POST", "%s/servers/%s/action" % (API, net["s1"]),
                      {"addFloatingIp": {"address": fip["ip"]}}, tok, headers=mv("2.44")), 404)


def test_security_group_proxy(stack, http, net):
    tok, dtok = stack.token("admin"), stack.token("demo")
    made = []

    def create(t, name):
        r = http("POST", API + "/os-security-groups",
                 {"security_group": {"name": name, "description": "d"}}, t)
        assert r.status == 200, r
        made.append((t, r.json["security_group"]["id"]))
        return r.json["security_group"]
    try:
        g = create(tok, "cn-g-" + uuid.uuid4().hex[:6])
        d = create(dtok, "cn-d-" + uuid.uuid4().hex[:6])
        # Nova shows the cidr as it was given (Neutron keeps the host bits)
        r = http("POST", API + "/os-security-group-rules", {"security_group_rule": {
            "parent_group_id": g["id"], "ip_protocol": "tcp", "from_port": 22, "to_port": 22,
            "cidr": "10.2.3.124/24"}}, tok)
        assert r.status == 200 and r.json["security_group_rule"]["ip_range"] == {
            "cidr": "10.2.3.124/24"}, r
        shown = http("GET", "%s/os-security-groups/%s" % (API, g["id"]), token=tok).json
        assert shown["security_group"]["rules"][0]["ip_range"] == {"cidr": "10.2.3.124/24"}
        # a parent id that is no UUID: Nova's 400; an unknown UUID: 404
        r = http("POST", API + "/os-security-group-rules", {"security_group_rule": {
            "parent_group_id": "non_int_id-1", "ip_protocol": "tcp", "from_port": 22,
            "to_port": 22}}, tok)
        assert_error(r, 400)
        r = http("POST", API + "/os-security-group-rules", {"security_group_rule": {
            "parent_group_id": str(uuid.uuid4()), "ip_protocol": "tcp", "from_port": 22,
            "to_port": 22}}, tok)
        assert_error(r, 404)
        assert_error(http("GET", API + "/os-security-groups/xyz", token=tok), 400)
        # all_tenants: every project's for an admin, still only its own for a member
        every = {x["id"] for x in http("GET", API + "/os-security-groups?all_tenants=true",
                                       token=tok).json["security_groups"]}
        assert {g["id"], d["id"]} <= every
        own = {x["id"] for x in http("GET", API + "/os-security-groups",
                                     token=tok).json["security_groups"]}
        assert d["id"] not in own and g["id"] in own
        mine = {x["id"] for x in http("GET", API + "/os-security-groups?all_tenants=true",
                                      token=dtok).json["security_groups"]}
        assert d["id"] in mine and g["id"] not in mine
    finally:
        for t, gid in made:
            http("DELETE", "%s/os-security-groups/%s" % (API, gid), token=t)


def test_server_without_groups(stack, http, net):
    """Removing a server's only group leaves it without the key (Nova), and adding one
    back shows it again."""
    tok = stack.token("admin")
    show = http("GET", "%s/servers/%s" % (API, net["s1"]), token=tok).json["server"]
    assert show["security_groups"] == [{"name": "default"}]
    assert act(http, tok, net["s1"], {"removeSecurityGroup": {"name": "default"}}).status == 202
    show = http("GET", "%s/servers/%s" % (API, net["s1"]), token=tok).json["server"]
    assert "security_groups" not in show
    assert act(http, tok, net["s1"], {"addSecurityGroup": {"name": "default"}}).status == 202
    show = http("GET", "%s/servers/%s" % (API, net["s1"]), token=tok).json["server"]
    assert show["security_groups"] == [{"name": "default"}]


def test_update_answer_addresses(stack, http, net):
    """PUT /servers/{id} (and rebuild) answer addresses as {version, addr} below 2.75,
    as Nova's; show keeps the extended keys."""
    tok = stack.token("admin")
    r = http("PUT", "%s/servers/%s" % (API, net["s2"]), {"server": {"name": "cn-renamed"}}, tok)
    assert r.status == 200, r
    got = r.json["server"]["addresses"]
    assert got == ips(http, tok, net["s2"]) and len(got[net["a"]]) == 2
    # show keeps Nova's extended keys
    r = http("GET", "%s/servers/%s" % (API, net["s2"]), token=tok)
    assert r.json["server"]["addresses"][net["b"]][0]["OS-EXT-IPS:type"] == "fixed"
