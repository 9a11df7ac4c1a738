#!/bin/bash
# docker/galera/start-node.sh: entrypoint of the Galera nodes in docker/compose.yaml. Decides
# whether this node starts a new cluster, bootstraps the cluster from its own data, or joins
# running peers, then hands over to the mariadb image's docker-entrypoint.sh (which initialises
# an empty datadir, runs /docker-entrypoint-initdb.d, and drops to the mysql user).
#
# Usage: start-node.sh [mariadbd options...]
# Environment:
#   GALERA_PEERS            the other nodes' addresses, separated by spaces (required)
#   GALERA_FIRST_NODE=1     this node starts a new cluster when its datadir is fresh
#   GALERA_DATADIR, GALERA_GCOMM_PORT, START_NODE_DRY_RUN=1  for tests/test_docker.py: another
#                           datadir and peer port, and print the decision instead of starting
set -euo pipefail

datadir=${GALERA_DATADIR:-/var/lib/mysql}
grastate=$datadir/grastate.dat
peers=${GALERA_PEERS:?must list the addresses of the other nodes}
gcomm_port=${GALERA_GCOMM_PORT:-4567}
# Seconds between two looks for a peer while waiting, and between two log lines about it.
poll=2
remind=30

# This script is the container's PID 1 until it execs the entrypoint, and PID 1 gets no default
# signal handling: without this, `docker compose stop` would wait out the grace period.
trap 'exit 143' TERM INT

# No command substitution here (log runs in the wait loop, where a stop may come at any time):
# bash 5.2 runs a trap that arrives while it parses one with its parser astray ("trap: line 2:
# unexpected EOF while looking for matching `)'"), and the script then ends with status 2, not
# 143.
log() {
	printf '%(%Y-%m-%d %H:%M:%S)T [start-node] %s\n' -1 "$*" >&2
}

# Prints the first peer whose group-communication port accepts a connection. A node listens
# there from the moment its mariadbd starts Galera, in a primary component or trying to join
# one; a node that is waiting in this script does not.
peer_up() {
	local p
	for p in $peers; do
		if timeout 2 bash -c "exec 3<>/dev/tcp/$p/$gcomm_port" 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# Blocks until some peer is up.
wait_for_peer() {
	local waited=0
	log "waiting for a peer ($peers) to accept on port $gcomm_port: $1"
	until peer_up >/dev/null; do
		sleep "$poll"
		waited=$((waited + poll))
		if [ $((waited % remind)) -eq 0 ]; then
			log "still waiting for a peer after ${waited}s: $1"
		fi
	done
}

# The cluster this datadir belongs to, from grastate.dat; empty when it never ran Galera.
cluster_uuid() {
	sed -n 's/^uuid:[[:space:]]*//p' "$grastate" 2>/dev/null || true
}

# True when this datadir has never been part of a cluster: nothing there yet, or only what the
# image's initialisation wrote (it runs the server with wsrep off).
fresh_datadir() {
	local uuid
	uuid=$(cluster_uuid)
	[ -z "$uuid" ] || [ "$uuid" = 00000000-0000-0000-0000-000000000000 ]
}

# True when Galera marked this node as the last one to leave the cluster gracefully.
safe_to_bootstrap() {
	[ -f "$grastate" ] && grep -Eq '^safe_to_bootstrap:[[:space:]]*1[[:space:]]*$' "$grastate"
}

# Sets the decision in $mode: "new" (start a new cluster), "bootstrap" (start the cluster from
# this node's data), "join" or "wait" (join once a peer is up), with a reason in $why. Running
# peers always win: bootstrapping beside them would split the cluster in two.
decide() {
	local p
	if p=$(peer_up); then
		mode=join why="peer $p is up"
	elif fresh_datadir; then
		if [ "${GALERA_FIRST_NODE:-0}" = 1 ]; then
			mode=new why="fresh datadir, no peer up, and this is the first node"
		else
			mode=wait why="fresh datadir: node 1 starts the cluster"
		fi
	elif safe_to_bootstrap; then
		mode=bootstrap why="this node left the cluster last (safe_to_bootstrap: 1)"
	elif [ -f "$datadir/gvwstate.dat" ]; then
		# The node crashed while in a primary component. Galera's pc.recovery (on by default)
		# re-forms that component by itself once every member of it is back: start now.
		mode=join why="gvwstate.dat present: pc.recovery restores the component with its peers"
	else
		mode=wait why="another node left the cluster last and must start it"
		why="$why (if every node crashed, see docker/README.md)"
	fi
}

decide
if [ "${START_NODE_DRY_RUN:-0}" = 1 ]; then
	echo "$mode"
	exit 0
fi

log "decision: $mode ($why)"
case $mode in
wait)
	wait_for_peer "$why"
	exec docker-entrypoint.sh mariadbd "$@"
	;;
join)
	exec docker-entrypoint.sh mariadbd "$@"
	;;
new | bootstrap)
	exec docker-entrypoint.sh mariadbd "$@" --wsrep-new-cluster
	;;
esac
