"""Nova's os-interface, the read side: a server's Network API ports listed and shown as
interfaceAttachments (port, network, MAC, state, fixed IPs; a tag from 2.70), 404 in
Nova's shape for a port that is not the server's, a server that is not there or not
the caller's. Attach and detach (hot-plug into a real guest) are tested in
test_net_vm.py's test_interface_hotplug."""
import uuid

from test_network import NET

C = "/compute/v2.1"


def test_os_interface_list_and_show(stack, os_cli, os_run, http):
    sfx = uuid.uuid4().hex[:6]
    netname = "e2e-ifnet-" + sfx
    net = os_cli("network", "create", netname)
    os_cli("subnet", "create", "--network", netname, "--subnet-range", "10.75.0.0/24",
           "e2e-ifsub-" + sfx)
    srv = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                 "--network", netname, "e2e-ifvm-" + sfx)
    tok = stack.token()
    other = None
    try:
        ports = os_cli("port", "list", "--server", srv["id"])
        assert len(ports) == 1, ports
        port = os_cli("port", "show", ports[0]["ID"])
        r = http("GET", "%s/servers/%s/os-interface" % (C, srv["id"]), token=tok)
        assert r.status == 200, r
        atts = r.json["interfaceAttachments"]
        assert len(atts) == 1, atts
        a = atts[0]
        assert a["port_id"] == port["id"] and a["net_id"] == net["id"]
        assert a["mac_addr"] == port["mac_address"] and a["port_state"] == "ACTIVE"
        assert a["fixed_ips"] == [{"subnet_id": port["fixed_ips"][0]["subnet_id"],
                                   "ip_address": port["fixed_ips"][0]["ip_address"]}]
        assert "tag" not in a
        r = http("GET", "%s/servers/%s/os-interface/%s" % (C, srv["id"], port["id"]),
                 token=tok)
        assert r.status == 200 and r.json["interfaceAttachment"] == a, r
        # from 2.70 the tag is shown (none: null)
        r = http("GET", "%s/servers/%s/os-interface" % (C, srv["id"]), token=tok,
                 headers={"OpenStack-API-Version": "compute 2.70"})
        assert r.status == 200 and r.json["interfaceAttachments"][0]["tag"] is None, r
        # a port that is not the server's; a server that is not there
        r = http("POST", NET + "/ports", {"port": {"network_id": net["id"]}}, tok)
        assert r.status == 201, r
        other = r.json["port"]["id"]
        r = http("GET", "%s/servers/%s/os-interface/%s" % (C, srv["id"], other), token=tok)
        assert r.status == 404 and "itemNotFound" in r.json, r
        r = http("GET", "%s/servers/%s/os-interface" % (C, uuid.uuid4()), token=tok)
        assert r.status == 404 and "itemNotFound" in r.json, r
        # another project does not see the admin project's server
        demo = stack.token("demo")
        r = http("GET", "%s/servers/%s/os-interface" % (C, srv["id"]), token=demo)
        assert r.status == 404, r
    finally:
        os_run("server", "delete", "--wait", srv["id"], check=False)
        if other:
            http("DELETE", NET + "/ports/" + other, token=tok)
        os_run("network", "delete", netname, check=False)
