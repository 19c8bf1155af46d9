"""PostgreSQL going away and coming back, as nubo-api sees it: valid credentials get 503
with Retry-After (never 401) and one log line each; after a restart of PostgreSQL the
pooled connections it dropped are replaced without a client noticing; and nubo-api
started while PostgreSQL is down waits for it instead of exiting.

Every test restores PostgreSQL (and nubo-api) in a finally, so later tests still run."""
import time

from nubo_e2e import auth_body, wait_for


def _api_log_lines(stack):
    return (stack.logdir / "nubo-api.log").read_text(errors="replace").splitlines()


def _pg(stack, verb):
    stack.nubo_ctl(verb, "postgresql", timeout=120)


def _api_ready(stack):
    try:
        return stack.http("GET", "/compute/v2.1/flavors", token=stack.token(fresh=True),
                          timeout=10).status == 200
    except Exception:  # noqa: BLE001 - refused, reset, 503: not ready yet
        return False


def test_outage_is_503_not_401_and_logged_once(stack):
    tok = stack.token(fresh=True)
    assert stack.http("GET", "/compute/v2.1/servers", token=tok).status == 200
    before = len(_api_log_lines(stack))
    _pg(stack, "stop")
    try:
        r = stack.http("GET", "/compute/v2.1/servers", token=tok)
        assert r.status == 503, (r.status, r.text[:300])
        assert r.headers.get("Retry-After"), r.headers
        assert "serviceUnavailable" in r.text  # Nova's shape
        r = stack.http("POST", "/identity/v3/auth/tokens",
                       auth_body("admin", stack.password("admin"), "admin"))
        assert r.status == 503, (r.status, r.text[:300])
        assert r.headers.get("Retry-After")
        r = stack.http("GET", "/image/v2/images", token=tok)
        assert r.status == 503, (r.status, r.text[:300])
        new = [ln for ln in _api_log_lines(stack)[before:] if "database" in ln]
        assert len(new) == 3, "one log line per refused request:\n" + "\n".join(new)
        assert all("req-" in ln for ln in new), new
        # the version documents need nobody's identity: still served
        r = stack.http("GET", "/identity/v3", token=tok)
        assert r.status == 200, (r.status, r.text[:300])
        # a wrong password is still 503 (we cannot tell) and never 401
        r = stack.http("POST", "/identity/v3/auth/tokens",
                       auth_body("admin", "wrong", "admin"))
        assert r.status == 503
    finally:
        _pg(stack, "start")
    # the same token works again on every pooled connection (each was dropped)
    for _ in range(30):
        r = stack.http("GET", "/compute/v2.1/servers", token=tok)
        assert r.status == 200, (r.status, r.text[:300])


def test_postgresql_restart_is_invisible_to_clients(stack):
    tok = stack.token(fresh=True)
    for _ in range(20):  # touch many pooled connections
        assert stack.http("GET", "/compute/v2.1/flavors", token=tok).status == 200
    _pg(stack, "stop")
    _pg(stack, "start")
    statuses = [stack.http("GET", "/compute/v2.1/flavors", token=tok).status
                for _ in range(30)]
    assert statuses == [200] * 30, statuses
    stack.os_cli("server", "list")


def test_api_started_without_database_waits_for_it(stack):
    _pg(stack, "stop")
    try:
        stack.nubo_ctl("restart", "nubo-api", timeout=120)
        pid = stack.daemon_pid("nubo-api")
        assert pid, "nubo-api exited while the database was down"
        time.sleep(3)
        assert stack.daemon_pid("nubo-api") == pid, "nubo-api restarted instead of waiting"
        assert any("waiting for the database" in ln for ln in _api_log_lines(stack)[-20:])
    finally:
        _pg(stack, "start")
    wait_for(lambda: _api_ready(stack), 60, what="nubo-api serving after the database came back")
    assert stack.daemon_pid("nubo-api") == pid
