# The library exports the interposed names and nothing else: the allocator,
# mmap, exit, the exec family (to mark where an image ends), posix_spawn
# (to fix the environment it passes), unshare, setns and close_range
# (to step the sampler thread aside), the set*id family (so that new
# credentials reach the sampler thread too), fork and daemon (so that glibc
# resets the child's locks and thread count), _exit and _Exit (to write
# the probe records still held), dlopen (to notice
# RTLD_DEEPBIND, by a jump that keeps the caller), dlmopen (to put the
# namespace object ahead of the library in a new link namespace, by such a
# jump too), dlclose (to close such a namespace as it would go bare),
# fopen, fopen64, open,
# open64, openat, openat64 and glibc's fortified __open_2, __open64_2,
# __openat_2 and __openat64_2 (so that a program reading its own
# /proc/self/stat or status counts its own threads), syscall (to notice a
# seccomp filter put on every thread before it lands), fcntl and fcntl64
# (the shim's own descriptors look closed to them), dup, dup2 and dup3 (the
# timeline moves off a number the program takes), setrlimit, prlimit, their 64
# names and ulimit
# (a write of the shim's past a file-size limit must raise no SIGXFSZ), and the public
# perf_* API.
. "$PP_ROOT/tests/lib.sh"

expected="_ZdaPv _ZdaPvRKSt9nothrow_t _ZdaPvSt11align_val_t _ZdaPvSt11align_val_tRKSt9nothrow_t
_ZdaPvm _ZdaPvmSt11align_val_t _ZdlPv _ZdlPvRKSt9nothrow_t _ZdlPvSt11align_val_t
_ZdlPvSt11align_val_tRKSt9nothrow_t _ZdlPvm _ZdlPvmSt11align_val_t _Znam _ZnamRKSt9nothrow_t
_ZnamSt11align_val_t _ZnamSt11align_val_tRKSt9nothrow_t _Znwm _ZnwmRKSt9nothrow_t
_ZnwmSt11align_val_t _ZnwmSt11align_val_tRKSt9nothrow_t aligned_alloc calloc dallocx exit free
free_aligned_sized free_sized malloc mallocx memalign mmap mmap64 mremap munmap posix_memalign
pvalloc rallocx realloc reallocarray sdallocx valloc xallocx
execve execv execvp execvpe execl execlp execle fexecve execveat posix_spawn posix_spawnp unshare setns close_range dlopen dlmopen dlclose
setuid setgid seteuid setegid setreuid setregid setresuid setresgid setgroups initgroups fork daemon _exit _Exit
fopen fopen64 open open64 openat openat64 __open_2 __open64_2 __openat_2 __openat64_2 readdir readdir64
scandir scandir64 scandirat scandirat64 syscall fcntl fcntl64 dup dup2 dup3 setrlimit setrlimit64 prlimit prlimit64 ulimit
perf_counter perf_probe perf_probe_ex perf_region_begin perf_region_end"
want=$(echo $expected | tr ' ' '\n' | sort)
got=$(nm -D --defined-only "$S" | awk '{print $3}' | grep -v '^_init$\|^_fini$' | sort)
eq "exported symbols are exactly the hooks" "$(echo $got)" "$(echo $want)"
# mallctl is deliberately absent (folly-style jemalloc detection)
check "mallctl is not exported" bash -c "! nm -D --defined-only '$S' | grep -qw mallctl"
check "no C++ runtime is linked" bash -c "! ldd '$S' | grep -q libstdc++"
# dlopen jumps to the real one: glibc takes the caller's RUNPATH and $ORIGIN
# from the return address, which a call from the shim would change
check "dlopen is a jump, not a call (the caller stays the program)" bash -c \
    "objdump -d --no-show-raw-insn '$S' | awk '/<dlopen>:/{f=1; next} f && /^\$/{exit} f' | grep -q 'jmp  *\\*%rax'"
for f in dlopen dlmopen; do
    check "the namespace object's $f is a jump (the caller stays the library)" bash -c \
        "objdump -d --no-show-raw-insn '$(dirname "$S")/libperfprobe-ns.so' | awk '/<$f>:/{f=1; next} f && /^\$/{exit} f' | grep -q 'jmp  *\\*%rax'"
done
check "dlmopen is a jump, not a call (the caller stays the program)" bash -c \
    "objdump -d --no-show-raw-insn '$S' | awk '/<dlmopen>:/{f=1; next} f && /^\$/{exit} f' | grep -q 'jmp  *\\*%rax'"
# the namespace object beside the shim (shim/ns/): the allocator and mmap
# hooks, dlopen and dlmopen (jumps that note what the figures then miss),
# exit, _exit and the exec family (the shim's part of each made first),
# pthread_create (its threads known to the shim), fork (the shim's part of
# a fork made around it), dl_iterate_phdr (the namespace listed as bare),
# its six entries for the shim and its version's mark, nothing else; and it
# links nothing (no NEEDED, no undefined name but its weak reference to the
# table the shim hands it: libc is not ahead of a library's own definitions
# in the namespace's scope)
NS=$(dirname "$S")/libperfprobe-ns.so
ns_version=$(awk '$2 == "PP_NS_LINK_VERSION" && $1 == "#define" {print $3}' "$PP_ROOT/shim/ns/nslink.h")
ns_want="aligned_alloc calloc dlmopen dlopen free malloc malloc_usable_size memalign mmap mmap64 mremap munmap
posix_memalign pp_ns_bind pp_ns_connect pp_ns_holds pp_ns_link_v$ns_version pp_ns_others pp_ns_walk pvalloc realloc reallocarray valloc
exit _exit _Exit execl execle execlp execv execve execvp execvpe fexecve pthread_create fork dl_iterate_phdr"
eq "the namespace object exports exactly its hooks" \
    "$(nm -D --defined-only "$NS" | awk '{print $3}' | grep -v '^_init$\|^_fini$' | sort | tr '\n' ' ')" \
    "$(echo $ns_want | tr ' ' '\n' | sort | tr '\n' ' ')"
eq "the namespace object links nothing" \
    "$(readelf -d "$NS" | grep -c NEEDED) $(nm -u "$NS" | tr -s ' ' | tr '\n' ' ')" "0  w pp_ns_pending "
# the libraries the shim brings into every program: libm was one (two
# functions of the allocation sampling), loaded into C programs that never
# load it and listed by dl_iterate_phdr and /proc/self/maps
eq "the shim needs libc, the loader and libgcc_s only (not libm)" \
    "$(readelf -d "$S" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')" \
    "ld-linux-x86-64.so.2 libc.so.6 libgcc_s.so.1 "
