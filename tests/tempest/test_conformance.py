"""tests/tempest/conformance.py against a made-up subunit stream (no stack): counts
per module, skip reasons, failure reasons with the request from Tempest's log, the
flags that are off, and the exit status. Run by make tempest before the stack."""
import datetime
import io
import os
import subprocess
import sys

import subunit
import testtools

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "conformance.py")

TRACEBACK = """Traceback (most recent call last):
  File "tempest/api/identity/admin/v3/test_domains.py", line 40, in setUpClass
    cls.client.create_domain(name=n)
tempest.lib.exceptions.UnexpectedResponseCode: Unexpected response code received
Details: 405
"""


def stream(events):
    """Bytes of a subunit v2 stream: events are (test id, status, {detail: text})."""
    buf = io.BytesIO()
    out = subunit.StreamResultToBytes(buf)
    t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    for i, (tid, status, details) in enumerate(events):
        start = t0 + datetime.timedelta(seconds=2 * i)
        out.status(test_id=tid, test_status="inprogress", timestamp=start)
        for name, text in details.items():
            out.status(test_id=tid, file_name=name, file_bytes=text.encode(),
                       mime_type="text/plain; charset=utf8", eof=True)
        out.status(test_id=tid, test_status=status,
                   timestamp=start + datetime.timedelta(seconds=1))
    return buf.getvalue()


EVENTS = [
    ("tempest.api.identity.v3.test_tokens.TokensTest.test_create_token[id-1,smoke]",
     "success", {}),
    ("tempest.api.identity.admin.v2.test_users.UsersTestJSON.test_x[id-2]", "skip",
     {"reason": "Identity api v2 is not enabled"}),
    ("setUpClass (tempest.api.identity.admin.v3.test_domains.DomainsTestJSON)", "fail",
     {"traceback": TRACEBACK}),
    ("tempest.api.image.v2.test_images.BasicOperationsImagesTest.test_list[id-3]",
     "success", {}),
    ("tempest.api.compute.servers.test_servers.ServersTestJSON.test_a[id-4]", "success", {}),
    ("tempest.api.compute.servers.test_servers.ServersTestJSON.test_b[id-5]", "skip",
     {"reason": "Resize is not available."}),
]

CONF = """[DEFAULT]
debug = true

[service_available]
nova = true
neutron = false

[compute]
min_microversion = 2.1
max_microversion = 2.73

[compute-feature-enabled]
resize = false
pause = true
scheduler_enabled_filters =
"""

LOG = ("2026-01-01 00:00:00.000 1 INFO tempest.lib.common.rest_client [req-1 ] Request "
       "(DomainsTestJSON:setUpClass): 405 POST http://127.0.0.1:2000/identity/v3/domains "
       "0.003s\n")


def run(tmp_path, events):
    (tmp_path / "s").write_bytes(stream(events))
    (tmp_path / "tempest.conf").write_text(CONF)
    (tmp_path / "tempest.log").write_text(LOG)
    return subprocess.run(
        [sys.executable, GEN, "--subunit", str(tmp_path / "s"),
         "--conf", str(tmp_path / "tempest.conf"), "--log", str(tmp_path / "tempest.log"),
         "--command", "make tempest", "--out", str(tmp_path / "c.md"),
         "--failures", str(tmp_path / "f.txt")],
        capture_output=True, text=True)


def test_counts_reasons_and_flags(tmp_path):
    p = run(tmp_path, EVENTS)
    assert p.returncode == 1, p.stderr  # one failure
    md = (tmp_path / "c.md").read_text()
    assert "| identity | 1 | 1 | 1 | 3 |" in md
    assert "| compute | 1 | 1 | 0 | 2 |" in md
    assert "| image | 1 | 0 | 0 | 1 |" in md
    assert "| network | – | – | – | not run | |" in md
    assert "- command: `make tempest`" in md
    assert "2.1 to 2.73" in md
    # the flags that are off, and only those
    assert "| service_available | neutron | false |" in md
    assert "| compute-feature-enabled | resize | false |" in md
    assert "| compute-feature-enabled | scheduler_enabled_filters | (empty) |" in md
    assert "| pause |" not in md
    # the failure with its reason and the request that got the error answer
    assert ("`setUpClass (tempest.api.identity.admin.v3.test_domains.DomainsTestJSON)`: "
            "tempest.lib.exceptions.UnexpectedResponseCode: Unexpected response code "
            "received Details: 405 [last error answer: 405 POST /identity/v3/domains]") in md
    assert "1 × Identity api v2 is not enabled" in md
    assert "1 × Resize is not available." in md
    assert "DomainsTestJSON" in (tmp_path / "f.txt").read_text()


def test_passes_when_nothing_failed(tmp_path):
    p = run(tmp_path, [e for e in EVENTS if e[1] != "fail"])
    assert p.returncode == 0, p.stderr
    assert "**all** | **3** | **2** | **0** | **5**" in (tmp_path / "c.md").read_text()


def test_an_empty_stream_is_an_error(tmp_path):
    p = run(tmp_path, [])
    assert p.returncode != 0
    assert "no tests" in p.stderr


def test_attribute_suffix_is_dropped_from_ids(tmp_path):
    sys.path.insert(0, HERE)
    try:
        import conformance
    finally:
        sys.path.remove(HERE)
    assert conformance.short_id("a.b.C.test_x[id-1,smoke]") == "a.b.C.test_x"
    assert conformance.module_of("setUpClass (tempest.api.image.v2.x.Y)") == "image"
    assert conformance.log_key("setUpClass (tempest.api.image.v2.x.Y)") == ("Y", "setUpClass")
    assert conformance.log_key("tempest.api.image.v2.x.Y.test_z[id-9]") == ("Y", "test_z")
