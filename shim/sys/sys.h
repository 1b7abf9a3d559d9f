/*
 * sys.h - the system layer: what the shim asks of the operating system.
 *
 * Everything below this line is implemented once per system, in
 * shim/sys/<system>/ (linux/, macos/), or once for all of them directly in
 * shim/sys/ where the system's own primitives below it suffice.  The shared code above it (shim/core/,
 * which counts, samples and writes) and the hooks (shim/hooks/) reach the
 * system only through these functions; nothing here calls up into the
 * core or the hooks.  Names are pp_*; every function is documented here.
 *
 * Nothing declared here is exported from the library: it is built with
 * -fvisibility=hidden, and only the interposed libc names and the public
 * perf_* API carry PP_EXPORT.
 */
#ifndef PP_SYS_H
#define PP_SYS_H

#include <stdio.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PP_LIKELY(x)   __builtin_expect(!!(x), 1)
#define PP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PP_EXPORT      __attribute__((visibility("default")))
/* initial-exec: a TLS access is one %fs-relative load, and never calls
 * __tls_get_addr (which may allocate on first use). */
#define PP_TLS         __attribute__((tls_model("initial-exec")))

/* ---- hooks: one body, each system's way of interposing -------------------- *
 *
 * PP_HOOK(ret, name, params) opens the definition of the hook for the C
 * function NAME.  On Linux the hook is NAME itself, exported: the loader
 * binds the program's references to the preloaded library's definition,
 * and the real function is found with dlsym(RTLD_NEXT).  On macOS it is
 * pp_hook_NAME (hidden) with an entry {pp_hook_NAME, NAME} in the
 * __DATA,__interpose section: dyld points every other image's references
 * to NAME at the hook, but not the interposing image's own, so there the
 * real function is called by its own name.  (A dylib that defined NAME
 * itself would call itself: the call binds inside the image.)
 * PP_HOOKED(name) is the hook, for a call from the shim that must be
 * counted (realloc of a bootstrap block calls malloc).
 * PP_REAL_FN(name) declares real_NAME, the next definition. */
#if defined(__APPLE__)
struct pp_interpose { const void *replacement, *replacee; };
#define PP_HOOKED(name) pp_hook_##name
#define PP_HOOK(ret, name, params)                                              \
    ret pp_hook_##name params;                                                  \
    __attribute__((used, section("__DATA,__interpose"))) static const struct   \
        pp_interpose pp_interpose_##name = {(const void *)pp_hook_##name,       \
                                            (const void *)name};                \
    ret pp_hook_##name params
#define PP_REAL_FN(name) __typeof__(name) *const real_##name = name
#else
#define PP_HOOKED(name) name
#define PP_HOOK(ret, name, params) PP_EXPORT ret name params
#define PP_REAL_FN(name)                                                        \
    static __typeof__(name) *real_##name;                                       \
    if (!real_##name)                                                           \
        *(void **)&real_##name = pp_real_next(#name)
#endif

/* ---- the shim's own opens -------------------------------------------------- *
 *
 * Linux: the library exports open (hooks/procfs.c, which edits the
 * program's reads of its own /proc/self/stat and status), and a call to
 * open from inside the library would bind to that hook at run time.  So
 * the shim's own code, which calls open by its name, is compiled to call
 * pp_os_open (linux/os.c) instead: the openat system call itself, never the
 * hook, never the C library's (a cancellation point).  Under
 * _FORTIFY_SOURCE glibc's inline open calls the exported name all the
 * same; the hook then passes a call from the library's own code
 * (pp_os_own_code) to pp_os_open_raw.  PP_OPEN_HOOKS: the file that
 * defines the hooks. */
#if defined(__linux__)
#include <fcntl.h>
#if !defined(PP_OPEN_HOOKS)
extern int open(const char *path, int flags, ...) __asm__("pp_os_open");
#endif
int pp_os_open(const char *path, int flags, ...);
int pp_os_open_raw(int dirfd, const char *path, int flags, mode_t mode);
#endif

/* ---- thread-local data that hooks touch ------------------------------------ *
 *
 * Linux: __thread with the initial-exec model (PP_TLS).  macOS: a block of
 * the shim's own memory per thread, found through a pthread key
 * (PP_THREAD_BLOCK, declared in sys/macos/tls.h with the rest of tls.c's
 * interface), because a __thread variable there allocates on a thread's
 * first access. */
#if defined(__APPLE__)
#include "sys/macos/tls.h"
#endif

/* ---- lock.c, <system>/futex.c: the shim's own locks (lock.h) ---- */
#include "sys/lock.h"
/* Sleep while *WORD == SEEN, until DEADLINE_NS at most (0: no deadline), or
 * until pp_futex_wake(WORD) */
void pp_futex_wait(_Atomic int *word, int seen, uint64_t deadline_ns);
void pp_futex_wake(_Atomic int *word);
void pp_futex_wake_one(_Atomic int *word);

/* ---- <system>/real.c: the functions the hooks stand in for ---------------- */

struct pp_real;

/* The next definition of NAME after the shim (Linux: dlsym(RTLD_NEXT)),
 * or NULL */
void *pp_real_next(const char *name);
/* The first definition of NAME in the process's global scope, or NULL;
 * as pp_real_next, the loader is asked only for a name some object
 * defines, and a failed look-up's message is taken off dlerror's slot */
void *pp_real_global(const char *name);
/* Linux: the loader's own dlclose (the shim exports a dlclose hook,
 * hooks/namespace.c, which a call from inside the shim would reach);
 * -1 when it cannot be found */
int pp_real_dlclose(void *handle);
/* Fill pp_real with the real allocator (the next definitions: Linux
 * dlsym(RTLD_NEXT), or the first definition when another allocator was
 * preloaded before the shim, which is then *FOREIGN; macOS: libSystem's,
 * by name).  SELF is an address in the shim's own object.  Returns 1 when
 * jemalloc's API (mallocx ...) is resolved and jemalloc is the allocator. */
int  pp_real_resolve(struct pp_real *r, void *self, int *foreign);
/* ... the next definitions after all (Linux: the first one passes calls on
 * to the shim; macOS: as pp_real_resolve) */
void pp_real_resolve_next(struct pp_real *r);
/* 1 when another copy of the shim (another object with the probe API: a
 * copy under another path, another build) comes first in the process:
 * this one then resolves to the next definitions and stays idle, so that
 * the first copy's calls pass through it to the allocator (each taking the
 * other's malloc for the real one, the two called each other for ever).
 * SELF is an address in the shim's own object; 0 on macOS */
int  pp_real_other_shim(void *self);
/* Linux: NAME in the dynamic symbol table of the object loaded at BIAS,
 * read in memory (no loader look-up, no message left): its address (and
 * size), 0; -1 when it does not define it */
int  pp_os_elf_symbol(uintptr_t bias, const char *name, uintptr_t *addr, size_t *size);
/* 0 when no loaded object but the shim defines NAME, read in memory as above:
 * a dlsym for it would fail, and reading the message it leaves the loader
 * translates it under glibc's locale locks, which a first malloc inside
 * bindtextdomain holds (and the wrapper's free below); 1 when one may
 * (always on macOS, or when the loader's list cannot be walked now) */
int  pp_os_defined(const char *name);
/* Linux: a look-up that failed while the real functions were being found
 * (inside the program's first malloc, perhaps under a lock of glibc's)
 * has its message taken off now: the shim's constructor calls it */
void pp_real_settle(void);
/* NAME looked up where the real allocator's functions were (the next
 * definition; the first when another allocator comes first): mallctl, the
 * C++ operators (Linux); NULL when none (macOS: always) */
void *pp_real_symbol(const char *name);
/* 1 when FN is in the C library itself (glibc: its malloc is then the one
 * with chunk headers); 0 on macOS, where nothing reads chunk headers */
int  pp_real_in_libc(void *fn);
/* The loaded object whose segments hold ADDR: 1 and its load address in
 * *BASE (Linux: the load bias, 0 for an executable that is not PIE) and
 * its file name in *NAME when NAME is given (Linux: "" for the
 * executable); 0 when no object holds it.  Linux reads the program
 * headers (dl_iterate_phdr), where dladdr would search the symbols too. */
int  pp_real_object_of(const void *addr, uintptr_t *base, const char **name);
/* 1 when A and B are in the same loaded object */
static inline int pp_real_same_object(void *a, void *b)
{
    uintptr_t ba, bb;
    return a && b && pp_real_object_of(a, &ba, NULL) && pp_real_object_of(b, &bb, NULL) &&
           ba == bb;
}
/* mmap, munmap, mremap, past every hook (Linux: the system calls, made
 * directly: resolving anything inside an allocator's initialisation could
 * wait on its own lock; macOS: libSystem's, by name).  errno is set as the
 * real functions set it; MAP_FAILED / -1 on failure. */
void *pp_real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int   pp_real_munmap(void *addr, size_t len);
void *pp_real_mremap(void *old, size_t old_len, size_t new_len, int flags, void *target);
/* end the process now, no handlers (Linux: exit_group; macOS: _exit) */
__attribute__((noreturn)) void pp_real_exit_now(int status);

/* The real allocator (<system>/real.c). */
struct pp_real {
    void *(*malloc)(size_t);
    void  (*free)(void *);
    void *(*calloc)(size_t, size_t);
    void *(*realloc)(void *, size_t);
    int   (*posix_memalign)(void **, size_t, size_t);
    void *(*aligned_alloc)(size_t, size_t);
    void *(*memalign)(size_t, size_t);
    void *(*valloc)(size_t);
    void *(*pvalloc)(size_t);
    size_t (*usable)(void *);
    /* jemalloc's non-standard API; NULL when jemalloc is not loaded */
    void *(*mallocx)(size_t, int);
    void *(*rallocx)(void *, size_t, int);
    size_t (*xallocx)(void *, size_t, size_t, int);
    void  (*dallocx)(void *, int);
    void  (*sdallocx)(void *, size_t, int);
    /* jemalloc is loaded but another allocator's malloc comes first (one
     * preloaded before the shim, a program linked with -ljemalloc): its
     * API above is passed straight on, uncounted, its blocks never mixed
     * with the other's */
    int   jemalloc_apart;
};
/* linux/bind.c (ELF only): point loaded objects' allocator references at
 * the hooks: the GOT slots of every object but the shim's and the
 * loader's whose relocation names an allocator function get the shim's
 * definition of it (found by name in the shim's own object); the
 * allocator's own references to mmap, munmap and mremap get libc's.
 * ALLOC_FN: the allocator's malloc; FOREIGN: it is not glibc's; ALL: the
 * standard names too (else only glibc's __libc_* names).  Returns the
 * number of GOT slots for malloc that now reach the hook.  Takes the
 * loader's lock: never inside a hook. */
int pp_bind_all(void *alloc_fn, int foreign, int all);
/* FOREIGN of the last pp_bind_all (read by the dlopen hook: bind after
 * each dlopen) */
extern _Atomic int pp_bind_active;


/* ---- os.c: clocks, /proc, getrusage, raw mappings, descriptors ------------ */

/* A descriptor the shim keeps: moved far above the program's numbers, and
 * known by device and inode so that a number the program closed (and may
 * have reused) is forgotten, never closed or written.  */
struct pp_fd { int fd; dev_t dev; ino_t ino; };
/* keep FD (moved high) in F; closes FD and returns -1 when the limit on
 * descriptors is too small to keep any (then use a descriptor per call) */
int  pp_fd_adopt(struct pp_fd *f, int fd);
int  pp_fd_ok(struct pp_fd *f);          /* still ours? else forgotten */
/* the same, and the file's size when it is (SIZE may be NULL) */
int  pp_fd_ok_size(struct pp_fd *f, uint64_t *size);
/* put FD's open file (the same file) in place of F's descriptor, number
 * kept, close-on-exec; FD stays open.  0, or -1 */
int  pp_fd_replace(struct pp_fd *f, int fd);
void pp_fd_drop(struct pp_fd *f);        /* close it if it is still ours */
/* F's file moved to another number (its old one closed): the program is
 * about to put a file of its own at F's number.  0, or -1 (F as it was) */
int  pp_fd_move(struct pp_fd *f);
int  pp_fd_can_keep(void);
/* ON 1 while the process has one thread (the shim's start, a forked
 * child's, before the sampler thread): kept descriptors then go above the
 * program's soft RLIMIT_NOFILE where its hard limit allows */
void pp_fd_solo(int on);
/* the identity of descriptor FD; 1 when it is open */
int  pp_fd_identity(int fd, dev_t *dev, ino_t *ino);
int  pp_fd_same(int fd, dev_t dev, ino_t ino);
/* 1 when FD is a descriptor the shim keeps (the number, and the file
 * there still the one the shim opened): hooks/fds.c shows it closed */
int  pp_fd_kept(int fd);

/* room for N bytes from offset AT of FD, reserved without changing the
 * file's size: 0, or an errno (EOPNOTSUPP: the filesystem cannot) */
int pp_os_reserve(int fd, uint64_t at, uint64_t n);
/* an advisory lock on FD's open file, against every other open of the
 * file (flock), taken only when free: 0, or an errno (EWOULDBLOCK: held) */
int  pp_os_try_lock(int fd);
void pp_os_unlock(int fd);
uint64_t pp_now_ns(void);                        /* CLOCK_MONOTONIC */
uint64_t pp_unix_ns(void);                       /* CLOCK_REALTIME */
/* The loader's message of a failed look-up of the shim's, taken off and
 * freed at once (dlerror twice): left pending, glibc frees it through
 * free() at the thread's next dl* call, and a wrapper after the shim
 * whose free looks itself up lazily (dlsym in its first free) met it
 * again and again until its stack ran out; the program's own first
 * dlerror() reads NULL, as bare */
void pp_dl_forget(void);
/* errno's text, untranslated: strerror looks the text up in the locale's
 * catalogue, which allocates once the program has set a locale (bash
 * does), on the sampler thread too */
const char *pp_err_text(int err);
/* SIGPIPE and SIGXFSZ quiet; never waits: what would (a full pipe, a
 * background job's terminal under TOSTOP) is left out */
void  pp_write_all(int fd, const char *p, size_t n);
/* around a write of the shim's: SIGXFSZ (and SIGPIPE when PIPE) blocked,
 * and one the write raised taken away at the end (posix.c) */
struct pp_quiet { sigset_t set, old; int on, had_pipe, had_xfsz; };
void pp_quiet_begin(struct pp_quiet *q, int pipe);
void pp_quiet_end(struct pp_quiet *q);
struct iovec;
/* writev, SIGXFSZ kept away while the file-size limit is finite */
ssize_t pp_writev_quiet(int fd, const struct iovec *v, int n);
/* whether the soft RLIMIT_FSIZE is finite, looked at again (START 1: the
 * shim's start in an image or a forked child; 0: each sample and at exit,
 * kept unless a call of the program's set it meanwhile); around such a
 * call (the hooks, syscall()), the writes keep SIGXFSZ from the program
 * whatever the last look said */
void pp_fsize_check(int start);
uint64_t pp_fsize_limit(void);          /* the soft limit looked at, or UINT64_MAX */
int pp_fsize_guarded(void);             /* SIGXFSZ to be kept away now */
void pp_fsize_change_begin(void);
void pp_fsize_change_end(void);
void *pp_os_map(size_t len);                     /* the shim's own memory */
void  pp_os_unmap(void *p, size_t len);
/* per system: memory straight from the kernel, past every hook */
void *pp_os_map_raw(size_t len);
void  pp_os_unmap_raw(void *p, size_t len);
uint64_t pp_os_resident(uintptr_t addr, size_t len);   /* mincore */
uint64_t pp_os_resident_own(void);               /* the shim's own mappings */
/* the shim's own mappings (pp_os_map) as [start, end) pairs into OUT, at
 * most MAX: how many */
size_t pp_os_own_ranges(uintptr_t (*out)[2], size_t max);
uint64_t pp_os_resident_main_stack(int quick);

struct pp_proc {
    uint64_t rss, hwm;                   /* VmRSS, VmHWM (bytes) */
    uint64_t rss_anon, rss_file, rss_shmem;
    uint64_t threads;
};
int  pp_proc_read(struct pp_proc *out);          /* 0 on success */
uint64_t pp_proc_rss(void);                      /* statm: cheap */
int pp_proc_stat(uint64_t *rss, uint64_t *threads);  /* /proc/self/stat */
/* the main thread has exited (as of the last pp_proc_stat) */
int pp_proc_main_exited(void);
/* the process has one thread (Linux; 0 on macOS) */
int pp_os_one_thread(void);
/* This process's pid as /proc shows it (the pid namespace /proc was
 * mounted in: two processes the program put in namespaces of their own
 * are both pid 1 to getpid, not to a reader of the timeline), and, when
 * PPID is given and that pid is not getpid's, its parent's there.  LOCAL
 * (and *PPID left alone) when /proc says nothing else; macOS: LOCAL */
pid_t pp_os_pid_seen(pid_t local, pid_t *ppid);
/* How many seccomp filters the calling thread runs under: 0, else
 * Seccomp_filters of /proc/thread-self/status (at least 1); INT_MAX in
 * strict mode, where no thread can be made.  FIRST: at the image's start
 * (prctl asks first).  0 on macOS */
int pp_os_filters(int first);
/* ... and the status it ended with, as wait gives it (0: none, or 0);
 * LAST 0 when a sample saw threads of the program's run on after it */
int pp_proc_main_exit_code(int *last);
/* /proc/self/maps on a kept descriptor at offset 0, or -1 */
int pp_proc_maps_fd(void);
int pp_proc_statm(uint64_t *resident, uint64_t *shared);
int  pp_proc_hwm_reset(void);                    /* clear_refs "5"; -1 if not allowed */
void pp_proc_after_fork(void);                   /* reopen every /proc/self file */
/* the kept /proc/self descriptors opened now, on the program's thread,
 * before the sampler runs (which does not open them again: apart.c) */
void pp_proc_prime(void);
#if defined(__linux__)
/* linux/os.c: PATH read from offset 0 into BUF (NUL-terminated, CAP with
 * the NUL) through the kept descriptor F, opened (and kept high when it
 * can be) when it is not; on the sampler thread a file the program closed
 * is read apart instead (apart.c).  Its length, or -1; errno kept */
ssize_t pp_os_read_kept(struct pp_fd *f, const char *path, char *buf, size_t cap);
#endif
#if defined(__linux__)
/* linux/os.c: the start of field K (3 or more) of a /proc/PID/stat line
 * TEXT[0..N): fields are counted after the last ')', which ends the
 * command name whatever it holds; NULL when the line has fewer fields */
const char *pp_stat_field(const char *text, size_t n, int k);
/* <system>/selfstat.c: which of this process's own files PATH names:
 * "/proc/self/stat" or "/proc/PID/stat" with this process's PID, or a
 * thread's own ("/proc/thread-self/stat", "/proc/self/task/TID/stat",
 * "/proc/PID/task/TID/stat", "/proc/TID/stat" with TID a thread of this
 * process), all of which count the process's threads
 * (PP_SELF_STAT), the same with "status" (PP_SELF_STATUS), else 0 */
enum { PP_SELF_STAT = 1, PP_SELF_STATUS = 2 };
int pp_os_self_proc_file(const char *path);
/* a descriptor over the text of PATH (WHICH: pp_os_self_proc_file's) with
 * its thread count less one when the thread HIDDEN is still listed after
 * the read (-1: a thread being created, counted): the lowest free number,
 * read-only at offset 0, close-on-exec and non-blocking as FLAGS (open's)
 * say; -1 (errno kept) when it cannot be made: open the real file */
int pp_os_self_proc_fd(const char *path, int which, int flags, pid_t hidden);
/* the same as a stream, MODE fopen's for reading; NULL (errno kept) when
 * it cannot be made */
FILE *pp_os_self_stat_stream(const char *path, int which, const char *mode, pid_t hidden);
/* 1 when NAME, an entry of the directory open on FD (PATH NULL), or of
 * the directory PATH (relative to FD, as openat takes them), is the thread
 * HIDDEN (or the sampler's task apart) in this process's own
 * /proc/self/task: an entry a listing leaves out.  Only a name that is
 * that id costs more than a few compares; errno kept */
int pp_os_own_task_entry(int fd, const char *path, const char *name, pid_t hidden);
/* ADDR is in the library's own code (a return address: the caller is the
 * shim; see pp_os_open) */
int pp_os_own_code(const void *addr);
#endif

/* maxrss: getrusage's ru_maxrss in bytes, which after pp_proc_hwm_reset is
 * the peak since the reset (see probe.c for when it can be trusted) */
struct pp_cpu { uint64_t user_ns, sys_ns, minflt, majflt, maxrss; };
void pp_cpu_read(struct pp_cpu *out);


/* the program's command line (NUL-separated, as the kernel keeps it): bytes
 * read into OUT, or -1 */
ssize_t pp_os_cmdline(char *out, size_t cap);
void pp_os_exe(char *out, size_t cap);           /* the executable's path */
/* pthread_key_create for a key of the shim's (counters.c, region.c): on
 * Linux numbered at the top of the first block of 32 (the numbers below
 * are the program's, as bare, and a dlmopen namespace's libc, which
 * numbers its keys from 0 again in the same slots of each thread, meets
 * the shim's values only past 30 keys of its own) */
int  pp_os_key_create(pthread_key_t *key, void (*destructor)(void *));
/* 1 when P lies in a read-only segment of a loaded object (a literal) */
int  pp_os_read_only(const void *p);

/* <system>/real.c, for life.c: the program's short name (Linux
 * program_invocation_short_name, macOS getprogname); 1 on the process's
 * main thread; FN(ARG) run when this thread ends, after its TLS
 * destructors (Linux __cxa_thread_atexit_impl, macOS _tlv_atexit): 0 when
 * registered */
const char *pp_os_progname(void);
int  pp_os_main_thread(void);
int  pp_os_thread_atexit(void (*fn)(void *), void *arg);
#if defined(__linux__)
/* FN(status, ARG) at the process's exit, with the status given to exit
 * (main's return value too, which glibc passes to an exit inside libc,
 * past the exit hook) */
int  pp_os_on_exit(void (*fn)(int status, void *arg), void *arg);
#endif
/* <system>/secure.c, for the exec and spawn hooks: why the program FILE
 * will run without the shim whatever its environment says ("set-user-ID",
 * "set-group-ID", "file capabilities"; macOS: "System Integrity
 * Protection"), or NULL.  PATH: the search list when FILE is looked up as
 * execvp does (NULL: FILE is a path).  A few system calls; never a hook's
 * fast path. */
const char *pp_os_exec_untraced(const char *file, const char *path);
/* the reason pp_os_exec_untraced gives (Linux) for a program another
 * loader runs: an ELF file (or a script's interpreter) of another class or
 * machine, whose loader cannot preload the shim and says so on stderr
 * unless the shim's entry is taken out of the variable (the exec hooks do,
 * when this very pointer comes back) */
extern const char pp_os_other_abi[];
/* 1 when the program at path FILE is of another ELF class or machine (that
 * check alone, in a small frame: for a vfork child's exec, whose stack may
 * be a few KiB); 0 otherwise, and always on macOS */
int pp_os_exec_other_abi(const char *file);
/* Linux: the ELF file FILE is of the shim's class and machine (0), of
 * another (1: the loader passes over it, or runs it with a loader of its
 * own), or not ELF or unreadable (-1) */
int pp_os_elf_class(const char *file);
/* posix.c: the file an exec of FILE runs (looked up in PATH as execvp
 * does, into BUF, unless FILE has a '/' or PATH is NULL), or NULL */
const char *pp_exec_file(const char *file, const char *path, char *buf, size_t cap);
/* the variable that preloads the shim into the processes a program starts */
#if defined(__APPLE__)
#define PP_PRELOAD_VAR "DYLD_INSERT_LIBRARIES"
#else
#define PP_PRELOAD_VAR "LD_PRELOAD"
#endif

/* LEN bytes of the process's own memory at SRC, read through the kernel
 * (never a fault, whatever SRC is): 0, or EFAULT (not all mapped), or the
 * errno that refuses the call (ENOSYS, EPERM) */
int  pp_os_peek(void *dst, uintptr_t src, size_t len);
/* the errno with which the kernel first refused a pp_os_peek (a seccomp
 * filter), 0 while none was refused (macOS: never) */
int  pp_os_peek_refused(void);
/* the calling thread's id, cached (reset in a forked child) */
pid_t pp_tid(void);
void pp_tid_forget(void);
/* 1 when thread TID of this process is no longer there (the kernel took
 * it out of the thread group), 0 while it is, -1 when this system cannot
 * tell */
int  pp_tid_gone(pid_t tid);
/* where a thread's id is kept in its thread block (the address
 * pthread_self gives): the byte offset of that 32-bit word, the same for
 * every thread.  glibc's struct pthread has the tid there, written by the
 * kernel (CLONE_PARENT_SETTID) before pthread_create returns; macOS's
 * libpthread has its 64-bit thread_id there, whose low half is pp_tid.
 * Found as the first of the calling thread's own block's 512 words that
 * holds its pp_tid, and kept once found (a search that finds nothing is
 * made again at the next call).  PEEK: the block is read through the
 * kernel (pp_os_peek, never a fault; a refused read finds nothing), for
 * the sampler thread; 0: read in place, word by word up to the one found,
 * no system call, for a program's thread.  -1 when not found */
int  pp_os_tid_offset(int peek);
/* the id of thread T, just made by pthread_create on this thread, before
 * it runs (read in place at pp_os_tid_offset in T's block, where the
 * kernel wrote it); -1 unknown (macOS: always) */
pid_t pp_os_created_tid(pthread_t t);

/* ---- reading the process's own memory (the leak check, core/leaks.c) ------ *
 *
 * Linux: /proc/self/maps, process_vm_readv, mincore, dl_iterate_phdr
 * (linux/maps.c, os.c, modules.c).  macOS: mach_vm_region_recurse,
 * mach_vm_read_overwrite, mincore, dyld's images (macos/memory.c,
 * modules.c).  Never from a hook. */
/* each mapping in address order: FN(start, end, the main thread's stack,
 * ARG), until FN returns nonzero; KEPT: for stacks.c, on the kept descriptor
 * (one reader at a time: the sampler thread), else on a descriptor of its
 * own (macOS: no descriptor, KEPT is unused).  0 when read to the end or
 * stopped, -1 when it could not be read */
typedef int (*pp_mapping_fn)(uintptr_t start, uintptr_t end, int main_stack, void *arg);
int pp_os_mappings(int kept, pp_mapping_fn fn, void *arg);
/* LEN bytes at ADDR of this process into DST by a system call, never a
 * load, so that a page unmapped meanwhile is an error, not a fault: bytes
 * copied (fewer at an unreadable page), or -1 with errno (ENOSYS, EPERM:
 * the system forbids it) */
ssize_t pp_os_read_own(void *dst, uintptr_t addr, size_t len);
/* each writable segment (data, bss) of every loaded module but the shim's
 * (macOS: and but libsystem_malloc's, whose data are the allocator's own
 * bookkeeping; plus the regions system libraries keep their globals in,
 * os_alloc_once's) */
void pp_modules_each_writable(void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg);
/* mincore over PAGES 4 KiB pages from ADDR (aligned): bit 0 of VEC[i] set
 * when page i is resident (macOS: or compressed, which a read brings
 * back); 0, or -1 (not all of it mapped) */
int pp_os_page_vector(uintptr_t addr, size_t pages, unsigned char *vec);

/* ---- stacks.c: the threads' stacks ---------------------------------------- */

/* Each thread that counts an allocation leaves an address on its stack
 * (core/counters.c: pp_counters_stack_hints); the system layer finds the
 * stack mapping around each and measures what of them is resident. */
typedef size_t (*pp_stack_hints_fn)(uintptr_t *out, size_t max);
/* Resident bytes of every thread's stack, the main one included.  QUICK:
 * trust the ranges found last unless GENERATION moved (new threads), else
 * search /proc/self/maps again around the addresses HINTS gives. */
uint64_t pp_stacks_resident(int quick, uint64_t generation, pp_stack_hints_fn hints);
void pp_stacks_after_fork_child(void);
/* per system: the mapping around each of HINTS (NH of them, may be
 * reordered), each once, into OUT: how many, or -1 when the system's list
 * could not be read */
struct pp_range { uintptr_t start, end; };
long pp_stacks_find(uintptr_t *hints, size_t nh, struct pp_range *out, size_t cap);

/* ---- single.c: glibc's single-threaded shortcuts kept for the program ----- */

/* Around the sampler's pthread_create: 1 when glibc believed the process
 * single-threaded before it (only offered with glibc's own allocator, which
 * GLIBC_ALLOCATOR says); then the flag is set back after it. */
int  pp_single_before_create(int glibc_allocator);
void pp_single_after_create(int was_single, int created);
/* glibc is told the process is multi-threaded (for good before set*id,
 * for the call around fork): 1 when the flag was cleared; RESTORE with that
 * answer sets it back */
int  pp_single_end(void);
void pp_single_restore(int ended);
/* This thread is the sampler (ON=1), or no longer (it ends the process) */
void pp_single_mark_sampler(int on);
/* 1 when this thread may take a pthread mutex the program's threads take
 * too (the loader's, in dl_iterate_phdr): a thread of the program's, or
 * the sampler once glibc takes and frees mutexes with atomic operations
 * for good.  Else the sampler must not: the program's thread could hold it
 * at the same time, or free it without waking the sampler. */
int  pp_single_may_lock(void);
/* In a nested allocator call: 1 when it must not reach glibc's allocator
 * (the sampler thread, while glibc takes no locks); counts it */
int  pp_single_served_aside(void);
uint64_t pp_single_aside_count(void);


/* ---- clock.c: the clock regions are timed with ---------------------------- */

/* non-zero while the TSC is used (the CPU says it is invariant, and it has
 * agreed with CLOCK_MONOTONIC so far) */
extern _Atomic int pp_clock_tsc;
void pp_clock_init(void);
uint64_t pp_clock_raw(void);         /* rdtsc */
uint64_t pp_clock_slow(void);        /* the ticks without the TSC */
double pp_clock_rate(void);          /* ticks per nanosecond */
/* the ticks and CLOCK_MONOTONIC at start-up, read as one instant */
void pp_clock_origin(uint64_t *tick, uint64_t *mono);
const char *pp_clock_name(void);     /* "tsc", "monotonic", ... */
void pp_clock_check(void);           /* the sampler thread, every sample */
static inline uint64_t pp_ticks(void)
{
#if defined(__x86_64__)
    if (PP_LIKELY(atomic_load_explicit(&pp_clock_tsc, memory_order_relaxed))) {
        uint32_t lo, hi;
        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        return ((uint64_t)hi << 32) | lo;
    }
#endif
    return pp_clock_slow();
}

/* 1 once after the clock fell back from the TSC (from pp_clock_check):
 * why, and the two rates (ticks/ns) that disagreed (WANT 0: none) */
int pp_clock_fell_back(const char **why, double *got, double *want);

/* ---- unwind.c, cfi.c, modules.c: call stacks and the loaded modules ------- */

#define PP_STACK_MAX 256
int  pp_unwind(uintptr_t *out, int max);
/* the text of the shim's object in link namespace SLOT (hooks/namespace.c),
 * [LO, HI): its hook frames are cut off the top of a stack as the shim's
 * own are; LO = HI = 0 takes the range away */
void pp_unwind_own_range(int slot, uintptr_t lo, uintptr_t hi);
/* stacks libgcc's unwinder walked so far (the others: cfi.c) */
uint64_t pp_unwind_by_libgcc(void);
/* cfi.c: the walk with remembered rules; -1 when libgcc must walk */
int  pp_cfi_ready(void);
int  pp_cfi_walk(uintptr_t *out, int max, uintptr_t skip_lo, uintptr_t skip_hi);
/* the walk over a copied stack (a CPU sample's): reads only the copy */
int  pp_cfi_walk_copy(uintptr_t *out, int max, uintptr_t ip, uintptr_t sp, uintptr_t bp,
                      const void *copy, size_t size, int *complete);
struct dl_phdr_info;
/* modules.c: [lo, hi) of a loaded object's PT_LOAD segments (hi 0: none) */
void pp_module_range(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi);
void pp_unwind_init(void);
void pp_modules_init(void);
void pp_modules_refresh(void);
/* 1 when a refresh was asked for on the sampler thread and left undone
 * (pp_single_may_lock): the program's thread makes it */
int  pp_modules_wanted(void);
int  pp_modules_find(uintptr_t addr);
/* 0 while the loader is adding or removing objects (a dlopen under way in
 * some thread), 1 between: a scan then sees each new object whole */
int  pp_modules_settled(void);
/* FN(ARG) while the object loaded at module I's base stays loaded: inside
 * the loader's walk, under the lock it unloads objects under (Linux); 1
 * when FN ran, 0 when no object is loaded there now, -1 when the walk
 * cannot be made now (another walk of the shim's, or the sampler thread
 * while glibc believes the process single-threaded) */
int  pp_modules_while_loaded(size_t i, void (*fn)(void *arg), void *arg);
/* What the timeline says of a module: its path, build id, load bias and
 * address ranges ([lo, hi) pairs, at most PP_MODULE_RANGES). */
#define PP_MODULE_RANGES 8
struct pp_module_info {
    const char    *path;
    size_t         path_len;
    const uint8_t *build_id;
    int            build_id_len;
    uintptr_t      base;
    int            nranges;
    const uintptr_t (*range)[2];
};
size_t pp_modules_count(void);
/* module I's path ("" for the executable's when unknown), NULL past the end */
const char *pp_modules_path(size_t i);
/* module I's load bias (0 past the end) */
uintptr_t pp_modules_base(size_t i);
/* <system>/modules.c: the address (and size) of the defined symbol NAME
 * (its C name) that module I of the list exports, read from its tables in
 * memory (no loader look-up: no lock, no allocation); 0, or -1 when it has
 * none by that name.  Linux: the ELF dynamic symbol table at the module's
 * load bias, through its hash table.  macOS: the image's LC_SYMTAB
 * (pp_macho_symbol; the Mach-O name has an underscore before the C name),
 * a defined external symbol, its size up to the next symbol or function
 * of its section (Mach-O records none). */
int pp_module_symbol(size_t i, const char *name, uintptr_t *addr, size_t *size);
/* modules.c, from the scan: add a module unless it is known (same base and
 * extent); 1 when the list is full */
int  pp_module_add(const struct pp_module_info *m);
/* <system>/modules.c: find the loaded modules, pp_module_add each (under
 * the refresh's try-lock); nothing on a thread that may not take the
 * loader's lock (pp_single_may_lock) */
void pp_modules_scan(void);
/* Module I, claimed for writing: 0 when it was already claimed in this
 * process image (a forked child claims every module again). */
int  pp_modules_claim(size_t i, struct pp_module_info *out);
void pp_modules_after_fork_child(void);
/* around fork, on the forking thread: wait (50 ms at most) for a scan of
 * the loader's list under way, so that the child does not inherit the
 * loader's lock held */
void pp_modules_fork_prepare(void);
void pp_modules_fork_parent(void);
/* Linux: the link namespaces the shim made (hooks/namespace.c), each with
 * WALK, a dl_iterate_phdr made from inside it (the loader lists its
 * caller's namespace only), so that their objects are modules too and
 * their data the leak check's roots.  SLOT below PP_NS_WALKS; WALK NULL
 * takes it away, under the loader walk's try-lock (a scan holds it). */
struct dl_phdr_info;
typedef int (*pp_ns_walk_fn)(int (*cb)(struct dl_phdr_info *, size_t, void *), void *arg);
enum { PP_NS_WALKS = 16 };
void pp_modules_namespace(int slot, pp_ns_walk_fn walk);

/* ---- cgroup.c: the memory limit the process runs under -------------------- */

/* the memory limit that binds the process and the usage it is held
 * against: of its cgroup or of an ancestor up to the mount point, the level
 * with the least room (v2 memory.max and memory.current; v1
 * memory.limit_in_bytes or memory.memsw.limit_in_bytes, memory.usage_in_bytes,
 * and memory.stat's hierarchical limits for one out of sight) (the sampler
 * thread only); 0 when there is none to read */
int  pp_cgroup_memory(uint64_t *limit, uint64_t *current);
/* The kernel's own counts of the level pp_cgroup_memory watches meeting
 * its limit, in order of precedence (name[i] says which; bit i of KNOWN
 * when count[i] was read, a file missing is left out):
 *  v2: 0 memory.events "max" (reclaim at memory.max), 1 memory.events
 *      "high" (over memory.high), 2 memory.pressure "some" total (PSI:
 *      microseconds stalled on memory);
 *  v1: 0 memory.failcnt, 1 memory.memsw.failcnt (when the level has a
 *      memory+swap limit).
 * LEVEL moves when another level is watched (the counts start afresh).
 * The sampler thread only, after pp_cgroup_memory returned 1; 0 when there
 * is nothing to read (no limit, or a v1 limit out of sight: no count of
 * its own in sight).  Kept descriptors (two at most), no allocation,
 * errno kept. */
#define PP_CG_COUNTS 3
struct pp_cgroup_counts {
    unsigned level;
    unsigned known;
    uint64_t count[PP_CG_COUNTS];
    const char *name[PP_CG_COUNTS];
};
int  pp_cgroup_counts(struct pp_cgroup_counts *c);
/* ---- linux/apart.c: the sampler's opens, out of the program's table ------- *
 * (macOS: pp_apart_run and pp_apart_read refuse, and the callers open as
 * before) */

/* FN(ARG) run by a short-lived task of the thread group with its own copy
 * of the descriptor table (raw system calls only); *RC its result.  -1
 * when no such task can be made (the caller then does it itself). */
int  pp_apart_run(int (*fn)(void *), void *arg, int *rc);
/* that task's id while it runs, else 0; a count of runs begun and ended,
 * odd from before a task is made until it is gone; whether TID was one of
 * the last 16 such tasks (which may since have ended) */
pid_t pp_apart_tid(void);
unsigned pp_apart_gen(void);
int   pp_apart_was(pid_t tid);
/* PATH read from offset 0 into BUF (up to CAP bytes) apart: its length or
 * -1 (errno); *DONE 0 when no task could be made (nothing was tried) */
ssize_t pp_apart_read(const char *path, char *buf, size_t cap, int *done);
/* this thread is the sampler (ON 1), or no longer; pp_apart_here: 1 on it,
 * where an open must be made apart */
void pp_apart_mark(int on);
int  pp_apart_here(void);
/* in a forked child, before its sampler starts */
void pp_apart_after_fork(void);
/* on the program's thread, before the sampler starts: no task apart is
 * ever made under valgrind (its LD_PRELOAD names vgpreload_core), whose
 * clone takes only a thread's or a fork's flags and ends the program on
 * any other */
void pp_apart_prime(void);
/* before a seccomp filter goes on every thread: no task apart from now on,
 * none under way when the filter lands */
void pp_apart_forbid(void);

/* ---- linux/syscall.c: the process's syscall() ------------------------------ *
 *
 * The core's pair that stops the sampler thread around a call that needs
 * the process to have one thread (core/life.c: pp_alone_begin and
 * pp_alone_end), handed over at start-up: syscall() makes unshare, setns
 * and close_range with CLOSE_RANGE_UNSHARE between them.  Until then (or
 * on a system with no exported syscall) those calls go straight through. */
void pp_syscall_alone(int (*begin)(void), void (*end)(int));

/* ---- linux/perf.c: the kernel's CPU samples, one event per thread --------- */

/* An event sampling thread TID's user stack every PERIOD_NS of its CPU
 * time (task-clock, user mode only), with its ring buffer mapped. */
struct pp_perf_ev {
    pid_t tid;
    int fd;                       /* -1: the mapping holds the event */
    uint64_t id;                  /* macOS: the thread's send right */
    void *meta;                   /* the kernel's page, then the data pages */
    char *data;
    size_t data_size, map_len;
    uint64_t head, tail, lost;    /* lost: samples the kernel dropped, so far */
    int reading, seen;            /* seen: core's mark */
    int ended;                    /* the thread's EXIT record was read */
};
#define PP_PERF_CHAIN 128
/* One sample: the thread, the time (CLOCK_MONOTONIC ns), the kernel's
 * frame-pointer chain (first entry the ip + 1, the rest return addresses),
 * the user registers (has_regs) and the copy of the top of the stack. */
struct pp_perf_sample {
    pid_t tid;
    uint64_t ip, time, reg_ip, sp, bp;
    int has_regs, nchain;
    uintptr_t chain[PP_PERF_CHAIN];
    const void *copy;
    size_t copy_len;
};
/* 0 opened; else the errno that refuses it (ESRCH: the thread is gone;
 * ENOMEM: the locked-memory allowance for buffers is spent). DATA_PAGES a
 * power of two. Leaves errno as it was. */
int  pp_perf_open(struct pp_perf_ev *e, pid_t tid, uint64_t period_ns, size_t data_pages,
                  unsigned stack_bytes);
/* The same for N threads TIDS at once, into E[i] and ERRS[i] (Linux: one
 * task apart opens them all: a task a thread waited its turn for a CPU
 * each time, for seconds among hundreds of busy threads) */
void pp_perf_open_many(struct pp_perf_ev *e, const pid_t *tids, int *errs, int n,
                       uint64_t period_ns, size_t data_pages, unsigned stack_bytes);
/* close it (unmap its buffer); UNMAP 0 in a forked child, which has no
 * copy of the buffer (whatever is there is not the shim's) */
void pp_perf_close(struct pp_perf_ev *e, int unmap);
/* the next sample of E's buffer into S (1), or 0 when all is read (the
 * space is then given back to the kernel); a record that wraps the ring is
 * copied into SCRATCH (skipped when longer than SCRATCH_LEN). S points into
 * the buffer or SCRATCH until the next call. */
int  pp_perf_next(struct pp_perf_ev *e, struct pp_perf_sample *s, char *scratch,
                  size_t scratch_len);
/* the process's threads from /proc/self/task (DIR kept open, high, between
 * calls): up to MAX ids into TIDS, their number, -1 when it cannot be read;
 * pp_task_dir_open opens DIR ahead, on the program's thread */
int  pp_task_list(struct pp_fd *dir, pid_t *tids, int max);
int  pp_task_dir_open(struct pp_fd *dir);

/* ---- macos/perf.c, macos/fpwalk.c: the same CPU samples on macOS ----------- *
 *
 * macOS has no perf_event: there the sampler thread takes the samples
 * itself, with no signal and nothing run in the program's threads.
 * pp_task_list lists the task's threads (task_threads; DIR is unused) by
 * the ids pp_tid gives.  pp_perf_open keeps a send right to the thread
 * (E->id) and its state (E->meta, the shim's own memory); no descriptor
 * (E->fd -1), no ring buffer (DATA_PAGES and STACK_BYTES unused).
 * pp_perf_next, at the first call of a drain, reads the thread's user CPU
 * time (thread_info) and, when at least PERIOD_NS of it has passed since the
 * last sample, suspends the thread, reads pc, fp and sp (thread_get_state),
 * walks its frame-pointer chain through the kernel (mach_vm_read_overwrite,
 * never a load from the thread's stack) and resumes it; that stack is then
 * handed out once per whole period of CPU time the thread used (the rest is
 * carried to the next drain), as CHAIN only (HAS_REGS 0, no copy).  Nothing
 * is allocated and no lock is taken while a thread is suspended.  The
 * calling thread is never suspended (it has no samples).  pp_perf_close
 * gives the right back, but in a forked child (UNMAP 0), where the parent's
 * port names mean nothing. */

/* the two words of a frame record at ADDR (the saved frame pointer, then
 * the return address) into OUT: 0, or -1 when they cannot be read */
typedef int (*pp_fp_read_fn)(void *ctx, uintptr_t addr, uintptr_t out[2]);
/* A frame-pointer walk, pure (declared on every system:
 * tests/unit/test_fpwalk.c runs it on Linux over a made-up stack): OUT[0]
 * is PC + 1, then the return address of each frame record from FP on,
 * masked with MASK (arm64: the pointer-authentication bits off), while the
 * records lie within [LO, HI), aligned, each above the one before, READ
 * succeeds and the return address is not 0; at most MAX entries.  Returns
 * how many (0 when MAX is 0). */
int pp_fp_walk(uintptr_t pc, uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t mask,
               pp_fp_read_fn read, void *ctx, uintptr_t *out, int max);

/* ---- macos/macho.c: a loaded Mach-O image's tables, pure ------------------- *
 *
 * Declared on every system: tests/unit/test_macho.c runs them on Linux over
 * dylibs built for macOS, laid out in memory at their segments' addresses.
 * HDR: the image's mach_header_64 in memory; SLIDE: what dyld added to its
 * addresses. */
/* the defined external symbol whose C name is NAME (the Mach-O name has an
 * underscore before it): its address and, when SIZE is not NULL, the bytes
 * up to the next symbol of its section, the next function's start
 * (LC_FUNCTION_STARTS) or the section's end; 0, or -1 when
 * there is none (or HDR is no 64-bit Mach-O header) */
int pp_macho_symbol(uintptr_t hdr, uintptr_t slide, const char *name, uintptr_t *addr,
                    size_t *size);
/* FN(start, end, ARG) for each segment mapped writable (its initial
 * protection) but those dyld alone writes (__DATA_CONST, __AUTH_CONST, or
 * any marked read-only after fixups): how many, or -1 */
int pp_macho_each_writable(uintptr_t hdr, uintptr_t slide,
                           void (*fn)(uintptr_t start, uintptr_t end, void *arg), void *arg);

#endif
