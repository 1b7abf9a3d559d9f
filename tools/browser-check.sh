#!/usr/bin/env bash
# browser-check.sh - render a page in headless Chromium, the way a user's
# browser would, and report what happened.  Used by the picture tests.
#
#   browser-check.sh URL OUT      (URL: file:///abs/path.html[#hash])
#
# Writes OUT.dom (the DOM after the page's scripts ran, --dump-dom),
# OUT.png (a screenshot) and OUT.log (Chromium's log, with every console
# message and uncaught exception as an INFO:CONSOLE line), then prints
#   console N     console messages (an uncaught exception is one)
#   colours N     distinct colours in the screenshot (1 means blank)
# Chromium is Debian's package; when it is missing this runs
# tools/install-deps.sh (which installs it when root) and fails with exit 3
# if it is still missing.  No network: every background service is off.
set -u
url=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v chromium >/dev/null; then
    bash "$here/install-deps.sh" --if-root >&2
    command -v chromium >/dev/null || { echo "browser-check: chromium is not installed" >&2; exit 3; }
fi
profile=$(mktemp -d "${TMPDIR:-/tmp}/pp-chromium.XXXXXX")
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --disable-default-apps --disable-extensions --no-default-browser-check
       --user-data-dir="$profile" --window-size=1100,900)
# the DOM after the scripts ran, with the console on stderr
timeout 120 chromium "${flags[@]}" --enable-logging=stderr --v=0 --dump-dom "$url" \
    >"$out.dom" 2>"$out.log"
timeout 120 chromium "${flags[@]}" --screenshot="$out.png" "$url" >/dev/null 2>>"$out.log"
echo "console $(grep -c ':CONSOLE' "$out.log")"
# distinct colours, from the PNG itself (zlib and the five row filters)
/usr/bin/python3 - "$out.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        bpp = {2: 3, 6: 4}[ctype]
        assert depth == 8
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride, prev, colours = zlib.decompress(idat), w * bpp, None, set()
for y in range(h):
    f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    up = prev or bytearray(stride)
    for i in range(stride):
        a = row[i - bpp] if i >= bpp else 0
        b, c = up[i], (up[i - bpp] if i >= bpp else 0)
        if f == 1: row[i] = (row[i] + a) & 255
        elif f == 2: row[i] = (row[i] + b) & 255
        elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = row
    if y % 2 == 0:
        colours.update(bytes(row[i:i + 3]) for i in range(0, stride, bpp * 2))
print("colours", len(colours))
PY
