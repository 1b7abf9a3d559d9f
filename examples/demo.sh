#!/usr/bin/env bash
# demo.sh - what `make demo` shows: the example program run under the shim,
# the table it prints at exit, and the timeline file it leaves.
set -eu
cd "$(dirname "$0")/.."
out=build/demo.jsonl
echo "\$ build/perfprobe run -o $out -- build/examples/demo"
build/perfprobe run -o "$out" -- build/examples/demo
echo
echo "The timeline, streamed while the program ran ($(wc -l < "$out") lines):"
echo "\$ head -3 $out; tail -1 $out"
head -3 "$out"
echo "..."
tail -1 "$out"
echo
echo "The same run as pictures (memory by part, CPU, faults, the region, allocation sites), one file:"
echo "\$ build/perfprobe plot $out -o build/demo.html"
build/perfprobe plot "$out" -o build/demo.html
echo "report: $PWD/build/demo.html (open it in a browser; it needs no network)"
