#!/bin/sh
# The demo command from the README: install the packages, build, then start
# a real three-node MariaDB Galera cluster on 127.0.0.1 with sluice in front
# of it and print how to connect. Ctrl-C stops everything.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
exec /usr/bin/python3 demo/run.py "$@"
