#!/bin/sh
# Install the Node.js packages of tests/mcp (the official MCP SDK client and
# the conformance suite) from tests/mcp/package-lock.json, when
# tests/mcp/node_modules is missing or older than the lock file.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/tests/mcp"
lock="$dir/package-lock.json"
mods="$dir/node_modules"

if ! command -v npm >/dev/null 2>&1; then
	# Debian's nodejs comes without npm (NodeSource's includes it)
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	echo "install-npm-deps: installing Debian's npm"
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm || {
		echo "install-npm-deps: npm is missing and could not be installed (apt-get install npm)" >&2
		exit 1
	}
fi
if [ -d "$mods" ] && [ ! "$lock" -nt "$mods" ]; then
	exit 0
fi
echo "install-npm-deps: npm ci in tests/mcp"
npm ci --prefix "$dir" --no-audit --no-fund
# npm ci may leave node_modules with an old mtime: mark it up to date.
touch "$mods"
