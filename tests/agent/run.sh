#!/bin/bash
# The compute agent against a fake scheduler (tests/agent/harness.py) and the guest
# image on its own (tests/guest/boot_test.sh): part of `make integration`.
#   1. the fake driver: the agent runtime (bus v2, acks, results kept across kill -9,
#      re-attach, idempotent tasks, the privilege split, no zombies) in seconds;
#   2. with a guest image: the same harness booting real QEMUs (as nubo-qemu, files
#      as descriptors, crash reports), then boot_test.sh on that image.
# The guest image is NUBO_GUEST_IMAGE, else the newest one deploy/stack.sh cached in
# /var/cache/nubo; without one, step 2 says it is skipped (make e2e boots VMs anyway).
# Needs root (the agent forks its privileged helper and drops to nubo).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
py=/usr/bin/python3
work=$(mktemp -d /tmp/nubo-agent-test.XXXXXX)
chmod 0755 "$work" # the agent's worker (nubo) must reach its state_dir below
trap 'rm -rf "$work"' EXIT
port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

[ "$(id -u)" = 0 ] || { echo "tests/agent/run.sh: needs root" >&2; exit 1; }
# the agent's worker drops to nubo, QEMU runs as nubo-qemu: on a fresh box make them
# shellcheck source=deploy/lib.sh
. "$repo/deploy/lib.sh"
nubo_ensure_users
head -c 1048576 /dev/zero >"$work/dummy.img"
echo "== agent harness, fake driver"
"$py" "$here/harness.py" --agent "$repo/build/bin/nubo-compute" --driver fake \
	--image "$work/dummy.img" --workdir "$work/fake" --port "$(port)"

img=${NUBO_GUEST_IMAGE:-$(ls -t /var/cache/nubo/nubo-tiny-*.qcow2 2>/dev/null | head -n 1 || true)}
if [ -z "$img" ] || [ ! -s "$img" ]; then
	echo "== agent harness, qemu driver: skipped (no guest image; set NUBO_GUEST_IMAGE)"
	exit 0
fi
echo "== agent harness, qemu driver ($img)"
"$py" "$here/harness.py" --agent "$repo/build/bin/nubo-compute" --driver qemu \
	--image "$img" --workdir "$work/qemu" --port "$(port)"
echo "== guest image boot test"
"$here/../guest/boot_test.sh" "$img"
