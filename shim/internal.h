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

/* Non-zero while this thread is inside one of the shim's hooks (or is the
 * sampler thread): nested allocator calls go straight to the real allocator
 * and are neither counted nor tracked. */
extern __thread int pp_in_hook PP_TLS;

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
    void *(*mmap)(void *, size_t, int, int, int, off_t);
    int   (*munmap)(void *, size_t);
    void *(*mremap)(void *, size_t, size_t, int, ...);
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
/* "glibc" or "jemalloc": which allocator the hooks forward to */
const char *pp_allocator_name(void);
/* "chunk-header" (glibc, read directly) or "malloc_usable_size" */
const char *pp_usable_method(void);
int pp_jemalloc_stats(uint64_t *allocated, uint64_t *active, uint64_t *resident);

/* ---- options.c: every PERFPROBE_* setting -------------------------------- */

struct pp_options {
    char     output[4096];   /* timeline path template (%p, %n not expanded) */
    uint64_t interval_ms;
    int      quiet;
    int      follow;
    uint64_t batch_bytes;
    int      signals;
    int      hwm;
    int      parts;
    uint64_t parts_stride;
};
extern struct pp_options pp_opt;
void pp_options_load(int warn);     /* warn: print bad values on stderr */
const char *pp_getenv(const char *name);

struct pp_option_doc { const char *name, *def, *desc; };
/* The rows of the options table, for the generated documentation. */
const struct pp_option_doc *pp_options_doc(size_t *n);

/* ---- os_linux.c: everything that talks to the kernel ---------------------- */

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
};
int  pp_proc_read(struct pp_proc *out);          /* 0 on success */
void pp_proc_reopen(void);
uint64_t pp_proc_rss(void);                      /* statm: cheap */
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

/* the calling thread's id, cached (reset in a forked child) */
pid_t pp_tid(void);
void pp_tid_forget(void);

/* ---- counters.c: heap bytes and call counts ------------------------------- */

void pp_count_alloc(size_t usable);
void pp_count_free(size_t usable);
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
void pp_stack_register(void);
void pp_stack_unregister(void);
void pp_stacks_lock(void);
void pp_stacks_unlock(void);
void pp_stacks_after_fork_child(void);
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

/* ---- timeline.c: the JSON Lines file ------------------------------------- */

void pp_timeline_open(void);
void pp_timeline_sample(const struct pp_sample *s, int force);
void pp_timeline_signal(int signo);   /* from a signal handler: never waits */
void pp_timeline_summary(const struct pp_sample *end);
void pp_timeline_probe(const struct pp_probe_record *r);
void pp_timeline_counter(const char *name, double value, uint64_t t_ns);
const char *pp_timeline_path(void);               /* "" when none */
uint64_t pp_timeline_samples(void);
void pp_timeline_lock(void);
void pp_timeline_unlock(void);
void pp_timeline_after_fork_child(void);

/* ---- report.c: the table printed on stderr at exit ------------------------ */

void pp_report_table(const struct pp_sample *end);

/* ---- core.c: start-up, fork, signals and exit ----------------------------- */

struct pp_state {
    uint64_t start_ns;       /* CLOCK_MONOTONIC at start-up */
    uint64_t start_unix_ns;
    pid_t    pid, ppid, root_pid;
    int      is_root;        /* the first traced process of the tree */
    int      first_image;    /* ... before any exec: nothing traced ran before */
    int      active;         /* the shim is fully initialised */
    struct pp_sample first;  /* the sample taken at start-up */
    dev_t    stderr_dev;     /* what fd 2 was at start-up, so that the table */
    ino_t    stderr_ino;     /* never goes into a file that reused the number */
    char     program[256];
};
extern struct pp_state pp_state;
/* one line on stderr: "perfprobe: warning: " a b c d */
void pp_warn(const char *a, const char *b, const char *c, const char *d);
void pp_finish(void);

#endif
