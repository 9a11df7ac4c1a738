#!/bin/sh
# The test command from the README: install the packages, build with every
# warning an error, and run every test: C unit tests, then the integration
# suite, which starts a real three-node MariaDB Galera cluster on 127.0.0.1.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh -Dwerror=true
meson test -C build --suite unit --print-errorlogs
# -v streams pytest's output: the integration suite takes minutes.
meson test -C build --suite integration --print-errorlogs -v
