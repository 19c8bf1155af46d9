"""A port's device_id is only a claim (review finding 9 and the HIGH found with it).

Any member may write another project's server id into device_id of a port of theirs
(Neutron checks neither device_id nor a compute:* owner); such a port is not that
server's NIC: the server views, /ips, os-interface, the ip filter and addFloatingIp show
and use only the ports of the server's own project. A member may not set device_owner
network:router_* with another project's router as device_id (netstate plugs every such
port into the router it names), by port create or by port update. Plain HTTP; the
server is not waited for: its port exists from the create on."""
import uuid

import pytest

from nubo_e2e import assert_error
from test_network import neutron_error

API = "/compute/v2.1"
NET = "/network/v2.0"


@pytest.fixture(scope="module")
def world(stack, http):
    """admin: a network, a router on it and a server on it. demo: a network of its own."""
    tag = uuid.uuid4().hex[:6]
    adm, demo = stack.token("admin"), stack.token("demo")
    names = {"a": "dc-a-" + tag, "d": "dc-d-" + tag, "r": "dc-r-" + tag}
    stack.os_cli("network", "create", names["a"])
    stack.os_cli("subnet", "create", "--network", names["a"], "--subnet-range",
                 "10.81.1.0/24", names["a"] + "-s")
    router = stack.os_cli("router", "create", names["r"])
    stack.os_run("router", "add", "subnet", names["r"], names["a"] + "-s")
    dnet = stack.os_cli("network", "create", names["d"], user="demo")
    stack.os_cli("subnet", "create", "--network", names["d"], "--subnet-range",
                 "10.82.1.0/24", names["d"] + "-s", user="demo")
    srv = stack.os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                       "--network", names["a"], "dc-s-" + tag)
    made = []
    yield dict(names, adm=adm, demo=demo, router=router["id"], dnet=dnet["id"],
               server=srv["id"], made=made)
    for pid in made:
        http("DELETE", NET + "/ports/" + pid, token=adm)
    stack.os_run("server", "delete", "--wait", srv["id"], check=False, timeout=300)
    stack.os_run("router", "remove", "subnet", names["r"], names["a"] + "-s", check=False)
    stack.os_run("router", "delete", names["r"], check=False)
    stack.os_run("network", "delete", names["a"], check=False)
    stack.os_run("network", "delete", names["d"], check=False, user="demo")


def port_create(http, w, body):
    body = dict({"network_id": w["dnet"]}, **body)
    r = http("POST", NET + "/ports", {"port": body}, token=w["demo"])
    if r.status == 201:
        w["made"].append(r.json["port"]["id"])
    return r


def test_member_cannot_claim_another_projects_router(http, world):
    w = world
    for owner in ("network:router_interface", "network:router_gateway"):
        r = port_create(http, w, {"device_id": w["router"], "device_owner": owner})
        neutron_error(r, 403, "PolicyNotAuthorized")
    # by update: a plain port of demo's, then the claim
    r = port_create(http, w, {"name": "plain"})
    assert r.status == 201, r
    pid = r.json["port"]["id"]
    r = http("PUT", NET + "/ports/" + pid, {"port": {"device_id": w["router"],
             "device_owner": "network:router_interface"}}, token=w["demo"])
    neutron_error(r, 403, "PolicyNotAuthorized")
    r = http("PUT", NET + "/ports/" + pid, {"port": {"device_owner": "network:router_interface"}},
             token=w["demo"])
    assert r.status == 200, r  # no device: Neutron lets a network's owner write it
    r = http("PUT", NET + "/ports/" + pid, {"port": {"device_id": w["router"]}}, token=w["demo"])
    neutron_error(r, 403, "PolicyNotAuthorized")
    # the victim's router has only its own interface
    r = http("GET", NET + "/ports?device_id=" + w["router"], token=w["adm"])
    assert r.status == 200, r
    assert r.json["ports"] and all(p["network_id"] != w["dnet"] for p in r.json["ports"]), r
    # a network:* owner on a network the member does not own is refused too
    pub = http("GET", NET + "/networks?name=public", token=w["demo"]).json["networks"]
    if pub:
        r = port_create(http, w, {"network_id": pub[0]["id"], "device_owner": "network:dhcp"})
        neutron_error(r, 403, "PolicyNotAuthorized")


def test_foreign_port_is_not_the_servers_nic(stack, http, world):
    w = world
    r = port_create(http, w, {"device_id": w["server"], "device_owner": "compute:nova"})
    assert r.status == 201, r  # Neutron accepts the claim itself
    port = r.json["port"]
    ip = port["fixed_ips"][0]["ip_address"]
    assert ip.startswith("10.82.1.")
    fip = http("POST", NET + "/floatingips", {"floatingip": {
        "floating_network_id": http("GET", NET + "/networks?name=public",
                                    token=w["demo"]).json["networks"][0]["id"]}},
               token=w["demo"])
    # no router from demo's network to public: the association may be refused; the
    # floating IP is only shown when it is on the port
    if fip.status == 201:
        w_fip = fip.json["floatingip"]
        http("PUT", NET + "/floatingips/" + w_fip["id"],
             {"floatingip": {"port_id": port["id"]}}, token=w["demo"])
    # /ips, the server view, os-interface
    r = http("GET", "%s/servers/%s/ips" % (API, w["server"]), token=w["adm"])
    assert r.status == 200, r
    assert list(r.json["addresses"]) == [w["a"]], r
    assert w["d"] not in str(r.json) and ip not in str(r.json)
    assert_error(http("GET", "%s/servers/%s/ips/%s" % (API, w["server"], w["d"]),
                      token=w["adm"]), 404)
    r = http("GET", "%s/servers/%s" % (API, w["server"]), token=w["adm"])
    assert r.status == 200 and list(r.json["server"]["addresses"]) == [w["a"]], r
    r = http("GET", "%s/servers/detail?all_tenants=1&name=%s" % (API, "dc-s-"), token=w["adm"])
    mine = [s for s in r.json["servers"] if s["id"] == w["server"]]
    assert mine and list(mine[0]["addresses"]) == [w["a"]], r
    r = http("GET", "%s/servers/%s/os-interface" % (API, w["server"]), token=w["adm"])
    assert r.status == 200, r
    assert [a["net_id"] for a in r.json["interfaceAttachments"]] != []
    assert port["id"] not in str(r.json), r
    assert_error(http("GET", "%s/servers/%s/os-interface/%s" % (API, w["server"], port["id"]),
                      token=w["adm"]), 404)
    # the ip filter
    r = http("GET", "%s/servers?all_tenants=1&ip=%s$" % (API, ip.replace(".", "%5C.")),
             token=w["adm"])
    assert r.status == 200 and w["server"] not in str(r.json), r
    # addFloatingIp with the claimed fixed address: not the server's
    r = http("POST", "%s/servers/%s/action" % (API, w["server"]),
             {"addFloatingIp": {"address": "203.0.113.254", "fixed_address": ip}},
             token=w["adm"])
    assert_error(r, 400)  # before the floating IP is looked up: the address is not its
    assert "not assigned to instance" in str(r.json), r
    if fip.status == 201:
        http("DELETE", NET + "/floatingips/" + fip.json["floatingip"]["id"], token=w["adm"])
