"""Issue 10: the S3 API of nubo-objproxy with the real clients (/usr/bin/aws s3 and
s3api, s3cmd, boto3 under /usr/bin/python3) and EC2 credentials made with the real
openstack CLI: round trips with sha256 equality, multipart above the threshold, ranged
reads, listings with a delimiter, presigned URLs (and their expiry), a bad signature,
another project's key, public-read ACLs; every refusal leaves nothing behind.

The stack must run nubo-objproxy ([objstore] proxy_port in its nubo.conf); a stack
without it has no S3 to test and the module says so as a skip.
"""
import configparser
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

AWS = "/usr/bin/aws"
S3CMD = "/usr/bin/s3cmd"
PY = "/usr/bin/python3"


def _proxy_port(stack):
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.read_string(stack.conf.read_text())
    if not cp.has_option("objstore", "proxy_port"):
        return None
    return int(cp.get("objstore", "proxy_port"))


@pytest.fixture(scope="module")
def endpoint(stack):
    port = _proxy_port(stack)
    assert port, "the stack runs no nubo-objproxy ([objstore] proxy_port absent)"
    return "http://127.0.0.1:%d" % port


def _ec2_keys(os_cli, project_id, user):
    c = os_cli("ec2", "credentials", "create", "--project", project_id, user=user)
    return c["access"], c["secret"]


@pytest.fixture(scope="module")
def demo_keys(os_cli, project_ids):
    return _ec2_keys(os_cli, project_ids["demo"], "demo")


@pytest.fixture(scope="module")
def admin_keys(os_cli, project_ids):
    return _ec2_keys(os_cli, project_ids["admin"], "admin")


class Aws:
    """/usr/bin/aws against the proxy with one key pair and a config of its own."""

    def __init__(self, endpoint, keys, tmp):
        self.endpoint = endpoint
        cfg = tmp / ("aws-%s.cfg" % secrets.token_hex(3))
        cfg.write_text("[default]\nregion = us-east-1\ns3 =\n  multipart_threshold = 8MB\n"
                       "  multipart_chunksize = 8MB\n  addressing_style = path\n")
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID=keys[0], AWS_SECRET_ACCESS_KEY=keys[1],
                        AWS_CONFIG_FILE=str(cfg), AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                        AWS_EC2_METADATA_DISABLED="true", HOME=str(tmp),
                        AWS_PAGER="", AWS_RETRY_MODE="standard", AWS_MAX_ATTEMPTS="1")

    def run(self, *args, check=True, timeout=300):
        p = subprocess.run([AWS, "--endpoint-url", self.endpoint, *map(str, args)],
                           env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("aws %s -> %d\n%s\n%s" % (" ".join(map(str, args)),
                                                        p.returncode, p.stdout, p.stderr))
        return p

    def json(self, *args):
        out = self.run(*args).stdout
        return json.loads(out) if out.strip() else {}


@pytest.fixture(scope="module")
def aws(endpoint, demo_keys, tmp_path_factory):
    return Aws(endpoint, demo_keys, tmp_path_factory.mktemp("aws-demo"))


@pytest.fixture(scope="module")
def aws_other(endpoint, admin_keys, tmp_path_factory):
    return Aws(endpoint, admin_keys, tmp_path_factory.mktemp("aws-admin"))


def _bucket():
    return "e2e-" + secrets.token_hex(4)


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rand_file(path, size):
    path.write_bytes(os.urandom(size))
    return path


def _get(url, method="GET"):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_round_trip_listing_and_delete(aws, tmp_path):
    b = _bucket()
    aws.run("s3", "mb", "s3://" + b)
    assert b in aws.run("s3", "ls").stdout
    src = _rand_file(tmp_path / "one.bin", 1 << 20)
    aws.run("s3", "cp", src, "s3://%s/dir/one.bin" % b)
    aws.run("s3", "cp", src, "s3://%s/top.bin" % b)
    out = tmp_path / "back.bin"
    aws.run("s3", "cp", "s3://%s/dir/one.bin" % b, out)
    assert _sha(out) == _sha(src)
    # delimiter listing: the object at the top and the prefix dir/
    r = aws.json("s3api", "list-objects-v2", "--bucket", b, "--delimiter", "/")
    assert [c["Key"] for c in r["Contents"]] == ["top.bin"], r
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/"], r
    r = aws.json("s3api", "list-objects", "--bucket", b, "--prefix", "dir/")
    assert [c["Key"] for c in r["Contents"]] == ["dir/one.bin"], r
    assert r["Contents"][0]["Size"] == 1 << 20
    # a range
    rng = tmp_path / "range.bin"
    aws.run("s3api", "get-object", "--bucket", b, "--key", "top.bin", "--range", "bytes=10-19",
            rng)
    assert rng.read_bytes() == src.read_bytes()[10:20]
    # head, missing key and bucket, non-empty bucket
    h = aws.json("s3api", "head-object", "--bucket", b, "--key", "top.bin")
    assert h["ContentLength"] == 1 << 20 and h["ETag"].strip('"') == hashlib.md5(
        src.read_bytes()).hexdigest(), h
    p = aws.run("s3api", "get-object", "--bucket", b, "--key", "nope", tmp_path / "x", check=False)
    assert p.returncode != 0 and "NoSuchKey" in p.stderr, p.stderr
    p = aws.run("s3", "ls", "s3://nosuch-" + secrets.token_hex(4), check=False)
    assert p.returncode != 0 and "NoSuchBucket" in p.stderr, p.stderr
    p = aws.run("s3api", "delete-bucket", "--bucket", b, check=False)
    assert p.returncode != 0 and "BucketNotEmpty" in p.stderr, p.stderr
    # rm one, then everything (DeleteObjects), then the bucket
    aws.run("s3", "rm", "s3://%s/top.bin" % b)
    aws.run("s3", "rm", "--recursive", "s3://%s/" % b)
    r = aws.json("s3api", "list-objects-v2", "--bucket", b)
    assert r.get("KeyCount", 0) == 0 and not r.get("Contents"), r
    aws.run("s3", "rb", "s3://" + b)
    assert b not in aws.run("s3", "ls").stdout


def test_multipart_upload_above_the_threshold(aws, tmp_path):
    b = _bucket()
    aws.run("s3", "mb", "s3://" + b)
    src = _rand_file(tmp_path / "big.bin", 20 * (1 << 20))  # 8 + 8 + 4 MiB parts
    aws.run("s3", "cp", src, "s3://%s/big.bin" % b, timeout=600)
    h = aws.json("s3api", "head-object", "--bucket", b, "--key", "big.bin")
    assert h["ContentLength"] == 20 << 20 and h["ETag"].strip('"').endswith("-3"), h
    out = tmp_path / "big.back"
    aws.run("s3", "cp", "s3://%s/big.bin" % b, out, timeout=600)
    assert _sha(out) == _sha(src)
    # no upload left behind, and the parts' container is not a bucket
    r = aws.json("s3api", "list-multipart-uploads", "--bucket", b)
    assert not r.get("Uploads"), r
    assert b + "+segments" not in aws.run("s3", "ls").stdout
    # an aborted upload leaves nothing
    up = aws.json("s3api", "create-multipart-upload", "--bucket", b, "--key", "ab")["UploadId"]
    aws.run("s3api", "upload-part", "--bucket", b, "--key", "ab", "--part-number", "1",
            "--upload-id", up, "--body", src)
    r = aws.json("s3api", "list-parts", "--bucket", b, "--key", "ab", "--upload-id", up)
    assert [p["PartNumber"] for p in r["Parts"]] == [1], r
    aws.run("s3api", "abort-multipart-upload", "--bucket", b, "--key", "ab", "--upload-id", up)
    p = aws.run("s3api", "list-parts", "--bucket", b, "--key", "ab", "--upload-id", up,
                check=False)
    assert p.returncode != 0 and "NoSuchUpload" in p.stderr, p.stderr
    aws.run("s3", "rb", "--force", "s3://" + b, timeout=300)


def test_presigned_urls_and_their_expiry(aws, tmp_path):
    b = _bucket()
    aws.run("s3", "mb", "s3://" + b)
    src = _rand_file(tmp_path / "p.bin", 4096)
    aws.run("s3", "cp", src, "s3://%s/p.bin" % b)
    url = aws.run("s3", "presign", "s3://%s/p.bin" % b, "--expires-in", "300").stdout.strip()
    status, body = _get(url)
    assert status == 200 and body == src.read_bytes()
    # the same URL with another signature, or for another key
    bad = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    status, body = _get(bad)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body, body
    status, body = _get(url.replace("/p.bin?", "/q.bin?"))
    assert status == 403 and b"SignatureDoesNotMatch" in body, body
    short = aws.run("s3", "presign", "s3://%s/p.bin" % b, "--expires-in", "1").stdout.strip()
    time.sleep(3)
    status, body = _get(short)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body and b"expired" in body, body
    # a Signature Version 2 presigned URL is refused as such, not served as anonymous
    status, body = _get("%s/%s/p.bin?AWSAccessKeyId=%s&Expires=4102444800&Signature=x"
                        % (aws.endpoint, b, "A" * 20))
    assert status == 400 and b"<Code>InvalidRequest</Code>" in body, body
    # without any signature: a private bucket refuses
    status, body = _get("%s/%s/p.bin" % (aws.endpoint, b))
    assert status == 403 and b"<Code>AccessDenied</Code>" in body, body
    aws.run("s3", "rb", "--force", "s3://" + b)


def test_bad_signature_and_unknown_key_change_nothing(aws, endpoint, demo_keys, tmp_path):
    wrong = Aws(endpoint, (demo_keys[0], "0" * 32), tmp_path)
    b = _bucket()
    p = wrong.run("s3", "mb", "s3://" + b, check=False)
    assert p.returncode != 0 and "SignatureDoesNotMatch" in p.stderr, p.stderr
    unknown = Aws(endpoint, ("f" * 32, demo_keys[1]), tmp_path)
    p = unknown.run("s3", "ls", check=False)
    assert p.returncode != 0 and "InvalidAccessKeyId" in p.stderr, p.stderr
    assert b not in aws.run("s3", "ls").stdout


def test_another_projects_key_is_refused(aws, aws_other, tmp_path):
    b = _bucket()
    aws.run("s3", "mb", "s3://" + b)
    src = _rand_file(tmp_path / "mine.bin", 1000)
    aws.run("s3", "cp", src, "s3://%s/mine.bin" % b)
    for args in (("s3api", "get-object", "--bucket", b, "--key", "mine.bin", tmp_path / "o"),
                 ("s3api", "list-objects-v2", "--bucket", b),
                 ("s3api", "put-object", "--bucket", b, "--key", "theirs", "--body", src),
                 ("s3api", "delete-object", "--bucket", b, "--key", "mine.bin"),
                 ("s3api", "delete-bucket", "--bucket", b)):
        p = aws_other.run(*args, check=False)
        assert p.returncode != 0 and "AccessDenied" in p.stderr, (args, p.stderr)
    # the name is taken for everyone
    p = aws_other.run("s3api", "create-bucket", "--bucket", b, check=False)
    assert p.returncode != 0 and "BucketAlreadyExists" in p.stderr, p.stderr
    r = aws.json("s3api", "list-objects-v2", "--bucket", b)
    assert [c["Key"] for c in r["Contents"]] == ["mine.bin"], r
    # public-read opens reads (not writes) to others and to anonymous GETs
    aws.run("s3api", "put-bucket-acl", "--bucket", b, "--acl", "public-read")
    acl = aws.json("s3api", "get-bucket-acl", "--bucket", b)
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ"
               for g in acl["Grants"]), acl
    aws_other.run("s3api", "get-object", "--bucket", b, "--key", "mine.bin", tmp_path / "o")
    assert (tmp_path / "o").read_bytes() == src.read_bytes()
    status, body = _get("%s/%s/mine.bin" % (aws.endpoint, b))
    assert status == 200 and body == src.read_bytes()
    p = aws_other.run("s3api", "put-object", "--bucket", b, "--key", "theirs", "--body", src,
                      check=False)
    assert p.returncode != 0 and "AccessDenied" in p.stderr, p.stderr
    aws.run("s3", "rb", "--force", "s3://" + b)


def test_versioning_answers_truthfully(aws):
    """An unversioned bucket says so and lists its objects as "null" versions (the
    versioned behaviour is tests/e2e/test_s3_versioning.py)."""
    b = _bucket()
    aws.run("s3", "mb", "s3://" + b)
    assert "Status" not in aws.json("s3api", "get-bucket-versioning", "--bucket", b)
    aws.run("s3api", "put-object", "--bucket", b, "--key", "k", "--body", "/etc/hostname")
    r = aws.json("s3api", "list-object-versions", "--bucket", b)
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in r["Versions"]] == [
        ("k", "null", True)], r
    aws.run("s3", "rb", "--force", "s3://" + b)


def test_s3cmd_and_boto3(endpoint, demo_keys, tmp_path):
    host = endpoint.split("//", 1)[1]
    cfg = tmp_path / "s3cfg"
    cfg.write_text("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\n"
                   "host_bucket = %s\nuse_https = False\nsignature_v2 = False\n"
                   "bucket_location = us-east-1\n" % (demo_keys[0], demo_keys[1], host, host))
    b = _bucket()

    def s3cmd(*args):
        p = subprocess.run([S3CMD, "-c", str(cfg), *map(str, args)], capture_output=True,
                           text=True, timeout=300, env=dict(os.environ, HOME=str(tmp_path)))
        assert p.returncode == 0, "s3cmd %s\n%s\n%s" % (args, p.stdout, p.stderr)
        return p.stdout

    src = _rand_file(tmp_path / "c.bin", 300000)
    s3cmd("mb", "s3://" + b)
    s3cmd("put", src, "s3://%s/c.bin" % b)
    assert "c.bin" in s3cmd("ls", "s3://%s" % b)
    s3cmd("get", "s3://%s/c.bin" % b, tmp_path / "c.back")
    assert _sha(tmp_path / "c.back") == _sha(src)
    script = """
import boto3, hashlib, sys
s3 = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                  aws_secret_access_key=sys.argv[3], region_name="us-east-1")
body = bytes(range(256)) * 4000
s3.put_object(Bucket=sys.argv[4], Key="boto/x", Body=body, Metadata={"color": "blue"})
got = s3.get_object(Bucket=sys.argv[4], Key="boto/x")
assert got["Body"].read() == body and got["Metadata"] == {"color": "blue"}, got["Metadata"]
keys = [o["Key"] for o in s3.list_objects_v2(Bucket=sys.argv[4], Prefix="boto/")["Contents"]]
assert keys == ["boto/x"], keys
s3.delete_object(Bucket=sys.argv[4], Key="boto/x")
print("ok")
"""
    p = subprocess.run([PY, "-c", script, endpoint, demo_keys[0], demo_keys[1], b],
                       capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, HOME=str(tmp_path), AWS_CONFIG_FILE="/dev/null",
                                AWS_EC2_METADATA_DISABLED="true"))
    assert p.returncode == 0 and "ok" in p.stdout, p.stderr
    s3cmd("del", "s3://%s/c.bin" % b)
    s3cmd("rb", "s3://" + b)


def _signing_key(secret, date):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in ("us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def _chunked_put(endpoint, keys, bucket, key, data, tamper_chunk=None, chunk=65536):
    """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD as the S3 documentation frames it
    (botocore has no such signer): the seed signature over the headers, each chunk
    signed over the previous signature. tamper_chunk: index of a chunk whose first
    byte is changed after signing. Returns (status, body)."""
    host = endpoint.split("//", 1)[1]
    path = "/%s/%s" % (bucket, key)
    chunks = [data[i:i + chunk] for i in range(0, len(data), chunk)] + [b""]
    framed = sum(len("%x" % len(c)) + 17 + 64 + 2 + len(c) + 2 for c in chunks)
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    scope = "%s/us-east-1/s3/aws4_request" % amz_date[:8]
    headers = {"content-encoding": "aws-chunked", "content-length": str(framed),
               "content-type": "application/octet-stream", "host": host,
               "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
               "x-amz-date": amz_date, "x-amz-decoded-content-length": str(len(data))}
    names = ";".join(sorted(headers))
    creq = "\n".join(["PUT", path, ""] + ["%s:%s" % (k, headers[k]) for k in sorted(headers)]
                     + ["", names, headers["x-amz-content-sha256"]])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    skey = _signing_key(keys[1], amz_date[:8])
    prev = hmac.new(skey, sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                                "Signature=%s" % (keys[0], scope, names, prev))
    body = b""
    for i, c in enumerate(chunks):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, prev,
                         hashlib.sha256(b"").hexdigest(), hashlib.sha256(c).hexdigest()])
        prev = hmac.new(skey, sts.encode(), hashlib.sha256).hexdigest()
        if i == tamper_chunk:
            c = bytes([c[0] ^ 1]) + c[1:]
        body += b"%x;chunk-signature=%s\r\n" % (len(c), prev.encode()) + c + b"\r\n"
    del headers["host"]
    r = urllib.request.Request(endpoint + path, data=body, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(r, timeout=120) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_streaming_chunked_payload_signatures(aws, endpoint, demo_keys, tmp_path):
    b = _bucket()
    aws.run("s3", "mb", "s3://" + b)
    data = os.urandom(200000)  # three full chunks and a short one
    status, body = _chunked_put(endpoint, demo_keys, b, "chunked.bin", data)
    assert status == 200, body
    out = tmp_path / "chunked.back"
    aws.run("s3", "cp", "s3://%s/chunked.bin" % b, out)
    assert out.read_bytes() == data
    # one flipped byte in the second chunk: refused, and nothing is stored
    status, body = _chunked_put(endpoint, demo_keys, b, "forged.bin", data, tamper_chunk=1)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body, body
    p = aws.run("s3api", "head-object", "--bucket", b, "--key", "forged.bin", check=False)
    assert p.returncode != 0 and "404" in p.stderr, p.stderr
    aws.run("s3", "rb", "--force", "s3://" + b)


def test_catalog_lists_s3(os_cli, endpoint):
    """Clients discover the S3 endpoint in the catalog (service type "s3")."""
    cat = os_cli("catalog", "list")
    entry = [c for c in cat if c["Type"] == "s3"]
    assert entry, cat
    assert endpoint in json.dumps(entry), entry


def test_multipart_upload_of_200_mb(aws, tmp_path):
    """Issue 10's large upload: 200 MiB through `aws s3 cp` (25 parts of 8 MiB, several
    in flight at once), back with sha256 equality."""
    b = _bucket()
    aws.run("s3", "mb", "s3://" + b)
    src = _rand_file(tmp_path / "huge.bin", 200 << 20)
    t = time.monotonic()
    aws.run("s3", "cp", src, "s3://%s/huge.bin" % b, timeout=900)
    up = time.monotonic() - t
    h = aws.json("s3api", "head-object", "--bucket", b, "--key", "huge.bin")
    assert h["ContentLength"] == 200 << 20 and h["ETag"].strip('"').endswith("-25"), h
    out = tmp_path / "huge.back"
    t = time.monotonic()
    aws.run("s3", "cp", "s3://%s/huge.bin" % b, out, timeout=900)
    down = time.monotonic() - t
    print("200 MiB: up %.1fs (%.1f MB/s), down %.1fs (%.1f MB/s)"
          % (up, 200 * 1.048576 / up, down, 200 * 1.048576 / down))
    assert _sha(out) == _sha(src)
    src.unlink()
    out.unlink()
    aws.run("s3", "rb", "--force", "s3://" + b, timeout=600)


def test_quotas_hold_for_s3_writes(stack, aws, project_ids, tmp_path):
    """Review finding 5: the bucket's X-Container-Meta-Quota-Bytes (set through Swift) and
    the account's X-Account-Meta-Quota-Bytes (an admin's) hold for PutObject, CopyObject,
    UploadPart and CompleteMultipartUpload as for Swift's PUT: EntityTooLarge, nothing
    stored."""
    from nubo_e2e import http_request
    from test_swift import conf_value
    swift_url = "%s/v1/AUTH_%s" % (conf_value(stack, "objstore", "public_url"),
                                   project_ids["demo"])
    b = _bucket()
    aws.run("s3", "mb", "s3://" + b)
    r = http_request(swift_url + "/" + b, "POST", token=stack.token("demo"),
                     headers={"X-Container-Meta-Quota-Bytes": "100"})
    assert r.status == 204, r
    sixty, fifty = _rand_file(tmp_path / "60", 60), _rand_file(tmp_path / "50", 50)
    aws.run("s3api", "put-object", "--bucket", b, "--key", "a", "--body", sixty)
    p = aws.run("s3api", "put-object", "--bucket", b, "--key", "b", "--body", fifty,
                check=False)
    assert p.returncode != 0 and "EntityTooLarge" in p.stderr, p.stderr
    p = aws.run("s3api", "copy-object", "--bucket", b, "--key", "c", "--copy-source",
                "%s/a" % b, check=False)
    assert p.returncode != 0 and "EntityTooLarge" in p.stderr, p.stderr
    up = aws.json("s3api", "create-multipart-upload", "--bucket", b, "--key", "m")["UploadId"]
    etag = aws.json("s3api", "upload-part", "--bucket", b, "--key", "m", "--upload-id", up,
                    "--part-number", "1", "--body", fifty)["ETag"]
    parts = tmp_path / "parts.json"
    parts.write_text(json.dumps({"Parts": [{"ETag": etag, "PartNumber": 1}]}))
    p = aws.run("s3api", "complete-multipart-upload", "--bucket", b, "--key", "m",
                "--upload-id", up, "--multipart-upload", "file://%s" % parts, check=False)
    assert p.returncode != 0 and "EntityTooLarge" in p.stderr, p.stderr
    keys = [o["Key"] for o in aws.json("s3api", "list-objects-v2", "--bucket", b)
            .get("Contents", [])]
    assert keys == ["a"], keys
    # the account's quota (an admin's) also stops a part
    admin = stack.token("admin")
    used = int(http_request(swift_url, "HEAD", token=admin).headers["X-Account-Bytes-Used"])
    r = http_request(swift_url, "POST", token=admin,
                     headers={"X-Account-Meta-Quota-Bytes": str(used + 10)})
    assert r.status == 204, r
    try:
        p = aws.run("s3api", "upload-part", "--bucket", b, "--key", "m", "--upload-id", up,
                    "--part-number", "2", "--body", fifty, check=False)
        assert p.returncode != 0 and "EntityTooLarge" in p.stderr, p.stderr
    finally:
        http_request(swift_url, "POST", token=admin,
                     headers={"X-Remove-Account-Meta-Quota-Bytes": "x"})
    aws.run("s3api", "abort-multipart-upload", "--bucket", b, "--key", "m", "--upload-id", up)
    aws.run("s3", "rb", "--force", "s3://" + b)


def _replicas(stack, account, container, name):
    """The .data files of an object on the stack's devices (one per replica)."""
    h = hashlib.md5(("/%s/%s/%s" % (account, container, name)).encode()).hexdigest()
    devs = stack.root / "var" / "lib" / "nubo" / "objects"
    return sorted(devs.glob("d*/objects/*/%s/%s/*.data" % (h[-3:], h)))


def test_copy_of_a_rotten_source_fails_and_stores_nothing(stack, aws, project_ids, tmp_path):
    """Review s12 L1 through S3: CopyObject and UploadPartCopy expect the copy to hash
    to the source's stored ETag, so a source above verify_read_max whose bytes rotted
    on every replica (its GET is not checked before it is served) fails the copy with
    503 ServiceUnavailable and stores nothing (before: 200 and a valid-looking ETag of
    the rotten bytes). A sound source copies with its own ETag."""
    account = "AUTH_" + project_ids["demo"]
    b = _bucket()
    aws.run("s3", "mb", "s3://" + b)
    src = _rand_file(tmp_path / "src.bin", 5 * (1 << 20) + 3)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    aws.run("s3api", "put-object", "--bucket", b, "--key", "src", "--body", src)
    r = aws.json("s3api", "copy-object", "--bucket", b, "--key", "good",
                 "--copy-source", "%s/src" % b)
    assert r["CopyObjectResult"]["ETag"].strip('"') == md5, r
    files = _replicas(stack, account, b, "src")
    assert len(files) == 3, files
    for f in files:
        with open(f, "r+b") as fh:
            fh.seek(8192 + (3 << 20))
            x = fh.read(1)
            fh.seek(8192 + (3 << 20))
            fh.write(bytes([x[0] ^ 0xFF]))
    p = aws.run("s3api", "copy-object", "--bucket", b, "--key", "dst",
                "--copy-source", "%s/src" % b, check=False)
    assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
    assert _replicas(stack, account, b, "dst") == []
    up = aws.json("s3api", "create-multipart-upload", "--bucket", b, "--key", "mp")["UploadId"]
    p = aws.run("s3api", "upload-part-copy", "--bucket", b, "--key", "mp", "--upload-id", up,
                "--part-number", "1", "--copy-source", "%s/src" % b, check=False)
    assert p.returncode != 0 and "ServiceUnavailable" in p.stderr, p.stderr
    parts = aws.json("s3api", "list-parts", "--bucket", b, "--key", "mp", "--upload-id", up)
    assert not parts.get("Parts"), parts
    aws.run("s3api", "abort-multipart-upload", "--bucket", b, "--key", "mp", "--upload-id", up)
    keys = [c["Key"] for c in aws.json("s3api", "list-objects-v2", "--bucket", b)["Contents"]]
    assert keys == ["good", "src"], keys
    aws.run("s3", "rm", "--recursive", "s3://%s/" % b)
    aws.run("s3", "rb", "s3://" + b)
