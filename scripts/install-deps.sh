#!/bin/sh
# Install everything sluice needs to build, test and run its demo on Debian 12,
# from Debian's own repositories (run as root). Idempotent.
set -eu

PACKAGES="
  build-essential meson ninja-build pkg-config clang-format
  libevent-dev libyaml-dev libssl-dev zlib1g-dev libmariadb-dev
  mariadb-server mariadb-client galera-4 rsync iproute2 procps
  python3 python3-pytest python3-pymysql python3-mysqldb
  sysbench haproxy
"

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
