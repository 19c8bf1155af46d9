"""Network v2.0 API end to end, with the real openstack CLI (and plain HTTP where the
CLI hides the status): network/subnet/port/router/floating IP/security group CRUD,
tenant isolation, Neutron's error shape and codes, quotas, tags, pagination and
concurrent IP allocation."""
import concurrent.futures
import json
import uuid

import pytest

NET = "/network/v2.0"


def neutron_error(resp, status, type_=None):
    assert resp.status == status, "expected %s, got %r" % (status, resp)
    err = (resp.json or {}).get("NeutronError")
    assert isinstance(err, dict), "not Neutron's error shape: %r" % resp
    assert err.get("message"), resp
    if type_:
        assert err.get("type") == type_, resp


@pytest.fixture(scope="module")
def tenant_b(stack):
    """A second project with a member user: (name, password)."""
    name = "netb-" + uuid.uuid4().hex[:6]
    password = uuid.uuid4().hex
    stack.os_run("project", "create", name)
    stack.os_run("user", "create", "--project", name, "--password", password, name)
    stack.os_run("role", "add", "--project", name, "--user", name, "member")
    yield name, password
    stack.os_run("user", "delete", name, check=False)
    stack.os_run("project", "delete", name, check=False)


def b_token(stack, tenant_b):
    return stack.token(tenant_b[0], project=tenant_b[0], password=tenant_b[1], fresh=True)


def test_versions_catalog_and_extensions(stack, os_cli, http):
    r = http("GET", "/network/")
    assert r.status == 200 and r.json["versions"][0]["id"] == "v2.0"
    exts = {e["Alias"] for e in os_cli("extension", "list", "--network")}
    assert {"router", "external-net", "security-group", "quotas"} <= exts
    assert "dvr" not in exts
    azs = os_cli("availability", "zone", "list", "--network")
    assert any(z["Zone Name"] == "nova" for z in azs)
    public = os_cli("network", "show", "public")
    assert public["router:external"] is True and public["shared"] is True
    # service-type: no advanced-service drivers to choose from, an empty list
    assert "service-type" in exts
    assert os_cli("network", "service", "provider", "list") == []


def test_network_subnet_port_crud(os_cli, os_run):
    net = os_cli("network", "create", "e2e-net1")
    assert net["status"] == "ACTIVE" and net["mtu"] == 1450
    sub = os_cli("subnet", "create", "--network", "e2e-net1", "--subnet-range", "10.20.1.0/24",
                 "--dns-nameserver", "10.20.0.53", "e2e-sub1")
    assert sub["gateway_ip"] == "10.20.1.1"
    assert sub["allocation_pools"] == [{"start": "10.20.1.2", "end": "10.20.1.254"}]
    assert sub["dns_nameservers"] == ["10.20.0.53"]
    port = os_cli("port", "create", "--network", "e2e-net1", "e2e-p1")
    ip = port["fixed_ips"][0]["ip_address"]
    assert ip.startswith("10.20.1.") and ip != "10.20.1.1"
    assert port["mac_address"].startswith("fa:16:3e:")
    fixed = os_cli("port", "create", "--network", "e2e-net1",
                   "--fixed-ip", "subnet=e2e-sub1,ip-address=10.20.1.77", "e2e-p2")
    assert fixed["fixed_ips"][0]["ip_address"] == "10.20.1.77"
    listed = {p["Name"] for p in os_cli("port", "list", "--network", "e2e-net1")}
    assert {"e2e-p1", "e2e-p2"} <= listed
    found = os_cli("port", "list", "--fixed-ip", "ip-address=10.20.1.77")
    assert [p["Name"] for p in found] == ["e2e-p2"]
    os_run("network", "set", "--name", "e2e-net1b", "e2e-net1")
    assert os_cli("network", "show", "e2e-net1b")["name"] == "e2e-net1b"
    # a network with ports in use is not deleted
    proc = os_run("network", "delete", "e2e-net1b", check=False)
    assert proc.returncode != 0
    os_run("port", "delete", "e2e-p1", "e2e-p2")
    os_run("subnet", "delete", "e2e-sub1")
    os_run("network", "delete", "e2e-net1b")
    assert os_run("network", "show", "e2e-net1b", check=False).returncode != 0


def test_bad_input_codes(stack, http, os_cli, os_run):
    tok = stack.token()
    net = os_cli("network", "create", "e2e-bad")
    nid = net["id"]
    try:
        for cidr in ("10.0.0.0/33", "banana", "10.0.0.1/24", "300.1.1.0/24"):
            r = http("POST", NET + "/subnets",
                     {"subnet": {"network_id": nid, "ip_version": 4, "cidr": cidr}}, tok)
            neutron_error(r, 400)
        r = http("POST", NET + "/subnets",
                 {"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.30.0.0/24"}}, tok)
        assert r.status == 201, r
        sid = r.json["subnet"]["id"]
        # overlap on the same network
        r = http("POST", NET + "/subnets",
                 {"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.30.0.128/25"}}, tok)
        neutron_error(r, 400)
        # fixed IP outside the subnet, and taken
        r = http("POST", NET + "/ports",
                 {"port": {"network_id": nid, "fixed_ips": [{"ip_address": "10.99.0.5"}]}}, tok)
        neutron_error(r, 400)
        r = http("POST", NET + "/ports",
                 {"port": {"network_id": nid, "fixed_ips": [{"ip_address": "10.30.0.9"}]}}, tok)
        assert r.status == 201, r
        pid = r.json["port"]["id"]
        r = http("POST", NET + "/ports",
                 {"port": {"network_id": nid, "fixed_ips": [{"ip_address": "10.30.0.9"}]}}, tok)
        neutron_error(r, 409, "IpAddressAlreadyAllocated")
        # floating IP from a tenant network
        r = http("POST", NET + "/floatingips", {"floatingip": {"floating_network_id": nid}}, tok)
        neutron_error(r, 400)
        # unknown ids
        neutron_error(http("GET", NET + "/networks/" + str(uuid.uuid4()), token=tok), 404,
                      "NetworkNotFound")
        # deleting the network with a port in use
        neutron_error(http("DELETE", NET + "/networks/" + nid, token=tok), 409, "NetworkInUse")
        http("DELETE", NET + "/ports/" + pid, token=tok)
        http("DELETE", NET + "/subnets/" + sid, token=tok)
    finally:
        os_run("network", "delete", nid, check=False)


def test_router_floating_ip_flow(os_cli, os_run, http, stack):
    os_cli("network", "create", "e2e-rnet")
    os_cli("subnet", "create", "--network", "e2e-rnet", "--subnet-range", "10.40.1.0/24",
           "e2e-rsub")
    router = os_cli("router", "create", "e2e-r1")
    os_run("router", "set", "--external-gateway", "public", "e2e-r1")
    shown = os_cli("router", "show", "e2e-r1")
    gw = shown["external_gateway_info"]
    assert gw["network_id"] == os_cli("network", "show", "public")["id"]
    assert gw["enable_snat"] is True and gw["external_fixed_ips"][0]["ip_address"].startswith(
        "172.24.4.")
    os_run("router", "add", "subnet", "e2e-r1", "e2e-rsub")
    ifaces = os_cli("port", "list", "--router", "e2e-r1")
    # an admin (as Neutron) also sees the router's gateway port on the public network
    gw_ip = gw["external_fixed_ips"][0]["ip_address"]
    assert sorted(p["Fixed IP Addresses"][0]["ip_address"] for p in ifaces) == sorted(
        ["10.40.1.1", gw_ip])
    # a second subnet overlapping the first on another network: refused on the router
    os_cli("network", "create", "e2e-rnet2")
    os_cli("subnet", "create", "--network", "e2e-rnet2", "--subnet-range", "10.40.1.0/26",
           "e2e-rsub2")
    proc = os_run("router", "add", "subnet", "e2e-r1", "e2e-rsub2", check=False)
    assert proc.returncode != 0 and "overlaps" in proc.stderr
    port = os_cli("port", "create", "--network", "e2e-rnet", "e2e-vmport")
    fip = os_cli("floating", "ip", "create", "public")
    addr = fip["floating_ip_address"]
    assert addr.startswith("172.24.4.") and fip["status"] == "DOWN"
    os_run("floating", "ip", "set", "--port", "e2e-vmport", addr)
    shown = os_cli("floating", "ip", "show", addr)
    assert shown["port_id"] == port["id"] and shown["router_id"] == router["id"]
    assert shown["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    # the router cannot lose its interface while the floating IP needs it
    proc = os_run("router", "remove", "subnet", "e2e-r1", "e2e-rsub", check=False)
    assert proc.returncode != 0
    os_run("floating", "ip", "unset", "--port", addr)
    assert os_cli("floating", "ip", "show", addr)["port_id"] is None
    os_run("floating", "ip", "delete", addr)
    # a router with interfaces is not deleted
    assert os_run("router", "delete", "e2e-r1", check=False).returncode != 0
    os_run("router", "remove", "subnet", "e2e-r1", "e2e-rsub")
    os_run("router", "unset", "--external-gateway", "e2e-r1")
    os_run("router", "delete", "e2e-r1")
    os_run("port", "delete", "e2e-vmport")
    os_run("network", "delete", "e2e-rnet", "e2e-rnet2")
    # nothing left behind: no hidden gateway or floating ports on public
    left = stack.sql("SELECT count(*) FROM net_ports WHERE device_owner IN"
                     " ('network:router_gateway', 'network:floatingip')")
    assert str(left[0][0]) == "0", left


def test_security_groups(os_cli, os_run, http, stack):
    groups = os_cli("security", "group", "list", "--project", "admin")
    default = [g for g in groups if g["Name"] == "default"]
    assert len(default) == 1
    rules = os_cli("security", "group", "rule", "list", default[0]["ID"])
    dirs = sorted((r["Direction"], r["Ethertype"]) for r in rules)
    assert dirs == [("egress", "IPv4"), ("egress", "IPv6"), ("ingress", "IPv4"),
                    ("ingress", "IPv6")]
    os_cli("security", "group", "create", "e2e-web")
    rule = os_cli("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80",
                  "e2e-web")
    assert rule["port_range_min"] == 80 and rule["port_range_max"] == 80
    assert rule["remote_ip_prefix"] == "0.0.0.0/0"
    proc = os_run("security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "80",
                  "e2e-web", check=False)
    assert proc.returncode != 0 and "already exists" in proc.stderr
    tok = stack.token()
    sg = os_cli("security", "group", "show", "e2e-web")
    r = http("POST", NET + "/security-group-rules",
             {"security_group_rule": {"security_group_id": sg["id"], "direction": "ingress",
                                      "protocol": "tcp", "port_range_min": 90,
                                      "port_range_max": 80}}, tok)
    neutron_error(r, 400)
    r = http("POST", NET + "/security-group-rules",
             {"security_group_rule": {"security_group_id": sg["id"], "direction": "ingress",
                                      "ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"}},
             tok)
    neutron_error(r, 400)
    os_run("security", "group", "rule", "delete", rule["id"])
    os_run("security", "group", "delete", "e2e-web")
    r = http("DELETE", NET + "/security-groups/" + default[0]["ID"], token=stack.token("demo"))
    assert r.status in (404, 409), r


def test_tenant_isolation(stack, os_cli, os_run, http, tenant_b):
    net = os_cli("network", "create", "e2e-private-a")
    os_cli("subnet", "create", "--network", "e2e-private-a", "--subnet-range", "10.50.0.0/24",
           "e2e-private-a-sub")
    sg = os_cli("security", "group", "create", "e2e-a-sg")
    try:
        tok = b_token(stack, tenant_b)
        nets = http("GET", NET + "/networks", token=tok).json["networks"]
        names = {n["name"] for n in nets}
        assert "e2e-private-a" not in names and "public" in names
        assert all(n["project_id"] == nets[0]["project_id"] or n["shared"] for n in nets)
        neutron_error(http("GET", NET + "/networks/" + net["id"], token=tok), 404)
        sgs = http("GET", NET + "/security-groups", token=tok).json["security_groups"]
        assert sg["id"] not in {g["id"] for g in sgs}
        assert [g["name"] for g in sgs] == ["default"]
        ports = http("GET", NET + "/ports", token=tok).json["ports"]
        assert ports == []
        # B cannot put a port on A's private network, nor delete it
        r = http("POST", NET + "/ports", {"port": {"network_id": net["id"]}}, tok)
        neutron_error(r, 404)
        neutron_error(http("DELETE", NET + "/networks/" + net["id"], token=tok), 404)
        # B may use the same CIDR
        r = http("POST", NET + "/networks", {"network": {"name": "b-net"}}, tok)
        assert r.status == 201, r
        bnet = r.json["network"]["id"]
        r = http("POST", NET + "/subnets", {"subnet": {"network_id": bnet, "ip_version": 4,
                                                       "cidr": "10.50.0.0/24"}}, tok)
        assert r.status == 201, r
        # a router interface of B on A's subnet: not found for B
        r = http("POST", NET + "/routers", {"router": {"name": "b-r"}}, tok)
        assert r.status == 201, r
        brouter = r.json["router"]["id"]
        asub = os_cli("subnet", "show", "e2e-private-a-sub")["id"]
        r = http("PUT", NET + "/routers/%s/add_router_interface" % brouter, {"subnet_id": asub},
                 tok)
        neutron_error(r, 404)
        # B may not make a shared network
        r = http("POST", NET + "/networks", {"network": {"name": "x", "shared": True}}, tok)
        neutron_error(r, 403)
        # nor create anything in A's project, under either attribute name (a subnetpool
        # was created there: its create took the project from the body unchecked)
        public = next(n["id"] for n in nets if n["name"] == "public")
        for kind, path, body in (
                ("router", "routers", {"name": "x"}),
                ("subnet", "subnets", {"network_id": bnet, "ip_version": 4,
                                       "cidr": "10.51.0.0/24"}),
                ("security_group", "security-groups", {"name": "x"}),
                ("subnetpool", "subnetpools", {"name": "x", "prefixes": ["10.99.0.0/16"]}),
                ("port", "ports", {"network_id": bnet}),
                ("floatingip", "floatingips", {"floating_network_id": public})):
            for attr in ("project_id", "tenant_id"):
                r = http("POST", NET + "/" + path,
                         {kind: dict(body, **{attr: net["project_id"]})}, tok)
                neutron_error(r, 403, "PolicyNotAuthorized")
        http("DELETE", NET + "/routers/" + brouter, token=tok)
        http("DELETE", NET + "/networks/" + bnet, token=tok)
    finally:
        os_run("network", "delete", "e2e-private-a", check=False)
        os_run("security", "group", "delete", "e2e-a-sg", check=False)


def test_quota_enforced_under_concurrency(stack, os_cli, os_run, http, tenant_b):
    os_run("quota", "set", "--networks", "3", tenant_b[0])
    shown = os_cli("quota", "show", tenant_b[0])
    assert shown["networks"] == 3
    tok = b_token(stack, tenant_b)

    def make(i):
        return http("POST", NET + "/networks", {"network": {"name": "q%d" % i}}, tok)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(make, range(8)))
    made = [r for r in results if r.status == 201]
    refused = [r for r in results if r.status == 409]
    assert len(made) == 3 and len(refused) == 5, [r.status for r in results]
    neutron_error(refused[0], 409, "OverQuota")
    for r in made:
        http("DELETE", NET + "/networks/" + r.json["network"]["id"], token=tok)
    os_run("quota", "set", "--networks", "100", tenant_b[0])


def test_concurrent_port_creates_get_distinct_ips(stack, os_cli, os_run, http):
    net = os_cli("network", "create", "e2e-conc")
    os_cli("subnet", "create", "--network", "e2e-conc", "--subnet-range", "10.60.0.0/27",
           "e2e-conc-sub")
    tok = stack.token()

    def make(i):
        return http("POST", NET + "/ports", {"port": {"network_id": net["id"]}}, tok)

    try:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(make, range(40)))
        ok = [r.json["port"] for r in results if r.status == 201]
        full = [r for r in results if r.status == 409]
        ips = [p["fixed_ips"][0]["ip_address"] for p in ok]
        macs = [p["mac_address"] for p in ok]
        assert len(set(ips)) == len(ips) and len(set(macs)) == len(macs)
        # a /27 has 29 pool addresses, one taken by the DHCP port
        assert len(ok) == 28 and len(full) == 12, (len(ok), len(full))
        neutron_error(full[0], 409, "IpAddressGenerationFailure")
    finally:
        for p in stack.sql("SELECT id FROM net_ports WHERE network_id = :'p1' AND"
                           " device_owner = ''", net["id"]):
            http("DELETE", NET + "/ports/" + p[0], token=tok)
        os_run("network", "delete", "e2e-conc", check=False)


def test_tags_fields_and_pagination(stack, os_cli, os_run, http):
    tok = stack.token()
    tag = uuid.uuid4().hex[:6]
    made = [os_cli("network", "create", "e2e-page-%s-%d" % (tag, i))["id"] for i in range(5)]
    try:
        os_run("network", "set", "--tag", "red", "--tag", "blue", made[0])
        assert sorted(os_cli("network", "show", made[0])["tags"]) == ["blue", "red"]
        one = NET + "/networks/%s/tags/red" % made[0]
        assert http("GET", one, token=tok).status == 204
        assert http("DELETE", one, token=tok).status == 204
        neutron_error(http("GET", one, token=tok), 404, "TagNotFound")
        neutron_error(http("DELETE", one, token=tok), 404, "TagNotFound")
        assert http("PUT", one, token=tok).status == 201
        r = http("GET", NET + "/networks?tags=red,blue", token=tok)
        assert made[0] in [n["id"] for n in r.json["networks"]]
        assert not set(made[1:]) & {n["id"] for n in r.json["networks"]}
        r = http("GET", NET + "/networks?fields=id&fields=name&name=e2e-page-%s-1" % tag,
                 token=tok)
        assert r.json["networks"] == [{"id": made[1], "name": "e2e-page-%s-1" % tag}]
        seen, marker = [], None
        while True:
            path = NET + "/networks?limit=2&sort_key=name&sort_dir=asc"
            if marker:
                path += "&marker=" + marker
            page = http("GET", path, token=tok).json
            seen += [n["name"] for n in page["networks"]]
            nxt = [link for link in page.get("networks_links", []) if link["rel"] == "next"]
            if not nxt:
                break
            marker = page["networks"][-1]["id"]
        names = [n for n in seen if n.startswith("e2e-page-%s-" % tag)]
        assert names == ["e2e-page-%s-%d" % (tag, i) for i in range(5)]
        assert seen == sorted(seen)
    finally:
        os_run("network", "delete", *made, check=False)


def conf_value(stack, section, key):
    cur = None
    for line in stack.conf.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            cur = line.strip("[]")
        elif cur == section and line.split("=", 1)[0].strip() == key:
            return line.split("=", 1)[1].strip()
    return None


def test_server_ports_addresses_metadata_and_release(stack, os_cli, os_run, http, ids):
    sfx = uuid.uuid4().hex[:6]
    netname, sgname = "e2e-srvnet-" + sfx, "e2e-srv-sg-" + sfx
    net = os_cli("network", "create", netname)
    os_cli("subnet", "create", "--network", netname, "--subnet-range", "10.70.0.0/24",
           "e2e-srvsub")
    os_cli("security", "group", "create", sgname)
    srv = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                 "--network", netname, "--security-group", sgname, "e2e-netvm")
    try:
        ports = os_cli("port", "list", "--server", srv["id"], "--long")
        assert len(ports) == 1, ports
        port = os_cli("port", "show", ports[0]["ID"])
        assert port["device_owner"] == "compute:nova" and port["device_id"] == srv["id"]
        ip = port["fixed_ips"][0]["ip_address"]
        assert port["security_group_ids"] == [os_cli("security", "group", "show",
                                                     sgname)["id"]]
        shown = os_cli("server", "show", srv["id"])
        assert netname in json.dumps(shown["addresses"]) and ip in json.dumps(
            shown["addresses"])
        # the metadata service answers the instance at (network, fixed IP), and only it
        secret = conf_value(stack, "network", "metadata_secret")
        hdr = {"X-Nubo-Metadata-Secret": secret, "X-Nubo-Network-Id": net["id"],
               "X-Forwarded-For": ip}
        r = http("GET", "/metadata/openstack/latest/meta_data.json", headers=hdr)
        assert r.status == 200 and r.json["uuid"] == srv["id"], r
        r = http("GET", "/metadata/latest/meta-data/local-ipv4", headers=hdr)
        assert r.status == 200 and r.text == ip
        r = http("GET", "/metadata/openstack/latest/network_data.json", headers=hdr)
        assert r.json["networks"][0]["ip_address"] == ip
        other = dict(hdr, **{"X-Forwarded-For": "10.70.0.250"})
        assert http("GET", "/metadata/openstack/latest/meta_data.json", headers=other).status \
            == 404
        bad = dict(hdr, **{"X-Nubo-Metadata-Secret": "0" * len(secret)})
        assert http("GET", "/metadata/openstack/latest/meta_data.json", headers=bad).status \
            == 403
        # Nova's proxies: the server's groups, add/remove a group
        tok = stack.token()
        r = http("GET", "/compute/v2.1/servers/%s/os-security-groups" % srv["id"], token=tok)
        assert [g["name"] for g in r.json["security_groups"]] == [sgname]
        r = http("POST", "/compute/v2.1/servers/%s/action" % srv["id"],
                 {"addSecurityGroup": {"name": "default"}}, tok)
        assert r.status == 202, r
        r = http("GET", "/compute/v2.1/servers/%s/os-security-groups" % srv["id"], token=tok)
        assert sorted(g["name"] for g in r.json["security_groups"]) == sorted(
            ["default", sgname])
        r = http("GET", "/compute/v2.1/os-security-groups", token=tok)
        assert "default" in [g["name"] for g in r.json["security_groups"]]
    finally:
        os_run("server", "delete", "--wait", srv["id"], check=False)
    # the port made for the server went with it
    assert os_cli("port", "list", "--network", netname, "--device-owner",
                  "compute:nova") == []
    os_run("security", "group", "delete", sgname)
    os_run("network", "delete", netname)


def test_server_auto_network_rule(stack, http, ids, tenant_b):
    tok = b_token(stack, tenant_b)
    body = {"server": {"name": "auto", "flavorRef": ids["flavor"], "imageRef": ids["image"]}}
    nets = []
    try:
        # no network of its own: today's behaviour, a server without ports
        r = http("POST", "/compute/v2.1/servers", body, tok)
        assert r.status == 202, r
        sid = r.json["server"]["id"]
        assert http("GET", NET + "/ports?device_id=" + sid, token=tok).json["ports"] == []
        http("DELETE", "/compute/v2.1/servers/" + sid, token=tok)
        for name in ("auto-1", "auto-2"):
            r = http("POST", NET + "/networks", {"network": {"name": name}}, tok)
            nets.append(r.json["network"]["id"])
            http("POST", NET + "/subnets", {"subnet": {"network_id": nets[-1], "ip_version": 4,
                                                       "cidr": "10.80.%d.0/24" % len(nets)}},
                 tok)
        r = http("POST", "/compute/v2.1/servers", body, tok)
        assert r.status == 409 and "Multiple possible networks" in r.text, r
    finally:
        for n in nets:
            http("DELETE", NET + "/networks/" + n, token=tok)
