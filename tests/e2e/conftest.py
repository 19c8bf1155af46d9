"""Fixtures of the end-to-end suite. Run it through tests/e2e/run.sh (make e2e), which
makes a throwaway stack and points NUBO_E2E_ROOT at it; to run it against a stack you
already have: NUBO_E2E_ROOT=<its --root> pytest-3 -v tests/e2e."""
import os

import pytest

from nubo_e2e import DAEMONS, Stack

HELLO = "#!/bin/sh\necho hello-from-userdata\n"

_stack = None


def pytest_configure(config):
    global _stack
    root = os.environ.get("NUBO_E2E_ROOT")
    if not root:
        raise pytest.UsageError("NUBO_E2E_ROOT is not set: run tests/e2e/run.sh (make e2e)")
    if os.geteuid() != 0:
        raise pytest.UsageError("the end-to-end tests need root (they inspect and kill daemons)")
    _stack = Stack(root)


@pytest.fixture(scope="session")
def stack():
    return _stack


@pytest.fixture(scope="session")
def os_cli(stack):
    """os_cli(*args, user='admin') -> parsed JSON of `openstack ARGS -f json`."""
    return stack.os_cli


@pytest.fixture(scope="session")
def os_run(stack):
    """os_run(*args, user='admin', check=True) -> CompletedProcess of `openstack ARGS`."""
    return stack.os_run


@pytest.fixture(scope="session")
def http(stack):
    """http(method, path, body=None, token=None, headers=None, raw=None) -> Response."""
    return stack.http


@pytest.fixture(scope="session")
def project_ids(stack):
    return {p: stack.os_cli("project", "show", p)["id"] for p in ("admin", "demo")}


@pytest.fixture(scope="session")
def ids(stack):
    """ids of the bootstrap flavor m1.tiny and the image nubo-tiny."""
    return {"flavor": stack.os_cli("flavor", "show", "m1.tiny")["id"],
            "image": stack.os_cli("image", "show", "nubo-tiny")["id"]}


@pytest.fixture(scope="session")
def keypair(stack):
    """(name, private key text) of a keypair made with `openstack keypair create`."""
    name = "e2e-k1"
    proc = stack.os_run("keypair", "create", name)
    yield name, proc.stdout
    stack.os_run("keypair", "delete", name, check=False)


@pytest.fixture(scope="session")
def hello_sh(tmp_path_factory):
    p = tmp_path_factory.mktemp("userdata") / "hello.sh"
    p.write_text(HELLO)
    return p


@pytest.fixture(scope="session")
def vm(stack, keypair, hello_sh):
    """One VM shared by the tests that need a running guest (each TCG boot costs),
    created as a user would: server create --key-name --user-data --wait."""
    s = stack.os_cli("server", "create", "--flavor", "m1.tiny", "--image", "nubo-tiny",
                     "--key-name", keypair[0], "--user-data", hello_sh, "--wait", "e2e-vm1")
    assert s["status"] == "ACTIVE", s
    yield s
    stack.os_run("server", "delete", "--wait", s["id"], check=False, timeout=300)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report carries the tail of every daemon's log."""
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and _stack is not None:
        for d in DAEMONS:
            name = d["name"] + ".log"
            rep.sections.append(("log tail: " + name, _stack.log_tail(name)))
