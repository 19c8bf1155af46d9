#!/bin/bash
# deploy/host-del.sh NAME: remove a host deploy/host-add.sh made (= host-add.sh --remove).
#   deploy/host-del.sh [--root DIR] NAME
exec "$(dirname "${BASH_SOURCE[0]}")/host-add.sh" --remove "$@"
