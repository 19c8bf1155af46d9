"""tests/tempest/configure.py's catalog probing against a made-up service (a loopback
HTTP server, no stack): which services turn on, which modules join the run, and the
feature flags read from the services' own extension lists and Swift's /info."""
import http.server
import importlib.util
import json
import os
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("configure", os.path.join(HERE, "configure.py"))
configure = importlib.util.module_from_spec(spec)
spec.loader.exec_module(configure)

DOCS = {
    "/network/v2.0/extensions": {"extensions": [{"alias": "router"}, {"alias": "ipv6"},
                                                {"alias": "security-group"}]},
    "/network/v2.0/floatingips": {"floatingips": []},
    "/volume/v3/p1/extensions": {"extensions": [{"alias": "os-types-manage"}]},
    "/object/info": {"swift": {"version": "2"}, "tempurl": {}, "slo": {}},
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        doc = DOCS.get(self.path)
        body = json.dumps(doc if doc is not None else {"error": "nope"}).encode()
        self.send_response(200 if doc is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve():
    srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, "http://127.0.0.1:%d" % srv.server_address[1]


def flag(flags, section, option):
    [value] = [v for s, o, v, _ in flags if (s, o) == (section, option)]
    return value


def test_no_services_in_the_catalog_means_all_off():
    flags, modules = configure.services_flags({"identity": "x", "compute": "y"}, "tok")
    assert modules == []
    for opt in ("neutron", "cinder", "swift"):
        assert flag(flags, "service_available", opt) is False
    assert flag(flags, "network-feature-enabled", "floating_ips") is False
    assert flag(flags, "network-feature-enabled", "ipv6") is False


def test_services_in_the_catalog_join_with_their_own_extensions():
    srv, base = serve()
    try:
        urls = {"network": base + "/network", "block-storage": base + "/volume/v3/p1",
                "object-store": base + "/object/v1/AUTH_p1"}
        flags, modules = configure.services_flags(urls, "tok")
    finally:
        srv.shutdown()
    assert modules == ["network", "volume", "object_storage"]
    for opt in ("neutron", "cinder", "swift"):
        assert flag(flags, "service_available", opt) is True
    assert flag(flags, "network-feature-enabled", "api_extensions") == [
        "ipv6", "router", "security-group"]
    assert flag(flags, "network-feature-enabled", "floating_ips") is True
    assert flag(flags, "network-feature-enabled", "ipv6") is True
    assert flag(flags, "volume-feature-enabled", "api_extensions") == ["os-types-manage"]
    assert flag(flags, "object-storage-feature-enabled", "discoverable_apis") == ["slo",
                                                                                 "tempurl"]
    # each option is set once: tempest.conf has no duplicate keys
    keys = [(s, o) for s, o, _, _ in flags]
    assert len(keys) == len(set(keys))


def test_a_service_without_extensions_lists_none():
    srv, base = serve()
    try:
        flags, modules = configure.services_flags({"network": base + "/elsewhere"}, "tok")
    finally:
        srv.shutdown()
    assert modules == ["network"]
    assert flag(flags, "network-feature-enabled", "api_extensions") == ["None"]
    assert flag(flags, "network-feature-enabled", "floating_ips") is False
