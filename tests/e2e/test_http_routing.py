"""Paths as the upstream services route them (found by Tempest): a trailing slash
below a version root names a resource with an empty id, which does not exist (404 in
the family's error shape, never the collection or a 405); the service and version
documents still answer with or without the slash."""
import pytest


@pytest.mark.parametrize("method,path", [
    ("GET", "/image/v2/images/"),      # Tempest image test_get_image_null_id
    ("DELETE", "/image/v2/images/"),   # test_delete_image_null_id
    ("DELETE", "/compute/v2.1/servers/"),
    ("GET", "/identity/v3/users/"),
])
def test_trailing_slash_names_an_empty_id(stack, http, method, path):
    r = http(method, path, token=stack.token("admin"))
    assert r.status == 404, r


def test_collections_without_the_slash_still_answer(stack, http):
    tok = stack.token("admin")
    for path in ("/image/v2/images", "/compute/v2.1/servers", "/identity/v3/users"):
        r = http("GET", path, token=tok)
        assert r.status == 200, (path, r)


@pytest.mark.parametrize("path", ["/", "/identity", "/identity/", "/identity/v3",
                                  "/identity/v3/", "/compute", "/compute/", "/compute/v2.1",
                                  "/compute/v2.1/", "/image", "/image/"])
def test_version_documents_with_and_without_the_slash(http, path):
    r = http("GET", path)
    assert r.status in (200, 300), (path, r)
    assert "version" in r.text
