"""Instance snapshots (issue 9, Nova's createImage): a running TCG guest writes a marker
onto its root disk, `openstack server image create --wait` makes an image of that disk,
and a server booted from the image reads the marker back ("cloning" a machine). Also the
answers Nova gives: 409 while a snapshot runs, 404 for another project's server, 400
for a bad name, and a snapshot refused by the image quota leaves no image behind and the
server as it was. Nova's createBackup on the same guest: a backup is such a snapshot with
image_type=backup, and the next one deletes the oldest beyond its rotation, bytes too."""
import uuid

import pytest

from nubo_e2e import assert_error, wait_for

API = "/compute/v2.1"
SECTOR = 1000000  # 488 MiB into m1.tiny's 1 GiB disk: past the guest image's data


def writer(tag):
    return ("#!/bin/sh\nprintf 'SNAPMARK-%s' | dd of=/dev/vda bs=512 seek=%d conv=notrunc"
            " 2>/dev/null && sync && echo snapmark-written\n" % (tag, SECTOR))


def reader():
    return ("#!/bin/sh\necho \"snapmark-read $(dd if=/dev/vda bs=512 skip=%d count=1"
            " 2>/dev/null | head -c 40 | tr -dc 'A-Za-z0-9-')\"\n" % SECTOR)


def create_image(http, tok, sid, name, v="2.45", **extra):
    body = {"createImage": dict({"name": name}, **extra)}
    return http("POST", "%s/servers/%s/action" % (API, sid), body, token=tok,
                headers={"OpenStack-API-Version": "compute " + v})


def console_line(stack, sid, word):
    def found():
        for line in stack.console(sid).splitlines():
            if word in line:
                return line
        return None
    return wait_for(found, 300, 3, "%r on the console of %s" % (word, sid))


@pytest.fixture(scope="module")
def tag():
    return uuid.uuid4().hex[:12]


@pytest.fixture(scope="module")
def svm(stack, tag, tmp_path_factory):
    ud = tmp_path_factory.mktemp("snap") / "write.sh"
    ud.write_text(writer(tag))
    s = stack.os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                     "--user-data", ud, "--wait", "e2e-snap1")
    assert s["status"] == "ACTIVE", s
    yield s
    stack.os_run("server", "delete", "--wait", s["id"], check=False, timeout=300)


def test_bad_requests_answer_as_nova(stack, svm, http):
    tok = stack.token("admin")
    for name in ("", " lead", "a" * 256):
        assert_error(create_image(http, tok, svm["id"], name), 400)
    assert_error(create_image(http, tok, svm["id"], "x", metadata={"": "v"}), 400)
    assert_error(create_image(http, tok, str(uuid.uuid4()), "x"), 404)
    # another project's server is not found (demo is a member of demo only)
    assert_error(create_image(http, stack.token("demo"), svm["id"], "x"), 404)


def test_quota_refusal_leaves_no_image_and_the_server_as_it_was(stack, svm, http):
    tok = stack.token("admin")
    project = svm.get("project_id") or stack.os_cli("project", "show", "admin")["id"]
    used = int(stack.sql("SELECT coalesce(sum(size), 0) FROM images WHERE owner = :'p1'",
                         project)[0][0])
    mib = (used >> 20) + 1

    def limit(n):
        stack.sql("INSERT INTO quotas (project_id, resource, hard_limit) VALUES (:'p1',"
                  " 'image_size_total', %d) ON CONFLICT (project_id, resource) DO UPDATE SET"
                  " hard_limit = %d" % (n, n), project)
    try:
        # a project already at image_size_total: refused at once, no image, no task
        # (review s6 11: it got 202 and the guest stopped for a copy never stored)
        limit(used >> 20)
        before = stack.sql("SELECT count(*) FROM images WHERE owner = :'p1'", project)
        r = create_image(http, tok, svm["id"], "e2e-snap-at-limit")
        assert_error(r, 403)
        assert "image_size_total" in r.text, r
        assert stack.sql("SELECT count(*) FROM images WHERE owner = :'p1'", project) == before
        s = stack.server(svm["id"])
        assert s["status"] == "ACTIVE" and s["OS-EXT-STS:task_state"] in (None, "", "None"), s
        # room for less than the copy: 202, then the upload is refused and the image goes
        limit(mib)
        r = create_image(http, tok, svm["id"], "e2e-snap-over")
        assert r.status == 202, r
        iid = r.json["image_id"]
        gone = wait_for(lambda: http("GET", "/image/v2/images/" + iid, token=tok).status == 404,
                        300, 2, "the refused snapshot image to be deleted")
        assert gone
        s = stack.wait_status(svm["id"], "ACTIVE")
        assert s["OS-EXT-STS:task_state"] in (None, "", "None"), s
    finally:
        stack.sql("DELETE FROM quotas WHERE project_id = :'p1' AND resource ="
                  " 'image_size_total'", project)


def test_metadata_over_the_image_property_quota_is_403(stack, svm, http):
    """Review s6 12: createImage's metadata and the properties it merges are bounded by
    Glance's image_property_quota (128), as every other image write is."""
    tok = stack.token("admin")
    meta = {"k%03d" % i: "v" for i in range(130)}
    r = create_image(http, tok, svm["id"], "e2e-snap-props", metadata=meta)
    assert_error(r, 403)
    assert "metadata limit" in r.text, r
    assert not stack.sql("SELECT id FROM images WHERE name = 'e2e-snap-props'")
    s = stack.server(svm["id"])
    assert s["OS-EXT-STS:task_state"] in (None, "", "None"), s


def test_snapshot_boots_and_carries_the_guests_disk(stack, svm, tag, http, tmp_path_factory):
    console_line(stack, svm["id"], "snapmark-written")
    tok = stack.token("admin")
    # a second createImage while the first runs is Nova's 409; before 2.45 a Location
    r = create_image(http, tok, svm["id"], "e2e-snap-a", v="2.1", metadata={"purpose": "e2e"})
    assert r.status == 202, r
    first = r.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    r2 = create_image(http, tok, svm["id"], "e2e-snap-b")
    assert_error(r2, 409)
    assert "task_state image_snapshot" in r2.text, r2
    img = wait_for(lambda: (lambda i: i if i["status"] == "active" else None)(
        stack.os_cli("image", "show", first)), 600, 3, "the snapshot image to be active")
    props = img["properties"]
    assert props["image_type"] == "snapshot" and props["instance_uuid"] == svm["id"], img
    assert props["purpose"] == "e2e", img
    assert img["disk_format"] == "qcow2" and img["visibility"] == "private", img
    assert img["min_disk"] == 1, img
    stack.wait_status(svm["id"], "ACTIVE")
    stack.os_run("image", "delete", first)

    # the CLI's own flow, then boot the copy and read the marker from its disk
    snap = stack.os_cli("server", "image", "create", "--name", "e2e-snap1-img", "--wait",
                        svm["id"], timeout=900)
    try:
        ud = tmp_path_factory.mktemp("snapread") / "read.sh"
        ud.write_text(reader())
        clone = stack.os_cli("server", "create", "--flavor", "m1.tiny", "--image", snap["id"],
                             "--user-data", ud, "--wait", "e2e-snap-clone", timeout=900)
        try:
            assert clone["status"] == "ACTIVE", clone
            line = console_line(stack, clone["id"], "snapmark-read")
            assert "SNAPMARK-" + tag in line, line
        finally:
            stack.os_run("server", "delete", "--wait", clone["id"], check=False, timeout=300)
    finally:
        stack.os_run("image", "delete", snap["id"], check=False)


def create_backup(http, tok, sid, name, v="2.45", **arg):
    body = {"createBackup": dict({"name": name}, **arg)}
    return http("POST", "%s/servers/%s/action" % (API, sid), body, token=tok,
                headers={"OpenStack-API-Version": "compute " + v})


def test_backup_rotation_deletes_the_oldest(stack, svm, http):
    """createBackup as Tempest's test_create_backup drives it: each backup is a snapshot
    with image_type=backup, backup_type and instance_uuid; once the second of rotation 1
    is active, the first is deleted (its row and its file), and Glance's property
    filters list the server's backups of that type. Bad arguments are Nova's 400."""
    tok = stack.token("admin")
    sid = svm["id"]
    for bad in ({"backup_type": "daily", "rotation": -1}, {"backup_type": "daily"},
                {"rotation": 1}, {"backup_type": "daily", "rotation": "x"},
                {"backup_type": "daily", "rotation": 1, "extra": 1}):
        assert_error(create_backup(http, tok, sid, "e2e-bk-bad", **bad), 400)
    assert not stack.sql("SELECT id FROM images WHERE name = 'e2e-bk-bad'")
    images = stack.root / "var" / "lib" / "nubo" / "images"
    stack.wait_status(sid, "ACTIVE")

    def active(iid):
        return wait_for(lambda: (lambda r: r.json if r.status == 200 and r.json["status"] ==
                                 "active" else None)(
            http("GET", "/image/v2/images/" + iid, token=tok)), 600, 3,
            "backup %s to be active" % iid)

    # before 2.45 a Location header names the backup
    r = create_backup(http, tok, sid, "e2e-bk-1", v="2.1", backup_type="daily", rotation=1)
    assert r.status == 202, r
    first = r.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    img = active(first)
    assert img["image_type"] == "backup" and img["backup_type"] == "daily", img
    assert img["instance_uuid"] == sid, img
    assert (images / first).exists()
    s = stack.wait_status(sid, "ACTIVE")
    assert s["OS-EXT-STS:task_state"] in (None, "", "None"), s
    # a weekly backup is not rotated by daily ones
    r = create_backup(http, tok, sid, "e2e-bk-w", backup_type="weekly", rotation=1)
    assert r.status == 202, r
    weekly = r.json["image_id"]
    active(weekly)
    stack.wait_status(sid, "ACTIVE")
    r = create_backup(http, tok, sid, "e2e-bk-2", backup_type="daily", rotation=1)
    assert r.status == 202, r
    second = r.json["image_id"]
    try:
        active(second)
        stack.wait_status(sid, "ACTIVE")
        assert http("GET", "/image/v2/images/" + first, token=tok).status == 404
        assert not (images / first).exists()
        q = ("/image/v2/images?image_type=backup&backup_type=daily&instance_uuid=%s"
             "&status=active&sort_key=created_at&sort_dir=asc" % sid)
        listed = http("GET", q, token=tok)
        assert listed.status == 200, listed
        assert [i["id"] for i in listed.json["images"]] == [second], listed.json
        listed = http("GET", q.replace("daily", "weekly"), token=tok)
        assert [i["id"] for i in listed.json["images"]] == [weekly], listed.json
        assert http("GET", q.replace("daily", "hourly"), token=tok).json["images"] == []
        acts = http("GET", "%s/servers/%s/os-instance-actions" % (API, sid), token=tok)
        assert "createBackup" in [a["action"] for a in acts.json["instanceActions"]], acts
    finally:
        for iid in (second, weekly):
            http("DELETE", "/image/v2/images/" + iid, token=tok)


def test_volume_upload_to_image(stack, http):
    """Cinder's os-volume_upload_image as `openstack image create --volume` sends it: a
    volume made from nubo-tiny becomes a qcow2 image (qcow2, not the default raw: a raw
    upload moves the whole GiB, a long step for the CI box; the argv of both is unit
    tested); the volume is available again afterwards; a volume that is not available
    (set so by an admin: an upload in flight may be over before a second request) is
    Cinder's 400 and makes no image."""
    v = stack.os_cli("volume", "create", "--size", "1", "--image", "nubo-tiny", "e2e-upvol",
                     user="demo")
    try:
        wait_for(lambda: stack.os_cli("volume", "show", v["id"], user="demo")["status"] ==
                 "available", 300, 2, "the volume to be available")
        img = stack.os_cli("image", "create", "--volume", v["id"], "--disk-format", "qcow2",
                           "e2e-volimg", user="demo")
        iid = img.get("image_id") or img.get("id")
        try:
            done = wait_for(lambda: (lambda i: i if i["status"] == "active" else None)(
                stack.os_cli("image", "show", iid, user="demo")), 600, 3,
                "the uploaded image to be active")
            assert done["disk_format"] == "qcow2" and 0 < done["size"] < 1 << 30, done
            wait_for(lambda: stack.os_cli("volume", "show", v["id"], user="demo")["status"] ==
                     "available", 300, 2, "the volume to be available again")
            stack.os_run("volume", "set", "--state", "error", v["id"])
            tok = stack.token("demo")
            project = stack.os_cli("project", "show", "demo")["id"]
            r = http("POST", "/volume/v3/%s/volumes/%s/action" % (project, v["id"]),
                     {"os-volume_upload_image": {"image_name": "e2e-volimg2"}}, token=tok)
            assert_error(r, 400)
            assert "must be available" in r.text, r
            names = [i["Name"] for i in stack.os_cli("image", "list", user="demo")]
            assert "e2e-volimg2" not in names, names
            stack.os_run("volume", "set", "--state", "available", v["id"])
        finally:
            stack.os_run("image", "delete", iid, user="demo", check=False)
    finally:
        stack.os_run("volume", "delete", v["id"], user="demo", check=False)
