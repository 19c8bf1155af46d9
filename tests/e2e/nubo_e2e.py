"""Helpers of the end-to-end suite: the real openstack CLI with the stack's openrc,
raw HTTP with urllib, waits, and looks at the host (daemon pids, QEMU processes).

The stack under test lives in $NUBO_E2E_ROOT (made by tests/e2e/run.sh with
deploy/stack.sh --root). Nothing here talks to anything but 127.0.0.1.
"""
import contextlib
import json
import os
import pathlib
import select
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[2]
OPENSTACK = "/usr/bin/openstack"
NUBO_CTL = REPO / "deploy" / "nubo-ctl"
CLI_TIMEOUT = 600  # seconds; --wait polls forever, the suite must not
# "server" (default): CLI commands run in one long-lived process (oscli_server.py);
# "subprocess": each command is a new /usr/bin/openstack, as a user types it
CLI_MODE = os.environ.get("NUBO_E2E_CLI", "server")
TOKEN_CACHE_S = 1200  # a cached token is re-issued after this; the stack's token_ttl is 3600


def read_daemons(path=REPO / "deploy" / "daemons"):
    """deploy/daemons (the one list of daemons), in start order: a list of dicts with
    name, dir, user, needs (a list) and description."""
    out = []
    for line in path.read_text().splitlines():
        if not line.startswith("nubo-"):
            continue
        name, dir_, user, needs, desc = line.split(None, 4)
        out.append({"name": name, "dir": dir_, "user": user,
                    "needs": [] if needs == "-" else needs.split(","), "description": desc})
    assert out, "%s lists no daemon" % path
    return out


DAEMONS = read_daemons()


class CliError(AssertionError):
    def __init__(self, args, proc):
        self.proc = proc
        super().__init__(
            "openstack %s -> exit %s\nstdout: %s\nstderr: %s"
            % (" ".join(args), proc.returncode, proc.stdout[-2000:], proc.stderr[-4000:]))


class CliServer:
    """The parent side of oscli_server.py: one command at a time; run() answers None
    when another thread's command is running (the caller then starts its own
    /usr/bin/openstack, so concurrent commands stay concurrent)."""

    SCRIPT = pathlib.Path(__file__).resolve().parent / "oscli_server.py"

    def __init__(self):
        self.lock = threading.Lock()
        self.proc = None
        self.answers = None

    def _start(self, env):
        r, w = os.pipe()
        self.proc = subprocess.Popen(["/usr/bin/python3", str(self.SCRIPT), str(w)],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(w,), env=env,
                                     text=True)
        os.close(w)
        self.answers = os.fdopen(r, "r", encoding="utf-8")

    def stop(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.answers.close()
            self.proc = None

    def run(self, args, env, timeout):
        if not self.lock.acquire(blocking=False):
            return None
        try:
            if self.proc is None or self.proc.poll() is not None:
                self.stop()
                self._start(env)
            try:
                cwd = os.getcwd()
            except FileNotFoundError:  # a test's directory, removed under it
                cwd = "/"
            self.proc.stdin.write(json.dumps({"argv": args, "env": env, "cwd": cwd}) + "\n")
            self.proc.stdin.flush()
            ready, _, _ = select.select([self.answers], [], [], timeout)
            if not ready:
                self.stop()
                raise subprocess.TimeoutExpired([OPENSTACK, *args], timeout)
            line = self.answers.readline()
            if not line:  # it died during the command: not re-run (it may have acted)
                self.stop()
                return subprocess.CompletedProcess([OPENSTACK, *args], 1, "",
                                                   "oscli_server.py died")
            a = json.loads(line)
            return subprocess.CompletedProcess([OPENSTACK, *args], a["rc"], a["out"], a["err"])
        finally:
            self.lock.release()


class Stack:
    """Paths and credentials of the stack under root."""

    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.cli = CliServer()
        etc = self.root / "etc" / "nubo"
        self.openrc = etc / "openrc"
        self.conf = etc / "nubo.conf"
        self.rundir = self.root / "run" / "nubo"
        self.logdir = self.root / "var" / "log" / "nubo"
        self.state_dir = self.root / "var" / "lib" / "nubo" / "compute"
        if not self.openrc.is_file():
            raise RuntimeError("%s missing: is there a stack under %s?" % (self.openrc, root))
        self._env = {}
        self._tokens = {}
        self.auth_url = self.env("admin")["OS_AUTH_URL"]
        # http://127.0.0.1:PORT/identity/v3 -> http://127.0.0.1:PORT
        self.api = self.auth_url.rsplit("/identity/", 1)[0]

    # ---------------------------------------------------------------- credentials
    def env(self, user="admin"):
        """The OS_* variables `. openrc USER` sets (read by sourcing the real file)."""
        if user not in self._env:
            out = subprocess.run(
                ["bash", "-c", '. "$0" "$1" >/dev/null && env -0', str(self.openrc), user],
                check=True, capture_output=True, timeout=30).stdout.decode()
            os_vars = {}
            for item in out.split("\0"):
                k, _, v = item.partition("=")
                if k.startswith("OS_"):
                    os_vars[k] = v
            assert os_vars.get("OS_USERNAME") == user, "openrc did not set OS_USERNAME=%s" % user
            self._env[user] = os_vars
        return self._env[user]

    def cli_env(self, user="admin", extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(self.env(user))
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        env.pop("PYTHONPATH", None)
        if extra:
            env.update(extra)
        return env

    def password(self, user):
        return self.env(user)["OS_PASSWORD"]

    def psql_args(self):
        """psql's argv for the stack's database (quiet, unaligned, tab-separated, stops
        at the first error)."""
        conninfo = None
        section = None
        for line in self.conf.read_text().splitlines():
            line = line.strip()
            if line.startswith("["):
                section = line.strip("[]")
            elif section == "database" and line.startswith("conninfo"):
                conninfo = line.split("=", 1)[1].strip()
        assert conninfo, "no [database] conninfo in %s" % self.conf
        return ["psql", conninfo, "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1"]

    def sql(self, query, *params):
        """Runs one statement on the stack's database with psql; returns its rows as
        lists of strings. Parameters are bound with psql variables (:'p1', ...)."""
        args = self.psql_args()
        for i, p in enumerate(params, 1):
            args += ["-v", "p%d=%s" % (i, p)]
        out = subprocess.run(args, input=query, check=True, capture_output=True, text=True,
                             timeout=30).stdout
        return [row.split("\t") for row in out.splitlines() if row]

    # ---------------------------------------------------------------- CLI
    def os_run(self, *args, user="admin", check=True, timeout=CLI_TIMEOUT, env=None):
        """Runs the real openstack CLI as USER; returns the CompletedProcess (text)."""
        args = [str(a) for a in args]
        env = self.cli_env(user, env)
        proc = self.cli.run(args, env, timeout) if CLI_MODE == "server" else None
        if proc is None:
            proc = subprocess.run([OPENSTACK, *args], env=env, capture_output=True, text=True,
                                  timeout=timeout)
        if check and proc.returncode != 0:
            raise CliError(args, proc)
        return proc

    def os_cli(self, *args, user="admin", timeout=CLI_TIMEOUT, env=None):
        """Runs `openstack ARGS -f json` as USER and returns the parsed output."""
        proc = self.os_run(*args, "-f", "json", user=user, timeout=timeout, env=env)
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    # ---------------------------------------------------------------- HTTP
    def token(self, user="admin", project=None, password=None, fresh=False):
        """A project-scoped token for USER (cached unless fresh, for at most
        TOKEN_CACHE_S: the stack's tokens live token_ttl = 3600 s, and a slow run of the
        whole suite outlived them, so every later test got 401)."""
        key = (user, project)
        cached = self._tokens.get(key)
        if fresh or password or not cached or time.monotonic() - cached[1] > TOKEN_CACHE_S:
            r = self.http("POST", "/identity/v3/auth/tokens",
                          auth_body(user, password or self.password(user), project or user))
            assert r.status == 201, "token for %s: %s %s" % (user, r.status, r.text[:500])
            tok = r.headers["X-Subject-Token"]
            if fresh or password:
                return tok
            self._tokens[key] = (tok, time.monotonic())
        return self._tokens[key][0]

    def http(self, method, path, body=None, token=None, headers=None, raw=None, timeout=60):
        """One request to the API; raw (bytes) is sent as-is instead of JSON(body)."""
        return http_request(self.api + path, method, body, token, headers, raw, timeout)

    # ---------------------------------------------------------------- host
    def nubo_ctl(self, *args, timeout=120):
        return subprocess.run([str(NUBO_CTL), "--root", str(self.root), *args], check=True,
                              capture_output=True, text=True, timeout=timeout)

    def daemon_pid(self, daemon):
        try:
            pid = int((self.rundir / ("%s.pid" % daemon)).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def daemon_exe(self, daemon):
        """The installed binary the supervisor runs DAEMON from."""
        return self.root / "usr" / "local" / "lib" / "nubo" / daemon

    def qemu_pids(self, instance_id):
        """Pids of running QEMU processes of this stack's instance, from the one exact
        matcher (deploy/lib.sh nubo_qemu_pids through `nubo-ctl qemu-pids`)."""
        assert instance_id, "qemu_pids needs an instance id"
        out = self.nubo_ctl("qemu-pids", instance_id, timeout=60).stdout
        return sorted(int(p) for p in out.split())

    def instance_dir(self, instance_id):
        return self.state_dir / "instances" / instance_id

    def qmp(self, instance_id, command, args=None):
        """One QMP command on the instance's QEMU monitor socket (qmp_call)."""
        return qmp_call(self.instance_dir(instance_id) / "qmp.sock", command, args)

    def log_tail(self, name, lines=40):
        try:
            text = (self.logdir / name).read_text(errors="replace")
        except OSError as e:
            return "(%s)" % e
        return "\n".join(text.splitlines()[-lines:])

    # ---------------------------------------------------------------- servers
    def server(self, ref, user="admin"):
        return self.os_cli("server", "show", ref, user=user)

    def wait_status(self, ref, status, user="admin", timeout=300):
        """Polls `server show` until STATUS with no task open (an action that has not
        started yet still shows the old status); fails at once on an unexpected ERROR."""
        def check():
            s = self.server(ref, user=user)
            if s["status"] == "ERROR" and status != "ERROR":
                raise AssertionError("server %s went to ERROR: %s" % (ref, s.get("fault")))
            done = s["status"] == status and s.get("OS-EXT-STS:task_state") in (None, "", "None")
            return s if done else None
        return wait_for(check, timeout, 2, "server %s to reach %s" % (ref, status))

    def console(self, ref, user="admin"):
        return self.os_run("console", "log", "show", ref, user=user).stdout


def auth_body(user, password, project, domain="Default"):
    return {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": domain}, "password": password}}},
        "scope": {"project": {"name": project, "domain": {"name": domain}}}}}


class Response:
    def __init__(self, status, headers, data):
        self.status = status
        self.headers = headers
        self.text = data.decode(errors="replace")
        try:
            self.json = json.loads(self.text) if self.text.strip() else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "<Response %s %s>" % (self.status, self.text[:300])


# no proxies: every request goes straight to 127.0.0.1
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_request(url, method="GET", body=None, token=None, headers=None, raw=None, timeout=60):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    h = {"Accept": "application/json"}
    if data is not None:
        h["Content-Type"] = "application/json"
    if token:
        h["X-Auth-Token"] = token
    h.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with _opener.open(req, timeout=timeout) as resp:
            return Response(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read())


def assert_error(resp, status):
    """resp has STATUS and an OpenStack error body: one wrapper object holding
    code == STATUS and a non-empty message."""
    assert resp.status == status, "expected %s, got %r" % (status, resp)
    body = resp.json
    assert isinstance(body, dict) and len(body) == 1, "error body not JSON: %r" % resp
    inner = next(iter(body.values()))
    assert isinstance(inner, dict), "error body: %r" % body
    assert inner.get("code") == status, "error code: %r" % body
    assert isinstance(inner.get("message"), str) and inner["message"], "message: %r" % body


def wait_for(fn, timeout, interval=1.0, what="condition"):
    """Calls fn until it returns something true; returns that, or fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


def proc_status(pid):
    """The fields of /proc/PID/status as a dict of strings ({} when PID is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            lines = f.read().splitlines()
    except OSError:
        return {}
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def qmp_call(sock, command, args=None, timeout=10):
    """One QMP command on the QEMU monitor socket sock (after the capabilities
    handshake): QEMU's answer, {"return": ...} or {"error": ...}."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        f = s.makefile("rw")
        f.readline()
        for name, a in (("qmp_capabilities", None), (command, args)):
            f.write(json.dumps({"execute": name, **({"arguments": a} if a else {})}))
            f.write("\n")
            f.flush()
            while True:
                msg = json.loads(f.readline())
                if "return" in msg or "error" in msg:
                    break
    return msg


def pid_alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def kill9(pid):
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), 10, 0.1, "pid %d to die" % pid)


@contextlib.contextmanager
def extra_api(stack, log_path, api_settings=None):
    """A second nubo-api process next to the stack's (same database and config, its own
    port, [api] keys overridden by api_settings), run as the nubo user; yields its base
    URL and stops it (SIGTERM, then SIGKILL) on exit."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = dict(api_settings or {}, port=port)
    conf = stack.root / "etc" / "nubo" / ("nubo-api-e2e-%d.conf" % port)
    text, section = [], None
    for line in stack.conf.read_text().splitlines():
        s = line.strip()
        if s.startswith("["):
            if section == "api":  # keys the stack's file did not have
                text += ["%s = %s" % kv for kv in settings.items()]
                settings = {}
            section = s.strip("[]")
        key = s.split("=", 1)[0].strip() if "=" in s else None
        if section == "api" and key in settings:
            line = "%s = %s" % (key, settings.pop(key))
        text.append(line)
    if settings:
        text += ([] if section == "api" else ["[api]"]) + ["%s = %s" % kv for kv in settings.items()]
    conf.write_text("\n".join(text) + "\n")
    os.chmod(conf, 0o640)
    shutil.chown(conf, group="nubo")
    base = "http://127.0.0.1:%d" % port
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["setpriv", "--reuid=nubo", "--regid=nubo", "--init-groups",
                                 str(stack.daemon_exe("nubo-api")), "-c", str(conf)],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            def listening():
                assert proc.poll() is None, "the extra nubo-api exited: see %s" % log_path
                try:
                    return http_request(base + "/identity/v3").status == 200
                except OSError:
                    return False
            wait_for(listening, 30, 0.2, "the extra nubo-api to listen")
            yield base
        finally:
            if pid_alive(proc.pid):
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            conf.unlink()
