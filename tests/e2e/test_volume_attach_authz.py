"""Cinder's attach-marking actions against Compute's attachments (review s5, findings 1,
2 and 15): os-attach is bookkeeping only. It names a live instance of the caller's
project, Compute neither lists nor re-plugs what it records, and Cinder's os-detach
cannot undo an attachment Compute made while the disk is plugged."""
import uuid

from nubo_e2e import assert_error
from test_volume import qmp_devices, wait_gone, wait_volume

ATT = "/compute/v2.1/servers/%s/os-volume_attachments"


def action(http, stack, project, vid, body, user="admin"):
    return http("POST", "/volume/v3/%s/volumes/%s/action" % (project, vid), body,
                token=stack.token(user))


def dev_of(vid):
    return "d" + vid.replace("-", "")[:30]


def test_cinder_attach_needs_a_server_of_the_callers_project(stack, os_cli, os_run, vm,
                                                             project_ids, http):
    demo = project_ids["demo"]
    v = os_cli("volume", "create", "--size", "1", "e2e-authz-other", user="demo")
    try:
        wait_volume(stack, v["id"], "available", user="demo")
        for target in (vm["id"], str(uuid.uuid4()), "not-a-uuid"):
            r = action(http, stack, demo, v["id"],
                       {"os-attach": {"instance_uuid": target, "mountpoint": "/dev/sdb"}},
                       user="demo")
            assert_error(r, 400)
        assert os_cli("volume", "show", v["id"], user="demo")["status"] == "available"
        r = http("GET", ATT % vm["id"], token=stack.token("admin"))
        assert r.json["volumeAttachments"] == [], r.json
    finally:
        os_run("volume", "delete", v["id"], user="demo", check=False)
        wait_gone(stack, "volume", v["id"], user="demo")


def test_compute_attachment_is_not_undone_by_cinder(stack, os_cli, os_run, vm, project_ids,
                                                    http):
    """Nova attaches V; Cinder's os-detach and os-force_detach refuse (400) and
    os-unreserve leaves it: V stays in-use and plugged, cannot be offered for transfer,
    and is cloned with the guest paused; Compute's detach frees it."""
    admin = project_ids["admin"]
    v = os_cli("volume", "create", "--size", "1", "e2e-authz-nova")
    wait_volume(stack, v["id"], "available")
    os_run("server", "add", "volume", vm["id"], v["id"])
    try:
        wait_volume(stack, v["id"], "in-use", timeout=120)
        for body in ({"os-detach": {}}, {"os-force_detach": {}}):
            assert_error(action(http, stack, admin, v["id"], body), 400)
        assert action(http, stack, admin, v["id"], {"os-unreserve": None}).status == 202
        assert os_cli("volume", "show", v["id"])["status"] == "in-use"
        assert dev_of(v["id"]) in qmp_devices(stack, vm["id"])
        r = http("POST", "/volume/v3/%s/os-volume-transfer" % admin,
                 {"transfer": {"volume_id": v["id"]}}, token=stack.token("admin"))
        assert_error(r, 400)
        # Cinder's os-attach does not take it over either
        r = action(http, stack, admin, v["id"],
                   {"os-attach": {"instance_uuid": vm["id"], "mountpoint": "/dev/sdc"}})
        assert_error(r, 400)
        # a clone of it is made, as Cinder allows: on the compute host, with the guest
        # paused, as a forced snapshot is (test_volume_snapshot_plugged.py checks the
        # bytes); the volume stays plugged
        vols = "/volume/v3/%s/volumes" % admin
        r = http("POST", vols, {"volume": {"size": 1, "source_volid": v["id"]}},
                 token=stack.token("admin"))
        assert r.status == 202, r
        clone = r.json["volume"]["id"]
        try:
            wait_volume(stack, clone, "available", timeout=120)
            assert os_cli("volume", "show", v["id"])["status"] == "in-use"
        finally:
            os_run("volume", "delete", clone, check=False)
            wait_gone(stack, "volume", clone)
    finally:
        os_run("server", "remove", "volume", vm["id"], v["id"], check=False)
        wait_volume(stack, v["id"], "available", timeout=120)
        assert dev_of(v["id"]) not in qmp_devices(stack, vm["id"])
        os_run("volume", "delete", v["id"])
        wait_gone(stack, "volume", v["id"])


def test_cinder_attachment_is_neither_listed_nor_replugged(stack, os_cli, os_run, vm,
                                                          project_ids, http):
    """A hard reboot re-plugs the volume Nova attached, not the one Cinder's os-attach
    only recorded; Nova's attachment list shows Nova's only."""
    admin = project_ids["admin"]
    nova = os_cli("volume", "create", "--size", "1", "e2e-authz-replug-nova")
    mark = os_cli("volume", "create", "--size", "1", "e2e-authz-replug-mark")
    wait_volume(stack, nova["id"], "available")
    wait_volume(stack, mark["id"], "available")
    os_run("server", "add", "volume", vm["id"], nova["id"])
    try:
        wait_volume(stack, nova["id"], "in-use", timeout=120)
        r = action(http, stack, admin, mark["id"],
                   {"os-attach": {"instance_uuid": vm["id"], "mountpoint": "/dev/sdc"}})
        assert r.status == 202, r
        shown = os_cli("volume", "show", mark["id"])
        assert shown["status"] == "in-use" and vm["id"] in str(shown["attachments"]), shown
        r = http("GET", ATT % vm["id"], token=stack.token("admin"))
        assert [a["volumeId"] for a in r.json["volumeAttachments"]] == [nova["id"]], r.json
        r = http("GET", ATT % vm["id"] + "/" + mark["id"], token=stack.token("admin"))
        assert_error(r, 404)
        os_run("server", "reboot", "--hard", "--wait", vm["id"], timeout=300)
        from nubo_e2e import wait_for
        wait_for(lambda: dev_of(nova["id"]) in qmp_devices(stack, vm["id"]), 60, 0.5,
                 "Nova's volume plugged into the new QEMU")
        assert wait_volume(stack, nova["id"], "in-use")
        assert dev_of(mark["id"]) not in qmp_devices(stack, vm["id"])
        # the bookkeeping is undone by Cinder's os-detach, as before
        assert action(http, stack, admin, mark["id"], {"os-detach": {}}).status == 202
        wait_volume(stack, mark["id"], "available")
    finally:
        action(http, stack, admin, mark["id"], {"os-detach": {}})
        os_run("server", "remove", "volume", vm["id"], nova["id"], check=False)
        wait_volume(stack, nova["id"], "available", timeout=120)
        for v in (nova, mark):
            os_run("volume", "delete", v["id"], check=False)
            wait_gone(stack, "volume", v["id"])
