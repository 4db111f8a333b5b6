#!/bin/sh
# Install libhomelab into a temporary prefix, then build the examples from
# outside the source tree the two ways a user would: with pkg-config and
# with CMake's find_package(homelab); run both against a temporary database.
set -eu
src=$1
build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pcdir=$(dirname "$(find "$tmp/prefix" -name homelab.pc)")
libdir=$(dirname "$pcdir")
test -f "$tmp/prefix/include/homelab.h"
test -f "$tmp/prefix/include/homelab/tool.h"
test -x "$tmp/prefix/bin/homelab"
test -L "$libdir/libhomelab.so"
readelf -d "$libdir/libhomelab.so" | grep -q 'SONAME.*libhomelab.so.0'

# 1. pkg-config
export PKG_CONFIG_PATH="$pcdir"
cc -std=c11 -Wall -Wextra -Werror "$src/examples/list_vms.c" $(pkg-config --cflags --libs homelab) -o "$tmp/list_vms"
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/list_vms" "$tmp/a.db")
echo "$out" | grep -q '^101 whisper 127.0.1.201 running$'
echo "$out" | grep -q '"held_by":\["vm","allocation"\]'

# 2. find_package(homelab)
cmake -S "$src/examples/cmake-consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/consumer/custom_tool" "$tmp/b.db")
echo "$out" | grep -q 'the last one: example_greet_vm'
echo "$out" | grep -q '"greeting":"hello, whisper at 127.0.1.201"'

# 3. the installed CLI runs against the installed library
LD_LIBRARY_PATH="$libdir" "$tmp/prefix/bin/homelab" --db "$tmp/b.db" vms show harbor | grep -q '^ip: *127.0.1.202$'
echo "install test: ok (pkg-config and find_package consumers built and ran)"
