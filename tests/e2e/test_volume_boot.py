"""Boot from volume, as the real CLI and Tempest ask Nova for it: `server create
--volume` (block_device_mapping_v2 source volume, boot index 0), `server create
--image X --boot-from-volume N` (Nova makes the root volume from the image through
Block Storage), and Tempest's volume_backed server (delete_on_termination). The guest
boots from the volume's pool file (its QEMU has no instance disk of its own), the
server shows image "" and the volume in volumes_attached, the volume is in-use on the
server, and deleting the server detaches the volume or deletes it. Also Nova's
os-volumes proxy's offset."""
import json
import uuid

from nubo_e2e import assert_error, wait_for
from test_volume import wait_gone, wait_volume

SERVERS = "/compute/v2.1/servers"


def show_raw(http, stack, sid):
    r = http("GET", SERVERS + "/" + sid, token=stack.token("admin"),
             headers={"X-OpenStack-Nova-API-Version": "2.73"})
    assert r.status == 200, r
    return r.json["server"]


def qemu_cmdline(stack, sid):
    pids = stack.qemu_pids(sid)
    assert len(pids) == 1, pids
    with open("/proc/%d/cmdline" % pids[0], "rb") as f:
        return f.read().split(b"\0")


def assert_boots_from(stack, http, sid, vol, name):
    s = show_raw(http, stack, sid)
    assert s["image"] == "", s["image"]
    assert s["os-extended-volumes:volumes_attached"] == [
        {"id": vol, "delete_on_termination": s["os-extended-volumes:volumes_attached"][0][
            "delete_on_termination"]}], s
    v = stack.os_cli("volume", "show", vol)
    assert v["status"] == "in-use", v
    assert [a["server_id"] for a in v["attachments"]] == [sid], v["attachments"]
    # the volume is the root disk: no overlay of the instance's own, the serial is
    # the volume's id
    assert not (stack.instance_dir(sid) / "disk.qcow2").exists()
    argv = qemu_cmdline(stack, sid)
    assert any(a.endswith(b"serial=" + vol.encode()) for a in argv), argv

    def ready():
        text = stack.console(sid)
        return text if "nubo-guest ready" in text else None
    text = wait_for(ready, 300, 3, "the guest's ready line on the console")
    line = next(x for x in text.splitlines() if "nubo-guest ready" in x)
    assert sid in line and name in line, line


def test_server_create_with_volume(stack, os_cli, os_run, http, project_ids):
    vol = os_cli("volume", "create", "--image", "nubo-tiny", "--size", "1", "e2e-bootvol")
    wait_volume(stack, vol["id"], "available", timeout=180)
    s = os_cli("server", "create", "--flavor", "m1.tiny", "--volume", vol["id"], "--wait",
               "e2e-bfv-vol")
    try:
        assert s["status"] == "ACTIVE", s
        assert_boots_from(stack, http, s["id"], vol["id"], "e2e-bfv-vol")
        # in use by the server: not deletable, not attachable elsewhere
        r = http("DELETE", "/volume/v3/%s/volumes/%s" % (project_ids["admin"], vol["id"]),
                 token=stack.token("admin"))
        assert_error(r, 400)
        # the root disk is not detachable (Nova's 400), and stays in-use on the server
        r = http("DELETE", "%s/%s/os-volume_attachments/%s" % (SERVERS, s["id"], vol["id"]),
                 token=stack.token("admin"))
        assert_error(r, 400)
        assert "root device" in r.json["badRequest"]["message"], r.json
        v = os_cli("volume", "show", vol["id"])
        assert v["status"] == "in-use", v
        assert [a["server_id"] for a in v["attachments"]] == [s["id"]], v["attachments"]
        # rebuilding with another image than the volume's: Nova's 400 (before 2.93)
        r = http("POST", "/image/v2/images", {"name": "e2e-bfv-other", "disk_format": "qcow2",
                                              "container_format": "bare"},
                 token=stack.token("admin"))
        assert r.status == 201, r
        other = r.json
        try:
            r = http("POST", "%s/%s/action" % (SERVERS, s["id"]),
                     {"rebuild": {"imageRef": other["id"]}}, token=stack.token("admin"))
            assert_error(r, 400)
            assert "volume-backed" in r.json["badRequest"]["message"], r.json
            assert show_raw(http, stack, s["id"])["image"] == ""
        finally:
            os_run("image", "delete", other["id"])
    finally:
        os_run("server", "delete", "--wait", s["id"], timeout=300)
    # the CLI's mapping keeps the volume: detached, available, its data intact
    v = wait_volume(stack, vol["id"], "available", timeout=60)
    assert v["attachments"] == [], v
    os_run("volume", "delete", vol["id"])
    wait_gone(stack, "volume", vol["id"])


def test_server_create_boot_from_volume_of_image(stack, os_cli, os_run, http):
    s = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
               "--boot-from-volume", "1", "--wait", "e2e-bfv-img", timeout=600)
    vol = None
    try:
        assert s["status"] == "ACTIVE", s
        attached = show_raw(http, stack, s["id"])["os-extended-volumes:volumes_attached"]
        assert len(attached) == 1, attached
        vol = attached[0]["id"]
        assert attached[0]["delete_on_termination"] is False, attached
        v = os_cli("volume", "show", vol)
        assert v["size"] == 1 and v["bootable"] == "true", v
        assert_boots_from(stack, http, s["id"], vol, "e2e-bfv-img")
    finally:
        os_run("server", "delete", "--wait", s["id"], timeout=300)
    wait_volume(stack, vol, "available", timeout=60)
    os_run("volume", "delete", vol)
    wait_gone(stack, "volume", vol)


def test_delete_on_termination_deletes_the_volume(stack, os_cli, os_run, http):
    """Tempest's volume_backed server: imageRef "" and one mapping that asks the volume
    to go with the server."""
    vol = os_cli("volume", "create", "--image", "nubo-tiny", "--size", "1", "e2e-bootvol-dot")
    wait_volume(stack, vol["id"], "available", timeout=180)
    flavor = os_cli("flavor", "show", "m1.tiny")["id"]
    r = http("POST", SERVERS, {"server": {
        "name": "e2e-bfv-dot", "imageRef": "", "flavorRef": flavor,
        "block_device_mapping_v2": [{
            "uuid": vol["id"], "source_type": "volume", "destination_type": "volume",
            "boot_index": 0, "delete_on_termination": True}]}},
        token=stack.token("admin"))
    assert r.status == 202, r
    sid = r.json["server"]["id"]
    try:
        s = stack.wait_status(sid, "ACTIVE")
        assert s["image"] in ("", "N/A (booted from volume)"), s
        assert show_raw(http, stack, sid)["os-extended-volumes:volumes_attached"] == [
            {"id": vol["id"], "delete_on_termination": True}]
    finally:
        os_run("server", "delete", "--wait", sid, timeout=300)
    wait_gone(stack, "volume", vol["id"])


def test_bad_mappings_are_400(stack, os_cli, os_run, http, vm):
    flavor = os_cli("flavor", "show", "m1.tiny")["id"]
    vol = os_cli("volume", "create", "--size", "1", "e2e-bootvol-bad")
    wait_volume(stack, vol["id"], "available")

    def create(**extra):
        body = {"server": {"name": "e2e-bfv-bad", "imageRef": "", "flavorRef": flavor}}
        body["server"].update(extra)
        return http("POST", SERVERS, body, token=stack.token("admin"))

    def v2(**kw):
        m = {"uuid": vol["id"], "source_type": "volume", "destination_type": "volume",
             "boot_index": 0}
        m.update(kw)
        return [m]
    try:
        cases = [
            dict(block_device_mapping_v2=v2(source_type="snapshot")),
            dict(block_device_mapping_v2=v2(uuid="00000000-0000-4000-8000-000000000000")),
            dict(block_device_mapping_v2=v2(bogus=1)),
            dict(block_device_mapping_v2=v2(source_type="image", volume_size=0)),
            dict(block_device_mapping_v2=v2(),
                 block_device_mapping=[{"volume_id": vol["id"], "device_name": "vda"}]),
            dict(block_device_mapping=[{"volume_id": vol["id"], "device_name": "vdb"}]),
            dict(block_device_mapping_v2=v2() * 2),
            dict(block_device_mapping_v2=v2(), max_count=2),
        ]
        before = len(os_cli("server", "list", "--all-projects"))
        for c in cases:
            assert_error(create(**c), 400)
        # an empty volume is not bootable (Tempest's test_create_server_from_non_bootable_volume)
        r = create(block_device_mapping_v2=v2())
        assert_error(r, 400)
        assert "is not bootable" in r.json["badRequest"]["message"], r.json
        # an image that does not exist: Nova's 400, and no volume left behind
        vols = len(os_cli("volume", "list", "--all-projects"))
        assert_error(create(block_device_mapping_v2=v2(
            source_type="image", uuid="00000000-0000-4000-8000-000000000000",
            volume_size=1)), 400)
        assert len(os_cli("volume", "list", "--all-projects")) == vols
        # a create that fails after the root volume was made from the image (an unknown
        # network): the volume goes too, even while it is still being made
        image = os_cli("image", "show", "nubo-tiny")["id"]
        assert_error(create(block_device_mapping_v2=v2(
            source_type="image", uuid=image, volume_size=1),
            networks=[{"uuid": "00000000-0000-4000-8000-000000000000"}]), 400)
        wait_for(lambda: len(os_cli("volume", "list", "--all-projects")) == vols, 240, 3,
                 "the failed create's root volume deleted")
        # a volume in use on another server
        os_run("server", "add", "volume", vm["id"], vol["id"])
        wait_volume(stack, vol["id"], "in-use", timeout=120)
        r = create(block_device_mapping_v2=v2())
        assert_error(r, 400)
        assert "Invalid volume" in r.json["badRequest"]["message"], r.json
        # the legacy syntax reaches the same checks
        assert_error(create(block_device_mapping=[{"volume_id": vol["id"],
                                                   "device_name": "/dev/vda"}]), 400)
        assert len(os_cli("server", "list", "--all-projects")) == before
    finally:
        os_run("server", "remove", "volume", vm["id"], vol["id"], check=False)
        wait_volume(stack, vol["id"], "available", timeout=120)
        os_run("volume", "delete", vol["id"])


def test_os_volumes_offset_and_limit(stack, os_cli, os_run, http):
    made = [os_cli("volume", "create", "--size", "1", "e2e-offset-%d" % i)["id"]
            for i in range(3)]
    try:
        for path in ("/compute/v2.1/os-volumes", "/compute/v2.1/os-volumes/detail"):
            every = http("GET", path, token=stack.token("admin")).json["volumes"]
            assert len(every) >= 3
            page = http("GET", path + "?offset=1&limit=1", token=stack.token("admin"))
            assert page.status == 200, page
            assert [v["id"] for v in page.json["volumes"]] == [every[1]["id"]], page.json
            rest = http("GET", path + "?offset=2", token=stack.token("admin")).json
            assert [v["id"] for v in rest["volumes"]] == [v["id"] for v in every[2:]]
            assert_error(http("GET", path + "?offset=-1", token=stack.token("admin")), 400)
    finally:
        for v in made:
            wait_volume(stack, v, "available")
            os_run("volume", "delete", v)


def test_image_of_a_volume_backed_server_boots_from_its_snapshot(stack, os_cli, os_run, http,
                                                                 tmp_path):
    """Nova's snapshot_volume_backed: `server image create` of a server booted from a
    volume makes a forced snapshot of the plugged root volume (copied with the guest
    paused) and an image of no bytes whose block_device_mapping names it; `server create
    --image` of that image makes a new volume from the snapshot and boots from it, with
    the bytes the first guest wrote. createBackup stays Nova's 400."""
    from test_server_image import console_line, reader, writer
    from test_volume_snapshot_plugged import snapshot_gone
    tag = "bfv" + uuid.uuid4().hex[:9]
    vol = os_cli("volume", "create", "--image", "nubo-tiny", "--size", "1", "e2e-bfv-snapvol")
    wait_volume(stack, vol["id"], "available", timeout=180)
    (tmp_path / "w.sh").write_text(writer(tag))
    (tmp_path / "r.sh").write_text(reader())
    s = os_cli("server", "create", "--flavor", "m1.tiny", "--volume", vol["id"],
               "--user-data", tmp_path / "w.sh", "--wait", "e2e-bfv-snapsrc", timeout=600)
    image = clone = None
    snaps, made_vols = [], []
    try:
        assert s["status"] == "ACTIVE", s
        console_line(stack, s["id"], "snapmark-written")
        r = http("POST", "%s/%s/action" % (SERVERS, s["id"]),
                 {"createBackup": {"name": "b", "backup_type": "daily", "rotation": 1}},
                 token=stack.token("admin"))
        assert_error(r, 400)
        assert "volume-backed" in r.json["badRequest"]["message"], r.json
        image = os_cli("server", "image", "create", "--name", "e2e-bfv-snapimg", "--wait",
                       s["id"], timeout=600)
        assert image["status"] == "active" and image["size"] in (0, None), image
        assert image["disk_format"] == "raw" and image["container_format"] == "bare", image
        props = image["properties"]
        assert props["image_type"] == "snapshot" and props["instance_uuid"] == s["id"], props
        assert props["bdm_v2"] in ("True", True) and props["root_device_name"] == "/dev/vda"
        mapping = props["block_device_mapping"]
        mapping = json.loads(mapping) if isinstance(mapping, str) else mapping
        assert len(mapping) == 1, mapping
        m = mapping[0]
        assert (m["source_type"], m["destination_type"], m["boot_index"],
                m["volume_size"], m["delete_on_termination"]) == (
                    "snapshot", "volume", 0, 1, False), m
        snaps.append(m["snapshot_id"])
        snap = os_cli("volume", "snapshot", "show", m["snapshot_id"])
        assert snap["volume_id"] == vol["id"], snap
        wait_for(lambda: os_cli("volume", "snapshot", "show", m["snapshot_id"])["status"]
                 == "available", 300, 3, "the root volume's snapshot")
        # the guest ran on: paused only for the copy
        assert stack.server(s["id"])["status"] == "ACTIVE"
        # the image has no bytes to download (Glance's 204)
        assert http("GET", "/image/v2/images/%s/file" % image["id"],
                    token=stack.token("admin")).status == 204
        clone = os_cli("server", "create", "--flavor", "m1.tiny", "--image", image["id"],
                       "--user-data", tmp_path / "r.sh", "--wait", "e2e-bfv-snapclone",
                       timeout=900)
        assert clone["status"] == "ACTIVE", clone
        attached = show_raw(http, stack, clone["id"])["os-extended-volumes:volumes_attached"]
        assert len(attached) == 1 and attached[0]["id"] != vol["id"], attached
        made_vols.append(attached[0]["id"])
        nv = os_cli("volume", "show", attached[0]["id"])
        assert nv["snapshot_id"] == m["snapshot_id"] and nv["status"] == "in-use", nv
        assert_boots_from(stack, http, clone["id"], attached[0]["id"], "e2e-bfv-snapclone")
        line = console_line(stack, clone["id"], "snapmark-read")
        assert "SNAPMARK-" + tag in line, line
    finally:
        for sid in [x for x in (clone and clone["id"], s["id"]) if x]:
            os_run("server", "delete", "--wait", sid, check=False, timeout=300)
        if image:
            os_run("image", "delete", image["id"], check=False)
        for sn in snaps:  # before their volume: Cinder refuses a volume with snapshots
            wait_for(lambda: os_cli("volume", "snapshot", "show", sn)["status"] != "creating",
                     300, 3, "the snapshot made")
            os_run("volume", "snapshot", "delete", sn, check=False)
            snapshot_gone(stack, sn)
        for v in made_vols + [vol["id"]]:
            wait_volume(stack, v, "available", timeout=120)
            os_run("volume", "delete", v, check=False)
            wait_gone(stack, "volume", v)
