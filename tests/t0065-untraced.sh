# A program the shim will not be in is named in the timeline, never missed
# without a word: a child given an environment without LD_PRELOAD, and a
# set-user-ID program (the loader ignores LD_PRELOAD for it), whether
# spawned, looked up in PATH, exec'd, or started by a shell.  Each claim is
# held against the file itself: a child said to be untraced wrote no
# header, and one that is traced did and is not listed.
. "$PP_ROOT/tests/lib.sh"
PP=$PP_BUILD/perfprobe

n_untraced() { jq -s 'map(select(.type == "untraced" or (.type == "exec" and .traced == false))) | length' "$1"; }
headers_of() { jq -r "select(.type == \"header\" and .pid == $2) | .pid" "$1" | wc -l; }

# the program's own environment: the child is traced and not listed
traced s.jsonl "$T/untraced" spawn /bin/true > s.out
eq "spawn: exit status" $? 0
child=$(awk '{ print $2 }' s.out)
eq "spawn: the child wrote its header" "$(headers_of s.jsonl "$child")" 1
eq "spawn: nothing listed as untraced" "$(n_untraced s.jsonl)" 0

# an environment of the program's own making, without LD_PRELOAD
traced c.jsonl "$T/untraced" spawn-clean /bin/true > c.out
eq "spawn-clean: exit status" $? 0
child=$(awk '{ print $2 }' c.out)
check "spawn-clean: every line is JSON" valid_jsonl c.jsonl
eq "spawn-clean: the child wrote nothing" "$(headers_of c.jsonl "$child")" 0
eq "spawn-clean: an untraced record names the child, the program and why" \
    "$(jq -r 'select(.type == "untraced") | "\(.child) \(.path) \(.why)"' c.jsonl)" \
    "$child /bin/true no LD_PRELOAD in its environment"
"$PP" report c.jsonl > c.txt 2>&1
check "report: says a program was not traced" grep -q "^not traced: 1 program" c.txt
check "report: names it, its pid and why" \
    grep -q "^  /bin/true (no LD_PRELOAD in its environment), pid $child, started by" c.txt
eq "report --json: the untraced list" \
    "$("$PP" report --json c.jsonl | jq -r '.untraced[0] | "\(.how) \(.child)"')" "spawn $child"
"$PP" check --max tree.untraced=0 c.jsonl > /dev/null 2>&1
eq "check --max tree.untraced=0 fails on it" $? 1
"$PP" check --max tree.untraced=1 c.jsonl > /dev/null 2>&1
eq "check --max tree.untraced=1 passes" $? 0

# set-user-ID programs: needs root (to give the file another owner) and a
# file system that honours the bit (not mounted nosuid)
cp /bin/true suid_true
cp /bin/true own_true
if [ "$(id -u)" != 0 ] || ! chown nobody suid_true 2>/dev/null; then
    ok "skipped: the set-user-ID cases need root (chown)"
elif findmnt -n -o OPTIONS -T "$PWD" | tr , '\n' | grep -qx nosuid; then
    ok "skipped: $PWD is on a file system mounted nosuid"
else
    chmod 4755 suid_true own_true        # own_true is root's: no change of user
    traced u.jsonl "$T/untraced" spawn "$PWD/suid_true" > u.out
    eq "set-user-ID spawn: exit status" $? 0
    child=$(awk '{ print $2 }' u.out)
    eq "set-user-ID spawn: the child wrote nothing (the loader dropped LD_PRELOAD)" \
        "$(headers_of u.jsonl "$child")" 0
    eq "set-user-ID spawn: listed, with why" \
        "$(jq -r 'select(.type == "untraced") | "\(.child) \(.why)"' u.jsonl)" "$child set-user-ID"

    traced o.jsonl "$T/untraced" spawn "$PWD/own_true" > o.out
    child=$(awk '{ print $2 }' o.out)
    eq "set-user-ID of the caller's own user: traced (header)" "$(headers_of o.jsonl "$child")" 1
    eq "set-user-ID of the caller's own user: not listed" "$(n_untraced o.jsonl)" 0

    mkdir -p bin && cp -p suid_true bin/suid_true
    PATH=$PWD/bin:$PATH traced p.jsonl "$T/untraced" spawnp suid_true > p.out
    eq "spawnp: exit status" $? 0
    eq "spawnp: found in PATH as the C library does, and listed" \
        "$(jq -r 'select(.type == "untraced") | "\(.child) \(.path) \(.why)"' p.jsonl)" \
        "$(awk '{ print $2 }' p.out) suid_true set-user-ID"

    traced e.jsonl "$T/untraced" exec "$PWD/suid_true"
    eq "set-user-ID exec: exit status" $? 0
    eq "set-user-ID exec: one image only (the exec'd one wrote nothing)" \
        "$(grep -c '"type":"header"' e.jsonl)" 1
    eq "set-user-ID exec: the exec record says so" \
        "$(jq -r 'select(.type == "exec") | "\(.traced) \(.why)"' e.jsonl)" "false set-user-ID"
    check "set-user-ID exec: every line is JSON" valid_jsonl e.jsonl

    # a shell forks and execs it: the forked child's exec record says so
    traced b.jsonl bash -c "$PWD/suid_true; true"
    eq "bash: exit status" $? 0
    eq "bash: one program listed, exec'd by the forked child" \
        "$(jq -r 'select(.type == "exec" and .traced == false) | .path' b.jsonl)" "$PWD/suid_true"
    kid=$(jq -r 'select(.type == "exec" and .traced == false) | .pid' b.jsonl)
    root=$(head -1 b.jsonl | jq -r .pid)
    check "bash: the exec'ing process is the shell's forked child" test "$kid" != "$root"
    "$PP" report b.jsonl > b.txt 2>&1
    check "bash: report names it" grep -q "^  $PWD/suid_true (set-user-ID), exec'd by pid $kid" b.txt
fi

# one image that spawns an untraced child and then execs an untraced
# program: both are listed (the exec record once freed the spawn's list)
eq "a spawn and then an exec by one image: both listed" \
    "$("$PP" report --json "$PP_ROOT/tests/fuzz/regress/exec-untraced.jsonl" |
       jq -r '[.untraced[] | "\(.how):\(.path)"] | sort | join(" ")')" \
    "exec:/usr/bin/sudo spawn:/bin/true"
