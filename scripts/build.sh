#!/bin/sh
# Configure (once) and build sluice into ./build. Extra arguments go to
# `meson setup`, e.g. -Dwerror=true.
set -eu
cd "$(dirname "$0")/.."
if [ -d build ]; then
	meson setup --reconfigure build "$@"
else
	meson setup build "$@"
fi
ninja -C build
