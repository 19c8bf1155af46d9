"""Server actions beyond power (issue 7): lock/unlock bodies, rebuild on a real (TCG)
guest, forceDelete/restore without soft delete, migrate/os-migrateLive on one host, and
Nova's dispatch order (unknown action 400, unknown server 404)."""
import base64
import os
import uuid

import pytest

from nubo_e2e import assert_error, wait_for

API = "/compute/v2.1"


def mv(v):
    return {"OpenStack-API-Version": "compute " + v}


def act(http, tok, sid, body, v=None):
    return http("POST", "%s/servers/%s/action" % (API, sid), body, token=tok,
                headers=mv(v) if v else None)


@pytest.fixture(scope="module")
def rvm(stack):
    """A guest of this module's own: rebuild renames and re-images it."""
    s = stack.os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                     "--wait", "e2e-rb1")
    assert s["status"] == "ACTIVE", s
    yield s
    stack.os_run("server", "delete", "--wait", s["id"], check=False, timeout=300)


def ready_line(stack, sid, name):
    def found():
        for line in stack.console(sid).splitlines():
            if "nubo-guest ready" in line and name in line:
                return line
        return None
    return wait_for(found, 300, 3, "a boot of %s on the console" % name)


def test_lock_and_unlock_take_null_and_empty_bodies(stack, rvm, http):
    tok = stack.token("admin")
    for lock, unlock in (({"lock": None}, {"unlock": None}), ({"lock": {}}, {"unlock": {}})):
        assert act(http, tok, rvm["id"], lock).status == 202
        assert act(http, tok, rvm["id"], unlock).status == 202
        s = http("GET", "%s/servers/%s" % (API, rvm["id"]), token=tok,
                 headers=mv("2.9")).json["server"]
        assert s["locked"] is False, s


def test_unknown_server_is_404_for_every_known_action(stack, http):
    tok = stack.token("admin")
    bogus = str(uuid.uuid4())
    for body in ({"forceDelete": None}, {"restore": None}, {"migrate": None},
                 {"os-migrateLive": {"host": None, "block_migration": "auto"}},
                 {"rebuild": {"imageRef": str(uuid.uuid4())}}, {"unlock": {}}):
        assert_error(act(http, tok, bogus, body, "2.30"), 404)
    # the action name is judged first: Nova's router knows no such action
    r = act(http, tok, bogus, {"fly": None})
    assert_error(r, 400)
    assert "There is no such action: fly" in r.text, r


def test_restore_migrate_and_force_delete_answer_as_nova(stack, rvm, http):
    tok = stack.token("admin")
    sid = rvm["id"]
    r = act(http, tok, sid, {"restore": None})
    assert_error(r, 409)
    assert "Cannot 'restore' instance %s while it is in vm_state active" % sid in r.text, r
    r = act(http, tok, sid, {"migrate": None})
    assert_error(r, 400)
    assert "No valid host was found" in r.text, r
    r = act(http, tok, sid, {"os-migrateLive": {"host": "nowhere-" + uuid.uuid4().hex[:8],
                                                "block_migration": "auto"}}, "2.30")
    assert_error(r, 400)
    assert "Compute host nowhere-" in r.text, r
    # body checks come first: disk_over_commit is required before 2.25, gone after
    assert_error(act(http, tok, sid, {"os-migrateLive": {"host": None,
                                                         "block_migration": False}}), 400)
    assert_error(act(http, tok, sid, {"os-migrateLive": {
        "host": None, "block_migration": "auto", "disk_over_commit": False}}, "2.30"), 400)
    # a member may not migrate (and sees no admin's server at all)
    assert_error(act(http, stack.token("demo"), sid, {"migrate": None}), 404)
    assert stack.server(sid)["status"] == "ACTIVE"


def test_force_delete_deletes(stack, os_cli, http):
    s = os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny", "e2e-fd1")
    tok = stack.token("admin")
    assert act(http, tok, s["id"], {"forceDelete": None}).status == 202

    def gone():
        return http("GET", "%s/servers/%s" % (API, s["id"]), token=tok).status == 404
    wait_for(gone, 300, 2, "the force-deleted server to be gone")


def test_rebuild_validates_before_it_starts(stack, rvm, http):
    tok = stack.token("admin")
    sid = rvm["id"]
    image = stack.os_cli("image", "show", "nubo-tiny")["id"]
    for body, v in (({"rebuild": {}}, None),
                    ({"rebuild": {"imageRef": "not-a-uuid"}}, None),
                    ({"rebuild": {"imageRef": image, "bogus": 1}}, None),
                    ({"rebuild": {"imageRef": image, "key_name": "x"}}, "2.53"),
                    ({"rebuild": {"imageRef": image, "user_data": "aGk="}}, "2.56"),
                    ({"rebuild": {"imageRef": image, "description": "d"}}, "2.18"),
                    ({"rebuild": {"imageRef": image, "user_data": "not base64!"}}, "2.57")):
        assert_error(act(http, tok, sid, body, v), 400)
    assert_error(act(http, tok, sid, {"rebuild": {"imageRef": str(uuid.uuid4())}}), 400)
    assert_error(act(http, tok, sid, {"rebuild": {"imageRef": image,
                                                  "key_name": "no-such-key"}}, "2.54"), 400)
    s = stack.server(sid)
    assert s["status"] == "ACTIVE" and s["name"] == "e2e-rb1", s


def test_rebuild_makes_a_new_disk_and_boots_it(stack, rvm, os_cli, os_run):
    sid = rvm["id"]
    ready_line(stack, sid, "e2e-rb1")
    disk = stack.instance_dir(sid) / "disk.qcow2"
    # a second name keeps the old disk's inode alive, so a new file cannot reuse its number
    pin = stack.instance_dir(sid) / "e2e-old-disk"
    os.link(disk, pin)
    before = os.stat(pin).st_ino
    pids = stack.qemu_pids(sid)
    os_run("server", "rebuild", "--image", "nubo-tiny", "--name", "e2e-rb2", "--property",
           "rebuilt=yes", "--wait", sid, timeout=600)
    s = stack.wait_status(sid, "ACTIVE")
    assert s["id"] == sid and s["name"] == "e2e-rb2", s
    assert "rebuilt" in str(s["properties"]), s
    assert os.stat(disk).st_ino != before
    os.unlink(pin)
    now = stack.qemu_pids(sid)
    assert len(now) == 1 and now != pids, (pids, now)
    # the config drive is made again: the guest boots under its new name
    line = ready_line(stack, sid, "e2e-rb2")
    assert sid in line, line
    acts = [a["Action"] for a in os_cli("server", "event", "list", sid)]
    assert "rebuild" in acts, acts
    # the new disk backs onto the instance's own link of the cached image, whose cache
    # entry is named by the image's sha512, never its md5 (common/image_cache.h): one file
    base = stack.instance_dir(sid) / "base"
    tiny = os_cli("image", "show", "nubo-tiny")
    entry = stack.state_dir / "images" / tiny["properties"]["os_hash_value"]
    assert os.stat(base).st_ino == os.stat(entry).st_ino
    assert not (stack.state_dir / "images" / tiny["checksum"]).exists()
    assert os.stat(entry).st_nlink >= 2  # in use: the eviction keeps it


def test_rebuild_of_a_stopped_server_stays_shutoff(stack, rvm, os_run, http):
    sid = rvm["id"]
    tok = stack.token("admin")
    image = stack.os_cli("image", "show", "nubo-tiny")["id"]
    os_run("server", "stop", sid)
    stack.wait_status(sid, "SHUTOFF")
    ud = base64.b64encode(b"#!/bin/sh\necho rebuilt-userdata-ok\n").decode()
    r = act(http, tok, sid, {"rebuild": {"imageRef": image, "user_data": ud,
                                         "adminPass": "rebuildPassw0rd"}}, "2.57")
    assert r.status == 202, r
    srv = r.json["server"]
    assert srv["id"] == sid and srv["image"]["id"] == image, srv
    assert srv["user_data"] == ud and srv["adminPass"] == "rebuildPassw0rd", srv
    assert "key_name" in srv and "OS-EXT-STS:vm_state" not in srv, srv
    assert srv["status"] == "REBUILD", srv
    s = stack.wait_status(sid, "SHUTOFF")
    assert s["OS-EXT-STS:vm_state"] == "stopped", s
    assert stack.qemu_pids(sid) == []
    os_run("server", "start", sid)
    stack.wait_status(sid, "ACTIVE")

    def ran():
        return "rebuilt-userdata-ok" in stack.console(sid)
    wait_for(ran, 300, 3, "the new user data to run at boot")


def test_rebuild_of_an_error_server_by_admin(stack, rvm, http):
    sid = rvm["id"]
    tok = stack.token("admin")
    image = stack.os_cli("image", "show", "nubo-tiny")["id"]
    assert act(http, tok, sid, {"os-resetState": {"state": "error"}}).status == 202
    assert stack.server(sid)["status"] == "ERROR"
    r = act(http, tok, sid, {"rebuild": {"imageRef": image}}, "2.47")
    assert r.status == 202, r
    assert r.json["server"]["flavor"]["original_name"] == "m1.tiny", r
    s = stack.wait_status(sid, "ACTIVE")
    assert s["OS-EXT-STS:vm_state"] == "active", s
    assert len(stack.qemu_pids(sid)) == 1
