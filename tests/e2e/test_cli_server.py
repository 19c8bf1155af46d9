"""The suite's long-lived CLI process (oscli_server.py) must behave like a new
/usr/bin/openstack per command: nothing one command sets may reach the next."""
import re

VERSION_SENT = re.compile(r"X-OpenStack-Nova-API-Version: ([0-9.]+)")


def test_a_volume_command_twice(os_run):
    # openstackclient's volume client deletes the cinderclient versions it lacks
    # from a module global the first time; a second command used to die on it
    for _ in range(2):
        assert os_run("volume", "list", user="demo").returncode == 0


def test_a_microversion_option_does_not_outlive_its_command(os_run):
    first = os_run("--os-compute-api-version", "2.60", "--debug", "server", "list",
                   user="demo").stderr
    assert "2.60" in VERSION_SENT.findall(first), first[-2000:]
    second = os_run("--debug", "server", "list", user="demo").stderr
    sent = set(VERSION_SENT.findall(second))
    assert sent and "2.60" not in sent, sent

