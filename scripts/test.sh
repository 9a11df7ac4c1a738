#!/bin/sh
# The test command from the README: install the packages, build with every
# warning an error, and run every test: C unit tests, then the integration
# suite, which starts a real three-node MariaDB Galera cluster on 127.0.0.1;
# then both again against an AddressSanitizer + UBSan build of the daemon
# (leaks are reported when the daemon exits, and fail the test that ran it).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh -Dwerror=true
meson test -C build --suite unit --print-errorlogs
# -v streams pytest's output: the integration suite takes minutes.
meson test -C build --suite integration --print-errorlogs -v

if [ ! -d build-asan ]; then
	meson setup build-asan -Dwerror=true -Dbuildtype=debug -Db_lto=false \
		-Db_sanitize=address,undefined -Db_lundef=false
fi
ninja -C build-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The sanitizer pass looks for memory errors, not for statistics: shorter
# sysbench runs and fewer writer kills keep the whole suite well inside 30 min.
export SLUICE_SYSBENCH_SECONDS="${SLUICE_SYSBENCH_SECONDS:-10}"
export SLUICE_FAILOVER_ROUNDS="${SLUICE_FAILOVER_ROUNDS:-2}"
meson test -C build-asan --suite unit --print-errorlogs
meson test -C build-asan --suite integration --print-errorlogs -v
