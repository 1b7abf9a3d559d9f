/*
 * modules.c - the shim's own list of loaded modules (executable, shared
 * libraries, plugins), so that stacks can be symbolised after the process
 * is gone, even for a library unloaded before exit.
 *
 * A module is a path, a load bias, the address ranges of its loaded
 * segments and a build id (the GNU build id of an ELF file, the UUID of a
 * Mach-O image); the system layer finds them (<system>/modules.c,
 * pp_modules_scan) and adds each here.  The list only grows: an unloaded
 * module keeps its entry, and a module loaded later at the same address
 * gets a new one (look-ups go from the newest entry back).  Entries live in
 * raw mmap memory and are published with a release store of the count, so
 * look-ups take no lock.
 *
 * The list is refreshed at start-up, before each write of the sites, and
 * from a hook when a new stack has a frame in no known module (a plugin
 * just loaded); a refresh is one scan under a try-lock, and a refresh
 * already under way is not waited for.  The scan holds the loader's lock:
 * never under a lock of the shim's, and not at all on the sampler thread
 * while glibc may believe the process single-threaded (single.c,
 * pp_single_may_lock): the sampler's refresh is then left to the
 * program's thread, at its next sampled allocation (pp_modules_wanted).  The core writes each module's
 * record once per process image (pp_modules_claim), outside any hook.
 */
#include "sys/sys.h"

#include <string.h>

#define MAX_MODULES 4096
#define PATH_ARENA  (1u << 20)

struct module {
    uintptr_t base, lo, hi;
    int       nranges;
    uintptr_t range[PP_MODULE_RANGES][2];
    uint32_t  path_off, path_len;
    uint8_t   build_id[32];
    int       build_id_len;
    _Atomic int written;
};

static struct module *mods;
static _Atomic size_t n_mods;
static char *paths;
static size_t paths_used;

static int known(uintptr_t base, uintptr_t lo, uintptr_t hi)
{
    size_t n = atomic_load_explicit(&n_mods, memory_order_acquire);
    for (size_t i = n; i-- > 0;)
        if (mods[i].base == base && mods[i].lo == lo && mods[i].hi == hi)
            return 1;
    return 0;
}

int pp_module_add(const struct pp_module_info *in)
{
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int k = 0; k < in->nranges; k++) {
        if (in->range[k][0] < lo)
            lo = in->range[k][0];
        if (in->range[k][1] > hi)
            hi = in->range[k][1];
    }
    if (hi == 0 || known(in->base, lo, hi))
        return 0;
    size_t i = atomic_load_explicit(&n_mods, memory_order_relaxed);
    if (i >= MAX_MODULES)
        return 1;
    struct module *m = &mods[i];
    memset(m, 0, sizeof *m);
    m->base = in->base;
    m->lo = lo;
    m->hi = hi;
    for (int k = 0; k < in->nranges && k < PP_MODULE_RANGES; k++) {
        m->range[k][0] = in->range[k][0];
        m->range[k][1] = in->range[k][1];
        m->nranges++;
    }
    size_t len = in->path_len < 4095 ? in->path_len : 4095;
    if (paths_used + len + 1 <= PATH_ARENA) {
        memcpy(paths + paths_used, in->path, len);
        paths[paths_used + len] = 0;
        m->path_off = (uint32_t)paths_used;
        m->path_len = (uint32_t)len;
        paths_used += len + 1;
    }
    if (in->build_id_len > 0 && (size_t)in->build_id_len <= sizeof m->build_id) {
        memcpy(m->build_id, in->build_id, (size_t)in->build_id_len);
        m->build_id_len = in->build_id_len;
    }
    atomic_store_explicit(&n_mods, i + 1, memory_order_release);
    return 0;
}

/* a refresh the sampler could not make (single.c: pp_single_may_lock),
 * left to the program's next thread that asks for one */
static _Atomic int wanted;

void pp_modules_refresh(void)
{
    if (!mods)
        return;
    if (!pp_single_may_lock()) {
        atomic_store_explicit(&wanted, 1, memory_order_relaxed);
        return;
    }
    if (!pp_loader_walk_try())
        return;
    atomic_store_explicit(&wanted, 0, memory_order_relaxed);
    pp_modules_scan();
    pp_loader_walk_done();
}

int pp_modules_wanted(void)
{
    return atomic_load_explicit(&wanted, memory_order_relaxed);
}

int pp_modules_find(uintptr_t addr)
{
    size_t n = atomic_load_explicit(&n_mods, memory_order_acquire);
    for (size_t i = n; i-- > 0;)
        if (addr >= mods[i].lo && addr < mods[i].hi)
            return (int)i;
    return -1;
}

void pp_modules_init(void)
{
    mods = pp_os_map(MAX_MODULES * sizeof *mods);
    paths = pp_os_map(PATH_ARENA);
    if (!mods || !paths) {
        mods = NULL;
        return;
    }
    pp_modules_refresh();
}

const char *pp_modules_path(size_t i)
{
    if (!mods || i >= atomic_load_explicit(&n_mods, memory_order_acquire))
        return NULL;
    return mods[i].path_len ? paths + mods[i].path_off : "";
}

uintptr_t pp_modules_base(size_t i)
{
    if (!mods || i >= atomic_load_explicit(&n_mods, memory_order_acquire))
        return 0;
    return mods[i].base;
}

size_t pp_modules_count(void)
{
    return mods ? atomic_load_explicit(&n_mods, memory_order_acquire) : 0;
}

int pp_modules_claim(size_t i, struct pp_module_info *out)
{
    struct module *m = &mods[i];
    if (atomic_exchange(&m->written, 1))
        return 0;
    out->path = paths + m->path_off;
    out->path_len = m->path_len;
    out->build_id = m->build_id;
    out->build_id_len = m->build_id_len;
    out->base = m->base;
    out->nranges = m->nranges;
    out->range = (const uintptr_t (*)[2])m->range;
    return 1;
}

/* The scan holds the loader's write lock, which glibc does not free in a
 * forked child (glibc 2.36: a child of a process whose other thread was
 * inside dl_iterate_phdr hangs in its own next dl_iterate_phdr or
 * dlopen).  So a fork waits for a scan under way, as for Python's look
 * (pyframes.c): bounded, since the thread that forks may itself hold what
 * the scan waits for.  The try-lock is lock.c's, which every walk of the
 * shim's while the program runs takes (os.c's too).  A child whose fork
 * went ahead without it keeps it held: it never walks the loader's list. */
static int fork_held;

void pp_modules_fork_prepare(void)
{
    fork_held = pp_loader_walk_wait(50000000);
}

void pp_modules_fork_parent(void)
{
    if (fork_held)
        pp_loader_walk_done();
    fork_held = 0;
}

/* a forked child writes its own image: every module again */
void pp_modules_after_fork_child(void)
{
    size_t n = mods ? atomic_load(&n_mods) : 0;
    for (size_t i = 0; i < n; i++)
        atomic_store(&mods[i].written, 0);
    if (fork_held)                      /* else the sampler was scanning */
        pp_loader_walk_done();
    fork_held = 0;
}
