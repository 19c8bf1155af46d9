"""Issue 9's availability zones for volumes with the real `openstack` CLI. The stack's
storage agent is moved to a zone of its own ([storage] az in nubo.conf, nubo-storage
restarted; put back at the end): `availability zone list --volume` shows that zone
(and no longer nova), `volume create --availability-zone <it>` is placed and shows it,
a volume that names no zone shows its storage host's zone once placed, a zone no
storage host is in (nova among them now) is Cinder's 400, and a volume made from a
snapshot keeps its source's zone; a copy of a volume made in nova before the move
naming the new zone is 400 (Cinder's cloned_volume_same_az). Placement across two
zones is tests/scheduler t_volume_zones (fake storage agents)."""
import re

import pytest

from nubo_e2e import assert_error, wait_for
from test_volume import wait_gone, wait_snapshot, wait_volume

ZONE = "vz-east"


def storage_zone(stack):
    return stack.sql("SELECT az FROM agents WHERE kind = 'storage' AND state = 'up'")


def with_storage_az(text, zone):
    """nubo.conf text with az = zone first in its [storage] section."""
    return re.sub(r"(?m)^\[storage\]\n", "[storage]\naz = %s\n" % zone, text, count=1)


def restart_storage(stack, zone):
    stack.nubo_ctl("restart", "nubo-storage", timeout=300)
    wait_for(lambda: storage_zone(stack) == [[zone]], 180, 1,
             "the storage agent up in zone %s" % zone)


@pytest.fixture(scope="module")
def world(stack, os_cli, os_run):
    """The storage agent moved to ZONE, and "old", a volume made in nova before."""
    before = stack.conf.read_text()
    assert "[storage]\n" in before, "the stack's nubo.conf has no [storage]"
    w = {"zone": ZONE}
    try:
        old = os_cli("volume", "create", "--size", "1", "vaz-old")
        w["old"] = old["id"]
        assert wait_volume(stack, old["id"], "available")["availability_zone"] == "nova"
        stack.conf.write_text(with_storage_az(before, ZONE))
        restart_storage(stack, ZONE)
        yield w
    finally:
        stack.conf.write_text(before)
        restart_storage(stack, "nova")
        if "old" in w:
            delete(stack, os_run, "volume", w["old"])


@pytest.fixture(scope="module")
def zone(world):
    return world["zone"]


def create(os_cli, name, *args):
    return os_cli("volume", "create", "--size", "1", *args, name)


def delete(stack, os_run, kind, ref):
    """Deletes volume or snapshot ref and waits until its row is gone."""
    if kind == "snapshot":
        os_run("volume", "snapshot", "delete", ref, check=False)
        wait_for(lambda: not stack.sql("SELECT 1 FROM volume_snapshots WHERE id = :'p1'", ref),
                 120, 0.5, "snapshot %s gone" % ref)
    else:
        os_run("volume", "delete", ref, check=False)
        wait_gone(stack, "volume", ref)


def test_zone_list_shows_the_storage_hosts_zone(os_cli, zone):
    zones = os_cli("availability", "zone", "list", "--volume")
    assert [(z["Zone Name"], z["Zone Status"]) for z in zones] == [(zone, "available")], zones


def test_create_in_the_zone_and_copy_from_its_snapshot(stack, os_cli, os_run, http,
                                                       project_ids, zone):
    made = []
    try:
        v = create(os_cli, "vaz-a", "--availability-zone", zone)
        made.append(("volume", v["id"]))
        assert v["availability_zone"] == zone, v
        v = wait_volume(stack, v["id"], "available")
        assert v["availability_zone"] == zone, v

        # no zone named: the storage host's zone once placed
        w = create(os_cli, "vaz-any")
        made.append(("volume", w["id"]))
        w = wait_volume(stack, w["id"], "available")
        assert w["availability_zone"] == zone, w

        s = os_cli("volume", "snapshot", "create", "--volume", v["id"], "vaz-snap")
        made.insert(0, ("snapshot", s["id"]))
        wait_snapshot(stack, s["id"], "available")
        c = os_cli("volume", "create", "--snapshot", s["id"], "vaz-copy")
        made.insert(0, ("volume", c["id"]))
        assert c["availability_zone"] == zone, c
        c = wait_volume(stack, c["id"], "available")
        assert c["availability_zone"] == zone, c

        # naming the source's zone is fine; a zone no storage host is in is refused first
        tok = stack.token("admin")
        base = "/volume/v3/%s/volumes" % project_ids["admin"]
        r = http("POST", base, {"volume": {"snapshot_id": s["id"], "availability_zone": "nova",
                                           "name": "vaz-bad"}}, token=tok)
        assert_error(r, 400)
        assert r.json["badRequest"]["message"] == \
            "Availability zone 'nova' is invalid.", r.json
        d = os_cli("volume", "create", "--snapshot", s["id"], "--availability-zone", zone,
                   "vaz-copy2")
        made.insert(0, ("volume", d["id"]))
        assert wait_volume(stack, d["id"], "available")["availability_zone"] == zone
    finally:
        for kind, ref in made:
            delete(stack, os_run, kind, ref)


def test_unknown_zone_is_400(stack, os_run, http, project_ids, zone):
    p = os_run("volume", "create", "--size", "1", "--availability-zone", "vz-nowhere",
               "vaz-no", check=False)
    assert p.returncode != 0
    assert "Availability zone 'vz-nowhere' is invalid." in p.stderr, p.stderr
    tok = stack.token("admin")
    r = http("POST", "/volume/v3/%s/volumes" % project_ids["admin"],
             {"volume": {"size": 1, "availability_zone": "nova"}}, token=tok)
    assert_error(r, 400)
    assert r.json["badRequest"]["message"] == \
        "Availability zone 'nova' is invalid.", r.json
    assert stack.sql("SELECT count(*) FROM volumes WHERE name = 'vaz-no'") == [["0"]]


def test_a_copy_stays_in_its_sources_zone(stack, os_cli, os_run, world):
    """"old" was made in nova; its storage host is in ZONE now: a copy naming ZONE is
    refused (Cinder's cloned_volume_same_az), one naming nova is too (no storage host is
    in nova any more), and one naming none is made where its source is."""
    p = os_run("volume", "create", "--source", world["old"], "--availability-zone", ZONE,
               "vaz-clone-bad", check=False)
    assert p.returncode != 0
    assert "Volume must be in the same availability zone as the source volume" in p.stderr, \
        p.stderr
    c = os_cli("volume", "create", "--source", world["old"], "vaz-clone")
    try:
        assert c["availability_zone"] == "nova", c
        c = wait_volume(stack, c["id"], "available")
        # placed on its source's storage host, so in that host's zone now
        assert c["availability_zone"] == ZONE, c
    finally:
        delete(stack, os_run, "volume", c["id"])
