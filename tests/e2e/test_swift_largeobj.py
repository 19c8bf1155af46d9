"""Swift large objects, container quotas and newest-replica reads (issue 10), with the real
`swift` (python3-swiftclient) and raw HTTP against nubo-objproxy: `swift upload
--segment-size` (a dynamic large object: X-Object-Manifest) and `--use-slo` (a static
one: ?multipart-manifest=put/get/delete) round trip with sha256 equality and ranges
across segment boundaries; a bad manifest is refused with 400; a container over its
X-Container-Meta-Quota-Bytes/-Count answers 413; and after an object server is SIGKILLed
while objects are overwritten, a GET serves the newest version, never the stale replica
the restarted server still holds."""
import hashlib
import json
import os
import signal
import time
import urllib.error
import urllib.request

import pytest

from nubo_e2e import kill9, wait_for
from test_swift import (  # noqa: F401  (fixtures and helpers shared with test_swift)
    account, conf_value, proxy, replicas, req, sha256, swift, worker_pids)

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def raw_get(stack, proxy, account, path, headers=None):
    """(status, headers, body bytes) of a GET under the account."""
    h = {"X-Auth-Token": stack.token("admin")}
    h.update(headers or {})
    r = urllib.request.Request("%s/v1/%s%s" % (proxy, account, path), headers=h)
    try:
        with _opener.open(r, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_dlo_swift_upload_segment_size(stack, proxy, account, req, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 4321))
    swift(stack, "upload", "--segment-size", "1048576", "--object-name", "big.bin", "e2e-dlo",
          src)
    h = req("HEAD", "/e2e-dlo/big.bin").headers
    assert h["X-Object-Manifest"].startswith("e2e-dlo_segments/"), dict(h)
    assert int(h["Content-Length"]) == src.stat().st_size
    seg = req("GET", "/e2e-dlo_segments?format=json").json
    assert len(seg) == 4, seg
    want = hashlib.md5("".join(s["hash"] for s in seg).encode()).hexdigest()
    assert h["Etag"] == '"%s"' % want
    out = tmp_path / "out.bin"
    swift(stack, "download", "e2e-dlo", "big.bin", "-o", out)
    assert sha256(out) == sha256(src)
    # a range across the first segment boundary
    data = src.read_bytes()
    st, rh, body = raw_get(stack, proxy, account, "/e2e-dlo/big.bin",
                           {"Range": "bytes=1048570-1048580"})
    assert st == 206 and body == data[1048570:1048581], (st, len(body))
    assert rh["Content-Range"] == "bytes 1048570-1048580/%d" % len(data)
    st, _, body = raw_get(stack, proxy, account, "/e2e-dlo/big.bin", {"Range": "bytes=-10"})
    assert st == 206 and body == data[-10:]
    st, _, _ = raw_get(stack, proxy, account, "/e2e-dlo/big.bin",
                       {"Range": "bytes=%d-" % (len(data) + 5)})
    assert st == 416
    swift(stack, "delete", "e2e-dlo", "big.bin")
    assert req("GET", "/e2e-dlo_segments?format=json").json in (None, [])
    swift(stack, "delete", "e2e-dlo")
    swift(stack, "delete", "e2e-dlo_segments", check=False)


def test_slo_swift_upload_use_slo(stack, req, tmp_path):
    src = tmp_path / "s.bin"
    src.write_bytes(os.urandom(2 * 1024 * 1024 + 99))
    swift(stack, "upload", "--use-slo", "--segment-size", "1048576", "--object-name", "s.bin",
          "e2e-slo", src)
    h = req("HEAD", "/e2e-slo/s.bin").headers
    assert h["X-Static-Large-Object"] == "True", dict(h)
    assert int(h["Content-Length"]) == src.stat().st_size
    assert not any(k.lower().startswith("x-object-sysmeta") for k in h.keys()), dict(h)
    out = tmp_path / "o.bin"
    swift(stack, "download", "e2e-slo", "s.bin", "-o", out)
    assert sha256(out) == sha256(src)
    swift(stack, "delete", "e2e-slo", "s.bin")  # multipart-manifest=delete: segments go too
    assert req("GET", "/e2e-slo_segments?format=json").json in (None, [])
    swift(stack, "delete", "e2e-slo")
    swift(stack, "delete", "e2e-slo_segments", check=False)


def test_slo_manifest_put_get_delete(stack, proxy, account, req):
    req("PUT", "/e2e-slo2")
    a, b = os.urandom(1500), os.urandom(700)
    assert req("PUT", "/e2e-slo2/a", raw=a).status == 201
    assert req("PUT", "/e2e-slo2/b", raw=b).status == 201
    ma, mb = hashlib.md5(a).hexdigest(), hashlib.md5(b).hexdigest()
    manifest = [{"path": "/e2e-slo2/a", "etag": ma, "size_bytes": 1500},
                {"path": "e2e-slo2/b", "etag": None, "size_bytes": None}]
    r = req("PUT", "/e2e-slo2/m?multipart-manifest=put", raw=json.dumps(manifest).encode())
    assert r.status == 201, r
    assert r.headers["Etag"] == '"%s"' % hashlib.md5((ma + mb).encode()).hexdigest()
    st, h, body = raw_get(stack, proxy, account, "/e2e-slo2/m")
    assert st == 200 and body == a + b and h["X-Static-Large-Object"] == "True"
    st, _, body = raw_get(stack, proxy, account, "/e2e-slo2/m", {"Range": "bytes=1498-1502"})
    assert st == 206 and body == (a + b)[1498:1503]
    st, h, body = raw_get(stack, proxy, account, "/e2e-slo2/m?multipart-manifest=get")
    got = json.loads(body)
    assert [(s["name"], s["hash"], s["bytes"]) for s in got] == \
        [("/e2e-slo2/a", ma, 1500), ("/e2e-slo2/b", mb, 700)]
    # the listing counts the manifest by its own bytes
    names = [o["name"] for o in req("GET", "/e2e-slo2?format=json").json]
    assert names == ["a", "b", "m"]
    # bad manifests: 400 with Swift's reason, nothing written
    bad = [{"path": "/e2e-slo2/a", "etag": "0" * 32, "size_bytes": 1500}]
    r = req("PUT", "/e2e-slo2/bad?multipart-manifest=put", raw=json.dumps(bad).encode())
    assert r.status == 400 and "Etag Mismatch" in r.text, r
    r = req("PUT", "/e2e-slo2/bad?multipart-manifest=put",
            raw=json.dumps([{"path": "/e2e-slo2/none"}]).encode())
    assert r.status == 400 and "404 Not Found" in r.text, r
    r = req("PUT", "/e2e-slo2/bad?multipart-manifest=put", raw=b"{not json")
    assert r.status == 400, r
    r = req("PUT", "/e2e-slo2/bad?multipart-manifest=put", raw=b"[]")
    assert r.status == 400, r
    assert req("HEAD", "/e2e-slo2/bad").status == 404
    # delete the manifest and its segments
    r = req("DELETE", "/e2e-slo2/m?multipart-manifest=delete",
            headers={"Accept": "application/json"})
    assert r.status == 200 and r.json["Number Deleted"] == 3, r
    assert req("GET", "/e2e-slo2?format=json").json in (None, [])
    assert req("DELETE", "/e2e-slo2").status == 204


def test_container_quota_bytes_and_count(stack, req):
    req("PUT", "/e2e-quota")
    r = req("POST", "/e2e-quota", headers={"X-Container-Meta-Quota-Bytes": "100",
                                           "X-Container-Meta-Quota-Count": "3"})
    assert r.status == 204
    assert req("PUT", "/e2e-quota/a", raw=b"x" * 60).status == 201
    r = req("PUT", "/e2e-quota/b", raw=b"x" * 50)
    assert r.status == 413 and "quota" in r.text, r
    assert req("HEAD", "/e2e-quota/b").status == 404
    assert req("PUT", "/e2e-quota/c", raw=b"y" * 40).status == 201  # exactly 100
    # three objects at most
    req("POST", "/e2e-quota", headers={"X-Container-Meta-Quota-Bytes": "1000"})
    assert req("PUT", "/e2e-quota/d", raw=b"z").status == 201
    r = req("PUT", "/e2e-quota/e", raw=b"z")
    assert r.status == 413, r
    # lifting the quota lets writes through again
    req("POST", "/e2e-quota", headers={"X-Remove-Container-Meta-Quota-Count": "x"})
    assert req("PUT", "/e2e-quota/e", raw=b"z").status == 201
    swift(stack, "delete", "e2e-quota")


def test_get_serves_newest_replica_after_kill9(stack, req, account):
    """Objects written, then overwritten while one object server is SIGKILLed (and kept
    down: its supervisor is stopped meanwhile): once it is back with its stale copies,
    every GET with X-Newest: true answers the newest version. (A plain GET asks only
    the first primary that has the object, as Swift does, and may answer a stale copy
    until the replicator has pushed the newer one; tests/unit/test_store_read.c checks
    which replicas each kind of read asks.)"""
    req("PUT", "/e2e-newest")
    names = ["o%02d" % i for i in range(24)]
    for n in names:
        assert req("PUT", "/e2e-newest/" + n, raw=b"old-" + n.encode()).status == 201
    pids = worker_pids()
    victim = pids["d1"]
    # its supervisor is stopped first, so the worker stays down for all the overwrites
    # (racing its restarts let a new worker take some of them, or all on a slow box)
    parent = ppid_of(victim)
    os.kill(parent, signal.SIGSTOP)
    new = {}
    try:
        kill9(victim)
        for n in names:
            body = b"new-" + n.encode() + os.urandom(8)
            r = req("PUT", "/e2e-newest/" + n, raw=body)
            assert r.status == 201, r
            new[n] = body
        # d1 (down) still holds the old bytes of every object
        stale = [n for n in names
                 if any(f.read_bytes()[8192:].startswith(b"old-")
                        for f in replicas(stack, account, "e2e-newest", n))]
    finally:
        os.kill(parent, signal.SIGCONT)
    wait_for(lambda: worker_pids().get("d1"), 60, 0.2, "d1 restarted")
    assert stale, ("no replica left stale: the test proves nothing",
                   {n: [(f.parent.parent.parent.parent.parent.name, f.read_bytes()[8192:8200])
                        for f in replicas(stack, account, "e2e-newest", n)] for n in names[:3]})
    for n in names:
        body = _get_bytes(stack, account, "/e2e-newest/" + n, {"X-Newest": "true"})
        assert body == new[n], (n, body[:12], "stale replicas: %s" % stale)
    swift(stack, "delete", "e2e-newest", check=False)  # cleanup; the box may be slow


def ppid_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[1])


def _get_bytes(stack, account, path, headers=None):
    st, _, body = raw_get(stack, conf_value(stack, "objstore", "public_url"), account, path,
                          headers)
    assert st == 200, (path, st)
    return body


def test_account_quota_set_by_admin_only(stack, req, project_ids):
    """X-Account-Meta-Quota-Bytes/-Count (Swift's account_quotas): the project's own
    member cannot set them (403); the admin can, on the project's account; a PUT past
    either answers 413 and writes nothing; removing the quota lets it through."""
    demo = stack.token("demo")
    acct = "AUTH_" + project_ids["demo"]
    assert req("PUT", "/e2e-aq", token=demo, acct=acct).status in (201, 202)
    r = req("POST", "", token=demo, acct=acct, headers={"X-Account-Meta-Quota-Bytes": "1"})
    assert r.status == 403, r
    used = int(req("HEAD", "", token=demo, acct=acct).headers["X-Account-Bytes-Used"])
    r = req("POST", "", acct=acct, headers={"X-Account-Meta-Quota-Bytes": str(used + 10)})
    assert r.status == 204, r
    assert req("HEAD", "", token=demo, acct=acct).headers["X-Account-Meta-Quota-Bytes"] == \
        str(used + 10)
    assert req("PUT", "/e2e-aq/small", token=demo, acct=acct, raw=b"x" * 10).status == 201
    r = req("PUT", "/e2e-aq/big", token=demo, acct=acct, raw=b"x" * 5)
    assert r.status == 413, r
    assert req("HEAD", "/e2e-aq/big", token=demo, acct=acct).status == 404
    r = req("POST", "", acct=acct, headers={"X-Remove-Account-Meta-Quota-Bytes": "x"})
    assert r.status == 204
    count = int(req("HEAD", "", token=demo, acct=acct).headers["X-Account-Object-Count"])
    req("POST", "", acct=acct, headers={"X-Account-Meta-Quota-Count": str(count)})
    assert req("PUT", "/e2e-aq/big", token=demo, acct=acct, raw=b"x" * 5).status == 413
    req("POST", "", acct=acct, headers={"X-Remove-Account-Meta-Quota-Count": "x"})
    assert req("PUT", "/e2e-aq/big", token=demo, acct=acct, raw=b"x" * 5).status == 201
    for n in ("small", "big"):
        req("DELETE", "/e2e-aq/" + n, token=demo, acct=acct)
    assert req("DELETE", "/e2e-aq", token=demo, acct=acct).status == 204


def test_segments_obey_the_callers_acls(stack, req, project_ids):
    """Review finding 3: a project granted read and write on one container of another
    account ('shared') reaches none of the account's private objects through large objects
    or copies: a DLO or SLO over them is refused, an SLO manifest naming them answers 403
    (no existence or ETag oracle), a manifest delete leaves them, and neither X-Copy-From
    nor COPY's Destination leaves 'shared'."""
    demo = stack.token("demo")
    grant = "%s:*" % project_ids["demo"]
    req("PUT", "/e2e-acl-priv")
    assert req("PUT", "/e2e-acl-priv/secret", raw=b"top secret bytes").status == 201
    req("PUT", "/e2e-acl-shared", headers={"X-Container-Read": grant,
                                           "X-Container-Write": grant})
    assert req("PUT", "/e2e-acl-shared/ok", raw=b"shared bytes").status == 201
    # the grant works for the shared container itself
    assert req("GET", "/e2e-acl-shared/ok", token=demo).text == "shared bytes"
    # a DLO over the private container
    assert req("PUT", "/e2e-acl-shared/dlo", token=demo, raw=b"",
               headers={"X-Object-Manifest": "e2e-acl-priv/"}).status == 201
    r = req("GET", "/e2e-acl-shared/dlo", token=demo)
    assert r.status == 403 and "top secret" not in r.text, r
    assert req("HEAD", "/e2e-acl-shared/dlo", token=demo).status == 403
    # the owner still reads it (the DLO itself is fine)
    assert req("GET", "/e2e-acl-shared/dlo").text == "top secret bytes"
    # an SLO naming a private object, existing or not, with or without a right ETag
    for path, etag in (("/e2e-acl-priv/secret", None), ("/e2e-acl-priv/nothing", None),
                       ("/e2e-acl-priv/secret", "0" * 32)):
        r = req("PUT", "/e2e-acl-shared/slo?multipart-manifest=put", token=demo,
                raw=json.dumps([{"path": path, "etag": etag, "size_bytes": None}]).encode())
        assert r.status == 400 and "403 Forbidden" in r.text, r
        assert "404" not in r.text and "Mismatch" not in r.text, r
    assert req("HEAD", "/e2e-acl-shared/slo", token=demo).status == 404
    # an SLO the owner made over a private segment: demo can neither read nor delete it
    r = req("PUT", "/e2e-acl-shared/own?multipart-manifest=put",
            raw=json.dumps([{"path": "/e2e-acl-priv/secret"}]).encode())
    assert r.status == 201, r
    r = req("GET", "/e2e-acl-shared/own", token=demo)
    assert r.status == 403 and "top secret" not in r.text, r
    r = req("GET", "/e2e-acl-shared/own?multipart-manifest=get", token=demo)
    assert r.status == 200  # the manifest is the shared container's own object
    r = req("DELETE", "/e2e-acl-shared/own?multipart-manifest=delete", token=demo)
    assert r.status == 403, r
    assert req("GET", "/e2e-acl-priv/secret").text == "top secret bytes"
    assert req("HEAD", "/e2e-acl-shared/own").status == 200
    # copies: the source is read and the destination written as the caller
    r = req("PUT", "/e2e-acl-shared/stolen", token=demo, raw=b"",
            headers={"X-Copy-From": "e2e-acl-priv/secret"})
    assert r.status == 403, r
    assert req("HEAD", "/e2e-acl-shared/stolen").status == 404
    r = req("COPY", "/e2e-acl-shared/ok", token=demo,
            headers={"Destination": "e2e-acl-priv/planted"})
    assert r.status == 403, r
    assert req("HEAD", "/e2e-acl-priv/planted").status == 404
    # within the shared container both still work for demo
    r = req("COPY", "/e2e-acl-shared/ok", token=demo, headers={"Destination": "e2e-acl-shared/c"})
    assert r.status == 201, r
    r = req("PUT", "/e2e-acl-shared/seg-slo?multipart-manifest=put", token=demo,
            raw=json.dumps([{"path": "/e2e-acl-shared/ok"}]).encode())
    assert r.status == 201, r
    assert req("GET", "/e2e-acl-shared/seg-slo", token=demo).text == "shared bytes"
    # the manifests go first, alone: `swift delete` of the container deletes an SLO with
    # multipart-manifest=delete, which removes its segment 'ok' while a parallel worker
    # deletes 'ok' too, and that worker's 404 fails the command (seen in CI)
    for name in ("seg-slo", "own"):
        assert req("DELETE", "/e2e-acl-shared/" + name).status == 204
    swift(stack, "delete", "e2e-acl-shared")
    swift(stack, "delete", "e2e-acl-priv")


def test_copies_count_against_quotas(stack, req):
    """Review finding 5: a server-side copy (X-Copy-From and COPY) into a container over its
    X-Container-Meta-Quota-Bytes is refused with 413 as Swift's container_quotas does."""
    req("PUT", "/e2e-qsrc")
    assert req("PUT", "/e2e-qsrc/o", raw=b"x" * 60).status == 201
    req("PUT", "/e2e-qcopy", headers={"X-Container-Meta-Quota-Bytes": "100"})
    r = req("PUT", "/e2e-qcopy/a", raw=b"", headers={"X-Copy-From": "e2e-qsrc/o"})
    assert r.status == 201, r
    r = req("PUT", "/e2e-qcopy/b", raw=b"", headers={"X-Copy-From": "e2e-qsrc/o"})
    assert r.status == 413 and "quota" in r.text, r
    r = req("COPY", "/e2e-qsrc/o", headers={"Destination": "e2e-qcopy/c"})
    assert r.status == 413, r
    assert req("HEAD", "/e2e-qcopy/b").status == 404
    assert req("HEAD", "/e2e-qcopy/c").status == 404
    swift(stack, "delete", "e2e-qcopy")
    swift(stack, "delete", "e2e-qsrc")
