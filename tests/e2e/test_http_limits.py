"""The API's HTTP edge under abuse, with raw sockets: a connection flood from one
address does not lock out another, dribbled headers and garbage request lines are
dropped in seconds, an absurd Content-Length is refused before a byte is read, an
escaped NUL in the path never names a resource, and a normal client's keep-alive
still works."""
import http.client
import resource
import socket
import time
import urllib.parse

import pytest

from nubo_e2e import wait_for


def _addr(stack):
    u = urllib.parse.urlsplit(stack.api)
    return u.hostname, u.port


def _dial(stack, src=None, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect(_addr(stack))
    return s


def _read_all(s, limit=10.0):
    """Everything the server sends until it closes (or limit seconds pass): (bytes,
    closed)."""
    data = b""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        s.settimeout(max(0.05, end - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def _status(data):
    line = data.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[1].isdigit() else None


def _get(stack, path, token=None, src=None):
    s = _dial(stack, src)
    try:
        hdr = "X-Auth-Token: %s\r\n" % token if token else ""
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n"
                   % (path, hdr)).encode())
        data, _ = _read_all(s)
        return data
    finally:
        s.close()


def test_connection_flood_from_one_address_does_not_lock_out_another(stack):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    flood = []
    try:
        for _ in range(1000):
            try:
                flood.append(_dial(stack, "127.0.0.1", timeout=2))
            except OSError:
                break  # the kernel's backlog may refuse some: the point is they are idle
        assert len(flood) >= 200, "could only open %d connections" % len(flood)
        t0 = time.monotonic()
        data = _get(stack, "/identity/v3", src="127.0.0.2")
        assert _status(data) == 200, data[:300]
        assert time.monotonic() - t0 < 5
    finally:
        for s in flood:
            s.close()
    # once the flood is gone, the flooding address is served again (the CLI too)
    wait_for(lambda: _status(_get(stack, "/identity/v3")) == 200, 20,
             what="API serving 127.0.0.1 again")
    stack.os_cli("flavor", "list")


def test_idle_connection_is_closed_within_seconds(stack):
    s = _dial(stack)
    try:
        t0 = time.monotonic()
        _, closed = _read_all(s, limit=40)
        assert closed
        assert time.monotonic() - t0 < 35
    finally:
        s.close()


def test_dribbled_headers_are_dropped(stack):
    s = _dial(stack)
    try:
        s.sendall(b"GET /identity/v3 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < 60:
            try:
                s.sendall(b"a")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            data, closed = _read_all(s, limit=1.0)
            if closed:
                break
        assert closed, "a connection dribbling its headers was never dropped"
        assert time.monotonic() - t0 < 30
    finally:
        s.close()


@pytest.mark.parametrize("garbage", [
    b"HELLO WORLD\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # a TLS hello
    b"GET\r\n\r\n",
])
def test_garbage_request_line_is_400_and_closed(stack, garbage):
    s = _dial(stack)
    try:
        t0 = time.monotonic()
        s.sendall(garbage)
        data, closed = _read_all(s, limit=10)
        assert closed
        assert time.monotonic() - t0 < 5
        if data:
            assert _status(data) == 400, data[:200]
    finally:
        s.close()


@pytest.mark.parametrize("method,path", [
    ("POST", "/compute/v2.1/servers"),
    ("POST", "/identity/v3/auth/tokens"),
    ("PUT", "/image/v2/images/%s/file"),
])
def test_huge_content_length_is_413_before_reading(stack, ids, method, path):
    if "%s" in path:
        path = path % ids["image"]
    s = _dial(stack)
    try:
        t0 = time.monotonic()
        s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n"
                   "Content-Type: application/octet-stream\r\n"
                   "Content-Length: 1000000000000000\r\n\r\n{"
                   % (method, path, stack.token())).encode())
        data, closed = _read_all(s, limit=10)
        assert _status(data) == 413, data[:300]
        assert closed
        assert time.monotonic() - t0 < 5
    finally:
        s.close()


def test_nul_in_the_path_never_names_a_resource(stack, ids):
    tok = stack.token()
    for path in ("/compute/v2.1/servers/%00",
                 "/compute/v2.1/servers%00",
                 "/image/v2/images/%s%%00garbage" % ids["image"],
                 "/compute/v2.1/flavors/%s%%00" % ids["flavor"],
                 "/image/v2/images?name=%00"):
        data = _get(stack, path, token=tok)
        assert _status(data) in (400, 404), (path, data[:300])
        assert b'"servers"' not in data and ids["image"].encode() not in data, path


def test_keep_alive_still_serves_several_requests(stack):
    host, port = _addr(stack)
    c = http.client.HTTPConnection(host, port, timeout=10)
    try:
        for _ in range(3):
            c.request("GET", "/compute/v2.1/flavors", headers={"X-Auth-Token": stack.token()})
            r = c.getresponse()
            r.read()
            assert r.status == 200
            assert r.getheader("x-openstack-request-id", "").startswith("req-")
    finally:
        c.close()
