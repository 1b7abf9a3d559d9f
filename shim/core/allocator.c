/*
 * allocator.c - the real allocator behind the hooks: finding it (with the
 * bootstrap arena that serves the calls made meanwhile), how a block's
 * usable size is read, whose allocator it is and whether the program's
 * calls reach the hooks, and jemalloc's own figures.
 *
 * The allocator hooks (hooks/alloc.c) read its state on their fast paths
 * (allocator.h) and call pp_resolve on their first call; the rest of the
 * core asks it for the timeline's header and summary, the RSS breakdown
 * and the start-up checks.  It is defined here, below both, so that no
 * core file refers up to a hook.
 *
 * Bootstrap: dlsym itself calls calloc (and malloc for its error strings)
 * before the real allocator is known.  While resolving, those calls are
 * served from a static arena; its pointers are recognised by address and
 * never reach the real free.
 */
#define _GNU_SOURCE
#include "core/allocator.h"

#include <dlfcn.h>
#include <string.h>

struct pp_real pp_real;
_Atomic int pp_alloc_state;
int pp_alloc_probe_hit;
int pp_alloc_foreign;
_Atomic int pp_deepbind_seen;
_Atomic int pp_dlmopen_seen;
int pp_usable_is_glibc;

#if defined(__APPLE__)
PP_THREAD_BLOCK(int, resolving)
#define resolving_here (*resolving_at())
#else
static __thread int resolving_here PP_TLS;
#endif
static int is_jemalloc;

/* ---- bootstrap arena ------------------------------------------------------ */

char pp_boot_buf[PP_BOOT_SIZE] __attribute__((aligned(64)));
static _Atomic size_t boot_used;

/* Each block is preceded by a header word with glibc's IS_MMAPPED bit
 * set, so that free's fast path, which reads that word, sends it to the
 * slow path, where it is recognised by address. */
#define BOOT_MARK 2

void *pp_boot_alloc(size_t n)
{
    n = ((n + 15) & ~(size_t)15) + 16;
    size_t at = atomic_fetch_add(&boot_used, n);
    if (at + n > PP_BOOT_SIZE)
        return NULL;
    char *p = pp_boot_buf + at + 16;  /* static storage: already zero */
    ((size_t *)p)[-1] = n | BOOT_MARK;
    return p;
}

void *pp_boot_aligned(size_t align, size_t n)
{
    if (align < 16 || (align & (align - 1)) || align > 4096)
        return NULL;
    char *p = pp_boot_alloc(n + align);
    if (!p)
        return NULL;
    char *q = (char *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
    ((size_t *)q)[-1] |= BOOT_MARK;      /* q > p: inside p's block */
    return q;
}

/* ---- usable size ---------------------------------------------------------- */

/* glibc's malloc_usable_size reads the header of the *next* chunk (to see
 * whether this one is in use), a cache miss on the allocation path that
 * costs more than everything else the shim does.  The size of an in-use
 * chunk is in the word just before the block (allocator.h:
 * pp_glibc_usable).  That is used only when the allocator is glibc's and
 * a self-test at start-up agrees with the real function on blocks of
 * every kind. */
size_t pp_usable(void *p)
{
    return pp_usable_fast(p);
}

/* The self-test must not touch the allocator: freeing a block glibc had
 * mmapped raises its dynamic mmap and trim thresholds to that block's size
 * for the rest of the run, so a program's 64-256 KiB blocks would then stay
 * on the heap (more RSS, far fewer page faults than without the shim).  It
 * therefore asks the real malloc_usable_size about fake chunks laid out in
 * a scratch mapping of the shim's own (raw mmap, unmapped afterwards):
 * in-use chunks of several sizes, in the main arena or another, whose next
 * chunk says "previous in use", and mmapped chunks.  malloc_usable_size
 * reads only those header words, exactly as for real blocks. */
static void choose_usable(void)
{
    static const size_t chunk[] = {32, 48, 112, 1040, 4112, 70016};
    static const size_t mmapped[] = {135168, 200704, (5u << 20) + 4096};
    enum { PREV_INUSE = 1, IS_MMAPPED = 2, NON_MAIN_ARENA = 4 };
    const size_t scratch_len = 72 * 1024 + 4096;
    /* only where malloc is libc's own: any other allocator's blocks have no
     * glibc chunk header, and reading before one may fault */
    if (!pp_real.usable || !pp_real_in_libc((void *)pp_real.malloc))
        return;
    char *scratch = pp_os_map(scratch_len);
    if (!scratch)
        return;
    size_t *hdr = (size_t *)scratch;        /* prev_size, size; block at +16 */
    void *mem = scratch + 2 * sizeof(size_t);
    int agree = 1;
    for (size_t i = 0; i < sizeof chunk / sizeof *chunk; i++)
        for (size_t arena = 0; arena <= NON_MAIN_ARENA; arena += NON_MAIN_ARENA) {
            size_t *next = (size_t *)(scratch + sizeof(size_t) + chunk[i]);
            hdr[1] = chunk[i] | PREV_INUSE | arena;
            next[0] = 32 | PREV_INUSE;      /* this chunk is in use */
            if (pp_glibc_usable(mem) != pp_real.usable(mem) ||
                pp_glibc_usable(mem) != chunk[i] - 8)
                agree = 0;
            next[0] = 0;
        }
    for (size_t i = 0; i < sizeof mmapped / sizeof *mmapped; i++) {
        hdr[1] = mmapped[i] | IS_MMAPPED;
        if (pp_glibc_usable(mem) != pp_real.usable(mem) || pp_glibc_usable(mem) != mmapped[i] - 16)
            agree = 0;
    }
    pp_os_unmap(scratch, scratch_len);
    pp_usable_is_glibc = agree;
}

const char *pp_usable_method(void)
{
    return pp_usable_is_glibc ? "chunk-header" : "malloc_usable_size";
}

/* ---- resolution ----------------------------------------------------------- */

/* ALLOC_FN called for 24 bytes, a page and 1 MiB (a wrapper may serve
 * small blocks itself and pass only larger ones on), under
 * PP_IN_HOOK_PROBING, each block given back to FREE_FN: 1 when a call
 * reached the shim's hooks (which note it and pass it through, or serve it
 * from the bootstrap arena while the real functions are being resolved).
 * pp_resolve asks it of the malloc that came first (a wrapper whose next
 * the shim is passes calls on); pp_allocator_check of the malloc the
 * program calls. */
static int reaches_hooks(void *(*alloc_fn)(size_t), void (*free_fn)(void *))
{
    static const size_t sizes[] = {24, 4096, 1 << 20};
    int saved = pp_in_hook, hit = 0;
    /* glibc's own malloc passes nothing on, and a freed 1 MiB block would
     * raise its mmap threshold: a 300 KB block the program asks for later
     * would come from the heap where bare it is mapped */
    size_t tries = pp_real_in_libc((void *)alloc_fn) ? 1 : sizeof sizes / sizeof *sizes;
    pp_alloc_probe_hit = 0;
    pp_in_hook = PP_IN_HOOK_PROBING;
    for (size_t i = 0; i < tries && !hit; i++) {
        void *p = alloc_fn(sizes[i]);
        hit = pp_alloc_probe_hit;
        /* by the same hand (a wrapper's header; its free passes an arena
         * block on to the hooks, which keep it) */
        if (p)
            free_fn(p);
    }
    pp_in_hook = saved;
    return hit;
}

static int forwards_here(void)
{
    return reaches_hooks(pp_real.malloc, pp_real.free);
}

/* The shim's own object is told by any function of its own: this one
 * (the real functions are the next definitions after it). */
void pp_resolve(void)
{
    int expected = PP_ALLOC_UNRESOLVED;
    if (atomic_load(&pp_alloc_state) >= PP_ALLOC_READY || resolving_here)
        return;
    if (!atomic_compare_exchange_strong(&pp_alloc_state, &expected, PP_ALLOC_RESOLVING)) {
        while (atomic_load(&pp_alloc_state) < PP_ALLOC_READY)      /* another thread is at it */
            ;
        return;
    }
    resolving_here = 1;
    is_jemalloc = pp_real_resolve(&pp_real, (void *)pp_resolve, &pp_alloc_foreign);
    if (pp_alloc_foreign && forwards_here()) {
        /* a wrapper that passes calls on (glibc's libmemusage, a lazy
         * dlsym(RTLD_NEXT) one): the shim is its next, and calling it
         * back looped until the stack ran out.  The next definitions are
         * the real ones, as without it */
        pp_real_resolve_next(&pp_real);
        pp_alloc_foreign = 0;
        is_jemalloc = 0;
    }
    choose_usable();
    resolving_here = 0;
    atomic_store(&pp_alloc_state, pp_usable_is_glibc ? PP_ALLOC_READY_GLIBC : PP_ALLOC_READY);
}

/* ---- whose allocator ------------------------------------------------------ */

static char alloc_lib[512];         /* the library the real malloc is in */
static char program_alloc_lib[512]; /* ... and the one the program calls */
static int heap_counted = 1;
static _Atomic int deepbind_warned, dlmopen_warned;
static const char *heap_binding = "interposed";

static void library_of(void *fn, char *out, size_t cap)
{
    Dl_info info;
    uintptr_t base;
    const char *name = "";
    if (fn && pp_real_object_of(fn, &base, &name) && !*name && dladdr(fn, &info) &&
        info.dli_fname)
        name = info.dli_fname;          /* the executable: dladdr names it */
    if (!*name && fn)
        name = "the program";
    size_t n = strlen(name);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, name, n);
    out[n] = 0;
}

static const char *classify(const char *lib)
{
    const char *base = strrchr(lib, '/');
    base = base ? base + 1 : lib;
    if (strncmp(base, "libc.so", 7) == 0 || strncmp(base, "libc-", 5) == 0)
        return "glibc";
    if (strstr(base, "jemalloc"))
        return "jemalloc";
    if (strstr(base, "tcmalloc"))
        return "tcmalloc";
    if (strstr(base, "mimalloc"))
        return "mimalloc";
    return *base ? base : "unknown";
}

const char *pp_allocator_name(void)
{
    return classify(heap_counted ? alloc_lib : program_alloc_lib);
}

int pp_allocator_is_glibc(void)
{
    return atomic_load(&pp_alloc_state) == PP_ALLOC_READY_GLIBC && !is_jemalloc;
}

const char *pp_allocator_library(void)
{
    return heap_counted ? alloc_lib : program_alloc_lib;
}

int pp_heap_counted(void)
{
    return heap_counted;
}

const char *pp_heap_binding(void)
{
    return heap_counted ? heap_binding : "none";
}

/* Does the program's malloc reach the hooks?  The address dlsym gives is
 * not enough (in a non-PIE executable that takes malloc's address it is
 * the executable's own PLT slot), so malloc is called through it once,
 * with pp_in_hook set to PP_IN_HOOK_PROBING: the hook, if reached, notes
 * it and passes the call through.  A malloc in the shim's own object is
 * the hook itself. */
void pp_allocator_check(int warn)
{
    library_of((void *)pp_real.malloc, alloc_lib, sizeof alloc_lib);
#if defined(__APPLE__)
    /* dyld applies the __interpose table to every image but the shim:
     * there is no load order that puts another malloc first */
    (void)warn;
    return;
#else
    /* references the loader did not give to the hooks (another allocator
     * first, RTLD_DEEPBIND, __libc_malloc): bind.c points them there */
    if (pp_bind_all((void *)pp_real.malloc, pp_alloc_foreign, 0) > 0 && pp_alloc_foreign) {
        heap_binding = "got";
        return;
    }
    void *(*used)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
    void (*used_free)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "free");
    if (!used || !used_free || pp_real_same_object((void *)used, (void *)pp_allocator_check))
        return;
    if (reaches_hooks(used, used_free))
        return;
    heap_counted = 0;
    library_of((void *)used, program_alloc_lib, sizeof program_alloc_lib);
    if (warn)
        pp_warn("the program calls the malloc of ", program_alloc_lib,
                " (loaded before libperfprobe.so): heap figures are not recorded ",
                "(put libperfprobe.so first in LD_PRELOAD)");
#endif
}

static _Atomic int aside_warned;

void pp_allocator_tick(void)
{
    if (atomic_load(&pp_deepbind_seen) && !atomic_exchange(&deepbind_warned, 1))
        pp_warn("a library was loaded with RTLD_DEEPBIND: its own calls to malloc and "
                "free bypass the shim, so the heap figures are not exact", "", "", "");
    if (atomic_load(&pp_dlmopen_seen) && !atomic_exchange(&dlmopen_warned, 1))
        pp_warn("the program called dlmopen for a link namespace the shim did not "
                "count (PERFPROBE_NAMESPACES=0, libperfprobe-ns.so missing beside the "
                "shim or of another build, RTLD_DEEPBIND, a name only the caller could "
                "resolve, more than 1024 objects in the namespace, or an allocator of "
                "the library's own without its own malloc_usable_size): libraries there allocate past "
                "the hooks, so the heap figures leave them out", "", "", "");
    if (pp_single_aside_count() && !atomic_exchange(&aside_warned, 1))
        pp_warn("internal: the sampler thread called the allocator (served from "
                "the shim's own arena)", "", "", "");
}

int pp_inexact_reasons(const char **out, int max)
{
    int n = 0;
    if (!heap_counted && n < max)
        out[n++] = "malloc is not the shim's: another allocator comes first";
    if (pp_real.jemalloc_apart && n < max)
        out[n++] = "jemalloc is loaded, another malloc comes first: mallocx and the rest of "
                   "jemalloc's API are passed on uncounted";
    if (atomic_load(&pp_deepbind_seen) && n < max)
        out[n++] = "RTLD_DEEPBIND: a library's allocations bypass the hooks";
    if (atomic_load(&pp_dlmopen_seen) && n < max)
        out[n++] = "dlmopen: a library in another link namespace allocates past the hooks";
    if (pp_counters_went_negative() && n < max)
        out[n++] = "more bytes freed than allocated through the hooks: heap clamped at 0";
    return n;
}

/* ---- jemalloc ------------------------------------------------------------- */

/* jemalloc's own figures, through its mallctl; -1 when jemalloc is not the
 * allocator.  Called with pp_in_hook set (mallctl may allocate). */
int pp_jemalloc_stats(uint64_t *allocated, uint64_t *active, uint64_t *resident)
{
    static int (*ctl)(const char *, void *, size_t *, void *, size_t);
    if (!is_jemalloc)
        return -1;
    if (!ctl)
        *(void **)&ctl = pp_real_symbol("mallctl");
    if (!ctl)
        return -1;
    uint64_t epoch = 1;
    size_t v, sz = sizeof epoch;
    ctl("epoch", &epoch, &sz, &epoch, sz);
    static const char *const names[] = {"stats.allocated", "stats.active", "stats.resident"};
    uint64_t *dst[] = {allocated, active, resident};
    for (int i = 0; i < 3; i++) {
        sz = sizeof v;
        if (ctl(names[i], &v, &sz, NULL, 0) != 0)
            return -1;
        *dst[i] = v;
    }
    return 0;
}
