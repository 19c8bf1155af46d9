#!/bin/bash
# nubo-net against the real kernel (tests/net/test_net_agent.py): needs root, the
# built nubo-net (make all), nft, dnsmasq, busybox and socat (deploy/stack.sh
# installs them). Every run uses its own random name prefix and cleans up.
set -e
cd "$(dirname "$0")/../.."
[ -x build/bin/nubo-net ] || { echo "tests/net: build first (make all)" >&2; exit 1; }
# nubo-net's worker drops to the nubo account: on a fresh box make it, as stack.sh does
# shellcheck source=deploy/lib.sh
. deploy/lib.sh
nubo_ensure_users
exec env PYTHONDONTWRITEBYTECODE=1 /usr/bin/pytest-3 -q -p no:cacheprovider tests/net/test_net_agent.py "$@"
