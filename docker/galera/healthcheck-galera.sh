#!/bin/bash
# docker/galera/healthcheck-galera.sh: the HEALTHCHECK of the Galera nodes in docker/compose.yaml.
# Healthy means what sluice's own check wants before it sends traffic to a node: Galera says
# Synced, ready, and in the primary component. It logs in as the monitor account over TCP.
#
# Why not the image's healthcheck.sh: it logs in with a password that the image's
# initialisation writes into each datadir, and a joining node's accounts are replaced by node 1's
# in the state transfer, so that password would no longer match on nodes 2 and 3.
set -euo pipefail

password_file=${GALERA_CHECK_PASSWORD_FILE:-/etc/mysql/monitor.pw}
user=${GALERA_CHECK_USER:-monitor}

status=$(MYSQL_PWD=$(head -n 1 "$password_file") mariadb --no-defaults --protocol=tcp \
	-h 127.0.0.1 -P 3306 -u "$user" --connect-timeout=3 -N -B -e \
	"SHOW GLOBAL STATUS WHERE Variable_name IN
	 ('wsrep_local_state_comment', 'wsrep_ready', 'wsrep_cluster_status')")

state=$(awk '$1 == "wsrep_local_state_comment" { print $2 }' <<<"$status")
ready=$(awk '$1 == "wsrep_ready" { print $2 }' <<<"$status")
component=$(awk '$1 == "wsrep_cluster_status" { print $2 }' <<<"$status")

if [ "$state" = Synced ] && [ "$ready" = ON ] && [ "$component" = Primary ]; then
	exit 0
fi
echo "not ready: wsrep_local_state_comment=$state wsrep_ready=$ready" \
	"wsrep_cluster_status=$component"
exit 1
