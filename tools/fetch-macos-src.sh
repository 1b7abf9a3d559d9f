#!/usr/bin/env bash
# fetch-macos-src.sh DIR - the Debian source packages of jansson and zlib,
# unpacked (with Debian's patches) into DIR, for the macOS build of the
# command (mk/macos-cli.mk compiles them with Zig into static archives: a
# Mac has neither library).  apt-get source needs a deb-src line: one is
# added for the download under /etc/apt/sources.list.d/ and removed after
# (root only).  Does nothing when both are there; one line and status 1 on
# failure.
set -u
dir=$1
have() { compgen -G "$dir/jansson-*/src/jansson.h" >/dev/null &&
         compgen -G "$dir/zlib-*/zlib.h" >/dev/null; }
have && exit 0
if [ "$(id -u)" != 0 ]; then
    echo "perfprobe: the jansson and zlib sources for the macOS build are missing; run as root: bash tools/fetch-macos-src.sh $dir" >&2
    exit 1
fi
for t in apt-get dpkg-source; do
    command -v $t >/dev/null || { echo "perfprobe: $t is missing (apt-get install dpkg-dev)" >&2; exit 1; }
done
mkdir -p "$dir" || exit 1
list=/etc/apt/sources.list.d/perfprobe-macos-src.sources
. /etc/os-release
cat > "$list" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: ${VERSION_CODENAME:-bookworm}
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
ok=1
tmp=$(mktemp -d)
(apt-get update -qq && cd "$tmp" && apt-get source -qq --download-only jansson zlib) \
    >"$dir/fetch.log" 2>&1 || ok=0
rm -f "$list"
apt-get update -qq >/dev/null 2>&1
if [ $ok = 1 ]; then
    for d in "$tmp"/jansson_*.dsc "$tmp"/zlib_*.dsc; do
        (cd "$dir" && dpkg-source -x --no-check "$d") >>"$dir/fetch.log" 2>&1 || ok=0
    done
fi
rm -rf "$tmp"
[ $ok = 1 ] && have && exit 0
echo "perfprobe: fetching the jansson and zlib sources failed (see $dir/fetch.log)" >&2
exit 1
