#!/bin/sh
# Print the Debian packages to install: scripts/packages.txt, less nodejs and
# npm when node and npm are already on PATH (installed from elsewhere, such as
# NodeSource, whose nodejs package conflicts with Debian's npm).
set -eu
for p in $(cat "$(dirname "$0")/packages.txt"); do
	case $p in
	nodejs) command -v node >/dev/null 2>&1 && continue ;;
	npm) command -v npm >/dev/null 2>&1 && continue ;;
	esac
	echo "$p"
done
