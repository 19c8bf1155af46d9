"""Object store faults (issue 10): one object server's device really fills up. Its node
answers 507, a write still succeeds with quorum and lands on a handoff device, the
object reads back whole, and once the device has room again the replicator moves the
handoff copy back to it.

The stack's ring has three devices for three replicas, so there is no handoff: the
test adds a fourth device (d4) without a rebalance (it holds no partition, so it is
only ever a handoff) and restarts the object server to serve it. The full device is a
small tmpfs mounted over d1's directory and filled with a file until its free space is
below the object server's reserve (its own statvfs rule). Everything (the mount, the
ring, d4) is put back in `finally`."""
import hashlib
import os
import pathlib
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

from nubo_e2e import http_request, wait_for
from test_swift import account, conf_value, proxy, req, worker_pids  # noqa: F401 (fixtures)
from test_swift import replicas as replicas_of

MiB = 1 << 20


def ring_devices(text):
    """{name: (host, port)} of the ring's devices."""
    out = {}
    for line in text.splitlines():
        f = line.split()
        if f and f[0] == "device":
            host, port = f[6].rsplit(":", 1)
            out[f[7]] = (host, int(port))
    return out


def ring_part_power(text):
    for line in text.splitlines():
        if line.startswith("part_power "):
            return int(line.split()[1])
    raise AssertionError("no part_power in the ring")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def data_files(dev, name_hash):
    return sorted(dev.glob("objects/*/%s/%s/*.data" % (name_hash[-3:], name_hash)))


def listening(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def get_bytes(stack, proxy, account, path):
    """The body bytes of a GET as the admin (nubo_e2e's Response keeps text only)."""
    rq = urllib.request.Request("%s/v1/%s%s" % (proxy, account, path),
                                headers={"X-Auth-Token": stack.token("admin")})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(rq, timeout=60) as resp:
        return resp.read()


def avail(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_full_device_answers_507_and_write_lands_on_handoff(stack, req, proxy, account):
    etc = stack.root / "etc" / "nubo"
    ring_file = etc / "object.ring"
    manage = stack.root / "usr" / "local" / "lib" / "nubo" / "nubo-manage"
    devs_dir = stack.root / "var" / "lib" / "nubo" / "objects"
    d1, d4 = devs_dir / "d1", devs_dir / "d4"
    reserve = int(conf_value(stack, "objstore", "reserve_mb") or 64) * MiB
    ring_before = ring_file.read_text()
    devs = ring_devices(ring_before)
    assert set(devs) == {"d1", "d2", "d3"}, devs
    pp = ring_part_power(ring_before)
    st = d1.stat()
    req("PUT", "/e2e-full")
    mounted = False
    try:
        # d4: a device in a zone of its own, weight but no partitions (a handoff only)
        d4.mkdir(mode=0o750)
        os.chown(d4, st.st_uid, st.st_gid)
        d4_port = free_port()
        subprocess.run([str(manage), "ring", "add", str(ring_file), "4", "100",
                        "127.0.0.1:%d" % d4_port, "d4"], check=True, capture_output=True)
        os.chmod(ring_file, 0o644)
        assert "d4" in ring_devices(ring_file.read_text())
        stack.nubo_ctl("restart", "nubo-objserver")
        wait_for(lambda: {"d1", "d2", "d3", "d4"} <= set(worker_pids()) and
                 all(listening(p) for _, p in list(devs.values()) + [("", d4_port)]),
                 60, 0.5, "four object server workers")

        # d1 fills up: a tmpfs over its directory, filled below the reserve
        subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=%d,uid=%d,gid=%d,mode=0750" % (reserve + 64 * MiB, st.st_uid,
                                                             st.st_gid),
                        "nubo-e2e-full", str(d1)], check=True)
        mounted = True
        for sub in ("tmp", "objects"):
            (d1 / sub).mkdir()
            os.chown(d1 / sub, st.st_uid, st.st_gid)
        filler = d1 / "filler"
        with open(filler, "wb") as f:
            block = b"\0" * MiB
            while avail(d1) >= reserve - 8 * MiB:
                f.write(block)
                f.flush()
        assert avail(d1) < reserve

        names = ["o%d" % i for i in range(6)]
        bodies = {n: os.urandom(40000 + i) for i, n in enumerate(names)}
        hashes = {n: hashlib.md5(("/%s/e2e-full/%s" % (account, n)).encode()).hexdigest()
                  for n in names}

        # the full node itself says so
        n0 = names[0]
        part = int(hashes[n0][:8], 16) >> (32 - pp)
        host, port = devs["d1"]
        r = http_request("http://%s:%d/d1/%d/%s/e2e-full/%s" % (host, port, part, account, n0),
                         "PUT", raw=b"",
                         headers={"X-Timestamp": "%016.5f" % time.time(),
                                  "Content-Type": "application/octet-stream"})
        assert r.status == 507, r

        # writes still succeed (quorum), one replica on the handoff, none on d1
        for n in names:
            assert req("PUT", "/e2e-full/" + n, raw=bodies[n]).status == 201, n
        for n in names:
            assert get_bytes(stack, proxy, account, "/e2e-full/" + n) == bodies[n], n
            assert data_files(d1, hashes[n]) == [], n
            for d in ("d2", "d3", "d4"):
                assert len(data_files(devs_dir / d, hashes[n])) == 1, (n, d)

        # room again: the replicator moves the handoff copies back to d1
        filler.unlink()
        wait_for(lambda: all(data_files(d1, hashes[n]) and not data_files(d4, hashes[n])
                             for n in names), 120, 2, "handoff copies returned to d1")
        for n in names:
            f = data_files(d1, hashes[n])
            assert len(f) == 1 and f[0].read_bytes()[8192:] == bodies[n], n
            assert get_bytes(stack, proxy, account, "/e2e-full/" + n) == bodies[n], n
    finally:
        if mounted:
            if subprocess.run(["umount", str(d1)]).returncode != 0:
                subprocess.run(["umount", "-l", str(d1)], check=True)
        if ring_file.read_text() != ring_before:
            tmp = etc / "object.ring.e2e"
            tmp.write_text(ring_before)
            os.chmod(tmp, 0o644)
            os.replace(tmp, ring_file)
            stack.nubo_ctl("restart", "nubo-objserver")
        subprocess.run(["rm", "-rf", "--one-file-system", str(d4)], check=True)
    assert not os.path.ismount(d1)


def test_put_does_not_wait_for_a_stalled_replica(stack, req, proxy, account):
    """A replica that stops (its worker SIGSTOPped) after it has taken part of a PUT's
    body does not hold the PUT: once two replicas have synced it, the answer comes
    within the post-quorum wait (2 s), not after the replica answer timeout (60 s:
    before, the proxy read every replica's answer with that timeout). The object reads
    back whole; the stalled replica is resumed in `finally`."""
    from urllib.parse import urlparse
    devs_dir = stack.root / "var" / "lib" / "nubo" / "objects"
    req("PUT", "/e2e-stall")
    pids = worker_pids()
    assert {"d1", "d2", "d3"} <= set(pids), pids
    body = os.urandom(64 * 1024)
    half = len(body) // 2
    u = urlparse(proxy)
    s = socket.create_connection((u.hostname, u.port), timeout=120)
    stopped = None
    try:
        s.sendall(("PUT /v1/%s/e2e-stall/obj HTTP/1.1\r\nHost: %s\r\nX-Auth-Token: %s\r\n"
                   "Content-Length: %d\r\nConnection: close\r\n\r\n"
                   % (account, u.netloc, stack.token("admin"), len(body))).encode() + body[:half])

        def all_started():
            # each replica's temporary file holds the first half: every one of them
            # accepted the PUT and is now taking its body
            got = {}
            for d in ("d1", "d2", "d3"):
                tmps = list((devs_dir / d / "tmp").glob("put.*"))
                got[d] = max((t.stat().st_size for t in tmps if t.exists()), default=0)
            return all(v >= half for v in got.values())
        wait_for(all_started, 60, interval=0.05, what="the three replicas taking the body")
        stopped = pids["d1"]
        os.kill(stopped, signal.SIGSTOP)
        t0 = time.monotonic()
        s.sendall(body[half:])
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
        took = time.monotonic() - t0
        assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
        assert took < 20, "the PUT waited %.1f s for the stalled replica" % took
    finally:
        s.close()
        if stopped:
            os.kill(stopped, signal.SIGCONT)
    assert hashlib.md5(get_bytes(stack, proxy, account, "/e2e-stall/obj")).hexdigest() == \
        hashlib.md5(body).hexdigest()


def _objsrv_put(host, port, path, ts, chunks, trailer, etag=None, cut=False, length=None):
    """A proxy-style PUT straight to an object server: a chunked body announced with the
    MD5 trailer (object-store/objfile.h OBJFILE_ETAG_TRAILER), `trailer` its value (None:
    the last chunk comes without it). cut: the connection closes after the first chunk.
    length: the announced length (default: the chunks' bytes). The answer's status and
    head (None when cut)."""
    size = sum(len(c) for c in chunks) if length is None else length
    head = ("PUT %s HTTP/1.1\r\nHost: %s:%d\r\nX-Timestamp: %s\r\n"
            "Content-Type: application/octet-stream\r\nTrailer: X-Backend-Etag\r\n"
            "X-Backend-Obj-Content-Length: %s\r\nTransfer-Encoding: chunked\r\n"
            "%sConnection: close\r\n\r\n"
            % (path, host, port, ts, size, "Etag: %s\r\n" % etag if etag else ""))
    s = socket.create_connection((host, port), timeout=60)
    try:
        try:
            s.sendall(head.encode())
            for i, c in enumerate(chunks):
                s.sendall(b"%x\r\n" % len(c) + c + b"\r\n")
                if cut:
                    return None, None
            s.sendall(b"0\r\n" + (b"X-Backend-Etag: %s\r\n" % trailer.encode()
                                  if trailer else b"") + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            # a refusal on the head alone (bad length: 400) closes the connection
            # while the body is still being sent; its answer is already here
            pass
        answer = b""
        while b"\r\n\r\n" not in answer:
            try:
                k = s.recv(4096)
            except ConnectionResetError:
                break
            if not k:
                break
            answer += k
        return int(answer.split()[1]), answer.decode(errors="replace")
    finally:
        s.close()


def test_object_server_commits_a_body_only_with_the_proxy_md5(stack, req, account):
    """The proxy hashes a PUT's body once and sends its MD5 after the body, in a trailer
    of the chunked stream to each replica (one MD5 per object, not one per replica).
    An object server then stores that MD5 as the ETag, and commits nothing unless the
    whole body and that trailer arrived: without the trailer 400, a client Etag that
    differs 422, a body cut off nothing; a replica whose bytes do not match the MD5
    (what a corrupted transfer would leave) is never served (GET verifies, quarantines).
    Through the proxy the ETag is the MD5 of the bytes on every replica."""
    ring = (stack.root / "etc" / "nubo" / "object.ring").read_text()
    host, port = ring_devices(ring)["d1"]
    pp = ring_part_power(ring)
    d1 = stack.root / "var" / "lib" / "nubo" / "objects" / "d1"
    req("PUT", "/e2e-trailer")

    def where(name):
        h = hashlib.md5(("/%s/e2e-trailer/%s" % (account, name)).encode()).hexdigest()
        part = int(h[:8], 16) >> (32 - pp)
        return "/d1/%d/%s/e2e-trailer/%s" % (part, account, name), h

    body = os.urandom(200000)
    chunks = [body[:65536], body[65536:131072], body[131072:]]
    md5 = hashlib.md5(body).hexdigest()
    ts = lambda: "%.5f" % time.time()  # noqa: E731

    path, h = where("good")
    st, head = _objsrv_put(host, port, path, ts(), chunks, md5.upper(), etag=md5)
    assert st == 201, head
    assert "Etag: %s" % md5 in head, head
    files = data_files(d1, h)
    assert len(files) == 1 and files[0].read_bytes()[8192:] == body
    assert md5.encode() in files[0].read_bytes()[:8192]

    path, h = where("no-trailer")
    assert _objsrv_put(host, port, path, ts(), chunks, None)[0] == 400
    path, h2 = where("mismatch")
    assert _objsrv_put(host, port, path, ts(), chunks, md5, etag="0" * 32)[0] == 422
    # the announced length: not digits 400 (review s12 L3: "-1" turned the check off),
    # not the body's 499; nothing stored either way
    path, h4 = where("bad-length")
    assert _objsrv_put(host, port, path, ts(), chunks, md5, length="-1")[0] == 400
    assert _objsrv_put(host, port, path, ts(), chunks, md5, length="12abc")[0] == 400
    assert _objsrv_put(host, port, path, ts(), chunks, md5, length=len(body) + 1)[0] == 499
    assert not data_files(d1, h4)
    path, h3 = where("cut")
    _objsrv_put(host, port, path, ts(), chunks, md5, cut=True)
    wait_for(lambda: not list((d1 / "tmp").glob("put.*")), 30, 0.2, "the cut PUT's temp file gone")
    assert not data_files(d1, h) and not data_files(d1, h2) and not data_files(d1, h3)

    # an MD5 that is not the bytes': stored (the object server trusts its proxy), but a
    # GET checks the bytes before serving them and quarantines the replica
    path, h = where("rot")
    before = set((d1 / "quarantined").glob("*"))
    assert _objsrv_put(host, port, path, ts(), chunks, "f" * 32)[0] == 201
    r = http_request("http://%s:%d%s" % (host, port, path), "GET")
    assert r.status == 404
    assert not data_files(d1, h)
    assert len(set((d1 / "quarantined").glob("*")) - before) == 1

    # through the proxy: the ETag answered is the MD5 of what every replica holds
    for size in (0, 5, 1 << 20):
        data = os.urandom(size)
        r = req("PUT", "/e2e-trailer/p%d" % size, raw=data)
        assert r.status == 201 and r.headers["Etag"] == hashlib.md5(data).hexdigest()
        reps = replicas_of(stack, account, "e2e-trailer", "p%d" % size)
        assert len(reps) >= 2
        for f in reps:
            raw = f.read_bytes()
            assert raw[8192:] == data and r.headers["Etag"].encode() in raw[:8192]


def _rot(files, at):
    """Flips the byte at offset `at` of the object bytes of each .data file (its 8 KiB
    header unchanged): what a disk's rot under every replica leaves."""
    for f in files:
        with open(f, "r+b") as fh:
            fh.seek(8192 + at)
            b = fh.read(1)
            fh.seek(8192 + at)
            fh.write(bytes([b[0] ^ 0xFF]))


def test_copy_of_a_rotten_source_fails_and_stores_nothing(stack, req, account):
    """Review s12 L1: a copy (X-Copy-From, COPY) is written with the source's stored ETag
    as the ETag expected of it. A source above verify_read_max (4 MiB: its GET is not
    checked before it is served) whose bytes rotted on every replica then fails the copy
    with 503 and leaves no destination anywhere; before, the copy got 201 and a fresh,
    valid ETag of the rotten bytes, which the auditor never flags. A sound source of the
    same size still copies, with the source's ETag."""
    size = 5 * MiB + 7
    assert size > int(conf_value(stack, "objstore", "verify_read_max") or 4 * MiB)
    body = os.urandom(size)
    md5 = hashlib.md5(body).hexdigest()
    req("PUT", "/e2e-copyrot")
    assert req("PUT", "/e2e-copyrot/src", raw=body).status == 201
    r = req("PUT", "/e2e-copyrot/good", raw=b"",
            headers={"X-Copy-From": "e2e-copyrot/src"})
    assert r.status == 201 and r.headers["Etag"] == md5, r

    files = replicas_of(stack, account, "e2e-copyrot", "src")
    assert len(files) == 3, files
    _rot(files, 3 * MiB)
    log = stack.logdir / "nubo-objproxy.log"
    log_before = log.stat().st_size
    r = req("PUT", "/e2e-copyrot/dst", raw=b"", headers={"X-Copy-From": "e2e-copyrot/src"})
    assert r.status == 503, r
    r = req("COPY", "/e2e-copyrot/src", headers={"Destination": "e2e-copyrot/dst2"})
    assert r.status == 503, r
    for name in ("dst", "dst2"):
        assert replicas_of(stack, account, "e2e-copyrot", name) == [], name
        assert req("HEAD", "/e2e-copyrot/" + name).status == 404, name
    names = {o["name"] for o in req("GET", "/e2e-copyrot?format=json").json}
    assert names == {"src", "good"}, names
    with open(log, "rb") as fh:
        fh.seek(log_before)
        assert b"do not match its ETag %s" % md5.encode() in fh.read()


def _fake_object_server(lfd, mode):
    """Answers every connection on the listening socket lfd as an object server that
    takes a PUT's chunked body (100 Continue, the chunks, the trailer) and then answers
    mode["status"] with mode["headers"]; anything else 400. Ends when lfd is closed."""
    def read_line(f):
        line = f.readline(65536)
        if not line:
            raise EOFError
        return line

    def serve(c):
        with c, c.makefile("rb") as f:
            try:
                head = []
                while True:
                    line = read_line(f)
                    if line in (b"\r\n", b"\n"):
                        break
                    head.append(line.decode(errors="replace"))
                put = head and head[0].startswith("PUT ")
                if put and any(h.lower().startswith("expect:") for h in head):
                    c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                if put and any(h.lower().startswith("transfer-encoding: chunked")
                               for h in head):
                    while True:
                        n = int(read_line(f).split(b";")[0], 16)
                        if n == 0:
                            break
                        f.read(n + 2)
                    while read_line(f) not in (b"\r\n", b"\n"):  # the trailer
                        pass
                status = mode["status"] if put else 400
                extra = "".join("%s: %s\r\n" % kv for kv in mode["headers"]) if put else ""
                c.sendall(("HTTP/1.1 %d Fake\r\n%sContent-Length: 0\r\n"
                           "Connection: close\r\n\r\n" % (status, extra)).encode())
            except (EOFError, OSError, ValueError):
                pass

    while True:
        try:
            c, _ = lfd.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def test_object_server_protocol_400_reaches_the_client_as_503(stack, req, account):
    """Review s12 L4: an object server's 400 to a PUT is the client's only when it says
    so (X-Backend-Client-Fault: its metadata does not fit); any other 400 (a body
    without the X-Backend-Etag trailer, a bad length) is a fault between proxy and
    object server, so the client gets 503 and the proxy logs it. The ring is pointed
    at three fake object servers for this (the proxy reloads it within a second) and
    put back in `finally`."""
    ring_file = stack.root / "etc" / "nubo" / "object.ring"
    ring_before = ring_file.read_text()
    mtime_before = ring_file.stat().st_mtime
    devs = ring_devices(ring_before)
    req("PUT", "/e2e-fault")
    # the real object servers first: metadata within the proxy's bounds whose JSON does
    # not fit the 8 KiB .data header (every '"' escaped) is the client's 400, and the
    # object server's answer says so; nothing stored
    name = '"' * 400
    meta = {"X-Object-Meta-A%02d" % i: '"' * 256 for i in range(15)}
    assert req("PUT", "/e2e-fault/" + urllib.parse.quote(name), raw=b"x",
               headers=meta).status == 400
    assert replicas_of(stack, account, "e2e-fault", name) == []
    mode = {"status": 400, "headers": []}
    socks = []
    fake_ring = ring_before
    for name, (host, port) in devs.items():
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        socks.append(s)
        threading.Thread(target=_fake_object_server, args=(s, mode), daemon=True).start()
        fake_ring = fake_ring.replace(" %s:%d %s" % (host, port, name),
                                      " 127.0.0.1:%d %s" % (s.getsockname()[1], name))
    assert all(":%d " % s.getsockname()[1] in fake_ring for s in socks), fake_ring

    def install(text, mtime):
        tmp = ring_file.with_name("object.ring.e2e")
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        os.utime(tmp, (mtime, mtime))
        os.replace(tmp, ring_file)

    log = stack.logdir / "nubo-objproxy.log"
    log_before = log.stat().st_size
    try:
        install(fake_ring, mtime_before - 1000)
        # the proxy reads the ring again within a second: until then the real servers
        # take the PUT (201)
        got = []
        wait_for(lambda: got.append(req("PUT", "/e2e-fault/o", raw=b"hello").status)
                 or got[-1] != 201, 30, 0.5, "the proxy to use the fake ring")
        assert got[-1] == 503, got
        # the client's own fault, as the object server says: 400
        mode["headers"] = [("X-Backend-Client-Fault", "metadata too large")]
        assert req("PUT", "/e2e-fault/o", raw=b"hello").status == 400
        mode["headers"] = []
        assert req("PUT", "/e2e-fault/o", raw=b"hello").status == 503
        with open(log, "rb") as fh:
            fh.seek(log_before)
            assert b"answered 400: a fault of the proxy-to-object-server protocol" in fh.read()
    finally:
        install(ring_before, mtime_before)
        for s in socks:
            s.close()
    wait_for(lambda: req("PUT", "/e2e-fault/o", raw=b"hello").status == 201, 30, 0.5,
             "the proxy back on the real ring")
    assert req("GET", "/e2e-fault/o").status == 200


def _newest(dev, name_hash):
    """The newest version file's name of an object on one device, or None."""
    files = sorted(p.name for p in dev.glob("objects/*/%s/%s/*" % (name_hash[-3:], name_hash))
                   if p.name.endswith((".data", ".ts")))
    return files[-1] if files else None


def test_replicator_spreads_writes_made_on_one_replica(stack, req, account):
    """The replicator compares cached suffix hashes (object-store/parthash.h) and pushes
    only the suffixes that differ: a write must invalidate its suffix's cached hash, or
    the replicas keep agreeing on a hash none of them has any more. A PUT of a newer
    version sent to one object server only, then a DELETE sent to another only, each
    reaches the other two replicas — after every worker's first (full) pass and after
    the suffix was hashed into each device's cache, so that nothing but the writes'
    invalidations can make the replicators look at it again (the next full pass is an
    hour away)."""
    devs = stack.root / "var" / "lib" / "nubo" / "objects"
    ring = ring_devices((stack.root / "etc" / "nubo" / "object.ring").read_text())
    log = stack.root / "var" / "log" / "nubo" / "nubo-objserver.log"
    req("PUT", "/e2e-sfx")
    assert req("PUT", "/e2e-sfx/o", raw=b"version one").status == 201
    h = hashlib.md5(("/%s/e2e-sfx/o" % account).encode()).hexdigest()
    names = ("d1", "d2", "d3")
    wait_for(lambda: all(data_files(devs / d, h) for d in names), 60, 0.5, "three copies")
    part = data_files(devs / "d1", h)[0].parts[-4]

    def cached():
        text = log.read_text(errors="replace")
        for d in names:
            # a full pass since the worker's last start (a worker stopped before its
            # first pass, as an earlier test's restarts do, never logs one)
            if text.find("replicator %s: full pass" % d,
                         text.rfind("device %s (zone" % d)) < 0:
                return False
            c = devs / d / "objects" / part / "hashes.cache"
            lines = c.read_text().splitlines() if c.exists() else []
            if not any(ln.startswith(h[-3:] + " ") and not ln.endswith("-") for ln in lines):
                return False
        return True
    wait_for(cached, 120, 1, "every device's full pass and the suffix in its cache")

    def send(dev, method, body=None):
        host, port = ring[dev]
        ts = "%016.5f" % time.time()
        r = http_request("http://%s:%d/%s/%s/%s/e2e-sfx/o" % (host, port, dev, part, account),
                         method, raw=body, headers={"X-Timestamp": ts})
        return r.status, ts
    st, ts = send("d1", "PUT", b"version two, on d1 only")
    assert st == 201, st
    wait_for(lambda: all(_newest(devs / d, h) == ts + ".data" for d in names), 90, 1,
             "the new version on every replica")
    st, ts = send("d2", "DELETE")
    assert st == 204, st
    wait_for(lambda: all(_newest(devs / d, h) == ts + ".ts" for d in names), 90, 1,
             "the tombstone on every replica")


def test_write_whose_invalidation_fails_answers_500(stack, req, account):
    """Review s13 M1: a PUT or DELETE whose suffix cannot be appended to its partition's
    hashes.invalid is a failed write (500, as Swift answers when invalidate_hash fails):
    acknowledged, the partition's cached hashes would not know the version, and a handoff
    could be removed without it. Here hashes.invalid is made a directory (EISDIR, even
    for root); once it is a file again the same writes succeed."""
    ring_text = (stack.root / "etc" / "nubo" / "object.ring").read_text()
    host, port = ring_devices(ring_text)["d1"]
    pp = ring_part_power(ring_text)
    d1 = stack.root / "var" / "lib" / "nubo" / "objects" / "d1"
    h = hashlib.md5(("/%s/e2e-inv/o" % account).encode()).hexdigest()
    part = int(h[:8], 16) >> (32 - pp)
    inv = d1 / "objects" / str(part) / "hashes.invalid"
    url = "http://%s:%d/d1/%d/%s/e2e-inv/o" % (host, port, part, account)

    def send(method, body=None):
        return http_request(url, method, raw=body,
                            headers={"X-Timestamp": "%016.5f" % time.time()}).status
    assert send("PUT", b"recorded") == 201  # the partition, made by the object server
    try:
        for _ in range(50):  # the replicator may create the file again meanwhile
            try:
                if inv.is_file():
                    inv.unlink()
                inv.mkdir()
                break
            except (FileExistsError, FileNotFoundError):
                continue
        assert inv.is_dir()
        assert send("PUT", b"not recorded") == 500
        assert send("DELETE") == 500
    finally:
        if inv.is_dir():
            inv.rmdir()
    assert send("PUT", b"recorded again") == 201
    assert send("DELETE") == 204
