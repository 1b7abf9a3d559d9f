# The same known allocations are seen whatever the program's linkage:
# PIE and non-PIE, -z now, -fno-plt, clang, and free taken by address.
. "$PP_ROOT/tests/lib.sh"

src=$PP_ROOT/tests/progs/linkage.c.in
variants=(
    "gcc -fPIE -pie"
    "gcc -fno-PIE -no-pie"
    "gcc -fno-plt -Wl,-z,now"
    "gcc -O0"
    "clang -O2 -fPIE -pie"
    "clang -fno-PIE -no-pie -Wl,-z,now"
)
i=0
for v in "${variants[@]}"; do
    i=$((i + 1))
    set -- $v
    cc=$1; shift
    if ! $cc -O2 -I"$PP_ROOT/tests/progs" -x c "$src" -o prog$i "$@" 2>cc.err; then
        fail "$v: does not build: $(head -2 cc.err)"
        continue
    fi
    traced l$i.jsonl ./prog$i l$i.facts
    within "$v: peak heap" "$(summary l$i.jsonl peak_heap_bytes)" "$(fact l$i.facts peak_usable)" 1
    eq "$v: heap at exit" "$(summary l$i.jsonl heap_bytes_at_exit)" 0
done
