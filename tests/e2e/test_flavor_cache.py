"""Flavor lists served from memory (issue 6): nubo-api keeps the result of the flavor
list query while the database's cache generation (migration 0004: a trigger bumps it
on every change to flavors and notifies nubo_cache) stays the same. The list must not
reach PostgreSQL once warm, and every change must show at once: through the API on
the same process (the writer reads the generation before it answers), straight in the
database or through another nubo-api (their followers are notified)."""
import secrets
import time

import pytest

from nubo_e2e import extra_api, http_request, wait_for

FLAVORS = "/compute/v2.1/flavors"


def names(base, tok, path=FLAVORS):
    r = http_request(base + path, token=tok)
    assert r.status == 200, r
    return {f["name"] for f in r.json["flavors"]}


def flavor_scans(stack):
    """Index and sequential scans of the flavors table so far (PostgreSQL's counters,
    which a backend reports at most ten seconds late)."""
    row = stack.sql("SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0)"
                    " FROM pg_stat_user_tables WHERE relname = 'flavors'")
    return int(row[0][0])


def test_warm_list_does_not_reach_the_database(stack):
    tok = stack.token()
    for _ in range(3):
        names(stack.api, tok)
    time.sleep(11)
    before = flavor_scans(stack)
    for _ in range(200):
        names(stack.api, tok)
    time.sleep(11)
    scans = flavor_scans(stack) - before
    # one per request thread at most (each keeps its own copy); 200 without the cache
    assert scans < 20, "200 flavor lists scanned flavors %d times" % scans


def new_flavor(base, tok):
    name = "e2e-fc-" + secrets.token_hex(4)
    r = http_request(base + FLAVORS, "POST", {"flavor": {
        "name": name, "ram": 64, "vcpus": 1, "disk": 1, "id": name}}, token=tok)
    assert r.status == 200, r
    return name


def delete_flavor(base, tok, fid):
    r = http_request(base + FLAVORS + "/" + fid, "DELETE", token=tok)
    assert r.status == 202, r


def test_change_through_the_api_shows_at_once(stack):
    tok = stack.token()
    for _ in range(5):
        for _ in range(10):  # warm in as many request threads as answer
            names(stack.api, tok)
        name = new_flavor(stack.api, tok)
        assert name in names(stack.api, tok)
        assert name in names(stack.api, tok, FLAVORS + "/detail")
        delete_flavor(stack.api, tok, name)
        assert name not in names(stack.api, tok)


def test_change_in_the_database_shows(stack):
    tok = stack.token()
    name = new_flavor(stack.api, tok)
    try:
        for _ in range(10):
            names(stack.api, tok)
        renamed = name + "-r"
        stack.sql("UPDATE flavors SET name = :'p2' WHERE id = :'p1'", name, renamed)
        wait_for(lambda: renamed in names(stack.api, tok), 2, 0.05,
                 "the renamed flavor in the list")
    finally:
        delete_flavor(stack.api, tok, name)


@pytest.fixture(scope="module")
def other_api(stack, tmp_path_factory):
    with extra_api(stack, tmp_path_factory.mktemp("api-fc") / "nubo-api.log") as base:
        yield base


def test_change_through_another_process_shows(stack, other_api):
    tok = stack.token()
    for _ in range(3):
        for _ in range(10):
            names(other_api, tok)
        name = new_flavor(stack.api, tok)
        wait_for(lambda: name in names(other_api, tok), 2, 0.02,
                 "the other process to list the new flavor")
        delete_flavor(other_api, tok, name)
        assert name not in names(other_api, tok)
        wait_for(lambda: name not in names(stack.api, tok), 2, 0.02,
                 "the first process to drop the deleted flavor")
