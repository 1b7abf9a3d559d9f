# A program that opens libpython and closes it again (a host that looks
# whether an interpreter is there, or is done with a plugin): the
# interpreter's code and data go while the program goes on allocating, and
# the shim, which reads Python frames into allocation stacks, must never
# call into it or read it after that, nor while it is still being loaded.
# Opened with dlopen and with dlmopen (a namespace of its own), closed
# before Python runs (300 times) and after it ran and was finalized (3
# times, each time found again), with sampled stacks and with every stack.
# Ground truth: the program's exit status and output bare.
. "$PP_ROOT/tests/lib.sh"

P=$T/py_unload
pylib=$($PY -c 'import os, sysconfig as s; print(os.path.join(s.get_config_var("LIBDIR"), s.get_config_var("INSTSONAME")))')
if [ ! -f "$pylib" ]; then
    fail "no $pylib (python3-dev brings it: make deps)"
    exit 0
fi

for how in dlopen dlmopen; do
    ns=; [ $how = dlmopen ] && ns=ns
    for mode in probe run; do
        timeout -k 5 120 "$P" "$pylib" $mode $ns > bare.out 2> bare.err
        rb=$?
        for stacks in sample all; do
            tag="$how, $mode, stacks $stacks"
            rm -f s.jsonl
            PERFPROBE_STACKS=$stacks traced s.jsonl timeout -k 5 120 "$P" "$pylib" $mode $ns \
                > shim.out 2> shim.err
            eq "$tag: exit status as bare" $? $rb
            eq "$tag: output as bare" "$(cat shim.out)" "$(cat bare.out)"
            eq "$tag: nothing on stderr" "$(cat shim.err)" ""
            check "$tag: every line of the timeline is JSON" valid_jsonl s.jsonl
        done
    done
done
# the interpreter that ran is read (a dlopen'd one: frames of the code it
# ran, <string>)
PERFPROBE_STACKS=all traced s.jsonl timeout -k 5 120 "$P" "$pylib" run > shim.out 2> shim.err
le "dlopen, run, all: Python frames of the code it ran are read" 1 \
    "$(jq -r 'select(.type == "pyframe" and .file == "<string>") | .id' s.jsonl | wc -l)"
