# mmap, partial munmap, MAP_FIXED, and mremap that grows, shrinks and moves:
# the mmap figures follow the program's own account exactly.
. "$PP_ROOT/tests/lib.sh"

traced m.jsonl "$T/mmap_ops" m.facts m.data
eq "exit status" $? 0
eq "anonymous bytes at exit" "$(summary m.jsonl mmap_anon_bytes_at_exit)" "$(fact m.facts anon)"
eq "file-backed bytes at exit" "$(summary m.jsonl mmap_file_bytes_at_exit)" "$(fact m.facts file)"
eq "peak mmap bytes" "$(summary m.jsonl peak_mmap_bytes)" "$(fact m.facts peak)"

# CPython takes its small-object arenas with mmap: the shim must see them
traced py.jsonl $PY -c 'x = [str(i) for i in range(300000)]'
py_peak=$(summary py.jsonl peak_mmap_bytes)
le "python3's arenas show up as mmap (>= 8 MiB)" 8388608 "$py_peak"
