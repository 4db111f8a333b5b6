#!/bin/sh
# The tests that run programs as nobody, from a copy of the checkout under a
# directory only root can enter (as /root is, and as `mktemp -d` makes), at a
# path with a space in it: they must not depend on where the clone lives.
# Usage: run.sh SOURCE_DIR
set -eu
src=$1
if [ "$(id -u)" -ne 0 ]; then
	echo "private checkout test: needs root (to run programs as nobody)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 0700 "$tmp"
copy="$tmp/private clone/libhomelab"
mkdir -p "$copy"

# What a clone holds (and, in a work tree, what is not committed yet).
git -C "$src" ls-files -z --cached --others --exclude-standard | (cd "$src" && xargs -0 cp --parents -t "$copy")
[ -d "$src/tests/mcp/node_modules" ] && ln -s "$src/tests/mcp/node_modules" "$copy/tests/mcp/node_modules"

# The premise: nobody cannot reach the copy.
if setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$copy"; then
	echo "private checkout test: nobody can enter $copy; the test proves nothing" >&2
	exit 1
fi

build="$copy/build"
cmake -S "$copy" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOMELAB_TESTS=OFF -DHOMELAB_BENCH=OFF \
	>"$tmp/build.log" 2>&1 && cmake --build "$build" -j 2 --target homelab_cli homelab_mcpd >>"$tmp/build.log" 2>&1 || {
	tail -30 "$tmp/build.log" >&2
	exit 1
}

export HOMELAB_BIN="$build/homelab" HOMELAB_MCPD="$build/homelab-mcpd" HOMELAB_LIBRARY="$build/libhomelab.so"
export HOMELAB_BUILD_DIR="$build" HOMELAB_SOURCE_DIR="$copy" HOMELAB_FIXTURES="$copy/tests/fixtures"
export HOMELAB_DB_PATH= HOMELAB_DB_KEY= HOMELAB_AUDIT_DB=
# ctest runs the suites from build/tests; not from the build directory itself,
# where the empty entry CMake leaves in a build tree's RUNPATH (the current
# directory) would find the library even for nobody.
cd "$copy/tests"
# Every test that drops to nobody (they name it, or a read-only file root ignores).
# (one pytest per suite: each has a conftest of its own)
for suite in "$copy/tests/cli" "$copy/tests/mcp/test_http.py"; do
	/usr/bin/python3 -m pytest -q -p no:cacheprovider -k "nobody or dumpable or read_only" "$suite"
done
