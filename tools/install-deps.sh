#!/usr/bin/env bash
# install-deps.sh - install the Debian packages perfprobe's tests (and, with
# --bench, its benchmarks) need.  Run as root it installs what is missing
# with apt-get; otherwise it prints the one apt-get line to run and exits 1.
#
#   --bench     also the packages `make bench` compares against
#   --fuzz      also clang's runtime for `make fuzz`
#   --if-root   never fail: install when root, otherwise only say what is missing
set -u
want=(gcc g++ make binutils jq libjemalloc-dev libjemalloc2 libjansson-dev
      python3 perl sqlite3 bash clang pkgconf libc6-dev
      chromium tmux    # the picture tests: a real browser, a real terminal
      libdw-dev libelf-dev zlib1g-dev   # allocation sites (symbols, pprof)
      protobuf-compiler nodejs   # the sites tests: protoc decodes pprof; node runs under the shim
      default-jdk-headless ruby git util-linux procps   # the robustness suite: real programs
      libcap2-bin   # ... capsh (t0745: a privilege drop that keeps a capability)
      libc6-i386    # ... a 32-bit program's loader (t0060: a program of another ELF class)
      gdb strace valgrind   # ... and holding a thread still, tracing, valgrind's clone
      libtcmalloc-minimal4 libgoogle-perftools4 libmimalloc2.0   # ... and other allocators
      libcurl4-openssl-dev curl prometheus prometheus-pushgateway
      python3-dev    # push and serve: libcurl; the real Prometheus and Pushgateway
      lld llvm dpkg-dev)   # the macOS build: ld64.lld, llvm-objdump, Debian's sources
# ... and npm for Zig, unless the nodejs package brought its own
command -v npm >/dev/null || want+=(npm)
if_root=0
for a in "$@"; do
    case "$a" in
    --bench) want+=(heaptrack libc-devtools hyperfine valgrind) ;;
    --fuzz) want+=(libclang-rt-14-dev) ;;
    --if-root) if_root=1 ;;
    *) echo "usage: $0 [--bench] [--fuzz] [--if-root]" >&2; exit 2 ;;
    esac
done
# the macOS build (mk/macos-cli.mk, t1010): the pinned Zig from npm and the
# jansson and zlib sources, in ZIG_DIR, once the packages above are there
ZIG_DIR=${ZIG_DIR:-/opt/perfprobe-zig}
here=$(dirname "$0")
macos_extras() {
    [ "$(id -u)" = 0 ] || return 0
    bash "$here/install-zig.sh" "$ZIG_DIR" 0.11.0 || return 1
    bash "$here/fetch-macos-src.sh" "$ZIG_DIR/src" || return 1
}
missing=()
for p in "${want[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)
    [ "$st" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    macos_extras || { [ $if_root = 1 ] && exit 0; exit 1; }
    exit 0
fi
if [ "$(id -u)" = 0 ]; then
    echo "perfprobe: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || { echo "perfprobe: apt-get update failed" >&2; exit 1; }
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
        { echo "perfprobe: apt-get install ${missing[*]} failed" >&2; exit 1; }
    macos_extras || exit 1
    exit 0
fi
echo "perfprobe: missing packages; run: sudo apt-get install ${missing[*]}" >&2
[ $if_root = 1 ] && exit 0
exit 1
