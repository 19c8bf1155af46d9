"""Network v2.0 API end to end, second part: bulk create (all or nothing, quotas
counted across the bulk), subnet pools (CRUD with the real CLI, subnets carved by
prefix length, concurrent allocations never overlap, in-use and shrink refused, tags)
and deleting an external network that still holds floating IPs."""
import concurrent.futures
import ipaddress
import uuid

from test_network import NET, neutron_error


def uniq(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:6])


def names_of(http, coll, names, tok):
    r = http("GET", NET + "/" + coll, token=tok)
    assert r.status == 200, r
    return {x["name"] for x in r.json[coll]} & set(names)


def test_bulk_networks_subnets_ports(stack, http):
    tok = stack.token()
    names = [uniq("bulk-net") for _ in range(3)]
    r = http("POST", NET + "/networks", {"networks": [{"name": n} for n in names]}, tok)
    assert r.status == 201, r
    nets = r.json["networks"]
    assert [n["name"] for n in nets] == names and all(n["id"] for n in nets)
    assert names_of(http, "networks", names, tok) == set(names)
    try:
        subs = [{"network_id": nets[i]["id"], "ip_version": 4, "cidr": "10.61.%d.0/24" % i,
                 "name": "bulk-sub%d" % i} for i in range(3)]
        r = http("POST", NET + "/subnets", {"subnets": subs}, tok)
        assert r.status == 201, r
        assert [s["cidr"] for s in r.json["subnets"]] == [s["cidr"] for s in subs]
        ports = [{"network_id": nets[0]["id"], "name": uniq("bulk-port")} for _ in range(4)]
        r = http("POST", NET + "/ports", {"ports": ports}, tok)
        assert r.status == 201, r
        ips = [p["fixed_ips"][0]["ip_address"] for p in r.json["ports"]]
        assert len(set(ips)) == 4, ips
        for p in r.json["ports"]:
            assert http("DELETE", NET + "/ports/" + p["id"], token=tok).status == 204
        # not a list, an empty one, a non-object item: 400 in Neutron's shape
        for bad in ({"networks": {"name": "x"}}, {"networks": []}, {"networks": ["x"]}):
            neutron_error(http("POST", NET + "/networks", bad, tok), 400)
    finally:
        for n in nets:
            http("DELETE", NET + "/networks/" + n["id"], token=tok)


def test_bulk_is_all_or_nothing(stack, http):
    tok = stack.token()
    net = http("POST", NET + "/networks", {"network": {"name": uniq("bulk-aon")}}, tok)
    assert net.status == 201, net
    nid = net.json["network"]["id"]
    try:
        names = [uniq("aon-sub") for _ in range(3)]
        subs = [{"network_id": nid, "ip_version": 4, "cidr": c, "name": n}
                for c, n in zip(("10.62.1.0/24", "10.62.2.0/24", "banana"), names)]
        neutron_error(http("POST", NET + "/subnets", {"subnets": subs}, tok), 400)
        assert names_of(http, "subnets", names, tok) == set()
        # the second overlaps the first: nothing of the first stays either
        subs = [{"network_id": nid, "ip_version": 4, "cidr": "10.62.1.0/24", "name": names[0]},
                {"network_id": nid, "ip_version": 4, "cidr": "10.62.1.0/25", "name": names[1]}]
        neutron_error(http("POST", NET + "/subnets", {"subnets": subs}, tok), 400)
        assert names_of(http, "subnets", names, tok) == set()
        shown = http("GET", NET + "/networks/" + nid, token=tok)
        assert shown.json["network"]["subnets"] == []
    finally:
        http("DELETE", NET + "/networks/" + nid, token=tok)


def test_bulk_counts_against_the_quota(stack, os_run, http):
    project = uniq("bulkq")
    password = uuid.uuid4().hex
    os_run("project", "create", project)
    os_run("user", "create", "--project", project, "--password", password, project)
    os_run("role", "add", "--project", project, "--user", project, "member")
    try:
        os_run("quota", "set", "--networks", "2", project)
        tok = stack.token(project, project=project, password=password, fresh=True)
        names = [uniq("bq") for _ in range(3)]
        r = http("POST", NET + "/networks", {"networks": [{"name": n} for n in names]}, tok)
        neutron_error(r, 409, "OverQuota")
        assert names_of(http, "networks", names, tok) == set()
        r = http("POST", NET + "/networks", {"networks": [{"name": n} for n in names[:2]]}, tok)
        assert r.status == 201, r
        for n in r.json["networks"]:
            http("DELETE", NET + "/networks/" + n["id"], token=tok)
    finally:
        os_run("user", "delete", project, check=False)
        os_run("project", "delete", project, check=False)


def test_subnet_pool_cli_and_allocation(stack, os_cli, os_run, http):
    tok = stack.token()
    pool_name, net_name = uniq("e2e-pool"), uniq("e2e-poolnet")
    pool = os_cli("subnet", "pool", "create", "--pool-prefix", "10.70.0.0/16",
                  "--default-prefix-length", "24", "--min-prefix-length", "20",
                  "--max-prefix-length", "28", pool_name)
    assert pool["prefixes"] == ["10.70.0.0/16"] and pool["default_prefixlen"] == 24
    os_cli("network", "create", net_name)
    made = []
    try:
        s1 = os_cli("subnet", "create", "--network", net_name, "--subnet-pool", pool_name,
                    uniq("ps"))
        made.append(s1["id"])
        assert s1["cidr"] == "10.70.0.0/24" and s1["subnetpool_id"] == pool["id"]
        s2 = os_cli("subnet", "create", "--network", net_name, "--subnet-pool", pool_name,
                    "--prefix-length", "26", uniq("ps"))
        made.append(s2["id"])
        assert s2["cidr"] == "10.70.1.0/26"
        # concurrent allocations get disjoint blocks (or a clean 409, never an overlap)
        def one(_):
            return http("POST", NET + "/subnets", {"subnet": {
                "network_id": nid,
                "ip_version": 4, "subnetpool_id": pool["id"], "prefixlen": 27}}, tok)
        nid = os_cli("network", "show", net_name)["id"]
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            results = list(ex.map(one, range(6)))
        cidrs = []
        for r in results:
            if r.status == 201:
                made.append(r.json["subnet"]["id"])
                cidrs.append(ipaddress.ip_network(r.json["subnet"]["cidr"]))
            else:
                neutron_error(r, 409)
        assert cidrs, results
        for i, a in enumerate(cidrs):
            assert a.subnet_of(ipaddress.ip_network("10.70.0.0/16"))
            for b in cidrs[i + 1:]:
                assert not a.overlaps(b), (a, b)
        # outside the pool's bounds
        r = http("POST", NET + "/subnets", {"subnet": {
            "network_id": nid, "ip_version": 4, "subnetpool_id": pool["id"],
            "prefixlen": 30}}, tok)
        neutron_error(r, 400)
        # in use: not deleted; prefixes only grow
        neutron_error(http("DELETE", NET + "/subnetpools/" + pool["id"], token=tok), 409,
                      "SubnetPoolInUse")
        r = http("PUT", NET + "/subnetpools/" + pool["id"],
                 {"subnetpool": {"prefixes": ["10.71.0.0/16"]}}, tok)
        neutron_error(r, 400)
        os_run("subnet", "pool", "set", "--pool-prefix", "10.71.0.0/16", "--tag", "blue",
               pool_name)
        shown = os_cli("subnet", "pool", "show", pool_name)
        assert sorted(shown["prefixes"]) == ["10.70.0.0/16", "10.71.0.0/16"]
        assert "blue" in shown["tags"]
        listed = os_cli("subnet", "pool", "list", "--tags", "blue")
        assert [p["Name"] for p in listed] == [pool_name]
    finally:
        for sid in made:
            http("DELETE", NET + "/subnets/" + sid, token=tok)
        os_run("network", "delete", net_name, check=False)
    os_run("subnet", "pool", "delete", pool_name)
    assert os_run("subnet", "pool", "show", pool_name, check=False).returncode != 0


def test_delete_external_network_with_floating_ips(stack, http):
    tok = stack.token()
    r = http("POST", NET + "/networks",
             {"network": {"name": uniq("e2e-ext"), "router:external": True}}, tok)
    assert r.status == 201, r
    nid = r.json["network"]["id"]
    r = http("POST", NET + "/subnets", {"subnet": {
        "network_id": nid, "ip_version": 4, "cidr": "10.80.0.0/24", "enable_dhcp": False}}, tok)
    assert r.status == 201, r
    sid = r.json["subnet"]["id"]
    r = http("POST", NET + "/floatingips", {"floatingip": {"floating_network_id": nid}}, tok)
    assert r.status == 201, r
    fid = r.json["floatingip"]["id"]
    assert http("DELETE", NET + "/networks/" + nid, token=tok).status == 204
    assert http("GET", NET + "/floatingips/" + fid, token=tok).status == 404
    assert http("GET", NET + "/subnets/" + sid, token=tok).status == 404
    r = http("GET", NET + "/ports?network_id=" + nid, token=tok)
    assert r.status == 200 and r.json["ports"] == []


def test_tag_add_ignores_its_body(stack, http):
    """PUT .../tags/{tag} takes no body; Neutron ignores one, whatever it is (Tempest
    sends the JSON text "{}"), and the subnet pool is a taggable resource."""
    tok = stack.token()
    r = http("POST", NET + "/subnetpools", {"subnetpool": {
        "name": uniq("tagpool"), "prefixes": ["10.90.0.0/16"]}}, tok)
    assert r.status == 201, r
    pid = r.json["subnetpool"]["id"]
    try:
        for raw in (b'"{}"', b"{}", b""):
            tag = uniq("t")
            r = http("PUT", NET + "/subnetpools/%s/tags/%s" % (pid, tag), raw=raw, token=tok)
            assert r.status == 201, r
            assert http("GET", NET + "/subnetpools/%s/tags/%s" % (pid, tag),
                        token=tok).status == 204
        r = http("GET", NET + "/subnetpools/%s/tags" % pid, token=tok)
        assert len(r.json["tags"]) == 3, r
        neutron_error(http("PUT", NET + "/subnetpools/%s/tags/%s" % (uuid.uuid4(), "x"),
                           raw=b'"{}"', token=tok), 404)
    finally:
        http("DELETE", NET + "/subnetpools/" + pid, token=tok)


def test_parallel_bulk_subnets_from_pools_never_deadlock(stack, http):
    """Bulk subnet creates from the same pools at once (items naming the two pools in
    either order) each succeed or get a clean 409, never a 500 from a deadlock between the
    pool's hold and its row; the blocks never overlap."""
    tok = stack.token()
    pools = []
    for i in range(2):
        r = http("POST", NET + "/subnetpools", {"subnetpool": {
            "name": uniq("e2e-bpool"), "prefixes": ["10.%d.0.0/16" % (74 + i)],
            "default_prefixlen": 26}}, tok)
        assert r.status == 201, r
        pools.append(r.json["subnetpool"]["id"])
    nets = {}
    for p in pools:  # Neutron keeps a network's subnets in one pool
        r = http("POST", NET + "/networks", {"network": {"name": uniq("e2e-bpoolnet")}}, tok)
        assert r.status == 201, r
        nets[p] = r.json["network"]["id"]
    made = []
    try:
        def one(k):
            order = pools if k % 2 else pools[::-1]
            items = [{"network_id": nets[p], "ip_version": 4, "subnetpool_id": p,
                      "prefixlen": 28} for p in order for _ in range(2)]
            return http("POST", NET + "/subnets", {"subnets": items}, tok)
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            results = list(ex.map(one, range(18)))
        cidrs = []
        for r in results:
            if r.status == 201:
                made.extend(s["id"] for s in r.json["subnets"])
                cidrs.extend(ipaddress.ip_network(s["cidr"]) for s in r.json["subnets"])
            else:
                neutron_error(r, 409)
        assert len(cidrs) >= 4, results
        for i, a in enumerate(cidrs):
            for b in cidrs[i + 1:]:
                assert not a.overlaps(b), (a, b)
    finally:
        for sid in made:
            http("DELETE", NET + "/subnets/" + sid, token=tok)
        for p in pools:
            http("DELETE", NET + "/networks/" + nets[p], token=tok)
        for p in pools:
            http("DELETE", NET + "/subnetpools/" + p, token=tok)
