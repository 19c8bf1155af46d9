#!/usr/bin/python3
"""tests/tempest/configure.py: prepare a Nubo stack for Debian's Tempest and write
tempest.conf and accounts.yaml for it (called by tests/tempest/run.sh).

    configure.py --root STACK_ROOT --workdir DIR [--concurrency N]

As the stack's admin (its clouds.yaml, through openstacksdk, the library the
openstack CLI is built on) it creates the pre-provisioned accounts Tempest runs with
(a project and user each: members, readers and admins, enough for N workers), a
second flavor for flavor_ref_alt, then reads the compute version document for the
microversion range and probes the API for the features whose flags Tempest reads.

Every feature flag is set to what the stack really offers: either fixed here with
the reason (FIXED), or decided by asking the running API (PROBES): a route that
answers 404/405, or an action Nova would take that Nubo refuses with "There is no
such action", means the feature is off. Nothing here depends on which tests pass.
"""
import argparse
import json
import os
import secrets
import sys
import urllib.error
import urllib.request

import openstack

# Accounts per worker: a class takes at most a primary, an alt, an admin and a
# reader at once; two spare members per worker cover classes that ask for more.
MEMBERS_PER_WORKER = 3
ADMINS_PER_WORKER = 2
READERS_PER_WORKER = 1

BOGUS = "00000000-0000-4000-8000-000000000000"

# (section, option, value, why): what Nubo does not have at all, or has by design.
FIXED = [
    ("service_available", "nova", True, "Compute API /compute/v2.1"),
    ("service_available", "glance", True, "Image API /image/v2"),
    ("service_available", "horizon", False, "no dashboard"),
    ("identity-feature-enabled", "api_v2", False, "Keystone v2.0 API not offered (v3 only)"),
    ("identity-feature-enabled", "api_v2_admin", False, "Keystone v2.0 API not offered"),
    ("identity-feature-enabled", "api_v3", True, "Keystone v3"),
    ("identity-feature-enabled", "domain_specific_drivers", False,
     "one SQL identity backend, no per-domain drivers"),
    ("identity-feature-enabled", "security_compliance", False,
     "no PCI-DSS options (lockout, password expiry/history)"),
    ("identity-feature-enabled", "immutable_user_source", False, "users are writable"),
    ("compute-feature-enabled", "console_output", True, "os-getConsoleOutput"),
    ("compute-feature-enabled", "config_drive", True, "a config drive when asked, as Nova"),
    ("compute-feature-enabled", "enable_instance_password", True,
     "create answers adminPass"),
    ("compute-feature-enabled", "disk_config", False,
     "OS-DCF:diskConfig is always MANUAL, AUTO is not honoured"),
    ("compute-feature-enabled", "personality", False, "file injection not offered"),
    ("compute-feature-enabled", "vnc_console", False, "serial log only, no graphical console"),
    ("compute-feature-enabled", "spice_console", False, "no SPICE console"),
    ("compute-feature-enabled", "rdp_console", False, "no RDP console"),
    ("compute-feature-enabled", "serial_console", False, "no interactive serial console"),
    ("compute-feature-enabled", "stable_rescue", False, "no rescue"),
    ("compute-feature-enabled", "shelve_migrate", False, "one host"),
    ("compute-feature-enabled", "live_migrate_back_and_forth", False, "one host"),
    ("compute-feature-enabled", "block_migration_for_live_migration", False, "one host"),
    ("compute-feature-enabled", "block_migrate_cinder_iscsi", False, "one host, no iSCSI"),
    ("compute-feature-enabled", "can_migrate_between_any_hosts", False, "one host"),
    ("compute-feature-enabled", "attach_encrypted_volume", False, "no volume encryption"),
    ("compute-feature-enabled", "swap_volume", False,
     "no volume swap: PUT os-volume_attachments/{id} answers 409 after Nova's checks"),
    ("compute-feature-enabled", "volume_backed_live_migration", False, "one host"),
    ("compute-feature-enabled", "volume_multiattach", False,
     "a volume attaches to one server at a time"),
    ("compute-feature-enabled", "xenapi_apis", False, "QEMU only"),
    ("compute-feature-enabled", "ide_bus", False, "virtio disks only"),
    ("compute-feature-enabled", "unified_limits", False, "quotas are Nova's legacy quota sets"),
    ("compute-feature-enabled", "hostname_fqdn_sanitization", False,
     "hostname is the server name as given"),
    ("compute-feature-enabled", "scheduler_enabled_filters", [],
     "Nubo's scheduler places by free capacity, none of Nova's named filters"),
    ("image-feature-enabled", "api_v2", True, "Image v2"),
    ("image-feature-enabled", "api_v1", False, "Glance v1 was removed upstream"),
    ("image-feature-enabled", "os_glance_reserved", False,
     "os_glance_* properties are not reserved"),
    ("image-feature-enabled", "manage_locations", False, "no image locations API"),
    ("image", "image_caching_enabled", False, "no image cache API"),
]

# The services that join the run when the stack's catalog has them (the issues that
# build them register them): (catalog types, service_available option, Tempest module,
# why it is off when absent).
CATALOG_SERVICES = [
    (("network",), "neutron", "network", "no Networking service in the catalog"),
    (("volumev3", "block-storage"), "cinder", "volume", "no Block Storage service in the catalog"),
    (("object-store",), "swift", "object_storage", "no Object Storage service in the catalog"),
]

# (section, option, method, path, body, why): on when the API takes the request
# (anything but 404/405 on a route; for a server action: anything but "There is no
# such action"). {user} and {project} are the admin's ids.
ACTION = "/compute/v2.1/servers/" + BOGUS + "/action"
PROBES = [
    ("identity-feature-enabled", "trust", "GET", "/identity/v3/OS-TRUST/trusts", None,
     "OS-TRUST API"),
    ("identity-feature-enabled", "project_tags", "GET", "/identity/v3/projects/{project}/tags",
     None, "project tags API"),
    ("identity-feature-enabled", "application_credentials", "GET",
     "/identity/v3/users/{user}/application_credentials", None, "application credentials API"),
    ("identity-feature-enabled", "access_rules", "GET", "/identity/v3/users/{user}/access_rules",
     None, "application credential access rules API"),
    ("image-feature-enabled", "import_image", "GET", "/image/v2/info/import", None,
     "interoperable image import"),
    ("compute-feature-enabled", "resize", "POST", ACTION, {"resize": {"flavorRef": "1"}},
     "resize action"),
    ("compute-feature-enabled", "change_password", "POST", ACTION,
     {"changePassword": {"adminPass": "x"}}, "changePassword action"),
    ("compute-feature-enabled", "pause", "POST", ACTION, {"pause": None}, "pause action"),
    ("compute-feature-enabled", "suspend", "POST", ACTION, {"suspend": None}, "suspend action"),
    ("compute-feature-enabled", "shelve", "POST", ACTION, {"shelve": None}, "shelve action"),
    ("compute-feature-enabled", "rescue", "POST", ACTION, {"rescue": None}, "rescue action"),
    ("compute-feature-enabled", "snapshot", "POST", ACTION,
     {"createImage": {"name": "probe"}}, "createImage action"),
    ("compute-feature-enabled", "cold_migration", "POST", ACTION, {"migrate": None},
     "migrate action"),
    ("compute-feature-enabled", "live_migration", "POST", ACTION,
     {"os-migrateLive": {"host": None, "block_migration": "auto"}}, "os-migrateLive action"),
    ("compute-feature-enabled", "interface_attach", "POST",
     "/compute/v2.1/servers/" + BOGUS + "/os-interface", {"interfaceAttachment": {}},
     "os-interface attach"),
]


# Keystone's extensions Tempest asks about, each on when its route answers 200 to the
# admin (OS-OAUTH1 is absent: Nubo keeps consumers only, no OAuth1 token flow;
# OS-TRUST is the trust flag above).
IDENTITY_EXTENSIONS = [
    ("OS-INHERIT", "/identity/v3/OS-INHERIT/domains/default/users/{user}/roles"
                   "/inherited_to_projects"),
    ("OS-EP-FILTER", "/identity/v3/OS-EP-FILTER/endpoint_groups"),
    ("OS-EC2", "/identity/v3/users/{user}/credentials/OS-EC2"),
]


def http(base, token, method, path, body=None, headers=None):
    """(status, parsed JSON or text) of one request to the stack."""
    h = {"X-Auth-Token": token, "Accept": "application/json"}
    h.update(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(base + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def probe(base, token, ids, method, path, body):
    status, doc = http(base, token, method, path.format(**ids), body)
    if path.endswith("/action"):
        return "There is no such action" not in json.dumps(doc)
    if status == 404 and BOGUS in path:  # the route ran: it looked for the server
        return ("Instance %s could not be found" % BOGUS) in json.dumps(doc)
    return status not in (404, 405, 501)


def catalog_urls(base, token):
    """{service type: public URL} of the admin token's catalog."""
    status, doc = http(base, token, "GET", "/identity/v3/auth/catalog")
    if status != 200:
        sys.exit("configure.py: GET /identity/v3/auth/catalog answered %d" % status)
    urls = {}
    for svc in doc.get("catalog", []):
        for ep in svc.get("endpoints", []):
            if ep.get("interface") == "public":
                urls.setdefault(svc.get("type"), ep.get("url", "").rstrip("/"))
    return urls


def absolute_get(url, token):
    """(status, JSON) of GET url (an absolute URL from the catalog)."""
    req = urllib.request.Request(url, method="GET", headers={
        "X-Auth-Token": token, "Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except urllib.error.URLError:
        return 0, None
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, None


def extension_aliases(url, token):
    """The aliases of a Neutron/Cinder-style GET <url>/extensions list ([] when none)."""
    status, doc = absolute_get(url + "/extensions", token)
    if status != 200 or not isinstance(doc, dict):
        return []
    return sorted(e["alias"] for e in doc.get("extensions", []) if e.get("alias"))


def services_flags(urls, token):
    """The service_available flags and per-service feature flags of the catalog's
    services, and the extra Tempest modules to run: a service that is in the catalog
    is on, its extensions (or Swift's /info) as it lists them."""
    flags, modules = [], []
    for types, option, module, why_off in CATALOG_SERVICES:
        url = next((urls[t] for t in types if t in urls), None)
        if url is None:
            flags.append(("service_available", option, False, why_off))
            continue
        flags.append(("service_available", option, True, "%s in the catalog" % "/".join(types)))
        modules.append(module)
        if module == "network":
            aliases = extension_aliases(url + "/v2.0", token)
            flags.append(("network-feature-enabled", "api_extensions", aliases or ["None"],
                          "GET /v2.0/extensions"))
            status, _ = absolute_get(url + "/v2.0/floatingips", token)
            flags.append(("network-feature-enabled", "floating_ips", status == 200,
                          "GET /v2.0/floatingips answers %d" % status))
            flags.append(("network-feature-enabled", "ipv6", "ipv6" in aliases,
                          "IPv6 subnets only where the extension list says so"))
        elif module == "volume":
            aliases = extension_aliases(url, token)
            flags.append(("volume-feature-enabled", "api_extensions", aliases or ["None"],
                          "GET …/extensions"))
            flags.append(("volume-feature-enabled", "api_v3", True, "Block Storage v3"))
            flags.append(("volume-feature-enabled", "backup", True,
                          "backups into the object store (nubo-storage)"))
        elif module == "object_storage":
            root = url.split("/v1/", 1)[0]
            status, info = absolute_get(root + "/info", token)
            apis = sorted(k for k in (info or {}) if k != "swift") if status == 200 else []
            flags.append(("object-storage-feature-enabled", "discoverable_apis",
                          apis or ["None"], "GET /info"))
            flags.append(("object-storage-feature-enabled", "discoverability", status == 200,
                          "GET /info answers %d" % status))
            flags.append(("object-storage-feature-enabled", "object_versioning", False,
                          "no X-Versions-Location versioning in Nubo's Swift API"))
            flags.append(("object-storage", "reseller_admin_role", "admin",
                          "Nubo's admin role is Swift's reseller admin (sets account quotas)"))
    flags.append(("compute-feature-enabled", "metadata_service", "network" in modules,
                  "nubo-net serves 169.254.169.254 on every tenant network"
                  if "network" in modules else "no Networking service: config drive only"))
    if "network" not in modules:
        flags.append(("network-feature-enabled", "floating_ips", False,
                      "no floating IPs (no Networking service)"))
        flags.append(("network-feature-enabled", "ipv6", False, "no Networking service"))
    return flags, modules


def ini_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(v)
    return str(v)


def make_accounts(conn, concurrency, run_id):
    """Projects and users for the pre-provisioned accounts, as accounts.yaml entries."""
    kinds = [("member", MEMBERS_PER_WORKER), ("reader", READERS_PER_WORKER),
             ("admin", ADMINS_PER_WORKER)]
    accounts = []
    for role_name, per_worker in kinds:
        role = conn.identity.find_role(role_name, ignore_missing=False)
        for i in range(per_worker * concurrency):
            name = "tempest-%s-%s-%d" % (run_id, role_name, i + 1)
            password = secrets.token_hex(12)
            project = conn.identity.create_project(name=name, domain_id="default",
                                                   description="Tempest account")
            user = conn.identity.create_user(name=name, password=password,
                                             domain_id="default",
                                             default_project_id=project.id)
            conn.identity.assign_project_role_to_user(project, user, role)
            accounts.append({"username": name, "project_name": name,
                             "password": password, "roles": [role_name],
                             "user_domain_name": "Default",
                             "project_domain_name": "Default"})
    return accounts


def give_networks(conn, accounts):
    """With a Networking service, each account's project gets a network and subnet of
    its own (what Tempest's compute tests boot on: accounts.yaml names it under
    resources); returns the external network's id ("" when there is none)."""
    for i, a in enumerate(accounts):
        project = conn.identity.find_project(a["project_name"], ignore_missing=False)
        net = conn.network.create_network(name=a["project_name"] + "-net",
                                          project_id=project.id)
        conn.network.create_subnet(network_id=net.id, project_id=project.id, ip_version=4,
                                   cidr="10.%d.%d.0/24" % (200 + i // 250, i % 250),
                                   name=a["project_name"] + "-subnet")
        a["resources"] = {"network": net.name}
    ext = [n for n in conn.network.networks() if n.is_router_external]
    if ext:
        give_routers(conn, accounts, ext[0].id)
    return ext[0].id if ext else ""


def give_routers(conn, accounts, ext_id):
    """Each account's network gets a router to the external network (what Tempest's
    dynamic credentials make with router=True): floating IPs need one."""
    for a in accounts:
        project = conn.identity.find_project(a["project_name"], ignore_missing=False)
        subnet = conn.network.find_subnet(a["project_name"] + "-subnet", ignore_missing=False)
        router = conn.network.create_router(name=a["project_name"] + "-router",
                                            project_id=project.id,
                                            external_gateway_info={"network_id": ext_id})
        conn.network.add_interface_to_router(router, subnet_id=subnet.id)


def yaml_accounts(accounts):
    """accounts.yaml text (flat lists of scalars: no YAML library needed)."""
    out = ["# written by tests/tempest/configure.py"]
    for a in accounts:
        first = True
        for k, v in a.items():
            val = "[%s]" % ", ".join(json.dumps(x) for x in v) if isinstance(v, list) \
                else json.dumps(v)
            out.append("%s %s: %s" % ("-" if first else " ", k, val))
            first = False
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--concurrency", type=int, default=2)
    args = ap.parse_args()

    os.environ["OS_CLIENT_CONFIG_FILE"] = os.path.join(args.root, "etc/nubo/clouds.yaml")
    for k in [k for k in os.environ if k.startswith("OS_") and k != "OS_CLIENT_CONFIG_FILE"]:
        del os.environ[k]
    conn = openstack.connect(cloud="nubo-admin")
    auth = conn.config.config["auth"]
    base = auth["auth_url"].rsplit("/identity/", 1)[0]
    token = conn.auth_token
    ids = {"user": conn.current_user_id, "project": conn.current_project_id}

    run_id = secrets.token_hex(3)
    accounts = make_accounts(conn, args.concurrency, run_id)

    image = conn.image.find_image("nubo-tiny", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    alt = conn.compute.find_flavor("tempest.alt")
    if alt is None:
        alt = conn.compute.create_flavor(name="tempest.alt", ram=flavor.ram + 128,
                                         vcpus=flavor.vcpus, disk=flavor.disk)

    status, vdoc = http(base, token, "GET", "/compute/v2.1/")
    if status != 200:
        sys.exit("configure.py: GET /compute/v2.1/ answered %d" % status)
    version = vdoc["version"]

    flags = [(s, o, v, why) for s, o, v, why in FIXED]
    exts = [a for a, path in IDENTITY_EXTENSIONS
            if http(base, token, "GET", path.format(**ids))[0] == 200]
    flags.append(("identity-feature-enabled", "api_extensions", exts or ["None"],
                  "the extensions whose routes answer"))
    svc_flags, modules = services_flags(catalog_urls(base, token), token)
    flags += svc_flags
    public_net = give_networks(conn, accounts) if "network" in modules else ""
    for s, o, method, path, body, what in PROBES:
        on = probe(base, token, ids, method, path, body)
        flags.append((s, o, on, "%s %s" % (what, "answers" if on else "is absent")))

    work = os.path.abspath(args.workdir)
    os.makedirs(os.path.join(work, "locks"), exist_ok=True)
    accounts_file = os.path.join(work, "accounts.yaml")
    with open(accounts_file, "w") as f:
        f.write(yaml_accounts(accounts))

    # Nubo marks a server ACTIVE once its QEMU runs (the TCG guest boots after), in a
    # second or two even on a loaded box, and an image is local: 120 s and 60 s are
    # ample, and a wait for a state that never comes costs that, not Tempest's 300 s.
    conf = {
        "DEFAULT": {"log_dir": work, "log_file": "tempest.log", "debug": "true"},
        "oslo_concurrency": {"lock_path": os.path.join(work, "locks")},
        "auth": {"use_dynamic_credentials": "false", "test_accounts_file": accounts_file,
                 "default_credentials_domain_name": "Default",
                 "admin_username": auth["username"], "admin_password": auth["password"],
                 "admin_project_name": auth["project_name"],
                 "admin_domain_name": "Default", "create_isolated_networks": "false"},
        "identity": {"uri_v3": auth["auth_url"], "auth_version": "v3",
                     "region": "RegionOne", "v3_endpoint_type": "public",
                     "admin_role": "admin", "default_domain_id": "default"},
        "compute": {"image_ref": image.id, "image_ref_alt": image.id,
                    "flavor_ref": flavor.id, "flavor_ref_alt": alt.id,
                    "region": "RegionOne", "endpoint_type": "publicURL",
                    "build_timeout": "120", "build_interval": "1",
                    "min_compute_nodes": "1", "hypervisor_type": "QEMU",
                    "min_microversion": version.get("min_version") or "2.1",
                    "max_microversion": version.get("version") or "2.1"},
        "image": {"region": "RegionOne", "endpoint_type": "publicURL",
                  "build_timeout": "60",
                  # Tempest uploads random bytes under each of these (ListUserImagesTest):
                  # Nubo inspects image data and takes arbitrary bytes only as raw
                  # (qcow2 and iso need their headers); bare is its one container format
                  "container_formats": "bare", "disk_formats": "raw"},
        "validation": {"run_validation": "false"},
    }
    if public_net:
        conf["network"] = {"public_network_id": public_net, "region": "RegionOne",
                           "endpoint_type": "publicURL", "shared_physical_network": "false",
                           "project_networks_reachable": "false"}
    for s, o, v, why in flags:
        conf.setdefault(s, {})[o] = ini_value(v)

    with open(os.path.join(work, "tempest.conf"), "w") as f:
        f.write("# written by tests/tempest/configure.py for the stack under %s\n" % args.root)
        for section, opts in conf.items():
            f.write("\n[%s]\n" % section)
            for k, v in opts.items():
                f.write("%s = %s\n" % (k, v))
    with open(os.path.join(work, "modules"), "w") as f:
        f.write("".join(m + "\n" for m in modules))
    with open(os.path.join(work, "features.json"), "w") as f:
        json.dump([{"section": s, "option": o, "value": v, "why": why}
                   for s, o, v, why in flags], f, indent=1)
    print("configure.py: extra modules: %s" % (" ".join(modules) or "-"))
    print("configure.py: %d accounts, compute microversions %s..%s; probed on: %s; probed off: %s"
          % (len(accounts), conf["compute"]["min_microversion"],
             conf["compute"]["max_microversion"],
             " ".join(o for s, o, _, _, _, _ in PROBES if conf[s][o] == "true") or "-",
             " ".join(o for s, o, _, _, _, _ in PROBES if conf[s][o] == "false") or "-"))


if __name__ == "__main__":
    main()
