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

# ---- failures keep the kernel's errno --------------------------------------------
# each failing mmap, munmap and mremap as bare: EINVAL, EBADF, ENOMEM,
# EEXIST (a JIT's MAP_FIXED_NOREPLACE retry depends on it).  Before, every
# failure read EPERM under the shim (the kernel's -errno taken twice)
cat > mmerr.c <<'C'
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
static void say(const char *what, int failed) { printf("%s: %s %s\n", what, failed ? "failed" : "ok", failed ? strerrorname_np(errno) : ""); }
int main(void)
{
    errno = 0; say("mmap of 0 bytes", mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED);
    errno = 0; say("mmap of a bad descriptor", mmap(0, 4096, PROT_READ, MAP_PRIVATE, -1, 0) == MAP_FAILED);
    errno = 0; say("mmap of 128 TiB", mmap(0, 1UL << 47, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0) == MAP_FAILED);
    errno = 0; say("munmap unaligned", munmap((void *)1, 4096) != 0);
    char *q = mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mmap(q + 4096, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    errno = 0; say("mremap that cannot grow in place", mremap(q, 4096, 8192, 0) == MAP_FAILED);
    errno = 0; say("MAP_FIXED_NOREPLACE on a used page", mmap(q, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == MAP_FAILED);
    return 0;
}
C
cc -O1 -o mmerr mmerr.c
timeout 60 ./mmerr > bare.out
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/e.jsonl LD_PRELOAD=$S timeout 60 ./mmerr > shim.out
eq "failing mmap, munmap, mremap: bare fails each with the kernel's errno" \
    "$(awk '{print $NF}' bare.out | tr '\n' ' ')" "EINVAL EBADF ENOMEM EINVAL ENOMEM EEXIST "
eq "failing mmap, munmap, mremap: the same errno under the shim" "$(cat shim.out)" "$(cat bare.out)"

# mremap with MREMAP_DONTUNMAP takes the new address as a placement hint
# (glibc passes it for MREMAP_FIXED or MREMAP_DONTUNMAP): the hook read it
# for MREMAP_FIXED only, and the mapping landed elsewhere
cat > hint.c <<'C'
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4
#endif
int main(void)
{
    size_t len = 1 << 20;
    char *a = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char *hint = (char *)0x200000000000UL;
    void *b = mremap(a, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, hint);
    printf("%s %s\n", b == MAP_FAILED ? "failed" : "moved", b == hint ? "at-hint" : "elsewhere");
    return 0;
}
C
cc -O1 -o hint hint.c
timeout 60 ./hint > bare.out
PERFPROBE_QUIET=1 PERFPROBE_OUTPUT=$PWD/h.jsonl LD_PRELOAD=$S timeout 60 ./hint > shim.out
eq "mremap(MREMAP_DONTUNMAP) with an address: bare places it there" "$(cat bare.out)" "moved at-hint"
eq "mremap(MREMAP_DONTUNMAP) with an address: so does the shim" "$(cat shim.out)" "$(cat bare.out)"
