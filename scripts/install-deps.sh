#!/bin/sh
# Install everything sluice needs to build, test and run its demo on Debian 12,
# from Debian's own repositories (run as root). Idempotent.
set -eu

# The one package list, shared with .ci/run.
PACKAGES=$("$(dirname "$0")/package-list.sh")

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: run as root (it uses apt-get)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
# shellcheck disable=SC2086
apt-get install -y --no-install-recommends $PACKAGES

# The package may have started the distro's own server: it would hold port
# 3306 and /run/mysqld. The test cluster and the demo run their own mariadbd
# processes, so stop it (never touching /var/lib/mysql).
if [ -f /run/mysqld/mysqld.pid ]; then
	service mariadb stop >/dev/null 2>&1 || true
fi
