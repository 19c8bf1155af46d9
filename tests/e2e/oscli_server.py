"""Runs the real openstack CLI (openstackclient's own shell.main, the function
/usr/bin/openstack calls) many times in one Python process, so the suite pays the
CLI's import and plugin scan once instead of once per command (about 1.7 s of CPU
each on the CI box).

Protocol, one JSON object per line: the parent writes
{"argv": [...], "env": {...}, "cwd": "..."}
on stdin; this process answers {"rc": N, "out": "...", "err": "..."} on the file
descriptor given as its first argument (stdout itself is the command's, captured).
Every command gets a fresh OpenStackShell, the environment given, and its own
captured stdout and stderr; the root logger's handlers are put back after each
(cliff adds one per run), and the client handles osc_lib caches on the class are
forgotten (forget_clients). nubo_e2e.CliServer is the parent side.
"""
import contextlib
import copy
import importlib
import io
import json
import logging
import os
import sys

from openstackclient import shell
from openstackclient.common import clientmanager
from osc_lib import clientmanager as osc_clientmanager


def forget_clients():
    """osc_lib caches each service's client handle on its ClientCache descriptor, a
    class attribute: a second command would reuse the first one's authenticated
    clients (its user, its project). Every command starts without them."""
    for cls in clientmanager.ClientManager.__mro__:
        for value in vars(cls).values():
            if isinstance(value, osc_clientmanager.ClientCache):
                value._handle = None


# openstackclient's per-service client modules keep state in module globals that a
# command changes for the rest of its process: volume's make_client deletes the
# cinderclient versions it lacks from API_VERSIONS (a second volume command then
# fails with KeyError '1'), and --os-compute-api-version / --os-volume-api-version
# set _compute_api_version / _volume_api_version for every later command. Each
# command starts from the globals as they were at import.
CLIENT_MODULES = ("compute", "identity", "image", "network", "object", "volume")


def snapshot_modules():
    saved = []
    for name in CLIENT_MODULES:
        mod = importlib.import_module("openstackclient.%s.client" % name)
        values = {k: copy.copy(v) for k, v in vars(mod).items()
                  if not k.startswith("__") and isinstance(v, (dict, list, type(None), str,
                                                               int, float))}
        saved.append((mod, values))
    return saved


def restore_modules(saved):
    for mod, values in saved:
        for k, v in values.items():
            setattr(mod, k, copy.copy(v))


SAVED = None


def run_one(argv, env, cwd):
    global SAVED
    if SAVED is None:
        SAVED = snapshot_modules()
    restore_modules(SAVED)
    forget_clients()
    os.chdir(cwd)  # relative file names are the caller's, as with a new process
    os.environ.clear()
    os.environ.update(env)
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = shell.main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except Exception as e:  # the CLI's own crash: a non-zero exit, as the binary
            err.write("%s: %s\n" % (type(e).__name__, e))
            rc = 1
    root.handlers[:] = handlers
    root.setLevel(level)
    return {"rc": rc if isinstance(rc, int) else 1, "out": out.getvalue(),
            "err": err.getvalue()}


def main():
    answers = os.fdopen(int(sys.argv[1]), "w", encoding="utf-8")
    for line in sys.stdin:
        req = json.loads(line)
        answers.write(json.dumps(run_one(req["argv"], req["env"], req["cwd"])) + "\n")
        answers.flush()


if __name__ == "__main__":
    main()
