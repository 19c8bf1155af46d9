"""Issue 10: S3 bucket versioning with the real clients (/usr/bin/aws s3api and s3,
boto3): version ids on PUT, GET/HEAD/DELETE by versionId, delete markers and the
recovery of an object deleted by accident, ListObjectVersions (paged, with a delimiter,
and on a bucket that never had versioning), Suspended versioning's "null" version, and
removing a versioned bucket as `aws s3 rb --force` and boto3 do it.
"""
import os
import urllib.error
import urllib.request

import boto3
import botocore.config
import botocore.exceptions
import pytest

from test_s3 import Aws, _bucket, _ec2_keys, _proxy_port


@pytest.fixture(scope="module")
def endpoint(stack):
    port = _proxy_port(stack)
    assert port, "the stack runs no nubo-objproxy ([objstore] proxy_port absent)"
    return "http://127.0.0.1:%d" % port


@pytest.fixture(scope="module")
def keys(os_cli, project_ids):
    return _ec2_keys(os_cli, project_ids["demo"], "demo")


@pytest.fixture(scope="module")
def aws(endpoint, keys, tmp_path_factory):
    return Aws(endpoint, keys, tmp_path_factory.mktemp("aws-ver"))


@pytest.fixture(scope="module")
def s3(endpoint, keys):
    session = boto3.session.Session(aws_access_key_id=keys[0], aws_secret_access_key=keys[1],
                                    region_name="us-east-1")
    cfg = botocore.config.Config(s3={"addressing_style": "path"},
                                 retries={"max_attempts": 1, "mode": "standard"})
    return session.client("s3", endpoint_url=endpoint, config=cfg)


def _versions(s3, bucket, **kw):
    r = s3.list_object_versions(Bucket=bucket, **kw)
    out = [(v["Key"], v["VersionId"], v["IsLatest"], "V") for v in r.get("Versions", [])]
    out += [(d["Key"], d["VersionId"], d["IsLatest"], "D") for d in r.get("DeleteMarkers", [])]
    return sorted(out), r


def _error(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        fn(**kw)
    resp = ei.value.response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"], resp


def _enable(s3, bucket, status="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == status


def _empty_and_remove(s3, bucket):
    boto3.resource("s3", endpoint_url=s3.meta.endpoint_url,
                   aws_access_key_id=s3._request_signer._credentials.access_key,
                   aws_secret_access_key=s3._request_signer._credentials.secret_key,
                   region_name="us-east-1",
                   config=botocore.config.Config(s3={"addressing_style": "path"})
                   ).Bucket(bucket).object_versions.delete()
    s3.delete_bucket(Bucket=bucket)


def test_recover_after_accidental_delete_with_aws_cli(aws, s3, tmp_path):
    b = _bucket()
    aws.run("s3", "mb", "s3://" + b)
    aws.run("s3api", "put-bucket-versioning", "--bucket", b, "--versioning-configuration",
            "Status=Enabled")
    assert aws.json("s3api", "get-bucket-versioning", "--bucket", b)["Status"] == "Enabled"
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_bytes(os.urandom(70000))
    two.write_bytes(os.urandom(90000))
    v1 = aws.json("s3api", "put-object", "--bucket", b, "--key", "doc", "--body", one)
    v2 = aws.json("s3api", "put-object", "--bucket", b, "--key", "doc", "--body", two)
    assert v1["VersionId"] != v2["VersionId"] and len(v1["VersionId"]) == 32, (v1, v2)
    assert v1["VersionId"] != "null"

    # the latest, and the older version by its id
    got = aws.json("s3api", "get-object", "--bucket", b, "--key", "doc", tmp_path / "o")
    assert got["VersionId"] == v2["VersionId"] and (tmp_path / "o").read_bytes() == \
        two.read_bytes()
    got = aws.json("s3api", "get-object", "--bucket", b, "--key", "doc", "--version-id",
                   v1["VersionId"], tmp_path / "o1")
    assert got["VersionId"] == v1["VersionId"]
    assert (tmp_path / "o1").read_bytes() == one.read_bytes()
    head = aws.json("s3api", "head-object", "--bucket", b, "--key", "doc", "--version-id",
                    v1["VersionId"])
    assert head["ContentLength"] == 70000 and head["VersionId"] == v1["VersionId"]
    listed, _ = _versions(s3, b)
    assert listed == sorted([("doc", v2["VersionId"], True, "V"),
                             ("doc", v1["VersionId"], False, "V")]), listed

    # the accident: a delete makes a delete marker, the object is gone from sight
    d = aws.json("s3api", "delete-object", "--bucket", b, "--key", "doc")
    assert d["DeleteMarker"] is True and len(d["VersionId"]) == 32, d
    marker = d["VersionId"]
    p = aws.run("s3api", "get-object", "--bucket", b, "--key", "doc", tmp_path / "x",
                check=False)
    assert p.returncode != 0 and "NoSuchKey" in p.stderr, p.stderr
    assert "doc" not in aws.run("s3", "ls", "s3://%s/" % b).stdout
    code, status, resp = _error(s3.head_object, Bucket=b, Key="doc", VersionId=marker)
    assert status == 405 and resp["ResponseMetadata"]["HTTPHeaders"].get(
        "x-amz-delete-marker") == "true", resp
    code, status, resp = _error(s3.get_object, Bucket=b, Key="doc")
    assert (code, status) == ("NoSuchKey", 404)
    assert resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true"
    listed, _ = _versions(s3, b)
    assert ("doc", marker, True, "D") in listed and ("doc", v2["VersionId"], False,
                                                     "V") in listed, listed

    # the recovery: removing the delete marker brings the latest version back
    d = aws.json("s3api", "delete-object", "--bucket", b, "--key", "doc", "--version-id",
                 marker)
    assert d["DeleteMarker"] is True and d["VersionId"] == marker, d
    aws.run("s3", "cp", "s3://%s/doc" % b, tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == two.read_bytes()
    assert "doc" in aws.run("s3", "ls", "s3://%s/" % b).stdout

    # removing the latest version for good makes the older one current again
    aws.run("s3api", "delete-object", "--bucket", b, "--key", "doc", "--version-id",
            v2["VersionId"])
    got = aws.json("s3api", "get-object", "--bucket", b, "--key", "doc", tmp_path / "o2")
    assert got["VersionId"] == v1["VersionId"]
    assert (tmp_path / "o2").read_bytes() == one.read_bytes()
    listed, _ = _versions(s3, b)
    assert listed == [("doc", v1["VersionId"], True, "V")], listed

    # `aws s3 rb --force` removes the current objects (leaving delete markers and the
    # versions), then S3 refuses to delete a bucket that still has versions
    p = aws.run("s3", "rb", "--force", "s3://" + b, check=False)
    assert p.returncode != 0 and "BucketNotEmpty" in p.stderr, p.stdout + p.stderr
    listed, _ = _versions(s3, b)
    assert ("doc", v1["VersionId"], False, "V") in listed, listed
    _empty_and_remove(s3, b)
    assert b not in aws.run("s3", "ls").stdout


def test_bad_and_unknown_version_ids(s3):
    b = _bucket()
    s3.create_bucket(Bucket=b)
    _enable(s3, b)
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    assert _error(s3.get_object, Bucket=b, Key="k", VersionId="not-a-version")[:2] == (
        "InvalidArgument", 400)
    assert _error(s3.get_object, Bucket=b, Key="k", VersionId="A" * 32)[:2] == (
        "NoSuchVersion", 404)
    assert _error(s3.delete_object, Bucket=b, Key="k", VersionId="bad")[:2] == (
        "InvalidArgument", 400)
    # nothing changed
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"x"
    _empty_and_remove(s3, b)


def test_suspended_versioning_writes_the_null_version(s3):
    b = _bucket()
    s3.create_bucket(Bucket=b)
    s3.put_object(Bucket=b, Key="k", Body=b"before")  # the "null" version
    _enable(s3, b)
    a = s3.put_object(Bucket=b, Key="k", Body=b"enabled")["VersionId"]
    assert a != "null"
    # where the older versions are kept is no bucket of the account
    names = [x["Name"] for x in s3.list_buckets()["Buckets"]]
    assert b in names and not [n for n in names if "+" in n], names
    assert s3.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"before"
    _enable(s3, b, "Suspended")
    r = s3.put_object(Bucket=b, Key="k", Body=b"s1")
    assert r.get("VersionId") == "null", r
    listed, _ = _versions(s3, b)
    # the new "null" version replaced the old one; the Enabled-era version stays
    assert listed == sorted([("k", "null", True, "V"), ("k", a, False, "V")]), listed
    s3.put_object(Bucket=b, Key="k", Body=b"s2")
    listed, _ = _versions(s3, b)
    assert listed == sorted([("k", "null", True, "V"), ("k", a, False, "V")]), listed
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"s2"
    # a delete while suspended: a "null" delete marker replaces the "null" version
    d = s3.delete_object(Bucket=b, Key="k")
    assert d["DeleteMarker"] is True and d["VersionId"] == "null", d
    listed, _ = _versions(s3, b)
    assert listed == sorted([("k", "null", True, "D"), ("k", a, False, "V")]), listed
    assert s3.get_object(Bucket=b, Key="k", VersionId=a)["Body"].read() == b"enabled"
    # copying an old version back makes it current again
    s3.copy_object(Bucket=b, Key="k", CopySource={"Bucket": b, "Key": "k", "VersionId": a})
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"enabled"
    _empty_and_remove(s3, b)


def test_list_object_versions_pages_and_rolls_up(s3):
    b = _bucket()
    s3.create_bucket(Bucket=b)
    _enable(s3, b)
    made = []
    for key in ("a", "a", "a", "dir/x", "dir/y", "z"):
        made.append((key, s3.put_object(Bucket=b, Key=key, Body=key.encode())["VersionId"]))
    s3.delete_object(Bucket=b, Key="z")
    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(
            Bucket=b, PaginationConfig={"PageSize": 1}):
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        seen += [(d["Key"], d["VersionId"]) for d in page.get("DeleteMarkers", [])]
    assert len(seen) == 7 and len(set(seen)) == 7, seen
    assert set(made) <= set(seen), (made, seen)
    # within a key, the newest first
    a_ids = [v for k, v in seen if k == "a"]
    assert a_ids == [v for k, v in reversed(made) if k == "a"], (a_ids, made)
    r = s3.list_object_versions(Bucket=b, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["dir/"], r
    assert {v["Key"] for v in r["Versions"]} == {"a", "z"}, r
    r = s3.list_object_versions(Bucket=b, Prefix="dir/")
    assert sorted(v["Key"] for v in r["Versions"]) == ["dir/x", "dir/y"], r
    _empty_and_remove(s3, b)


def test_unversioned_bucket_is_emptied_through_its_versions(s3):
    """Tools that empty a bucket list its versions and delete them by id, also where
    versioning was never on: there every object is the "null" version."""
    b = _bucket()
    s3.create_bucket(Bucket=b)
    for key in ("one", "two/x", "three"):
        s3.put_object(Bucket=b, Key=key, Body=b"1")
    listed, _ = _versions(s3, b)
    assert listed == sorted([(k, "null", True, "V") for k in ("one", "two/x", "three")])
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [
        {"Key": "one", "VersionId": "null"}, {"Key": "two/x", "VersionId": "null"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["one", "two/x"], r
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]] == ["three"]
    _empty_and_remove(s3, b)


def test_only_the_owner_deletes_versions(s3, endpoint, os_cli, project_ids):
    """Review finding 6: on a public-read-write bucket another project (and an anonymous
    caller) may add a delete marker, as AWS's WRITE ACL allows, but DELETE ?versionId
    (s3:DeleteObjectVersion) is the bucket owner's alone: AccessDenied, nothing lost."""
    keys = _ec2_keys(os_cli, project_ids["admin"], "admin")
    other = boto3.session.Session(
        aws_access_key_id=keys[0], aws_secret_access_key=keys[1], region_name="us-east-1"
    ).client("s3", endpoint_url=endpoint,
             config=botocore.config.Config(s3={"addressing_style": "path"},
                                           retries={"max_attempts": 1, "mode": "standard"}))
    b = _bucket()
    s3.create_bucket(Bucket=b)
    _enable(s3, b)
    s3.put_bucket_acl(Bucket=b, ACL="public-read-write")
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="k", Body=b"two")["VersionId"]
    code, status, _ = _error(other.delete_object, Bucket=b, Key="k", VersionId=v1)
    assert (code, status) == ("AccessDenied", 403)
    code, status, _ = _error(other.delete_object, Bucket=b, Key="k", VersionId=v2)
    assert (code, status) == ("AccessDenied", 403)
    rq = urllib.request.Request("%s/%s/k?versionId=%s" % (endpoint, b, v1), method="DELETE")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with pytest.raises(urllib.error.HTTPError) as ei:
        opener.open(rq, timeout=30)
    assert ei.value.code == 403
    assert s3.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"two"
    # a plain delete by the writer only adds a marker, which the owner can remove
    marker = other.delete_object(Bucket=b, Key="k")
    assert marker.get("DeleteMarker") is True
    s3.delete_object(Bucket=b, Key="k", VersionId=marker["VersionId"])
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"two"
    # the owner may delete a version
    s3.delete_object(Bucket=b, Key="k", VersionId=v1)
    assert sorted(v for _, v, _, _ in _versions(s3, b)[0]) == [v2]
    _empty_and_remove(s3, b)


def test_list_object_versions_skips_a_rolled_up_prefix(s3, stack, project_ids):
    """ListObjectVersions with a delimiter over a prefix holding thousands of keys (review
    finding 13): the prefix is one CommonPrefixes entry, the keys after it follow, and
    paging goes on past it (the listing moves its cursor past the whole prefix instead
    of fetching its keys batch by batch). The 5,000 keys are listing rows made in the
    database, where the listing lives, not 5,000 PUTs."""
    b = _bucket()
    s3.create_bucket(Bucket=b)
    for key in ("a", "zz"):
        s3.put_object(Bucket=b, Key=key, Body=key.encode())
    account = "AUTH_" + project_ids["demo"]
    stack.sql("INSERT INTO obj_objects (account, container, name, ts, size, etag,"
              " content_type, deleted) SELECT :'p1', :'p2', 'big/' || lpad(i::text, 5, '0'),"
              " '0000000001.00000', 0, 'd41d8cd98f00b204e9800998ecf8427e',"
              " 'application/octet-stream', false FROM generate_series(0, 4999) i",
              account, b)
    try:
        r = s3.list_object_versions(Bucket=b, Delimiter="/")
        assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["big/"], r
        assert [v["Key"] for v in r["Versions"]] == ["a", "zz"], r
        assert not r["IsTruncated"], r
        seen = []
        for page in s3.get_paginator("list_object_versions").paginate(
                Bucket=b, Delimiter="/", PaginationConfig={"PageSize": 1}):
            seen += [v["Key"] for v in page.get("Versions", [])]
            seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert seen == ["a", "big/", "zz"], seen
        r = s3.list_object_versions(Bucket=b, Prefix="big/", MaxKeys=3)
        assert [v["Key"] for v in r["Versions"]] == ["big/00000", "big/00001", "big/00002"]
        assert r["IsTruncated"] and r["NextKeyMarker"] == "big/00002", r
        # a delimiter that is not ASCII (review s6 8): the same skip past the prefix, and
        # paging past it does not list it again
        stack.sql("INSERT INTO obj_objects (account, container, name, ts, size, etag,"
                  " content_type, deleted) SELECT :'p1', :'p2', 'm' || chr(233) || i::text,"
                  " '0000000001.00000', 0, 'd41d8cd98f00b204e9800998ecf8427e',"
                  " 'application/octet-stream', false FROM generate_series(0, 2999) i",
                  account, b)
        r = s3.list_object_versions(Bucket=b, Delimiter="\u00e9", Prefix="m")
        assert [p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["m\u00e9"], r
        assert not r.get("Versions") and not r["IsTruncated"], r
        seen = []
        for page in s3.get_paginator("list_object_versions").paginate(
                Bucket=b, Delimiter="\u00e9", Prefix="m", PaginationConfig={"PageSize": 1}):
            seen += [v["Key"] for v in page.get("Versions", [])]
            seen += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert seen == ["m\u00e9"], seen[:5]
    finally:
        stack.sql("DELETE FROM obj_objects WHERE account = :'p1' AND container = :'p2'"
                  " AND (name LIKE 'big/%' OR name LIKE 'm' || chr(233) || '%')", account, b)
        _empty_and_remove(s3, b)
