/*
 * internal.h - what the shim's files share with each other.
 *
 * Nothing declared here is exported from libperfprobe.so: the library is
 * built with -fvisibility=hidden and only the interposed libc names and the
 * public perf_* API carry PP_EXPORT.  Names shared between files start with
 * pp_; everything else in a file is static.  Declarations are grouped under
 * the file that defines them.
 */
#ifndef PP_INTERNAL_H
#define PP_INTERNAL_H

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

/* ---- preload.c: the interposed functions --------------------------------- */

/* What a hook reads on every call, in one initial-exec TLS block so that
 * one GOT load finds all of it:
 *   in_hook    non-zero while this thread is inside one of the shim's hooks
 *              (or is the sampler thread): nested allocator calls go
 *              straight to the real allocator, neither counted nor tracked;
 *   slot       this thread's counter slot (counters.c), NULL until its
 *              first counted call;
 *   countdown  bytes this thread may still allocate before its next sampled
 *              block (sites.c). */
struct pp_slot;
struct pp_hot {
    int             in_hook;
    int             glibc;          /* 1: glibc's allocator is resolved (set by
                                     * this thread's first slow call); with
                                     * in_hook, one 8-byte compare */
    struct pp_slot *slot;
    int64_t         countdown;
    int             slot_dead;      /* past the slot's thread-exit destructor */
};
extern __thread struct pp_hot pp_hot PP_TLS;
#define pp_in_hook (pp_hot.in_hook)

/* ---- lock.c: the shim's own locks ----------------------------------------- *
 *
 * Not pthread mutexes: glibc locks those without an atomic instruction
 * while it believes the process single-threaded, which the shim makes it
 * believe while the program has one thread (single.c) although the sampler
 * thread takes these locks too.  0 free, 1 held, 2 held with waiters. */
typedef struct { _Atomic int v; } pp_lock_t;
#define PP_LOCK_INIT {0}
void pp_lock_wait(pp_lock_t *l);
int  pp_lock_wait_until(pp_lock_t *l, uint64_t deadline_ns);  /* CLOCK_MONOTONIC */
void pp_lock_wake(pp_lock_t *l);
static inline int pp_trylock(pp_lock_t *l)    /* 0 when taken */
{
    int free_ = 0;
    return !atomic_compare_exchange_strong_explicit(&l->v, &free_, 1, memory_order_acquire,
                                                     memory_order_relaxed);
}
static inline void pp_lock(pp_lock_t *l)
{
    if (pp_trylock(l))
        pp_lock_wait(l);
}
/* 0 when taken before DEADLINE_NS (pp_now_ns's clock), else -1 */
static inline int pp_lock_until(pp_lock_t *l, uint64_t deadline_ns)
{
    return pp_trylock(l) ? pp_lock_wait_until(l, deadline_ns) : 0;
}
static inline void pp_unlock(pp_lock_t *l)
{
    if (atomic_exchange_explicit(&l->v, 0, memory_order_release) == 2)
        pp_lock_wake(l);
}
/* In a forked child: free, whoever held it in the parent */
static inline void pp_lock_reset(pp_lock_t *l)
{
    atomic_store_explicit(&l->v, 0, memory_order_relaxed);
}
/* Sleep while *WORD == SEEN, until DEADLINE_NS at most (0: no deadline), or
 * until pp_futex_wake(WORD) */
void pp_futex_wait(_Atomic int *word, int seen, uint64_t deadline_ns);
void pp_futex_wake(_Atomic int *word);

/* The real allocator, resolved once with dlsym(RTLD_NEXT, ...). */
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
};
extern struct pp_real pp_real;
void pp_resolve(void);
/* usable size of a live block: the allocator's malloc_usable_size, or for
 * glibc an equivalent that reads only the block's own header */
size_t pp_usable(void *p);
/* "glibc", "jemalloc", "tcmalloc", "mimalloc" or the library's name: whose
 * malloc the hooks forward to; and that library's path */
const char *pp_allocator_name(void);
const char *pp_allocator_library(void);
/* 1 when the real allocator is glibc's (resolved, and its self-test passed) */
int pp_allocator_is_glibc(void);
/* 0 when the program's malloc is not the shim's (another allocator was
 * preloaded before it, or the executable defines malloc) */
int pp_heap_counted(void);
/* At start-up: find whose malloc the program calls; WARN: say so on stderr
 * when it is not the shim's. */
void pp_allocator_check(int warn);
/* On the sampler thread: warnings that hooks may not print themselves. */
void pp_allocator_tick(void);
/* Why the heap figures are not exact, if they are not: up to MAX reasons. */
int pp_inexact_reasons(const char **out, int max);
/* "chunk-header" (glibc, read directly) or "malloc_usable_size" */
const char *pp_usable_method(void);
int pp_jemalloc_stats(uint64_t *allocated, uint64_t *active, uint64_t *resident);

/* ---- options.c: every PERFPROBE_* setting -------------------------------- */

enum { PP_FOLLOW_NONE = 0, PP_FOLLOW_EXEC = 1, PP_FOLLOW_ALL = 2 };
struct pp_options {
    char     output[4096];   /* timeline path template (%p, %n not expanded) */
    uint64_t interval_ms;
    int      quiet;
    int      follow;         /* PP_FOLLOW_* */
    uint64_t batch_bytes;
    int      hwm;
    int      parts;
    uint64_t parts_stride;
    uint64_t region_window_ms;
    char     stacks[16];     /* off, sample or all (sites.c) */
    uint64_t sample_bytes, stack_depth, stack_table, top, seed;
    uint64_t dump_at;        /* site views from this RSS or heap (peakview.c) */
};
extern struct pp_options pp_opt;
void pp_options_load(int warn);     /* warn: print bad values and unknown names */
const char *pp_getenv(const char *name);

struct pp_option_doc { const char *name, *def, *desc; };
/* The rows of the options table, for the generated documentation. */
const struct pp_option_doc *pp_options_doc(size_t *n);

/* ---- os_linux.c: everything that talks to the kernel ---------------------- */

/* A descriptor the shim keeps: moved far above the program's numbers, and
 * known by device and inode so that a number the program closed (and may
 * have reused) is forgotten, never closed or written.  */
struct pp_fd { int fd; dev_t dev; ino_t ino; };
/* keep FD (moved high) in F; closes FD and returns -1 when the limit on
 * descriptors is too small to keep any (then use a descriptor per call) */
int  pp_fd_adopt(struct pp_fd *f, int fd);
int  pp_fd_ok(struct pp_fd *f);          /* still ours? else forgotten */
void pp_fd_drop(struct pp_fd *f);        /* close it if it is still ours */
int  pp_fd_can_keep(void);
/* the identity of descriptor FD; 1 when it is open */
int  pp_fd_identity(int fd, dev_t *dev, ino_t *ino);
int  pp_fd_same(int fd, dev_t dev, ino_t ino);

uint64_t pp_now_ns(void);                        /* CLOCK_MONOTONIC */
uint64_t pp_unix_ns(void);                       /* CLOCK_REALTIME */
void  pp_write_all(int fd, const char *p, size_t n);
void *pp_os_map(size_t len);                     /* raw mmap syscall */
void  pp_os_unmap(void *p, size_t len);
uint64_t pp_os_resident(uintptr_t addr, size_t len);   /* mincore */
uint64_t pp_os_resident_own(void);               /* the shim's own mappings */
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
/* /proc/self/maps on a kept descriptor at offset 0, or -1 */
int pp_proc_maps_fd(void);
int pp_proc_statm(uint64_t *resident, uint64_t *shared);
int  pp_proc_hwm_reset(void);                    /* clear_refs "5"; -1 if not allowed */
void pp_proc_after_fork(void);                   /* reopen every /proc/self file */

/* maxrss: getrusage's ru_maxrss in bytes, which after pp_proc_hwm_reset is
 * the peak since the reset (see probe.c for when it can be trusted) */
struct pp_cpu { uint64_t user_ns, sys_ns, minflt, majflt, maxrss; };
void pp_cpu_read(struct pp_cpu *out);

/* ---- buf.c: JSON and text formatting into fixed buffers ------------------- */

struct pp_buf { char *p; size_t len, cap; };
void pp_buf_raw(struct pp_buf *b, const char *s, size_t n);
void pp_buf_str(struct pp_buf *b, const char *s);
void pp_buf_u64(struct pp_buf *b, uint64_t v);
void pp_buf_i64(struct pp_buf *b, int64_t v);
/* v / 10^scale printed with `decimals` digits after the point (rounded) */
void pp_buf_fixed(struct pp_buf *b, int64_t v, unsigned scale, unsigned decimals);
/* A JSON string literal: quotes, escapes, invalid UTF-8 replaced by U+FFFD.
 * At most max_in input bytes are used (longer input is cut on a character
 * boundary); NULL prints null. */
void pp_buf_json_str(struct pp_buf *b, const char *s, size_t max_in);
/* ,"key":  (no comma when the buffer ends with '{') */
void pp_buf_key(struct pp_buf *b, const char *key);
/* a double as JSON: up to 6 decimals, or 6 significant digits in
 * exponent form for very large or small values; null when not finite */
void pp_buf_double(struct pp_buf *b, double v);
/* right-aligned text column helpers for the exit table */
void pp_buf_pad(struct pp_buf *b, size_t width, const char *s, size_t n);

/* one line on stderr: "perfprobe: warning: " a b c d (control characters
 * escaped: a path never splits the line) */
void pp_warn(const char *a, const char *b, const char *c, const char *d);

/* the calling thread's id, cached (reset in a forked child) */
pid_t pp_tid(void);
void pp_tid_forget(void);

/* ---- counters.c: heap bytes and call counts ------------------------------- */

void pp_count_alloc(size_t usable);
void pp_count_free(size_t usable);
/* The hooks' fast path: count on this thread's slot and return 1; 0 when
 * there is no slot yet (nothing counted: use pp_count_alloc/free); 2 when
 * counted but the slot passed its peak alarm, which pp_count_new_high()
 * must then look at (out of line, so that the fast path keeps no registers). */
int  pp_count_alloc_quick(size_t usable);
int  pp_count_free_quick(size_t usable);
int  pp_count_realloc_quick(size_t old_usable, size_t new_usable);
void pp_count_new_high(void);
void pp_count_realloc(size_t old_usable, size_t new_usable);

struct pp_heap {
    int64_t  bytes;          /* live bytes handed out now */
    int64_t  peak;           /* peak since start */
    int64_t  window_peak;    /* peak since the window was last reset */
    uint64_t allocs, frees, reallocs;
};
/* Peak windows: the sampler's (between samples) and the probes' (between
 * probes) are reset independently. */
enum { PP_WIN_SAMPLE, PP_WIN_PROBE, PP_WINDOWS };
void pp_counters_read(struct pp_heap *out, int window, int reset);
void pp_counters_flush_self(void);
void pp_counters_thread_exit(void);
void pp_counters_after_fork_child(void);
void pp_counters_init(void);
/* An address on the stack of every thread that has counted an allocation
 * (recorded by the thread itself, without a lock); up to MAX.  The main
 * thread is left out. */
size_t pp_counters_stack_hints(uintptr_t *out, size_t max);
uint64_t pp_counters_stack_generation(void);  /* grows with each new hint */
/* 1 once the live heap would have gone below zero (clamped at 0) */
int pp_counters_went_negative(void);
/* threads that have exited so far (their slots released) */
uint64_t pp_counters_threads_exited(void);

/* ---- mappings.c: the program's own mmap'd ranges -------------------------- */

enum { PP_MAP_ANON = 0, PP_MAP_FILE = 1 };
void pp_map_add(uintptr_t addr, size_t len, int kind);
void pp_map_remove(uintptr_t addr, size_t len);
/* mremap: [old, old+old_len) became [neu, neu+new_len); keep_old for
 * MREMAP_DONTUNMAP */
void pp_map_move(uintptr_t old, size_t old_len, uintptr_t neu, size_t new_len,
                 int keep_old);
struct pp_maps {
    uint64_t anon, file;     /* bytes mapped now */
    uint64_t peak;           /* peak of anon+file since start */
    uint64_t window_peak;    /* peak since the previous read with reset */
    uint64_t ranges;
};
/* nonblock: for the signal handler, read without waiting for the lock */
void pp_map_read(struct pp_maps *out, int reset_window, int nonblock);
void pp_map_lock(void);
void pp_map_unlock(void);
void pp_map_after_fork_child(void);      /* unlocks; peaks start afresh */
uint64_t pp_map_resident_anon(void);     /* resident bytes of the anon ranges */

/* ---- rss_parts.c: where every resident byte is ------------------------------ */

struct pp_parts {
    uint64_t rss;                        /* VmRSS, read with the parts */
    uint64_t heap, mmap, file, stack, other;      /* add up to rss */
    uint64_t shmem, perfprobe;           /* what "other" holds */
    int64_t  heap_untouched;             /* heap bytes handed out, not resident */
    int      has_je;
    uint64_t je_allocated, je_active, je_resident;
};
/* With STATUS (a fresh /proc/self/status reading): a full breakdown.  With
 * NULL: a quick one, from statm and the shared-memory and own-memory
 * figures of the last full breakdown (the first one is always full). */
int  pp_rss_parts(struct pp_parts *out, int64_t heap_bytes, const struct pp_proc *status);
void pp_parts_after_fork_child(void);

/* ---- sampler.c: the background thread and one sample ---------------------- */

struct pp_sample {
    uint64_t t_ns;           /* since start */
    struct pp_proc proc;
    struct pp_cpu cpu;
    struct pp_heap heap;
    struct pp_maps maps;
    int      has_parts;
    struct pp_parts parts;
};
/* RESET: start new peak windows; NONBLOCK: from a signal handler; PARTS:
 * with the RSS breakdown; STATUS: read /proc/self/status (else statm only) */
enum { PP_SAMPLE_RESET = 1, PP_SAMPLE_NONBLOCK = 2, PP_SAMPLE_PARTS = 4, PP_SAMPLE_STATUS = 8 };
void pp_sample_take(struct pp_sample *s, int flags);
void pp_sampler_start(void);
void pp_sampler_stop(void);
int  pp_sampler_pause(void);        /* stop and join; 1 if it was running */
void pp_sampler_after_fork_child(void);
int  pp_sampler_running(void);      /* 1 while the thread samples */
/* ---- single.c: glibc's single-threaded shortcuts kept for the program ----- */

/* Around the sampler's pthread_create: 1 when glibc believed the process
 * single-threaded before it; then the flag is set back after it. */
int  pp_single_before_create(void);
void pp_single_after_create(int was_single, int created);
/* glibc is told the process is multi-threaded (for good before set*id,
 * for the call around fork): 1 when the flag was cleared; RESTORE with that
 * answer sets it back */
int  pp_single_end(void);
void pp_single_restore(int ended);
/* This thread is the sampler (ON=1), or no longer (it ends the process) */
void pp_single_mark_sampler(int on);
/* In a nested allocator call: 1 when it must not reach glibc's allocator
 * (the sampler thread, while glibc takes no locks); counts it */
int  pp_single_served_aside(void);
uint64_t pp_single_aside_count(void);

/* the highest RSS the shim itself observed (samples and probes): the peak
 * reported is never below it */
void pp_rss_seen(uint64_t rss);
void pp_rss_seen_reset(uint64_t rss);

/* ---- probe.c: perf_probe, perf_counter ----------------------------------- */

struct pp_probe_record {
    const char *label;
    uint64_t t_ns, dt_ns, overhead_ns;
    uint64_t rss, rss_start, rss_last;
    int64_t  heap, heap_start, heap_last, peak_heap;
    uint64_t peak_rss;
    int      peak_rss_exact;
    uint64_t allocs, frees, user_ns, sys_ns;     /* since the previous probe */
    const struct pp_parts *parts;                 /* NULL when off */
};
uint64_t pp_probe_hwm_floor(void);       /* all-time peak RSS before HWM resets */
void pp_probe_note_rss(uint64_t rss);    /* the sampler's RSS, for sampled peaks */
void pp_probe_after_fork_child(void);
void pp_probe_lock(void);
void pp_probe_unlock(void);
size_t pp_probe_count(size_t *dropped);
size_t pp_probe_rows(size_t i, const char **label, uint64_t *t_ns, uint64_t *dt_ns,
                     uint64_t *rss, int64_t *heap, const struct pp_parts **parts);
/* the breakdown with the highest RSS seen so far (probes and samples) */
void pp_parts_note(const struct pp_parts *p, uint64_t t_ns);
int  pp_parts_peak(struct pp_parts *out, uint64_t *t_ns);

/* ---- clock.c: the clock regions are timed with ---------------------------- */

/* non-zero while the TSC is used (the CPU says it is invariant, and it has
 * agreed with CLOCK_MONOTONIC so far) */
extern _Atomic int pp_clock_tsc;
void pp_clock_init(void);
uint64_t pp_clock_raw(void);         /* rdtsc */
uint64_t pp_clock_slow(void);        /* the ticks without the TSC */
double pp_clock_rate(void);          /* ticks per nanosecond */
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

/* ---- region.c: perf_region_begin/end, latency histograms ------------------ */

struct pp_region_stats {
    const char *name, *path;
    int      depth;
    uint64_t count;
    double   total_ns, mean_ns, min_ns, max_ns, span_ns;
    double   p50_ns, p90_ns, p95_ns, p99_ns, p999_ns;
};
/* Regions seen so far, merged over threads; i from 0; 0 when past the end. */
int pp_region_stats(size_t i, struct pp_region_stats *out);
size_t pp_region_count(void);
void pp_region_init(void);
void pp_region_thread_exit(void);
void pp_region_after_fork_child(void);
/* From the sampler thread once per PERFPROBE_REGION_WINDOW_MS (and once at
 * exit): a "regions" record for the occurrences that ended since the last
 * call.  Serialised internally; writes nothing when nothing ended. */
void pp_region_window(void);

/* ---- timeline.c: the JSON Lines file ------------------------------------- */

/* the tree's file (TREE_PATH, known by device and inode) or, with NULL, a
 * new file from PERFPROBE_OUTPUT */
void pp_timeline_open(uint64_t tree_dev, uint64_t tree_ino, const char *tree_path);
int  pp_timeline_identity(uint64_t *dev, uint64_t *ino, const char **path);
/* Write a record: B holds a whole JSON object that starts {"type":"NAME";
 * "pid" and the newline are added.  Any thread outside an allocator hook. */
void pp_timeline_record(struct pp_buf *b);
void pp_timeline_sample(const struct pp_sample *s, int force);
/* before exec (FAILED_ERRNO 0), or after an exec that failed */
void pp_timeline_exec(const char *file, char *const argv[], int failed_errno);
void pp_timeline_summary(const struct pp_sample *end);
void pp_timeline_forget(void);        /* a child that is not followed */
void pp_timeline_probe(const struct pp_probe_record *r);
/* this thread's records until the release leave in one write */
void pp_timeline_hold(void);
void pp_timeline_release(void);
/* write the held probe records now; NONBLOCK: only if the lock is free */
void pp_timeline_flush(int nonblock);
void pp_timeline_counter(const char *name, double value, uint64_t t_ns);
const char *pp_timeline_path(void);               /* "" when none */
uint64_t pp_timeline_samples(void);
void pp_timeline_lock(void);
void pp_timeline_unlock(void);
void pp_timeline_after_fork_child(void);

/* ---- report.c: the table printed on stderr at exit ------------------------ */

/* on stderr, or TO_RECORD into the timeline (PERFPROBE_TABLE=record) */
void pp_report_table(const struct pp_sample *end, int to_record);

/* ---- sites.c, unwind.c, modules.c: allocation sites ---------------------- */

enum { PP_STACKS_OFF, PP_STACKS_SAMPLE, PP_STACKS_ALL };
#define PP_STACK_MAX 256
extern int pp_sites_mode;
#define pp_site_countdown (pp_hot.countdown)
/* sample: live tracked blocks (0: a free need not look); all: always 1 */
extern _Atomic uint64_t pp_site_tracked;
/* P was sampled: unwind, count and remember it (raises the hook flag
 * itself); returns P */
void *pp_site_sampled(void *p, size_t usable);
void pp_site_untrack(void *p, size_t usable);
/* In a hook, after the real allocator returned block P of USABLE bytes:
 * one thread-local subtraction unless the block is sampled. */
static inline void pp_site_alloc(void *p, size_t usable)
{
    if (PP_UNLIKELY((pp_site_countdown -= (int64_t)usable) < 0))
        pp_site_sampled(p, usable);
}
/* In a hook, before the real allocator frees P: one load unless blocks
 * are tracked. */
#define PP_SITE_FILTER_BITS 16
extern _Atomic uint16_t *pp_site_filter;     /* sample mode: tracked blocks by hash */
static inline size_t pp_site_filter_index(uintptr_t p)
{
    return (size_t)(((p >> 4) * 0x9e3779b97f4a7c15ull) >> (64 - PP_SITE_FILTER_BITS));
}
static inline int pp_site_free_wanted(void *p)
{
    if (PP_LIKELY(atomic_load_explicit(&pp_site_tracked, memory_order_relaxed) == 0))
        return 0;
    _Atomic uint16_t *f = pp_site_filter;
    return !f || atomic_load_explicit(&f[pp_site_filter_index((uintptr_t)p)],
                                      memory_order_relaxed) != 0;
}
static inline void pp_site_free(void *p, size_t usable)
{
    if (PP_UNLIKELY(pp_site_free_wanted(p)))
        pp_site_untrack(p, usable);
}
static inline void pp_track_alloc(void *p, size_t usable)
{
    pp_count_alloc(usable);
    pp_site_alloc(p, usable);
}
static inline void pp_track_free(void *p, size_t usable)
{
    pp_count_free(usable);
    pp_site_free(p, usable);
}
/* realloc: the old block was pp_site_free'd before the call */
static inline void pp_track_realloc(void *q, size_t old_usable, size_t new_usable)
{
    pp_count_realloc(old_usable, new_usable);
    pp_site_alloc(q, new_usable);
}
void pp_sites_init(void);
void pp_sites_probe(const char *label);       /* outside hooks */
void pp_sites_exit(void);
void pp_sites_after_fork_child(void);
int  pp_sites_view(const char *why);          /* the sampler thread (peakview.c) */
int64_t pp_sites_peak_bytes(int *pending);
/* leaks.c: the live blocks at exit, with `all` */
struct pp_block { uintptr_t addr; size_t size; uint32_t ref; uint32_t pad; };
size_t pp_sites_block_count(void);
size_t pp_sites_blocks(struct pp_block *out, size_t cap);
void pp_sites_lost(uint32_t ref, size_t size);
int  pp_leaks_classify(void);
/* ---- peakview.c, cgroup.c: site views that survive a kill ------------------ */
void pp_peakview_tick(const struct pp_sample *s);
/* the cgroup v2 memory limit and usage; 0 when there is none to read */
int  pp_cgroup_memory(uint64_t *limit, uint64_t *current);
int  pp_unwind(uintptr_t *out, int max);
/* stacks libgcc's unwinder walked so far (the others: cfi.c) */
uint64_t pp_unwind_by_libgcc(void);
/* cfi.c: the walk with remembered rules; -1 when libgcc must walk */
int  pp_cfi_ready(void);
int  pp_cfi_walk(uintptr_t *out, int max, uintptr_t skip_lo, uintptr_t skip_hi);
struct dl_phdr_info;
/* modules.c: [lo, hi) of a loaded object's PT_LOAD segments (hi 0: none) */
void pp_module_range(const struct dl_phdr_info *info, uintptr_t *lo, uintptr_t *hi);
void pp_unwind_init(void);
void pp_modules_init(void);
void pp_modules_refresh(void);
int  pp_modules_find(uintptr_t addr);
void pp_modules_write(struct pp_buf *b);
void pp_modules_after_fork_child(void);

/* ---- core.c: start-up, fork, signals and exit ----------------------------- */

struct pp_state {
    uint64_t start_ns;       /* CLOCK_MONOTONIC at start-up */
    uint64_t start_unix_ns;
    pid_t    pid, ppid, root_pid;
    int      is_root;        /* the first traced process of the tree */
    int      first_image;    /* ... before any exec: nothing traced ran before */
    int      image;          /* images of this pid before this one (execs) */
    int      active;         /* the shim is fully initialised (and recording) */
    struct pp_sample first;  /* the sample taken at start-up */
    int      stderr_ok;      /* fd 2 was open at start-up, as this file: */
    dev_t    stderr_dev;     /* the table never goes into a file that */
    ino_t    stderr_ino;     /* reused the number */
    char     program[256];
    char     exe[4096];
};
extern struct pp_state pp_state;
void pp_finish(void);
void pp_program_gone(void);          /* from the sampler: every thread ended */
void pp_core_tick(void);             /* from the sampler, once a sample */
const char *pp_follow_name(void);

#endif
