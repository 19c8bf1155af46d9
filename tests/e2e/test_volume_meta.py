"""Block Storage's admin views and type and image metadata (issue 9, Tempest's
VolumeHostsAdminTestsJSON, VolumeTypesTest encryption and VolumesImageMetadata): Cinder's
os-hosts, a volume type's encryption spec (kept and shown; a volume of an encrypted type
is refused, Nubo encrypts nothing), and a volume's image metadata actions."""
from nubo_e2e import assert_error
from test_volume import wait_gone, wait_volume

V3 = "/volume/v3/%s"


def test_os_hosts_lists_scheduler_and_storage_and_shows_usage(stack, os_cli, os_run,
                                                              project_ids, http):
    admin, demo = project_ids["admin"], project_ids["demo"]
    r = http("GET", V3 % admin + "/os-hosts", token=stack.token("admin"))
    assert r.status == 200, r
    by_service = {}
    for h in r.json["hosts"]:
        assert h["service-status"] in ("available", "unavailable"), h
        by_service.setdefault(h["service"], []).append(h)
    assert by_service.get("cinder-scheduler") and by_service.get("cinder-volume"), r.json
    vol_host = by_service["cinder-volume"][0]["host_name"]
    assert vol_host.endswith("@nubo"), vol_host
    v = os_cli("volume", "create", "--size", "1", "e2e-hosts", user="demo")
    try:
        wait_volume(stack, v["id"], "available", user="demo")
        r = http("GET", V3 % admin + "/os-hosts/" + vol_host, token=stack.token("admin"))
        assert r.status == 200, r
        rows = [x["resource"] for x in r.json["host"]]
        assert rows[0]["project"] == "(total)" and int(rows[0]["volume_count"]) >= 1, rows
        mine = [x for x in rows if x["project"] == demo]
        assert mine and int(mine[0]["total_volume_gb"]) >= 1, rows
    finally:
        os_run("volume", "delete", v["id"], user="demo", check=False)
        wait_gone(stack, "volume", v["id"], user="demo")
    assert_error(http("GET", V3 % admin + "/os-hosts/no-such-host@nubo",
                      token=stack.token("admin")), 404)
    assert_error(http("GET", V3 % demo + "/os-hosts", token=stack.token("demo")), 403)


def test_encryption_spec_is_kept_and_its_volumes_refused(stack, os_cli, os_run, project_ids,
                                                        http):
    admin = project_ids["admin"]
    t = os_cli("volume", "type", "create", "--encryption-provider", "luks",
               "--encryption-cipher", "aes-xts-plain64", "--encryption-key-size", "256",
               "--encryption-control-location", "front-end", "e2e-encrypted")
    try:
        shown = os_cli("volume", "type", "show", "--encryption-type", t["id"])
        enc = shown["encryption"]
        assert enc["provider"] == "luks" and enc["cipher"] == "aes-xts-plain64", shown
        assert enc["key_size"] == 256 and enc["control_location"] == "front-end", shown
        base = V3 % admin + "/types/%s/encryption" % t["id"]
        # a second spec for the type, and a bad control location: 400
        assert_error(http("POST", base, {"encryption": {"provider": "luks"}},
                          token=stack.token("admin")), 400)
        assert_error(http("PUT", base + "/provider",
                          {"encryption": {"control_location": "sideways"}},
                          token=stack.token("admin")), 400)
        # no volume of it: Nubo cannot encrypt one, and says so before making anything
        before = http("GET", V3 % admin + "/volumes", token=stack.token("admin")).json
        r = http("POST", V3 % admin + "/volumes",
                 {"volume": {"size": 1, "volume_type": t["id"], "name": "e2e-enc-vol"}},
                 token=stack.token("admin"))
        assert_error(r, 400)
        after = http("GET", V3 % admin + "/volumes", token=stack.token("admin")).json
        assert len(after["volumes"]) == len(before["volumes"]), after
        r = http("PUT", base + "/provider", {"encryption": {"key_size": 128}},
                 token=stack.token("admin"))
        assert r.status == 200 and r.json == {"encryption": {"key_size": 128}}, r
        r = http("GET", base + "/key_size", token=stack.token("admin"))
        assert r.status == 200 and r.json == {"key_size": 128}, r
        r = http("DELETE", base + "/provider", token=stack.token("admin"))
        assert r.status == 202, r
        r = http("GET", base, token=stack.token("admin"))
        assert r.status == 200 and r.json == {}, r
        assert_error(http("DELETE", base + "/provider", token=stack.token("admin")), 404)
        # without the spec the type makes volumes again
        v = os_cli("volume", "create", "--size", "1", "--type", t["id"], "e2e-unenc")
        os_run("volume", "delete", v["id"])
        wait_gone(stack, "volume", v["id"])
    finally:
        os_run("volume", "type", "delete", t["id"], check=False)


def test_volume_image_metadata_set_unset_show(stack, os_cli, os_run, project_ids, http):
    demo = project_ids["demo"]
    v = os_cli("volume", "create", "--size", "1", "e2e-imgmeta", user="demo")
    try:
        wait_volume(stack, v["id"], "available", user="demo")
        os_run("volume", "set", "--image-property", "kernel_id=k1", "--image-property",
               "ramdisk_id=r1", v["id"], user="demo")
        meta = os_cli("volume", "show", v["id"], user="demo")["volume_image_metadata"]
        assert meta == {"kernel_id": "k1", "ramdisk_id": "r1"}, meta
        os_run("volume", "unset", "--image-property", "ramdisk_id", v["id"], user="demo")
        act = V3 % demo + "/volumes/%s/action" % v["id"]
        r = http("POST", act, {"os-show_image_metadata": {}}, token=stack.token("demo"))
        assert r.status == 200 and r.json == {"metadata": {"kernel_id": "k1"}}, r
        # an absent key is 404 and a bad body 400, nothing changed
        assert_error(http("POST", act, {"os-unset_image_metadata": {"key": "nope"}},
                          token=stack.token("demo")), 404)
        assert_error(http("POST", act, {"os-set_image_metadata": {"metadata": "x"}},
                          token=stack.token("demo")), 400)
        # an admin reaches any project's volume, as Cinder's
        other = V3 % project_ids["admin"] + "/volumes/%s/action" % v["id"]
        r = http("POST", other, {"os-show_image_metadata": {}}, token=stack.token("admin"))
        assert r.status == 200 and r.json["metadata"] == {"kernel_id": "k1"}, r
    finally:
        os_run("volume", "delete", v["id"], user="demo", check=False)
        wait_gone(stack, "volume", v["id"], user="demo")
