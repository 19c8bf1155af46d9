"""The supervisor (deploy/nubo-ctl) never gives up: a daemon killed over and over comes
back every time, after a growing but capped delay, still as its unprivileged user; and
the API comes back after a database outage without anybody's help. Each test leaves
the stack as it found it (a fresh supervisor, so its delay starts again at 1 s)."""
import pwd
import re
import time

from nubo_e2e import kill9, pid_alive, proc_status, wait_for

NUBO_UID = str(pwd.getpwnam("nubo").pw_uid)
DELAY_MAX = 30  # deploy/nubo-ctl NUBO_RESPAWN_DELAY_MAX


def api_answers(stack, http):
    try:
        return http("GET", "/identity/v3", timeout=5).status == 200
    except OSError:
        return False


def running_as_nubo(stack, daemon, not_pid=None):
    """The daemon's pid once the supervisor has started it again and it runs as nubo
    (after setpriv's exec), else None."""
    pid = stack.daemon_pid(daemon)
    if not pid or pid == not_pid:
        return None
    st = proc_status(pid)
    return pid if st.get("Uid", "").split()[:1] == [NUBO_UID] else None


def test_a_daemon_killed_six_times_in_a_minute_comes_back(stack, http):
    log = stack.logdir / "nubo-api.log"
    log_start = log.stat().st_size
    pid = stack.daemon_pid("nubo-api")
    assert pid
    t0 = time.monotonic()
    kills = 0
    try:
        # six deaths: the old supervisor gave up after five within a minute
        for kills in range(1, 7):
            kill9(pid)
            if kills == 6:
                break
            pid = wait_for(lambda old=pid: running_as_nubo(stack, "nubo-api", old), 45, 0.1,
                           "nubo-api to be started again after kill %d" % kills)
        assert time.monotonic() - t0 < 60, "the kills did not fit in a minute"
        # the last delay is capped: it is back within DELAY_MAX and a start
        wait_for(lambda: running_as_nubo(stack, "nubo-api", pid), DELAY_MAX + 15, 0.2,
                 "nubo-api to come back after the 6th kill")
        wait_for(lambda: api_answers(stack, http), 15, 0.2, "the API to answer")
        with open(log, errors="replace") as f:
            f.seek(log_start)
            text = f.read()
        assert "giving up" not in text
        delays = [int(d) for d in
                  re.findall(r"nubo-api (?:exited|killed) .* again in (\d+)s", text)]
        # 1, 2, 4, 8, 16, 30: growing, capped
        assert len(delays) == 6, text[-3000:]
        assert delays == sorted(delays) and delays[0] == 1 and max(delays) <= DELAY_MAX, delays
    finally:
        # a fresh supervisor: the next test's first respawn waits 1 s again
        stack.nubo_ctl("restart", "nubo-api")
    assert api_answers(stack, http)


def test_the_api_comes_back_after_a_database_outage(stack, http):
    token = stack.token("admin")
    api = stack.daemon_pid("nubo-api")
    stack.nubo_ctl("stop", "postgresql")
    try:
        # whatever the API does without its database (wait, fail requests, exit), the
        # supervisor must not let it die for good: kill it during the outage too
        if api and pid_alive(api):
            kill9(api)
        time.sleep(8)
    finally:
        stack.nubo_ctl("start", "postgresql")

    def serving():
        try:
            return http("GET", "/compute/v2.1/servers", token=token, timeout=5).status == 200
        except OSError:
            return False
    wait_for(serving, DELAY_MAX + 30, 0.5, "the API to serve again after PostgreSQL came back")
    for d in ("nubo-api", "nubo-scheduler"):
        wait_for(lambda d=d: running_as_nubo(stack, d), DELAY_MAX + 15, 0.5,
                 "%s to run (as nubo) again" % d)
    # fresh supervisors for the tests after this one
    stack.nubo_ctl("restart", "nubo-scheduler", "nubo-api")
