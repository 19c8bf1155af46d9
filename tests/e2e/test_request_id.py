"""Request ids across processes (issue 7): every answer carries its own
x-openstack-request-id; a well-formed X-OpenStack-Request-ID from another service is
taken as the global id, logged beside the local one, and carried with the task over
the bus, so one grep of it follows a server's spawn through nubo-api, nubo-scheduler
and nubo-compute."""
import re
import uuid

from nubo_e2e import wait_for

REQ_RE = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _log(stack, daemon):
    try:
        return (stack.logdir / ("%s.log" % daemon)).read_text(errors="replace")
    except OSError:
        return ""


def _create(stack, ids, name, headers):
    body = {"server": {"name": name, "imageRef": ids["image"], "flavorRef": ids["flavor"]}}
    return stack.http("POST", "/compute/v2.1/servers", body, token=stack.token(),
                      headers=headers)


def test_one_grep_follows_a_spawn_through_every_daemon(stack, ids):
    glob = "req-%s" % uuid.uuid4()
    # a caller may send its id in upper case: it is logged and carried lowercased
    r = _create(stack, ids, "reqid-trace", {"X-OpenStack-Request-ID": glob.upper()})
    assert r.status == 202, r
    local = r.headers["x-openstack-request-id"]
    assert REQ_RE.match(local) and local != glob
    assert r.headers["x-compute-request-id"] == local
    sid = r.json["server"]["id"]
    try:
        stack.wait_status(sid, "ACTIVE")
        # the API's lines of that request name both ids
        assert "[%s %s]" % (local, glob) in _log(stack, "nubo-api")

        def traced():
            return all(glob in _log(stack, d) for d in ("nubo-scheduler", "nubo-compute"))
        wait_for(traced, 30, 1, "the global request id in the scheduler's and agent's logs")
        sched = [ln for ln in _log(stack, "nubo-scheduler").splitlines() if glob in ln]
        agent = [ln for ln in _log(stack, "nubo-compute").splitlines() if glob in ln]
        assert any("spawn" in ln and "sent to" in ln for ln in sched), sched
        assert any("done" in ln for ln in sched), sched  # the result came back with it
        assert any("spawn" in ln for ln in agent), agent
    finally:
        stack.os_run("server", "delete", "--wait", sid, check=False)


def test_without_a_global_id_the_local_one_travels(stack, ids):
    r = _create(stack, ids, "reqid-local", None)
    assert r.status == 202, r
    local = r.headers["x-openstack-request-id"]
    sid = r.json["server"]["id"]
    try:
        wait_for(lambda: local in _log(stack, "nubo-scheduler"), 60, 1,
                 "the local request id in the scheduler's log")
    finally:
        stack.os_run("server", "delete", "--wait", sid, check=False)


def test_a_malformed_global_id_is_ignored(stack):
    for bad in ("req-nope", "x" * 300, "req-%s\\n" % uuid.uuid4(), str(uuid.uuid4())):
        r = stack.http("GET", "/compute/v2.1/flavors", token=stack.token(),
                       headers={"X-OpenStack-Request-ID": bad})
        assert r.status == 200
        assert REQ_RE.match(r.headers["x-openstack-request-id"])
        assert bad not in _log(stack, "nubo-api")
