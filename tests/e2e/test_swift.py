"""The object store through Swift v1 (issue 10): the real `swift` (python3-swiftclient) and
`openstack container/object` CLIs and raw HTTP against nubo-objproxy, three object
servers behind it; and its faults: an object server killed with SIGKILL during a stream
of writes loses no acknowledged write; a corrupted replica is never served."""
import concurrent.futures
import email.utils
import hashlib
import hmac
import json
import os
import pathlib
import re
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from nubo_e2e import http_request, kill9, wait_for

SWIFT = "/usr/bin/swift"


def conf_value(stack, section, key):
    cur = None
    for line in stack.conf.read_text().splitlines():
        s = line.strip()
        if s.startswith("["):
            cur = s.strip("[]")
        elif cur == section and s.split("=", 1)[0].strip() == key:
            return s.split("=", 1)[1].strip()
    return None


@pytest.fixture(scope="module")
def proxy(stack):
    return conf_value(stack, "objstore", "public_url")


@pytest.fixture(scope="module")
def account(project_ids):
    return "AUTH_" + project_ids["admin"]


@pytest.fixture(scope="module")
def req(stack, proxy, account):
    """req(method, path under the account, user='admin', token=..., headers, raw)."""
    def run(method, path="", user="admin", token=None, headers=None, raw=None, acct=None):
        tok = token if token is not None else stack.token(user)
        h = {"Accept": "*/*"}
        h.update(headers or {})
        url = "%s/v1/%s%s" % (proxy, acct or account, path)
        return http_request(url, method, token=tok or None, headers=h, raw=raw)
    return run


def swift(stack, *args, user="admin", check=True, cwd=None):
    proc = subprocess.run([SWIFT, *[str(a) for a in args]], env=stack.cli_env(user),
                          capture_output=True, text=True, timeout=300, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError("swift %s: %s\n%s" % (args, proc.stdout, proc.stderr))
    return proc


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def test_catalog_lists_object_store(os_cli, proxy):
    cat = os_cli("catalog", "list")
    entry = [c for c in cat if c["Type"] == "object-store"]
    assert entry, cat
    assert proxy in json.dumps(entry)


def test_swift_round_trip(stack, tmp_path):
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    swift(stack, "upload", "--object-name", "dir/big.bin", "e2e-rt", src)
    out = tmp_path / "out.bin"
    swift(stack, "download", "e2e-rt", "dir/big.bin", "-o", out)
    assert sha256(out) == sha256(src)
    listing = swift(stack, "list", "e2e-rt").stdout.split()
    assert listing == ["dir/big.bin"]
    stat = swift(stack, "stat", "e2e-rt", "dir/big.bin").stdout
    assert hashlib.md5(src.read_bytes()).hexdigest() in stat
    assert "Content Length: %d" % src.stat().st_size in stat
    acct = swift(stack, "stat").stdout
    assert "Containers: " in acct and "Bytes: " in acct
    swift(stack, "delete", "e2e-rt")
    assert "e2e-rt" not in swift(stack, "list").stdout.split()


def test_openstack_container_object(stack, os_cli, os_run, tmp_path):
    f = tmp_path / "cat.jpg"
    f.write_bytes(os.urandom(50000))
    os_cli("container", "create", "photos")
    assert "photos" in [c["Name"] for c in os_cli("container", "list")]
    os.chdir(tmp_path)
    os_cli("object", "create", "photos", "cat.jpg")
    objs = os_cli("object", "list", "photos")
    assert [o["Name"] for o in objs] == ["cat.jpg"]
    show = os_cli("container", "show", "photos")
    assert int(show["object_count"]) == 1 and int(show["bytes_used"]) == 50000
    got = tmp_path / "saved.jpg"
    os_run("object", "save", "--file", got, "photos", "cat.jpg")
    assert got.read_bytes() == f.read_bytes()
    o = os_cli("object", "show", "photos", "cat.jpg")
    assert o["etag"] == hashlib.md5(f.read_bytes()).hexdigest()
    os_run("object", "delete", "photos", "cat.jpg")
    os_run("container", "delete", "photos")
    assert "photos" not in [c["Name"] for c in os_cli("container", "list")]


def test_listings_prefix_delimiter_marker(req):
    assert req("PUT", "/e2e-ls").status in (201, 202)
    names = ["a/1", "a/2", "b/1", "c", "d/x/y", "e"]
    for n in names:
        assert req("PUT", "/e2e-ls/" + n, raw=n.encode()).status == 201
    r = req("GET", "/e2e-ls?format=json")
    assert [o["name"] for o in r.json] == names
    assert r.json[0]["bytes"] == 3 and r.json[0]["hash"] == hashlib.md5(b"a/1").hexdigest()
    r = req("GET", "/e2e-ls?delimiter=/&format=json")
    assert [o.get("name", o.get("subdir")) for o in r.json] == ["a/", "b/", "c", "d/", "e"]
    r = req("GET", "/e2e-ls?prefix=a/&format=json")
    assert [o["name"] for o in r.json] == ["a/1", "a/2"]
    r = req("GET", "/e2e-ls?marker=b/1&end_marker=e")
    assert r.text.split() == ["c", "d/x/y"]
    r = req("GET", "/e2e-ls?limit=2")
    assert r.text.split() == ["a/1", "a/2"]
    r = req("GET", "/e2e-ls?prefix=d/&delimiter=/")
    assert r.text.split() == ["d/x/"]
    r = req("GET", "/e2e-ls?format=xml")
    assert r.text.startswith("<?xml") and "<name>b/1</name>" in r.text
    assert req("GET", "/e2e-ls?limit=10001").status == 412
    assert req("GET", "/e2e-ls?delimiter=ab").status == 412
    r = req("HEAD", "/e2e-ls")
    assert r.headers["X-Container-Object-Count"] == "6"
    assert req("DELETE", "/e2e-ls").status == 409
    for n in names:
        assert req("DELETE", "/e2e-ls/" + n).status == 204
    assert req("GET", "/e2e-ls").status == 204
    assert req("DELETE", "/e2e-ls").status == 204
    assert req("GET", "/e2e-ls").status == 404


def test_reverse_listing_over_10000_names(stack, req, account):
    """reverse=true lists downward from the top even when more than 10,000 names are in
    range (review finding 12: it used to take the first 10,000 upward and reverse those),
    with markers, prefix and delimiter. The listing rows are made in the database (the
    listing lives there), not by 10,005 PUTs."""
    assert req("PUT", "/e2e-rev").status in (201, 202)
    stack.sql("INSERT INTO obj_objects (account, container, name, ts, size, etag,"
              " content_type, deleted) SELECT :'p1', 'e2e-rev', 'n' || lpad(i::text, 5, '0'),"
              " '0000000001.00000', 0, 'd41d8cd98f00b204e9800998ecf8427e',"
              " 'application/octet-stream', false FROM generate_series(0, 10004) i", account)
    try:
        r = req("GET", "/e2e-rev?reverse=true&limit=3")
        assert r.text.split() == ["n10004", "n10003", "n10002"], r.text[:200]
        r = req("GET", "/e2e-rev?reverse=true&limit=2&marker=n00002")
        assert r.text.split() == ["n00001", "n00000"]
        r = req("GET", "/e2e-rev?reverse=true&limit=5&marker=n10002&end_marker=n09999")
        assert r.text.split() == ["n10001", "n10000"]
        r = req("GET", "/e2e-rev?reverse=on&prefix=n0999&limit=2")
        assert r.text.split() == ["n09999", "n09998"]
        # a prefix below every name, and one in the middle (review s6 4: downward it
        # starts just above the prefix; it used to read every name above it first)
        assert req("GET", "/e2e-rev?reverse=true&prefix=a&limit=1").status == 204
        r = req("GET", "/e2e-rev?reverse=true&prefix=n05&limit=2&marker=n0600")
        assert r.text.split() == ["n05999", "n05998"], r.text[:200]
        r = req("GET", "/e2e-rev?reverse=true&delimiter=0&limit=3")
        assert r.text.split() == ["n10", "n0"]
        r = req("GET", "/e2e-rev?reverse=true&limit=0")
        assert r.status == 204
        r = req("GET", "/e2e-rev?reverse=true&format=json")
        assert len(r.json) == 10000 and r.json[0]["name"] == "n10004"
        assert r.json[-1]["name"] == "n00005"
    finally:
        stack.sql("DELETE FROM obj_objects WHERE account = :'p1' AND container = 'e2e-rev'",
                  account)
        req("DELETE", "/e2e-rev")


def test_range_conditional_etag(req):
    body = bytes(range(256)) * 40
    req("PUT", "/e2e-rg")
    r = req("PUT", "/e2e-rg/o", raw=body)
    assert r.status == 201 and r.headers["Etag"] == hashlib.md5(body).hexdigest()
    r = req("GET", "/e2e-rg/o", headers={"Range": "bytes=10-19"})
    assert r.status == 206 and r.headers["Content-Range"] == "bytes 10-19/10240"
    raw = _bytes_get("/e2e-rg/o", {"Range": "bytes=10-19"})
    assert raw == body[10:20]
    assert _bytes_get("/e2e-rg/o", {"Range": "bytes=-5"}) == body[-5:]
    assert _bytes_get("/e2e-rg/o", {"Range": "bytes=10000-"}) == body[10000:]
    assert req("GET", "/e2e-rg/o", headers={"Range": "bytes=999999-"}).status == 416
    etag = hashlib.md5(body).hexdigest()
    assert req("GET", "/e2e-rg/o", headers={"If-None-Match": '"%s"' % etag}).status == 304
    assert req("GET", "/e2e-rg/o", headers={"If-Match": '"nope"'}).status == 412
    # a body whose MD5 is not the ETag sent is refused and not stored
    r = req("PUT", "/e2e-rg/bad", raw=b"hello", headers={"Etag": "0" * 32})
    assert r.status == 422
    assert req("HEAD", "/e2e-rg/bad").status == 404
    # Transfer-Encoding: chunked (no Content-Length)
    r = req("PUT", "/e2e-rg/chunked", raw=iter([b"abc", b"defg"]),
            headers={"Transfer-Encoding": "chunked"})
    assert r.status == 201, r
    assert _bytes_get("/e2e-rg/chunked", {}) == b"abcdefg"


def test_sizes_around_the_in_memory_answer(req):
    """A GET of up to 16 KiB is answered from memory by the object server and the proxy,
    a larger one streamed: every size around that bound (and 0, and one past the
    proxy's 64 KiB block) comes back whole and right, ranged too, HEAD with its
    length and no body."""
    req("PUT", "/e2e-sizes")
    for n in (0, 1, 16383, 16384, 16385, 65536, 65537):
        body = os.urandom(n)
        name = "/e2e-sizes/o%d" % n
        r = req("PUT", name, raw=body)
        assert r.status == 201 and r.headers["Etag"] == hashlib.md5(body).hexdigest(), n
        assert _bytes_get(name, {}) == body, n
        if n:
            assert _bytes_get(name, {"Range": "bytes=%d-" % (n // 2)}) == body[n // 2:], n
            assert _bytes_get(name, {"Range": "bytes=-1"}) == body[-1:], n
        r = req("HEAD", name)
        assert r.status == 200 and r.headers["Content-Length"] == str(n), n
        req("DELETE", name)
    req("DELETE", "/e2e-sizes")


def test_client_connection_kept_alive(stack, proxy, account):
    """One client connection carries a whole session (HTTP/1.1 keep-alive): answers
    without a body to send (HEAD, 404, DELETE) and with one (GET, PUT) leave it open;
    the proxy used to close it after every answer, costing a TCP handshake and a
    thread per request."""
    import http.client
    u = urllib.parse.urlsplit(proxy)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    h = {"X-Auth-Token": stack.token("admin")}
    base = "/v1/%s/e2e-keepalive" % account
    steps = [("PUT", base, None, 201), ("PUT", base + "/o", b"x" * 4096, 201),
             ("GET", base + "/o", None, 200), ("HEAD", base + "/o", None, 200),
             ("GET", base + "/missing", None, 404), ("GET", base, None, 200),
             ("DELETE", base + "/o", None, 204), ("DELETE", base, None, 204)]
    ports = set()
    for method, path, body, want in steps:
        conn.request(method, path, body=body, headers=h)
        ports.add(conn.sock.getsockname()[1])
        r = conn.getresponse()
        r.read()
        assert r.status == want, (method, path, r.status)
        assert "close" not in (r.getheader("Connection") or "").lower(), (method, path)
    conn.close()
    assert len(ports) == 1, ports


_BYTES_CTX = {}


def _bytes_get(path, headers):
    """The body bytes of a GET as the admin (Response decodes them as text)."""
    ctx = _BYTES_CTX
    h = {"X-Auth-Token": ctx["token"]}
    h.update(headers)
    rq = urllib.request.Request(ctx["base"] + path, headers=h)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(rq, timeout=60) as resp:
            return resp.read()
    except urllib.error.HTTPError as e:
        return e.read()


@pytest.fixture(autouse=True, scope="module")
def _bytes_ctx(stack, proxy, account):
    _BYTES_CTX["token"] = stack.token("admin")
    _BYTES_CTX["base"] = "%s/v1/%s" % (proxy, account)


def test_metadata_and_copy(stack, req):
    req("PUT", "/e2e-md", headers={"X-Container-Meta-Owner": "alice"})
    assert req("HEAD", "/e2e-md").headers["X-Container-Meta-Owner"] == "alice"
    req("POST", "/e2e-md", headers={"X-Remove-Container-Meta-Owner": "x"})
    assert "X-Container-Meta-Owner" not in req("HEAD", "/e2e-md").headers
    r = req("PUT", "/e2e-md/o", raw=b"payload",
            headers={"X-Object-Meta-Color": "blue", "Content-Type": "text/plain"})
    assert r.status == 201
    h = req("HEAD", "/e2e-md/o").headers
    assert h["X-Object-Meta-Color"] == "blue" and h["Content-Type"] == "text/plain"
    assert h["Content-Length"] == "7" and "X-Timestamp" in h and "Last-Modified" in h
    swift(stack, "post", "-m", "color:red", "e2e-md", "o")
    assert req("HEAD", "/e2e-md/o").headers["X-Object-Meta-Color"] == "red"
    assert _bytes_get("/e2e-md/o", {}) == b"payload"
    # COPY and X-Copy-From keep the bytes and the metadata
    assert req("COPY", "/e2e-md/o", headers={"Destination": "e2e-md/o2"}).status == 201
    assert req("PUT", "/e2e-md/o3", raw=b"", headers={"X-Copy-From": "e2e-md/o"}).status == 201
    for n in ("o2", "o3"):
        assert _bytes_get("/e2e-md/" + n, {}) == b"payload"
        assert req("HEAD", "/e2e-md/" + n).headers["X-Object-Meta-Color"] == "red"
    a = req("HEAD", "")
    assert int(a.headers["X-Account-Bytes-Used"]) >= 21
    assert int(a.headers["X-Account-Object-Count"]) >= 3
    assert re.fullmatch(r"tx[0-9a-f]{21}-[0-9a-f]{10}", a.headers["X-Trans-Id"]), a.headers
    # an object that expired is gone
    req("PUT", "/e2e-md/short", raw=b"x", headers={"X-Delete-After": "1"})
    time.sleep(2.2)
    assert req("GET", "/e2e-md/short").status == 404
    # its listing row goes with the expirer's next pass (every expire_interval, 10 s);
    # until then `swift delete` lists it, its DELETE is 404 and the CLI fails
    wait_for(lambda: "short" not in req("GET", "/e2e-md?format=plain").text.split(), 60, 0.5,
             "the expirer to unlist the expired object")
    swift(stack, "delete", "e2e-md")


def _account_bytes(req):
    return int(req("HEAD", "").headers["X-Account-Bytes-Used"])


def test_expirer_removes_expired_objects(stack, req, account, tmp_path):
    """X-Delete-After: the expirer in nubo-objproxy deletes the object once it is due,
    like a client DELETE: gone from the listing, the usage drops, no .data file is left
    on the devices. One overwritten without the header before it was due survives; one
    whose listing row lost its expiry (rows from before the expirer) goes once read."""
    swift(stack, "post", "e2e-exp")
    short, kept, marker = tmp_path / "short", tmp_path / "kept", tmp_path / "marker"
    short.write_bytes(os.urandom(70000))
    kept.write_bytes(os.urandom(30000))
    marker.write_bytes(b"m")
    base = _account_bytes(req)
    # due in 10 s, overwritten at once without an expiry: must never be deleted
    kept_due = time.time() + 10
    swift(stack, "upload", "--header", "X-Delete-After: 10", "--object-name", "kept",
          "e2e-exp", kept)
    kept.write_bytes(os.urandom(20000))
    swift(stack, "upload", "--object-name", "kept", "e2e-exp", kept)
    assert time.time() < kept_due, "the overwrite came after the expiry: box too slow"
    swift(stack, "upload", "--header", "X-Delete-After: 2", "--object-name", "short",
          "e2e-exp", short)
    assert len(replicas(stack, account, "e2e-exp", "short")) == 3
    assert _account_bytes(req) == base + 90000
    # one whose listing row does not know its expiry, as rows written before the
    # expirer existed: left alone until a read meets it expired
    req("PUT", "/e2e-exp/legacy", raw=b"L", headers={"X-Delete-After": "2"})
    stack.sql("UPDATE obj_objects SET delete_at = NULL WHERE container = 'e2e-exp'"
              " AND name = 'legacy'")
    wait_for(lambda: swift(stack, "list", "e2e-exp").stdout.split() == ["kept", "legacy"],
             120, 1, "the expirer to remove the expired object from the listing")
    assert _account_bytes(req) == base + 20001
    stat = swift(stack, "stat", "e2e-exp").stdout
    assert re.search(r"Objects: 2\b", stat) and re.search(r"Bytes: 20001\b", stat), stat
    assert replicas(stack, account, "e2e-exp", "short") == []
    assert req("GET", "/e2e-exp/short").status == 404
    # a pass that began after kept's old expiry: the one that removes a marker due later
    wait_for(lambda: time.time() > kept_due + 1, 30, 0.5, "kept's old expiry to pass")
    swift(stack, "upload", "--header", "X-Delete-After: 1", "--object-name", "marker",
          "e2e-exp", marker)
    wait_for(lambda: swift(stack, "list", "e2e-exp").stdout.split() == ["kept", "legacy"],
             120, 1, "the expirer to remove the marker")
    assert req("GET", "/e2e-exp/legacy").status == 404  # the read queues it
    wait_for(lambda: swift(stack, "list", "e2e-exp").stdout.split() == ["kept"], 120, 1,
             "the expirer to remove the object a read found expired")
    out = tmp_path / "out"
    swift(stack, "download", "e2e-exp", "kept", "-o", out)
    assert out.read_bytes() == kept.read_bytes()
    assert len(replicas(stack, account, "e2e-exp", "kept")) == 3
    assert _account_bytes(req) == base + 20000
    # the passes reported what they did
    assert "expirer: pass over" in stack.log_tail("nubo-objproxy.log", 400)
    swift(stack, "delete", "e2e-exp")


def curl(url, *args):
    """curl (no token unless given in args) -> (status, {lower header: value}, body)."""
    proc = subprocess.run(["curl", "-sS", "--noproxy", "*", "-D", "-", *args, url],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    # past 100 Continue, and past the redirects -L followed (each dumps its head)
    while head.startswith(b"HTTP/1.1 100") or ("-L" in args and body.startswith(b"HTTP/1.1 ")):
        head, _, body = body.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {k.strip().lower(): v.strip() for k, v in
            (line.split(":", 1) for line in lines[1:] if ":" in line)}
    return int(lines[0].split()[1]), hdrs, body


def test_staticweb(stack, req, proxy, account):
    """Swift's staticweb with curl as the browser: a public container with Web-Index,
    Web-Listings (and CSS), Web-Error serves its site anonymously; paths without their
    trailing slash redirect; names in listings are escaped; a token holder gets the plain
    API unless X-Web-Mode: true; no .r:* means no site."""
    base = "%s/v1/%s/e2e-web" % (proxy, account)
    req("PUT", "/e2e-web", headers={"X-Container-Read": ".r:*,.rlistings"})
    for name, body, ct in (("index.html", b"<h1>home</h1>", "text/html"),
                           ("404error.html", b"<h1>lost</h1>", "text/html"),
                           ("docs/a.txt", b"A", "text/plain"),
                           ("docs/<b>&\"x\".txt", b"B", "text/plain"),
                           ("docs/sub/c.txt", b"C", "text/plain"),
                           ("blog/index.html", b"<h1>blog</h1>", "text/html")):
        path = "/e2e-web/" + urllib.parse.quote(name)
        assert req("PUT", path, raw=body, headers={"Content-Type": ct}).status == 201
    # nothing set yet: the plain API (an anonymous container GET lists, as .rlistings lets)
    st, _, body = curl(base)
    assert st == 200 and b"index.html" in body and b"<html" not in body
    assert req("POST", "/e2e-web", headers={
        "X-Container-Meta-Web-Index": "index.html",
        "X-Container-Meta-Web-Error": "error.html",
        "X-Container-Meta-Web-Listings": "true",
        "X-Container-Meta-Web-Listings-CSS": "site.css"}).status == 204
    st, h, _ = curl(base)
    assert st == 301 and h["location"].endswith("/v1/%s/e2e-web/" % account), h
    st, h, body = curl(base + "/")
    assert (st, body) == (200, b"<h1>home</h1>") and h["content-type"] == "text/html", h
    st, _, body = curl(base, "-L")
    assert (st, body) == (200, b"<h1>home</h1>")
    st, h, body = curl(base + "/", "-I")
    assert st == 200 and h["content-length"] == "13", h
    # a directory with an index, and one without: its listing
    st, h, _ = curl(base + "/blog")
    assert st == 301 and h["location"].endswith("/e2e-web/blog/"), h
    assert curl(base + "/blog/")[2] == b"<h1>blog</h1>"
    st, h, _ = curl(base + "/docs")
    assert st == 301 and h["location"].endswith("/e2e-web/docs/"), h
    st, h, body = curl(base + "/docs/")
    page = body.decode()
    assert st == 200 and h["content-type"].startswith("text/html"), h
    assert "Listing of /v1/%s/e2e-web/docs/" % account in page
    assert '<a href="a.txt">a.txt</a>' in page and '<a href="sub/">sub/</a>' in page
    assert "&lt;b&gt;&amp;&quot;x&quot;.txt</a>" in page and "<b>" not in page
    assert 'href="%3Cb%3E%26%22x%22.txt"' in page
    assert '<link rel="stylesheet" type="text/css" href="../site.css" />' in page
    assert '<a href="../">../</a>' in page
    # the links work: a name from the listing, fetched as a browser would
    assert curl(base + "/docs/%3Cb%3E%26%22x%22.txt")[2] == b"B"
    # missing: 404 with the error page; a plain object is just served
    st, h, body = curl(base + "/nothing/here")
    assert (st, body) == (404, b"<h1>lost</h1>"), (st, body)
    assert curl(base + "/docs/a.txt")[:3:2] == (200, b"A")
    # a token holder gets the API, unless X-Web-Mode: true
    tok = stack.token("admin")
    st, _, body = curl(base, "-H", "X-Auth-Token: " + tok)
    assert st == 200 and b"docs/a.txt" in body and b"<html" not in body
    st, _, _ = curl(base, "-H", "X-Auth-Token: " + tok, "-H", "X-Web-Mode: true")
    assert st == 301
    # listings off: a directory without an index is the error page
    req("POST", "/e2e-web", headers={"X-Remove-Container-Meta-Web-Listings": "x"})
    st, _, body = curl(base + "/docs/")
    assert (st, body) == (404, b"<h1>lost</h1>")
    # not public: no site for anonymous callers
    req("POST", "/e2e-web", headers={"X-Container-Read": "someone-else:*"})
    assert curl(base + "/")[0] == 401
    assert curl(base + "/docs/a.txt")[0] == 401
    info = json.loads(curl(proxy + "/info")[2])
    assert "staticweb" in info
    swift(stack, "delete", "e2e-web")


def _form_sig(key, path, redirect, size, count, expires, digest=hashlib.sha1):
    body = "%s\n%s\n%s\n%s\n%s" % (path, redirect, size, count, expires)
    return hmac.new(key.encode(), body.encode(), digest).hexdigest()


def test_formpost(stack, req, proxy, account, tmp_path):
    """Swift's formpost with real HTTP clients building the form as Swift's docs show it
    (python3-requests and curl -F): signed with the account's or the container's
    Temp-URL-Key (SHA-1, SHA-256), limits on size and count, redirects, expiry and bad
    signatures; a 24 MiB file streams through."""
    import requests
    req("PUT", "/e2e-form")
    akey, ckey = "acct-key-%d" % os.getpid(), "cont-key"
    req("POST", "", headers={"X-Account-Meta-Temp-URL-Key": akey})
    req("POST", "/e2e-form", headers={"X-Container-Meta-Temp-URL-Key": ckey})
    path = "/v1/%s/e2e-form/up/" % account
    url = proxy + path
    sess = requests.Session()
    sess.trust_env = False  # no proxy from the environment

    def form(redirect="", size=1 << 20, count=2, expires=None, key=akey,
             digest=hashlib.sha1, extra=()):
        expires = expires or int(time.time()) + 300
        return [("redirect", redirect), ("max_file_size", str(size)),
                ("max_file_count", str(count)), ("expires", str(expires)),
                ("signature", _form_sig(key, path, redirect, size, count, expires, digest)),
                *extra]

    def files(*named):
        return [("file%d" % i, (n, body, "text/plain")) for i, (n, body) in enumerate(named)]

    # no redirect: the status as text; the object is <path's object part><filename>
    r = sess.post(url, data=form(), files=files(("a.txt", b"hello world")), timeout=60)
    assert (r.status_code, r.text) == (201, "201 Created"), r.text
    assert _bytes_get("/e2e-form/up/a.txt", {}) == b"hello world"
    assert req("HEAD", "/e2e-form/up/a.txt").headers["Content-Type"] == "text/plain"
    # a redirect, two files, the container's key, SHA-256, an expiry field
    r = sess.post(url, data=form("https://example.test/done?x=1", key=ckey,
                                 digest=hashlib.sha256, extra=[("x_delete_after", "3600")]),
                  files=files(("b.txt", b"B"), ("c.txt", b"C" * 1000)), allow_redirects=False,
                  timeout=60)
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "https://example.test/done?x=1&status=201&message="
    assert _bytes_get("/e2e-form/up/c.txt", {}) == b"C" * 1000
    assert int(req("HEAD", "/e2e-form/up/b.txt").headers["X-Delete-At"]) > time.time() + 3000
    # one file more than max_file_count: the first is stored, the redirect says 400
    r = sess.post(url, data=form("https://example.test/", count=1),
                  files=files(("d.txt", b"D"), ("e.txt", b"E")), allow_redirects=False,
                  timeout=60)
    assert r.status_code == 303
    assert r.headers["Location"].endswith("status=400&message=max%20file%20count%20exceeded")
    assert req("HEAD", "/e2e-form/up/d.txt").status == 200
    assert req("HEAD", "/e2e-form/up/e.txt").status == 404
    # too big, expired, badly signed, unsigned: refused and nothing stored
    r = sess.post(url, data=form(size=5), files=files(("f.txt", b"0123456789")), timeout=60)
    assert (r.status_code, r.text) == (400, "FormPost: max_file_size exceeded"), r.text
    r = sess.post(url, data=form(expires=int(time.time()) - 1), files=files(("f.txt", b"x")),
                  timeout=60)
    assert (r.status_code, r.text) == (401, "FormPost: Form Expired"), r.text
    r = sess.post(url, data=form(key="wrong"), files=files(("f.txt", b"x")), timeout=60)
    assert (r.status_code, r.text) == (401, "FormPost: Invalid Signature"), r.text
    r = sess.post(url, data=[("max_file_count", "1")], files=files(("f.txt", b"x")), timeout=60)
    assert r.status_code == 401, r.text
    assert req("HEAD", "/e2e-form/up/f.txt").status == 404
    # a body that is not multipart with the announced boundary
    r = sess.post(url, data=b"nothing", timeout=60,
                  headers={"Content-Type": "multipart/form-data; boundary=zzz"})
    assert (r.status_code, r.text) == (400, "FormPost: invalid starting boundary"), r.text
    # curl -F, and a large file streamed through (never held whole by the proxy)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(24 << 20))
    exp = int(time.time()) + 300
    sig = _form_sig(akey, path, "", 32 << 20, 1, exp)
    proc = subprocess.run(
        ["curl", "-sS", "--noproxy", "*", "-F", "redirect=", "-F", "max_file_size=%d" % (32 << 20),
         "-F", "max_file_count=1", "-F", "expires=%d" % exp, "-F", "signature=" + sig,
         "-F", "file=@%s;filename=big.bin" % big, url], capture_output=True, timeout=300)
    assert proc.stdout == b"201 Created", proc
    out = tmp_path / "out.bin"
    swift(stack, "download", "e2e-form", "up/big.bin", "-o", out)
    assert sha256(out) == sha256(big)
    info = json.loads(curl(proxy + "/info")[2])
    assert "formpost" in info
    req("POST", "", headers={"X-Remove-Account-Meta-Temp-URL-Key": "x"})
    swift(stack, "delete", "e2e-form")


def test_empty_metadata_value_kept(stack, req, proxy, account):
    """Swift keeps object metadata whose value is empty and returns it (PUT, POST,
    COPY); clients (http.client here, swiftclient) read the value as ""."""
    req("PUT", "/e2e-empty")
    r = req("PUT", "/e2e-empty/o", raw=b"data",
            headers={"X-Object-Meta-Blank": "", "X-Object-Meta-Full": "v"})
    assert r.status == 201
    for method in ("HEAD", "GET"):
        h = req(method, "/e2e-empty/o").headers
        assert h.get("X-Object-Meta-Blank") == "" and h["X-Object-Meta-Full"] == "v", h
    assert req("POST", "/e2e-empty/o", headers={"X-Object-Meta-Other": ""}).status == 202
    h = req("HEAD", "/e2e-empty/o").headers
    assert h.get("X-Object-Meta-Other") == "" and "X-Object-Meta-Blank" not in h, h
    r = req("COPY", "/e2e-empty/o", headers={"Destination": "e2e-empty/o2",
                                             "X-Object-Meta-Copy": ""})
    assert r.status == 201 and r.headers.get("X-Object-Meta-Copy") == "", r.headers
    assert r.headers.get("X-Object-Meta-Other") == "", r.headers
    h = req("HEAD", "/e2e-empty/o2").headers
    assert h.get("X-Object-Meta-Copy") == "" and h.get("X-Object-Meta-Other") == "", h
    # python3-swiftclient's own reading (`swift stat` hides empty values, as for Swift)
    import swiftclient.client
    got = swiftclient.client.head_object(proxy + "/v1/" + account, stack.token("admin"),
                                         "e2e-empty", "o2")
    assert got.get("x-object-meta-copy") == "", got
    # a container's empty value still removes the item (Swift's container rule)
    req("POST", "/e2e-empty", headers={"X-Container-Meta-K": "v"})
    req("POST", "/e2e-empty", headers={"X-Container-Meta-K": ""})
    assert "X-Container-Meta-K" not in req("HEAD", "/e2e-empty").headers
    swift(stack, "delete", "e2e-empty")


def test_auth_and_isolation(stack, req, project_ids):
    req("PUT", "/e2e-auth")
    req("PUT", "/e2e-auth/o", raw=b"secret")
    assert req("GET", "/e2e-auth/o", token="").status == 401
    assert req("GET", "/e2e-auth/o", token="not-a-token").status == 401
    # another project's token: 403, and nothing changes
    demo = stack.token("demo")
    assert req("GET", "/e2e-auth/o", token=demo).status == 403
    assert req("PUT", "/e2e-auth/o", token=demo, raw=b"mine").status == 403
    assert req("DELETE", "/e2e-auth/o", token=demo).status == 403
    assert _bytes_get("/e2e-auth/o", {}) == b"secret"
    # demo's own account works
    acct = "AUTH_" + project_ids["demo"]
    assert req("PUT", "/d", token=demo, acct=acct).status == 201
    # a public-read container (.r:*) is readable without a token, not writable
    req("POST", "/e2e-auth", headers={"X-Container-Read": ".r:*"})
    assert _anon_get(req, "/e2e-auth/o") == (200, b"secret")
    assert req("PUT", "/e2e-auth/o", token="", raw=b"x").status == 401
    assert req("DELETE", "/d", token=demo, acct=acct).status == 204


def _anon_get(req, path):
    rq = urllib.request.Request(_BYTES_CTX["base"] + path)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(rq, timeout=60) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_hostile_paths(req, proxy):
    req("PUT", "/e2e-bad")
    assert req("GET", "/e2e-bad/a%00b").status == 400
    assert req("GET", "/e2e-bad/a%zzb").status == 400
    assert req("GET", "/e2e-bad/%ff%fe").status == 412
    assert req("PUT", "/e2e-bad/" + "x" * 1025, raw=b"").status == 400
    assert req("PUT", "/" + "c" * 257).status == 400
    assert req("PUT", "/e2e-bad/o", raw=b"x",
               headers={"X-Object-Meta-" + "k" * 129: "v"}).status == 400
    assert req("PUT", "/e2e-bad/o", raw=b"x", headers={"X-Object-Meta-K": "v" * 257}).status == 400
    assert _no_length_put("/e2e-bad/nolen") == 411  # neither a length nor chunked
    assert http_request(proxy + "/v1/", "GET").status == 400
    assert http_request(proxy + "/v1/notanaccount/c", "GET", token="x").status in (400, 401)
    # names are taken verbatim: a leading '/' is an object named "/x", not "x"
    assert req("PUT", "/e2e-bad//x", raw=b"slash").status == 201
    assert req("GET", "/e2e-bad?format=json").json[0]["name"] == "/x"
    assert req("GET", "/e2e-bad/x").status == 404
    req("DELETE", "/e2e-bad//x")
    req("DELETE", "/e2e-bad/nolen")  # none was made; a stale one from an earlier run goes
    assert req("DELETE", "/e2e-bad").status == 204


def _no_length_put(path):
    """A PUT with neither Content-Length nor Transfer-Encoding: its status."""
    import http.client
    u = urllib.parse.urlsplit(_BYTES_CTX["base"] + path)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.putrequest("PUT", u.path)
    c.putheader("X-Auth-Token", _BYTES_CTX["token"])
    c.endheaders()
    st = c.getresponse().status
    c.close()
    return st


def replicas(stack, account, container, name):
    """The .data files of an object on the stack's devices (one per replica)."""
    h = hashlib.md5(("/%s/%s/%s" % (account, container, name)).encode()).hexdigest()
    devs = stack.root / "var" / "lib" / "nubo" / "objects"
    return sorted(devs.glob("d*/objects/*/%s/%s/*.data" % (h[-3:], h)))


def worker_pids():
    """{device: pid} of this stack's object server workers (comm objsrv-<device>, run
    from the binary under its root). Other stacks on the box name their workers the
    same: a test once SIGSTOPped and killed another stack's d1 worker ('no replica
    left stale', its own d1 never went down)."""
    root = os.path.realpath(os.environ["NUBO_E2E_ROOT"]) + "/"
    out = {}
    for d in pathlib.Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            comm = (d / "comm").read_text().strip()
            exe = os.path.realpath(os.readlink(d / "exe"))
        except OSError:
            continue
        if comm.startswith("objsrv-") and exe.startswith(root):
            out[comm[7:]] = int(d.name)
    return out


def test_kill9_object_server_during_writes(stack, req, account):
    """Every write acknowledged while one object server is SIGKILLed is readable with
    its exact bytes afterwards, and the store keeps taking writes with one down."""
    req("PUT", "/e2e-kill")
    pids = worker_pids()
    assert len(pids) >= 3, pids
    acked, stop = {}, threading.Event()

    def writer(k):
        i = 0
        while not stop.is_set():
            name = "w%d-%d" % (k, i)
            body = os.urandom(20000 + i)
            r = req("PUT", "/e2e-kill/" + name, raw=body)
            if r.status == 201:
                acked[name] = hashlib.sha256(body).hexdigest()
            i += 1
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        futs = [ex.submit(writer, k) for k in range(4)]
        time.sleep(2)
        victim = pids["d2"]
        kill9(victim)
        time.sleep(3)
        stop.set()
        for f in futs:
            f.result()
    assert len(acked) > 20, len(acked)
    for name, digest in acked.items():
        assert hashlib.sha256(_bytes_get("/e2e-kill/" + name, {})).hexdigest() == digest, name
    # the worker is back (the object server restarts it)
    wait_for(lambda: worker_pids().get("d2") not in (None, victim), 30, 0.5, "d2 restarted")
    listing = req("GET", "/e2e-kill?format=json").json
    assert set(acked) <= {o["name"] for o in listing}
    # the replicator gives every object its third copy back
    wait_for(lambda: all(len(replicas(stack, account, "e2e-kill", n)) == 3 for n in acked),
             120, 2, "three replicas of every acknowledged write")


def test_corrupt_replica_is_not_served(stack, req, account):
    body = os.urandom(100000)
    req("PUT", "/e2e-rot")
    assert req("PUT", "/e2e-rot/o", raw=body).status == 201
    devs = stack.root / "var" / "lib" / "nubo" / "objects"
    before = set(devs.glob("d*/quarantined/*"))
    mine = replicas(stack, account, "e2e-rot", "o")  # one per device
    assert len(mine) == 3, mine
    for f in mine[:2]:  # two of three rot
        with open(f, "r+b") as fh:
            fh.seek(8192 + 5000)
            b = fh.read(1)
            fh.seek(8192 + 5000)
            fh.write(bytes([b[0] ^ 0xFF]))
    for _ in range(3):
        assert hashlib.sha256(_bytes_get("/e2e-rot/o", {})).digest() == \
            hashlib.sha256(body).digest()
    quarantined = set(devs.glob("d*/quarantined/*")) - before
    assert len(quarantined) == 2, quarantined
    # the replicator restores the two quarantined copies from the good one
    wait_for(lambda: len(replicas(stack, account, "e2e-rot", "o")) == 3, 120, 2,
             "the quarantined replicas restored")
    for f in replicas(stack, account, "e2e-rot", "o"):
        assert f.read_bytes()[8192:] == body


def test_auditor_quarantines_unread_rot(stack, req, account):
    """A replica nobody reads is found by the auditor and repaired by the replicator."""
    body = os.urandom(30000)
    req("PUT", "/e2e-aud")
    assert req("PUT", "/e2e-aud/o", raw=body).status == 201
    files = replicas(stack, account, "e2e-aud", "o")
    assert len(files) == 3
    with open(files[0], "r+b") as fh:
        fh.seek(8192 + 7)
        b = fh.read(1)
        fh.seek(8192 + 7)
        fh.write(bytes([b[0] ^ 0x01]))
    victim = files[0]
    wait_for(lambda: not victim.exists() or victim.read_bytes()[8192:] == body, 120, 2,
             "the auditor to quarantine the rotten replica")
    wait_for(lambda: len(replicas(stack, account, "e2e-aud", "o")) == 3, 120, 2,
             "the replica restored")
    for f in replicas(stack, account, "e2e-aud", "o"):
        assert f.read_bytes()[8192:] == body


def test_writes_survive_database_outage(stack, req):
    """With PostgreSQL stopped, a container the proxy knows still takes writes (the
    replicas have them at once) and reads; the listing update is spooled and applied
    once the database is back, never lost."""
    req("PUT", "/e2e-db")
    assert req("GET", "/e2e-db").status == 204  # the proxy has seen it
    body = os.urandom(5000)
    stack.nubo_ctl("stop", "postgresql", timeout=120)
    try:
        r = req("PUT", "/e2e-db/during", raw=body)
        assert r.status == 201, r
        assert _bytes_get("/e2e-db/during", {}) == body
        assert req("GET", "/e2e-db").status == 503  # listings need the database
    finally:
        stack.nubo_ctl("start", "postgresql", timeout=120)
    wait_for(lambda: req("GET", "/e2e-db").text.split() == ["during"], 60, 1,
             "the spooled listing update applied")
    assert req("DELETE", "/e2e-db/during").status == 204
    assert req("DELETE", "/e2e-db").status == 204


def test_writes_see_container_changes_and_list_at_once(req):
    """The proxy keeps a container's facts (it exists, a quota is set) for a few seconds
    and commits listing rows in batches: neither may show. A quota set, a quota
    removed, a container deleted or made again holds for the very next write, and
    concurrent writers' objects are all listed as soon as their PUTs are answered."""
    assert req("PUT", "/e2e-facts").status in (201, 202)
    assert req("PUT", "/e2e-facts/a", raw=b"x" * 100).status == 201  # facts now known
    assert req("POST", "/e2e-facts",
               headers={"X-Container-Meta-Quota-Bytes": "150"}).status == 204
    assert req("PUT", "/e2e-facts/b", raw=b"x" * 100).status == 413
    assert req("POST", "/e2e-facts",
               headers={"X-Remove-Container-Meta-Quota-Bytes": "x"}).status == 204
    assert req("PUT", "/e2e-facts/b", raw=b"x" * 100).status == 201
    names = ["c%02d" % i for i in range(16)]
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(lambda n: req("PUT", "/e2e-facts/" + n, raw=n.encode()).status,
                            names))
    assert codes == [201] * 16, codes
    assert req("GET", "/e2e-facts").text.split() == ["a", "b"] + names
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(lambda n: req("DELETE", "/e2e-facts/" + n).status,
                            ["a", "b"] + names))
    assert codes == [204] * 18, codes
    assert req("GET", "/e2e-facts").status == 204  # empty at once
    assert req("DELETE", "/e2e-facts").status == 204
    assert req("PUT", "/e2e-facts/late", raw=b"y").status == 404
    assert req("PUT", "/e2e-facts").status == 201
    assert req("PUT", "/e2e-facts/late", raw=b"y").status == 201
    assert req("DELETE", "/e2e-facts/late").status == 204
    assert req("DELETE", "/e2e-facts").status == 204


def _tempurl(stack, *args):
    """The path and query `swift tempurl ARGS` prints."""
    out = swift(stack, "tempurl", *args).stdout.strip()
    assert out.startswith("/v1/") and "temp_url_sig=" in out, out
    return out


def test_tempurl_swift_cli(stack, req, proxy, account, project_ids, os_run):
    """Temporary URLs as `swift tempurl` signs them (SHA-256 by default, SHA-1 and
    SHA-512 too, ISO 8601 expiry, prefix-based), with the account's or the container's
    key: only the signed method, object (or prefix), time and client addresses (an
    --ip-range) pass, no token needed; a token does not rescue a bad signature. GET shows no private metadata and answers a
    Content-Disposition."""
    import swiftclient.utils
    info = json.loads(urllib.request.build_opener(urllib.request.ProxyHandler({}))
                      .open(proxy + "/info", timeout=30).read())
    assert "sha256" in info["tempurl"]["allowed_digests"], info.get("tempurl")
    assert req("PUT", "/e2e-tu").status in (201, 202)
    assert req("PUT", "/e2e-tu/dir/o.txt", raw=b"secret bytes",
               headers={"X-Object-Meta-Private": "p", "X-Object-Meta-Public-Tag": "t"}
               ).status == 201
    swift(stack, "post", "-m", "Temp-URL-Key:acct-key-1")
    try:
        obj = "/v1/%s/e2e-tu/dir/o.txt" % account
        anon = lambda url, method="GET", raw=None, headers=None: http_request(  # noqa: E731
            proxy + url, method, raw=raw, headers=headers)
        url = _tempurl(stack, "GET", "300", obj, "acct-key-1")
        r = anon(url)
        assert r.status == 200 and r.text == "secret bytes", r
        assert r.headers["Content-Disposition"] == \
            "attachment; filename=\"o.txt\"; filename*=UTF-8''o.txt", r.headers
        assert "X-Object-Meta-Private" not in r.headers, r.headers
        assert r.headers.get("X-Object-Meta-Public-Tag") == "t", r.headers
        assert anon(url + "&inline").headers["Content-Disposition"] == "inline"
        assert 'filename="n.bin"' in anon(url + "&filename=n.bin").headers["Content-Disposition"]
        assert anon(url, "HEAD").status == 200  # a GET URL may HEAD
        # ... and so may a POST one (Swift: HEAD, GET, POST, PUT); GET/HEAD carry the
        # URL's expiry as Expires; a line break in filename= is encoded, not dropped
        post_url = _tempurl(stack, "POST", "300", obj, "acct-key-1")
        assert anon(post_url, "HEAD").status == 200
        when = int(re.search(r"temp_url_expires=(\d+)", url).group(1))
        want = email.utils.formatdate(when, usegmt=True)
        assert r.headers.get("Expires") == want, r.headers
        assert anon(url, "HEAD").headers.get("Expires") == want
        d = anon(url + "&filename=a%0Ab.txt").headers["Content-Disposition"]
        assert d.startswith('attachment; filename="a%0Ab.txt"'), d
        # the signed method only; a tampered signature; another object; a token does not help
        assert anon(url, "DELETE").status == 401
        assert anon(url, "PUT", raw=b"x").status == 401
        bad = re.sub(r"temp_url_sig=([0-9a-f])", lambda m: "temp_url_sig=" +
                     ("0" if m.group(1) != "0" else "1"), url)
        assert anon(bad).status == 401
        r = http_request(proxy + bad, token=stack.token("admin"))
        assert r.status == 401, r
        other = url.replace("/dir/o.txt", "/dir/other.txt")
        assert anon(other).status == 401
        # expired (absolute time in the past), ISO 8601 expiry
        past = _tempurl(stack, "--absolute", "GET", str(int(time.time()) - 10), obj, "acct-key-1")
        assert anon(past).status == 401
        iso = _tempurl(stack, "--iso8601", "GET", "300", obj, "acct-key-1")
        assert "temp_url_expires=20" in iso and anon(iso).status == 200
        # SHA-1 and SHA-512 as swiftclient makes them
        for digest in ("sha1", "sha512"):
            u = swiftclient.utils.generate_temp_url(obj, 300, "acct-key-1", "GET", digest=digest)
            assert anon(u).status == 200, (digest, u)
        # bound to client addresses (--ip-range): from inside the range only; the range
        # is signed (widening it breaks the signature)
        near = _tempurl(stack, "--ip-range", "127.0.0.0/8", "GET", "300", obj, "acct-key-1")
        assert "temp_url_ip_range=127.0.0.0" in near, near
        assert anon(near).status == 200
        assert anon(_tempurl(stack, "--ip-range", "127.0.0.1", "GET", "300", obj,
                             "acct-key-1")).status == 200
        far = _tempurl(stack, "--ip-range", "10.0.0.0/8", "GET", "300", obj, "acct-key-1")
        assert anon(far).status == 401
        widened = re.sub(r"temp_url_ip_range=[^&]*", "temp_url_ip_range=0.0.0.0/0", far)
        assert anon(widened).status == 401
        # PUT through a temp URL, read back
        put = _tempurl(stack, "PUT", "300", "/v1/%s/e2e-tu/up" % account, "acct-key-1")
        assert anon(put, "PUT", raw=b"uploaded").status == 201
        assert _bytes_get("/e2e-tu/up", {}) == b"uploaded"
        # a container's key serves that container only
        swift(stack, "post", "-m", "Temp-URL-Key:cont-key", "e2e-tu")
        assert anon(_tempurl(stack, "GET", "300", obj, "cont-key")).status == 200
        # ... and is shown to its owner only, not to a reader through an ACL (who would
        # sign PUT and DELETE URLs with it)
        assert req("HEAD", "/e2e-tu").headers["X-Container-Meta-Temp-Url-Key"] == "cont-key"
        req("POST", "/e2e-tu", headers={"X-Container-Read": project_ids["demo"] + ":*"})
        r = req("HEAD", "/e2e-tu", user="demo")
        assert r.status == 204 and "X-Container-Meta-Temp-Url-Key" not in r.headers, r.headers
        assert req("PUT", "/e2e-tu2").status in (201, 202)
        assert req("PUT", "/e2e-tu2/o", raw=b"x").status == 201
        assert anon(_tempurl(stack, "GET", "300", "/v1/%s/e2e-tu2/o" % account,
                             "cont-key")).status == 401
        # a large object read through a container key's URL gets no segment of another
        # container; through the account key's it does (Swift's same-container rule)
        assert req("PUT", "/e2e-tu/dlo", raw=b"",
                   headers={"X-Object-Manifest": "e2e-tu2/"}).status == 201
        dlo = "/v1/%s/e2e-tu/dlo" % account
        r = anon(_tempurl(stack, "GET", "300", dlo, "cont-key"))
        assert not (r.status == 200 and r.text == "x"), r
        r = anon(_tempurl(stack, "GET", "300", dlo, "acct-key-1"))
        assert r.status == 200 and r.text == "x", r
        # a PUT/POST URL may not write a manifest (CVE-2015-5223): 400, nothing stored
        put2 = _tempurl(stack, "PUT", "300", "/v1/%s/e2e-tu/planted" % account, "cont-key")
        r = anon(put2, "PUT", raw=b"", headers={"X-Object-Manifest": "e2e-tu2/"})
        assert r.status == 400 and "X-Object-Manifest" in r.text, r
        assert req("HEAD", "/e2e-tu/planted").status == 404
        # the account's key signs URLs for every container: a reader does not see it
        os_run("user", "create", "--password", "e2e-Reader-pw-1", "e2e-tu-reader")
        os_run("role", "add", "--user", "e2e-tu-reader", "--project", "admin", "reader")
        rtok = stack.token("e2e-tu-reader", project="admin", password="e2e-Reader-pw-1")
        assert req("HEAD", "").headers.get("X-Account-Meta-Temp-Url-Key") == "acct-key-1"
        r = req("HEAD", "", token=rtok)
        assert r.status in (200, 204) and "X-Account-Meta-Temp-Url-Key" not in r.headers, \
            r.headers
        # prefix-based: objects under the prefix only
        pre = _tempurl(stack, "--prefix-based", "GET", "300", "/v1/%s/e2e-tu/dir/" % account,
                       "acct-key-1")
        assert "temp_url_prefix=dir%2F" in pre or "temp_url_prefix=dir/" in pre, pre
        assert anon(pre.replace("/e2e-tu/dir/?", "/e2e-tu/dir/o.txt?")).status == 200
        assert anon(pre.replace("/e2e-tu/dir/?", "/e2e-tu/up?")).status == 401
        # a key that is removed signs nothing
        swift(stack, "post", "-m", "Temp-URL-Key:")
        assert anon(url).status == 401
    finally:
        os_run("user", "delete", "e2e-tu-reader", check=False)
        swift(stack, "post", "-m", "Temp-URL-Key:")
        swift(stack, "delete", "e2e-tu", check=False)
        swift(stack, "delete", "e2e-tu2", check=False)


def _tar(members):
    """An uncompressed tar of {name: bytes} (directories implied), as tarfile writes it."""
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in members.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_bulk_extract_and_delete(stack, req, project_ids):
    """Swift's bulk middleware: ?extract-archive=tar makes containers and objects of a tar
    stream (long pax names too); `swift delete` of a container with many objects uses
    ?bulk-delete (one request, not one per object); a bulk delete reports what it did
    not find, the container it could not delete and another project's items."""
    long_name = "deep/" + "n" * 150 + "/leaf.txt"  # past ustar's 100 bytes: a pax header
    members = {"e2e-bulk-a/one.txt": b"1", "e2e-bulk-a/sub/two.txt": b"22",
               "e2e-bulk-b/" + long_name: b"pax", "e2e-bulk-b/empty": b""}
    r = req("PUT", "?extract-archive=tar", raw=_tar(members),
            headers={"Accept": "application/json"})
    assert r.status == 200, r
    assert r.json["Number Files Created"] == 4 and r.json["Errors"] == [], r.json
    assert r.json["Response Status"] == "201 Created", r.json
    assert _bytes_get("/e2e-bulk-a/sub/two.txt", {}) == b"22"
    assert _bytes_get("/e2e-bulk-b/" + long_name, {}) == b"pax"
    # into a container and prefix; a truncated archive is refused in the summary
    r = req("PUT", "/e2e-bulk-a/pre?extract-archive=tar", raw=_tar({"x/y": b"xy"}))
    assert r.status == 200 and "Number Files Created: 1" in r.text, r
    assert _bytes_get("/e2e-bulk-a/pre/x/y", {}) == b"xy"
    r = req("PUT", "/e2e-bulk-a?extract-archive=tar", raw=_tar({"z": b"z" * 700})[:1024])
    assert "Invalid Tar File" in r.text and "400 Bad Request" in r.text, r
    assert req("PUT", "?extract-archive=tar.gz", raw=b"x").status == 400
    # the URL's container is created when missing, as Swift does
    r = req("PUT", "/e2e-bulk-d?extract-archive=tar", raw=_tar({"f": b"d"}),
            headers={"Accept": "application/json"})
    assert r.json["Number Files Created"] == 1 and r.json["Errors"] == [], r.json
    assert _bytes_get("/e2e-bulk-d/f", {}) == b"d"
    # a name that is not UTF-8 is refused and still listed in the JSON Errors, quoted
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as t:
        ti = tarfile.TarInfo(b"bad\xff.txt".decode("utf-8", "surrogateescape"))
        ti.size = 1
        t.addfile(ti, io.BytesIO(b"x"))
    r = req("PUT", "/e2e-bulk-d?extract-archive=tar", raw=buf.getvalue(),
            headers={"Accept": "application/json"})
    assert r.json["Errors"] == [["/e2e-bulk-d/bad%FF.txt", "400 Bad Request"]], r.json
    assert r.json["Response Status"] == "400 Bad Request", r.json
    # a bulk delete: objects, a missing one, a container still holding objects
    body = "\n".join(["/e2e-bulk-a/one.txt", "e2e-bulk-a/sub/two.txt", "/e2e-bulk-a/nope",
                      "/e2e-bulk-b", urllib.parse.quote("/e2e-bulk-b/" + long_name)])
    r = req("POST", "?bulk-delete", raw=body.encode(),
            headers={"Accept": "application/json", "Content-Type": "text/plain"})
    assert r.status == 200, r
    assert (r.json["Number Deleted"], r.json["Number Not Found"]) == (3, 1), r.json
    assert r.json["Errors"] == [["/e2e-bulk-b", "409 Conflict"]], r.json
    assert r.json["Response Status"] == "400 Bad Request", r.json
    # another project's member may not delete here: each item is refused
    r = req("DELETE", "?bulk-delete", user="demo", raw=b"/e2e-bulk-b/empty\n",
            acct="AUTH_" + project_ids["admin"])
    assert r.status == 200 and "403 Forbidden" in r.text and "Number Deleted: 0" in r.text, r
    assert req("HEAD", "/e2e-bulk-b/empty").status == 200
    # swiftclient deletes many objects with one bulk request
    names = ["o%02d" % i for i in range(25)]
    r = req("PUT", "?extract-archive=tar", raw=_tar({"e2e-bulk-c/" + n: n.encode() for n in names}))
    assert "Number Files Created: 25" in r.text, r
    p = swift(stack, "--debug", "delete", "e2e-bulk-c")
    assert p.stderr.count("bulk-delete") >= 1, p.stderr[-2000:]
    assert req("GET", "/e2e-bulk-c").status == 404
    for c in ("e2e-bulk-a", "e2e-bulk-b", "e2e-bulk-d"):
        swift(stack, "delete", c)
