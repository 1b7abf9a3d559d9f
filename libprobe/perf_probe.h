/*
 * perf_probe.h - mark points and regions in a program for perfprobe.
 *
 * The only header a program includes.  Every function is a weak
 * reference: when libperfprobe.so is preloaded the calls reach it; when it
 * is not, each call costs one predictable branch and does nothing.  A
 * program built with this header therefore runs unchanged, and at no
 * measurable cost, without the shim.  (Nothing here *defines* a function
 * of the API: a definition in the program would win over the preloaded
 * one.)
 *
 *   perf_probe("stage_opened");          a probe: time, RSS, heap, deltas
 *   perf_region_begin("tick");           one occurrence of a repeated
 *   ...                                   operation; regions nest and work
 *   perf_region_end("tick");             from any thread
 *   perf_counter("queue_depth", 17);     a user series on the timeline
 *
 * C++:  { perf::region r("tick"); ... }  ends the region with the scope.
 *
 * Names and labels are compared by content, but the shim caches them by
 * address first: pass string literals (or other strings that stay put)
 * for regions on a hot path.  A static binary cannot be preloaded, so in
 * one these calls always do nothing.
 */
#ifndef PERF_PROBE_H
#define PERF_PROBE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a probe measured, for perf_probe_ex.  Times in seconds, memory in
 * bytes; "since last" is since the previous probe in the process. */
struct perf_probe_info {
    double  t_s;                   /* since the process started, probe overhead excluded */
    double  dt_s;                  /* since the previous probe */
    int64_t rss_bytes;
    int64_t d_rss_start, d_rss_last;
    int64_t heap_bytes;
    int64_t d_heap_start, d_heap_last;
    int64_t peak_heap_since_last;
    int64_t peak_rss_since_last;
    int     peak_rss_exact;        /* 1: kernel high-water mark; 0: sampled */
    int64_t allocs_since_last, frees_since_last;
    double  cpu_user_s_since_last, cpu_sys_s_since_last;
};

#ifndef PERF_PROBE_IMPLEMENTATION    /* defined only by the shim itself */
void perf_probe(const char *label) __attribute__((weak));
void perf_probe_ex(const char *label, struct perf_probe_info *out) __attribute__((weak));
void perf_region_begin(const char *name) __attribute__((weak));
void perf_region_end(const char *name) __attribute__((weak));
void perf_counter(const char *name, double value) __attribute__((weak));
#endif

#ifdef __cplusplus
}
#endif

#ifndef PERF_PROBE_IMPLEMENTATION

/*
 * Call through the weak references only when the shim is there.  In a PIE
 * executable or a shared library the dynamic linker fills the weak
 * reference in at start-up.  In a non-PIE executable GNU ld resolves an
 * undefined weak symbol to 0 at link time (unless linked with
 * -z dynamic-undefined-weak), so when the reference is 0 the function is
 * looked up once with dlsym and the answer cached: one more predictable
 * branch.  Each macro is a statement, wrapped in do { } while (0); the
 * parenthesised name in the expansion means the function, not the macro.
 */
#include <dlfcn.h>

static inline void *perf_probe__lookup_(void *weak, void **cache, int *tried, const char *name)
{
    if (weak)
        return weak;
    if (!__atomic_load_n(tried, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(cache, dlsym(RTLD_DEFAULT, name), __ATOMIC_RELAXED);
        __atomic_store_n(tried, 1, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(cache, __ATOMIC_RELAXED);
}

#define PERF_PROBE__FN_(fn, type)                                                 \
    __extension__({                                                               \
        static void *perf_probe__cache_;                                          \
        static int perf_probe__tried_;                                            \
        (type)perf_probe__lookup_((void *)(fn), &perf_probe__cache_,              \
                                  &perf_probe__tried_, #fn);                      \
    })

#define perf_probe(label) do {                                                    \
        void (*perf_f_)(const char *) = PERF_PROBE__FN_(perf_probe, void (*)(const char *)); \
        if (perf_f_) perf_f_(label);                                              \
    } while (0)
#define perf_probe_ex(label, out) do {                                            \
        void (*perf_f_)(const char *, struct perf_probe_info *) =                 \
            PERF_PROBE__FN_(perf_probe_ex, void (*)(const char *, struct perf_probe_info *)); \
        if (perf_f_) perf_f_((label), (out));                                     \
    } while (0)
#define perf_region_begin(name) do {                                              \
        void (*perf_f_)(const char *) = PERF_PROBE__FN_(perf_region_begin, void (*)(const char *)); \
        if (perf_f_) perf_f_(name);                                               \
    } while (0)
#define perf_region_end(name) do {                                                \
        void (*perf_f_)(const char *) = PERF_PROBE__FN_(perf_region_end, void (*)(const char *)); \
        if (perf_f_) perf_f_(name);                                               \
    } while (0)
#define perf_counter(name, value) do {                                            \
        void (*perf_f_)(const char *, double) =                                   \
            PERF_PROBE__FN_(perf_counter, void (*)(const char *, double));        \
        if (perf_f_) perf_f_((name), (value));                                    \
    } while (0)

/* 1 when the shim is loaded (an expression, unlike the calls above) */
#define perf_probe_active() (PERF_PROBE__FN_(perf_probe, void *) != 0)

#ifdef __cplusplus
namespace perf {
/* A region that ends when the scope does. */
class region {
public:
    explicit region(const char *name) : name_(name) { perf_region_begin(name_); }
    ~region() { perf_region_end(name_); }
    region(const region &) = delete;
    region &operator=(const region &) = delete;
private:
    const char *name_;
};
} /* namespace perf */
#endif

#endif /* !PERF_PROBE_IMPLEMENTATION */
#endif /* PERF_PROBE_H */
