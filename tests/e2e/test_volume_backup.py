"""Volume backups (Cinder's backups API, issue 9) end to end with the real `openstack`
CLI: a full backup of a volume with known bytes, a change, an incremental backup that
uploads only the changed chunk, both restored to new volumes (sha256 of the raw bytes as
they were at each backup), the objects seen with `openstack object list`, Cinder's delete
order (a parent with an incremental child: 400), the backups quota (413, nothing
created) and another project's 404. The pool files are written with qemu-io, as in
test_volume.py; the volumes are 1 GiB but mostly holes, which the backup skips."""
import base64
import json
import uuid

from nubo_e2e import assert_error, http_request, wait_for
from test_volume import qemu_io_write, raw_sha256, vol_file, wait_gone, wait_volume

MIB = 1 << 20
USER = "demo"


def wait_backup(stack, ref, status, user=USER, timeout=180):
    def check():
        b = stack.os_cli("volume", "backup", "show", ref, user=user)
        assert b["status"] != "error" or status == "error", b
        return b if b["status"] == status else None
    return wait_for(check, timeout, 0.5, "backup %s %s" % (ref, status))


def objects(stack, user=USER):
    return sorted(o["Name"] for o in stack.os_cli("object", "list", "volumebackups", user=user))


def revoked_live(stack):
    """How many of USER's unexpired tokens are revoked."""
    return int(stack.sql("SELECT count(*) FROM tokens WHERE revoked AND expires_at > now()"
                         " AND user_id = (SELECT id FROM users WHERE name = :'p1')", USER)[0][0])


def test_backup_incremental_restore_delete_order(stack, os_cli, os_run, project_ids, http,
                                                 tmp_path):
    demo = project_ids["demo"]
    v = os_cli("volume", "create", "--size", "1", "--property", "tier=gold", "e2e-bk-src",
               user=USER)
    made_vols, made_bks = [v["id"]], []
    try:
        wait_volume(stack, v["id"], "available", user=USER)
        f = vol_file(stack, v["id"])
        qemu_io_write(f, 0xa1, 0, 8 * MIB)        # chunks 0 and 1
        qemu_io_write(f, 0xb2, 512 * MIB, MIB)    # chunk 128
        sha_full = raw_sha256(f, tmp_path)

        revoked_before = revoked_live(stack)
        b1 = os_cli("volume", "backup", "create", "--name", "e2e-bk-full", v["id"], user=USER)
        made_bks.append(b1["id"])
        b1 = wait_backup(stack, b1["id"], "available")
        assert b1["is_incremental"] is False and b1["size"] == 1, b1
        assert b1["object_count"] == 4, b1    # three chunks with data and the manifest
        assert b1["container"] == "volumebackups", b1
        full = ["%s/chunk-%05d" % (b1["id"], i) for i in (0, 1, 128)] + [b1["id"] + "/manifest"]
        assert objects(stack) == sorted(full)
        # the token minted for the task left the task and is revoked (review s8 H2)
        assert stack.sql("SELECT 1 FROM tasks WHERE resource_id = :'p1' AND payload ? 'token'",
                         b1["id"]) == []
        assert revoked_live(stack) > revoked_before, "the backup task's token is not revoked"

        qemu_io_write(f, 0xc3, 4 * MIB + 4096, 4096)   # only chunk 1 changes
        sha_incr = raw_sha256(f, tmp_path)
        assert sha_incr != sha_full
        b2 = os_cli("volume", "backup", "create", "--incremental", "--name", "e2e-bk-incr",
                    v["id"], user=USER)
        made_bks.append(b2["id"])
        b2 = wait_backup(stack, b2["id"], "available")
        assert b2["is_incremental"] is True and b2["object_count"] == 2, b2
        assert objects(stack) == sorted(full + [b2["id"] + "/chunk-00001",
                                                b2["id"] + "/manifest"])
        assert os_cli("volume", "backup", "show", b1["id"], user=USER)["has_dependent_backups"]

        # the parent of an incremental is not deleted
        p = os_run("volume", "backup", "delete", b1["id"], user=USER, check=False)
        assert p.returncode != 0 and "Incremental backups exist" in p.stderr, p.stderr

        # each restore has the bytes of its backup's time. (Debian's openstackclient sends
        # `volume backup restore` right but then fails to print the answer, "cannot unpack
        # non-iterable VolumeBackupsRestore object": the restores are asked over HTTP.)
        tok = stack.token(USER)
        for b, sha in ((b1, sha_full), (b2, sha_incr)):
            r = http("POST", "/volume/v3/%s/backups/%s/restore" % (demo, b["id"]),
                     {"restore": {"name": "e2e-bk-to-" + b["name"]}}, token=tok)
            assert r.status == 202, r
            out = r.json["restore"]
            assert out["backup_id"] == b["id"] and out["volume_name"] == "e2e-bk-to-" + b["name"]
            made_vols.append(out["volume_id"])
            rv = wait_volume(stack, out["volume_id"], "available", user=USER)
            assert rv["properties"] in ({"tier": "gold"}, "tier='gold'"), rv  # the source's
            wait_backup(stack, b["id"], "available")
            assert raw_sha256(vol_file(stack, out["volume_id"]), tmp_path) == sha, b["name"]

        # an existing available volume is overwritten (restore --force)
        target = made_vols[-1]
        r = http("POST", "/volume/v3/%s/backups/%s/restore" % (demo, b1["id"]),
                 {"restore": {"volume_id": target}}, token=tok)
        assert r.status == 202 and r.json["restore"]["volume_id"] == target, r
        wait_volume(stack, target, "available", user=USER)
        wait_backup(stack, b1["id"], "available")
        assert raw_sha256(vol_file(stack, target), tmp_path) == sha_full

        # children first: then both go, with their objects
        os_run("volume", "backup", "delete", b2["id"], user=USER)
        wait_gone(stack, "volume backup", b2["id"], user=USER)
        os_run("volume", "backup", "delete", b1["id"], user=USER)
        wait_gone(stack, "volume backup", b1["id"], user=USER)
        made_bks = []
        assert objects(stack) == []
    finally:
        for b in reversed(made_bks):
            os_run("volume", "backup", "delete", "--force", b, check=False)
        for vid in made_vols:
            os_run("volume", "delete", vid, user=USER, check=False)


def test_backup_rules_quota_and_other_project(stack, os_cli, os_run, project_ids, http):
    demo, admin = project_ids["demo"], project_ids["admin"]
    v = os_cli("volume", "create", "--size", "1", "e2e-bk-rules", user=USER)
    tok = stack.token(USER)
    path = "/volume/v3/%s/backups" % demo
    try:
        wait_volume(stack, v["id"], "available", user=USER)
        # no earlier backup: no incremental one
        r = http("POST", path, {"backup": {"volume_id": v["id"], "incremental": True}},
                 token=tok)
        assert_error(r, 400)
        assert "No backups available" in r.text, r.text
        # another project's volume is not found, nor its backup (show, delete, restore)
        admin_vol = os_cli("volume", "create", "--size", "1", "e2e-bk-admin")
        try:
            r = http("POST", path, {"backup": {"volume_id": admin_vol["id"]}}, token=tok)
            assert_error(r, 404)
            wait_volume(stack, admin_vol["id"], "available")
            ab = os_cli("volume", "backup", "create", admin_vol["id"])
            wait_backup(stack, ab["id"], "available", user="admin")
            for method, sub, body in (("GET", "", None), ("DELETE", "", None),
                                      ("POST", "/restore", {"restore": {}})):
                r = http(method, "%s/%s%s" % (path, ab["id"], sub), body, token=tok)
                assert_error(r, 404)
            assert ab["id"] not in [b["id"] for b in http(
                "GET", path + "/detail", token=tok).json["backups"]]
            # export_record / import_record (admins): a second record of the same objects;
            # deleting it leaves them to the first
            apath = "/volume/v3/%s/backups" % admin
            atok = stack.token("admin")
            assert_error(http("GET", "%s/%s/export_record" % (path, ab["id"]), token=tok), 403)
            rec = http("GET", "%s/%s/export_record" % (apath, ab["id"]), token=atok)
            assert rec.status == 200, rec
            rec = rec.json["backup-record"]
            assert rec["backup_service"].startswith("cinder.backup.drivers"), rec
            doc = json.loads(base64.b64decode(rec["backup_url"]))
            new_id = str(uuid.uuid4())
            doc["id"] = new_id
            rec["backup_url"] = base64.b64encode(json.dumps(doc).encode()).decode()
            r = http("POST", apath + "/import_record", {"backup-record": rec}, token=atok)
            assert r.status == 201 and r.json["backup"]["id"] == new_id, r
            assert_error(http("POST", apath + "/import_record", {"backup-record": rec},
                              token=atok), 400)   # that id exists now
            assert_error(http("POST", path + "/import_record", {"backup-record": rec},
                              token=tok), 403)
            assert wait_backup(stack, new_id, "available", user="admin")["size"] == 1
            os_run("volume", "backup", "delete", new_id)
            wait_gone(stack, "volume backup", new_id)
            assert (ab["id"] + "/manifest") in objects(stack, user="admin")
            os_run("volume", "backup", "delete", ab["id"])
            wait_gone(stack, "volume backup", ab["id"])
            assert objects(stack, user="admin") == []
        finally:
            os_run("volume", "delete", admin_vol["id"], check=False)
        # a bad container name
        r = http("POST", path, {"backup": {"volume_id": v["id"], "container": "a/b"}},
                 token=tok)
        assert_error(r, 400)
        # the backups quota: 413 and nothing created
        os_run("quota", "set", "--backups", "0", demo)
        try:
            r = http("POST", path, {"backup": {"volume_id": v["id"]}}, token=tok)
            assert_error(r, 413)
            assert "BackupLimitExceeded" in r.text, r.text
            assert http("GET", path, token=tok).json["backups"] == []
            q = os_cli("quota", "show", demo)
            assert q.get("backups") == 0, q
        finally:
            os_run("quota", "set", "--backups", "10", demo)
        b = http("POST", path, {"backup": {"volume_id": v["id"], "name": "e2e-bk-own"}},
                 token=tok)
        assert b.status == 202, b
        bid = b.json["backup"]["id"]
        wait_backup(stack, bid, "available")
        assert http("GET", "/volume/v3/%s/backups" % demo, token=tok).json["backups"][0][
            "id"] == bid
        os_run("volume", "backup", "delete", bid, user=USER)
        wait_gone(stack, "volume backup", bid, user=USER)
    finally:
        os_run("volume", "delete", v["id"], user=USER, check=False)


def test_backup_with_the_object_store_down_goes_to_error(stack, os_cli, os_run):
    """nubo-objproxy stopped: the backup ends in error with a fail_reason that says the
    object store, and nubo-storage logs it; with the proxy back, a backup works again."""
    v = os_cli("volume", "create", "--size", "1", "e2e-bk-down", user=USER)
    made = []
    try:
        wait_volume(stack, v["id"], "available", user=USER)
        stack.nubo_ctl("stop", "nubo-objproxy")
        try:
            b = os_cli("volume", "backup", "create", v["id"], user=USER)
            made.append(b["id"])
            b = wait_backup(stack, b["id"], "error")
            assert "object store" in (b["fail_reason"] or ""), b
        finally:
            stack.nubo_ctl("start", "nubo-objproxy")
        assert b["id"] in stack.log_tail("nubo-storage.log", 400)

        def again():   # the proxy may take a moment to listen: a failed try is deleted
            x = os_cli("volume", "backup", "create", v["id"], user=USER)
            made.append(x["id"])
            x = wait_for(lambda: (lambda y: y if y["status"] in ("available", "error")
                                  else None)(stack.os_cli("volume", "backup", "show",
                                                          x["id"], user=USER)),
                         120, 0.5, "backup settles")
            return x["status"] == "available"
        wait_for(again, 240, 2, "a backup with the object store back")
    finally:
        for bid in made:
            os_run("volume", "backup", "delete", "--force", bid, check=False)
        for bid in made:
            wait_gone(stack, "volume backup", bid)
        os_run("volume", "delete", v["id"], user=USER, check=False)


def test_the_agents_token_opens_only_the_object_store(stack, os_cli, project_ids, http):
    """Review s8 H2: the token minted for a backup task (the storage agent writes the
    owner's Swift account with it) is limited to that account of the object store:
    every nubo-api API refuses it (403), it makes no other token, Keystone still
    validates it for the object store's proxy, which opens that account with it and no
    other. The agent is held with SIGSTOP so the task, and its token, stay open."""
    import os
    import signal
    demo, admin = project_ids["demo"], project_ids["admin"]
    v = os_cli("volume", "create", "--size", "1", "e2e-bk-token", user=USER)
    wait_volume(stack, v["id"], "available", user=USER)
    pid = stack.daemon_pid("nubo-storage")
    assert pid, "nubo-storage is not running"
    bid = None
    os.kill(pid, signal.SIGSTOP)
    try:
        r = http("POST", "/volume/v3/%s/backups" % demo,
                 {"backup": {"volume_id": v["id"], "name": "e2e-bk-token"}},
                 token=stack.token(USER))
        assert r.status == 202, r
        bid = r.json["backup"]["id"]
        rows = wait_for(lambda: stack.sql(
            "SELECT payload->>'token', payload->>'swift_url' FROM tasks WHERE"
            " resource_kind = 'backup' AND resource_id = :'p1' AND payload ? 'token'", bid),
            30, 0.5, "the backup task")
        tok, url = rows[0]
        assert tok.startswith("nubsAUTH_%s." % demo), tok[:9]
        assert url.endswith("/v1/AUTH_" + demo), url
        # no API of nubo-api takes it
        for path in ("/compute/v2.1/servers", "/identity/v3/projects",
                     "/identity/v3/users", "/volume/v3/%s/volumes" % demo,
                     "/volume/v3/%s/backups" % demo, "/image/v2/images",
                     "/network/v2.0/networks"):
            r = http("GET", path, token=tok)
            assert r.status == 403, (path, r)
        r = http("POST", "/compute/v2.1/os-keypairs", {"keypair": {"name": "e2e-bk-kp"}},
                 token=tok)
        assert r.status == 403, r
        r = http("POST", "/identity/v3/auth/tokens", {"auth": {"identity": {
            "methods": ["token"], "token": {"id": tok}}}})
        assert r.status == 401, r
        r = http("GET", "/identity/v3/auth/tokens", token=tok,
                 headers={"X-Subject-Token": stack.token(USER)})
        assert r.status == 403, r
        # Keystone validates it for the object store's proxy
        r = http("GET", "/identity/v3/auth/tokens", token=tok, headers={"X-Subject-Token": tok})
        assert r.status == 200 and r.json["token"]["project"]["id"] == demo, r
        # the object store: its account, and no other
        r = http_request(url, "HEAD", token=tok)   # 404 until its first container
        assert r.status in (200, 204, 404), r
        r = http_request(url[:-len(demo)] + admin, "HEAD", token=tok)
        assert r.status == 403, r
    finally:
        os.kill(pid, signal.SIGCONT)
    if bid:
        wait_backup(stack, bid, "available")
        # closed with its task: revoked (the proxy may keep a validation up to
        # [objstore] token_cache_seconds)
        import hashlib
        assert stack.sql("SELECT revoked FROM tokens WHERE hash = :'p1'",
                         hashlib.sha256(tok.encode()).hexdigest()) == [["t"]]
        stack.os_run("volume", "backup", "delete", bid, user=USER)
        wait_gone(stack, "volume backup", bid, user=USER)
    stack.os_run("volume", "delete", v["id"], user=USER, check=False)
